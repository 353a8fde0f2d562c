"""JPEG (and WebP) at a byte budget: what a standard codec achieves with the bytes a .svdz takes.

A codec's file size at each quality depends only on the image, so `CodecLadder` keeps, per
image, every file size it has encoded and the PSNR/SSIM of every file it has measured: the
search for any later budget (every rank of a report, every rank the app shows) reuses them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import cv2
import numpy as np

from .metrics import Reference
from .pixels import to_integer


@dataclass(frozen=True)
class JpegAtBudget:
    """The highest-quality file of a codec that fits a budget, decoded and measured."""

    quality: int  # the encoder's quality setting, 1..100
    size_bytes: int
    psnr_db: float  # against the input pixels
    ssim: float | None  # None for images smaller than the SSIM window
    data: bytes = field(repr=False)  # the encoded file
    subsampling: str = "4:2:0"  # chroma subsampling used: "4:2:0", "4:4:4", or "grey"
    shape: tuple[int, ...] = ()  # the input's shape

    @property
    def pixels(self) -> np.ndarray:
        """The file decoded, float32 in [0, 1], the input's shape (decoded on each access, not kept)."""
        return np.ascontiguousarray(_to_rgb(_decode(self.data, len(self.shape) == 2)).astype(np.float32)
                                    / np.float32(255.0)).reshape(self.shape)


# The largest side each format can hold; beyond it there is no file to compare with.
_MAX_SIDE = {".jpg": 65500, ".webp": 16383}
_RECENT_FILES = 4  # a search's last probes: the file it returns is usually among them
_SAMPLING = {"4:2:0": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420, "4:4:4": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
             "grey": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420}


def _encode(ints: np.ndarray, suffix: str, params: list[int]) -> bytes:
    ok, buf = cv2.imencode(suffix, ints, params)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {ints.shape[1]}×{ints.shape[0]} image as {suffix}")
    return buf.tobytes()


def _decode(data: bytes, grey: bool) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR)


def _to_rgb(ints: np.ndarray) -> np.ndarray:
    return ints[..., ::-1] if ints.ndim == 3 else ints


def _best_that_fits(size, max_bytes: int) -> int | None:
    """Highest quality 1..100 whose file fits, by bisection (the file grows with quality).

    size(quality) is the file size; the probes are the same for every budget, so a cached
    size() shares the top of the search between budgets.
    """
    if size(1) > max_bytes:
        return None
    lo, hi = 1, 101  # invariant: lo fits, hi does not (101 stands for "past the top")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if size(mid) <= max_bytes:
            lo = mid
        else:
            hi = mid
    return lo


