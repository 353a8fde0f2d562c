"""Makes the benchmark's folder of photos: 20 JPEGs of 2–8 MP, upscaled and cropped from ../shared/images.

The photographs there are 0.1–2 MP, so each is enlarged (bicubic) and cropped to a 4:3 or 3:2
frame with OpenCV; the folder lives outside the repository (the caller gives it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

SOURCES = Path(__file__).resolve().parents[3] / "shared" / "images"
FALLBACK_SOURCES = Path("/work/shared/images")


def source_photos() -> list[Path]:
    folder = SOURCES if SOURCES.is_dir() else FALLBACK_SOURCES
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))


def make_photos(folder: Path, count: int = 20, low_mp: float = 2.0, high_mp: float = 8.0) -> list[Path]:
    """count JPEGs (quality 92) whose sizes step evenly from low_mp to high_mp megapixels."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = source_photos()
    out = []
    for i in range(count):
        megapixels = low_mp + (high_mp - low_mp) * i / max(1, count - 1)
        aspect = (4, 3) if i % 2 == 0 else (3, 2)
        height = int(round((megapixels * 1e6 * aspect[1] / aspect[0]) ** 0.5))
        width = int(round(height * aspect[0] / aspect[1]))
        image = cv2.imread(str(sources[i % len(sources)]), cv2.IMREAD_COLOR)
        # Enlarge until it covers the frame, then crop the middle: the photo keeps its proportions.
        scale = max(width / image.shape[1], height / image.shape[0])
        big = cv2.resize(image, (int(np.ceil(image.shape[1] * scale)), int(np.ceil(image.shape[0] * scale))),
                         interpolation=cv2.INTER_CUBIC)
        top, left = (big.shape[0] - height) // 2, (big.shape[1] - width) // 2
        crop = np.ascontiguousarray(big[top:top + height, left:left + width])
        path = folder / f"photo-{i + 1:02d}-{width}x{height}.jpg"
        ok, data = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 92])
        assert ok
        path.write_bytes(data.tobytes())
        out.append(path)
    return out


if __name__ == "__main__":
    for made in make_photos(Path(sys.argv[1])):
        print(made)
