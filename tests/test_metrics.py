"""Quality numbers, the SVD identities they rest on, and choosing a rank from a target."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from core.errors import TargetError
from core.metrics import Reference, energy_kept, psnr, ssim
from core.pixels import to_integer
from core.select import measured_psnr, psnr_curve, rank_for_energy, rank_for_reconstruction_psnr
from core.svd import ChannelFactors, Decomposition, decompose
from tests.conftest import classic_procedure


def _skimage_ssim(a, b):
    kwargs = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)
    if a.ndim == 3:
        kwargs["channel_axis"] = -1
    return structural_similarity(a.astype(np.float64), b.astype(np.float64), **kwargs)


# SSIM runs in float32 (fast OpenCV filters); scikit-image works in float64. Measured gaps are
# up to ~4e-6 (a flat grey against a photo); the report's promise is SSIM unchanged to ±0.0005.
SSIM_TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def photo01(photo_rgb):
    return photo_rgb.astype(np.float32) / 255


# ---- SSIM port against scikit-image ------------------------------------------------

@pytest.mark.parametrize("distortion", ["noise", "svd", "shift", "constant"])
@pytest.mark.parametrize("colour", [True, False])
def test_ssim_matches_scikit_image(photo01, distortion, colour):
    img = photo01 if colour else photo01[..., 1]
    rng = np.random.default_rng(7)
    if distortion == "noise":
        other = np.clip(img + rng.normal(0, 0.08, img.shape), 0, 1)
    elif distortion == "svd":
        other = decompose(img).reconstruct(6)
    elif distortion == "shift":
        other = np.roll(img, 3, axis=1)
    else:
        other = np.full_like(img, 0.5)
    ours = ssim(img, other)
    assert ours == pytest.approx(_skimage_ssim(img, other), abs=SSIM_TOLERANCE)
    assert ours < 0.999  # each distortion is visible


@pytest.mark.parametrize("shape", [(11, 11), (11, 40), (37, 12, 3)])
def test_ssim_matches_scikit_image_on_small_odd_shapes(shape):
    rng = np.random.default_rng(1)
    a, b = rng.random(shape), rng.random(shape)
    assert ssim(a, b) == pytest.approx(_skimage_ssim(a, b), abs=SSIM_TOLERANCE)


def test_banded_ssim_and_psnr_equal_one_pass(photo01, monkeypatch):
    import core.metrics

    rng = np.random.default_rng(5)
    other = np.clip(photo01 + rng.normal(0, 0.05, photo01.shape), 0, 1).astype(np.float32)
    monkeypatch.setattr(core.metrics, "SSIM_BAND_ROWS", 10**6)
    whole_ssim, whole_psnr = ssim(photo01, other), psnr(photo01, other)
    monkeypatch.setattr(core.metrics, "SSIM_BAND_ROWS", 3)  # 3 rows per band, 5 of context each side
    monkeypatch.setattr(core.metrics, "BAND_ELEMENTS", 7 * 128)
    assert ssim(photo01, other) == pytest.approx(whole_ssim, abs=1e-12)
    assert ssim(photo01, other) == pytest.approx(_skimage_ssim(photo01, other), abs=SSIM_TOLERANCE)
    assert psnr(photo01, other) == pytest.approx(whole_psnr, abs=1e-9)


# ---- Reference: one original, many comparisons -------------------------------------------

@pytest.mark.parametrize("colour", [True, False])
@pytest.mark.parametrize("cache_stats", [True, False])
def test_reference_on_integers_matches_scikit_image(photo_rgb, colour, cache_stats):
    img = photo_rgb if colour else photo_rgb[..., 1]
    rng = np.random.default_rng(3)
    ref = Reference(img, 255, cache_stats=cache_stats)
    for _ in range(2):  # the second comparison uses the statistics kept from the first
        other = np.clip(img.astype(int) + rng.integers(-20, 21, img.shape), 0, 255).astype(np.uint8)
        a, b = img.astype(np.float64) / 255, other.astype(np.float64) / 255
        assert ref.ssim(other) == pytest.approx(_skimage_ssim(a, b), abs=SSIM_TOLERANCE)
        assert ref.psnr(other) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=1.0), abs=1e-9)
    assert ref.psnr(img.copy()) == float("inf") and ref.ssim(img.copy()) == pytest.approx(1.0)


def test_reference_of_loaded_pixels_keeps_integers_and_compares_other_scales(photo_rgb):
    pixels = photo_rgb.astype(np.float32) / np.float32(255)
    ref = Reference.of_pixels(pixels, bgr=True)
    assert ref.samples.dtype == np.uint8 and ref.top == 255
    np.testing.assert_array_equal(ref.samples, photo_rgb[..., ::-1])
    deep = photo_rgb.astype(np.uint16) * 257 + 3  # a 16-bit original against an 8-bit copy of it
    deep01 = deep.astype(np.float32) / np.float32(65535)
    ref16 = Reference.of_pixels(deep01)
    assert ref16.samples.dtype == np.uint16 and ref16.top == 65535
    noisy = np.clip(deep01 + np.random.default_rng(2).normal(0, 0.02, deep01.shape), 0, 1)
    eight = to_integer(noisy, 8)
    assert ref16.psnr(eight, 255) == pytest.approx(psnr(deep01, eight / np.float32(255)), abs=1e-4)
    assert ref16.ssim(eight, 255) == pytest.approx(_skimage_ssim(deep01, eight / 255.0), abs=SSIM_TOLERANCE)
    off_grid = pixels + np.float32(1e-3)
    assert Reference.of_pixels(off_grid).samples.dtype == np.float32


def test_reference_spreads_channels_over_threads(photo_rgb):
    from concurrent.futures import ThreadPoolExecutor

    other = np.roll(photo_rgb, 2, axis=0)
    ref = Reference(photo_rgb, 255)
    with ThreadPoolExecutor(3) as pool:
        assert ref.ssim(other, executor=pool) == ref.ssim(other)


def test_ssim_of_identical_images_is_one_and_none_below_the_window(photo01):
    assert ssim(photo01, photo01) == pytest.approx(1.0)
    assert ssim(photo01[:10, :10], photo01[:10, :10]) is None
    assert ssim(photo01[:1, :50], photo01[:1, :50]) is None


def test_psnr_on_the_8_bit_scale(photo_rgb):
    a = photo_rgb.astype(np.float64) / 255
    b = np.clip(a + 0.1, 0, 1)
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=1.0), abs=1e-9)
    # Same number as computed on 0–255 integers with peak 255.
    ints_mse = np.mean((photo_rgb.astype(float) - to_integer(b).astype(float)) ** 2)
    assert psnr(a, to_integer(b) / 255.0) == pytest.approx(10 * np.log10(255**2 / ints_mse), abs=1e-9)
    assert psnr(a, a) == float("inf")
    assert psnr(np.zeros(4), np.full(4, 0.1)) == pytest.approx(20.0)


# ---- the SVD identities the report relies on ----------------------------------------

@pytest.mark.parametrize("colour", [True, False])
@pytest.mark.parametrize("rank", [1, 10, 40])
def test_reconstruction_matches_float64_numpy(photo_rgb, colour, rank):
    img = photo_rgb if colour else photo_rgb[..., 0]
    dec = decompose(img.astype(np.float32) / 255)
    reference = np.clip(classic_procedure(img, rank)["reconstruction"], 0, 1)
    assert np.abs(dec.reconstruct(rank) - reference).max() < 1e-5


@pytest.mark.parametrize("rank", [1, 5, 20, 60, 95])
def test_frobenius_error_is_the_tail_of_the_singular_values(photo01, rank):
    dec = decompose(photo01)
    factors = dec.channels
    measured = 0.0
    for c, ch in enumerate(factors):
        approx = ((ch.u[:, :rank] * ch.s[:rank]) @ ch.v[:, :rank].T).double().numpy()  # unclipped
        measured += float(np.sum((photo01[..., c].astype(np.float64) - approx) ** 2))
    tail = sum(float(np.sum(s[rank:] ** 2)) for s in dec.singular_values)
    assert tail == pytest.approx(measured, rel=1e-4)
    assert dec.residual_energy([rank] * 3).sum() == pytest.approx(measured, rel=1e-4)
    assert dec.residual_curve()[rank - 1] == pytest.approx(measured, rel=1e-4)


@pytest.mark.parametrize("colour", [True, False])
def test_full_rank_gives_back_the_original_pixels(photo_rgb, colour):
    img = photo_rgb if colour else photo_rgb[..., 2]
    dec = decompose(img.astype(np.float32) / 255)
    np.testing.assert_array_equal(to_integer(dec.reconstruct(dec.full_rank)), img)


def test_full_rank_gives_back_16_bit_pixels(photo_rgb):
    deep = photo_rgb[..., 0].astype(np.uint16) * 257 + 11
    dec = decompose(deep.astype(np.float32) / 65535)
    back = to_integer(dec.reconstruct(dec.full_rank), 16).astype(np.int64)
    # float32 has 24 bits: within one 16-bit level everywhere and exact almost everywhere (which of the
    # pixels nearest a rounding boundary go the other way depends on the BLAS code path: MKL's
    # vendor-independent one, which the tests use, turns 1 of these 12 288)
    assert np.abs(back - deep).max() <= 1
    assert np.mean(back == deep) >= 0.999


@pytest.mark.parametrize("rank", [10, 20, 40, 60])
def test_psnr_from_singular_values_agrees_with_measured(photo01, rank):
    dec = decompose(photo01)
    measured = psnr(dec.reconstruct(rank), photo01)  # clipped reconstruction
    assert abs(dec.psnr_estimate(rank) - measured) < 0.1
    assert abs(psnr_curve(dec)[rank - 1] - measured) < 0.1


def test_energy_kept_matches_the_decomposition(photo01):
    dec = decompose(photo01)
    for rank in (1, 7, 30):
        assert energy_kept(dec.singular_values, [rank] * 3) == pytest.approx(dec.energy(rank), abs=1e-6)
    assert energy_kept(dec.singular_values, [dec.full_rank] * 3) == pytest.approx(1.0)


# ---- rank selection ---------------------------------------------------------------

@pytest.fixture(scope="module")
def photo_dec(photo01):
    return decompose(photo01)


@pytest.mark.parametrize("share", [0.5, 0.9, 0.99, 0.999, 1.0])
def test_rank_for_energy_is_the_smallest_reaching_it(photo_dec, share):
    r = rank_for_energy(photo_dec, share)
    kept = [energy_kept(photo_dec.singular_values, [k] * 3) for k in (r - 1, r)]
    assert kept[1] >= share - 1e-9
    assert r == 1 or kept[0] < share


@pytest.mark.parametrize("share", [0, -0.5, 1.01, 99, float("nan")])
def test_unreachable_energy_is_refused(photo_dec, share):
    with pytest.raises(TargetError, match="energy"):
        rank_for_energy(photo_dec, share)


@pytest.mark.parametrize("target", [18.0, 25.0, 32.0, 45.0])
def test_rank_for_psnr_is_the_smallest_reaching_it_as_saved(photo_dec, photo_rgb, target):
    r = rank_for_reconstruction_psnr(photo_dec, target)
    assert measured_psnr(photo_dec, r) >= target
    assert r == 1 or measured_psnr(photo_dec, r - 1) < target
    # and the same judgement by the independent float64 procedure, saved to uint8
    assert classic_procedure(photo_rgb, r)["psnr_db"] >= target - 0.05


def _truncated(dec: Decomposition, k: int) -> Decomposition:
    channels = [ChannelFactors(u=c.u[:, :k], s=c.s[:k], v=c.v[:, :k], total_energy=c.total_energy)
                for c in dec.channels]
    return Decomposition(image=dec.image, colour_space=dec.colour_space, channels=channels, exact=False)


def test_psnr_above_what_the_factors_give_is_refused(photo_dec):
    few = _truncated(photo_dec, 5)
    best = measured_psnr(few, 5)
    with pytest.raises(TargetError, match=r"above what rank 5"):
        rank_for_reconstruction_psnr(few, best + 1)
    assert rank_for_reconstruction_psnr(few, best) <= 5
    with pytest.raises(TargetError, match="not reached"):
        rank_for_energy(few, 0.99999)


@pytest.mark.parametrize("target", [0, -3, float("nan")])
def test_nonsense_psnr_targets_are_refused(photo_dec, target):
    with pytest.raises(TargetError, match="PSNR"):
        rank_for_reconstruction_psnr(photo_dec, target)
