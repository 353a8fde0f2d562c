"""The error map: where a rank loses detail, shown in a perceptual colour map.

Works on two previews of the same region at the same size (uint8, H×W or H×W×3),
so it is measured at preview resolution: at zoom 1:1 and above that is one image
pixel per preview pixel; below 1:1 each preview pixel is an area average, and
averaging hides some fine-grained error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GAINS = (1, 2, 4, 8, 16, 32)
DEFAULT_GAIN = 8
COLORMAP_NAME = "inferno"


@dataclass(frozen=True)
class ErrorMap:
    rgb: np.ndarray  # uint8 H×W×3, the amplified error in the colour map
    error: np.ndarray  # float32 H×W, |original − reconstruction| averaged over channels, in [0, 1]
    max_error: float  # largest value of `error`, as a share of full scale [0, 1]
    max_at: tuple[int, int]  # (x, y) of that pixel in the preview


def abs_error(original: np.ndarray, reconstruction: np.ndarray) -> np.ndarray:
    """|original − reconstruction| per pixel, mean over channels, as a share of full scale."""
    if original.shape != reconstruction.shape:
        raise ValueError(f"previews differ in shape: {original.shape} vs {reconstruction.shape}")
    diff = np.abs(original.astype(np.int16) - reconstruction.astype(np.int16)).astype(np.float32)
    if diff.ndim == 3:
        diff = diff.mean(axis=-1)
    return diff / 255.0


def colourise(error: np.ndarray, gain: float) -> np.ndarray:
    """error × gain (clipped to full scale) in OpenCV's inferno colour map, as RGB uint8."""
    import cv2  # imported here: only the error view needs it, and the import is not free

    levels = np.clip(np.rint(error * gain * 255.0), 0, 255).astype(np.uint8)
    bgr = cv2.applyColorMap(levels, cv2.COLORMAP_INFERNO)
    return np.ascontiguousarray(bgr[..., ::-1])


def error_map(original: np.ndarray, reconstruction: np.ndarray, gain: float = DEFAULT_GAIN) -> ErrorMap:
    error = abs_error(original, reconstruction)
    flat = int(np.argmax(error))
    y, x = divmod(flat, error.shape[1])
    return ErrorMap(rgb=colourise(error, gain), error=error, max_error=float(error[y, x]), max_at=(x, y))
