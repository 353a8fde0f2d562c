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
# sample (pixel × channel). Measured with
#     tests/benchmarks/batch_report.py --phases --count 7 --low-mp 0.5 --high-mp 2   (and --count 6 and
#     --count 12 with --low-mp 2 --high-mp 8)
# in one process with tui.batch's fixed mmap threshold, peak RSS above the level before reading, exact
# SVD, six ranks, 25 colour JPEGs of 0.5–8 MP (4:3 and 3:2), with core.measure as of main 8d91af8 (the
# next rank read ahead on idle cores, three ranks' arrays kept), each set twice: with MKL's buffer
# pools off, as `svdlens report` runs (tui.cli), and on. Each estimate is the upper envelope of those
# points, a line no point lies above: reading and decomposing took 16.0–18.2 bytes per sample (0.5 MP:
# 26 MiB, estimated 26; 8 MP: 368–374 MiB, estimated 391); the whole summary 39.6–57.4 bytes per
# sample, the most for small photos and, with the pools on, for the noisiest one (the Hubble deep field,
# up to 13 % above the others of its size), the least for the large ones (0.5 MP: 79–82 MiB, estimated
# 100; 8 MP: 912–938 MiB, estimated 979). The same photo measured again differed by up to 4 %.
# SUMMARY_LEAST_BYTES_PER_SAMPLE is the other side: no whole summary took less than 39.6 bytes per
# sample. A many-photo run lets a photo be read beside another's measuring only when the two estimates
# together stay within the least the run's largest photo takes alone (tui.batch.MemoryGate). Measure
# again when core.measure changes how much it holds at once.
PREPARE_BYTES = 2 << 20
PREPARE_BYTES_PER_SAMPLE = 17
SUMMARY_BYTES = 41 << 20
SUMMARY_BYTES_PER_SAMPLE = 41
SUMMARY_LEAST_BYTES_PER_SAMPLE = 39


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
    least: int | None = None  # the least the whole summary may take (None: `summary`, an exact figure)

    @property
    def summary_at_least(self) -> int:
        return self.summary if self.least is None else self.least


def memory_need(width: int, height: int, channels: int) -> MemoryNeed:
    """The memory a photo of this size needs for its summary (exact SVD), from its size alone: at most
    (prepare, summary) and at least (least)."""
    samples = max(0, int(width)) * max(0, int(height)) * max(1, int(channels))
    return MemoryNeed(prepare=PREPARE_BYTES + PREPARE_BYTES_PER_SAMPLE * samples,
                      summary=SUMMARY_BYTES + SUMMARY_BYTES_PER_SAMPLE * samples,
                      least=SUMMARY_LEAST_BYTES_PER_SAMPLE * samples)


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
