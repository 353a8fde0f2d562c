"""The rank table: what each rank costs in real bytes and buys in measured quality.

Everything here is a pure function of (SourceImage, Decomposition, ranks). Quality is
measured on the reconstruction exactly as it would be saved (rounded to the output bit
depth) against the original pixels. Every size is real bytes under its own label: the
original file, the raw pixels (H·W·C), the factors as float32 (r·(m + n + 1)·4 per
channel) and the reconstruction saved as PNG, never a ratio of element counts. The
.svdz columns are the real encoded file and its decoded pixels, and the JPEG columns
the best JPEG that fits in the same bytes (none when even quality 1 is larger).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Iterable

import numpy as np

from .errors import RankError
from .imageio import SourceImage
from .measure import REPORT_FIGURES, MeasureContext, measure_all
from .pixels import as_saved
from .svd import Decomposition

CLASSIC_RANKS = (500, 250, 100, 50, 25, 10)


@dataclass
class RankRow:
    rank: int  # the rank used on every channel (after clamping)
    requested_rank: int
    clamped: bool  # requested above what the factors serve, so lowered to `rank`
    channel_ranks: tuple[int, ...]
    energy: float  # kept share of Σσ², in [0, 1]
    relative_error: float  # ‖A − A_r‖_F / ‖A‖_F (unclipped, from σ)
    psnr_db: float  # measured on the saved reconstruction; inf when it equals the original
    ssim: float | None  # None for images smaller than the 11×11 window
    original_bytes: int
    raw_bytes: int
    factors_float32_bytes: int
    png_bytes: int
    extra: dict = field(default_factory=dict)  # .svdz and equal-budget JPEG columns

    def to_json(self) -> dict:
        out = asdict(self)
        out.pop("extra")
        out["channel_ranks"] = list(self.channel_ranks)
        out.update(self.extra)
        return {k: _json_number(v) for k, v in out.items()}


def _json_number(value):
    # JSON has no infinity: an identical reconstruction's PSNR is written as null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class Report:
    image: dict
    rows: list[RankRow]
    notes: list[str]

    def to_json(self) -> dict:
        return {"image": dict(self.image), "rows": [r.to_json() for r in self.rows]}


def image_info(src: SourceImage, dec: Decomposition) -> dict:
    return {
        "path": str(src.path),
        "format": src.format,
        "width": src.width,
        "height": src.height,
        "channels": src.channels,
        "bit_depth": src.bit_depth,
        "mode": src.mode,
        "colour_space": dec.colour_space,
        "file_bytes": src.file_bytes,
        "raw_bytes": src.raw_bytes,
        "full_rank": dec.full_rank,
        "max_rank": dec.max_rank,
        "decomposition": dec.method,  # "exact" or "randomized"
        "truncated": dec.max_rank < dec.full_rank,  # only the top max_rank ranks were computed
        "notes": list(src.notes),
    }


def clamp_rank(dec: Decomposition, requested: int) -> tuple[int, bool]:
    """The rank to use for a requested one: ranks above what the factors serve are lowered and flagged."""
    if isinstance(requested, bool) or not isinstance(requested, (int, np.integer)):
        raise RankError(f"rank must be a whole number, got {requested!r}")
    if requested < 1:
        raise RankError(f"rank must be at least 1, got {requested}")
    if requested > dec.max_rank:
        return dec.max_rank, True
    return int(requested), False


def saved_pixels(dec: Decomposition, rank, bit_depth: int) -> np.ndarray:
    """The rank-r image as it is saved: rounded to the output bit depth, back on [0, 1]."""
    return as_saved(dec.reconstruct(rank), bit_depth)


def _spec(dec: Decomposition, rank: int, chroma_rank: int | None):
    return rank if chroma_rank is None else (rank, min(chroma_rank, dec.max_rank))


def rank_row(src: SourceImage, dec: Decomposition, requested: int, *, chroma_rank: int | None = None,
             context: MeasureContext | None = None, read_ahead: int | None = None) -> RankRow:
    """One row of the table. chroma_rank (YCbCr only) gives Cb and Cr their own rank.

    The figures come from core.measure (the app's path too); pass one MeasureContext for
    many rows of one image so that what does not depend on the rank is done once.
    """
    rank, clamped = clamp_rank(dec, requested)
    context = context if context is not None else MeasureContext(src, dec)
    ahead = None if read_ahead is None else _spec(dec, read_ahead, chroma_rank)
    values = measure_all(context, _spec(dec, rank, chroma_rank), figures=REPORT_FIGURES, read_ahead=ahead)
    return RankRow(
        rank=rank,
        requested_rank=int(requested),
        clamped=clamped,
        channel_ranks=tuple(values["channel_ranks"]),
        energy=values["energy"],
        relative_error=values["relative_error"],
        psnr_db=values["psnr_db"],
        ssim=values["ssim"],
        original_bytes=values["original_bytes"],
        raw_bytes=values["raw_bytes"],
        factors_float32_bytes=values["factors_float32_bytes"],
        png_bytes=values["png_bytes"],
        extra={k: values[k] for k in _EXTRA},
    )


# The row's .svdz and equal-budget JPEG columns, in the JSON's order.
_EXTRA = ("container_bytes", "container_psnr_db", "jpeg_bytes", "jpeg_quality", "jpeg_psnr_db", "jpeg_ssim")


def build_report(
    src: SourceImage,
    dec: Decomposition,
    ranks: Iterable[int] = CLASSIC_RANKS,
    *,
    chroma_rank: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Rows for each requested rank, in the order given, plus the image's description."""
    ranks = list(ranks)
    for requested in ranks:
        clamp_rank(dec, requested)  # a bad rank is refused before any work
    rows = []
    notes = []
    context = MeasureContext(src, dec)
    measured: dict[int, RankRow] = {}  # ranks clamped to the same value are measured once
    for i, requested in enumerate(ranks):
        rank, clamped = clamp_rank(dec, requested)
        # The next rank is measured meanwhile on the cores this one leaves idle
        # (the end of each rank is one PNG encode on one core).
        later = [clamp_rank(dec, r)[0] for r in ranks[i + 1:]]
        later = [r for r in later if r not in measured and r != rank]
        if rank in measured:
            row = replace(measured[rank], requested_rank=int(requested), clamped=clamped,
                          extra=dict(measured[rank].extra))
        else:
            row = measured[rank] = rank_row(src, dec, requested, chroma_rank=chroma_rank, context=context,
                                            read_ahead=later[0] if later else None)
        if row.clamped:
            limit = "min(H, W)" if dec.max_rank == dec.full_rank else "the largest rank computed"
            notes.append(f"rank {requested} is above {limit} = {dec.max_rank} for this {dec.width}×{dec.height} "
                         f"image: clamped to {row.rank}")
        rows.append(row)
        if progress is not None:
            progress(i + 1, len(ranks))
    return Report(image=image_info(src, dec), rows=rows, notes=notes)


def parse_ranks(text: str) -> list[int]:
    """"500,250,100" -> [500, 250, 100]; RankError naming the bad entry otherwise."""
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            value = int(part)
        except ValueError:
            raise RankError(f"rank {part!r} is not a whole number") from None
        if value < 1:
            raise RankError(f"rank must be at least 1, got {value}")
        out.append(value)
    if not out:
        raise RankError(f"no ranks given in {text!r}")
    return out

