"""Reading a person's file whole, safely: regular files only, with a one-line error naming it.

A FIFO would block open() and read(), and a device such as /dev/zero would be read until
memory runs out, so the file is opened without blocking and checked with fstat first.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import SvdlensError, display_path


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
        raise error(f"{shown}: no such file") from None
    except IsADirectoryError:
        raise error(f"{shown}: is a directory, not {kind}") from None
    except PermissionError:
        raise error(f"{shown}: permission denied (the file cannot be read)") from None
    except OSError as exc:
        raise error(f"{shown}: cannot read ({exc.strerror or exc})") from None
    if not data:
        raise error(f"{shown}: the file is empty")
    return data
