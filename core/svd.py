"""Truncated SVD of an image, done once; every rank afterwards is a matrix product.

An image is float32 in [0, 1], H×W (grey) or H×W×3 (RGB). Each channel (in RGB or
YCbCr) is factored as A = U Σ Vᵀ with torch; a rank-r image keeps the first r
columns of U, r singular values and r rows of Vᵀ.

Small images get the exact thin SVD. Large ones get a randomized truncated SVD
(a range finder with power iterations) that serves every rank up to 500; its
shortfall against the exact SVD is estimated from how the power iterations
converge and recorded on the result, and `refine()` computes the exact one.
Whatever the method, the metrics from the singular values are exact for the
factors actually served: a truncated randomized SVD is an orthogonal projection
of the image, so ‖A − A_r‖²_F = ‖A‖²_F − Σ_{i≤r} σ̃ᵢ² holds for it too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .colour import _OFFSET, _RGB_TO_YCBCR, ycbcr_to_rgb
from .errors import Cancelled, RankError, SvdlensError
from .pixels import ImageShape
from .render import PreviewRenderer, Region
from .runtime import import_torch

Rank = int | Sequence[int]

COLOUR_SPACES = ("grey", "rgb", "ycbcr")
METHODS = ("auto", "exact", "randomized")
DEVICES = ("auto", "cpu", "cuda")

# The ranks a person can pick from a truncated decomposition: the classic maximum.
SERVED_RANKS = 500
# method="auto" uses the randomized SVD when the short side is at least this long
# (and the image is large): below it the exact SVD is about as fast. Module-level
# so tests can lower it.
RANDOMIZED_MIN_SIDE = 1500
RANDOMIZED_MIN_PIXELS = 3_000_000
# decompose(quick=True) first serves this many ranks of a large image from a small,
# fast sketch; refine() then gives the top SERVED_RANKS, then the exact SVD.
# A first pass is shown for seconds at most: a smaller sketch, one power iteration
# (more only if its estimated shortfall exceeds QUICK_ACCURACY_DB).
QUICK_RANKS = 60
QUICK_OVERSAMPLE = 40
QUICK_POWER_ITERATIONS = 1
QUICK_ACCURACY_DB = 0.25
# Extra columns beyond the served ranks: with 100 the served ranks of 8–24 MP photos
# stay within a few hundredths of a dB of the exact SVD (README, speed section).
OVERSAMPLE = 100
POWER_ITERATIONS = 2
MAX_POWER_ITERATIONS = 5
# Estimated PSNR shortfall (dB) above which another power iteration is run.
ACCURACY_TARGET_DB = 0.05
def _tensor(array: np.ndarray):
    """A torch view of a numpy array, without copying (read-only arrays are only read)."""
    return import_torch().from_numpy(array)


def resolve_device(device: str = "auto") -> str:
    """"auto" → "cuda" when torch sees a CUDA device, else "cpu"; "cuda" without one is an error."""
    if device not in DEVICES:
        raise SvdlensError(f"unknown device {device!r}: use auto, cpu or cuda")
    torch = import_torch()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise SvdlensError("--device cuda was asked for but torch sees no CUDA device (use --device auto or cpu)")
    return device


@dataclass
class ChannelFactors:
    """U (m×k), singular values (k) and V (n×k) of one channel, as torch tensors."""

    u: object
    s: object
    v: object
    total_energy: float  # ‖A‖²_F of the whole channel, exact even when k < min(m, n)

    @property
    def k(self) -> int:
        return int(self.s.shape[0])


# ---- the decomposition ------------------------------------------------------------
@dataclass
class Decomposition(ImageShape):
    """The factors of every channel, and what can be had from them for any rank."""

    _ARRAY = "image"

    image: np.ndarray  # the original float32 image, kept for errors and previews
    colour_space: str
    channels: list[ChannelFactors]
    exact: bool
    device: str = "cpu"
    method: str = "exact"  # "exact" or "randomized"
    # Estimated largest PSNR shortfall (dB) against the exact SVD over the served ranks
    # (0 for the exact SVD). From the power iterations' convergence; see _randomized_channel.
    accuracy_db: float = 0.0
    # Σσ̃²/‖A‖²_F over all channels: the share of the image the computed factors hold.
    captured_energy: float = 1.0
    seconds: float = 0.0  # wall time of the decomposition
    # The ranks refine() serves next when this is a quick first pass (0: refine() goes exact).
    next_ranks: int = 0
    _renderer: PreviewRenderer = field(init=False, repr=False)  # previews, with their per-view cache
    _kept: list = field(default_factory=list, repr=False)  # Σ_{i≤r} σᵢ² per channel (float64), index r − 1
    _residual: list = field(default_factory=list, repr=False)  # Σ_{i>r} σᵢ² per channel, index r − 1

    def __post_init__(self) -> None:
        self._kept, self._residual = [], []
        for c in self.channels:
            sq = c.s.double().cpu().numpy() ** 2
            kept = np.cumsum(sq)
            if c.k == self.full_rank:
                # The whole spectrum: sum the tail itself, free of the cancellation in
                # ‖A‖² − Σ_{i≤r} σᵢ² (float32 σ₁² alone is off by ~1e-7·‖A‖²).
                residual = np.concatenate([np.cumsum(sq[::-1])[::-1][1:], [0.0]])
            else:
                residual = np.maximum(c.total_energy - kept, 0.0)
            self._kept.append(kept)
            self._residual.append(residual)
        self._renderer = PreviewRenderer(self.image, self.colour_space, self.channels, self.device)

    @property
    def renderer(self) -> PreviewRenderer:
        """The preview renderer: its factors resized once per view also serve core.layers."""
        return self._renderer

    # ---- shape and ranks (shape, height, width: ImageShape) ---------------
    @property
    def full_rank(self) -> int:
        """min(H, W): the rank that gives the image back."""
        return min(self.height, self.width)

    @property
    def max_rank(self) -> int:
        """The largest rank these factors can serve (full_rank when exact)."""
        return min(c.k for c in self.channels)

    @property
    def singular_values(self) -> list[np.ndarray]:
        """Singular values per channel, largest first (float64 numpy)."""
        return [c.s.double().cpu().numpy() for c in self.channels]

    def channel_ranks(self, rank: Rank) -> tuple[int, ...]:
        """Validate a rank (one int, or one per channel) and spread it over channels."""
        if isinstance(rank, (str, bytes)) or not isinstance(rank, Sequence | np.ndarray):
            rank = (rank,) * len(self.channels)  # one rank for every channel (validated below)
        ranks = tuple(rank)
        if self.colour_space == "ycbcr" and len(ranks) == 2:
            ranks = (ranks[0], ranks[1], ranks[1])  # luma rank, chroma rank
        if len(ranks) != len(self.channels):
            raise RankError(f"expected {len(self.channels)} ranks, got {len(ranks)}")
        out = []
        for r in ranks:
            if isinstance(r, bool) or not isinstance(r, (int, np.integer)):
                raise RankError(f"rank must be a whole number, got {r!r}")
            if r < 1:
                raise RankError(f"rank must be at least 1, got {r}")
            if r > self.max_rank:
                limit = "min(H, W)" if self.max_rank == self.full_rank else "the ranks computed so far"
                raise RankError(f"rank {r} is above {limit} = {self.max_rank} for this {self.width}×{self.height} image")
            out.append(int(r))
        return tuple(out)

    # ---- errors from the singular values ---------------------------------
    @property
    def total_energy(self) -> float:
        """‖A‖²_F summed over channels: the whole image's Σσ², exact even for truncated factors."""
        return float(sum(c.total_energy for c in self.channels))

    def residual_energy(self, rank: Rank) -> np.ndarray:
        """Σ_{i>r} σᵢ² per channel = ‖A − A_r‖²_F (before clipping)."""
        ranks = self.channel_ranks(rank)
        return np.array([residual[r - 1] for residual, r in zip(self._residual, ranks)])

    def residual_curve(self) -> np.ndarray:
        """‖A − A_r‖²_F over all channels for r = 1..max_rank, the same rank everywhere."""
        return sum(residual[: self.max_rank] for residual in self._residual)

    def energy(self, rank: Rank) -> float:
        """Kept share of Σσ² over all channels, in [0, 1]."""
        total = self.total_energy
        if total <= 0:
            return 1.0
        return float(1.0 - self.residual_energy(rank).sum() / total)

    def factor_bytes(self, rank: Rank) -> int:
        """Bytes of the rank-r factors stored as float32: r·(m + n + 1)·4 per channel."""
        return sum(r * (self.height + self.width + 1) * 4 for r in self.channel_ranks(rank))

    def psnr_estimate(self, rank: Rank) -> float:
        """PSNR (dB) of the unclipped reconstruction, from the singular values alone.

        Exact before clipping for grey and RGB, since ‖A − A_r‖²_F = Σ_{i>r} σᵢ²; for YCbCr the
        error is measured in YCbCr and is only an estimate of the RGB error.
        """
        mse = self.residual_energy(rank).sum() / self.image.size
        return float("inf") if mse <= 0 else float(10 * np.log10(1.0 / mse))

    def energy_curve(self) -> np.ndarray:
        """Kept energy share for ranks 1..max_rank (the same rank on every channel)."""
        total = self.total_energy
        kept = sum(k[: self.max_rank] for k in self._kept)
        return kept / total if total > 0 else np.ones(self.max_rank)

    # ---- pixels ----------------------------------------------------------
    def reconstruct(self, rank: Rank) -> np.ndarray:
        """The rank-r image, same shape as the original, float32 clipped to [0, 1]."""
        torch = import_torch()
        ranks = self.channel_ranks(rank)
        out = np.empty(self.shape, dtype=np.float32)
        if self.colour_space == "grey":
            c, r = self.channels[0], ranks[0]
            out[...] = ((c.u[:, :r] * c.s[:r]) @ c.v[:, :r].T).clamp_(0.0, 1.0).cpu().numpy()
            return out
        out_t = torch.from_numpy(out)
        for i, (c, r) in enumerate(zip(self.channels, ranks)):  # one full-size plane at a time
            out_t[..., i].copy_((c.u[:, :r] * c.s[:r]) @ c.v[:, :r].T)
        if self.colour_space == "ycbcr":
            out = ycbcr_to_rgb(out)
        return np.clip(out, 0.0, 1.0, out=out)

    def _check_region(self, region: Region | None) -> Region:
        if region is None:
            return (0, 0, self.width, self.height)
        left, top, right, bottom = (int(v) for v in region)
        if not (0 <= left < right <= self.width and 0 <= top < bottom <= self.height):
            raise SvdlensError(f"region {region} is outside the {self.width}×{self.height} image")
        return left, top, right, bottom

    def preview(self, rank: Rank, size: tuple[int, int], region: Region | None = None,
                exact: bool | None = None) -> np.ndarray:
        """The rank-r image (or a region of it) resized to fit size=(width, height), as uint8.

        A crop costs only the crop: U_r[rows] Σ_r V_r[cols]ᵀ, never the whole image.
        Enlarging (zoom past 1:1) repeats pixels, and small crops are computed,
        clipped, then resized: both equal resizing the same crop of reconstruct(rank)
        (within rounding, 1/255). A large crop shrunk to the pane (the fit view of a
        big photo) instead multiplies factors resized once per view, (R_h U_r) Σ_r
        (R_w V_r)ᵀ, so a rank change costs a product at pane size; clipping then
        happens after averaging, so only pixels whose neighbourhood over- or
        undershoots [0, 1] can differ (measured in the README's speed section).
        exact=True always clips first (cost of the crop); exact=False always uses the
        resized factors; None chooses by core.render.EXACT_PREVIEW_BUDGET.
        """
        return self._renderer.preview(self.channel_ranks(rank), self._check_region(region), size, exact)

    def original_preview(self, size: tuple[int, int], region: Region | None = None) -> np.ndarray:
        """The original image (or a region) resized the same way as preview(), as uint8."""
        return self._renderer.original(self._check_region(region), size)

    # ---- refinement ------------------------------------------------------
    def refine(self, *, progress: Callable[[int, int], None] | None = None,
               should_cancel: Callable[[], bool] | None = None) -> "Decomposition":
        """The next better decomposition of the same image (self when already exact).

        After decompose(quick=True) that is the randomized top-SERVED_RANKS; after a
        randomized one, the exact SVD. Meant for a background worker: show this
        result at once, then swap in the refined one (and refine again while
        `exact` is False). should_cancel() is checked as in decompose().
        """
        if self.exact:
            return self
        space = None if self.colour_space == "grey" else self.colour_space
        if self.method == "randomized" and self.next_ranks > self.max_rank:
            return decompose(self.image, colour_space=space, method="randomized", max_rank=self.next_ranks,
                             device=self.device, progress=progress, should_cancel=should_cancel)
        return decompose(self.image, colour_space=space, method="exact", device=self.device, progress=progress,
                         should_cancel=should_cancel)


