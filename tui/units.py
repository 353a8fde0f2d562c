"""Byte budgets as people type them: one parser for the CLI's --max-bytes and the app's rank field.

Standard library only: tui.cli imports it at start-up, and `svdlens --help` must not pull in
numpy, torch or Textual.
"""

from __future__ import annotations

import math
import re

# Binary everywhere (README: k = 1024, M = 1024²), so "200k" is the same budget in the CLI and the app.
BYTE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2, "mib": 1024**2}
_SIZE_RE = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)$")
SIZE_HINT = "e.g. 20000, 200k or 1.5M (k = 1024, M = 1024²)"
_LARGEST = 2**62


def has_byte_unit(text: str) -> bool:
    """Whether text is a number followed by a byte unit (how the rank field tells a budget from a rank)."""
    m = _SIZE_RE.match(text.strip().lower())
    return m is not None and m.group(2) in BYTE_UNITS and m.group(2) != ""


def parse_byte_count(text: str) -> int:
    """'20000', '200k', '1.5M', '64KiB' -> bytes (k = 1024, M = 1024²), rounded down.

    ValueError with a one-line reason for anything else, including budgets under one byte.
    """
    raw = text.strip().lower()
    m = _SIZE_RE.match(raw.removeprefix("-"))
    if m is None or m.group(2) not in BYTE_UNITS:
        raise ValueError(f"{text.strip()!r} is not a size ({SIZE_HINT})")
    value = float(m.group(1)) * BYTE_UNITS[m.group(2)]
    if raw.startswith("-") or value == 0:
        raise ValueError(f"{text.strip()!r} is not a positive size ({SIZE_HINT})")
    if not math.isfinite(value) or value > _LARGEST:
        raise ValueError(f"{text.strip()!r} is too large a size")
    if value < 1:
        raise ValueError(f"{text.strip()!r} is under one byte: a byte budget must be at least 1 byte")
    return int(value)
