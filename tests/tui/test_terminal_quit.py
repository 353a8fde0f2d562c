"""Quitting ends the process at once (issue 14): no waiting on Python's teardown after the app closed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from apphelp import photo

ROOT = Path(__file__).resolve().parents[2]


def test_process_ends_promptly_after_the_app_closes(tmp_path):
    # Large enough that the randomized (torch) path runs: its teardown is what took seconds.
    big = photo(tmp_path / "big.png", 1200, 900)
    script = f"""
import sys, time
from pathlib import Path
from tui.lifecycle import create_app, run_to_exit
app = create_app(Path({str(big)!r}), preview="halfcell", device="cpu")
def quit_when_idle():
    if app.loaded is not None and app.loaded.dec.exact and not app.has_class("-busy"):
        print(f"closing {{time.time():.3f}}", flush=True)
        app.exit()
    else:
        app.set_timer(0.2, quit_when_idle)
app.call_later(lambda: app.set_timer(0.5, quit_when_idle))
sys.exit(run_to_exit(app, headless=True, end_process=True))
"""
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    out, err = proc.communicate(timeout=300)
    ended = time.time()
    assert proc.returncode == 0, err[-2000:]
    closing = float(out.split("closing ")[1].split()[0])
    # app.exit() → the app closes (Textual's shutdown, ~0.1–0.2 s) → the process is gone.
    assert ended - closing < 0.5, f"process ended {ended - closing:.2f} s after app.exit()"
