"""Full-range ITU-R BT.601 YCbCr (as in JPEG/JFIF) on float images in [0, 1]."""

import numpy as np

# Rows give Y, Cb, Cr from R, G, B; chroma is offset by 0.5 so every plane lies in [0, 1].
_RGB_TO_YCBCR = np.array(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], dtype=np.float64
)
_YCBCR_TO_RGB = np.linalg.inv(_RGB_TO_YCBCR)
_OFFSET = np.array([0.0, 0.5, 0.5])


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """H×W×3 RGB in [0, 1] → Y, Cb, Cr planes, each in [0, 1] (float32)."""
    return (rgb @ _RGB_TO_YCBCR.T.astype(np.float32) + _OFFSET.astype(np.float32)).astype(np.float32)


def ycbcr_to_rgb(ycc: np.ndarray) -> np.ndarray:
    """H×W×3 YCbCr (chroma offset by 0.5) → RGB (float32, not clipped)."""
    return ((ycc - _OFFSET.astype(np.float32)) @ _YCBCR_TO_RGB.T.astype(np.float32)).astype(np.float32)