class CodecLadder:
    """One image's files in one lossy codec at the qualities tried so far, for budget searches.

    Sizes are kept for every quality encoded; the bytes and PSNR/SSIM only for the files
    that a search returned (a few per image). Thread-safe: the app may search for a new
    rank while an abandoned search for the previous one finishes.
    """

    def __init__(self, pixels: np.ndarray | None = None, *, suffix: str = ".jpg",
                 reference: Reference | None = None, samples: np.ndarray | None = None) -> None:
        """pixels: float [0, 1], H×W or H×W×3 RGB. Or, when the caller has them already:
        samples, the 8-bit integers in OpenCV's channel order (BGR), and reference, the original
        in the same channel order, to measure against."""
        if samples is None:
            ints = to_integer(np.asarray(pixels, dtype=np.float32), 8)
            samples = np.ascontiguousarray(ints[..., ::-1]) if ints.ndim == 3 else ints  # RGB -> BGR
        if reference is None:
            reference = Reference.of_pixels(pixels, bgr=True) if pixels is not None else Reference(samples, 255)
        self.samples = samples
        self.reference = reference
        self.suffix = suffix
        self.grey = samples.ndim == 2
        self.fits = max(samples.shape[:2]) <= _MAX_SIDE[suffix]
        self._sizes: dict[tuple[str, int], int] = {}
        self._results: dict[tuple[str, int], JpegAtBudget] = {}
        self._recent: OrderedDict[tuple[str, int], bytes] = OrderedDict()  # the last few files, for the winner
        self._lock = threading.Lock()
        self.encodes = 0  # files encoded so far (for tests and benchmarks)

    def _params(self, sampling: str, quality: int) -> list[int]:
        if self.suffix == ".webp":
            return [cv2.IMWRITE_WEBP_QUALITY, quality]
        return [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_OPTIMIZE, 1,
                cv2.IMWRITE_JPEG_SAMPLING_FACTOR, _SAMPLING[sampling]]

    def _encode(self, sampling: str, quality: int) -> bytes:
        data = _encode(self.samples, self.suffix, self._params(sampling, quality))
        with self._lock:
            self._sizes[(sampling, quality)] = len(data)
            self.encodes += 1
            self._recent[(sampling, quality)] = data
            while len(self._recent) > _RECENT_FILES:
                self._recent.popitem(last=False)
        return data

    def size(self, sampling: str, quality: int) -> int:
        """File size in bytes at this quality (encoded once per image)."""
        with self._lock:
            known = self._sizes.get((sampling, quality))
        return known if known is not None else len(self._encode(sampling, quality))

    def measured(self, sampling: str, quality: int) -> JpegAtBudget:
        """The file at this quality, decoded and measured against the original (once per image)."""
        key = (sampling, quality)
        with self._lock:
            known = self._results.get(key)
            data = self._recent.get(key)
        if known is not None:
            return known
        if data is None:
            data = self._encode(sampling, quality)
        decoded = _decode(data, self.grey)
        result = JpegAtBudget(quality=quality, size_bytes=len(data), psnr_db=self.reference.psnr(decoded, 255),
                              ssim=None, data=data, subsampling=sampling, shape=self.samples.shape)
        with self._lock:
            self._results.setdefault(key, result)
        return result

    def with_ssim(self, result: JpegAtBudget) -> JpegAtBudget:
        """result with its SSIM filled in (computed once per image and quality)."""
        key = (result.subsampling, result.quality)
        with self._lock:
            known = self._results.get(key)
        if known is not None and known.ssim is not None:
            return known
        value = self.reference.ssim(_decode(result.data, self.grey), 255)
        if value is None:
            return result
        done = JpegAtBudget(quality=result.quality, size_bytes=result.size_bytes, psnr_db=result.psnr_db,
                            ssim=float(value), data=result.data, subsampling=result.subsampling,
                            shape=result.shape)
        with self._lock:
            self._results[key] = done
        return done

    def best_quality(self, max_bytes: int, sampling: str) -> int | None:
        """Highest quality whose file fits in max_bytes at this subsampling; None when none does."""
        if not self.fits:
            return None
        return _best_that_fits(lambda q: self.size(sampling, q), max_bytes)

    def at_budget(self, max_bytes: int, *, with_ssim: bool = True) -> JpegAtBudget | None:
        """The codec's best file in max_bytes, decoded and measured; see jpeg_at_budget."""
        if self.suffix == ".webp" or self.grey:
            sampling = "grey" if self.grey else "4:2:0"  # WebP always subsamples chroma 4:2:0
            q = self.best_quality(max_bytes, sampling)
            if q is None:
                return None
            result = self.measured(sampling, q)
        else:
            q = self.best_quality(max_bytes, "4:2:0")
            if q is None:
                return None
            result = self.measured("4:2:0", q)
            if q >= 90:
                full = self.best_quality(max_bytes, "4:4:4")
                if full is not None:
                    other = self.measured("4:4:4", full)
                    if other.psnr_db > result.psnr_db:
                        result = other
        return self.with_ssim(result) if with_ssim else result


def jpeg_at_budget(pixels_float01: np.ndarray, max_bytes: int) -> JpegAtBudget | None:
    """Highest OpenCV JPEG quality (1..100, baseline, optimised Huffman tables) whose file is at
    most max_bytes, decoded and measured against the input; None when even quality 1 is larger
    (or a side is above JPEG's 65500-pixel limit).

    Colour uses 4:2:0 chroma subsampling, as encoders do by default. Subsampling caps the
    PSNR near 40 dB, so when 4:2:0 fits at quality 90 or more, 4:4:4 is tried as well and
    the better of the two (by PSNR) is kept: JPEG is compared at its best, not its default.
    For several budgets on one image, keep one CodecLadder and call its at_budget().
    """
    return CodecLadder(pixels_float01).at_budget(max_bytes)


def webp_at_budget(pixels_float01: np.ndarray, max_bytes: int) -> JpegAtBudget | None:
    """The same for lossy WebP (OpenCV quality 1..100; WebP always subsamples chroma 4:2:0).

    None when quality 1 does not fit or a side is above WebP's 16383-pixel limit."""
    return CodecLadder(pixels_float01, suffix=".webp").at_budget(max_bytes)
