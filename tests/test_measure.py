"""One measurement path: figures streamed per rank, each equal to an independent measurement."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from core import svdz
from core.errors import RankError
from core.imageio import read_image
from core.pixels import to_integer
from core.jpeg import jpeg_at_budget
from core.measure import FIGURES, REPORT_FIGURES, MeasureContext, measure_all, measure_rank, save_rank
from core.report import rank_row
from core.svd import decompose
from tests.conftest import write_png


def _skimage_ssim(a, b):
    kwargs = {"channel_axis": -1} if a.ndim == 3 else {}
    return structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=1.0, **kwargs)


@pytest.fixture
def context(photo_png):
    src = read_image(photo_png)
    return MeasureContext(src, decompose(src.pixels))


def test_every_figure_equals_an_independent_measurement(context):
    src, dec = context.src, context.dec
    values = measure_all(context, 12)
    assert set(values) == set(FIGURES)
    saved = to_integer(dec.reconstruct(12)) / 255.0
    assert values["psnr_db"] == pytest.approx(peak_signal_noise_ratio(src.pixels, saved, data_range=1.0), abs=1e-6)
    assert values["ssim"] == pytest.approx(_skimage_ssim(src.pixels.astype(np.float64), saved), abs=1e-5)
    png = cv2.imencode(".png", np.ascontiguousarray(to_integer(dec.reconstruct(12))[..., ::-1]),
                       [cv2.IMWRITE_PNG_COMPRESSION, 6])[1]
    assert values["png_bytes"] == png.size
    data = svdz.encode(dec, 12, bit_depth=8)
    decoded = svdz.decode(data).pixels
    assert values["container_bytes"] == len(data)
    assert values["container_psnr_db"] == pytest.approx(
        peak_signal_noise_ratio(src.pixels, decoded, data_range=1.0), abs=1e-6)
    assert values["container_ssim"] == pytest.approx(_skimage_ssim(src.pixels.astype(np.float64), decoded), abs=1e-5)
    jpeg = jpeg_at_budget(src.pixels, len(data))
    assert (values["jpeg_bytes"], values["jpeg_quality"], values["jpeg_subsampling"]) == (
        jpeg.size_bytes, jpeg.quality, jpeg.subsampling)
    assert values["jpeg_psnr_db"] == pytest.approx(jpeg.psnr_db, abs=1e-6)
    assert values["jpeg_ssim"] == pytest.approx(jpeg.ssim, abs=1e-6)
    assert values["energy"] == pytest.approx(dec.energy(12), abs=1e-9)
    assert values["psnr_estimate_db"] == pytest.approx(dec.psnr_estimate(12), abs=1e-9)


def test_the_kept_svdz_pixels_are_the_decoders(context):
    for rank in (1, 7, 40, context.dec.max_rank):
        data, decoded = context.container(rank)
        np.testing.assert_array_equal(decoded[..., ::-1], to_integer(svdz.decode(data).pixels))
        assert data == svdz.encode(context.dec, rank, bit_depth=8)


def test_the_kept_svdz_pixels_are_the_decoders_in_every_space_and_depth(photo_png, grey_png, tmp_path, photo_rgb):
    deep = write_png(tmp_path / "deep.png", photo_rgb.astype(np.uint16) * 257 + 9)
    for path, space in ((grey_png, None), (photo_png, "ycbcr"), (deep, None)):
        src = read_image(path)
        context = MeasureContext(src, decompose(src.pixels, colour_space=space))
        for rank in (2, 25, context.dec.max_rank):
            data, decoded = context.container(rank)
            expected = to_integer(svdz.decode(data).pixels, src.bit_depth)
            np.testing.assert_array_equal(decoded, expected[..., ::-1] if expected.ndim == 3 else expected)


def test_saved_integers_equal_the_rounded_reconstruction(photo_png, grey_png, tmp_path, photo_rgb):
    deep = write_png(tmp_path / "deep.png", photo_rgb.astype(np.uint16) * 257 + 9)
    for path, space in ((photo_png, None), (grey_png, None), (photo_png, "ycbcr"), (deep, None)):
        src = read_image(path)
        dec = decompose(src.pixels, colour_space=space)
        context = MeasureContext(src, dec)
        for rank in (3, 30, dec.max_rank):
            ints = context.saved_integers(rank)
            expected = to_integer(dec.reconstruct(rank), src.bit_depth)
            np.testing.assert_array_equal(ints, expected[..., ::-1] if expected.ndim == 3 else expected)


def test_cheap_figures_come_first_and_the_report_asks_only_its_own(context):
    parts = list(measure_rank(context, 20))
    assert {"energy", "relative_error", "psnr_estimate_db", "factors_float32_bytes"} <= set(parts[0])
    assert "psnr_db" not in parts[0] and "png_bytes" not in parts[0]
    names = [name for part in parts for name in part]
    assert sorted(names) == sorted(FIGURES)  # each figure once
    assert names.index("psnr_db") < names.index("container_psnr_db")
    assert names.index("container_bytes") < names.index("jpeg_bytes")
    report = measure_all(context, 21, figures=REPORT_FIGURES)
    assert set(report) == REPORT_FIGURES


def test_a_rank_measured_again_comes_back_at_once(context, monkeypatch):
    first = measure_all(context, 9)
    import core.measure

    monkeypatch.setattr(core.measure, "_png_bytes", lambda ints: pytest.fail("PNG encoded twice"))
    monkeypatch.setattr(core.measure, "_container", lambda *a: pytest.fail(".svdz encoded twice"))
    assert measure_all(context, 9) == first


def test_abandoning_stops_between_figures(context, monkeypatch):
    import core.measure

    encoded = []
    real = core.measure._png_bytes
    monkeypatch.setattr(core.measure, "_png_bytes", lambda ints: encoded.append(1) or real(ints))
    parts = measure_rank(context, 33)
    first = next(parts)
    assert "energy" in first
    parts.close()  # the caller moved on before any pixel work
    assert context.known_figures(33).get("psnr_db") is None
    stop = threading.Event()
    seen = []
    for part in measure_rank(context, 34, cancelled=stop.is_set):
        seen.append(part)
        if "psnr_db" in part:
            stop.set()
    names = {name for part in seen for name in part}
    assert "psnr_db" in names and "jpeg_ssim" not in names and "container_ssim" not in names


def test_one_jpeg_ladder_serves_every_budget(context):
    budgets = [measure_all(context, r)["container_bytes"] for r in (5, 10, 20, 40)]
    shared = context.jpeg.encodes
    fresh = 0
    for budget in budgets:
        from core.jpeg import CodecLadder

        alone = CodecLadder(context.src.pixels)
        alone.at_budget(budget)
        fresh += alone.encodes
    assert shared < fresh  # the searches shared their probes...
    for r, budget in zip((5, 10, 20, 40), budgets):  # ... and found what a search of its own finds
        expected = jpeg_at_budget(context.src.pixels, budget)
        assert measure_all(context, r)["jpeg_quality"] == (None if expected is None else expected.quality)


def test_bad_ranks_and_names_are_refused(context):
    with pytest.raises(RankError):
        next(measure_rank(context, 0))
    with pytest.raises(RankError):
        next(measure_rank(context, context.dec.max_rank + 1))
    with pytest.raises(ValueError, match="unknown figure"):
        next(measure_rank(context, 3, figures=["psnr"]))


def test_report_rows_are_the_measured_figures(context):
    row = rank_row(context.src, context.dec, 15, context=context).to_json()
    values = measure_all(context, 15)
    for name in REPORT_FIGURES:
        expected = values[name]
        assert row[name] == (list(expected) if isinstance(expected, tuple) else expected)


@pytest.mark.parametrize("suffix", [".svdz", ".png", ".jpg", ".webp"])
def test_save_writes_the_file_and_its_decoded_psnr(context, tmp_path, suffix):
    measure_all(context, 11)  # a save after measuring reuses the rank's pixels and .svdz
    saved = save_rank(context, 11, tmp_path / f"out{suffix}")
    data = saved.path.read_bytes()
    assert saved.size_bytes == len(data)
    if suffix == ".svdz":
        assert data == svdz.encode(context.dec, 11, bit_depth=8)
        pixels = svdz.decode(data).pixels
    else:
        pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[..., ::-1] / 255.0
    assert saved.psnr_db == pytest.approx(peak_signal_noise_ratio(context.src.pixels, pixels, data_range=1.0),
                                          abs=1e-6)


def test_tiny_images_have_no_ssim(tmp_path):
    src = read_image(write_png(tmp_path / "row.png", np.arange(9, dtype=np.uint8).reshape(1, 9) * 20))
    values = measure_all(MeasureContext(src, decompose(src.pixels)), 1)
    assert values["ssim"] is None and values["psnr_db"] == float("inf")


def _wait_until(condition, timeout: float = 60.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_rank_read_ahead_is_ready_when_asked_for_and_equals_a_fresh_measurement(photo_png, monkeypatch):
    import core.measure

    src = read_image(photo_png)
    dec = decompose(src.pixels)
    context = MeasureContext(src, dec)
    context.read_ahead(17)
    _wait_until(lambda: set(FIGURES) - {"psnr_estimate_db", "energy", "relative_error", "rank", "channel_ranks",
                                        "original_bytes", "raw_bytes", "factors_float32_bytes"}
                <= set(context.known_figures(17)))
    monkeypatch.setattr(core.measure, "_png_bytes", lambda ints: pytest.fail("PNG encoded again"))
    monkeypatch.setattr(core.measure, "_container", lambda *a: pytest.fail(".svdz encoded again"))
    ahead = measure_all(context, 17)
    monkeypatch.undo()
    assert ahead == measure_all(MeasureContext(src, dec), 17)


def test_a_job_running_for_the_read_ahead_is_joined_not_run_twice(context, monkeypatch):
    import core.measure

    started, release, encodes = threading.Event(), threading.Event(), []
    real = core.measure._png_bytes

    def slow_png(ints):
        encodes.append(1)
        started.set()
        release.wait(30)
        return real(ints)

    monkeypatch.setattr(core.measure, "_png_bytes", slow_png)
    context.read_ahead(23)
    assert started.wait(30)  # the read-ahead is inside rank 23's PNG encode
    parts = measure_rank(context, 23)
    seen = {}
    for part in parts:
        seen.update(part)
        if "ssim" in seen:
            release.set()  # the shown rank's other figures came meanwhile; now let the PNG finish
    assert len(encodes) == 1
    assert seen["png_bytes"] == real(context.saved_integers(23))


def test_reading_ahead_another_rank_stops_the_first_between_jobs(context, monkeypatch):
    import core.measure

    monkeypatch.setattr(core.measure, "FREE_CORES", 1)  # one job at a time
    started, release = threading.Event(), threading.Event()
    real = core.measure._png_bytes
    ranks_encoded = []

    def watched(ints):
        ranks_encoded.append(ints.sum())
        started.set()
        release.wait(30)
        return real(ints)

    monkeypatch.setattr(core.measure, "_png_bytes", watched)
    context.read_ahead(5)
    assert started.wait(30)
    context.read_ahead(6)  # the key went the other way: rank 5's other jobs are not started
    release.set()
    _wait_until(lambda: "png_bytes" in context.known_figures(6) and "container_ssim" in context.known_figures(6))
    assert "container_bytes" not in context.known_figures(5)
    assert len(ranks_encoded) == 2


def test_the_read_ahead_takes_only_cores_left_idle(context, monkeypatch):
    """While the shown rank's jobs fill every core the read-ahead starts nothing; after, it goes on."""
    import core.measure

    monkeypatch.setattr(core.measure, "FREE_CORES", 1)
    started, release = threading.Event(), threading.Event()
    real = core.measure._png_bytes
    encoded = []

    def held_png(ints):
        encoded.append(int(ints.sum()))
        if len(encoded) == 1:
            started.set()
            release.wait(30)
        return real(ints)

    monkeypatch.setattr(core.measure, "_png_bytes", held_png)
    shown = threading.Thread(target=measure_all, args=(context, 30))
    shown.start()
    assert started.wait(30)  # rank 30's PNG holds the one core
    context.read_ahead(31)
    import time

    time.sleep(0.5)
    assert context.known_figures(31) == {} and len(encoded) == 1
    release.set()
    shown.join(30)
    _wait_until(lambda: "container_ssim" in context.known_figures(31))
    assert len(encoded) == 2
