"""JPEG and WebP at a byte budget: the highest quality that fits, measured like any other image."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from core.jpeg import jpeg_at_budget, webp_at_budget


SAMPLING = {"4:2:0": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420, "4:4:4": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
            "grey": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420}


def jpeg_size(pixels: np.ndarray, quality: int, subsampling: str = "4:2:0") -> int:
    """The file OpenCV writes at `quality`, with the settings jpeg_at_budget documents."""
    ints = np.clip(np.rint(pixels * 255), 0, 255).astype(np.uint8)
    if ints.ndim == 3:
        ints = np.ascontiguousarray(ints[..., ::-1])
    ok, buf = cv2.imencode(".jpg", ints, [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_OPTIMIZE, 1,
                                          cv2.IMWRITE_JPEG_SAMPLING_FACTOR, SAMPLING[subsampling]])
    assert ok
    return buf.size


@pytest.fixture(scope="module")
def photo(photo_rgb) -> np.ndarray:
    return photo_rgb.astype(np.float32) / 255.0


@pytest.mark.parametrize("budget", [1_500, 3_000, 6_000, 12_000, 40_000])
def test_highest_quality_that_fits(photo, budget):
    result = jpeg_at_budget(photo, budget)
    assert result is not None
    size = jpeg_size(photo, result.quality, result.subsampling)
    assert result.size_bytes == len(result.data) == size <= budget
    if result.quality < 100:
        assert jpeg_size(photo, result.quality + 1, result.subsampling) > budget


def test_large_budgets_use_full_chroma_when_it_scores_higher(photo):
    # 4:2:0 fits at quality 100 here, where chroma subsampling, not quantisation, limits PSNR.
    budget = jpeg_size(photo, 100, "4:2:0") + 2_000
    result = jpeg_at_budget(photo, budget)
    assert result.subsampling == "4:4:4"
    subsampled = cv2.imdecode(np.frombuffer(cv2.imencode(
        ".jpg", np.ascontiguousarray((photo * 255).round().astype(np.uint8)[..., ::-1]),
        [cv2.IMWRITE_JPEG_QUALITY, 100, cv2.IMWRITE_JPEG_OPTIMIZE, 1])[1], np.uint8), cv2.IMREAD_COLOR)
    subsampled = subsampled[..., ::-1].astype(np.float32) / 255
    assert result.psnr_db > peak_signal_noise_ratio(photo, subsampled, data_range=1.0)


def test_budget_below_quality_one_gives_none(photo):
    assert jpeg_at_budget(photo, jpeg_size(photo, 1) - 1) is None
    exact = jpeg_at_budget(photo, jpeg_size(photo, 1))
    assert exact is not None and exact.size_bytes == jpeg_size(photo, 1)  # qualities 1 and 2 can tie


def test_large_budget_gives_quality_100(photo):
    assert jpeg_at_budget(photo, 10**8).quality == 100


def test_decoded_pixels_and_metrics_match_independent_measurements(photo):
    result = jpeg_at_budget(photo, 5_000)
    decoded = cv2.imdecode(np.frombuffer(result.data, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
    np.testing.assert_array_equal(result.pixels, decoded.astype(np.float32) / 255)
    assert result.pixels.shape == photo.shape and result.pixels.dtype == np.float32
    assert result.psnr_db == pytest.approx(peak_signal_noise_ratio(photo, result.pixels, data_range=1.0), abs=1e-4)
    expected = structural_similarity(photo, result.pixels, channel_axis=2, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False, data_range=1.0)
    assert result.ssim == pytest.approx(expected, abs=1e-4)


def test_grey_stays_grey(photo):
    grey = photo.mean(axis=2).astype(np.float32)
    result = jpeg_at_budget(grey, 4_000)
    assert result.pixels.shape == grey.shape
    assert result.size_bytes <= 4_000


def test_more_bytes_buy_better_pictures(photo):
    low, high = jpeg_at_budget(photo, 2_000), jpeg_at_budget(photo, 10_000)
    assert low.quality < high.quality and low.psnr_db < high.psnr_db


def test_webp_at_budget_fits(photo):
    result = webp_at_budget(photo, 4_000)
    assert result is not None and result.size_bytes <= 4_000 and result.pixels.shape == photo.shape
