"""Tests of quitting: mid-computation, with saves asked for or writing, and the process exit."""

from __future__ import annotations

import time
from pathlib import Path

import tui.lifecycle as lifecycle
from apphelp import make_app, photo, wait_for


async def test_quit_mid_decomposition_exits_cleanly(tmp_path):
    big = photo(tmp_path / "big.png", 1200, 900)
    app = make_app(big)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.has_class("-busy"))
        await pilot.press("ctrl+q")
    assert app.return_code in (0, None)
    assert app.loaded is None


async def test_quit_key(app):
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        await pilot.press("ctrl+q")
        await pilot.pause(0.2)
    assert app.return_code in (0, None)


def test_the_process_ends_at_once_when_quit_mid_computation(tmp_path):
    """A torch SVD cannot be interrupted: quitting must not wait for it (and exit code 0)."""
    import subprocess
    import sys

    big = photo(tmp_path / "big.png", 2400, 1800)
    script = f"""
import sys
from pathlib import Path
from tui.lifecycle import create_app, run_to_exit
app = create_app(Path({str(big)!r}), preview="halfcell", device="cpu")
def quit_soon():
    print("busy at quit:", app.has_class("-busy") or any(w.group in ("decompose", "refine") and w.is_running
                                                         for w in app.workers), flush=True)
    app.exit()
app.call_later(lambda: app.set_timer(1.5, quit_soon))
sys.exit(run_to_exit(app, headless=True))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "busy at quit: True" in done.stdout  # it really was computing when asked to quit


def test_a_save_that_never_started_does_not_hold_the_exit(monkeypatch):
    """A save cancelled before its worker ran must not make quitting wait (it waited 120 s)."""
    app = make_app(None)

    def closed_with_a_queued_save(*args, **kwargs):
        app.saves.ask()  # asked for; the app closed before its worker started
        app.executor.shutdown()
        return 0

    monkeypatch.setattr(app, "run", closed_with_a_queued_save)
    start = time.monotonic()
    assert lifecycle.run_to_exit(app, headless=True) == 0
    assert time.monotonic() - start < 10


def test_quitting_waits_for_a_save_that_is_writing():
    import threading

    app = make_app(None)
    written = threading.Event()

    def save():
        with app.saves.ask() as ticket, ticket.writing():
            time.sleep(0.5)
            written.set()

    app.executor.submit(save)
    time.sleep(0.05)
    app.executor.shutdown()
    lifecycle.wait_for_saves(app, timeout=30)
    assert written.is_set()
