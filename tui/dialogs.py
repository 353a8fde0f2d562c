"""Modal screens: help, open a path, save to a path."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from tui.widgets import OrderedInput

# One list, used by the help screen and its test: every key the app answers to.
KEYS: list[tuple[str, str, str]] = [
    ("Rank: these work everywhere, also while typing in the rank field", "", ""),
    ("", "Enter", "apply what is typed: 50 (rank), 99% or 0.99 (energy share), 32dB (PSNR), 200k (.svdz bytes, k = 1024)"),
    ("", "+  -", "rank +1 / −1 (also ↑ ↓ in the rank field)"),
    ("", "PgUp  PgDn", "rank +10 / −10 (also shift+↑ shift+↓ in the rank field)"),
    ("", "*  /", "double / halve the rank"),
    ("", "F7", "next classic rank: 500 250 100 50 25 10"),
    ("", "F8", "next energy share: 90 % 99 % 99.9 %"),
    ("Image and views", "", ""),
    ("", "F2  ctrl+o", "open an image by path, or a folder to browse"),
    ("", "F3  ctrl+s", "save the reconstruction (.png .jpg .webp) or the factors (.svdz)"),
    ("", "F4", "grey / colour"),
    ("", "F5", "view: side by side → single → error map → gallery → curves → components"),
    # ---- issue 12: views (begin) ----
    ("", "ctrl+g", "gallery: the original and ranks 500 250 100 50 25 10 with their bytes and PSNR"),
    ("", "ctrl+t", "curves: energy kept and PSNR against rank, .svdz bytes, JPEG at the same bytes"),
    ("", "ctrl+l", "components: the rank-r image and the layer σᵣuᵣvᵣᵀ that rank adds"),
    # ---- issue 12: views (end) ----
    ("", "F6", "A/B flip: show the original in place of the reconstruction"),
    ("", "F9", "show / hide the file pane (hidden below 120 columns); Enter opens"),
    ("Preview pane, when it has focus (Tab to it)", "", ""),
    ("", "← → ↑ ↓  h j k l", "pan (with shift: bigger steps)"),
    ("", "]  [  0", "zoom in / out / fit"),
    ("", "m", "go to the largest error (at 1:1)"),
    ("", "v  f  g", "view / A/B flip / error-map gain"),
    # ---- issue 12: views (begin) ----
    ("Gallery, curves and components (they take the keys when shown; digits still go to the rank field)", "", ""),
    ("", "← → ↑ ↓  Enter", "gallery: move between tiles; Enter makes that tile's rank the current one"),
    ("", "l  c", "curves: log / linear rank axis; next plot (when only one fits)"),
    ("", "s  n  space", "components: one layer / the last k layers; change k; play the build-up 1 → 2 → … (any key stops)"),
    # ---- issue 12: views (end) ----
    ("Everywhere", "", ""),
    ("", "Tab  shift+Tab", "move between file pane, rank field and preview"),
    ("", "ctrl+p", "command palette: open, save, rank and energy presets, colour mode, preview modes and views"),
    ("", "F1", "this help"),
    ("", "ctrl+q", "quit"),
]


def _sections() -> list[tuple[str, list[tuple[str, str]]]]:
    out: list[tuple[str, list[tuple[str, str]]]] = []
    for section, keys, what in KEYS:
        if section:
            out.append((section, []))
        else:
            out[-1][1].append((keys, what))
    return out


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(Text("svdlens — keys", style="bold"), id="help-title")
            for i, (section, rows) in enumerate(_sections()):
                table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
                table.add_column(no_wrap=True, style="bold", width=18)
                table.add_column(ratio=1)
                for keys, what in rows:
                    table.add_row(keys, what)
                yield Static(Text(section, style="bold underline"), classes="help-section")
                yield Static(table, classes="help-table", id=f"help-table-{i}")
            yield Static(
                Text("JPEG and WebP at the same bytes beat truncated SVD by far on photos; "
                     "svdlens shows what each rank keeps and costs. Escape or F1 closes.", style="italic"),
                id="help-foot",
            )

    async def action_dismiss(self, result=None) -> None:
        self.dismiss(None)


class PathScreen(ModalScreen[Path | None]):
    """Ask for a path, proposed in an Input the user can edit; Enter confirms, Escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, title: str, proposed: str, hint: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title_text = title
        self.proposed = proposed
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield OrderedInput(value=self.proposed, id="path-input", select_on_focus=False)
            yield Label(self.hint, classes="dialog-hint")
            yield Label("", id="path-error", classes="dialog-error")

    def on_mount(self) -> None:
        field = self.query_one(OrderedInput)
        field.cursor_position = len(field.value)
        field.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            self.query_one("#path-error", Label).update("type a path, or Escape to cancel")
            return
        try:
            path = Path(text).expanduser()
        except RuntimeError as exc:  # ~name of no such user (or no home folder)
            self.query_one("#path-error", Label).update(f"{text}: cannot expand '~': {exc}")
            return
        self.dismiss(path)

    def action_cancel(self) -> None:
        self.dismiss(None)
