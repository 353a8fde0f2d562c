"""Whole-process timings side by side with the code before a change (section g of run.py).

Each command runs as a fresh process (`python -m tui.cli ...`) from this checkout and from a
`git worktree` of an earlier commit (made here when missing), alternately, so both see the same
load; medians and ratios are quoted. Photos are enlarged samples (tests/benchmarks/photos.py),
written outside the repository. `report --json` of both is compared: PSNR and SSIM to
±0.01 dB / ±0.0005, byte columns listed where they differ.

Hooks for more figures (e.g. in-app timings): add a (label, argv) pair to `commands()` or call
`compare(label, argv_after, argv_before)` with any command line; `time_process` times one.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from . import photos

ROOT = Path(__file__).resolve().parents[2]
BEFORE_COMMIT = "d84d2c2"
PHOTOS = Path(os.environ.get("SVDLENS_BENCH_PHOTOS", "/tmp/svdlens-bench-photos"))


def before_tree(commit: str = BEFORE_COMMIT, where: Path | None = None) -> Path:
    """A worktree of `commit` (git worktree add --detach), made once."""
    where = where or Path(os.environ.get("SVDLENS_BEFORE", f"/tmp/svdlens-before-{commit}"))
    if not (where / "core").is_dir():
        subprocess.run(["git", "worktree", "add", "--detach", str(where), commit], cwd=ROOT, check=True,
                       capture_output=True)
    return where


def time_process(argv: list[str], cwd: Path, stdout=None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one run; raises when it fails."""
    t = time.perf_counter()
    before = os.times()
    done = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t
    after = os.times()
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed in {cwd}: {done.stderr.strip()[-300:]}")
    if stdout is not None:
        Path(stdout).write_text(done.stdout)
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def compare(label: str, argv: list[str], before: Path, repeats: int, row, outputs: str | None = None) -> None:
    """Run argv here and in `before`, alternating, `repeats` times each; one row with medians and ratio."""
    now, then = [], []
    for i in range(repeats):
        for tree, samples, tag in ((before, then, "before"), (ROOT, now, "after")):
            out = None if outputs is None else f"{outputs}.{tag}"
            samples.append(time_process(argv, tree, out))
    w_now, c_now = statistics.median(s[0] for s in now), statistics.median(s[1] for s in now)
    w_then, c_then = statistics.median(s[0] for s in then), statistics.median(s[1] for s in then)
    row("g", label, f"{w_now:7.2f} s vs {w_then:.2f} s before: {w_then / w_now:.2f}× "
                    f"(CPU {c_now:.1f} s vs {c_then:.1f} s; medians of {repeats})")


def same_numbers(after_json: str, before_json: str) -> str:
    """How far `report --json` moved: largest PSNR/SSIM change, byte columns that differ."""
    a, b = json.loads(Path(after_json).read_text()), json.loads(Path(before_json).read_text())
    worst_db, worst_ssim, changed = 0.0, 0.0, []
    for ra, rb in zip(a["rows"], b["rows"]):
        for key, x in ra.items():
            y = rb.get(key)
            if key.endswith("psnr_db") and x is not None and y is not None:
                worst_db = max(worst_db, abs(x - y))
            elif key.endswith("ssim") and x is not None and y is not None:
                worst_ssim = max(worst_ssim, abs(x - y))
            elif x != y:
                changed.append(f"rank {ra['rank']} {key} {y}→{x}")
    return (f"PSNR within {worst_db:.1e} dB, SSIM within {worst_ssim:.1e}; "
            + ("other columns identical" if not changed else "changed: " + ", ".join(changed)))


def bench_processes(row, repeats: int = 3, report_repeats: int = 1) -> None:
    files = photos.write(PHOTOS)
    before = before_tree()
    py = [sys.executable]
    compare("python -c 'import torch' (reference; same interpreter)", py + ["-c", "import torch"], before, repeats,
            row)
    out = PHOTOS / "bench-x.svdz"
    compare(f"compress --rank 50 -o x.svdz, 1.76 MP colour ({photos.SIZES['1.76mp'][0]}×"
            f"{photos.SIZES['1.76mp'][1]}, enlarged photo)",
            py + ["-m", "tui.cli", "compress", str(files["1.76mp"]), "--rank", "50", "-o", str(out)], before,
            repeats, row)
    json_out = str(PHOTOS / "bench-report.json")
    compare(f"report --json (six ranks, exact SVD), 8 MP colour ({photos.SIZES['8mp'][0]}×"
            f"{photos.SIZES['8mp'][1]}, enlarged photo)",
            py + ["-m", "tui.cli", "report", str(files["8mp"]), "--json"], before, report_repeats, row, json_out)
    row("g", "  report --json after vs before", same_numbers(json_out + ".after", json_out + ".before"))
