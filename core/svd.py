"""Truncated SVD of an image, done once; every rank afterwards is a matrix product.

An image is float32 in [0, 1], H×W (grey) or H×W×3 (RGB). Each channel (in RGB or
YCbCr) is factored as A = U Σ Vᵀ with torch; a rank-r image keeps the first r
columns of U, r singular values and r rows of Vᵀ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .colour import rgb_to_ycbcr, ycbcr_to_rgb
from .errors import Cancelled, RankError, SvdlensError

Rank = int | Sequence[int]
Region = tuple[int, int, int, int]  # left, top, right, bottom in image pixels

COLOUR_SPACES = ("grey", "rgb", "ycbcr")


def _torch():
    # Imported lazily: `import torch` costs about a second and the UI must paint first.
    import torch

    return torch


def resolve_device(device: str = "auto") -> str:
    torch = _torch()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise SvdlensError("--device cuda was asked for but torch sees no CUDA device")
    if device not in ("cpu", "cuda"):
        raise SvdlensError(f"unknown device {device!r}: use auto, cpu or cuda")
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


def area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Row-stochastic matrix that resizes a length-n_in signal to n_out samples.

    Shrinking averages the covered input samples by overlap (OpenCV's INTER_AREA);
    enlarging repeats samples (INTER_NEAREST), so zoomed pixels stay sharp blocks.
    """
    if n_out >= n_in:
        src = np.minimum((np.arange(n_out) * n_in) // n_out, n_in - 1)
        m = np.zeros((n_out, n_in), dtype=np.float32)
        m[np.arange(n_out), src] = 1.0
        return m
    scale = n_in / n_out
    edges = np.arange(n_out + 1, dtype=np.float64) * scale
    starts, ends = edges[:-1], edges[1:]
    cols = np.arange(n_in, dtype=np.float64)
    overlap = np.clip(np.minimum(ends[:, None], cols[None, :] + 1) - np.maximum(starts[:, None], cols[None, :]), 0, None)
    return (overlap / scale).astype(np.float32)


def fit_size(crop_w: int, crop_h: int, size: tuple[int, int]) -> tuple[int, int]:
    """Largest (w, h) no larger than size with the crop's aspect ratio."""
    max_w, max_h = max(1, int(size[0])), max(1, int(size[1]))
    scale = min(max_w / crop_w, max_h / crop_h)
    return max(1, min(max_w, round(crop_w * scale))), max(1, min(max_h, round(crop_h * scale)))


@dataclass
class Decomposition:
    """The factors of every channel, and what can be had from them for any rank."""

    image: np.ndarray  # the original float32 image, kept for errors and previews
    colour_space: str
    channels: list[ChannelFactors]
    exact: bool
    device: str = "cpu"
    _preview_cache: dict = field(default_factory=dict, repr=False)

    # ---- shape and ranks -------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.image.shape

    @property
    def height(self) -> int:
        return self.image.shape[0]

    @property
    def width(self) -> int:
        return self.image.shape[1]

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
        ranks = (rank,) * len(self.channels) if isinstance(rank, (int, np.integer)) else tuple(rank)
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
    def residual_energy(self, rank: Rank) -> np.ndarray:
        """Σ_{i>r} σᵢ² per channel = ‖A − A_r‖²_F (before clipping)."""
        ranks = self.channel_ranks(rank)
        out = []
        for c, r in zip(self.channels, ranks):
            kept = float((c.s[:r].double() ** 2).sum())
            out.append(max(c.total_energy - kept, 0.0))
        return np.array(out)

    def energy(self, rank: Rank) -> float:
        """Kept share of Σσ² over all channels, in [0, 1]."""
        total = sum(c.total_energy for c in self.channels)
        if total <= 0:
            return 1.0
        return float(1.0 - self.residual_energy(rank).sum() / total)

    def relative_error(self, rank: Rank) -> float:
        """‖A − A_r‖_F / ‖A‖_F over all channels (unclipped)."""
        total = sum(c.total_energy for c in self.channels)
        if total <= 0:
            return 0.0
        return float(np.sqrt(self.residual_energy(rank).sum() / total))

    def psnr_estimate(self, rank: Rank) -> float:
        """PSNR (dB) of the unclipped reconstruction, from the singular values alone.

        Exact for grey and RGB (an orthonormal-free identity); for YCbCr the error is
        measured in YCbCr and is only an estimate of the RGB error.
        """
        mse = self.residual_energy(rank).sum() / self.image.size
        return float("inf") if mse <= 0 else float(10 * np.log10(1.0 / mse))

    def energy_curve(self) -> np.ndarray:
        """Kept energy share for ranks 1..max_rank (the same rank on every channel)."""
        total = sum(c.total_energy for c in self.channels)
        kept = sum(np.cumsum(s[: self.max_rank] ** 2) for s in self.singular_values)
        return kept / total if total > 0 else np.ones(self.max_rank)

    # ---- pixels ----------------------------------------------------------
    def _to_output_space(self, planes: list[np.ndarray]) -> np.ndarray:
        if self.colour_space == "grey":
            out = planes[0]
        else:
            out = np.stack(planes, axis=-1)
            if self.colour_space == "ycbcr":
                out = ycbcr_to_rgb(out)
        return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)

    def reconstruct(self, rank: Rank) -> np.ndarray:
        """The rank-r image, same shape as the original, float32 clipped to [0, 1]."""
        ranks = self.channel_ranks(rank)
        planes = [((c.u[:, :r] * c.s[:r]) @ c.v[:, :r].T).cpu().numpy() for c, r in zip(self.channels, ranks)]
        return self._to_output_space(planes)

    def _check_region(self, region: Region | None) -> Region:
        if region is None:
            return (0, 0, self.width, self.height)
        left, top, right, bottom = (int(v) for v in region)
        if not (0 <= left < right <= self.width and 0 <= top < bottom <= self.height):
            raise SvdlensError(f"region {region} is outside the {self.width}×{self.height} image")
        return left, top, right, bottom

    def _resizers(self, region: Region, out_w: int, out_h: int):
        key = (region, out_w, out_h)
        cached = self._preview_cache.get(key)
        if cached is None:
            torch = _torch()
            left, top, right, bottom = region
            rh = torch.from_numpy(area_matrix(bottom - top, out_h)).to(self.device)
            rw = torch.from_numpy(area_matrix(right - left, out_w)).to(self.device)
            # Resizing is linear, so resize the factors once: (R_h U) Σ (R_w V)ᵀ.
            cached = [(rh @ c.u[top:bottom], rw @ c.v[left:right]) for c in self.channels]
            if len(self._preview_cache) > 8:
                self._preview_cache.clear()
            self._preview_cache[key] = cached
        return cached

    def preview(self, rank: Rank, size: tuple[int, int], region: Region | None = None) -> np.ndarray:
        """The rank-r image (or a region of it) resized to fit size=(width, height), as uint8.

        A crop costs only the crop: U_r[rows] Σ_r V_r[cols]ᵀ. When the crop is no more
        than a few times the output it is computed, clipped, then resized, so it equals
        resizing the same crop of reconstruct(rank). Larger crops use factors resized
        once per view, so a rank change costs a product at preview size; there only
        pixels whose neighbourhood over- or undershoots [0, 1] can differ.
        """
        ranks = self.channel_ranks(rank)
        region = self._check_region(region)
        left, top, right, bottom = region
        out_w, out_h = fit_size(right - left, bottom - top, size)
        crop_pixels = (right - left) * (bottom - top)
        planes = []
        if crop_pixels <= max(16 * out_w * out_h, 1 << 18):
            torch = _torch()
            rh = torch.from_numpy(area_matrix(bottom - top, out_h)).to(self.device)
            rw = torch.from_numpy(area_matrix(right - left, out_w)).to(self.device)
            for c, r in zip(self.channels, ranks):
                crop = (c.u[top:bottom, :r] * c.s[:r]) @ c.v[left:right, :r].T
                planes.append(crop)
            if self.colour_space == "ycbcr":
                rgb = ycbcr_to_rgb(np.stack([p.cpu().numpy() for p in planes], axis=-1))
                planes = [torch.from_numpy(np.ascontiguousarray(rgb[..., i])).to(self.device) for i in range(3)]
            planes = [(rh @ p.clamp(0, 1) @ rw.T).cpu().numpy() for p in planes]
            out = planes[0] if self.colour_space == "grey" else np.stack(planes, axis=-1)
        else:
            for (ru, rv), c, r in zip(self._resizers(region, out_w, out_h), self.channels, ranks):
                planes.append(((ru[:, :r] * c.s[:r]) @ rv[:, :r].T).cpu().numpy())
            out = self._to_output_space(planes)
        return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)

    def original_preview(self, size: tuple[int, int], region: Region | None = None) -> np.ndarray:
        """The original image (or a region) resized the same way as preview(), as uint8."""
        left, top, right, bottom = self._check_region(region)
        out_w, out_h = fit_size(right - left, bottom - top, size)
        crop = self.image[top:bottom, left:right]
        rh = area_matrix(bottom - top, out_h)
        rw = area_matrix(right - left, out_w)
        if crop.ndim == 2:
            out = rh @ crop @ rw.T
        else:
            out = np.einsum("ij,jkc,lk->ilc", rh, crop, rw, optimize=True)
        return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)


