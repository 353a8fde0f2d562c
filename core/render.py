"""Preview rendering: a rank-r image (or the original), or a crop of it, resized to a pane as uint8.

Works on a decomposition's factors, never on a full-size reconstruction. Resizing is
linear, so a shrunk rank-r image is (R_h U_r) Σ_r (R_w V_r)ᵀ: factors are resized once
per view and every rank change is a product at pane size; a crop is
U_r[rows] Σ_r V_r[cols]ᵀ, so zoom and pan cost only the crop. Decomposition.preview()
and original_preview() validate ranks and regions and render through here.
"""

from __future__ import annotations

import ctypes
import math
import threading
from collections import OrderedDict
from contextlib import contextmanager

import numpy as np

from .colour import _OFFSET, _YCBCR_TO_RGB
from .runtime import import_torch

Region = tuple[int, int, int, int]  # left, top, right, bottom in image pixels

# Decomposition.preview() clips the crop at full resolution before resizing (exactly what
# reconstruct() then a resize gives) while crop pixels × Σ ranks stays under this;
# above it, it uses factors resized once per view (see PreviewRenderer.preview()).
EXACT_PREVIEW_BUDGET = 40_000_000
PREVIEW_CACHE_VIEWS = 8


_OPENMP: list = []  # [(omp_get_max_threads, omp_set_num_threads)] or [None], looked up once


@contextmanager
def _one_thread(device: str):
    """Run the small, latency-bound work of a preview on the calling thread alone.

    On a busy machine (two cores, a background refine, other processes) every
    OpenMP parallel region of a tiny product or an elementwise op waits for a whole
    team of threads to be scheduled: measured 35–190 ms per preview instead of
    2 ms. OpenMP's thread count is per calling thread, so this leaves a
    decomposition running in another thread at full width.
    """
    if device != "cpu":
        yield
        return
    torch = import_torch()
    if not _OPENMP:
        try:
            lib = ctypes.CDLL(None)  # libgomp, loaded by torch
            _OPENMP.append((lib.omp_get_max_threads, lib.omp_set_num_threads))
        except (OSError, AttributeError):
            _OPENMP.append(None)
    if _OPENMP[0] is None:
        yield
        return
    get_threads, set_threads = _OPENMP[0]
    torch.get_num_threads()  # torch sets a new thread's OpenMP width on first use: let it, then narrow it
    before = get_threads()
    set_threads(1)
    try:
        yield
    finally:
        set_threads(before)


