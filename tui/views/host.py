"""ViewStack: the preview pane and the three teaching views in one place, one shown at a time.

F5 cycles side by side → single → error map (the preview pane's own views) → gallery →
curves → components → side by side. The app hosts it with a few lines: compose it in place of
the preview pane (it composes the PreviewPane itself, id "preview"), call show(loaded, rank)
after every rank or image change, add_figures() with what it measured, and hear RankChosen
(a rank a view asks for) and TypedAhead (a digit typed while a view has focus, meant for the
rank field).

It keeps the measured figures per rank for the current decomposition, fed by the app's own
measurements and by its "figures" worker, which measures the gallery's ranks while the gallery
or the curves are shown.
"""

from __future__ import annotations

from typing import Any

from textual import events, on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.worker import WorkerState, get_current_worker

from core.errors import SvdlensError
from tui.preview import VIEWS as PREVIEW_VIEWS
from tui.preview import PreviewPane

from .base import RankChosen, clamp_ranks
from .components import ComponentsView
from .curves import CurvesView
from .figures import measure_figures
from .gallery import GalleryView

VIEWS = (*PREVIEW_VIEWS, "gallery", "curves", "components")
OWN_VIEWS = ("gallery", "curves", "components")
WORKER_GROUPS = ("gallery", "figures", "components")  # the views' thread workers (the preview pane has its own)
DESCRIPTIONS = {"side": "side by side", "single": "single large view", "error": "error map",
                "gallery": "gallery: the original and ranks 500…10", "curves": "curves: energy, PSNR, bytes",
                "components": "components: what a rank adds"}
TYPE_AHEAD = frozenset("0123456789.")  # what a rank request can start with


