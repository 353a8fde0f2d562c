"""The SVD engine: reconstructions, the σ identities, the crop contract, the randomized path."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core import render, svd
from core.errors import Cancelled, RankError, SvdlensError
from core.imageio import load_image
from tests.photos import IMAGES, shrunk_photo
from tui.describe import describe


@pytest.fixture(scope="module")
def colour():
    return shrunk_photo("coffee.png", 96)  # 64×96×3


@pytest.fixture(scope="module")
def grey():
    return shrunk_photo("astronaut.png", 80, grey=True)  # 80×80


def _numpy_rank(image: np.ndarray, r: int, clip: bool = True) -> np.ndarray:
    """The rank-r image by float64 numpy, channel by channel."""
    planes = image[..., None] if image.ndim == 2 else image
    out = np.empty(planes.shape, dtype=np.float64)
    for c in range(planes.shape[-1]):
        u, s, vt = np.linalg.svd(planes[..., c].astype(np.float64), full_matrices=False)
        out[..., c] = (u[:, :r] * s[:r]) @ vt[:r]
    out = out[..., 0] if image.ndim == 2 else out
    return np.clip(out, 0, 1) if clip else out


def _expected_preview(dec, rank, size, region=None) -> np.ndarray:
    """The contract: the same crop of reconstruct(rank), resized to fit size, as uint8."""
    left, top, right, bottom = region or (0, 0, dec.width, dec.height)
    crop = dec.reconstruct(rank)[top:bottom, left:right].astype(np.float64)
    out_w, out_h = render.fit_size(right - left, bottom - top, size)
    rh = render.area_matrix(bottom - top, out_h).astype(np.float64)
    rw = render.area_matrix(right - left, out_w).astype(np.float64)
    if crop.ndim == 2:
        out = rh @ crop @ rw.T
    else:
        out = np.einsum("ij,jkc,lk->ilc", rh, crop, rw, optimize=True)
    return np.clip(np.rint(out * 255), 0, 255).astype(np.uint8)


def _max_diff(a: np.ndarray, b: np.ndarray) -> int:
    assert a.shape == b.shape
    return int(np.abs(a.astype(int) - b.astype(int)).max())


# ---- reconstruction and the σ identities ---------------------------------------------
@pytest.mark.parametrize("rank", [1, 7, 30])
def test_reconstruction_matches_float64_numpy(grey, colour, rank):
    for image in (grey, colour):
        dec = svd.decompose(image, device="cpu")
        assert dec.exact and dec.method == "exact"
        got = dec.reconstruct(rank)
        assert got.dtype == np.float32 and got.shape == image.shape
        assert np.abs(got - _numpy_rank(image, rank)).max() < 1e-5


def test_residual_energy_and_psnr_follow_from_singular_values(colour):
    dec = svd.decompose(colour, device="cpu")
    for rank in (1, 5, 40):
        unclipped = _numpy_rank(colour, rank, clip=False)
        residual = ((colour.astype(np.float64) - unclipped) ** 2).sum()
        assert dec.residual_energy(rank).sum() == pytest.approx(residual, rel=1e-4)
        mse = residual / colour.size
        assert dec.psnr_estimate(rank) == pytest.approx(10 * np.log10(1 / mse), abs=1e-3)
        assert dec.energy(rank) == pytest.approx(1 - residual / (colour.astype(np.float64) ** 2).sum(), abs=1e-6)
    curve = dec.energy_curve()
    assert len(curve) == dec.max_rank and np.all(np.diff(curve) >= -1e-12) and curve[-1] == pytest.approx(1, abs=1e-6)


def test_full_rank_gives_the_image_back_after_rounding():
    pixels = cv2.imread(IMAGES + "chelsea.png")[:70, :90, ::-1]  # 8-bit RGB
    image = pixels.astype(np.float32) / 255
    dec = svd.decompose(image, device="cpu")
    assert dec.full_rank == 70 and dec.max_rank == 70
    back = np.rint(dec.reconstruct(dec.full_rank) * 255).astype(np.uint8)
    assert np.array_equal(back, pixels)


def test_ycbcr_with_luma_and_chroma_ranks(colour):
    dec = svd.decompose(colour, colour_space="ycbcr", device="cpu")
    assert dec.channel_ranks((20, 5)) == (20, 5, 5)
    fine, coarse = dec.reconstruct((20, 20)), dec.reconstruct((20, 5))
    assert fine.shape == colour.shape and np.abs(fine - coarse).max() > 0.01
    assert np.abs(dec.reconstruct(dec.full_rank) - colour).max() < 1e-4


def test_bad_ranks_and_arguments_are_clear_errors(grey):
    dec = svd.decompose(grey, device="cpu")
    for bad in (0, -3, dec.full_rank + 1, 2.5, True):
        with pytest.raises(RankError):
            dec.reconstruct(bad)
    with pytest.raises(SvdlensError, match="method"):
        svd.decompose(grey, method="fast")
    with pytest.raises(SvdlensError, match="device"):
        svd.decompose(grey, device="tpu")
    with pytest.raises(SvdlensError, match="region"):
        dec.preview(3, (10, 10), (0, 0, dec.width + 1, 10))


def test_exact_with_max_rank_keeps_only_those_factors(grey):
    dec = svd.decompose(grey, method="exact", max_rank=12, device="cpu")
    assert dec.max_rank == 12 and not dec.exact and dec.channels[0].u.shape == (80, 12)
    assert describe(dec) == "exact SVD, top 12 ranks kept"
    assert np.abs(dec.reconstruct(12) - _numpy_rank(grey, 12)).max() < 1e-5
    with pytest.raises(RankError, match="12"):
        dec.reconstruct(13)


# ---- the crop contract ------------------------------------------------------------------
REGIONS = [
    None,  # the whole image, shrunk (non-integer ratio)
    (0, 0, 17, 11),  # top-left corner, enlarged into the pane
    (70, 50, 96, 64),  # bottom-right corner, touching both edges
    (0, 20, 96, 21),  # a one-pixel strip across the whole width
    (31, 0, 32, 64),  # a one-pixel column, top to bottom
    (5, 3, 90, 60),  # most of the image, shrunk by an odd ratio
]


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("space", ["grey", "rgb", "ycbcr"])
def test_preview_equals_the_resized_crop_of_reconstruct(colour, region, space):
    image = colour.mean(axis=2) if space == "grey" else colour
    dec = svd.decompose(image, colour_space=None if space == "grey" else space, device="cpu")
    for rank, size in [(3, (40, 30)), (25, (23, 41)), (64, (200, 150))]:
        got = dec.preview(rank, size, region)
        expected = _expected_preview(dec, rank, size, region)
        assert got.dtype == np.uint8 and got.shape[1] <= size[0] and got.shape[0] <= size[1]
        assert _max_diff(got, expected) <= 1, (rank, size, region)
        # exact=True promises the contract whatever the crop costs.
        assert _max_diff(dec.preview(rank, size, region, exact=True), expected) <= 1


def test_region_smaller_than_the_pane_repeats_pixels(grey):
    dec = svd.decompose(grey, device="cpu")
    tile = dec.preview(10, (40, 40), (8, 4, 12, 8))  # 4×4 pixels into a 40×40 pane
    assert tile.shape == (40, 40)
    recon = np.rint(dec.reconstruct(10)[4:8, 8:12] * 255).astype(np.uint8)
    assert np.array_equal(tile, np.kron(recon, np.ones((10, 10), dtype=np.uint8)))


def test_fast_preview_is_the_resize_of_the_unclipped_crop(colour):
    """The resized-factor path is exact linear algebra; it differs only by clipping after averaging."""
    dec = svd.decompose(colour, device="cpu")
    region, size = (4, 6, 90, 60), (30, 20)
    for rank in (4, 30):
        fast = dec.preview(rank, size, region, exact=False)
        left, top, right, bottom = region
        crop = _numpy_rank(colour, rank, clip=False)[top:bottom, left:right]
        out_w, out_h = render.fit_size(right - left, bottom - top, size)
        resized = np.einsum("ij,jkc,lk->ilc", render.area_matrix(bottom - top, out_h), crop,
                            render.area_matrix(right - left, out_w), optimize=True)
        assert _max_diff(fast, np.clip(np.rint(resized * 255), 0, 255).astype(np.uint8)) <= 1
    # At full rank nothing over- or undershoots, so the fast path meets the contract too.
    full = dec.full_rank
    assert _max_diff(dec.preview(full, size, region, exact=False), _expected_preview(dec, full, size, region)) <= 1


def test_preview_uses_resized_factors_for_large_crops(colour, monkeypatch):
    dec = svd.decompose(colour, device="cpu")
    monkeypatch.setattr(render, "EXACT_PREVIEW_BUDGET", 1000)
    for rank in (2, 9, 30):  # one view: the factors are resized once, then reused per rank
        dec.preview(rank, (30, 20))
    assert len(dec._renderer._cache) == 1
    for i in range(render.PREVIEW_CACHE_VIEWS + 3):
        dec.preview(5, (30, 20), (i, 0, 96, 64))
    assert len(dec._renderer._cache) == render.PREVIEW_CACHE_VIEWS


def test_original_preview_matches_opencv_area_resize(colour):
    dec = svd.decompose(colour, device="cpu")
    got = dec.original_preview((40, 40))
    assert got.shape == (27, 40, 3)
    reference = cv2.resize(colour, (40, 27), interpolation=cv2.INTER_AREA)
    assert _max_diff(got, np.clip(np.rint(reference * 255), 0, 255).astype(np.uint8)) <= 1


# ---- the randomized path -------------------------------------------------------------------
@pytest.fixture(scope="module")
def large_grey():
    # A real photo enlarged modestly (1.5×, bicubic): 654×750.
    img = load_image(IMAGES + "hubble_deep_field.jpg", "grey")
    return np.clip(cv2.resize(img, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA), 0, 1)


def test_randomized_is_within_a_tenth_of_a_db_of_exact(large_grey):
    exact = svd.decompose(large_grey, method="exact", device="cpu")
    fast = svd.decompose(large_grey, method="randomized", max_rank=120, device="cpu")
    assert not fast.exact and fast.method == "randomized" and fast.max_rank == 120
    assert fast.channels[0].u.shape == (large_grey.shape[0], 120)  # no full U kept
    assert "randomized top-120" in describe(fast)
    ranks = np.arange(1, 121)
    gap = np.array([exact.psnr_estimate(int(r)) - fast.psnr_estimate(int(r)) for r in ranks])
    assert gap.max() < 0.1 and gap.min() > -1e-3  # the exact SVD is optimal: never worse
    assert fast.accuracy_db < 0.1
    assert fast.captured_energy == pytest.approx(fast.energy(120))
    # The served factors are an orthogonal projection: the σ-based PSNR is their real PSNR.
    for r in (10, 120):
        u, s, v = (t.double().numpy() for t in (fast.channels[0].u, fast.channels[0].s, fast.channels[0].v))
        unclipped = (u[:, :r] * s[:r]) @ v[:, :r].T
        mse = ((large_grey - unclipped) ** 2).mean()
        assert fast.psnr_estimate(r) == pytest.approx(10 * np.log10(1 / mse), abs=0.01)
    # Pixels agree with the exact SVD at a served rank.
    assert np.abs(fast.reconstruct(60) - exact.reconstruct(60)).mean() < 2e-3


def test_auto_picks_randomized_above_the_threshold_and_refines_to_exact(colour, monkeypatch):
    monkeypatch.setattr(svd, "RANDOMIZED_MIN_SIDE", 50)
    monkeypatch.setattr(svd, "RANDOMIZED_MIN_PIXELS", 1000)
    monkeypatch.setattr(svd, "SERVED_RANKS", 20)
    monkeypatch.setattr(svd, "OVERSAMPLE", 10)
    fast = svd.decompose(colour, colour_space="ycbcr", device="cpu")
    assert fast.method == "randomized" and fast.max_rank == 20 and not fast.exact
    with pytest.raises(RankError, match="computed"):
        fast.reconstruct(21)
    # The crop contract holds for randomized factors too.
    assert _max_diff(fast.preview(12, (40, 30), (10, 10, 60, 50)), _expected_preview(fast, 12, (40, 30),
                                                                                       (10, 10, 60, 50))) <= 1
    exact = fast.refine()
    assert exact.exact and exact.colour_space == "ycbcr" and exact.max_rank == 64
    reference = svd.decompose(colour, colour_space="ycbcr", method="exact", device="cpu")
    assert np.abs(exact.reconstruct(64) - reference.reconstruct(64)).max() < 1e-6
    assert exact.refine() is exact
    # Small images stay exact under auto whatever the thresholds say.
    monkeypatch.setattr(svd, "SERVED_RANKS", 500)
    assert svd.decompose(colour, device="cpu").exact


def test_quick_first_pass_refines_to_the_served_ranks_then_exact(colour, monkeypatch):
    monkeypatch.setattr(svd, "RANDOMIZED_MIN_SIDE", 50)
    monkeypatch.setattr(svd, "RANDOMIZED_MIN_PIXELS", 1000)
    monkeypatch.setattr(svd, "SERVED_RANKS", 30)
    monkeypatch.setattr(svd, "QUICK_RANKS", 8)
    monkeypatch.setattr(svd, "QUICK_OVERSAMPLE", 6)
    monkeypatch.setattr(svd, "OVERSAMPLE", 6)
    first = svd.decompose(colour, device="cpu", quick=True)
    assert first.max_rank == 8 and describe(first).startswith("first pass: randomized top-8")
    second = first.refine()
    assert second.max_rank == 30 and not second.exact and not describe(second).startswith("first pass")
    third = second.refine()
    assert third.exact and third.max_rank == 64
    # quick has no effect where the exact SVD is used anyway, or when max_rank is given.
    assert svd.decompose(colour, device="cpu", quick=True, method="exact").exact
    assert svd.decompose(colour, device="cpu", quick=True, max_rank=20).max_rank == 20


def test_flat_images_decompose_cleanly():
    black = np.zeros((120, 160, 3), dtype=np.float32)
    dec = svd.decompose(black, method="randomized", max_rank=10, device="cpu")
    assert dec.accuracy_db == 0.0 and "nan" not in describe(dec)
    assert dec.psnr_estimate(3) == float("inf") and not dec.reconstruct(3).any()
    grey = np.full((120, 160), 0.5, dtype=np.float32)
    dec = svd.decompose(grey, method="randomized", max_rank=10, device="cpu")
    assert np.abs(dec.reconstruct(1) - grey).max() < 1e-4 and np.abs(dec.reconstruct(10) - grey).max() < 1e-3


def test_progress_and_cancellation(large_grey, colour):
    calls = []
    svd.decompose(colour, method="randomized", max_rank=10, device="cpu", progress=lambda d, t: calls.append((d, t)))
    assert calls and calls[-1][0] == calls[-1][1] and [d for d, _ in calls] == sorted(d for d, _ in calls)
    for method in ("exact", "randomized"):
        checks = []

        def cancel_on_third():
            checks.append(1)
            return len(checks) >= 3

        with pytest.raises(Cancelled):
            svd.decompose(colour, method=method, max_rank=10, device="cpu", should_cancel=cancel_on_third)
        assert len(checks) == 3  # stopped at the first check that said so
    with pytest.raises(Cancelled):
        svd.decompose(large_grey, device="cpu", should_cancel=lambda: True)


def test_cuda_without_a_device_is_a_clear_error(grey):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(SvdlensError, match="no CUDA device"):
        svd.decompose(grey, device="cuda")
    assert svd.decompose(grey, device="auto").device == "cpu"


def test_the_cuda_path_matches_the_cpu(colour):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    cpu = svd.decompose(colour, device="cpu")
    gpu = svd.decompose(colour, device="cuda")
    assert gpu.device == "cuda"
    assert np.abs(gpu.reconstruct(20) - cpu.reconstruct(20)).max() < 1e-4
    assert _max_diff(gpu.preview(20, (40, 30)), cpu.preview(20, (40, 30))) <= 1
