"""The preview's pictures and error numbers for one view, made off the UI thread.

A RenderJob says what to draw (decomposition, rank, view, region, size); render_images()
makes the pictures and measure_render() adds the largest error and the region's PSNR.
OriginalCache keeps shrunk crops of the original, which do not change with rank. Nothing here
touches Textual: the pane's thread worker calls these functions and posts the results, and
tests/benchmarks/preview_pane.py times them directly.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from PIL import Image as PILImage

from core.metrics import psnr
from core.render import fit_size

from .errormap import abs_error, colourise
from .geometry import Region

# Regions up to this many pixels get their error measured per image pixel (one more crop product).
FULL_RES_ERROR_PIXELS = 1 << 19
# Crops larger than this are shrunk for the original view by OpenCV (see original_preview).
FAST_ORIGINAL_PIXELS = 1 << 18
PAD_RGB = (0, 0, 0)


@dataclass(frozen=True)
class RenderJob:
    """Everything one render needs, frozen when the pane asks for it (it crosses to a worker)."""

    generation: int
    decomposition: Any
    rank: Any
    view: str
    flipped: bool
    zoom: str
    gain: int
    region: Region
    out_size: tuple[int, int]
    units: tuple[int, int]  # display pixels per terminal cell (x, y)
    original_cache: "OriginalCache"
    # Called on each finished picture in the worker, e.g. to encode it for the Sixel widget
    # there instead of on the UI thread.
    prepare_picture: Callable[[PILImage.Image], None] | None = None


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


@dataclass(frozen=True)
class ErrorStats:
    """What measure_error() found (immutable: it crosses from the worker to the UI thread)."""

    map: np.ndarray  # |original − reconstruction| at the picture's size, share of full scale
    max_error: float  # the largest, share of full scale
    at: tuple[int, int]  # where, (x, y) in image pixels
    resolution: str  # "full": every image pixel of the region; "preview": the shrunk previews
    psnr_db: float | None  # PSNR over every image pixel of the region (8-bit); None for "preview"


class OriginalCache:
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


def to_pil(pixels: np.ndarray, units: tuple[int, int]) -> PILImage.Image:
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


def measure_error(job: RenderJob, original: np.ndarray, reconstruction: np.ndarray) -> ErrorStats:
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
        full_original = job.original_cache.get(job.decomposition, (crop_w, crop_h), job.region)
        full_reconstruction = job.decomposition.preview(job.rank, (crop_w, crop_h), job.region)
        full = abs_error(full_original, full_reconstruction)
        y, x = divmod(int(np.argmax(full)), crop_w)
        import cv2  # well-kept area averaging; only needed on this path

        shown = cv2.resize(full, (out_w, out_h), interpolation=cv2.INTER_AREA)
        region_psnr = psnr(full_original, full_reconstruction, data_range=255.0)
        return ErrorStats(shown, float(full[y, x]), (left + x, top + y), "full", region_psnr)
    error = abs_error(original, reconstruction)
    py, px = divmod(int(np.argmax(error)), out_w)
    if out_w >= crop_w and out_h >= crop_h:
        # Zoomed to 1:1 or past it: each shown pixel is one image pixel, repeated.
        x, y = (px * crop_w) // out_w, (py * crop_h) // out_h
        region_psnr = psnr(original, reconstruction, data_range=255.0)
        return ErrorStats(error, float(error[py, px]), (left + x, top + y), "full", region_psnr)
    # The preview pixel's centre, in image coordinates.
    at = (
        min(right - 1, left + int((px + 0.5) * crop_w / out_w)),
        min(bottom - 1, top + int((py + 0.5) * crop_h / out_h)),
    )
    return ErrorStats(error, float(error[py, px]), at, "preview", None)


def rank_text(rank: Any) -> str:
    """A rank as a label shows it: "20", or "40/10/10" for per-channel ranks."""
    if isinstance(rank, (int, np.integer)):
        return str(int(rank))
    return "/".join(str(int(r)) for r in rank)


def rank_label(rank: str, psnr_db: float | None) -> str:
    """The label above the reconstruction, with the visible region's PSNR once measured."""
    if psnr_db is None:
        return f"rank {rank}"
    return f"rank {rank} · {'∞' if math.isinf(psnr_db) else format(psnr_db, '.1f')} dB here"


def main_size_smaller(region: Region, pixels: np.ndarray) -> bool:
    """True when the picture shows the region shrunk (fewer display than image pixels)."""
    return pixels.shape[1] < region[2] - region[0] or pixels.shape[0] < region[3] - region[1]


def render_images(job: RenderJob) -> Render:
    """The pictures of a view. The error is measured here only when the error view needs it;
    otherwise measure_render() does it afterwards, so the pictures show first."""
    dec = job.decomposition
    region = job.region
    rank = rank_text(job.rank)
    original = job.original_cache.get(dec, job.out_size, region)
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
    render.left_image = None if left_pixels is None else to_pil(left_pixels, job.units)
    render.main_image = to_pil(main, job.units)
    if job.prepare_picture is not None:
        for image in (render.left_image, render.main_image):
            if image is not None:
                job.prepare_picture(image)
    return render


def measure_render(job: RenderJob, render: Render) -> None:
    """Fill in the largest error of a render (no-op when render_images already did)."""
    if render.max_error is None:
        apply_error(render, measure_error(job, render.original, render.reconstruction))


def apply_error(render: Render, stats: ErrorStats) -> None:
    """Record measured error on a render; the rank label gains the region's PSNR."""
    render.set_error(stats)
    if render.main is render.reconstruction:
        render.main_label = rank_label(rank_text(render.rank), render.region_psnr_db)
