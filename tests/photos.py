"""Real photographs for the core tests: the public-domain/CC0 photos of ../shared/images, from the
copy scikit-image (a test dependency) ships, so the tests run wherever the repository is cloned."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import skimage.data

from core.imageio import load_image

IMAGES = str(Path(skimage.data.__file__).parent) + "/"


def shrunk_photo(name: str, width: int, grey: bool = False) -> np.ndarray:
    """A real photo shrunk to `width` columns (area average), float32 [0, 1]."""
    img = load_image(IMAGES + name, "grey" if grey else "colour")
    h = round(img.shape[0] * width / img.shape[1])
    return np.clip(cv2.resize(img, (width, h), interpolation=cv2.INTER_AREA), 0, 1).astype(np.float32)
