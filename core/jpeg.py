"""JPEG (and WebP) at a byte budget: what a standard codec achieves with the bytes a .svdz takes."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .pixels import to_integer
from .metrics import psnr, ssim


@dataclass(frozen=True)
class JpegAtBudget:
    """The highest-quality file of a codec that fits a budget, decoded and measured."""

    quality: int  # the encoder's quality setting, 1..100
    size_bytes: int
    pixels: np.ndarray = field(repr=False)  # decoded, float32 in [0, 1], the input's shape
    psnr_db: float  # against the input pixels
    ssim: float | None  # None for images smaller than the SSIM window
    data: bytes = field(repr=False)  # the encoded file
    subsampling: str = "4:2:0"  # chroma subsampling used: "4:2:0", "4:4:4", or "grey"


# The largest side each format can hold; beyond it there is no file to compare with.
_MAX_SIDE = {".jpg": 65500, ".webp": 16383}


def _encode(ints: np.ndarray, suffix: str, params: list[int]) -> bytes:
    ok, buf = cv2.imencode(suffix, ints, params)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {ints.shape[1]}×{ints.shape[0]} image as {suffix}")
    return buf.tobytes()


def _best_that_fits(encode, max_bytes: int) -> tuple[int, bytes] | None:
    """Highest quality 1..100 whose file fits, by bisection (the file grows with quality)."""
    lowest = encode(1)
    if len(lowest) > max_bytes:
        return None
    lo, hi, best = 1, 101, lowest  # invariant: lo fits, hi does not (101 stands for "past the top")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        data = encode(mid)
        if len(data) <= max_bytes:
            lo, best = mid, data
        else:
            hi = mid
    return lo, best


def _measure(pixels: np.ndarray, quality: int, data: bytes, grey: bool, subsampling: str) -> JpegAtBudget:
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR)
    if decoded.ndim == 3:
        decoded = decoded[..., ::-1]
    out = np.ascontiguousarray((decoded.astype(np.float32) / np.float32(255.0)).reshape(pixels.shape))
    return JpegAtBudget(quality=quality, size_bytes=len(data), pixels=out, psnr_db=psnr(out, pixels),
                        ssim=ssim(out, pixels), data=data, subsampling=subsampling)


def _integers(pixels: np.ndarray) -> np.ndarray:
    ints = to_integer(pixels, 8)
    return np.ascontiguousarray(ints[..., ::-1]) if ints.ndim == 3 else ints  # RGB -> OpenCV's BGR


def jpeg_at_budget(pixels_float01: np.ndarray, max_bytes: int) -> JpegAtBudget | None:
    """Highest OpenCV JPEG quality (1..100, baseline, optimised Huffman tables) whose file is at
    most max_bytes, decoded and measured against the input; None when even quality 1 is larger
    (or a side is above JPEG's 65500-pixel limit).

    Colour uses 4:2:0 chroma subsampling, as encoders do by default. Subsampling caps the
    PSNR near 40 dB, so when 4:2:0 fits at quality 90 or more, 4:4:4 is tried as well and
    the better of the two (by PSNR) is kept: JPEG is compared at its best, not its default.
    """
    pixels = np.asarray(pixels_float01, dtype=np.float32)
    if max(pixels.shape[:2]) > _MAX_SIDE[".jpg"]:
        return None
    ints = _integers(pixels)
    grey = ints.ndim == 2

    def encoder(sampling: int):
        def encode(quality: int) -> bytes:
            return _encode(ints, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_OPTIMIZE, 1,
                                          cv2.IMWRITE_JPEG_SAMPLING_FACTOR, sampling])
        return encode

    found = _best_that_fits(encoder(cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420), max_bytes)
    if found is None:
        return None
    result = _measure(pixels, *found, grey, "grey" if grey else "4:2:0")
    if not grey and found[0] >= 90:
        full = _best_that_fits(encoder(cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444), max_bytes)
        if full is not None:
            other = _measure(pixels, *full, grey, "4:4:4")
            if other.psnr_db > result.psnr_db:
                result = other
    return result


def webp_at_budget(pixels_float01: np.ndarray, max_bytes: int) -> JpegAtBudget | None:
    """The same for lossy WebP (OpenCV quality 1..100; WebP always subsamples chroma 4:2:0).

    None when quality 1 does not fit or a side is above WebP's 16383-pixel limit."""
    pixels = np.asarray(pixels_float01, dtype=np.float32)
    if max(pixels.shape[:2]) > _MAX_SIDE[".webp"]:
        return None
    ints = _integers(pixels)
    found = _best_that_fits(lambda q: _encode(ints, ".webp", [cv2.IMWRITE_WEBP_QUALITY, q]), max_bytes)
    if found is None:
        return None
    return _measure(pixels, *found, ints.ndim == 2, "grey" if ints.ndim == 2 else "4:2:0")
