"""Pilot tests of the views: preview modes and A/B flip, the preview option, small terminals."""

from __future__ import annotations

import pytest

from apphelp import make_app
from tui.preview import PreviewPane
from tui.widgets import SizesTable


async def test_preview_view_and_flip_keys(app):
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        preview = app.query_one(PreviewPane)
        views = []
        for _ in range(3):
            await pilot.press("f5")
            views.append(preview.view)
        assert views == ["single", "error", "side"]
        await pilot.press("f6")
        assert preview.flipped
        await pilot.press("f6")
        assert not preview.flipped


@pytest.mark.parametrize("protocol", ["halfcell", "unicode"])
async def test_preview_option_reaches_the_pane(photo_dir, protocol):
    app = make_app(photo_dir / "a_small.png", preview=protocol)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.settled()
        assert app.query_one(PreviewPane).protocol == protocol


async def test_small_terminal_hides_the_picker_and_compacts_the_table(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await app.settled()
        assert not app.query_one("#picker-pane").display or app.query_one("#picker-pane").region.width == 0
        table = app.query_one(SizesTable)
        assert table.compact
        assert table.region.height <= 4
        assert app.query_one(PreviewPane).region.height >= 12
        await pilot.resize_terminal(160, 50)
        await pilot.pause(0.3)
        assert app.query_one("#picker-pane").region.width > 0
        assert not table.compact
