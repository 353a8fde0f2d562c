"""What a rank adds: the rank-r layer σᵣuᵣvᵣᵀ, or the sum of layers r−k+1..r, at preview size.

A rank-r image is the sum of r rank-one layers, largest singular value first. Early layers
carry broad shapes, late ones fine texture; seeing one layer (or the last few) makes that
visible. Layers come from the same factors resized once per view as Decomposition.preview
uses (core.render: (R_h U) Σ (R_w V)ᵀ, resizing being linear), so no new SVD and no full-size product.

A layer is signed (it adds and takes away), so it is shown contrast-stretched around a mid
grey: `stretch` maps zero to 128 and a high percentile of |value| to the ends.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .colour import _YCBCR_TO_RGB
from .render import _one_thread, fit_size
from .runtime import import_torch
from .svd import Decomposition

# |values| above this percentile saturate: one extreme pixel should not grey out the rest.
STRETCH_PERCENTILE = 99.5


@dataclass(frozen=True)
class Layers:
    """The sum of layers first..last of every channel at preview size, and its share of Σσ²."""

    first: int  # 1-based, inclusive
    last: int
    values: np.ndarray  # float32, h×w (grey) or h×w×3 (RGB, also for YCbCr factors): signed
    energy_share: float  # Σ_{first≤i≤last} σᵢ² over all channels / ‖A‖²_F, in [0, 1]


def energy_share(dec: Decomposition, first: int, last: int) -> float:
    """Share of Σσ² (all channels) held by layers first..last: exact, from the singular values."""
    total = sum(c.total_energy for c in dec.channels)
    if total <= 0:
        return 0.0
    held = 0.0
    for s in dec.singular_values:
        held += float(np.sum(s[first - 1:last] ** 2))
    return held / total


def layer_preview(dec: Decomposition, rank: int, size: tuple[int, int], count: int = 1) -> Layers:
    """Layers rank−count+1..rank (the same rank on every channel) resized to fit size=(width, height).

    count=1 is the single layer σᵣuᵣvᵣᵀ. The result is the area-average resize of the
    full-size layer sum (exact up to float32 rounding: resizing is linear and layers are
    not clipped). YCbCr factors are turned into RGB by the colour matrix alone: a layer is a
    difference of images, so the colour offset does not apply.
    """
    (rank,) = set(dec.channel_ranks(int(rank)))  # validates 1 ≤ rank ≤ max_rank
    first = max(1, rank - max(1, int(count)) + 1)
    region = (0, 0, dec.width, dec.height)
    out_w, out_h = fit_size(dec.width, dec.height, size)
    torch = import_torch()
    with _one_thread(dec.device):
        factors = dec.renderer.resized_factors(region, out_w, out_h)
        planes = torch.stack([(ru[:, first - 1:rank] * c.s[first - 1:rank]) @ rv[:, first - 1:rank].T
                              for (ru, rv), c in zip(factors, dec.channels)])
        if dec.colour_space == "ycbcr":
            matrix = torch.from_numpy(_YCBCR_TO_RGB.astype(np.float32)).to(planes.device)
            planes = (matrix @ planes.reshape(3, -1)).reshape(planes.shape)
        values = planes.cpu().numpy()
    values = values[0] if dec.colour_space == "grey" else np.moveaxis(values, 0, -1)
    return Layers(first, rank, np.ascontiguousarray(values, dtype=np.float32), energy_share(dec, first, rank))


def stretch(values: np.ndarray, percentile: float = STRETCH_PERCENTILE) -> np.ndarray:
    """Signed values → uint8 for display: 0 is mid grey (128), ±(percentile of |values|) the ends.

    One scale for all channels, so a colour layer keeps its hue; values past the scale
    saturate. An all-zero layer is flat grey.
    """
    values = np.asarray(values, dtype=np.float32)
    scale = float(np.percentile(np.abs(values), percentile)) if values.size else 0.0
    if scale <= 0:
        scale = float(np.max(np.abs(values))) if values.size else 0.0
    if scale <= 0:
        return np.full(values.shape, 128, dtype=np.uint8)
    out = 127.5 + values * (127.5 / scale)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
