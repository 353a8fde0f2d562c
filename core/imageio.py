"""Reading images into float32 [0, 1] arrays, and writing results safely."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .errors import ImageError

MODES = ("grey", "colour")
DEFAULT_MAX_PIXELS = 100_000_000  # refuse larger images unless the caller raises the limit


@dataclass(frozen=True)
class SourceImage:
    """An image as loaded: pixels plus what a person should know about how."""

    path: Path
    pixels: np.ndarray  # float32, H×W (grey) or H×W×3 (RGB), in [0, 1]
    bit_depth: int  # 8 or 16: the depth results are saved back at
    file_bytes: int
    notes: tuple[str, ...] = ()  # e.g. "alpha composited on white"

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def channels(self) -> int:
        return 1 if self.pixels.ndim == 2 else self.pixels.shape[2]


def sample_image_path() -> Path:
    """The bundled sample photograph (NASA, public domain)."""
    return Path(__file__).parent / "data" / "astronaut.png"


def read_image(path: str | Path, mode: str = "colour", *, max_pixels: int = DEFAULT_MAX_PIXELS) -> SourceImage:
    if mode not in MODES:
        raise ImageError(f"unknown mode {mode!r}: use grey or colour")
    path = Path(path)
    try:
        data = path.read_bytes()  # bytes + imdecode: non-ASCII paths work everywhere
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a directory, not an image") from None
    except PermissionError:
        raise ImageError(f"{path}: permission denied") from None
    except OSError as exc:
        raise ImageError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not data:
        raise ImageError(f"{path}: the file is empty")
    raw = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise ImageError(f"{path}: not an image OpenCV can decode")
    if raw.size > max_pixels * 4:
        raise ImageError(f"{path}: {raw.shape[1]}×{raw.shape[0]} is above the limit of {max_pixels} pixels")
    notes = []
    if raw.dtype == np.uint8:
        bit_depth, scale = 8, 255.0
    elif raw.dtype == np.uint16:
        bit_depth, scale = 16, 65535.0
    else:
        raise ImageError(f"{path}: unsupported sample type {raw.dtype}")
    if raw.ndim == 3 and raw.shape[2] == 4:
        rgb = raw[..., :3].astype(np.float32) / scale
        alpha = raw[..., 3:4].astype(np.float32) / scale
        raw_f = rgb * alpha + (1.0 - alpha)  # composite on white
        notes.append("alpha composited on white")
        img = raw_f[..., ::-1]
    elif raw.ndim == 3:
        img = raw[..., :3][..., ::-1].astype(np.float32) / scale
    else:
        img = raw.astype(np.float32) / scale
    if mode == "grey" and img.ndim == 3:
        img = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)
    return SourceImage(path=path, pixels=np.ascontiguousarray(img, dtype=np.float32), bit_depth=bit_depth,
                       file_bytes=len(data), notes=tuple(notes))


def load_image(path: str | Path, mode: str = "colour", *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Float32 pixels in [0, 1]: H×W for mode "grey", H×W×3 RGB for "colour"."""
    return read_image(path, mode, max_pixels=max_pixels).pixels


def to_integer(pixels: np.ndarray, bit_depth: int = 8) -> np.ndarray:
    """Round [0, 1] floats to uint8 (or uint16 where the input was 16-bit)."""
    top = 65535 if bit_depth == 16 else 255
    return np.clip(np.rint(pixels * top), 0, top).astype(np.uint16 if bit_depth == 16 else np.uint8)