def _channel_planes(image: np.ndarray, colour_space: str) -> list[np.ndarray]:
    if image.ndim == 2:
        return [image]
    if colour_space == "ycbcr":
        image = rgb_to_ycbcr(image)
    return [np.ascontiguousarray(image[..., i]) for i in range(image.shape[-1])]


def decompose(
    image: np.ndarray,
    *,
    colour_space: str | None = None,
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> Decomposition:
    """Thin SVD (full_matrices=False, float32) of every channel, computed once.

    colour_space: "grey" for H×W images; "rgb" (default) or "ycbcr" for H×W×3.
    progress(done, total) is called after each channel; should_cancel() is checked
    between channels and raises Cancelled.
    """
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
    if min(image.shape[:2]) < 1:
        raise SvdlensError("the image has no pixels")
    torch = _torch()
    device = resolve_device(device)
    planes = _channel_planes(image, colour_space)
    channels = []
    for i, plane in enumerate(planes):
        if should_cancel is not None and should_cancel():
            raise Cancelled()
        a = torch.from_numpy(plane).to(device)
        u, s, vh = torch.linalg.svd(a, full_matrices=False)
        total = float((a.double() ** 2).sum())
        channels.append(ChannelFactors(u=u.contiguous(), s=s, v=vh.T.contiguous(), total_energy=total))
        if progress is not None:
            progress(i + 1, len(planes))
    return Decomposition(image=image, colour_space=colour_space, channels=channels, exact=True, device=device)