# ---- computing it -------------------------------------------------------------------
def _channel_plane(image: np.ndarray, colour_space: str, i: int) -> np.ndarray:
    """Channel i as a contiguous float32 plane, made one at a time to bound memory."""
    if image.ndim == 2:
        return image
    if colour_space == "ycbcr":
        w = _RGB_TO_YCBCR[i].astype(np.float32)
        plane = image[..., 0] * w[0]
        plane += image[..., 1] * w[1]
        plane += image[..., 2] * w[2]
        plane += np.float32(_OFFSET[i])
        return plane
    return np.ascontiguousarray(image[..., i])


def _energy(a) -> float:
    """‖a‖²_F accumulated in float64, a few rows at a time (no float64 copy of the plane)."""
    torch = import_torch()
    rows = max(1, (1 << 22) // max(1, a.shape[1]))
    total = 0.0
    for chunk in torch.split(a, rows):
        total += float(torch.linalg.vector_norm(chunk, dtype=torch.float64) ** 2)
    return total


class _Steps:
    """Progress in products-with-the-image across channels; checks cancellation."""

    def __init__(self, total: int, progress, should_cancel) -> None:
        self.done, self.total = 0, total
        self.progress, self.should_cancel = progress, should_cancel

    def check(self) -> None:
        if self.should_cancel is not None and self.should_cancel():
            raise Cancelled()

    def step(self, n: int = 1) -> None:
        self.done += n
        self.total = max(self.total, self.done)
        if self.progress is not None:
            self.progress(self.done, self.total)
        self.check()


def _captured(r_factor, served: int) -> np.ndarray:
    """Cumulative σ² (float64) of the top `served` singular values of a small q×q factor."""
    sv = import_torch().linalg.svdvals(r_factor).double().cpu().numpy()
    return np.cumsum(sv[:served] ** 2)


def _shortfall_db(total: float, history: list[np.ndarray]) -> float:
    """Estimated largest PSNR shortfall (dB) against the exact SVD over the served ranks.

    history holds the captured energy Σ_{i≤r} σ̃ᵢ² per rank after each of the last
    half-steps of subspace iteration. It rises monotonically towards the exact
    Σ_{i≤r} σᵢ², roughly geometrically; the remaining gap is extrapolated from the
    last two increments (Aitken), with the ratio capped at 0.9 (a gap at most nine
    times the last increment) when the iteration has not settled into a rate yet,
    then doubled: column and row half-steps do not shrink the gap at one rate, and
    on a noisy photo the plain extrapolation came out ~30% low against the exact SVD.
    """
    if total <= 0:
        return 0.0  # an all-black channel: nothing to fall short of
    a, b, c = history[-3:]
    d1 = np.maximum(b - a, 0.0)
    d2 = np.maximum(c - b, 0.0)
    noise = 1e-9 * total
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(d1 > noise, np.minimum(d2 / np.maximum(d1, noise), 0.9), 0.9)
    gap = 2.0 * d2 * ratio / (1.0 - ratio)
    residual = np.maximum(total - c, noise)
    return float(np.max(10.0 * np.log10(residual / np.maximum(residual - gap, noise))))


def _randomized_channel(a, served: int, oversample: int, steps: _Steps, generator, power_iterations: int,
                        target_db: float) -> tuple:
    """Top-`served` SVD of a by a randomized range finder with power iterations.

    Halko, Martinsson & Tropp (2011), algorithm 4.4 (QR between every product, for
    float32 stability). Every QR's small R factor has the singular values that the
    current subspace captures, so the convergence history costs only q×q work; the
    estimated shortfall decides whether another power iteration is worth it, and
    the last R gives the factors: Aᵀ Q = P R, R = X S Yᵀ ⇒ A ≈ (Q Y) S (P X)ᵀ.
    Returns u (m×served), s, v (n×served), ‖a‖²_F, the estimated shortfall (dB)
    and the captured Σσ̃².
    """
    torch = import_torch()
    m, n = a.shape
    q = min(min(m, n), served + oversample)
    total = _energy(a)
    omega = torch.randn(n, q, generator=generator, device=a.device, dtype=a.dtype)
    basis, _ = torch.linalg.qr(a @ omega)
    del omega
    steps.step()
    history: list[np.ndarray] = []
    iterations, planned = 0, max(1, power_iterations)  # the estimate needs one iteration's history
    while True:
        rows, r_factor = torch.linalg.qr(a.T @ basis)  # the image seen through the column basis
        steps.step()
        if iterations >= planned:
            x, s, yh = torch.linalg.svd(r_factor)
            history.append(np.cumsum(s[:served].double().cpu().numpy() ** 2))
            shortfall = _shortfall_db(total, history)
            if shortfall <= target_db or iterations >= MAX_POWER_ITERATIONS:
                break
            steps.total += 2  # one more iteration
        elif iterations == planned - 1:
            history.append(_captured(r_factor, served))
        basis, r_factor = torch.linalg.qr(a @ rows)  # … and through the row basis
        steps.step()
        if iterations >= planned - 1:
            history.append(_captured(r_factor, served))
        iterations += 1
    u = (basis @ yh[:served].T).contiguous()
    v = (rows @ x[:, :served]).contiguous()
    return u, s[:served].contiguous(), v, total, shortfall, float(history[-1][-1])


def decompose(
    image: np.ndarray,
    *,
    colour_space: str | None = None,
    method: str = "auto",
    max_rank: int | None = None,
    device: str = "auto",
    progress: Callable[[int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    quick: bool = False,
) -> Decomposition:
    """Factor every channel once.

    colour_space: "grey" for H×W images; "rgb" (default) or "ycbcr" for H×W×3.
    method: "exact" is the thin SVD (full_matrices=False, float32) — what exports
    should use; "randomized" computes the top max_rank (default min(500, min(H, W)))
    singular triplets; "auto" picks randomized only for large images
    (RANDOMIZED_MIN_SIDE, RANDOMIZED_MIN_PIXELS). With "exact", max_rank keeps only
    that many factors. device: "auto" (CUDA when torch sees it), "cpu" or "cuda".
    quick=True (for an interactive first view): where auto picks randomized and no
    max_rank is given, serve only QUICK_RANKS from a much cheaper sketch (looser
    accuracy target, recorded as usual); refine() then computes the top
    SERVED_RANKS, and refining that gives the exact SVD.
    progress(done, total) counts channels (exact) or products with the image
    (randomized); should_cancel() is checked between them and raises Cancelled.
    """
    t0 = time.perf_counter()
    if method not in METHODS:
        raise SvdlensError(f"unknown decomposition method {method!r}: use auto, exact or randomized")
    image = np.asarray(image)
    if image.dtype != np.float32:
        image = image.astype(np.float32)
    if image.ndim == 2:
        colour_space = "grey"
    elif image.ndim == 3 and image.shape[-1] == 3:
        colour_space = colour_space or "rgb"
        if colour_space not in ("rgb", "ycbcr"):
            raise SvdlensError(f"unknown colour space {colour_space!r} for a colour image: use rgb or ycbcr")
    else:
        raise SvdlensError(f"expected an H×W or H×W×3 image, got shape {image.shape}")
    height, width = image.shape[:2]
    if min(height, width) < 1:
        raise SvdlensError("the image has no pixels")
    full = min(height, width)
    if max_rank is not None and (isinstance(max_rank, bool) or not isinstance(max_rank, (int, np.integer))
                                 or max_rank < 1):
        raise RankError(f"max_rank must be a whole number of at least 1, got {max_rank!r}")
    served = min(full, int(max_rank) if max_rank is not None else SERVED_RANKS)
    if method == "auto":
        large = full >= RANDOMIZED_MIN_SIDE and height * width >= RANDOMIZED_MIN_PIXELS
        method = "randomized" if large else "exact"
    if method == "randomized" and served + OVERSAMPLE >= 0.8 * full:
        method = "exact"  # the sketch would be nearly the whole matrix: exact is as cheap and exact
    next_ranks, oversample, iterations, target_db = 0, OVERSAMPLE, POWER_ITERATIONS, ACCURACY_TARGET_DB
    if quick and method == "randomized" and max_rank is None and QUICK_RANKS < served:
        served, next_ranks = QUICK_RANKS, served
        oversample, iterations, target_db = QUICK_OVERSAMPLE, QUICK_POWER_ITERATIONS, QUICK_ACCURACY_DB
    torch = import_torch()
    device = resolve_device(device)
    n_channels = 1 if image.ndim == 2 else 3
    steps = _Steps(n_channels * (1 if method == "exact" else 2 + 2 * max(1, iterations)), progress, should_cancel)
    steps.check()
    generator = None
    if method == "randomized":
        generator = torch.Generator(device=device)
        generator.manual_seed(0)  # the same image gives the same factors every time
    channels, shortfalls, captured = [], [], 0.0
    for i in range(n_channels):
        a = _tensor(_channel_plane(image, colour_space, i)).to(device)
        if method == "exact":
            u, s, vh = torch.linalg.svd(a, full_matrices=False)
            keep = served if max_rank is not None else s.shape[0]
            factors = ChannelFactors(u=u[:, :keep].contiguous(), s=s[:keep].contiguous(),
                                     v=vh[:keep].T.contiguous(), total_energy=_energy(a))
            del u, vh
            steps.step()
        else:
            u, s, v, total, shortfall, kept = _randomized_channel(a, served, oversample, steps, generator, iterations,
                                                                  target_db)
            factors = ChannelFactors(u=u, s=s, v=v, total_energy=total)
            shortfalls.append(shortfall)
            captured += kept
        channels.append(factors)
        del a
    exact = method == "exact" and (max_rank is None or served == full)
    total_energy = sum(c.total_energy for c in channels)
    return Decomposition(
        image=image, colour_space=colour_space, channels=channels, exact=exact, device=device,
        method=method, accuracy_db=max(shortfalls) if shortfalls else 0.0,
        captured_energy=(captured / total_energy if total_energy > 0 else 1.0) if shortfalls else 1.0,
        seconds=time.perf_counter() - t0, next_ranks=next_ranks,
    )
