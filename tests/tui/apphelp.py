"""Helpers for the app's Pilot and snapshot tests.

Every test builds the app with the half-cell renderer (Sixel/TGP write to stdout and
do not belong in headless tests) and waits with the app's own `await app.settled()`.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import cv2

from core.imageio import sample_image_path
from tui.app import SvdlensApp
from tui.lifecycle import create_app
from tui.preview import PreviewPane
from tui.widgets import RankInput, SizesTable


def photo(path: Path, width: int, height: int) -> Path:
    """The bundled sample photo resized to width×height, written as PNG."""
    bgr = cv2.imread(str(sample_image_path()), cv2.IMREAD_COLOR)
    small = cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".png", small)
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def photo_folder(tmp_path: Path) -> Path:
    """A folder with two small photos, a text file pretending to be a PNG, and a text file."""
    folder = tmp_path / "photos"
    folder.mkdir()
    photo(folder / "a_small.png", 96, 64)
    photo(folder / "b_other.png", 80, 80)
    (folder / "c_broken.png").write_text("this is not an image\n")
    (folder / "notes.txt").write_text("not listed\n")
    return folder


def make_app(path: Path | None, **options) -> SvdlensApp:
    """The app as the command line builds it, drawing with half-cell blocks and computing on the CPU."""
    options.setdefault("preview", "halfcell")
    options.setdefault("device", "cpu")
    return create_app(path, **options)


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


def screen_lines(app: SvdlensApp) -> list[str]:
    """Every line of the screen as the terminal shows it: widgets composed, docked ones over the rest."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, color_system=None,
                      record=True, legacy_windows=False, safe_box=False)
    # What App.export_screenshot draws, as text: the compositor's full frame.
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text().splitlines()


def digest(path: Path) -> str:
    """SHA-256 of a file, to show it was not touched."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def type_rank(pilot, text: str) -> None:
    """Replace what the rank field holds with text and press Enter."""
    await pilot.press("ctrl+a", "ctrl+k", *list(text), "enter")


def status(app: SvdlensApp) -> str:
    """The status line next to the rank field."""
    return widget_text(app.query_one("#rank-status"))


async def edit_path(pilot, path: Path) -> None:
    """Replace the proposed path in the open dialog and confirm (long paths typed key by key are slow)."""
    field = pilot.app.screen.query_one("#path-input")
    field.value = str(path)
    await pilot.press("end", "enter")


def bad_files(folder: Path) -> None:
    """Files that are not images, in folder next to a_small.png: empty, truncated, huge, a non-ASCII name."""
    good = (folder / "a_small.png").read_bytes()
    (folder / "empty.png").write_bytes(b"")
    (folder / "truncated.png").write_bytes(good[: len(good) // 2])
    # A PNG header declaring 100000×100000 pixels: refused before anything is allocated.
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    (folder / "huge.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                                      + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    (folder / "ünïcode ☃ name.png").write_bytes(good)


def small_counts_as_large(monkeypatch) -> None:
    """Lower core.svd's thresholds so a 320×240 photo takes the randomized (top-40) path."""
    import core.svd

    monkeypatch.setattr(core.svd, "RANDOMIZED_MIN_SIDE", 100)
    monkeypatch.setattr(core.svd, "RANDOMIZED_MIN_PIXELS", 10_000)
    monkeypatch.setattr(core.svd, "SERVED_RANKS", 40)
