"""Quality numbers measured on pixel arrays, and energy from singular values.

Arrays are floats on [0, 1] (so PSNR is on the 8-bit scale: 10·log10(1 / MSE) equals
10·log10(255² / MSE) on 0–255 values). SSIM is a port of scikit-image's
``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
data_range=1)``, checked against it in tests/test_metrics.py; scikit-image is only a
test dependency.
"""

from __future__ import annotations

import math
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


def _gaussian(plane: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    # scipy.ndimage's "reflect" mode (d c b a | a b c d) is OpenCV's BORDER_REFLECT.
    return cv2.sepFilter2D(plane, cv2.CV_64F, kernel, kernel, borderType=cv2.BORDER_REFLECT)


def _ssim_sum(x: np.ndarray, y: np.ndarray, data_range: float, kernel: np.ndarray) -> tuple[float, int]:
    """Σ of the SSIM map over rows pad..-pad of this band (which carries pad rows of context each side)."""
    pad = (SSIM_WINDOW - 1) // 2
    inner = (slice(pad, -pad), slice(pad, -pad))
    ux, uy = _gaussian(x, kernel)[inner], _gaussian(y, kernel)[inner]
    uxx, uyy, uxy = (_gaussian(p, kernel)[inner] for p in (x * x, y * y, x * y))
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    # In place, on large images this is most of the cost: population covariances
    # vx = E[x²] − ux², vy, vxy, then S = (2·ux·uy + c1)(2·vxy + c2) / ((ux² + uy² + c1)(vx + vy + c2)).
    uxuy = ux * uy
    ux *= ux
    uy *= uy
    uxy -= uxuy
    uxx -= ux
    uyy -= uy
    num = (2 * uxuy + c1) * (2 * uxy + c2)
    ux += uy
    ux += c1
    uxx += uyy
    uxx += c2
    ux *= uxx
    num /= ux
    return float(num.sum(dtype=np.float64)), num.size


def _ssim_plane(x: np.ndarray, y: np.ndarray, data_range: float) -> float:
    """Mean SSIM over the pixels whose whole window lies inside the image, as scikit-image crops.

    Worked in bands of rows, each with pad rows of context: every averaged pixel sees the
    same neighbourhood as in one full-size pass, so the mean is the same, in bounded memory.
    """
    kernel = cv2.getGaussianKernel(SSIM_WINDOW, SSIM_SIGMA, cv2.CV_64F)
    pad = (SSIM_WINDOW - 1) // 2
    height = x.shape[0]
    rows = max(_band_rows(x), 4 * pad)
    total, count = 0.0, 0
    for start in range(pad, height - pad, rows):  # start..stop are rows of the averaged region
        stop = min(start + rows, height - pad)
        band = slice(start - pad, stop + pad)
        part, n = _ssim_sum(x[band].astype(np.float64), y[band].astype(np.float64), data_range, kernel)
        total += part
        count += n
    return total / count


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float | None:
    """Mean structural similarity (Gaussian window, σ = 1.5), averaged over colour channels.

    None when the image is smaller than the 11×11 window (scikit-image refuses those too).
    """
    a, b = _check(a, b)
    if min(a.shape[:2]) < SSIM_WINDOW:
        return None
    if a.ndim == 2:
        return _ssim_plane(a, b, data_range)
    return float(np.mean([_ssim_plane(np.ascontiguousarray(a[..., c]), np.ascontiguousarray(b[..., c]), data_range)
                          for c in range(a.shape[2])]))


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
