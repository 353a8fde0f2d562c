"""The command palette's svdlens commands (ctrl+p): open, save, rank and energy presets, modes, views.

The app adds these to Textual's system commands (App.get_system_commands); each one calls an
action of the app, so the palette and the keys do the same thing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from textual.app import SystemCommand

from tui.choices import CLASSIC_RANKS, ENERGY_PRESETS
from tui.preview import VIEWS as PREVIEW_VIEWS
from tui.views import DESCRIPTIONS as VIEW_DESCRIPTIONS

if TYPE_CHECKING:
    from tui.app import SvdlensApp

# The teaching views beside the preview pane's own, with their keys (tui/keys.py).
TEACHING_VIEWS = (("gallery", "ctrl+g"), ("curves", "ctrl+t"), ("components", "ctrl+l"))


def svdlens_commands(app: SvdlensApp) -> Iterable[SystemCommand]:
    """The palette entries for app, after Textual's own."""
    yield SystemCommand("Open image…", "Open an image by path (F2)", app.action_open)
    yield SystemCommand("Save…", "Save the reconstruction or the .svdz (F3)", app.action_save)
    for rank in CLASSIC_RANKS:
        yield SystemCommand(f"Rank {rank}", f"Show rank {rank}", lambda r=rank: app.action_set_rank(r))
    for share in ENERGY_PRESETS:
        yield SystemCommand(f"Energy {share * 100:g} %", f"Smallest rank keeping {share * 100:g} % of Σσ²",
                            lambda s=share: app.action_set_energy(s))
    for mode in ("grey", "colour"):
        yield SystemCommand(f"Colour mode: {mode}", f"Decompose the {mode} image", lambda m=mode: app.set_mode(m))
    for view in PREVIEW_VIEWS:
        text = VIEW_DESCRIPTIONS[view]
        yield SystemCommand(f"Preview: {text}", f"Show the {text}", lambda v=view: app.action_set_view(v))
    for view, key in TEACHING_VIEWS:
        yield SystemCommand(f"View: {VIEW_DESCRIPTIONS[view]}", f"{key}, or F5 cycles the views",
                            lambda v=view: app.action_set_view(v))
    yield SystemCommand("Preview: A/B flip", "Swap the reconstruction for the original (F6)", app.action_flip)
    yield SystemCommand("Files: show or hide the file pane", "F9", app.action_toggle_files)
    yield SystemCommand("Help: keys", "Every key (F1)", app.action_help)
