"""Choosing a rank from a target: the smallest rank that keeps an energy share or reaches a PSNR."""

from __future__ import annotations

import math

import numpy as np

from .errors import TargetError
from .metrics import energy_from_residual, psnr
from .pixels import as_saved
from .svd import Decomposition


def _limit_note(dec: Decomposition) -> str:
    if dec.max_rank == dec.full_rank:
        return f"full rank ({dec.full_rank})"
    return f"rank {dec.max_rank}, the largest computed so far (full rank is {dec.full_rank})"


def rank_for_energy(dec: Decomposition, share: float) -> int:
    """Smallest rank (the same on every channel) whose kept share of Σσ² is at least `share`."""
    if not isinstance(share, (int, float)) or math.isnan(share) or share <= 0 or share > 1:
        raise TargetError(f"energy share must be above 0 and at most 1 (e.g. 0.99), got {share}")
    curve = energy_from_residual(dec, dec.residual_curve())
    reached = np.nonzero(curve >= share - 1e-12)[0]  # a hair of slack for float sums
    if reached.size == 0:
        if dec.max_rank == dec.full_rank:
            return dec.full_rank
        raise TargetError(f"energy {share} is not reached by {_limit_note(dec)}: it keeps {curve[-1]:.6f}")
    return int(reached[0]) + 1


def measured_psnr(dec: Decomposition, rank, bit_depth: int = 8) -> float:
    """PSNR (dB) of the rank-r image as saved (rounded to bit_depth) against the decomposed pixels."""
    return psnr(as_saved(dec.reconstruct(rank), bit_depth), dec.image)


def psnr_curve(dec: Decomposition) -> np.ndarray:
    """Unclipped PSNR (dB) for ranks 1..max_rank from the singular values alone (inf where nothing is lost)."""
    mse = dec.residual_curve() / dec.image.size
    with np.errstate(divide="ignore"):
        return np.where(mse > 0, 10 * np.log10(1.0 / np.where(mse > 0, mse, 1.0)), np.inf)


def rank_for_reconstruction_psnr(dec: Decomposition, target_db: float, *, bit_depth: int = 8) -> int:
    """Smallest rank whose reconstruction, clipped and rounded as saved, reaches `target_db`.

    The singular values give the unclipped PSNR of every rank for free; clipping only
    helps and rounding adds a little noise, so the answer is searched on the measured
    PSNR, starting from the bracket the singular values give.
    """
    if not isinstance(target_db, (int, float)) or math.isnan(target_db) or target_db <= 0:
        raise TargetError(f"PSNR target must be a positive number of dB, got {target_db}")
    top = dec.max_rank
    best = measured_psnr(dec, top, bit_depth)
    if best < target_db:
        raise TargetError(f"PSNR {target_db} dB is above what {_limit_note(dec)} gives ({best:.2f} dB)")
    # Unclipped PSNR from σ is a lower bound on the clipped one (up to rounding), so the
    # first rank where it reaches the target (plus a margin for rounding) bounds the search.
    hi = top
    above = np.nonzero(psnr_curve(dec) >= target_db + 0.5)[0]
    if above.size:
        hi = int(above[0]) + 1
        if measured_psnr(dec, hi, bit_depth) < target_db:
            hi = top
    lo = 1
    # Measured PSNR rises with rank (clipping and rounding wiggle it by far less than a step).
    while lo < hi:
        mid = (lo + hi) // 2
        if measured_psnr(dec, mid, bit_depth) >= target_db:
            hi = mid
        else:
            lo = mid + 1
    return lo
