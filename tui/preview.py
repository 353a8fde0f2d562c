"""PreviewPane: the original beside the rank-r image, a single large view and an error map,
with zoom, pan and an A/B flip, drawn by textual-image.

All numeric work (crops from the factors, resizing, the error map, PIL images) runs in one
thread worker per render; the UI thread only hands an image already shrunk to the pane to
the textual-image widgets, because they rebuild the picture on every refresh.

Sizes here are in *display pixels*: one half-cell with the half-cell renderer, one terminal
pixel with Sixel or the Terminal Graphics Protocol. Zoom 1:1 is one image pixel per display
pixel.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image as PILImage
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static
from textual.worker import get_current_worker

# Imported at module level on purpose: textual-image probes the terminal at import time,
# which must happen before the app takes over stdin.
import textual_image.renderable as ti_renderable
import textual_image.widget as ti_widget

from core.errors import SvdlensError
from core.render import fit_size

from .errormap import DEFAULT_GAIN, GAINS, abs_error, colourise

Region = tuple[int, int, int, int]  # left, top, right, bottom in image pixels

PROTOCOLS = ("auto", "sixel", "tgp", "halfcell", "unicode")
VIEWS = ("side", "single", "error")
ZOOM_STEPS: dict[str, float] = {
    "1:32": 1 / 32,
    "1:16": 1 / 16,
    "1:8": 1 / 8,
    "1:4": 1 / 4,
    "1:2": 1 / 2,
    "1:1": 1.0,
    "2:1": 2.0,
    "4:1": 4.0,
}
# Regions up to this many pixels get their error measured per image pixel (one more crop product).
FULL_RES_ERROR_PIXELS = 1 << 19
# Crops larger than this are shrunk for the original view by OpenCV (see original_preview).
FAST_ORIGINAL_PIXELS = 1 << 18
PAN_STEP = 1 / 8  # of the visible width or height; shift pans four steps
PAD_RGB = (0, 0, 0)
_MINIMAP_CELLS = 12


# ---- Sixel: encode in the worker, not on the UI thread --------------------------------
# textual-image encodes Sixel data while painting (about 0.25 s for a 640×430 photo, in
# Python), which would freeze the UI on every rank change. The worker encodes the same
# picture beforehand; the widget finds it by content. These are textual-image internals,
# so anything missing falls back to the stock widget.
try:
    from textual_image._sixel import image_to_sixels as _encode_sixels
    from textual_image.widget.sixel import _ImageSixelImpl
except ImportError:  # pragma: no cover - depends on the textual-image version
    _encode_sixels = None
    _ImageSixelImpl = None


class _SixelCache:
    def __init__(self, entries: int = 8) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple, str] = OrderedDict()
        self._entries = entries

    @staticmethod
    def _key(image: PILImage.Image, options: Any) -> tuple:
        digest = hashlib.blake2b(image.tobytes(), digest_size=16).digest()
        return image.mode, image.size, options, digest

    def encode(self, image: PILImage.Image, options: Any = None) -> None:
        if _encode_sixels is None or "A" in image.getbands():
            return  # without alpha the background colour plays no part, so content is the key
        data = _encode_sixels(image, options)
        with self._lock:
            self._items[self._key(image, options)] = data
            while len(self._items) > self._entries:
                self._items.popitem(last=False)

    def get(self, image: PILImage.Image, options: Any = None) -> str | None:
        if "A" in image.getbands():
            return None
        with self._lock:
            return self._items.get(self._key(image, options))


SIXELS = _SixelCache()

if _ImageSixelImpl is not None:

    class _WorkerEncodedSixels(_ImageSixelImpl):
        def _image_to_sixels(self, image, sixel_options=None, background=None) -> str:
            cached = SIXELS.get(image, sixel_options)
            return cached if cached is not None else super()._image_to_sixels(image, sixel_options, background)

    class WorkerSixelImage(ti_widget.SixelImage, Renderable=ti_widget.SixelImage._Renderable):
        """SixelImage that uses Sixel data the preview worker encoded already."""

        def compose(self) -> ComposeResult:
            yield _WorkerEncodedSixels(self.image, self._sixel_options)

else:  # pragma: no cover
    WorkerSixelImage = ti_widget.SixelImage


def _image_class(protocol: str) -> type:
    if protocol == "sixel" or (protocol == "auto" and ti_widget.Image is ti_widget.SixelImage):
        return WorkerSixelImage
    return {
        "auto": ti_widget.Image,
        "tgp": ti_widget.TGPImage,
        "halfcell": ti_widget.HalfcellImage,
        "unicode": ti_widget.UnicodeImage,
    }[protocol]


def _terminal_cell_pixels() -> tuple[int, int]:
    try:
        from textual_image._terminal import get_cell_size  # cached probe result, no I/O here

        cell = get_cell_size()
        if cell.width > 0 and cell.height > 0:
            return int(cell.width), int(cell.height)
    except Exception:  # a private helper: fall back rather than fail
        pass
    return 10, 20


def display_units(protocol: str) -> tuple[int, int]:
    """Display pixels per terminal cell (x, y) for a protocol.

    Half-cell blocks give 1×2. The Unicode renderer draws one pixel per cell, but an image
    made at 1×2 keeps its aspect ratio when it squeezes it. Sixel and TGP draw real terminal
    pixels: the cell's pixel size as textual-image measured it.
    """
    if protocol == "auto":
        if ti_widget.Image is ti_widget.SixelImage:
            protocol = "sixel"
        elif ti_renderable.Image is ti_renderable.TGPImage:
            protocol = "tgp"
        elif ti_renderable.Image is ti_renderable.HalfcellImage:
            protocol = "halfcell"
        else:
            protocol = "unicode"
    if protocol in ("sixel", "tgp"):
        return _terminal_cell_pixels()
    return 1, 2


# ---- view geometry (pure, tested directly) -------------------------------------------


def fit_scale(image_size: tuple[int, int], pane_px: tuple[int, int]) -> float:
    """Display pixels per image pixel when the whole image fits the pane."""
    return min(pane_px[0] / image_size[0], pane_px[1] / image_size[1])


def zoom_levels(image_size: tuple[int, int], pane_px: tuple[int, int]) -> list[str]:
    """"fit", then every fixed zoom that shows more detail than fit does."""
    fit = fit_scale(image_size, pane_px)
    return ["fit"] + [name for name, s in ZOOM_STEPS.items() if s > fit * 1.001]


def view_region(
    image_size: tuple[int, int], pane_px: tuple[int, int], zoom: str, centre: tuple[float, float]
) -> tuple[Region, tuple[int, int], tuple[float, float]]:
    """The image region a zoom shows around a centre, the size to render it at, and the centre
    after clamping the region to the image (so panning past an edge stops at the edge)."""
    width, height = image_size
    if zoom == "fit":
        return (0, 0, width, height), (max(1, pane_px[0]), max(1, pane_px[1])), centre
    scale = ZOOM_STEPS[zoom]
    region_w = max(1, min(width, int(pane_px[0] / scale)))
    region_h = max(1, min(height, int(pane_px[1] / scale)))
    left = min(max(int(round(centre[0] - region_w / 2)), 0), width - region_w)
    top = min(max(int(round(centre[1] - region_h / 2)), 0), height - region_h)
    out = (
        max(1, min(pane_px[0], round(region_w * scale))),
        max(1, min(pane_px[1], round(region_h * scale))),
    )
    return (left, top, left + region_w, top + region_h), out, (left + region_w / 2, top + region_h / 2)


def minimap(start: int, end: int, total: int, cells: int = _MINIMAP_CELLS) -> str:
    """A one-line bar: where [start, end) lies in [0, total)."""
    a = min(cells - 1, int(start * cells / total))
    b = max(a + 1, math.ceil(end * cells / total))
    return "·" * a + "█" * (b - a) + "·" * (cells - b)


def rank_text(rank: Any) -> str:
    if isinstance(rank, (int, np.integer)):
        return str(int(rank))
    return "/".join(str(int(r)) for r in rank)


# ---- rendering (runs in the worker) --------------------------------------------------


@dataclass(frozen=True)
class _Job:
    generation: int
    decomposition: Any
    rank: Any
    view: str
    flipped: bool
    zoom: str
    gain: int
    region: Region
    out_size: tuple[int, int]
    units: tuple[int, int]
    original_cache: "_OriginalCache"
    sixel: bool = False  # encode the pictures for the Sixel widget here, off the UI thread


@dataclass
class Render:
    """One finished render: what each pane shows, and what was measured."""

    generation: int
    rank: Any
    view: str
    zoom: str
    flipped: bool
    gain: int
    region: Region
    left: np.ndarray | None  # uint8 pixels in the left pane (side-by-side only)
    main: np.ndarray  # uint8 pixels in the right pane / the single pane
    left_label: str
    main_label: str
    original: np.ndarray  # the two previews of the region, uint8
    reconstruction: np.ndarray
    # Largest |original − reconstruction| (mean over channels), share of full scale; None until measured.
    max_error: float | None = None
    max_error_at: tuple[int, int] | None = None  # (x, y) in image pixels
    error_resolution: str | None = None  # "full": every image pixel of the region; "preview": the shrunk previews
    region_psnr_db: float | None = None  # PSNR over every image pixel of the region, where measured so
    left_image: PILImage.Image | None = None
    main_image: PILImage.Image | None = None

    def set_error(self, stats: ErrorStats) -> None:
        self.max_error, self.max_error_at = stats.max_error, stats.at
        self.error_resolution, self.region_psnr_db = stats.resolution, stats.psnr_db


class _OriginalCache:
    """Shrunk crops of the original, per (size, region), for one decomposition.

    The original never changes with rank, so a rank change costs only the reconstruction.
    A lock makes overlapping workers (a cancelled one still running) share one computation.
    """

    def __init__(self, entries: int = 24) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._entries = entries

    def get(self, decomposition: Any, size: tuple[int, int], region: Region) -> np.ndarray:
        key = (size, region)
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                hit = original_preview(decomposition, size, region)
                self._items[key] = hit
                while len(self._items) > self._entries:
                    self._items.popitem(last=False)
            return hit


def original_preview(decomposition: Any, size: tuple[int, int], region: Region) -> np.ndarray:
    """decomposition.original_preview(size, region), with large shrinks done by OpenCV.

    OpenCV's INTER_AREA is the same area average (the tests compare the two), and faster where
    a pan step needs a new original: a 632×768 crop shrunk to 79×96 (1:8 on a 160×50 terminal)
    took 46 ms in core and 1 ms in OpenCV, on a busy 2-core machine.
    """
    left, top, right, bottom = region
    crop_w, crop_h = right - left, bottom - top
    out_w, out_h = fit_size(crop_w, crop_h, size)
    if (out_w, out_h) == (crop_w, crop_h):  # 1:1: the crop itself, quantised as core does
        crop = decomposition.image[top:bottom, left:right]
        return np.clip(np.rint(crop * 255.0), 0, 255).astype(np.uint8)
    if crop_w * crop_h > FAST_ORIGINAL_PIXELS and out_w < crop_w and out_h < crop_h:
        import cv2

        crop = decomposition.image[top:bottom, left:right]
        small = cv2.resize(crop, (out_w, out_h), interpolation=cv2.INTER_AREA)
        return np.clip(np.rint(small * 255.0), 0, 255).astype(np.uint8)
    return decomposition.original_preview(size, region)


def _cached_original(job: _Job, size: tuple[int, int], region: Region) -> np.ndarray:
    return job.original_cache.get(job.decomposition, size, region)


def _to_pil(pixels: np.ndarray, units: tuple[int, int]) -> PILImage.Image:
    """PIL image padded to whole terminal cells, so the renderer never resamples it."""
    ux, uy = units
    h, w = pixels.shape[:2]
    ph, pw = -h % uy, -w % ux
    if ph or pw:
        if pixels.ndim == 2:
            pixels = np.pad(pixels, ((0, ph), (0, pw)), constant_values=PAD_RGB[0])
        else:
            padded = np.empty((h + ph, w + pw, 3), dtype=np.uint8)
            padded[...] = PAD_RGB
            padded[:h, :w] = pixels
            pixels = padded
    return PILImage.fromarray(np.ascontiguousarray(pixels))


@dataclass(frozen=True)
class ErrorStats:
    """What measure_error() found (immutable: it crosses from the worker to the UI thread)."""

    map: np.ndarray  # |original − reconstruction| at the picture's size, share of full scale
    max_error: float  # the largest, share of full scale
    at: tuple[int, int]  # where, (x, y) in image pixels
    resolution: str  # "full": every image pixel of the region; "preview": the shrunk previews
    psnr_db: float | None  # PSNR over every image pixel of the region (8-bit); None for "preview"


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2)) / 255.0**2
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def measure_error(job: _Job, original: np.ndarray, reconstruction: np.ndarray) -> ErrorStats:
    """The error map at the picture's size, the largest error and where it is, and the region's PSNR.

    Where the view shrinks a region of at most FULL_RES_ERROR_PIXELS, the error is taken per
    image pixel and its mean is shown per display pixel, so fine detail lost by the rank (which
    averages out in shrunk previews) still shows, and the largest error is exact. Larger
    regions (the fit view of a big photo) compare the two previews instead.
    """
    left, top, right, bottom = job.region
    crop_w, crop_h = right - left, bottom - top
    out_h, out_w = reconstruction.shape[:2]
    if (out_w < crop_w or out_h < crop_h) and crop_w * crop_h <= FULL_RES_ERROR_PIXELS:
        full_original = _cached_original(job, (crop_w, crop_h), job.region)
        full_reconstruction = job.decomposition.preview(job.rank, (crop_w, crop_h), job.region)
        full = abs_error(full_original, full_reconstruction)
        y, x = divmod(int(np.argmax(full)), crop_w)
        import cv2  # well-kept area averaging; only needed on this path

        shown = cv2.resize(full, (out_w, out_h), interpolation=cv2.INTER_AREA)
        psnr = _psnr(full_original, full_reconstruction)
        return ErrorStats(shown, float(full[y, x]), (left + x, top + y), "full", psnr)
    error = abs_error(original, reconstruction)
    py, px = divmod(int(np.argmax(error)), out_w)
    if out_w >= crop_w and out_h >= crop_h:
        # Zoomed to 1:1 or past it: each shown pixel is one image pixel, repeated.
        x, y = (px * crop_w) // out_w, (py * crop_h) // out_h
        psnr = _psnr(original, reconstruction)
        return ErrorStats(error, float(error[py, px]), (left + x, top + y), "full", psnr)
    # The preview pixel's centre, in image coordinates.
    at = (
        min(right - 1, left + int((px + 0.5) * crop_w / out_w)),
        min(bottom - 1, top + int((py + 0.5) * crop_h / out_h)),
    )
    return ErrorStats(error, float(error[py, px]), at, "preview", None)


def rank_label(rank: str, psnr_db: float | None) -> str:
    if psnr_db is None:
        return f"rank {rank}"
    return f"rank {rank} · {'∞' if math.isinf(psnr_db) else format(psnr_db, '.1f')} dB here"


def main_size_smaller(region: Region, pixels: np.ndarray) -> bool:
    return pixels.shape[1] < region[2] - region[0] or pixels.shape[0] < region[3] - region[1]


def render_images(job: _Job) -> Render:
    """The pictures of a view. The error is measured here only when the error view needs it;
    otherwise measure_render() does it afterwards, so the pictures show first."""
    dec = job.decomposition
    region = job.region
    rank = rank_text(job.rank)
    original = _cached_original(job, job.out_size, region)
    reconstruction = dec.preview(job.rank, job.out_size, region)
    flip_note = f" · flipped from rank {rank}"
    left_pixels = None
    left_label = ""
    measured = None
    if job.view == "side":
        left_pixels, left_label = original, "ORIGINAL"
        main, label = (original, "ORIGINAL" + flip_note) if job.flipped else (reconstruction, f"rank {rank}")
    elif job.view == "single":
        main, label = (original, "ORIGINAL" + flip_note) if job.flipped else (reconstruction, f"rank {rank}")
    else:
        measured = measure_error(job, original, reconstruction)
        if job.flipped:
            main, label = original, "ORIGINAL · flipped from the error map"
        else:
            main = colourise(measured.map, job.gain)
            at = measured.at
            label = f"|original − rank {rank}| ×{job.gain}  max {measured.max_error * 255:.0f}/255 at ({at[0]}, {at[1]})"
    render = Render(
        generation=job.generation,
        rank=job.rank,
        view=job.view,
        zoom=job.zoom,
        flipped=job.flipped,
        gain=job.gain,
        region=region,
        left=left_pixels,
        main=main,
        left_label=left_label,
        main_label=label,
        original=original,
        reconstruction=reconstruction,
    )
    if measured is not None:
        render.set_error(measured)
    render.left_image = None if left_pixels is None else _to_pil(left_pixels, job.units)
    render.main_image = _to_pil(main, job.units)
    if job.sixel:
        for image in (render.left_image, render.main_image):
            if image is not None:
                SIXELS.encode(image)
    return render


def measure_render(job: _Job, render: Render) -> None:
    """Fill in the largest error of a render (no-op when render_images already did)."""
    if render.max_error is None:
        render.set_error(measure_error(job, render.original, render.reconstruction))
        if render.main is render.reconstruction:
            render.main_label = rank_label(rank_text(render.rank), render.region_psnr_db)


def render_job(job: _Job) -> Render:
    render = render_images(job)
    measure_render(job, render)
    return render


# ---- the widget ------------------------------------------------------------------------


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

    BINDINGS = [
        Binding("right_square_bracket", "zoom_in", "zoom in", key_display="]"),
        Binding("left_square_bracket", "zoom_out", "zoom out", key_display="["),
        Binding("0", "zoom_fit", "fit"),
        Binding("left,h", "pan(-1, 0)", "pan", show=False),
        Binding("right,l", "pan(1, 0)", "pan", show=False),
        Binding("up,k", "pan(0, -1)", "pan", show=False),
        Binding("down,j", "pan(0, 1)", "pan", show=False),
        Binding("shift+left,H", "pan(-4, 0)", "pan more", show=False),
        Binding("shift+right,L", "pan(4, 0)", "pan more", show=False),
        Binding("shift+up,K", "pan(0, -4)", "pan more", show=False),
        Binding("shift+down,J", "pan(0, 4)", "pan more", show=False),
        Binding("m", "go_to_worst", "worst error"),
        Binding("v", "cycle_view", "view", show=False),
        Binding("f", "toggle_flip", "A/B"),
        Binding("g", "cycle_gain", "error gain", show=False),
    ]

    view: reactive[str] = reactive("side", init=False)
    zoom: reactive[str] = reactive("fit", init=False)
    flipped: reactive[bool] = reactive(False, init=False)
    gain: reactive[int] = reactive(DEFAULT_GAIN, init=False)

    class Updated(Message):
        """Posted once a render is on screen and its error measured (on the UI thread)."""

        def __init__(
            self,
            view: str,
            zoom: str,
            region: Region,
            max_error: float,
            max_error_at: tuple[int, int],
            rank: Any = None,
            error_resolution: str = "preview",
            region_psnr_db: float | None = None,
        ) -> None:
            super().__init__()
            self.view = view
            self.zoom = zoom
            self.region = region
            # Largest |original − reconstruction| (mean over channels) as a share of full scale
            # over the visible region, and where it is (x, y image pixels); error_resolution says
            # whether every image pixel ("full") or only the shown pixels ("preview") were compared.
            self.max_error = max_error
            self.max_error_at = max_error_at
            self.rank = rank
            self.error_resolution = error_resolution
            # PSNR (dB, 8-bit) over every image pixel of the visible region; None where only
            # shrunk previews were compared (the fit view of a large photo).
            self.region_psnr_db = region_psnr_db

    class _Rendered(Message, bubble=False):
        def __init__(self, render: Render) -> None:
            super().__init__()
            self.render = render

    class _Measured(Message, bubble=False):
        def __init__(self, generation: int, stats: ErrorStats) -> None:
            super().__init__()
            self.generation = generation
            self.stats = stats

    class _Failed(Message, bubble=False):
        def __init__(self, generation: int, text: str) -> None:
            super().__init__()
            self.generation = generation
            self.text = text

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
        self._image_cls = _image_class(protocol)
        self._units = display_units(protocol)
        self._decomposition: Any = None
        self._rank: Any = None
        self._original_cache = _OriginalCache()
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
            self._original_cache = _OriginalCache()
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
        self._original_cache = _OriginalCache()
        self.last_render = None
        self._show_message(message)

    def cycle_view(self) -> None:
        self.view = VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)]

    def toggle_flip(self) -> None:
        self.flipped = not self.flipped

    def zoom_in(self) -> None:
        levels = self._levels()
        i = levels.index(self.zoom) if self.zoom in levels else 0
        self.zoom = levels[min(i + 1, len(levels) - 1)]

    def zoom_out(self) -> None:
        levels = self._levels()
        i = levels.index(self.zoom) if self.zoom in levels else 1
        self.zoom = levels[max(i - 1, 0)]

    def zoom_fit(self) -> None:
        self.zoom = "fit"

    def pan(self, dx: float, dy: float) -> None:
        """Move the view by dx, dy steps of 1/8 of the visible width and height."""
        dec = self._decomposition
        if dec is None or self.zoom == "fit":
            return
        region, _, _ = self._geometry()
        step_x = max(1, round((region[2] - region[0]) * PAN_STEP))
        step_y = max(1, round((region[3] - region[1]) * PAN_STEP))
        self._centre = (self._centre[0] + dx * step_x, self._centre[1] + dy * step_y)
        _, _, self._centre = self._geometry()
        if self._geometry()[0] != region:
            self._request_render()

    def go_to_worst(self) -> None:
        """Centre the view on the largest error of the last render, at 1:1 when at fit."""
        render = self.last_render
        if render is None or render.max_error_at is None:
            return
        self._centre = (render.max_error_at[0] + 0.5, render.max_error_at[1] + 0.5)
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
            px, py = (screen_x - box.x + 0.5) * ux, (screen_y - box.y + 0.5) * uy
            h, w = pixels.shape[:2]
            if px >= w or py >= h:
                return None  # the padding below or beside the picture
            left, top, right, bottom = render.region
            return left + px * (right - left) / w, top + py * (bottom - top) / h
        return None

    def _zoom_about(self, point: tuple[float, float], zoom: str) -> None:
        """Change zoom keeping the image point under the mouse where it is on screen."""
        dec = self._decomposition
        if dec is None or zoom == self.zoom:
            return
        region, _, _ = self._geometry()
        old = self._scale(self.zoom)
        centre = ((region[0] + region[2]) / 2, (region[1] + region[3]) / 2)
        ratio = old / self._scale(zoom)
        self._centre = (point[0] + (centre[0] - point[0]) * ratio, point[1] + (centre[1] - point[1]) * ratio)
        self.zoom = zoom

    def _scale(self, zoom: str) -> float:
        dec = self._decomposition
        return fit_scale((dec.width, dec.height), self._pane_px()) if zoom == "fit" else ZOOM_STEPS[zoom]

    def on_click(self, event: events.Click) -> None:
        # A click centres the view on that spot; from fit it also zooms to 1:1 there.
        point = self.image_point(event.screen_x, event.screen_y)
        if point is None:
            return
        event.stop()
        self._centre = point
        if self.zoom == "fit" and "1:1" in self._levels():
            self.zoom = "1:1"
        else:
            _, _, self._centre = self._geometry()
            self._request_render()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._scroll_zoom(event, +1)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._scroll_zoom(event, -1)

    def _scroll_zoom(self, event: events.MouseEvent, step: int) -> None:
        point = self.image_point(event.screen_x, event.screen_y)
        if point is None:
            return
        event.stop()
        levels = self._levels()
        i = levels.index(self.zoom) if self.zoom in levels else 0
        self._zoom_about(point, levels[max(0, min(len(levels) - 1, i + step))])

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

    # ---- actions -------------------------------------------------------------------
    def action_zoom_in(self) -> None:
        self.zoom_in()

    def action_zoom_out(self) -> None:
        self.zoom_out()

    def action_zoom_fit(self) -> None:
        self.zoom_fit()

    def action_pan(self, dx: float, dy: float) -> None:
        self.pan(dx, dy)

    def action_go_to_worst(self) -> None:
        self.go_to_worst()

    def action_cycle_view(self) -> None:
        self.cycle_view()

    def action_toggle_flip(self) -> None:
        self.toggle_flip()

    def action_cycle_gain(self) -> None:
        self.gain = GAINS[(GAINS.index(self.gain) + 1) % len(GAINS)] if self.gain in GAINS else DEFAULT_GAIN

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
        cols, rows = self.content_size.width, self.content_size.height
        image_rows = max(1, rows - 2)  # a label row above, the status row below
        image_cols = max(1, (cols - 1) // 2) if (view or self.view) == "side" else max(1, cols)
        return image_cols * self._units[0], image_rows * self._units[1]

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
        job = _Job(
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
            sixel=issubclass(self._image_cls, ti_widget.SixelImage),
        )
        self._update_status(region)
        self._render_worker(job)

    @work(thread=True, exclusive=True, exit_on_error=False, group="preview")
    def _render_worker(self, job: _Job) -> None:
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
        render.set_error(message.stats)
        if render.main is render.reconstruction:
            render.main_label = rank_label(rank_text(render.rank), render.region_psnr_db)
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
        if self.zoom == "fit":
            scale = fit_scale((dec.width, dec.height), self._pane_px())
            zoom = f"fit ({'1:' + format(1 / scale, '.1f') if scale < 1 else format(scale, '.1f') + ':1'})"
        else:
            zoom = self.zoom
        # Most important first; what does not fit the width is left out.
        parts = [
            zoom,
            f"x {left}–{right} / {dec.width}",
            f"y {top}–{bottom} / {dec.height}",
            self._error_note() if self.view == "error" else "",
            f"x {minimap(left, right, dec.width)} y {minimap(top, bottom, dec.height)}",
        ]
        if self.has_focus:
            keys = "] [ zoom  0 fit  hjkl pan  m worst  v view  f flip" + ("  g gain" if self.view == "error" else "")
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


__all__ = ["PreviewPane", "Render", "PROTOCOLS", "VIEWS", "ZOOM_STEPS", "view_region", "zoom_levels"]
