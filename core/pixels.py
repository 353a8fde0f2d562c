"""Samples on a bit depth's grid: rounding [0, 1] floats to the integers a file holds, and back.

A leaf module (it imports nothing else of core) so that the decoder, the container, the
writers and the measurements share one rounding without importing each other.
"""

from __future__ import annotations

import numpy as np

DEFAULT_MAX_PIXELS = 100_000_000  # refuse larger images unless the caller raises the limit


def to_integer(pixels: np.ndarray, bit_depth: int = 8) -> np.ndarray:
    """Round [0, 1] floats to uint8 (or uint16 where the input was 16-bit)."""
    top = 65535 if bit_depth == 16 else 255
    return np.clip(np.rint(pixels * top), 0, top).astype(np.uint16 if bit_depth == 16 else np.uint8)


def as_saved(pixels: np.ndarray, bit_depth: int = 8) -> np.ndarray:
    """The pixels a file at bit_depth would hold, back on [0, 1] as float32: what quality is measured on."""
    top = np.float32(65535.0 if bit_depth == 16 else 255.0)
    return to_integer(pixels, bit_depth).astype(np.float32) / top


class ImageShape:
    """`shape`, `height` and `width` for a class that keeps an image array (in `pixels` unless `_ARRAY` names
    another attribute): one definition for the loaded image, the decoded .svdz and the decomposition."""

    _ARRAY = "pixels"

    @property
    def shape(self) -> tuple[int, ...]:
        return getattr(self, self._ARRAY).shape

    @property
    def height(self) -> int:
        return self.shape[0]

    @property
    def width(self) -> int:
        return self.shape[1]
