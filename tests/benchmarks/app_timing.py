"""What a person waits for in the app, timed on the whole process in tmux at 160×50.

    .venv/bin/python -m tests.benchmarks.app_timing --sizes 1.76mp,8mp         # alone
    .venv/bin/python -m tests.benchmarks.run --only h                          # as section (h)

Each run starts `python -m tui.cli PHOTO` in a detached tmux session (its own tmux server,
160×50, COLORTERM=truecolor) and reads the screen with `tmux capture-pane` every 50 ms:

- launch → picture: until the preview's half-cell image cells (▀) fill part of the screen;
- open → complete table: until the sizes table shows rank 50 with every number (no … or ≈);
- rank change → complete table: once the exact SVD has replaced the quick one (the header no
  longer says "computing…"), `+` is pressed and the clock runs until the table shows the new
  rank with every number; three presses per run, each a rank not measured before, each pressed
  as soon as the table before it is complete;
- the same after a look: three more presses, each LOOK seconds (default 3) after the table
  before it is complete, as a person reading the numbers would (the app measures the next
  rank in the background meanwhile: core.measure's read-ahead).

The photos are section (g)'s enlarged colour photos (tests/benchmarks/photos.py), written
outside the repository. The same runs are made, alternating, on the code before issue 10 (a
`git worktree` of d84d2c2, or SVDLENS_BEFORE / --before DIR; see processes.before_tree), and
each figure is given as both medians and their ratio. Medians on whatever machine runs this:
on a shared machine compare the ratios, which come from the same run.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import photos
from .processes import PHOTOS, before_tree

ROOT = Path(__file__).resolve().parents[2]
SOCKET = "svdlens-bench"
WIDTH, HEIGHT = 160, 50
POLL = 0.05
PICTURE_CELLS = 200  # this many ▀ cells: a picture is on screen (the spectrum draws none)


def say(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def tmux(*args: str, check: bool = True) -> str:
    out = subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True, check=check)
    return out.stdout


def screen(name: str) -> list[str]:
    return tmux("capture-pane", "-t", name, "-p").splitlines()


def has_picture(lines: list[str]) -> bool:
    return sum(line.count("▀") for line in lines) >= PICTURE_CELLS


def table_complete(lines: list[str], rank: int) -> bool:
    """Whether the sizes table shows rank with every number measured (no … nor ≈ in it)."""
    top = next((i for i, line in enumerate(lines) if f"sizes at rank {rank} " in line), None)
    if top is None:
        return False
    bottom = next((i for i in range(top, len(lines)) if "reconstruction as PNG" in lines[i]), None)
    if bottom is None:
        return False
    # The spectrum plot sits to the right of the table: cut the rows where its title starts.
    cut = next((line.find("singular values") for line in lines if "singular values" in line), None)
    rows = [line[:cut] if cut and cut > 0 else line for line in lines[max(0, top - 4):bottom + 1]]
    if not any(f"rank {rank} /" in row for row in rows):
        return False
    return not any("…" in row or "≈" in row for row in rows)


def wait_for(name: str, test, timeout: float) -> float | None:
    """Seconds until test(screen) holds (None: timeout), measured from now."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if test(screen(name)):
            return time.perf_counter() - start
        time.sleep(POLL)
    return None


@dataclass
class Figures:
    """The seconds measured for one checkout and photo (None where a wait timed out)."""

    picture: list[float | None] = field(default_factory=list)
    table: list[float | None] = field(default_factory=list)
    rank_change: list[float | None] = field(default_factory=list)
    rank_change_look: list[float | None] = field(default_factory=list)


def one_run(code: Path, photo: Path, python: str, figures: Figures, *, presses: int, timeout: float,
            picture_only: bool = False, look: float = 3.0) -> None:
    """One launch of the app in code on photo: its figures are appended to figures."""
    name = f"run{time.monotonic_ns()}"
    command = f"cd {shlex.quote(str(code))} && exec {shlex.quote(python)} -m tui.cli {shlex.quote(str(photo))}"
    start = time.perf_counter()
    tmux("new-session", "-d", "-x", str(WIDTH), "-y", str(HEIGHT), "-s", name, "-e", "COLORTERM=truecolor",
         command)
    try:
        picture = wait_for(name, has_picture, timeout)
        figures.picture.append(None if picture is None else time.perf_counter() - start)
        if picture_only:
            return
        table = wait_for(name, lambda s: table_complete(s, 50), timeout)
        figures.table.append(None if table is None else time.perf_counter() - start)
        # Rank changes once the exact SVD has replaced the quick one (it no longer competes for the cores).
        wait_for(name, lambda s: bool(s) and "computing…" not in s[0] and table_complete(s, 50), timeout)
        for rank in range(51, 51 + presses):
            tmux("send-keys", "-t", name, "+")
            figures.rank_change.append(wait_for(name, lambda s, r=rank: table_complete(s, r), timeout))
        for rank in range(51 + presses, 51 + 2 * presses):
            time.sleep(look)
            tmux("send-keys", "-t", name, "+")
            figures.rank_change_look.append(wait_for(name, lambda s, r=rank: table_complete(s, r), timeout))
    finally:
        tmux("kill-session", "-t", name, check=False)


