"""A hostile corpus: bad, odd and awkward files, generated into a folder (nothing binary is committed).

`build_corpus(folder)` writes every file and returns one `Case` per file saying what a correct
program does with it: load it ("ok", with the note a person should see), or refuse it ("bad",
with a word of the reason). "either" is for damage a decoder may legitimately repair (a JPEG
with flipped bytes in its scan data decodes to a picture with a smear).
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

SAMPLE = Path(__file__).resolve().parents[1] / "core" / "data" / "astronaut.png"


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    expect: str  # "ok", "bad" or "either"
    reason: str = ""  # for "bad": a word the one-line error must contain
    note: str = ""  # for "ok": a word one of the loading notes must contain
    shape: tuple[int, ...] | None = None  # for "ok": the pixels' shape in colour mode
    bit_depth: int = 8
    tags: frozenset[str] = field(default_factory=frozenset)


def small_photo(width: int = 32, height: int = 24) -> np.ndarray:
    """A width×height RGB uint8 crop of the bundled photo: real structure, tiny."""
    bgr = cv2.imread(str(SAMPLE), cv2.IMREAD_COLOR)
    return np.ascontiguousarray(bgr[60:60 + height, 200:200 + width, ::-1])


def _cv(suffix: str, array: np.ndarray, params=()) -> bytes:
    arr = array[..., ::-1] if array.ndim == 3 and array.shape[2] == 3 else array
    ok, buf = cv2.imencode(suffix, np.ascontiguousarray(arr), list(params))
    assert ok, suffix
    return buf.tobytes()


def _pil(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG signature and IHDR declaring width×height, then a token IDAT: nothing to allocate for."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _chunk(
        b"IEND", b"")


def jpeg_with_size(data: bytes, width: int, height: int) -> bytes:
    """A real baseline JPEG whose SOF0 marker is rewritten to declare width×height."""
    at = data.index(b"\xff\xc0")
    patched = bytearray(data)
    patched[at + 5:at + 9] = struct.pack(">HH", height, width)
    return bytes(patched)


def _flip(data: bytes, positions, value: int = 0x5A) -> bytes:
    out = bytearray(data)
    for p in positions:
        out[p] ^= value
    return bytes(out)


def build_corpus(folder: Path) -> list[Case]:
    """Write the hostile corpus into folder; every file is small (the bombs only declare their size)."""
    folder.mkdir(parents=True, exist_ok=True)
    rgb = small_photo()
    h, w = rgb.shape[:2]
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    cases: list[Case] = []

    def add(name: str, data: bytes | None, expect: str, **kw) -> None:
        path = folder / name
        if data is not None:
            path.write_bytes(data)
        cases.append(Case(name, path, expect, **kw))

    png, jpg = _cv(".png", rgb), _cv(".jpg", rgb, [cv2.IMWRITE_JPEG_QUALITY, 90])
    webp = _cv(".webp", rgb, [cv2.IMWRITE_WEBP_QUALITY, 80])

    # -- not an image at all
    add("missing.png", None, "bad", reason="no such file")
    (folder / "a folder.png").mkdir()
    add("a folder.png", None, "bad", reason="directory")
    add("empty.png", b"", "bad", reason="empty")
    add("text.png", b"just some notes, not a picture\n", "bad", reason="not a readable image")
    add("text.jpg", b"<html><body>404 Not Found</body></html>\n", "bad", reason="not a readable image")
    # -- damaged
    add("truncated.png", png[: len(png) // 2], "bad", reason="PNG")
    add("truncated.jpg", jpg[: len(jpg) // 3], "bad", reason="JPEG")
    add("truncated.webp", webp[: len(webp) // 2], "bad", reason="WebP")
    add("header only.png", png[:33], "bad", reason="PNG")
    add("bad crc.png", _flip(png, [60]), "bad", reason="corrupt or truncated PNG")
    add("bad header.webp", _flip(webp, range(12, 30)), "bad", reason="WebP")
    add("smeared.jpg", _flip(jpg, range(len(jpg) // 2, len(jpg) // 2 + 8)), "either", reason="JPEG")
    add("no marker.jpg", jpg[2:], "bad", reason="not a readable image")
    # -- enormous declared sizes: refused before a byte of pixels is allocated
    add("bomb.png", png_header_only(100_000, 90_000), "bad", reason="--max-pixels", tags=frozenset({"bomb"}))
    add("bomb.jpg", jpeg_with_size(jpg, 60_000, 60_000), "bad", reason="--max-pixels", tags=frozenset({"bomb"}))
    add("big.png", png_header_only(12_000, 10_000), "bad", reason="--max-pixels", tags=frozenset({"bomb"}))
    # -- awkward but valid: each loads, correctly
    add("one pixel.png", _cv(".png", rgb[:1, :1]), "ok", shape=(1, 1, 3))
    add("one row.png", _cv(".png", rgb[:1]), "ok", shape=(1, w, 3))
    add("one column.jpg", _cv(".jpg", rgb[:, :1]), "ok", shape=(h, 1, 3))
    add("grey 16-bit.png", _cv(".png", grey.astype(np.uint16) * 257 + 3), "ok", shape=(h, w), bit_depth=16)
    add("rgb 16-bit.png", _cv(".png", rgb.astype(np.uint16) * 257), "ok", shape=(h, w, 3), bit_depth=16)
    alpha16 = np.linspace(0, 65535, w).astype(np.uint16)[None, :].repeat(h, 0)
    add("rgba 16-bit.png", _cv(".png", np.dstack([rgb[..., ::-1].astype(np.uint16) * 257, alpha16])), "ok",
        note="composited", shape=(h, w, 3), bit_depth=16)
    floats = rgb[..., ::-1].astype(np.float32) / 255  # BGR for OpenCV's writer
    add("float.tiff", _cv(".tiff", floats), "ok", note="32-bit float", shape=(h, w, 3), bit_depth=16)
    add("float grey.pfm", _cv(".pfm", floats[..., 1].copy()), "ok", note="32-bit float", shape=(h, w), bit_depth=16)
    add("float counts.tiff", _cv(".tiff", floats * 300 - 20), "bad", reason="outside [0, 1]")
    holes = floats.copy()
    holes[3, 4] = np.nan
    add("float nan.tiff", _cv(".tiff", holes), "bad", reason="NaN or infinite")
    add("uint32.tiff", _cv(".tiff", rgb.astype(np.uint32) * 65536), "bad", reason="not supported")
    alpha = np.linspace(0, 255, w, dtype=np.uint8)[None, :].repeat(h, 0)
    add("grey alpha.png", _pil(Image.fromarray(np.dstack([grey, alpha]), "LA"), "PNG"), "ok", note="composited",
        shape=(h, w))
    add("rgba.png", _pil(Image.fromarray(np.dstack([rgb, alpha]), "RGBA"), "PNG"), "ok", note="composited",
        shape=(h, w, 3))
    pal = Image.fromarray(rgb).quantize(16)
    add("palette.png", _pil(pal, "PNG", transparency=0), "ok", note="palette", shape=(h, w, 3))
    add("palette.gif", _pil(pal, "GIF"), "ok", shape=(h, w, 3))
    add("cmyk.jpg", _pil(Image.fromarray(rgb).convert("CMYK"), "JPEG", quality=95), "ok", note="CMYK",
        shape=(h, w, 3))
    frames = [Image.fromarray(np.roll(rgb, 4 * i, axis=1)).quantize(64) for i in range(3)]
    add("animated.gif", _pil(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0),
        "ok", note="first of 3 frames", shape=(h, w, 3))
    pages = [Image.fromarray(rgb), Image.fromarray(rgb[::-1].copy())]
    add("pages.tiff", _pil(pages[0], "TIFF", save_all=True, append_images=pages[1:]), "ok",
        note="first of 2 frames", shape=(h, w, 3))
    add("lossy.webp", webp, "ok", shape=(h, w, 3))
    # -- hostile paths
    (folder / "папка с пробелами").mkdir()
    add("папка с пробелами/фото 照片 é.png", png, "ok", shape=(h, w, 3))
    add("new\nline.png", b"not an image\n", "bad", reason="not a readable image")
    add("  spaces  .jpg", jpg, "ok", shape=(h, w, 3))
    # A path that goes through a regular file: open() fails with ENOTDIR, as for a vanished folder.
    (folder / "plain").write_bytes(png)
    add("plain/through a file.png", None, "bad", reason="no such file")
    # -- not a regular file (would hang or never end if read)
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / "fifo.png")
        add("fifo.png", None, "bad", reason="not a regular file", tags=frozenset({"special"}))
    if os.path.exists("/dev/zero"):
        (folder / "zero.jpg").symlink_to("/dev/zero")
        add("zero.jpg", None, "bad", reason="not a regular file", tags=frozenset({"special"}))
    return cases


# ---- .svdz files, damaged by hand ----------------------------------------------------------

def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, value in members.items():
            zf.writestr(name, value)
    return buf.getvalue()


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=True)
    return buf.getvalue()


def build_svdz_corpus(folder: Path, good: bytes) -> list[Case]:
    """Hand-damaged .svdz files made from a good one (`good`, the bytes of a real .svdz)."""
    folder.mkdir(parents=True, exist_ok=True)
    members = _members(good)
    cases: list[Case] = []

    def add(name: str, data: bytes, expect: str = "bad", reason: str = "") -> None:
        (folder / name).write_bytes(data)
        cases.append(Case(name, folder / name, expect, reason=reason))

    add("good.svdz", good, "ok")
    add("empty.svdz", b"", reason="empty")
    add("truncated.svdz", good[: len(good) // 2])
    add("flipped.svdz", _flip(good, range(len(good) // 3, len(good) // 3 + 16)))
    add("png inside.svdz", _cv(".png", small_photo()))
    add("text.svdz", b"hello\n")
    add("no u.svdz", _zip({k: v for k, v in members.items() if k != "u.npy"}))
    add("pickled u.svdz", _zip({**members, "u.npy": _npy(np.array([{"evil": 1}], dtype=object))}))
    add("huge shape.svdz", _zip({**members, "shape.npy": _npy(np.array([60_000, 60_000, 3], np.uint32))}))
    add("version 9.svdz", _zip({**members, "version.npy": _npy(np.array(9, np.uint16))}))
    add("zero rank.svdz", _zip({**members, "ranks.npy": _npy(np.zeros_like(
        np.load(io.BytesIO(members["ranks.npy"]))))}))
    return cases