class ViewStack(Widget):
    """The preview pane, gallery, curves and components views; `view` says which is shown."""

    DEFAULT_CSS = """
    ViewStack { layout: vertical; width: 1fr; height: 1fr; min-height: 6; }
    ViewStack > GalleryView, ViewStack > CurvesView, ViewStack > ComponentsView { display: none; }
    """

    view: reactive[str] = reactive("side", init=False)

    class TypedAhead(Message):
        """A character typed while a view had focus that starts a rank request: for the rank field."""

        def __init__(self, character: str) -> None:
            super().__init__()
            self.character = character

    class _Figures(Message, bubble=False):
        def __init__(self, dec: Any, rank: int, values: dict) -> None:
            super().__init__()
            self.dec, self.rank, self.values = dec, rank, values

    def __init__(self, protocol: str = "auto", *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.protocol = protocol
        self._loaded: Any = None
        self.rank: int | None = None
        self.figures: dict[int, dict] = {}  # measured figures per rank, for self._loaded.dec

    def compose(self) -> ComposeResult:
        yield PreviewPane(protocol=self.protocol, id="preview")
        yield GalleryView(protocol=self.protocol, id="gallery")
        yield CurvesView(id="curves")
        yield ComponentsView(protocol=self.protocol, id="components")

    @property
    def preview(self) -> PreviewPane:
        return self.query_one(PreviewPane)

    @property
    def gallery(self) -> GalleryView:
        return self.query_one(GalleryView)

    @property
    def curves(self) -> CurvesView:
        return self.query_one(CurvesView)

    @property
    def components(self) -> ComponentsView:
        return self.query_one(ComponentsView)

    # ---- what the app calls ----------------------------------------------------------
    def show(self, loaded: Any, rank: int) -> None:
        """Bring the views to loaded (the app's Loaded: source, dec, energy, psnr_sigma) at rank.

        The preview pane is driven by the app itself; the shown view here is updated now, the
        hidden ones when they are shown.
        """
        if loaded is not self._loaded:
            self._loaded = loaded
            self.figures = {}
            self.workers.cancel_group(self, "figures")
        self.rank = int(rank)
        self._update_shown()

    def add_figures(self, loaded: Any, rank: int, values: dict) -> None:
        """Figures the app measured for rank of loaded (dropped when loaded is no longer current)."""
        if loaded is not self._loaded or not values:
            return
        self.figures.setdefault(int(rank), {}).update(values)
        if self.view == "gallery":
            self.gallery.set_figures(rank, values)
        elif self.view == "curves":
            self.curves.set_figures(self.figures)

    def is_idle(self, rank: int) -> bool:
        """Whether the shown view shows rank, drawn and measured, and no view worker runs.

        The app's idle signal asks this: a hidden preview pane does not render (it would
        not be seen), so only the shown view's state counts.
        """
        active = (WorkerState.PENDING, WorkerState.RUNNING)
        if any(w.group in WORKER_GROUPS and w.state in active for w in self.workers):
            return False
        if self.view in PREVIEW_VIEWS:
            render = self.preview.last_render
            return render is not None and render.rank == rank
        if self.view == "gallery":
            return self.gallery.rendered and not self.missing_figures
        if self.view == "curves":
            return self.curves.rank == rank and self.curves.marker_x is not None and not self.missing_figures
        return self.components.rendered and self.components.rank == rank

    def cycle_view(self) -> None:
        """side → single → error → gallery → curves → components → side."""
        current = self.preview.view if self.view in PREVIEW_VIEWS else self.view
        self.set_view(VIEWS[(VIEWS.index(current) + 1) % len(VIEWS)])

    def set_view(self, view: str) -> None:
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}: use one of {', '.join(VIEWS)}")
        if view in PREVIEW_VIEWS:
            self.preview.view = view
        self.view = view

    def watch_view(self, old: str, new: str) -> None:
        for name in OWN_VIEWS:
            widget = self.query_one(f"#{name}")
            widget.display = name == new
        self.preview.display = new in PREVIEW_VIEWS
        # On a short terminal the app may give a teaching view the results pane's rows (app.tcss).
        self.screen.set_class(new in OWN_VIEWS, "-teaching-view")
        self.gallery.set_active(new == "gallery")
        self.components.set_active(new == "components")
        self._update_shown()
        focused = self.app.focused
        if new in OWN_VIEWS:
            # Arrows, Enter and the view's keys act at once; digits still go to the rank field.
            self.query_one(f"#{new}").focus()
        elif focused is not None and focused.parent is self and old in OWN_VIEWS:
            self.preview.focus()

    # ---- feeding the shown view ------------------------------------------------------
    def _update_shown(self) -> None:
        loaded, rank = self._loaded, self.rank
        if loaded is None or rank is None:
            return
        dec = loaded.dec
        if self.view == "gallery":
            source = loaded.source
            self.gallery.show(dec, rank, source.path.suffix.lstrip(".").upper() or "file", source.file_bytes)
            for r, values in self.figures.items():
                self.gallery.set_figures(r, values)
            self._measure_missing()
        elif self.view == "curves":
            self.curves.set_curves(dec, loaded.energy, loaded.psnr_sigma, loaded.source.file_bytes)
            self.curves.set_figures(self.figures)
            self.curves.set_rank(rank)
            self._measure_missing()
        elif self.view == "components":
            self.components.show(dec, rank)

    @property
    def figure_ranks(self) -> list[int]:
        """The ranks measured for the gallery and the curves: the gallery's, where the factors serve them."""
        if self._loaded is None:
            return []
        dec = self._loaded.dec
        return [r for r, _ in clamp_ranks(self.gallery.ranks, dec.full_rank) if r <= dec.max_rank]

    @property
    def missing_figures(self) -> list[int]:
        """The figure ranks not fully measured yet (JPEG at the same bytes comes last)."""
        done = lambda r: "jpeg_bytes" in self.figures.get(r, {}) or "jpeg_note" in self.figures.get(r, {})  # noqa: E731
        return [r for r in self.figure_ranks if not done(r)]

    def _measure_missing(self) -> None:
        loaded = self._loaded
        if loaded is None:
            return
        missing = self.missing_figures
        running = [w for w in self.workers if w.group == "figures" and not w.is_finished]
        if missing and not running:
            self._figures_worker(loaded, missing)

    @work(thread=True, exclusive=True, exit_on_error=False, group="figures")
    def _figures_worker(self, loaded: Any, ranks: list[int]) -> None:
        worker = get_current_worker()
        # Smallest ranks first: their figures are the cheapest and fill most of the gallery soonest.
        for rank in sorted(ranks):
            try:
                for values in measure_figures(loaded, rank):
                    if worker.is_cancelled:
                        return
                    self.post_message(self._Figures(loaded.dec, rank, values))
            except (SvdlensError, MemoryError) as exc:
                self.post_message(self._Figures(loaded.dec, rank, {"jpeg_note": str(exc) or "not enough memory"}))

    @on(_Figures)
    def _on_figures(self, message: _Figures) -> None:
        if self._loaded is None or message.dec is not self._loaded.dec:
            return
        self.figures.setdefault(message.rank, {}).update(message.values)
        if self.view == "gallery":
            self.gallery.set_figures(message.rank, message.values)
        elif self.view == "curves":
            self.curves.set_figures(self.figures)

    # ---- typing while a view has focus -------------------------------------------------
    def on_key(self, event: events.Key) -> None:
        if event.character in TYPE_AHEAD and self.view in OWN_VIEWS:
            event.stop()
            event.prevent_default()
            self.post_message(self.TypedAhead(event.character))


__all__ = ["ViewStack", "VIEWS", "DESCRIPTIONS", "RankChosen"]
