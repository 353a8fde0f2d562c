"""Pilot tests of the help screen and the command palette, both built from tui/keys.py and tui/commands.py."""

from __future__ import annotations

import tui.keys as keys
from apphelp import shown_ranks, widget_text
from tui.app import SvdlensApp
from tui.dialogs import HelpScreen
from tui.preview import PreviewPane


async def test_help_lists_every_key(app):
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        text = "\n".join(widget_text(w) for w in app.screen.query(".help-table"))
        for row in keys.rows():
            assert " ".join(row.what.split()[:3]) in text, row.what
        for binding in SvdlensApp.BINDINGS:
            first = binding.key.split(",")[0]
            shown = {"plus": "+", "minus": "−", "asterisk": "*", "slash": "/", "pageup": "PgUp",
                     "pagedown": "PgDn"}.get(first, first.upper() if first.startswith("f") else first)
            assert shown in text, binding.key
        await pilot.press("plus")  # rank keys do nothing while help is up
        assert app.rank == 50
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_command_palette_commands(app):
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in ("Open image…", "Save…", "Rank 500", "Rank 10", "Energy 99 %", "Colour mode: grey",
                       "Preview: error map", "Preview: side by side", "Preview: single large view"):
            assert wanted in titles
        await pilot.press("ctrl+p")
        await pilot.press(*"Rank 25")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await app.settled()
        assert shown_ranks(app) == (25,) * 4
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        commands["Preview: error map"].callback()
        await pilot.pause()
        assert app.query_one(PreviewPane).view == "error"
