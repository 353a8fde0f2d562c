"""Reading a person's file whole, safely: regular files only, with a one-line error naming it.

A FIFO would block open() and read(), and a device such as /dev/zero would be read until
memory runs out, so the file is opened without blocking and checked with fstat first.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from .errors import SvdlensError, display_path

LOOP = "a loop of symbolic links (too many levels of symbolic links)"


def missing_reason(path: str | Path) -> str:
    """Why a path that names nothing usable does so, in a person's words: "no such file", a symbolic
    link loop, or a link whose target is missing (a dangling link reads as absent to os.path.exists)."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return LOOP
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            try:
                target = os.readlink(path)
            except (OSError, ValueError):
                return "no such file"
            return f"no such file (a symbolic link to {display_path(target)}, which does not exist)"
        return f"cannot read ({exc.strerror or exc})"
    return "no such file"  # it appeared meanwhile: the caller's check raced a change on disk


def read_file(path: Path, error: type[SvdlensError], kind: str, max_bytes: int | None = None) -> bytes:
    """The bytes of the regular file at path; `error` (one line naming the file) for anything else.

    kind names what was expected, for "is a directory, not {kind}" (e.g. "an image").
    max_bytes: refuse larger files before reading them.
    """
    shown = display_path(path)
    try:
        # Bytes, not a path handed to a decoder: non-ASCII paths work on every platform.
        nonblock = getattr(os, "O_NONBLOCK", 0)
        fd = os.open(path, os.O_RDONLY | nonblock)
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise error(f"{shown}: not a regular file (a pipe, device or socket)")
            if max_bytes is not None and info.st_size > max_bytes:
                raise error(f"{shown}: the file is larger than {max_bytes:,} bytes")
            if nonblock:
                os.set_blocking(fd, True)
            data = fh.read()
    except (FileNotFoundError, NotADirectoryError):
        raise error(f"{shown}: {missing_reason(path)}") from None
    except IsADirectoryError:
        raise error(f"{shown}: is a directory, not {kind}") from None
    except PermissionError:
        raise error(f"{shown}: permission denied (the file cannot be read)") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise error(f"{shown}: {LOOP}") from None
        raise error(f"{shown}: cannot read ({exc.strerror or exc})") from None
    if not data:
        raise error(f"{shown}: the file is empty")
    return data
