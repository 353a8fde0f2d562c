"""Snapshot tests of the main screens (half-cell renderer, cursor blink off, workers settled).

Update after an intended change with:
    .venv/bin/python -m pytest tests/tui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from apphelp import make_app, no_blink, wait_for


def _at_rank(text: str):
    async def run_before(pilot) -> None:
        no_blink(pilot.app)
        await pilot.app.settled()
        if text:
            await pilot.press("ctrl+a", "ctrl+k", *text, "enter")
            await pilot.app.settled()

    return run_before


# The sample photo opens with the file pane on the working folder: make that a known one.


def test_main_screen_160x50(snap_compare, photo_dir, monkeypatch):
    monkeypatch.chdir(photo_dir)
    assert snap_compare(make_app(None), terminal_size=(160, 50), run_before=_at_rank("100"))


def test_main_screen_80x24(snap_compare, photo_dir, monkeypatch):
    monkeypatch.chdir(photo_dir)
    assert snap_compare(make_app(None), terminal_size=(80, 24), run_before=_at_rank("25"))


def test_help_screen(snap_compare, photo_dir, monkeypatch):
    monkeypatch.chdir(photo_dir)
    assert snap_compare(make_app(None), terminal_size=(160, 50), run_before=_at_rank(""), press=["f1"])


def test_error_map_view(snap_compare, photo_dir, monkeypatch):
    monkeypatch.chdir(photo_dir)

    async def run_before(pilot) -> None:
        await _at_rank("10")(pilot)
        await pilot.press("f5", "f5")
        await pilot.app.settled()

    assert snap_compare(make_app(None), terminal_size=(160, 50), run_before=run_before)


def test_file_picker_focused(snap_compare, photo_dir):
    async def run_before(pilot) -> None:
        await _at_rank("")(pilot)
        picker = pilot.app.query_one("#picker")
        await wait_for(pilot, lambda: len(picker.root.children) == 3)
        picker.focus()
        await pilot.press("down", "down")
        await pilot.app.settled()

    assert snap_compare(make_app(photo_dir / "a_small.png"), terminal_size=(160, 50), run_before=run_before)
