"""The decoder: image files (and .svdz files) read into float32 [0, 1] arrays.

Files are read as bytes and decoded by OpenCV (so non-ASCII paths work on every
platform). Pillow only reads headers: the declared size (checked against a pixel
limit before anything is decoded), the frame count and the EXIF orientation, which
OpenCV ignores when asked for the unchanged samples (bit depth and alpha).
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from . import svdz
from .errors import ContainerError, ImageError, display_path
from .files import read_file
from .pixels import DEFAULT_MAX_PIXELS, ImageShape, to_integer
from .runtime import quiet_opencv

MODES = ("grey", "colour")
BACKGROUND = "white"  # transparent pixels are composited on this
SVDZ_SUFFIX = ".svdz"

# Pillow modes whose pixels carry no colour: such files load as one channel even in colour mode.
_GREY_PIL_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


@dataclass(frozen=True)
class SourceImage(ImageShape):
    """An image as loaded: pixels plus what a person should know about how."""

    path: Path
    pixels: np.ndarray  # float32, H×W (grey) or H×W×3 (RGB), in [0, 1]
    bit_depth: int  # 8 or 16: the depth results are saved back at (16 for float files)
    file_bytes: int
    notes: tuple[str, ...] = ()  # e.g. "transparent pixels composited on white"
    mode: str = "colour"  # the mode asked for: "grey" or "colour"
    format: str = ""  # e.g. "PNG", "JPEG", "SVDZ" ("" when unknown)
    stored_ranks: tuple[int, ...] = ()  # for a .svdz: the rank of each channel the file keeps
    float_bits: int = 0  # 32 or 64 for a file of float samples (kept as they are), else 0

    @property
    def channels(self) -> int:
        return 1 if self.pixels.ndim == 2 else self.pixels.shape[2]

    @property
    def raw_bytes(self) -> int:
        """H·W·C bytes of samples (two per sample for 16-bit images, four or eight for float files)."""
        per_sample = self.float_bits // 8 if self.float_bits else (2 if self.bit_depth == 16 else 1)
        return self.height * self.width * self.channels * per_sample


def sample_image_path() -> Path:
    """The bundled sample photograph (NASA, public domain)."""
    return Path(__file__).parent / "data" / "astronaut.png"


@dataclass
class _Header:
    format: str = ""
    width: int = 0
    height: int = 0
    frames: int = 1
    orientation: int = 1
    pil_mode: str = ""
    too_large: bool = False  # Pillow refused it as a decompression bomb (size unknown but huge)


def _probe(data: bytes) -> _Header | None:
    """What Pillow can tell from the header without decoding pixels; None if it cannot parse it."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DecompressionBombWarning: we apply our own limit
            im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        return _Header(too_large=True)
    except Exception:  # noqa: BLE001 - any parse failure just means "ask OpenCV"
        return None
    head = _Header(format=im.format or "", width=im.width, height=im.height, pil_mode=im.mode)
    return head


def _frames_and_orientation(data: bytes, head: _Header) -> None:
    """Frame count and EXIF orientation; read only after the size passed the limit."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(io.BytesIO(data))
            head.frames = int(getattr(im, "n_frames", 1) or 1)
            im.seek(0)
            orientation = im.getexif().get(0x0112, 1)
        head.orientation = int(orientation) if int(orientation) in range(1, 9) else 1
    except Exception:  # noqa: BLE001 - a broken EXIF block or frame table: decode what OpenCV can
        pass


def _verify_png(path: Path, data: bytes) -> None:
    """Check every chunk's CRC up to IEND first: libpng prints to stderr (where the app draws) on broken files."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Image.open(io.BytesIO(data)).verify()
    except Exception as exc:  # noqa: BLE001 - Pillow raises SyntaxError, OSError, struct.error...
        reason = str(exc).strip() or type(exc).__name__
        raise ImageError(f"{display_path(path)}: a corrupt or truncated PNG file ({reason[:100]})") from None


