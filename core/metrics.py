"""Quality numbers measured on pixel arrays, and energy from singular values.

Arrays are floats on [0, 1] (so PSNR is on the 8-bit scale: 10·log10(1 / MSE) equals
10·log10(255² / MSE) on 0–255 values). SSIM is a port of scikit-image's
``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
data_range=1)`` in float32, checked against it in tests/test_metrics.py; scikit-image is
only a test dependency. `Reference` prepares one original for many comparisons.
"""

from __future__ import annotations

import math
import threading
from typing import Sequence

import cv2
import numpy as np

SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5
SSIM_WINDOW = 2 * int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5) + 1  # 11, as scikit-image computes it


BAND_ELEMENTS = 1 << 22  # rows are processed in bands of about this many samples: memory stays bounded


def _check(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    return a, b


def _band_rows(a: np.ndarray) -> int:
    per_row = int(np.prod(a.shape[1:], dtype=np.int64)) or 1
    return max(1, BAND_ELEMENTS // per_row)


def mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared difference, summed in float64 band by band (no full-size float64 copies)."""
    a, b = _check(a, b)
    if a.size == 0:
        raise ValueError("empty arrays")
    a, b = np.atleast_1d(a), np.atleast_1d(b)
    rows = _band_rows(a)
    total = 0.0
    for start in range(0, a.shape[0], rows):
        d = a[start:start + rows].astype(np.float64) - b[start:start + rows]
        total += float(np.vdot(d.ravel(), d.ravel()))
    return total / a.size


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB; inf when the arrays are equal."""
    return psnr_from_mse(mse(a, b), data_range)


def psnr_from_mse(err: float, data_range: float = 1.0) -> float:
    """PSNR (dB) for a mean squared error already known; inf for no error."""
    return float("inf") if err <= 0 else float(10.0 * math.log10(data_range**2 / err))


# SSIM works in float32 with OpenCV's separable filters, in bands of rows small enough that
# a band's dozen temporaries stay in the CPU cache: ~4× faster than float64 full-image passes,
# and within ~1e-6 of scikit-image's float64 result (tests/test_metrics.py).
SSIM_BAND_ROWS = 64
# A Reference keeps SSIM's local mean and variance of the original (two float32 planes per
# channel) when they fit in this many bytes (8 MP colour: 200 MB); larger images compute them
# again in each comparison, band by band.
STATS_CACHE_BYTES = 256 << 20
_PAD = (SSIM_WINDOW - 1) // 2


def _kernel() -> np.ndarray:
    return cv2.getGaussianKernel(SSIM_WINDOW, SSIM_SIGMA, cv2.CV_64F)


def _gaussian(plane: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    # scipy.ndimage's "reflect" mode (d c b a | a b c d) is OpenCV's BORDER_REFLECT.
    return cv2.sepFilter2D(plane, cv2.CV_32F, kernel, kernel, borderType=cv2.BORDER_REFLECT)


def _stats(x: np.ndarray, kernel: np.ndarray, c2: float) -> tuple[np.ndarray, np.ndarray]:
    """(μx, σx² + c2) over the inner rows and columns of a float32 band that carries _PAD rows of context."""
    inner = (slice(_PAD, -_PAD), slice(_PAD, -_PAD))
    ux = _gaussian(x, kernel)[inner]
    vx = _gaussian(x * x, kernel)[inner]
    vx -= ux * ux
    vx += c2
    return ux, vx


def _ssim_band(x: np.ndarray, y: np.ndarray, stats, kernel: np.ndarray, c1: float, c2: float) -> float:
    """Σ of the SSIM map over the inner part of this band (float32 x, y with _PAD rows of context).

    S = (2·μx·μy + c1)(2·σxy + c2) / ((μx² + μy² + c1)(σx² + σy² + c2)), population covariances
    from E[xy] − μx·μy; worked in place, since on large images the arithmetic is most of the cost.
    """
    inner = (slice(_PAD, -_PAD), slice(_PAD, -_PAD))
    ux, vx = stats if stats is not None else _stats(x, kernel, c2)
    uy = _gaussian(y, kernel)[inner]
    uyy = _gaussian(y * y, kernel)[inner]
    x *= y
    uxy = _gaussian(x, kernel)[inner]
    num = ux * uy
    uxy -= num
    uxy *= 2
    uxy += c2  # 2σxy + c2
    num *= 2
    num += c1
    num *= uxy  # the numerator
    uy *= uy
    uyy -= uy
    uyy += vx  # σx² + σy² + c2
    uy += ux * ux
    uy += c1  # μx² + μy² + c1
    uy *= uyy
    num /= uy
    return float(num.sum(dtype=np.float64))


def _float_band(plane: np.ndarray, rows: slice, scale: float | None) -> np.ndarray:
    band = plane[rows].astype(np.float32)
    if scale is not None:
        band *= np.float32(scale)
    return band


class Reference:
    """An original image made ready once for many comparisons: PSNR and SSIM of other images
    against it (every rank of a report, the .svdz and JPEG files, each rank the app shows).

    samples: H×W or H×W×C integers (uint8, uint16) or floats on [0, top]. Integer samples
    make PSNR an exact integer sum of squares. SSIM's local mean and variance of the
    original are computed once and kept when they fit in STATS_CACHE_BYTES. Compared
    images must have the same shape and channel order; other_top gives their scale when
    it is not `top` (an 8-bit JPEG against a 16-bit original). Safe to share between threads.
    """

    def __init__(self, samples: np.ndarray, top: float = 1.0, *, cache_stats: bool = True) -> None:
        self.samples = np.ascontiguousarray(samples)
        if self.samples.ndim not in (2, 3) or self.samples.size == 0:
            raise ValueError(f"expected a non-empty H×W or H×W×C image, got shape {self.samples.shape}")
        self.top = float(top)
        self.planes = ([self.samples] if self.samples.ndim == 2 else
                       [np.ascontiguousarray(self.samples[..., c]) for c in range(self.samples.shape[2])])
        self.c1, self.c2 = (0.01 * self.top) ** 2, (0.03 * self.top) ** 2
        height, width = self.samples.shape[:2]
        inner = max(height - 2 * _PAD, 0) * max(width - 2 * _PAD, 0)
        self._cache_stats = cache_stats and 2 * 4 * inner * len(self.planes) <= STATS_CACHE_BYTES
        self._stats: list | None = None
        self._lock = threading.Lock()

    @classmethod
    def of_pixels(cls, pixels: np.ndarray, *, bit_depths: tuple[int, ...] = (8, 16), bgr: bool = False,
                  cache_stats: bool = True) -> "Reference":
        """From float pixels on [0, 1]: kept as integers when they lie on the grid of one of
        bit_depths (tried in order; every loaded image does), else as float32. bgr=True
        reverses the channels (OpenCV's order)."""
        pixels = np.asarray(pixels)
        if bgr and pixels.ndim == 3:
            pixels = pixels[..., ::-1]
        for depth in bit_depths:
            top = 65535 if depth == 16 else 255
            ints = np.clip(np.rint(pixels * np.float32(top)), 0, top).astype(np.uint16 if depth == 16 else np.uint8)
            if np.array_equal(ints.astype(np.float32) / np.float32(top), pixels):
                return cls(ints, top, cache_stats=cache_stats)
        return cls(pixels.astype(np.float32), 1.0, cache_stats=cache_stats)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.samples.shape

    def _scale(self, other: np.ndarray, other_top: float | None) -> float | None:
        if other.shape != self.samples.shape:
            raise ValueError(f"shapes differ: {self.samples.shape} vs {other.shape}")
        if other_top is None or float(other_top) == self.top:
            return None
        return self.top / float(other_top)

    def sse(self, other: np.ndarray, other_top: float | None = None) -> float:
        """Σ (original − other)² on the original's scale."""
        other = np.asarray(other)
        scale = self._scale(other, other_top)
        if scale is None and other.dtype == self.samples.dtype and other.dtype in (np.uint8, np.uint16) \
                and (other.ndim == 2 or other.shape[2] <= 4):
            return float(cv2.norm(self.samples, np.ascontiguousarray(other), cv2.NORM_L2SQR))
        if scale is not None:
            other = other.astype(np.float32) * np.float32(scale)
        return mse(self.samples, other) * self.samples.size

    def psnr(self, other: np.ndarray, other_top: float | None = None) -> float:
        """PSNR (dB) of other against the original; inf when equal."""
        return psnr_from_mse(self.sse(other, other_top) / self.samples.size, self.top)

    def prepare(self) -> "Reference":
        """Compute now what the first SSIM would (the original's local statistics); returns self."""
        self._plane_stats()
        return self

    def _plane_stats(self) -> list | None:
        if not self._cache_stats:
            return None
        with self._lock:
            if self._stats is None:
                kernel = _kernel()
                self._stats = [_stats(p.astype(np.float32), kernel, self.c2) for p in self.planes]
            return self._stats

    def ssim(self, other: np.ndarray, other_top: float | None = None, *, executor=None) -> float | None:
        """Mean SSIM (Gaussian window, σ = 1.5), averaged over channels; None below the 11×11 window.

        executor (e.g. a ThreadPoolExecutor) spreads the channels over threads: OpenCV and
        numpy release the GIL.
        """
        other = np.asarray(other)
        scale = self._scale(other, other_top)
        if min(self.samples.shape[:2]) < SSIM_WINDOW:
            return None
        others = [other] if other.ndim == 2 else [other[..., c] for c in range(other.shape[2])]
        stats = self._plane_stats() or [None] * len(self.planes)
        jobs = list(zip(self.planes, others, stats))
        run = (lambda job: self._ssim_plane(*job, scale))
        sums = list(executor.map(run, jobs)) if executor is not None else [run(job) for job in jobs]
        return float(np.mean(sums))

    def _ssim_plane(self, x: np.ndarray, y: np.ndarray, stats, scale: float | None) -> float:
        """Mean SSIM over the pixels whose whole window lies inside the image, as scikit-image crops.

        Worked in bands of rows, each with _PAD rows of context: every averaged pixel sees the
        same neighbourhood as in one full-size pass, so the mean is the same, in bounded memory.
        """
        kernel = _kernel()
        height, width = x.shape
        rows = max(1, int(SSIM_BAND_ROWS))
        total = 0.0
        for start in range(_PAD, height - _PAD, rows):  # start..stop are rows of the averaged region
            stop = min(start + rows, height - _PAD)
            band = slice(start - _PAD, stop + _PAD)
            xb = x[band].astype(np.float32)
            yb = _float_band(y, band, scale)
            cached = None if stats is None else (stats[0][start - _PAD:stop - _PAD], stats[1][start - _PAD:stop - _PAD])
            total += _ssim_band(xb, yb, cached, kernel, self.c1, self.c2)
        return total / ((height - 2 * _PAD) * (width - 2 * _PAD))


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float | None:
    """Mean structural similarity (Gaussian window, σ = 1.5), averaged over colour channels.

    None when the image is smaller than the 11×11 window (scikit-image refuses those too).
    For many comparisons against one image, make a Reference of it once.
    """
    a, b = _check(a, b)
    if min(a.shape[:2]) < SSIM_WINDOW:
        return None
    if data_range == 1.0:  # pixels on an integer grid are compared as a Reference of integers would be
        return Reference.of_pixels(a, cache_stats=False).ssim(b, 1.0)
    return Reference(a, data_range, cache_stats=False).ssim(b)


def energy_kept(singular_values: Sequence[np.ndarray], ranks: Sequence[int],
                total_energy: float | None = None) -> float:
    """Σ_{i≤r} σᵢ² / Σ σᵢ² over all channels, each channel with its own rank."""
    kept = sum(float(np.sum(np.asarray(s, np.float64)[:r] ** 2)) for s, r in zip(singular_values, ranks))
    total = total_energy if total_energy is not None else sum(float(np.sum(np.asarray(s, np.float64) ** 2))
                                                              for s in singular_values)
    return 1.0 if total <= 0 else kept / total


def energy_from_residual(dec, residual) -> np.ndarray | float:
    """Kept share of Σσ² (= ‖A‖²) in [0, 1]."""
    total = dec.total_energy
    return 1.0 - np.asarray(residual) / total if total > 0 else np.ones_like(np.asarray(residual, float))


def relative_error_from_residual(dec, residual) -> np.ndarray | float:
    """‖A − A_r‖_F / ‖A‖_F from the residual energy (unclipped)."""
    total = dec.total_energy
    return np.sqrt(np.asarray(residual) / total) if total > 0 else np.zeros_like(np.asarray(residual, float))
