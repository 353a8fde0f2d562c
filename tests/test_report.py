"""The rank table, number by number against an independent numpy implementation."""

from __future__ import annotations


import cv2
import numpy as np
import pytest
from skimage.metrics import structural_similarity

from core.errors import RankError
from core.imageio import read_image
from core.pixels import to_integer
from core.outputs import encode_image
from core.report import CLASSIC_RANKS, build_report, parse_ranks, rank_row
from core.svd import decompose
from tests.conftest import classic_procedure, write_png



def _check_rows_against_numpy(report, original, top=255):
    for row in report.rows:
        ref = classic_procedure(original, row.rank, top)
        assert row.energy == pytest.approx(ref["energy"], abs=1e-6)
        assert row.relative_error == pytest.approx(ref["relative_error"], rel=1e-3, abs=1e-6)
        if ref["psnr_db"] == float("inf") and top == 255:
            assert row.psnr_db == float("inf")
        elif ref["psnr_db"] == float("inf"):  # float32 may turn a pixel by one 16-bit level (137 dB here)
            assert row.psnr_db > 130
        else:
            assert row.psnr_db == pytest.approx(ref["psnr_db"], abs=0.02)
        kwargs = {"channel_axis": -1} if original.ndim == 3 else {}
        ref_ssim = structural_similarity(original / top, ref["saved"] / top, gaussian_weights=True, sigma=1.5,
                                         use_sample_covariance=False, data_range=1.0, **kwargs)
        assert row.ssim == pytest.approx(ref_ssim, abs=2e-3)


@pytest.mark.parametrize("mode", ["colour", "grey"])
def test_classic_table_matches_numpy(photo_png, photo_rgb, mode):
    src = read_image(photo_png, mode)
    dec = decompose(src.pixels)
    report = build_report(src, dec)  # 500, 250, 100, 50, 25, 10 on a 128×96 image
    assert [r.requested_rank for r in report.rows] == list(CLASSIC_RANKS)
    assert [r.rank for r in report.rows] == [96, 96, 96, 50, 25, 10]
    assert [r.clamped for r in report.rows] == [True, True, True, False, False, False]
    assert len(report.notes) == 3 and "clamped to 96" in report.notes[0] and "min(H, W)" in report.notes[0]
    original = photo_rgb if mode == "colour" else to_integer(src.pixels)
    _check_rows_against_numpy(report, original)
    assert report.rows[0].psnr_db == float("inf") and report.rows[0].ssim == pytest.approx(1.0)
    # rows clamped to the same rank carry the same numbers, each with its own requested rank
    assert report.rows[1].to_json() == {**report.rows[0].to_json(), "requested_rank": 250}


def test_sizes_are_real_bytes(photo_png):
    src = read_image(photo_png)
    dec = decompose(src.pixels)
    row = rank_row(src, dec, 20)
    h, w = 96, 128
    assert row.original_bytes == photo_png.stat().st_size
    assert row.raw_bytes == h * w * 3
    assert row.factors_float32_bytes == 3 * 20 * (h + w + 1) * 4
    # The PNG column is the size of the file `compress -o x.png` writes: same pixels, same encoder.
    png = encode_image(to_integer(dec.reconstruct(20)) / 255.0, ".png")
    assert row.png_bytes == len(png)
    decoded = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)[..., ::-1]
    np.testing.assert_array_equal(decoded, to_integer(dec.reconstruct(20)))


def test_container_columns_are_the_real_file(photo_png):
    from core import svdz

    src = read_image(photo_png)
    dec = decompose(src.pixels)
    row = rank_row(src, dec, 12).to_json()
    data = svdz.encode(dec, 12, bit_depth=8)
    assert row["container_bytes"] == len(data)
    decoded = svdz.decode(data).pixels
    assert row["container_psnr_db"] == pytest.approx(
        10 * np.log10(1 / np.mean((decoded.astype(np.float64) - src.pixels) ** 2)), abs=1e-6)
    assert row["jpeg_bytes"] is None or row["jpeg_bytes"] <= row["container_bytes"]


def test_16_bit_rows_are_measured_at_16_bits(tmp_path, photo_rgb):
    deep = photo_rgb[..., 1].astype(np.uint16) * 257 + 5
    src = read_image(write_png(tmp_path / "deep.png", deep))
    report = build_report(src, decompose(src.pixels), [10, 96])
    _check_rows_against_numpy(report, deep, top=65535)
    assert report.image["bit_depth"] == 16 and report.rows[0].raw_bytes == deep.size * 2


def test_json_shape_and_info(photo_png):
    src = read_image(photo_png)
    dec = decompose(src.pixels)
    data = build_report(src, dec, [500, 7]).to_json()
    info = data["image"]
    assert info["path"] == str(photo_png) and (info["width"], info["height"], info["channels"]) == (128, 96, 3)
    assert info["decomposition"] == "exact" and info["truncated"] is False
    assert info["bit_depth"] == 8 and info["file_bytes"] > 0
    first, second = data["rows"]
    assert first["clamped"] is True and first["rank"] == 96 and first["requested_rank"] == 500
    assert first["psnr_db"] is None  # identical pixels: infinite PSNR has no JSON number
    assert second["clamped"] is False and 0 < second["energy"] < 1 and second["psnr_db"] > 10
    for key in ("rank", "energy", "relative_error", "psnr_db", "ssim", "original_bytes", "raw_bytes",
                "factors_float32_bytes", "png_bytes"):
        assert key in second
    assert "container_bytes" in second and "jpeg_bytes" in second


def test_report_is_a_pure_function(photo_png):
    src = read_image(photo_png)
    dec = decompose(src.pixels)
    before = src.pixels.copy()
    first = build_report(src, dec, [5, 30]).to_json()
    assert build_report(src, dec, [5, 30]).to_json() == first
    np.testing.assert_array_equal(src.pixels, before)


def test_tiny_images_have_rows_without_ssim(tmp_path):
    src = read_image(write_png(tmp_path / "row.png", np.arange(9, dtype=np.uint8).reshape(1, 9, 1)[..., 0] * 20))
    row = build_report(src, decompose(src.pixels), [1, 3]).rows
    assert row[0].rank == 1 and row[0].psnr_db == float("inf") and row[0].ssim is None
    assert row[1].clamped and row[1].rank == 1


@pytest.mark.parametrize("text, message", [("0", "at least 1"), ("-5", "at least 1"), ("ten", "not a whole"),
                                           ("1.5", "not a whole"), (",", "no ranks")])
def test_bad_rank_lists(text, message):
    with pytest.raises(RankError, match=message):
        parse_ranks(text)


def test_rank_row_refuses_nonsense(photo_png):
    src = read_image(photo_png)
    dec = decompose(src.pixels)
    for bad in (0, -5, 2.5, "7", True):
        with pytest.raises(RankError):
            rank_row(src, dec, bad)
