"""Large colour test photos for whole-process benchmarks, written outside the repository.

A sample photo (../shared/images/coffee.png, CC0) is cropped to the target's aspect ratio,
enlarged with OpenCV INTER_CUBIC and given a little Gaussian noise (σ = 2/255, fixed seed)
so that its spectrum is less smooth than a plain enlargement's, then saved as a quality-95
JPEG, as a camera would. Say "enlarged photo" beside every figure measured on these.

    python -m tests.benchmarks.photos /tmp/photos     # writes 1.76mp.jpg, 8mp.jpg, 18mp.jpg
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT.parent / "shared" / "images" / "coffee.png"
if not SOURCE.exists():  # a fresh clone without the shared folder: the bundled sample
    SOURCE = ROOT / "core" / "data" / "astronaut.png"

# name → (width, height): the sizes of issue 10's table.
SIZES = {"1.76mp": (1680, 1050), "8mp": (3840, 2160), "18mp": (5640, 3172)}
NOISE = 2.0 / 255


def enlarged(width: int, height: int, noise: float = NOISE) -> np.ndarray:
    """The sample cropped to width:height, enlarged (INTER_CUBIC) to width×height, uint8 BGR."""
    img = cv2.imread(str(SOURCE), cv2.IMREAD_COLOR)
    h, w = img.shape[:2]
    if w / h > width / height:
        keep = round(h * width / height)
        img = img[:, (w - keep) // 2:(w - keep) // 2 + keep]
    else:
        keep = round(w * height / width)
        img = img[(h - keep) // 2:(h - keep) // 2 + keep]
    big = cv2.resize(img.astype(np.float32) / 255, (width, height), interpolation=cv2.INTER_CUBIC)
    if noise:
        big += np.random.default_rng(0).normal(0, noise, big.shape).astype(np.float32)
    return np.clip(np.rint(big * 255), 0, 255).astype(np.uint8)


def write(folder: str | Path, names=tuple(SIZES)) -> dict[str, Path]:
    """Write the photos named (keys of SIZES) into folder as JPEG; existing ones are kept."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in names:
        path = folder / f"{name}.jpg"
        if not path.exists():
            ok, buf = cv2.imencode(".jpg", enlarged(*SIZES[name]), [cv2.IMWRITE_JPEG_QUALITY, 95])
            assert ok
            path.write_bytes(buf.tobytes())
        out[name] = path
    return out


if __name__ == "__main__":
    for name, path in write(sys.argv[1] if len(sys.argv) > 1 else "/tmp/photos").items():
        print(name, path, f"{path.stat().st_size:,} bytes")
