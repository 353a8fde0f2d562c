"""What a rank adds (core.layers): layers at preview size equal the layer computed from the factors."""

from __future__ import annotations

import numpy as np
import pytest

from core import render, svd
from core.errors import RankError
from core.layers import energy_share, layer_preview, stretch
from tests.photos import shrunk_photo


@pytest.fixture(scope="module")
def photo():
    return shrunk_photo("coffee.png", 120)  # 80×120×3


def _direct(dec, first: int, last: int, size) -> np.ndarray:
    """Σ_{first≤i≤last} σᵢ uᵢ vᵢᵀ at full size from the factors (float64), then the area resize."""
    out_w, out_h = render.fit_size(dec.width, dec.height, size)
    rh = render.area_matrix(dec.height, out_h).astype(np.float64)
    rw = render.area_matrix(dec.width, out_w).astype(np.float64)
    planes = []
    for c in dec.channels:
        u = c.u.double().numpy()[:, first - 1:last]
        s = c.s.double().numpy()[first - 1:last]
        v = c.v.double().numpy()[:, first - 1:last]
        planes.append(rh @ ((u * s) @ v.T) @ rw.T)
    out = np.stack(planes, axis=-1)
    if dec.colour_space == "ycbcr":
        from core.colour import _YCBCR_TO_RGB

        out = out @ _YCBCR_TO_RGB.T
    return out[..., 0] if dec.colour_space == "grey" else out


@pytest.mark.parametrize("space", ["rgb", "ycbcr"])
@pytest.mark.parametrize("rank,count", [(1, 1), (7, 1), (40, 1), (40, 10), (3, 10)])
def test_layers_equal_the_layer_from_the_factors(photo, space, rank, count):
    dec = svd.decompose(photo, colour_space=space, method="exact", device="cpu")
    got = layer_preview(dec, rank, (50, 40), count)
    want = _direct(dec, max(1, rank - count + 1), rank, (50, 40))
    assert got.values.shape == want.shape == (33, 50, 3)
    assert got.first == max(1, rank - count + 1) and got.last == rank
    scale = np.abs(want).max()
    assert np.abs(got.values - want).max() <= 1e-4 * max(scale, 1e-3)


def test_grey_layer_and_the_sum_of_all_layers_is_the_preview():
    img = shrunk_photo("astronaut.png", 64, grey=True)
    dec = svd.decompose(img, method="exact", device="cpu")
    layer = layer_preview(dec, 5, (32, 32))
    assert layer.values.shape == (32, 32)
    assert np.allclose(layer.values, _direct(dec, 5, 5, (32, 32)), atol=1e-5)
    # Layers 1..r add up to the rank-r image (before clipping): the build-up the view shows.
    total = layer_preview(dec, 20, (32, 32), count=20).values
    preview = dec.preview(20, (32, 32), exact=False)
    assert np.abs(np.clip(np.rint(total * 255), 0, 255) - preview.astype(float)).max() <= 1


def test_energy_share_is_the_share_of_sigma_squared(photo):
    dec = svd.decompose(photo, method="exact", device="cpu")
    total = float(np.sum(photo.astype(np.float64) ** 2))
    sq = [s**2 for s in dec.singular_values]
    assert layer_preview(dec, 1, (20, 20)).energy_share == pytest.approx(sum(x[0] for x in sq) / total, rel=1e-5)
    assert energy_share(dec, 3, 12) == pytest.approx(sum(x[2:12].sum() for x in sq) / total, rel=1e-5)
    # Every layer together is all of the energy; the first layer of a photo carries most of it.
    assert energy_share(dec, 1, dec.max_rank) == pytest.approx(1.0, abs=1e-5)
    assert energy_share(dec, 1, 1) > 0.5 > energy_share(dec, 40, 40)


def test_rank_outside_the_factors_is_refused(photo):
    dec = svd.decompose(photo, method="exact", device="cpu")
    with pytest.raises(RankError):
        layer_preview(dec, 0, (20, 20))
    with pytest.raises(RankError):
        layer_preview(dec, dec.max_rank + 1, (20, 20))


def test_stretch_puts_zero_at_mid_grey_and_keeps_sign():
    values = np.array([[-2.0, -1.0, 0.0, 1.0, 2.0]], dtype=np.float32)
    out = stretch(values, percentile=100)
    assert out.tolist() == [[0, 64, 128, 191, 255]]
    assert stretch(np.zeros((3, 3))).tolist() == [[128] * 3] * 3
    # One outlier saturates instead of squashing everything else to grey.
    spiky = np.concatenate([np.linspace(-1, 1, 999), [1000.0]]).astype(np.float32)
    shown = stretch(spiky)
    assert shown[-1] == 255 and shown[0] <= 2 and shown[998] >= 253
