"""The project's own errors: each carries one line a person can act on, naming paths safely.

A leaf module: it imports nothing else of core.
"""

from __future__ import annotations

from pathlib import Path


def display_path(path: str | Path) -> str:
    """The path for a one-line message: control characters and undecodable bytes shown as escapes."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in str(path))


class SvdlensError(Exception):
    """A problem with the user's input or request (the CLI exits with code 2)."""


class ImageError(SvdlensError):
    """A file could not be read as an image."""


class RankError(SvdlensError):
    """A rank that cannot be used for this image."""


class TargetError(SvdlensError):
    """An energy, PSNR or byte target that cannot be met."""


class ContainerError(SvdlensError):
    """A .svdz file that is malformed, unsafe or of an unknown version."""


class OutputError(SvdlensError):
    """An output path that cannot or must not be written."""


class Cancelled(Exception):
    """Raised inside long computations when the caller asked them to stop."""
