"""Helpers for the app's Pilot and snapshot tests.

Every test builds the app with the half-cell renderer (Sixel/TGP write to stdout and
do not belong in headless tests) and waits only on the app's own worker groups:
app.workers.wait_for_complete() never returns once a DirectoryTree is mounted.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import cv2
import numpy as np

from core.imageio import sample_image_path
from textual.worker import WorkerState

from tui.app import SvdlensApp, create_app
from tui.preview import PreviewPane
from tui.widgets import RankInput, SizesTable

GROUPS = ("decompose", "refine", "measure", "target", "save", "preview")


def photo(path: Path, width: int, height: int) -> Path:
    """The bundled sample photo resized to width×height, written as PNG."""
    bgr = cv2.imread(str(sample_image_path()), cv2.IMREAD_COLOR)
    small = cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".png", small)
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def _photo_dir(tmp_path: Path) -> Path:
    """A folder with two small photos, a text file pretending to be a PNG, and a text file."""
    folder = tmp_path / "photos"
    folder.mkdir()
    photo(folder / "a_small.png", 96, 64)
    photo(folder / "b_other.png", 80, 80)
    (folder / "c_broken.png").write_text("this is not an image\n")
    (folder / "notes.txt").write_text("not listed\n")
    return folder


def make_app(path: Path | None, **options) -> SvdlensApp:
    options.setdefault("preview", "halfcell")
    options.setdefault("device", "cpu")
    return create_app(path, **options)


def busy_workers(app: SvdlensApp) -> list:
    return [w for w in app.workers if w.group in GROUPS and w.state in (WorkerState.PENDING, WorkerState.RUNNING)]


async def settle(pilot, timeout: float = 30.0) -> None:
    """Wait until the image is loaded, no worker of ours runs, and every pane shows the current rank."""
    app: SvdlensApp = pilot.app
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(0.05)
        if app.has_class("-busy") or busy_workers(app) or app._measure_timer is not None or app._panes_pending:
            continue
        if app.loaded is None:
            if app.last_error:  # nothing loaded and nothing loading: settled on an error
                return
            continue
        table = app.query_one(SizesTable).state
        render = app.query_one(PreviewPane).last_render
        if table is None or table.measuring or table.rank != app.rank:
            continue
        if render is None or render.rank != app.rank:
            continue
        await pilot.pause(0.05)
        return
    raise AssertionError(f"app did not settle in {timeout} s: workers {busy_workers(app)}")


def shown_ranks(app: SvdlensApp) -> tuple[int, int, int, int]:
    """The rank in the app, the rank field, the table and the preview."""
    field = app.query_one(RankInput).value
    return (app.rank, int(field), app.query_one(SizesTable).state.rank,
            app.query_one(PreviewPane).last_render.rank)


def no_blink(app: SvdlensApp) -> None:
    app.query_one(RankInput).cursor_blink = False


async def wait_for(pilot, predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not met in time")




def widget_text(widget) -> str:
    """The text a widget shows on screen now."""
    from textual.geometry import Region

    width, height = widget.size
    return "\n".join(strip.text for strip in widget.render_lines(Region(0, 0, width, height)))