def _apply_orientation(raw: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels upright as EXIF orientation 1–8 says (as Pillow's exif_transpose)."""
    if orientation == 2:
        return raw[:, ::-1]
    if orientation == 3:
        return raw[::-1, ::-1]
    if orientation == 4:
        return raw[::-1]
    if orientation == 5:
        return raw.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(raw, -1)
    if orientation == 7:
        return raw.swapaxes(0, 1)[::-1, ::-1]
    if orientation == 8:
        return np.rot90(raw, 1)
    return raw


def _too_large(path: Path, width: int, height: int, max_pixels: int) -> ImageError:
    return ImageError(
        f"{display_path(path)}: {width}×{height} = {width * height:,} pixels is above the limit of "
        f"{max_pixels:,} pixels "
        f"(raise it with --max-pixels)"
    )


def _read_svdz(path: Path, data: bytes, mode: str, max_pixels: int) -> SourceImage:
    try:
        decoded = svdz.decode(data, max_pixels=max_pixels)
    except ContainerError as exc:
        if path.suffix.lower() != SVDZ_SUFFIX:  # sniffed from the zip signature only
            raise ImageError(f"{display_path(path)}: not an image (a zip archive that is not a readable "
                             ".svdz file)") from None
        raise ImageError(f"{display_path(path)}: {exc}") from None
    bit_depth = int(decoded.bit_depth)
    pixels = np.asarray(decoded.pixels, dtype=np.float32)
    notes = [f"decoded from .svdz (ranks {', '.join(str(r) for r in decoded.ranks)}, {decoded.colour_space})"]
    if mode == "grey" and pixels.ndim == 3:
        ints = to_integer(pixels, bit_depth)
        pixels = _scale(cv2.cvtColor(np.ascontiguousarray(ints[..., ::-1]), cv2.COLOR_BGR2GRAY))
        notes.append("converted to grey (BT.601 luma)")
    return SourceImage(path=path, pixels=np.ascontiguousarray(pixels), bit_depth=bit_depth, file_bytes=len(data),
                       notes=tuple(notes), mode=mode, format="SVDZ", stored_ranks=tuple(decoded.ranks))


def _scale(ints: np.ndarray) -> np.ndarray:
    if ints.dtype.kind == "f":  # float samples, already checked to lie on [0, 1]
        return ints.astype(np.float32)
    top = 65535.0 if ints.dtype == np.uint16 else 255.0
    return (ints.astype(np.float32) / np.float32(top)).astype(np.float32)


def read_image(path: str | Path, mode: str = "colour", *, max_pixels: int = DEFAULT_MAX_PIXELS,
               capture_decoder_messages: bool = False) -> SourceImage:
    """Load an image file as float32 [0, 1]: H×W for mode "grey", H×W×3 RGB (or H×W for grey files) for "colour".

    Every failure raises ImageError with one line naming the file and the reason.
    capture_decoder_messages: libjpeg prints warnings about damaged data ("Corrupt JPEG
    data: ...") straight to file descriptor 2. With True, fd 2 is redirected while
    decoding and such a warning becomes a note. Only for single-threaded callers such as
    the CLI: an app drawing on stderr from another thread would lose its output meanwhile.
    """
    if mode not in MODES:
        raise ImageError(f"unknown mode {mode!r}: use grey or colour")
    quiet_opencv()
    path = Path(path)
    data = read_file(path, ImageError, "an image")
    # .svdz is a zip archive: the bytes decide, so a renamed file of either kind still opens.
    mislabelled = path.suffix.lower() == SVDZ_SUFFIX and not data.startswith(b"PK\x03\x04") and _sniff(data)
    if not mislabelled and (path.suffix.lower() == SVDZ_SUFFIX or data.startswith(b"PK\x03\x04")):
        return _read_svdz(path, data, mode, max_pixels)
    src = _read_picture(path, data, mode, max_pixels, capture_decoder_messages)
    if mislabelled:
        src = replace(src, notes=(f"named {SVDZ_SUFFIX} but holds a {mislabelled} image",) + src.notes)
    return src


def _read_picture(path: Path, data: bytes, mode: str, max_pixels: int, capture_decoder_messages: bool) -> SourceImage:
    """read_image for the bytes of a picture file (anything but .svdz)."""

    head = _probe(data)
    if head is not None:
        if head.too_large:
            # Pillow refuses sizes above twice its own limit; a caller who raised ours past that gets OpenCV's check.
            if max_pixels < 2 * _pillow_limit():
                raise ImageError(f"{display_path(path)}: the header declares an enormous image, above the limit of "
                                 f"{max_pixels:,} pixels (raise it with --max-pixels)")
            head = None
        elif head.width * head.height > max_pixels:
            raise _too_large(path, head.width, head.height, max_pixels)
        elif head.width < 1 or head.height < 1:
            raise ImageError(f"{display_path(path)}: the header declares an image with no pixels")
        else:
            if head.format == "PNG":
                _verify_png(path, data)
            _frames_and_orientation(data, head)
    decoder_said: list[str] = []
    try:
        with _decoder_messages(decoder_said, capture_decoder_messages):
            raw = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        if "CV_IO_MAX_IMAGE" in str(exc):  # OpenCV's own size check, for headers Pillow could not read
            raise ImageError(f"{display_path(path)}: the header declares an image larger than OpenCV decodes "
                             f"(over {1 << 30:,} pixels)") from None
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "decoder error"
        raise ImageError(f"{display_path(path)}: OpenCV could not decode it ({reason[:120]})") from None
    if raw is None or raw.size == 0:
        if data.startswith(_EXR_MAGIC):  # OpenCV reads EXR only when built with it and allowed by env var
            raise ImageError(f"{display_path(path)}: OpenEXR files cannot be read here (OpenCV's EXR decoder is "
                             "not available); convert it to a 32-bit float TIFF")
        kind = head.format if head is not None and head.format else _sniff(data)
        samples = _tiff_samples(data) if kind == "TIFF" else None
        if samples is not None and samples not in _OPENCV_TIFF_SAMPLES:
            # e.g. half floats: a valid file OpenCV has no decoder for, not a damaged one
            bits, sample_format = samples
            name = _sample_name(np.dtype(f"{_TIFF_SAMPLE_KINDS.get(sample_format, 'V')}{max(bits // 8, 1)}"))
            raise ImageError(f"{display_path(path)}: {name} TIFF samples are not supported (8- or 16-bit "
                             "integers, or 32- or 64-bit floats in [0, 1])")
        if kind:
            raise ImageError(f"{display_path(path)}: a corrupt or truncated {kind} file (OpenCV cannot decode it)")
        raise ImageError(f"{display_path(path)}: not a readable image (corrupt, truncated, or not an image at all)")
    if raw.shape[0] * raw.shape[1] > max_pixels:
        raise _too_large(path, raw.shape[1], raw.shape[0], max_pixels)
    src = _from_decoded(path, raw, head, mode, len(data))
    if decoder_said:
        kind = src.format or "image"
        note = f"the {kind} decoder warned: {decoder_said[0][:100]}"  # e.g. "Corrupt JPEG data: ..."
        src = replace(src, notes=src.notes + (note,))
    return src


@contextmanager
def _decoder_messages(said: list[str], capture: bool):
    """Collect what C decoders print on fd 2 while decoding (when asked), as lines in `said`."""
    saved = -1
    if capture:
        try:
            if sys.stderr is not None:
                sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no fd 2 to redirect (closed stderr): nothing to capture either
            saved = -1
    if saved < 0:
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read(4096).decode("utf-8", "replace")
            said.extend(line.strip() for line in text.splitlines() if line.strip())


_EXR_MAGIC = b"v/1\x01"
_MAGIC = ((b"\x89PNG", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF8", "GIF"), (b"II*\x00", "TIFF"),
          (b"MM\x00*", "TIFF"), (b"BM", "BMP"))


def _sniff(data: bytes) -> str:
    """The format a file's first bytes claim, for a useful message when even its header is broken."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return next((name for magic, name in _MAGIC if data.startswith(magic)), "")


_TIFF_SAMPLE_KINDS = {1: "u", 2: "i", 3: "f"}  # TIFF tag 339 SampleFormat -> numpy kind
# What OpenCV's TIFF decoder reads, as (bits per sample, SampleFormat).
_OPENCV_TIFF_SAMPLES = {(1, 1), (8, 1), (16, 1), (32, 1), (64, 1), (8, 2), (16, 2), (32, 2), (32, 3), (64, 3)}


def _tiff_samples(data: bytes) -> tuple[int, int] | None:
    """(bits per sample, SampleFormat) of a TIFF's first image, read by Pillow's tag parser; None if unreadable."""
    from PIL import TiffImagePlugin

    try:
        stream = io.BytesIO(data)
        ifd = TiffImagePlugin.ImageFileDirectory_v2(data[:8])
        stream.seek(ifd.next)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Truncated File Read": the caller says so in its own words
            ifd.load(stream)
        bits = ifd.get(258, (1,))
        sample_format = ifd.get(339, (1,))
        return int(bits[0]), int(sample_format[0])
    except Exception:  # noqa: BLE001 - a damaged header: the caller says "corrupt or truncated"
        return None


def _pillow_limit() -> int:
    from PIL import Image

    return int(Image.MAX_IMAGE_PIXELS or 0)


def _from_decoded(path: Path, raw: np.ndarray, head: _Header | None, mode: str, file_bytes: int) -> SourceImage:
    notes: list[str] = []
    float_bits = 0
    if raw.dtype == np.uint8:
        bit_depth, top = 8, 255
    elif raw.dtype == np.uint16:
        bit_depth, top = 16, 65535
    elif raw.dtype in (np.float32, np.float64):
        # Float images (science, HDR tools) whose samples are already on [0, 1] are used as they are;
        # results are saved at 16 bits, the finest integer depth the writers have.
        float_bits = raw.dtype.itemsize * 8
        raw = _checked_floats(path, raw)
        bit_depth, top = 16, 1.0
        notes.append(f"{float_bits}-bit float samples used as they are (results are saved at 16 bits)")
    else:
        raise ImageError(f"{display_path(path)}: {_sample_name(raw.dtype)} samples are not supported (8- or 16-bit "
                         "integers, or 32- or 64-bit floats in [0, 1])")
    if raw.ndim == 3 and raw.shape[2] == 1:
        raw = raw[..., 0]
    if raw.ndim == 3 and raw.shape[2] == 2:  # grey + alpha, as some decoders give it
        raw = np.concatenate([np.repeat(raw[..., :1], 3, axis=2), raw[..., 1:]], axis=2)
    if raw.ndim not in (2, 3) or (raw.ndim == 3 and raw.shape[2] not in (3, 4)):
        raise ImageError(f"{display_path(path)}: images with {raw.shape[-1]} channels are not supported")

    if head is not None:
        if head.frames > 1:
            notes.append(f"first of {head.frames} frames used")
        if head.orientation != 1:
            raw = _apply_orientation(raw, head.orientation)
            notes.append(f"EXIF orientation {head.orientation} applied")
        if head.pil_mode == "CMYK":
            notes.append("CMYK converted to RGB")
        if head.pil_mode == "P":
            notes.append("palette colours expanded")
    raw = np.ascontiguousarray(raw)

    if raw.ndim == 3 and raw.shape[2] == 4:
        alpha = raw[..., 3]
        bgr = raw[..., :3]
        if alpha.min() < top:
            # Composite in float, then round back to the file's integers: the result is what an
            # opaque copy of the image on a white page holds, so full rank gives it back exactly.
            a = alpha.astype(np.float32)[..., None] / np.float32(top)
            mixed = bgr.astype(np.float32) * a + np.float32(top) * (1.0 - a)
            if raw.dtype.kind == "f":
                bgr = np.clip(mixed, 0, 1).astype(np.float32)
            else:
                bgr = np.clip(np.rint(mixed), 0, top).astype(raw.dtype)
            notes.append(f"transparent pixels composited on {BACKGROUND}")
        raw = np.ascontiguousarray(bgr)

    grey_source = raw.ndim == 2 or (head is not None and head.pil_mode in _GREY_PIL_MODES)
    if raw.ndim == 3 and grey_source and mode == "colour":
        raw = np.ascontiguousarray(raw[..., 0])  # a grey file decoded as three equal planes
    if raw.ndim == 3 and mode == "grey":
        # The classic procedure's grey: BT.601 luma as OpenCV's cvtColor computes it, on the integers.
        raw = cv2.cvtColor(raw, cv2.COLOR_BGR2GRAY)
        notes.append("converted to grey (BT.601 luma)")
    if raw.ndim == 3:
        raw = np.ascontiguousarray(raw[..., ::-1])  # BGR -> RGB
    return SourceImage(path=path, pixels=_scale(raw), bit_depth=bit_depth, file_bytes=file_bytes,
                       notes=tuple(notes), mode=mode, format=(head.format if head is not None else ""),
                       float_bits=float_bits)


def _sample_name(dtype: np.dtype) -> str:
    """A sample type as a person says it: "32-bit signed integer", "16-bit float"."""
    kind = {"u": "unsigned integer", "i": "signed integer", "f": "float"}.get(dtype.kind, str(dtype))
    return f"{dtype.itemsize * 8}-bit {kind}"


def _checked_floats(path: Path, raw: np.ndarray) -> np.ndarray:
    """Float samples as float32 if they are finite and on [0, 1]; ImageError naming what was found otherwise."""
    finite = np.isfinite(raw)
    if not finite.all():
        bad = int(raw.size - np.count_nonzero(finite))
        raise ImageError(f"{display_path(path)}: {bad:,} of {raw.size:,} float samples are NaN or infinite "
                         "(only finite samples in [0, 1] can be used)")
    low, high = float(raw.min()), float(raw.max())
    if low < 0 or high > 1:
        raise ImageError(f"{display_path(path)}: float samples range from {low:.6g} to {high:.6g}, outside [0, 1] "
                         "(scale them to [0, 1] first)")
    return raw.astype(np.float32)


def load_image(path: str | Path, mode: str = "colour", *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Float32 pixels in [0, 1]: H×W for mode "grey", H×W×3 RGB for "colour" (H×W for grey files)."""
    return read_image(path, mode, max_pixels=max_pixels).pixels

