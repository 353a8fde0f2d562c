"""What the views say to the app, and how they write the measured figures."""

from __future__ import annotations

import math

from textual.message import Message

from tui.choices import CLASSIC_RANKS
from tui.widgets import exact_bytes, human_bytes

__all__ = ["CLASSIC_RANKS", "RankChosen", "clamp_ranks", "db", "fit", "short_size", "size"]


class RankChosen(Message):
    """A view asks for a rank to become current (Enter on a gallery tile, a step of play)."""

    def __init__(self, rank: int, source: str) -> None:
        super().__init__()
        self.rank, self.source = int(rank), source


def db(value: float | None) -> str:
    if value is None:
        return "…"
    return "∞ dB" if math.isinf(value) else f"{value:.2f} dB"


def size(value: int | None, room: int = 99) -> str:
    """Bytes in full ("123 456 B") when there is room for it, else "123.5 kB"; "…" until measured."""
    if value is None:
        return "…"
    full = f"{exact_bytes(value)} B"
    return full if len(full) <= room else human_bytes(value)


def short_size(value: int | None) -> str:
    """Bytes in three significant digits with a one-letter unit: 8.78k, 446k, 1.44M; "…" until measured."""
    if value is None:
        return "…"
    for unit, scale in (("M", 1000**2), ("k", 1000)):
        if value >= scale:
            x = value / scale
            return f"{x:.3g}{unit}" if x < 1000 else f"{x:.0f}{unit}"
    return f"{value}B"


def fit(parts: list[str], width: int, sep: str = " · ") -> str:
    """As many of parts (most important first) as fit in width characters."""
    text = ""
    for part in parts:
        candidate = f"{text}{sep}{part}" if text else part
        if len(candidate) <= width:
            text = candidate
    return text


def clamp_ranks(ranks, full_rank: int) -> list[tuple[int, int]]:
    """(rank shown, rank asked) for each asked rank: above min(H, W) shows the full rank; no repeats."""
    out: list[tuple[int, int]] = []
    for asked in ranks:
        shown = max(1, min(int(asked), full_rank))
        if shown not in [s for s, _ in out]:
            out.append((shown, int(asked)))
    return out
