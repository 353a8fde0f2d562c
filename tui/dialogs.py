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

from tui.keys import help_sections
from tui.widgets import OrderedInput

class HelpScreen(ModalScreen[None]):
    """Every key, section by section, from the key table (tui/keys.py); Escape, F1 or q closes it."""

    BINDINGS = [Binding("escape,f1,q", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(Text("svdlens — keys", style="bold"), id="help-title")
            for i, (section, rows) in enumerate(help_sections()):
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
