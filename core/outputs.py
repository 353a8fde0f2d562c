"""Writing results safely: checked before any work, written atomically, never over the input."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from .errors import OutputError, display_path
from .files import LOOP, missing_reason
from .pixels import to_integer
from .runtime import quiet_opencv, umask

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
CONTAINER_SUFFIX = ".svdz"
OUTPUT_SUFFIXES = IMAGE_SUFFIXES + (CONTAINER_SUFFIX,)


JPEG_QUALITY = 95
PNG_COMPRESSION = 6  # zlib's default level: the size a person gets from most tools


def output_kind(path: str | Path) -> str:
    """"image" or "svdz" by suffix; OutputError for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix == CONTAINER_SUFFIX:
        return "svdz"
    shown = suffix or "no suffix"
    raise OutputError(f"{display_path(path)}: unknown output type ({shown}); use one of {', '.join(OUTPUT_SUFFIXES)}")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)  # same device and inode: catches links and other spellings
    except OSError:
        return False


def check_output(path: str | Path, *inputs: str | Path, allowed: tuple[str, ...] = OUTPUT_SUFFIXES) -> Path:
    """Refuse, before anything is computed, an output that could not or must not be written.

    Checks the suffix, that it is not any input (by inode, so another path to the same
    file is caught), not a directory, and that its folder exists and is writable.
    """
    path = Path(path)
    output_kind(path)
    if path.suffix.lower() not in allowed:
        raise OutputError(f"{display_path(path)}: this command writes {', '.join(allowed)} files, not {path.suffix}")
    try:
        for given in inputs:
            src = Path(given)
            # os.path.realpath, not Path.resolve: on Python 3.12 resolve raises RuntimeError on a symlink loop
            if _same_file(path, src) or os.path.realpath(path) == os.path.realpath(src):
                raise OutputError(f"{display_path(path)}: refusing to write over the input {display_path(src)}")
        if path.is_dir():
            raise OutputError(f"{display_path(path)}: is a directory")
        if path.exists() and not path.is_file():
            # The finished file is renamed into place: a FIFO or a device there would be replaced, not written to.
            raise OutputError(f"{display_path(path)}: not a regular file (a pipe, device or socket); "
                              "name a file to write")
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir():
            if missing_reason(folder) == LOOP:
                raise OutputError(f"{display_path(path)}: the folder {display_path(folder)} is {LOOP}")
            raise OutputError(f"{display_path(path)}: the folder {display_path(folder)} does not exist")
        if path.is_symlink() and not path.exists():
            # A dangling link or a loop: os.replace would swap the link itself for the file. Say so instead.
            reason = missing_reason(path)
            if reason != LOOP:
                reason = f"a symbolic link to {display_path(os.readlink(path))}, which does not exist"
            raise OutputError(f"{display_path(path)}: is {reason}; remove the link or name another file")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise OutputError(f"{display_path(path)}: the folder {display_path(folder)} is not writable")
    except OSError as exc:  # e.g. a file name too long for the file system, a symlink loop
        raise OutputError(f"{display_path(path)}: cannot be written ({_describe(exc)})") from None
    return path


def encode_image(pixels: np.ndarray, suffix: str, bit_depth: int = 8) -> bytes:
    """Encode float [0, 1] pixels (H×W or H×W×3 RGB) by suffix.

    PNG keeps 16 bits where the input had them; JPEG (quality 95) and WebP (lossless)
    are 8-bit formats.
    """
    suffix = _image_suffix(suffix)
    ints = to_integer(pixels, bit_depth if suffix == ".png" else 8)
    if ints.ndim == 3:
        ints = np.ascontiguousarray(ints[..., ::-1])  # RGB -> OpenCV's BGR
    return encode_samples(ints, suffix)


def _image_suffix(suffix: str) -> str:
    suffix = suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise OutputError(f"cannot encode {suffix or 'a file without suffix'} as an image")
    return suffix


def encode_samples(ints: np.ndarray, suffix: str) -> bytes:
    """Encode integer samples already rounded for the format (uint8, or uint16 for PNG), H×W or
    H×W×3 in OpenCV's BGR order, by suffix: the encoder encode_image uses, for callers that
    keep the integers (core.measure rounds a rank once for its PNG, PSNR and SSIM)."""
    quiet_opencv()
    suffix = _image_suffix(suffix)
    if suffix == ".png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION]
    elif suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    else:
        params = [cv2.IMWRITE_WEBP_QUALITY, 101]  # above 100 means lossless
    ok, buf = cv2.imencode(suffix, ints, params)
    if not ok:
        raise OutputError(f"OpenCV could not encode the image as {suffix}")
    return buf.tobytes()


def _describe(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EROFS:
        return "the file system is read-only"
    return exc.strerror or str(exc)


def write_atomic(path: str | Path, data: bytes, *inputs: str | Path,
                 before_replace: Callable[[], None] | None = None) -> Path:
    """Write data to path via a temporary file in the same folder, fsync, then rename over.

    On any failure the temporary file is removed and the destination is left as it was.
    before_replace: called once the data is safely in the temporary file, just before the rename;
    if it raises, nothing is written (e.g. the CLI's "wrote ..." line, when stdout is a full disk).
    """
    path = Path(path)
    for given in inputs:  # checked again: the world may have changed since check_output
        if _same_file(path, Path(given)):
            raise OutputError(f"{display_path(path)}: refusing to write over the input {display_path(given)}")
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(f"{display_path(path)}: cannot write in {display_path(folder)} ({_describe(exc)})") from None
    try:
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp_name, 0o666 & ~umask())  # mkstemp makes 0600; give the usual mode
        except OSError as exc:
            raise OutputError(f"{display_path(path)}: could not be written ({_describe(exc)})") from None
        if before_replace is not None:
            before_replace()  # its own errors are its caller's (a broken pipe is not a disk problem)
        try:
            os.replace(tmp_name, path)
        except OSError as exc:
            raise OutputError(f"{display_path(path)}: could not be written ({_describe(exc)})") from None
    except BaseException:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise
    return path


def write_image(path: str | Path, pixels: np.ndarray, bit_depth: int = 8, *inputs: str | Path) -> Path:
    """Encode by suffix and write atomically."""
    path = Path(path)
    return write_atomic(path, encode_image(pixels, path.suffix, bit_depth), *inputs)
