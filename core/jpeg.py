"""JPEG (and WebP) at a byte budget: what a standard codec achieves with the bytes a .svdz takes."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .imageio import to_integer
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


def _encode(ints: np.ndarray, suffix: str, params: list[int]) -> bytes:
    ok, buf = cv2.imencode(suffix, ints, params)
    if not ok:  # OpenCV refuses only sizes its codecs cannot hold (e.g. WebP above 16383 px)
        raise ValueError(f"OpenCV could not encode a {ints.shape[1]}×{ints.shape[0]} image as {suffix}")
    return buf.tobytes()


def _at_budget(pixels: np.ndarray, max_bytes: int, suffix: str, params) -> JpegAtBudget | None:
    pixels = np.asarray(pixels, dtype=np.float32)
    ints = to_integer(pixels, 8)
    if ints.ndim == 3:
        ints = np.ascontiguousarray(ints[..., ::-1])  # RGB -> OpenCV's BGR

    def encode(quality: int) -> bytes:
        return _encode(ints, suffix, params(quality))

    # The file grows with quality; bisect on 1..100 keeping "lo fits, hi does not".
    best = encode(1)
    if len(best) > max_bytes:
        return None
    lo, hi = 1, 101
    top = encode(100)
    if len(top) <= max_bytes:
        lo, best = 100, top
    else:
        hi = 100
        while hi - lo > 1:
            mid = (lo + hi) // 2
            data = encode(mid)
            if len(data) <= max_bytes:
                lo, best = mid, data
            else:
                hi = mid
    flag = cv2.IMREAD_GRAYSCALE if ints.ndim == 2 else cv2.IMREAD_COLOR
    decoded = cv2.imdecode(np.frombuffer(best, np.uint8), flag)
    if decoded.ndim == 3:
        decoded = decoded[..., ::-1]
    out = (decoded.astype(np.float32) / np.float32(255.0)).reshape(pixels.shape)
    return JpegAtBudget(quality=lo, size_bytes=len(best), pixels=np.ascontiguousarray(out),
                        psnr_db=psnr(out, pixels), ssim=ssim(out, pixels), data=best)


def jpeg_at_budget(pixels_float01: np.ndarray, max_bytes: int) -> JpegAtBudget | None:
    """Highest OpenCV JPEG quality (1..100, baseline, optimised Huffman tables, 4:2:0 for colour)
    whose file is at most max_bytes, or None when even quality 1 is larger."""
    return _at_budget(pixels_float01, max_bytes, ".jpg",
                      lambda q: [cv2.IMWRITE_JPEG_QUALITY, q, cv2.IMWRITE_JPEG_OPTIMIZE, 1])


def webp_at_budget(pixels_float01: np.ndarray, max_bytes: int) -> JpegAtBudget | None:
    """The same for lossy WebP (OpenCV quality 1..100)."""
    return _at_budget(pixels_float01, max_bytes, ".webp", lambda q: [cv2.IMWRITE_WEBP_QUALITY, q])
