"""Process-wide settings core depends on, applied once, on first use, by the code that needs them.

Nothing here runs at import: importing core changes no global state. Each function is
idempotent and cheap after its first call.
"""

from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path


@functools.cache
def quiet_opencv() -> None:
    """Silence OpenCV's own logging: it writes decoder failures to stderr, where the app draws.

    Failures reach the caller as exceptions (ImageError, OutputError) instead.
    """
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


@functools.cache
def quiet_readonly_tensors() -> None:
    """Ignore torch.from_numpy's warning on read-only arrays: the factors' views of an image are only read.

    One process-wide filter: warnings.catch_warnings() is not thread-safe, and previews,
    measuring and refining run in different threads.
    """
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")


def import_torch():
    """torch, imported on first use: `import torch` costs about a second and a UI must paint first.

    Applies the settings torch work here relies on (quiet_readonly_tensors) before handing it out.
    """
    import torch

    quiet_readonly_tensors()
    return torch


@functools.cache
def umask() -> int:
    """The process umask, read from /proc where possible: os.umask can only be read by setting it,
    which for a moment changes it for every thread (files are written from workers)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
