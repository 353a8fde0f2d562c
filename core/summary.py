"""One photo's summary for a many-photo report: the rank table plus the ranks that reach targets.

The targets are those of `svdlens compress`: the smallest rank keeping an energy share of
Σσ² (core.select), and the smallest rank whose .svdz file decodes to a PSNR (core.svdz).
Both target ranks are measured with the same rows as the ranks asked for, through one
call of core.report.build_report, so every number is the rank table's own.

`memory_need` estimates, from an image's size alone, the memory one photo's summary takes,
so that a many-photo run can decide which photos fit in memory together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from . import select, svdz
from .errors import TargetError
from .imageio import SourceImage
from .report import Report, build_report
from .svd import Decomposition

DEFAULT_ENERGY = 0.99
DEFAULT_PSNR_DB = 30.0

# What one photo's summary adds to the process's peak resident memory, by phase: reading it and its
# exact SVD (the float32 pixels, the factors, LAPACK's workspace), and the whole summary (adding
# the reference integers, SSIM's statistics, the encodes in flight), as a fixed part plus bytes per
# sample (pixel × channel). Measured in one process with tui.batch's fixed mmap threshold, peak RSS
# above the level before reading, exact SVD, six ranks, colour photos of 0.5–8 MP (4:3, 3:2 and
# square), with core.measure as of main b25711b (ranks read ahead): reading and decomposing took
# 15–18 bytes per sample (2.6 MP square: 138 MiB; 8 MP: 372 MiB, estimated 437); the summary
# 82 MiB at 0.5 MP (estimated 80), 186 MiB at 1.5 MP (191), 312 MiB at 2.6 MP square (310),
# 561 MiB at 4.8 MP (560) and 905 MiB at 8 MP (917). Per sample it falls as photos grow, so a fixed
# part with a smaller slope fits it better than a slope alone, which would overstate large photos.
# Reading and decomposing is overstated on purpose: it is what a photo adds beside another one's
# measuring, and the margin keeps such pairs within the largest photo's peak. Measure again when
# core.measure changes how much it holds at once.
PREPARE_BYTES = 2 << 20
PREPARE_BYTES_PER_SAMPLE = 19
SUMMARY_BYTES = 24 << 20
SUMMARY_BYTES_PER_SAMPLE = 39


@dataclass
class Target:
    """A goal ("energy" share or "psnr" in dB) and the smallest rank reaching it (None: out of reach)."""

    kind: str
    goal: float
    rank: int | None
    row: dict | None = None  # the rank table's JSON row at `rank`
    reason: str = ""  # why there is no rank

    def to_json(self) -> dict:
        out = {"target": self.kind, "goal": self.goal, "rank": self.rank}
        if self.row is not None:
            out["row"] = self.row
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass
class PhotoSummary:
    """What a many-photo report keeps of one photo: the report, its targets and the σ-derived PSNR curve."""

    report: Report
    targets: list[Target]
    psnr_curve: np.ndarray = field(repr=False)  # unclipped PSNR (dB) of ranks 1..max_rank, from σ

    def to_json(self) -> dict:
        """Today's single-photo object, plus `targets`."""
        out = self.report.to_json()
        out["targets"] = [t.to_json() for t in self.targets]
        return out


@dataclass(frozen=True)
class MemoryNeed:
    """Estimated bytes one photo's summary holds: while it is read and decomposed, and at its peak."""

    prepare: int  # reading and decomposing, and holding the factors until its ranks are measured
    summary: int  # the whole summary's peak (at least `prepare`)


def memory_need(width: int, height: int, channels: int) -> MemoryNeed:
    """The memory a photo of this size needs for its summary (exact SVD), from its size alone."""
    samples = max(0, int(width)) * max(0, int(height)) * max(1, int(channels))
    return MemoryNeed(prepare=PREPARE_BYTES + PREPARE_BYTES_PER_SAMPLE * samples,
                      summary=SUMMARY_BYTES + SUMMARY_BYTES_PER_SAMPLE * samples)


def _target_rank(kind: str, goal: float, src: SourceImage, dec: Decomposition) -> tuple[int | None, str]:
    try:
        if kind == "energy":
            return select.rank_for_energy(dec, goal), ""
        return svdz.rank_for_decoded_psnr(dec, goal, bit_depth=src.bit_depth), ""
    except TargetError as exc:
        return None, str(exc)


def summarise(
    src: SourceImage,
    dec: Decomposition,
    ranks: Iterable[int],
    *,
    energy: float = DEFAULT_ENERGY,
    psnr_db: float = DEFAULT_PSNR_DB,
    progress: Callable[[int, int], None] | None = None,
) -> PhotoSummary:
    """The rank table at `ranks` (rows in that order, as `svdlens report` prints them) and the targets."""
    ranks = list(ranks)
    goals = [("energy", float(energy)), ("psnr", float(psnr_db))]
    found = [_target_rank(kind, goal, src, dec) for kind, goal in goals]
    extra = [r for r, _ in found if r is not None]
    # One measurement for both: build_report measures a rank once however often it is listed.
    full = build_report(src, dec, ranks + extra, progress=progress)
    rows = full.rows[: len(ranks)]
    measured = {row.rank: row for row in full.rows[len(ranks):]}
    targets = [Target(kind, goal, rank, None if rank is None else measured[rank].to_json(), reason)
               for (kind, goal), (rank, reason) in zip(goals, found)]
    # Notes about target ranks (never clamped: they come from the factors) cannot occur; keep the table's.
    report = Report(image=full.image, rows=rows, notes=full.notes)
    return PhotoSummary(report=report, targets=targets, psnr_curve=select.psnr_curve(dec))
