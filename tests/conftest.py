"""Shared fixtures: small real photographs and writers for generated test images."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

# The same floating-point results on every x86 machine, so that snapshots holding sizes and
# colours computed from an SVD do not change with the CPU (an AMD and an Intel machine gave .svdz
# sizes tens of bytes apart and preview colours one unit apart): MKL's vendor-independent code
# path, bit for bit whatever its threads, and a fixed thread count (torch's SVD differed between
# one and two threads even then). Set before torch is imported: its MKL reads them once.
os.environ["MKL_CBWR"] = "COMPATIBLE,STRICT"
os.environ["OMP_NUM_THREADS"] = "2"

import cv2
import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "core" / "data" / "astronaut.png"


def write_png(path: Path, array: np.ndarray) -> Path:
    """Write an RGB(A) or grey uint8/uint16 array as PNG (OpenCV wants BGR order)."""
    arr = array
    if arr.ndim == 3 and arr.shape[2] == 3:
        arr = arr[..., ::-1]
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[..., [2, 1, 0, 3]]
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(arr))
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def pil_bytes(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def photo_rgb() -> np.ndarray:
    """A 96×128 crop of the bundled photo, uint8 RGB: real structure, small enough to be fast."""
    bgr = cv2.imread(str(SAMPLE), cv2.IMREAD_COLOR)
    return np.ascontiguousarray(bgr[40:136, 180:308, ::-1])


@pytest.fixture
def photo_png(tmp_path, photo_rgb) -> Path:
    return write_png(tmp_path / "photo.png", photo_rgb)


@pytest.fixture
def grey_png(tmp_path, photo_rgb) -> Path:
    grey = cv2.cvtColor(photo_rgb, cv2.COLOR_RGB2GRAY)
    return write_png(tmp_path / "grey.png", grey)


def classic_procedure(original: np.ndarray, rank: int, top: int = 255) -> dict:
    """The classic SVD compression, written independently with numpy in float64.

    original: uint8/uint16 H×W or H×W×3. Returns the saved integers, energy, relative
    error and PSNR of the saved image against the original (on the 8-bit scale).
    """
    a = original.astype(np.float64) / top
    planes = [a] if a.ndim == 2 else [a[..., c] for c in range(a.shape[2])]
    recon, kept, total = [], 0.0, 0.0
    for plane in planes:
        u, s, vt = np.linalg.svd(plane, full_matrices=False)
        recon.append((u[:, :rank] * s[:rank]) @ vt[:rank])
        kept += float(np.sum(s[:rank] ** 2))
        total += float(np.sum(s**2))
    rec = recon[0] if a.ndim == 2 else np.stack(recon, axis=-1)
    saved = np.clip(np.rint(np.clip(rec, 0, 1) * top), 0, top).astype(original.dtype)
    mse = np.mean((saved.astype(np.float64) / top - a) ** 2)
    return {
        "reconstruction": rec,
        "saved": saved,
        "energy": kept / total,
        "relative_error": float(np.sqrt(max(total - kept, 0.0) / total)),
        "psnr_db": float("inf") if mse == 0 else float(10 * np.log10(1.0 / mse)),
    }
