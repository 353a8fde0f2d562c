"""ComponentsView: what a rank adds — the rank-r image beside its layer σᵣuᵣvᵣᵀ.

Left: the rank-r image, the sum of layers 1..r. Right: the rank-r layer alone (or, with `s`,
the sum of the last k layers r−k+1..r; `n` changes k), contrast-stretched around mid grey and
labelled with its share of the energy. Early layers carry broad shapes, late ones fine
texture. Space plays the build-up: the rank steps 1 → 2 → … at a steady pace (it asks the
app with RankChosen) and any key stops it.

Pictures come from core.layers and dec.preview in a thread worker, at pane size from the
factors resized once (no new SVD).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static
from textual.worker import get_current_worker

import tui.keys as keys
from core.errors import SvdlensError

from .base import RankChosen, fit
from .imaging import display_units, image_class, picture, picture_encoder, set_picture

COUNTS = (5, 10, 25, 50)
PLAY_INTERVAL = 0.3  # s between steps of the build-up


class ComponentsView(Widget, can_focus=True):
    """The rank-r image and the layer (or last k layers) that rank adds."""

    DEFAULT_CSS = """
    ComponentsView { layout: vertical; width: 1fr; height: 1fr; }
    ComponentsView #k-views { height: 1fr; }
    ComponentsView .k-col { width: 1fr; height: 100%; align: center middle; }
    ComponentsView #k-left { margin-right: 1; }
    ComponentsView .k-label { width: 100%; height: 1; text-align: center; text-style: bold; }
    ComponentsView .k-image { width: auto; height: auto; }
    ComponentsView #k-status { height: 1; width: 100%; color: $text-muted; }
    ComponentsView:focus #k-status { background: $accent 25%; color: $text; }
    ComponentsView #k-message { height: 1fr; width: 100%; content-align: center middle; color: $text-muted; }
    """

    BINDINGS = keys.bindings("components")  # declared in tui/keys.py, with their help-screen line

    summed: reactive[bool] = reactive(False, init=False)
    count: reactive[int] = reactive(10, init=False)

    class _Rendered(Message, bubble=False):
        def __init__(self, generation: int, result: dict | None, error: str = "") -> None:
            super().__init__()
            self.generation, self.result, self.error = generation, result, error

    def __init__(self, protocol: str = "auto", *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._image_cls = image_class(protocol)
        self._units = display_units(protocol)
        self._dec: Any = None
        self.rank: int | None = None
        self._generation = 0
        self._done_generation = 0
        self._active = False
        self._stale = False
        self._play_timer = None
        self._play_rank = 0
        self.last: dict | None = None  # the last render: pixels, layers, labels (tests read it)

    def compose(self) -> ComposeResult:
        with Horizontal(id="k-views"):
            with Vertical(id="k-left", classes="k-col"):
                yield Static("", id="k-left-label", classes="k-label", markup=False)
                yield self._image_cls(id="k-left-image", classes="k-image")
            with Vertical(id="k-right", classes="k-col"):
                yield Static("", id="k-right-label", classes="k-label", markup=False)
                yield self._image_cls(id="k-right-image", classes="k-image")
        yield Static("no image yet", id="k-message", markup=False)
        yield Static("", id="k-status", markup=False)

    def on_mount(self) -> None:
        self.query_one("#k-views").display = False
        self._update_status()

    # ---- what the app calls ----------------------------------------------------------
    def show(self, dec: Any, rank: int) -> None:
        self._dec, self.rank = dec, int(rank)
        self._request_render()

    def set_active(self, active: bool) -> None:
        self._active = active
        if not active:
            self.stop_play()
        elif self._stale:
            self._request_render()

    @property
    def playing(self) -> bool:
        return self._play_timer is not None

    @property
    def rendered(self) -> bool:
        return self._dec is not None and self._done_generation == self._generation and self.last is not None

    # ---- play --------------------------------------------------------------------------
    def action_play(self) -> None:
        if self.playing:
            self.stop_play()
            return
        if self._dec is None:
            return
        self._play_rank = 1
        self.post_message(RankChosen(1, "play"))
        self._play_timer = self.set_interval(PLAY_INTERVAL, self._step)
        self._update_status()

    def _step(self) -> None:
        if self._dec is None or self._play_rank >= self._dec.max_rank:
            self.stop_play()
            return
        self._play_rank += 1
        self.post_message(RankChosen(self._play_rank, "play"))

    def stop_play(self) -> None:
        if self._play_timer is not None:
            self._play_timer.stop()
            self._play_timer = None
            if self.is_mounted:
                self._update_status()

    def on_key(self, event: events.Key) -> None:
        # Any key stops the build-up; that key then does what it always does (space only stops).
        if self.playing:
            self.stop_play()
            if event.key == "space":
                event.stop()
                event.prevent_default()

    # ---- keys --------------------------------------------------------------------------
    def action_toggle_sum(self) -> None:
        self.summed = not self.summed

    def action_next_count(self) -> None:
        self.count = COUNTS[(COUNTS.index(self.count) + 1) % len(COUNTS)] if self.count in COUNTS else COUNTS[0]

    def watch_summed(self) -> None:
        self._request_render()

    def watch_count(self) -> None:
        if self.summed:
            self._request_render()
        else:
            self._update_status()

    def on_resize(self) -> None:
        self._request_render()

    # ---- rendering ---------------------------------------------------------------------
    def _pane_px(self) -> tuple[int, int]:
        cols, rows = self.content_size.width, self.content_size.height
        return max(1, (cols - 1) // 2) * self._units[0], max(1, rows - 2) * self._units[1]

    def _request_render(self) -> None:
        if self._dec is None or self.rank is None:
            return
        self._generation += 1
        if not self._active or self.content_size.width < 3 or self.content_size.height < 3:
            self._stale = True
            return
        self._stale = False
        count = self.count if self.summed else 1
        self._render_worker(self._generation, self._dec, self.rank, count, self._pane_px())

    @work(thread=True, exclusive=True, exit_on_error=False, group="components")
    def _render_worker(self, generation: int, dec: Any, rank: int, count: int, size: tuple[int, int]) -> None:
        from core.layers import layer_preview, stretch

        worker = get_current_worker()
        try:
            rank = min(rank, dec.max_rank)
            build = dec.preview(rank, size)
            layers = layer_preview(dec, rank, size, count)
            shown = stretch(layers.values)
            encode = picture_encoder(self._image_cls)
            result = {
                "rank": rank, "count": count, "build": build, "layers": layers, "shown": shown,
                "energy": float(dec.energy(rank)),
                "left": picture(build, self._units, encode), "right": picture(shown, self._units, encode),
            }
        except SvdlensError as exc:
            if not worker.is_cancelled:
                self.post_message(self._Rendered(generation, None, str(exc)))
            return
        except Exception as exc:  # a bug here must not leave the pane silently stale
            if not worker.is_cancelled:
                self.post_message(self._Rendered(generation, None, f"{type(exc).__name__}: {exc}"))
            return
        if not worker.is_cancelled:
            self.post_message(self._Rendered(generation, result))

    @on(_Rendered)
    def _on_rendered(self, message: _Rendered) -> None:
        if message.generation != self._generation:
            return
        self._done_generation = message.generation
        if message.result is None:
            self.query_one("#k-views").display = False
            self.query_one("#k-message").display = True
            self.query_one("#k-message", Static).update(message.error)
            return
        r = message.result
        layers = r["layers"]
        self.query_one("#k-message").display = False
        self.query_one("#k-views").display = True
        set_picture(self.query_one("#k-left-image"), r["left"], self._units)
        set_picture(self.query_one("#k-right-image"), r["right"], self._units)
        room = max(10, (self.content_size.width - 1) // 2)
        # Most important first: what does not fit a narrow pane is left out.
        r["left_label"] = fit([f"rank {r['rank']}", f"{r['energy'] * 100:.3f} % energy", f"layers 1…{r['rank']}"],
                              room)
        share = _percent(layers.energy_share)
        if layers.first == layers.last:
            n = _sub(layers.last)
            r["right_label"] = fit([f"layer {layers.last}", f"{share} of the energy", f"σ{n}u{n}v{n}ᵀ"], room)
        else:
            r["right_label"] = fit([f"layers {layers.first}…{layers.last}", f"{share} of the energy"], room)
        self.query_one("#k-left-label", Static).update(r["left_label"])
        self.query_one("#k-right-label", Static).update(r["right_label"])
        self.last = r
        self._update_status()

    def _update_status(self) -> None:
        what = f"last {self.count} layers" if self.summed else "one layer"
        if self.playing:
            parts = ["playing the build-up: rank 1 → 2 → …", "any key stops"]
        else:
            parts = [f"right: {what}, stretched (grey = 0)", "space plays 1 → 2 → …", "s layer/last k",
                     f"n k={self.count}"]
        self.query_one("#k-status", Static).update(fit(parts, self.content_size.width or 80))


_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _sub(n: int) -> str:
    return str(n).translate(_SUBSCRIPTS)


def _percent(share: float) -> str:
    """An energy share readable from 90 % down to a few parts per million."""
    p = share * 100
    if p >= 1:
        return f"{p:.2f} %"
    if p >= 0.01:
        return f"{p:.3f} %"
    return f"{p:.2g} %" if p > 0 else "0 %"