def import_torch(python: str) -> float:
    start = time.perf_counter()
    subprocess.run([python, "-c", "import torch"], check=True)
    return time.perf_counter() - start


def median(values: list[float | None]) -> str:
    done = [v for v in values if v is not None]
    if not done:
        return "–"
    missed = len(values) - len(done)
    return f"{statistics.median(done):6.2f} s" + (f" ({missed} timed out)" if missed else "")


def ratio(before: list[float | None], after: list[float | None]) -> str:
    b = [v for v in before if v is not None]
    a = [v for v in after if v is not None]
    if not a or not b:
        return ""
    return f"×{statistics.median(b) / statistics.median(a):.2f} faster"


def run(before: Path | None, sizes: list[str], runs: int, presses: int = 3, timeout: float = 180.0,
        picture_only: bool = False, row=None, look: float = 3.0) -> None:
    """Time the app here (and in before, unless None), alternating runs, on the photos named
    (keys of photos.SIZES); each figure goes to row(section, what, text)."""
    python = sys.executable
    row = row or (lambda section, what, text: say(f"  {section:<3} {what:<64} {text}"))
    tmux("kill-server", check=False)
    tmux("new-session", "-d", "-s", "keep", "sleep 86400")  # one server for every run
    try:
        torch_times = []
        for label in sizes:
            photo = photos.write(PHOTOS, [label])[label]
            sides = {"now": (ROOT, Figures())}
            if before is not None:
                sides["before"] = (before, Figures())
            for i in range(runs):
                torch_times.append(import_torch(python))
                order = list(sides.items()) if i % 2 == 0 else list(reversed(sides.items()))
                for side, (code, figures) in order:
                    one_run(code, photo, python, figures, presses=presses, timeout=timeout,
                            picture_only=picture_only, look=look)
                    say(f"    {label} {side} run {i + 1}: picture {figures.picture[-1]}"
                        + ("" if picture_only else f" table {figures.table[-1]} rank {figures.rank_change[-presses:]}"
                                                   f" after a look {figures.rank_change_look[-presses:]}"))
            now = sides["now"][1]
            old = sides["before"][1] if "before" in sides else None
            what = [("launch → picture", "picture")]
            if not picture_only:
                what += [("open → complete sizes table", "table"),
                         ("rank change (+) → complete table, pressed at once", "rank_change"),
                         (f"rank change (+) → complete table, after a {look:g} s look", "rank_change_look")]
            for text, attr in what:
                figure = f"now {median(getattr(now, attr))}"
                if old is not None:
                    figure += f"   before {median(getattr(old, attr))}   {ratio(getattr(old, attr), getattr(now, attr))}"
                row("h", f"app: {text}, {label} colour (enlarged photo)", figure)
        row("h", "app: python -c 'import torch' (between the runs)", median(torch_times))
    finally:
        tmux("kill-server", check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, help="the checkout to time side by side (default: d84d2c2's worktree)")
    parser.add_argument("--no-before", action="store_true", help="time only this checkout")
    parser.add_argument("--sizes", default="1.76mp,8mp", help=f"comma-separated, of: {', '.join(photos.SIZES)}")
    parser.add_argument("--runs", type=int, default=3, help="launches per checkout and photo")
    parser.add_argument("--presses", type=int, default=3, help="rank changes timed per launch")
    parser.add_argument("--picture-only", action="store_true", help="only launch → picture")
    parser.add_argument("--look", type=float, default=3.0, help="seconds between a complete table and the next "
                        "press in the second set of presses")
    args = parser.parse_args(argv)
    before = None if args.no_before else (args.before or before_tree())
    run(before, [s.strip() for s in args.sizes.split(",")], args.runs, args.presses,
        picture_only=args.picture_only, look=args.look)
    return 0


if __name__ == "__main__":
    sys.exit(main())
