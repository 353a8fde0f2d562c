"""The error map: where a rank loses detail, shown in a perceptual colour map.

Works on two uint8 images of the same region and size (H×W or H×W×3): either every
image pixel of the region (then averaged per display pixel by the caller) or, for regions
too large to reconstruct at once, the two shrunk previews, where averaging hides some
fine-grained error.
"""

from __future__ import annotations

import numpy as np

GAINS = (1, 2, 4, 8, 16, 32)
DEFAULT_GAIN = 8


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
