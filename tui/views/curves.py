"""CurvesView: energy kept and PSNR against rank, the .svdz bytes, and JPEG at the same bytes.

The energy and PSNR curves are exact at every rank from the singular values
(‖A − A_r‖²_F = Σ_{i>r} σᵢ²), computed once per decomposition by the app's worker and handed
in; a rank change only moves the marker and rewrites the one-line readout. The .svdz bytes
and JPEG's PSNR at the same bytes exist only where a rank was measured: they are drawn as
points at those ranks. `l` switches the rank axis between log and linear; where the pane is
too small for three readable plots, one is shown at a time and `c` shows the next.

Plots are drawn by textual-plot's PlotWidget (axes, ticks, labels); only the log-rank tick
labels are ours.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from textual.app import ComposeResult
from textual.containers import Grid
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static
from textual_plot import HiResMode, PlotWidget
from textual_plot.axis_formatter import AxisFormatter, NumericAxisFormatter

import tui.keys as keys

from .base import db, fit, size

PLOTS = ("psnr", "energy", "bytes")
# The y label sits above the axis and is short; what the marks mean goes under the plot.
Y_LABELS = {"psnr": "PSNR dB", "energy": "energy %", "bytes": "file kB"}
LEGENDS = {"psnr": "PSNR: ─ SVD, exact from σ  ◆ JPEG at the same bytes (measured)",
           "energy": "energy kept: ─ share of Σσ²",
           "bytes": ".svdz ● measured  ─ grey: original file"}
# Below this many cells the three plots do not fit readably: one at a time.
ALL_PLOTS_MIN = (100, 30)


class LogRankFormatter(AxisFormatter):
    """Ticks for an axis that plots log10(rank): labelled with the rank at 1, 2, 5, 10, 20, 50, …"""

    def get_ticks(self, min_: float, max_: float, max_ticks: int = 8) -> list[float]:
        steps = (1, 2, 5)
        ticks = []
        for power in range(int(math.floor(min_)) - 1, int(math.ceil(max_)) + 1):
            for step in steps:
                t = math.log10(step * 10**power)
                if min_ - 1e-9 <= t <= max_ + 1e-9:
                    ticks.append(t)
        if len(ticks) > max(max_ticks, 10):
            ticks = [t for t in ticks if abs(t - round(t)) < 1e-9] or ticks[:: len(ticks) // max_ticks + 1]
        return ticks

    def get_labels_for_ticks(self, ticks: Sequence[float]) -> list[str]:
        return [f"{round(10**t):d}" for t in ticks]


def sample_ranks(max_rank: int, points: int, log: bool) -> np.ndarray:
    """The ranks to draw a curve through: every rank when they fit, else evenly on the axis."""
    if max_rank <= points:
        return np.arange(1, max_rank + 1)
    raw = np.geomspace(1, max_rank, points) if log else np.linspace(1, max_rank, points)
    return np.unique(np.clip(np.rint(raw).astype(int), 1, max_rank))


class _Plot(PlotWidget, can_focus=False):
    """A PlotWidget that leaves the keyboard to the app (its + and − would take the rank keys),
    with the rank marker as a one-column widget on a layer above the canvas: moving it on a
    rank change is a change of offset, not a redraw of the curves."""

    DEFAULT_CSS = """
    _Plot { layers: plot legend marker; }
    _Plot #c-marker { layer: marker; width: 1; height: 1; color: $warning; text-style: bold; display: none; }
    """

    def __init__(self, kind: str, **kwargs) -> None:
        super().__init__(allow_pan_and_zoom=False, **kwargs)
        self.kind = kind
        self.marker_x: float | None = None

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Static("", id="c-marker", markup=False)

    def on_resize(self) -> None:
        # PlotWidget re-measures its canvas only on a layout refresh of its own; a resize that
        # comes from the grid around it (one plot ↔ three) would leave the old scale rectangle.
        self._needs_canvas_resize = True
        self._rerender()

    def _render_plot(self) -> None:
        super()._render_plot()
        self._place_marker()  # the scale may have changed

    def move_marker(self, x: float | None) -> None:
        """Put the rank marker at data x (None hides it); the canvas is not drawn again."""
        self.marker_x = x
        self._place_marker()

    def _place_marker(self) -> None:
        marker = self.query_one("#c-marker", Static)
        box = self._scale_rectangle
        x = self.marker_x
        marker.display = (x is not None and box.width >= 1 and box.height >= 1
                          and self._x_min - 1e-9 <= x <= self._x_max + 1e-9)
        if not marker.display:
            return
        column, _ = self.get_pixel_from_coordinate(x, self._y_min)
        marker.styles.height = box.height
        marker.update("\n".join("│" * box.height))
        # The canvas sits right of the left margin and below the top one; its box has a 1-cell frame.
        marker.offset = (self.margin_left + int(column), self.margin_top + box.y)

    @property
    def marker_column(self) -> int | None:
        """The screen column of the marker (None when hidden)."""
        marker = self.query_one("#c-marker", Static)
        return marker.region.x if marker.display and marker.region.width else None


class CurvesView(Widget, can_focus=True):
    """Energy, PSNR and .svdz bytes against rank, the current rank marked."""

    DEFAULT_CSS = """
    CurvesView { layout: vertical; width: 1fr; height: 1fr; }
    CurvesView #c-readout { height: 1; width: 100%; text-style: bold; }
    CurvesView #c-grid { height: 1fr; grid-size: 2 2; grid-rows: 1fr 1fr; grid-gutter: 0 1; }
    CurvesView #c-plot-psnr { column-span: 2; }
    CurvesView.-one #c-grid { grid-size: 1 1; grid-rows: 1fr; }
    CurvesView.-one #c-plot-psnr { column-span: 1; }
    CurvesView _Plot { height: 1fr; width: 1fr; }
    CurvesView #c-status { height: 1; width: 100%; color: $text-muted; }
    CurvesView:focus #c-status { background: $accent 25%; color: $text; }
    CurvesView #c-message { height: 1fr; width: 100%; content-align: center middle; color: $text-muted; }
    """

    BINDINGS = keys.bindings("curves")  # declared in tui/keys.py, with their help-screen line

    log_axis: reactive[bool] = reactive(True, init=False)

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._energy: np.ndarray | None = None  # kept share for ranks 1..max_rank
        self._psnr: np.ndarray | None = None  # unclipped PSNR from σ for ranks 1..max_rank
        self._key: Any = None  # what the curves were drawn for
        self._file_bytes: int | None = None
        self._figures: dict[int, dict] = {}
        self.rank: int | None = None
        self.shown_plot = "psnr"  # the one shown when there is room for one only
        self.plotted: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # (x, y) per curve drawn (tests read it)
        self.marker_x: float | None = None
        self._points: tuple = ()  # the measured points drawn
        self.draws = 0  # how often the curves were drawn (a rank change draws none)

    def compose(self) -> ComposeResult:
        yield Static("", id="c-readout", markup=False)
        with Grid(id="c-grid"):
            for kind in PLOTS:
                yield _Plot(kind, id=f"c-plot-{kind}")
        yield Static("no image yet", id="c-message", markup=False)
        yield Static("", id="c-status", markup=False)

    def on_mount(self) -> None:
        self.query_one("#c-grid").display = False
        for plot in self.query(_Plot):
            plot.margin_top = 1
            plot.margin_bottom = 3  # ticks, then the legend as the x label
            plot.margin_left = 7
            plot.set_ylabel(Y_LABELS[plot.kind])
        self._fit()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        one = self.size.width < ALL_PLOTS_MIN[0] or self.size.height < ALL_PLOTS_MIN[1]
        self.set_class(one, "-one")
        self.refresh_bindings()
        for plot in self.query(_Plot):
            plot.display = not one or plot.kind == self.shown_plot
        self._update_status()

    # ---- what the app calls ----------------------------------------------------------
    def set_curves(self, key: Any, energy: Sequence[float], psnr: Sequence[float], file_bytes: int | None = None) -> None:
        """The exact curves for ranks 1..len(energy); drawn only when key (the decomposition) changes."""
        if key is self._key:
            return
        self._key = key
        self._energy = np.asarray(energy, dtype=np.float64)
        self._psnr = np.asarray(psnr, dtype=np.float64)
        self._file_bytes = file_bytes
        self._figures = {}
        self.query_one("#c-message").display = False
        self.query_one("#c-grid").display = True
        self._draw()

    def set_figures(self, figures: dict[int, dict]) -> None:
        """Measured figures per rank (container_bytes, jpeg_psnr_db, …): the measured points are redrawn."""
        self._figures = {int(r): dict(v) for r, v in figures.items()}
        points = self._measured_points()
        if self._energy is not None:
            if points != self._points:  # most figures (PSNR, PNG bytes) are not drawn here
                self._draw(only=("psnr", "bytes"))
            self._update_readout()

    def _measured_points(self) -> tuple:
        return tuple((r, v.get("container_bytes"), v.get("jpeg_psnr_db")) for r, v in sorted(self._figures.items()))

    def set_rank(self, rank: int) -> None:
        """Move the marker to rank (no curve is computed or re-plotted)."""
        self.rank = int(rank)
        if self._energy is None:
            return
        self.marker_x = self._x(min(self.rank, len(self._energy)))
        for plot in self.query(_Plot):
            plot.move_marker(self.marker_x)
        self._update_readout()

    # ---- drawing ---------------------------------------------------------------------
    def _x(self, rank: float) -> float:
        return math.log10(rank) if self.log_axis else float(rank)

    def _draw(self, only: Sequence[str] = PLOTS) -> None:
        self.draws += 1
        self._points = self._measured_points()
        max_rank = len(self._energy)
        ranks = sample_ranks(max_rank, 400, self.log_axis)
        x = np.array([self._x(r) for r in ranks])
        x_limits = (self._x(1), self._x(max(max_rank, 2)))
        measured = sorted(r for r in self._figures if r <= max_rank)
        for plot in self.query(_Plot):
            if plot.kind not in only:
                continue
            plot.clear()
            plot.set_x_formatter(LogRankFormatter() if self.log_axis else NumericAxisFormatter())
            plot.set_xlimits(*x_limits)
            plot.set_xlabel(f"rank{' (log)' if self.log_axis else ''} — {LEGENDS[plot.kind]}")
            if plot.kind == "energy":
                y = 100.0 * self._energy[ranks - 1]
                plot.plot(x, y, line_style="green", hires_mode=HiResMode.BRAILLE)
                self.plotted["energy"] = (x, y)
            elif plot.kind == "psnr":
                y = self._psnr[ranks - 1]
                finite = np.isfinite(y)
                plot.plot(x[finite], y[finite], line_style="cyan", hires_mode=HiResMode.BRAILLE)
                self.plotted["psnr"] = (x[finite], y[finite])
                jpeg = [(r, self._figures[r]["jpeg_psnr_db"]) for r in measured
                        if self._figures[r].get("jpeg_psnr_db") is not None]
                if jpeg:
                    jx = np.array([self._x(r) for r, _ in jpeg])
                    jy = np.array([v for _, v in jpeg])
                    plot.scatter(jx, jy, marker="◆", marker_style="magenta")
                    self.plotted["jpeg_psnr"] = (jx, jy)
            else:
                points = [(r, self._figures[r]["container_bytes"]) for r in measured
                          if self._figures[r].get("container_bytes") is not None]
                if points:
                    bx = np.array([self._x(r) for r, _ in points])
                    by = np.array([b / 1000 for _, b in points])
                    if len(points) > 1:
                        plot.plot(bx, by, line_style="cyan", hires_mode=HiResMode.BRAILLE)
                    plot.scatter(bx, by, marker="●", marker_style="cyan")
                    self.plotted["svdz_bytes"] = (bx, by)
                    plot.set_ylimits(0, None)
                if self._file_bytes:
                    fx = np.array(x_limits)
                    fy = np.array([self._file_bytes / 1000] * 2)
                    plot.plot(fx, fy, line_style="grey50", hires_mode=HiResMode.BRAILLE)
                    self.plotted["file_bytes"] = (fx, fy)
            plot.move_marker(self.marker_x)
        self._update_status()

    def _update_readout(self) -> None:
        if self._energy is None or self.rank is None:
            return
        r = min(self.rank, len(self._energy))
        f = self._figures.get(r, {})
        parts = [f"rank {r}", f"energy {self._energy[r - 1] * 100:.3f} %", f"PSNR {db(self._psnr[r - 1])} from σ"]
        if f.get("container_bytes") is not None:
            parts.append(f".svdz {size(f['container_bytes'])}")
        if f.get("jpeg_psnr_db") is not None:
            parts.append(f"JPEG at those bytes {db(f['jpeg_psnr_db'])}")
        self.query_one("#c-readout", Static).update(fit(parts, self.size.width or 80))

    def _update_status(self) -> None:
        if not self.is_mounted:
            return
        one = self.has_class("-one")
        parts = [f"showing {self.shown_plot} · c next plot"] if one else []
        parts.append(f"l {'linear' if self.log_axis else 'log'} rank axis")
        self.query_one("#c-status", Static).update(fit(parts, self.size.width or 80))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # "next plot" only means something when one plot is shown at a time.
        if action == "next_plot" and not self.has_class("-one"):
            return False
        return True

    # ---- keys ------------------------------------------------------------------------
    def action_toggle_log(self) -> None:
        self.log_axis = not self.log_axis

    def watch_log_axis(self) -> None:
        if self._energy is not None:
            if self.rank is not None:
                self.marker_x = self._x(min(self.rank, len(self._energy)))
            self._draw()

    def action_next_plot(self) -> None:
        self.shown_plot = PLOTS[(PLOTS.index(self.shown_plot) + 1) % len(PLOTS)]
        self._fit()
