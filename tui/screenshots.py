"""Regenerate screenshots/: the main screen at the classic ranks, help, the file picker and the views.

    .venv/bin/python -m tui.screenshots [--out screenshots] [--size 160x50]

Runs the app headless on the bundled sample photo with the half-cell renderer (what a
plain SSH terminal shows) and saves SVG screenshots once every pane shows the rank.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

from tui.choices import CLASSIC_RANKS
from tui.lifecycle import create_app
from tui.widgets import RankInput


def _photo_folder() -> Path:
    """A folder for the file pane: crops of the sample photo and a file that only pretends to be one."""
    import cv2

    from core.imageio import sample_image_path

    folder = Path(tempfile.mkdtemp(prefix="svdlens-shots-")) / "photos"
    folder.mkdir()
    bgr = cv2.imread(str(sample_image_path()), cv2.IMREAD_COLOR)
    cv2.imwrite(str(folder / "astronaut-face.png"), bgr[40:300, 120:380])
    cv2.imwrite(str(folder / "astronaut-grey.png"), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(folder / "astronaut-small.jpg"), cv2.resize(bgr, (256, 256), interpolation=cv2.INTER_AREA))
    (folder / "notes.png").write_text("not an image\n")
    (folder / "holiday").mkdir()
    return folder


async def _shoot(out: Path, size: tuple[int, int]) -> list[Path]:
    written: list[Path] = []
    app = create_app(None, preview="halfcell", device="cpu")
    async with app.run_test(size=size) as pilot:
        app.query_one(RankInput).cursor_blink = False
        await app.settled(timeout=120.0, poll=0.1)
        for rank in CLASSIC_RANKS:
            await pilot.press("ctrl+a", "ctrl+k", *str(rank), "enter")
            await app.settled(timeout=120.0, poll=0.1)
            written.append(Path(app.save_screenshot(f"rank-{rank:03d}.svg", str(out))))
        await pilot.press("f1")
        await pilot.pause(0.3)
        written.append(Path(app.save_screenshot("help.svg", str(out))))
        await pilot.press("escape")
        app.query_one("#picker").focus()
        await pilot.press("down", "down", "down")  # onto a file in the picker
        await pilot.pause(0.3)
        written.append(Path(app.save_screenshot("file-picker.svg", str(out))))
        await pilot.press("f5", "f5")
        await pilot.press("ctrl+a", "ctrl+k", "2", "5", "enter")
        await app.settled(timeout=120.0, poll=0.1)
        written.append(Path(app.save_screenshot("error-map.svg", str(out))))
    small = create_app(None, preview="halfcell", device="cpu")
    async with small.run_test(size=(80, 24)) as pilot:
        small.query_one(RankInput).cursor_blink = False
        await small.settled(timeout=120.0, poll=0.1)
        written.append(Path(small.save_screenshot("small-80x24.svg", str(out))))
    views = create_app(None, preview="halfcell", device="cpu")  # the colour sample at rank 50
    async with views.run_test(size=size) as pilot:
        views.query_one(RankInput).cursor_blink = False
        await views.settled(timeout=120.0, poll=0.1)
        for key, name in (("ctrl+g", "gallery.svg"), ("ctrl+t", "curves.svg"), ("ctrl+l", "components.svg")):
            await pilot.press(key)  # settled() waits for the view's pictures and every figure it shows
            await views.settled(timeout=180.0, poll=0.1)
            written.append(Path(views.save_screenshot(name, str(out))))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tui.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    parser.add_argument("--size", default="160x50", help="terminal size COLSxROWS (default 160x50)")
    args = parser.parse_args(argv)
    cols, rows = (int(v) for v in args.size.lower().split("x"))
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    here, folder = Path.cwd(), _photo_folder()
    os.chdir(folder)  # the sample opens with the file pane on the working folder
    try:
        written = asyncio.run(_shoot(args.out, (cols, rows)))
    finally:
        os.chdir(here)
        shutil.rmtree(folder.parent, ignore_errors=True)
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
