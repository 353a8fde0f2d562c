"""PreviewPane: the original beside the rank-r image, a single large view and an error map,
with zoom, pan and an A/B flip, drawn by textual-image.

The widget only keeps view state and puts pictures on screen: geometry.py says what region a
zoom shows, render.py makes the pictures and error numbers in one thread worker per render,
and terminal.py picks the textual-image widget for the protocol. The UI thread only hands an
image already shrunk to the pane to those widgets, because they rebuild it on every refresh.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from PIL import Image as PILImage
from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static
from textual.worker import get_current_worker

from core.errors import SvdlensError

from .errormap import DEFAULT_GAIN, GAINS
from .. import keys
from ..keys import pane_hint
from .geometry import (
    VIEWS,
    ZOOM_STEPS,
    Region,
    centre_keeping_point,
    minimap,
    pane_pixels,
    panned_centre,
    picture_to_image,
    step_zoom,
    view_region,
    zoom_levels,
    zoom_scale,
    zoom_text,
)
from .render import (
    ErrorStats,
    OriginalCache,
    Render,
    RenderJob,
    apply_error,
    main_size_smaller,
    measure_error,
    render_images,
)
from ..choices import PROTOCOLS
from .terminal import display_units, image_class, picture_encoder


PREVIEW_GROUP = "preview"  # the worker group of every render (the app waits on it to be idle)


class PreviewPane(Widget, can_focus=True):
    """Original and rank-r previews with zoom, pan, A/B flip and an error map.

    Keys while focused: ] [ zoom in/out (fit, 1:32 … 1:1 … 4:1), 0 fit, arrows or hjkl pan
    (shift or HJKL: four times further), m centre on the largest error (1:1 from fit),
    v cycle views, f A/B flip, g error-map gain. Mouse: a click centres there (1:1 from fit),
    the wheel zooms about the pointer. The app drives it with show(), clear(), cycle_view(),
    toggle_flip() and the `view`, `zoom`, `flipped` reactives, and hears PreviewPane.Updated.
    """

    DEFAULT_CSS = """
    PreviewPane {
        layout: vertical;
        width: 1fr;
        height: 1fr;
    }
    PreviewPane #pp-views { height: 1fr; }
    PreviewPane .pp-col { width: 1fr; height: 100%; align: center middle; }
    PreviewPane #pp-left { margin-right: 1; }
    PreviewPane .pp-label { width: 100%; height: 1; text-align: center; text-style: bold; }
    PreviewPane .pp-image { width: auto; height: auto; }
    PreviewPane #pp-message { height: 1fr; width: 100%; content-align: center middle; color: $text-muted; }
    PreviewPane #pp-status { height: 1; width: 100%; color: $text-muted; }
    PreviewPane:focus #pp-status { background: $accent 25%; color: $text; }
    """

    # ---- keys: declared once in tui/keys.py (help screen, hints and bindings agree) -----------
    # Each action names one of the public methods below (see the action_* aliases).
    BINDINGS = keys.bindings("preview")

    view: reactive[str] = reactive("side", init=False)
    zoom: reactive[str] = reactive("fit", init=False)
    flipped: reactive[bool] = reactive(False, init=False)
    gain: reactive[int] = reactive(DEFAULT_GAIN, init=False)

    @dataclass
    class Updated(Message):
        """Posted once a render is on screen and its error measured (on the UI thread)."""

        view: str
        zoom: str
        region: Region
        # Largest |original − reconstruction| (mean over channels) as a share of full scale
        # over the visible region, and where it is (x, y image pixels); error_resolution says
        # whether every image pixel ("full") or only the shown pixels ("preview") were compared.
        max_error: float
        max_error_at: tuple[int, int]
        rank: Any = None
        error_resolution: str = "preview"
        # PSNR (dB, 8-bit) over every image pixel of the visible region; None where only
        # shrunk previews were compared (the fit view of a large photo).
        region_psnr_db: float | None = None

    # What the render worker posts to the pane itself (from its thread).
    @dataclass
    class _Rendered(Message, bubble=False):
        render: Render

    @dataclass
    class _Measured(Message, bubble=False):
        generation: int
        stats: ErrorStats

    @dataclass
    class _Failed(Message, bubble=False):
        generation: int
        text: str

    def __init__(
        self,
        protocol: str = "auto",
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown preview protocol {protocol!r}: use one of {', '.join(PROTOCOLS)}")
        super().__init__(name=name, id=id, classes=classes)
        self.protocol = protocol
        self._image_cls = image_class(protocol)
        self._units = display_units(protocol)
        self._decomposition: Any = None
        self._rank: Any = None
        self._original_cache = OriginalCache()
        self._centre: tuple[float, float] = (0.0, 0.0)
        self._generation = 0
        self._done_generation = 0  # the newest render that reached the screen, or failed
        self._render_deferred = False  # a render waits for the first layout
        self.last_error: str | None = None
        self._resize_timer = None
        self._render_lock = threading.Lock()
        self.last_render: Render | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="pp-views"):
            with Vertical(id="pp-left", classes="pp-col"):
                yield Static("", id="pp-left-label", classes="pp-label", markup=False)
                yield self._image_cls(id="pp-left-image", classes="pp-image")
            with Vertical(id="pp-right", classes="pp-col"):
                yield Static("", id="pp-right-label", classes="pp-label", markup=False)
                yield self._image_cls(id="pp-right-image", classes="pp-image")
        yield Static("", id="pp-message", markup=False)
        yield Static("", id="pp-status", markup=False)

    def on_mount(self) -> None:
        self.query_one("#pp-views").display = False
        self.query_one("#pp-message", Static).update("no image yet")

    # ---- public API ----------------------------------------------------------------
    def show(self, decomposition: Any, rank: Any) -> None:
        """Render `decomposition` at `rank` (call on the UI thread after every change)."""
        if decomposition is not self._decomposition:
            old = self._decomposition
            self._original_cache = OriginalCache()
            if old is None or (old.width, old.height) != (decomposition.width, decomposition.height):
                self._centre = (decomposition.width / 2, decomposition.height / 2)
                # Another photo: start from the whole of it, showing the reconstruction.
                self.set_reactive(PreviewPane.zoom, "fit")
                self.set_reactive(PreviewPane.flipped, False)
            self._decomposition = decomposition
        self._rank = rank
        self._request_render()

    def clear(self, message: str = "") -> None:
        """Show a text instead of images; renders still in flight are dropped."""
        self._generation += 1
        self._render_deferred = False
        self._decomposition = None
        self._rank = None
        self._original_cache = OriginalCache()
        self.last_render = None
        self._show_message(message)

    def cycle_view(self) -> None:
        self.view = VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)]

    def toggle_flip(self) -> None:
        self.flipped = not self.flipped

    def cycle_gain(self) -> None:
        """The next error-map gain (×1 … ×32, then ×1 again)."""
        self.gain = GAINS[(GAINS.index(self.gain) + 1) % len(GAINS)] if self.gain in GAINS else DEFAULT_GAIN

    def zoom_in(self) -> None:
        self.zoom = step_zoom(self._levels(), self.zoom, +1)

    def zoom_out(self) -> None:
        self.zoom = step_zoom(self._levels(), self.zoom, -1)

    def zoom_fit(self) -> None:
        self.zoom = "fit"

    def pan(self, dx: float, dy: float) -> None:
        """Move the view by dx, dy steps of 1/8 of the visible width and height."""
        dec = self._decomposition
        if dec is None or self.zoom == "fit":
            return
        region, _, _ = self._geometry()
        self._centre = panned_centre(self._centre, region, dx, dy)
        _, _, self._centre = self._geometry()
        if self._geometry()[0] != region:
            self._request_render()

    def go_to_worst(self) -> None:
        """Centre the view on the largest error of the last render, at 1:1 when at fit."""
        render = self.last_render
        if render is None or render.max_error_at is None:
            return
        self._centre_on((render.max_error_at[0] + 0.5, render.max_error_at[1] + 0.5))

    def _centre_on(self, point: tuple[float, float]) -> None:
        """Centre the view on an image point; from fit, also zoom to 1:1 (where 1:1 shows more)."""
        self._centre = point
        if self.zoom == "fit" and "1:1" in self._levels():
            self.zoom = "1:1"  # the watcher renders
        else:
            _, _, self._centre = self._geometry()
            self._request_render()

    def image_point(self, screen_x: int, screen_y: int) -> tuple[float, float] | None:
        """The image coordinates (x, y) under a screen cell, or None off the pictures."""
        render = self.last_render
        if render is None:
            return None
        for selector, pixels in (("#pp-right-image", render.main), ("#pp-left-image", render.left)):
            widget = self.query_one(selector)
            if pixels is None or not widget.parent.display or not widget.content_region.contains(screen_x, screen_y):
                continue
            box = widget.content_region
            ux, uy = self._units
            point = ((screen_x - box.x + 0.5) * ux, (screen_y - box.y + 0.5) * uy)
            return picture_to_image(point, (pixels.shape[1], pixels.shape[0]), render.region)
        return None

    def _zoom_about(self, point: tuple[float, float], zoom: str) -> None:
        """Change zoom keeping the image point under the mouse where it is on screen."""
        dec = self._decomposition
        if dec is None or zoom == self.zoom:
            return
        region, _, _ = self._geometry()
        self._centre = centre_keeping_point(region, point, self._scale(self.zoom), self._scale(zoom))
        self.zoom = zoom

    def _scale(self, zoom: str) -> float:
        dec = self._decomposition
        return zoom_scale(zoom, (dec.width, dec.height), self._pane_px())

    def on_click(self, event: events.Click) -> None:
        # A click centres the view on that spot; from fit it also zooms to 1:1 there.
        point = self.image_point(event.screen_x, event.screen_y)
        if point is None:
            return
        event.stop()
        self._centre_on(point)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._scroll_zoom(event, +1)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._scroll_zoom(event, -1)

    def _scroll_zoom(self, event: events.MouseEvent, step: int) -> None:
        point = self.image_point(event.screen_x, event.screen_y)
        if point is None:
            return
        event.stop()
        self._zoom_about(point, step_zoom(self._levels(), self.zoom, step))

    @property
    def image_region(self) -> Region | None:
        """The image region shown now (None before the first image)."""
        return None if self._decomposition is None else self._geometry()[0]

    @property
    def render_pending(self) -> bool:
        """True from a show() or view change until its render reaches the screen."""
        if self._decomposition is None:
            return False
        return self._render_deferred or self._done_generation != self._generation

    # ---- actions: the key bindings run the public methods themselves ---------------
    action_zoom_in = zoom_in
    action_zoom_out = zoom_out
    action_zoom_fit = zoom_fit
    action_pan = pan
    action_go_to_worst = go_to_worst
    action_cycle_view = cycle_view
    action_toggle_flip = toggle_flip
    action_cycle_gain = cycle_gain

    # ---- reactives -----------------------------------------------------------------
    def validate_view(self, view: str) -> str:
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}: use one of {', '.join(VIEWS)}")
        return view

    def validate_zoom(self, zoom: str) -> str:
        if zoom != "fit" and zoom not in ZOOM_STEPS:
            raise ValueError(f"unknown zoom {zoom!r}: use fit or one of {', '.join(ZOOM_STEPS)}")
        return zoom

    def watch_view(self) -> None:
        self._request_render()

    def watch_zoom(self) -> None:
        if self._decomposition is not None:
            _, _, self._centre = self._geometry()
        self._request_render()

    def watch_flipped(self) -> None:
        self._request_render()

    def watch_gain(self) -> None:
        if self.view == "error":
            self._request_render()

    def on_resize(self) -> None:
        # Terminal resizes arrive in bursts: render once they settle, at the new size.
        if self._resize_timer is not None:
            self._resize_timer.stop()
        self._resize_timer = self.set_timer(0.1, self._request_render)

    # ---- geometry ------------------------------------------------------------------
    def _pane_px(self, view: str | None = None) -> tuple[int, int]:
        """Display pixels available to one image in the given view."""
        return pane_pixels(self.content_size.width, self.content_size.height, view or self.view, self._units)

    def _levels(self) -> list[str]:
        dec = self._decomposition
        if dec is None:
            return ["fit", *ZOOM_STEPS]
        return zoom_levels((dec.width, dec.height), self._pane_px())

    def _geometry(self) -> tuple[Region, tuple[int, int], tuple[float, float]]:
        dec = self._decomposition
        return view_region((dec.width, dec.height), self._pane_px(), self.zoom, self._centre)

    # ---- rendering -----------------------------------------------------------------
    def _request_render(self) -> None:
        if self._decomposition is None:
            return
        if not self.is_mounted or self.content_size.width < 3 or self.content_size.height < 3:
            self._render_deferred = True  # not laid out yet: the first resize renders
            return
        self._render_deferred = False
        self._generation += 1
        region, out_size, _ = self._geometry()
        job = RenderJob(
            generation=self._generation,
            decomposition=self._decomposition,
            rank=self._rank,
            view=self.view,
            flipped=self.flipped,
            zoom=self.zoom,
            gain=self.gain,
            region=region,
            out_size=out_size,
            units=self._units,
            original_cache=self._original_cache,
            prepare_picture=picture_encoder(self._image_cls),
        )
        self._update_status(region)
        self._render_worker(job)

    @work(thread=True, exclusive=True, exit_on_error=False, group=PREVIEW_GROUP)
    def _render_worker(self, job: RenderJob) -> None:
        worker = get_current_worker()
        try:
            # One render at a time per pane: a superseded worker still running (threads cannot
            # be stopped) finishes its step first instead of racing the new one through the
            # decomposition's caches.
            with self._render_lock:
                if worker.is_cancelled:
                    return
                render = render_images(job)
            if worker.is_cancelled:
                return
            self.post_message(self._Rendered(render))
            if render.max_error is not None:
                return
            # Pictures first; the error measurement (possibly over every image pixel) follows.
            with self._render_lock:
                if worker.is_cancelled:
                    return
                stats = measure_error(job, render.original, render.reconstruction)
        except SvdlensError as exc:
            if not worker.is_cancelled:
                self.post_message(self._Failed(job.generation, str(exc)))
            return
        except Exception as exc:  # a bug here must not leave the pane silently stale
            if not worker.is_cancelled:
                self.post_message(self._Failed(job.generation, f"preview failed: {type(exc).__name__}: {exc}"))
            return
        if not worker.is_cancelled:
            self.post_message(self._Measured(job.generation, stats))

    @on(_Rendered)
    def _on_rendered(self, message: _Rendered) -> None:
        render = message.render
        if render.generation != self._generation:
            return  # a newer render was asked for: stale results never win
        self.last_error = None
        self.query_one("#pp-message").display = False
        self.query_one("#pp-views").display = True
        left_col = self.query_one("#pp-left")
        left_col.display = render.left_image is not None
        if render.left_image is not None:
            self._set_image("#pp-left-image", render.left_image)
            self.query_one("#pp-left-label", Static).update(render.left_label)
        self._set_image("#pp-right-image", render.main_image)
        self.query_one("#pp-right-label", Static).update(render.main_label)
        self.last_render = render
        self._update_status(render.region)
        if render.max_error is not None:
            self._finish(render)

    @on(_Measured)
    def _on_measured(self, message: _Measured) -> None:
        render = self.last_render
        if render is None or message.generation != self._generation or render.generation != message.generation:
            return
        apply_error(render, message.stats)
        if render.main is render.reconstruction:
            self.query_one("#pp-right-label", Static).update(render.main_label)
        self._finish(render)

    def _finish(self, render: Render) -> None:
        self._done_generation = render.generation
        self._update_status(render.region)
        self.post_message(
            self.Updated(
                render.view,
                render.zoom,
                render.region,
                render.max_error,
                render.max_error_at,
                rank=render.rank,
                error_resolution=render.error_resolution,
                region_psnr_db=render.region_psnr_db,
            )
        )

    @on(_Failed)
    def _on_failed(self, message: _Failed) -> None:
        if message.generation == self._generation:
            self._done_generation = message.generation
            self.last_error = message.text
            self.last_render = None
            self._show_message(message.text)

    def _set_image(self, selector: str, image: PILImage.Image) -> None:
        widget = self.query_one(selector)
        ux, uy = self._units
        # Exact cell counts: the renderer then draws the image pixel for pixel.
        widget.styles.width = image.width // ux
        widget.styles.height = image.height // uy
        widget.image = image

    def _show_message(self, text: str) -> None:
        if not self.is_mounted:
            return
        self.query_one("#pp-views").display = False
        message = self.query_one("#pp-message", Static)
        message.display = True
        message.update(text)
        self.query_one("#pp-status", Static).update("")

    def _error_note(self) -> str:
        render = self.last_render
        if render is None or render.error_resolution is None:
            return f"error ×{self.gain}"
        if render.error_resolution == "preview":
            how = "err of shrunk previews"
        elif main_size_smaller(render.region, render.reconstruction):
            how = "block-mean err, max per px"
        else:
            how = "err per image px"
        return f"{how} ×{self.gain}"

    def _update_status(self, region: Region) -> None:
        dec = self._decomposition
        if dec is None:
            return
        left, top, right, bottom = region
        # Most important first; what does not fit the width is left out.
        parts = [
            zoom_text(self.zoom, self._scale(self.zoom)),
            f"x {left}–{right} / {dec.width}",
            f"y {top}–{bottom} / {dec.height}",
            self._error_note() if self.view == "error" else "",
            f"x {minimap(left, right, dec.width)} y {minimap(top, bottom, dec.height)}",
        ]
        if self.has_focus:
            keys = pane_hint("preview", error_view=self.view == "error")
            parts.append("· " + keys)
        width = self.content_size.width or 80
        text = ""
        for part in filter(None, parts):
            candidate = f"{text}  {part}" if text else part
            if len(candidate) <= width:
                text = candidate
        self.query_one("#pp-status", Static).update(text)

    def watch_has_focus(self, has_focus: bool) -> None:
        super().watch_has_focus(has_focus)
        if self.last_render is not None:
            self._update_status(self.last_render.region)  # key hints show while focused