def _area_band(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Input indices and weights behind each output sample, (n_out × w) each.

    Shrinking averages the covered input samples by overlap (OpenCV's INTER_AREA);
    enlarging repeats samples (INTER_NEAREST), so zoomed pixels stay sharp blocks.
    Each output sample depends on at most ⌈n_in/n_out⌉ + 1 inputs, so resizing
    costs O(n_in) per column instead of the O(n_in·n_out) of a dense matrix.
    """
    if n_out >= n_in:
        src = np.minimum((np.arange(n_out) * n_in) // n_out, n_in - 1)
        return src[:, None].astype(np.int64), np.ones((n_out, 1), dtype=np.float32)
    scale = n_in / n_out
    edges = np.arange(n_out + 1, dtype=np.float64) * n_in / n_out
    starts, ends = edges[:-1], edges[1:]
    first = np.floor(starts).astype(np.int64)
    width = int(math.ceil(scale)) + 1
    idx = first[:, None] + np.arange(width)[None, :]
    overlap = np.minimum(ends[:, None], idx + 1) - np.maximum(starts[:, None], idx)
    weights = np.clip(overlap, 0.0, None) / scale
    weights[idx >= n_in] = 0.0  # past the last sample: no coverage (guards rounding)
    return np.minimum(idx, n_in - 1), weights.astype(np.float32)


def area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Row-stochastic (n_out × n_in) matrix of the same resize as preview() uses."""
    idx, weights = _area_band(n_in, n_out)
    m = np.zeros((n_out, n_in), dtype=np.float32)
    np.add.at(m, (np.repeat(np.arange(n_out), idx.shape[1]), idx.ravel()), weights.ravel())
    return m


def _resize_dim(x, n_out: int, dim: int, offset: int = 0, n_in: int | None = None):
    """Resize torch tensor x along dim (rows offset..offset+n_in) to n_out samples."""
    torch = import_torch()
    n_in = x.shape[dim] - offset if n_in is None else n_in
    idx, weights = _area_band(n_in, n_out)
    idx_t = torch.from_numpy(idx + offset).to(x.device)
    w_t = torch.from_numpy(weights).to(x.device, x.dtype)
    shape = [1] * x.dim()
    shape[dim] = n_out
    out = None
    for j in range(idx.shape[1]):  # a band of a few taps: memory stays at the output's size
        term = x.index_select(dim, idx_t[:, j]) * w_t[:, j].reshape(shape)
        out = term if out is None else out.add_(term)
    return out


def fit_size(crop_w: int, crop_h: int, size: tuple[int, int]) -> tuple[int, int]:
    """Largest (w, h) no larger than size with the crop's aspect ratio."""
    max_w, max_h = max(1, int(size[0])), max(1, int(size[1]))
    scale = min(max_w / crop_w, max_h / crop_h)
    return max(1, min(max_w, round(crop_w * scale))), max(1, min(max_h, round(crop_h * scale)))


def _ycbcr_to_rgb_planes(planes):
    """(3, …) torch YCbCr planes → RGB planes (linear, so it commutes with resizing)."""
    torch = import_torch()
    m = torch.from_numpy(_YCBCR_TO_RGB.astype(np.float32)).to(planes.device)
    off = torch.from_numpy(_OFFSET.astype(np.float32)).to(planes.device)
    flat = planes.reshape(3, -1) - off[:, None]
    return (m @ flat).reshape(planes.shape)


def _to_uint8(planes, grey: bool) -> np.ndarray:
    """(C, h, w) torch floats in [0, 1] (already clipped or not) → h×w(×3) uint8 numpy."""
    out = planes.clamp(0.0, 1.0).mul_(255.0).round_().to(import_torch().uint8)
    out = out[0] if grey else out.permute(1, 2, 0)
    return np.ascontiguousarray(out.cpu().numpy())


class PreviewRenderer:
    """Renders previews of one decomposition's factors and of its original image.

    Keeps the factors resized for the last PREVIEW_CACHE_VIEWS views; preview, measure
    and save workers may share one decomposition, so the cache is locked.
    """

    def __init__(self, image: np.ndarray, colour_space: str, channels: list, device: str) -> None:
        self.image, self.colour_space, self.channels, self.device = image, colour_space, channels, device
        self._cache: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def resized_factors(self, region: Region, out_w: int, out_h: int) -> list:
        """(R_h U[rows], R_w V[cols]) per channel, computed once per view and cached (core.layers uses them too)."""
        key = (region, out_w, out_h)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        left, top, right, bottom = region
        cached = [(_resize_dim(c.u, out_h, 0, top, bottom - top), _resize_dim(c.v, out_w, 0, left, right - left))
                  for c in self.channels]
        with self._lock:
            self._cache[key] = cached
            while len(self._cache) > PREVIEW_CACHE_VIEWS:
                self._cache.popitem(last=False)
        return cached

    def preview(self, ranks: tuple[int, ...], region: Region, size: tuple[int, int],
                exact: bool | None = None) -> np.ndarray:
        """The image of per-channel `ranks` over a checked `region`, fitted to size=(width, height), as uint8.

        Small crops are computed, clipped, then resized; a large crop shrunk to the pane
        multiplies factors resized once per view (see Decomposition.preview for the contract).
        exact=True always clips first; exact=False always uses the resized factors; None
        chooses by EXACT_PREVIEW_BUDGET.
        """
        if exact:  # forced exact on a big crop is throughput-bound: keep every thread
            left, top, right, bottom = region
            if (right - left) * (bottom - top) * sum(ranks) > EXACT_PREVIEW_BUDGET:
                return self._preview(ranks, region, size, exact)
        with _one_thread(self.device):
            return self._preview(ranks, region, size, exact)

    def _preview(self, ranks: tuple[int, ...], region: Region, size: tuple[int, int],
                 exact: bool | None) -> np.ndarray:
        torch = import_torch()
        left, top, right, bottom = region
        crop_w, crop_h = right - left, bottom - top
        out_w, out_h = fit_size(crop_w, crop_h, size)
        grey = self.colour_space == "grey"
        shrinking = out_w < crop_w or out_h < crop_h
        if exact is None:
            exact = not shrinking or crop_w * crop_h * sum(ranks) <= EXACT_PREVIEW_BUDGET
        if exact:
            planes = torch.stack([(c.u[top:bottom, :r] * c.s[:r]) @ c.v[left:right, :r].T
                                  for c, r in zip(self.channels, ranks)])
            if self.colour_space == "ycbcr":
                planes = _ycbcr_to_rgb_planes(planes)
            planes = planes.clamp_(0.0, 1.0)
            planes = _resize_dim(_resize_dim(planes, out_h, 1), out_w, 2)
        else:
            planes = torch.stack([(ru[:, :r] * c.s[:r]) @ rv[:, :r].T for (ru, rv), c, r in
                                  zip(self.resized_factors(region, out_w, out_h), self.channels, ranks)])
            if self.colour_space == "ycbcr":
                planes = _ycbcr_to_rgb_planes(planes)
        return _to_uint8(planes, grey)

    def original(self, region: Region, size: tuple[int, int]) -> np.ndarray:
        """The original image over a checked `region`, resized the same way as preview(), as uint8."""
        with _one_thread("cpu"):
            left, top, right, bottom = region
            out_w, out_h = fit_size(right - left, bottom - top, size)
            crop = import_torch().from_numpy(self.image)  # a view: no copy of the image
            # Rows first, in the image's own H×W×C layout (gathers along a permuted view are slow).
            small = _resize_dim(_resize_dim(crop, out_h, 0, top, bottom - top), out_w, 1, left, right - left)
            small = small[None] if small.dim() == 2 else small.permute(2, 0, 1)
            return _to_uint8(small, self.colour_space == "grey")
