"""Pilot tests of what a rank costs and buys: the sizes table, the spectrum, measurements in the background."""

from __future__ import annotations

import time

import pytest

import tui.jobs as jobs
from apphelp import make_app, photo, shown_ranks, type_rank, wait_for, widget_text
from core.report import rank_row
from tui.messages import Measured
from tui.widgets import SizesTable, SpectrumPlot, verdict


async def test_opens_the_image_and_every_pane_agrees_with_core(photo_dir):
    path = photo_dir / "a_small.png"
    app = make_app(path)
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        assert shown_ranks(app) == (50, 50, 50, 50)
        state = app.query_one(SizesTable).state
        row = rank_row(app.loaded.source, app.loaded.dec, 50)  # what `svdlens report` prints
        assert state.psnr_db == pytest.approx(row.psnr_db)
        assert state.ssim == pytest.approx(row.ssim)
        assert state.png_bytes == row.png_bytes
        assert state.container_bytes == row.extra["container_bytes"]
        assert state.original_bytes == path.stat().st_size
        assert state.raw_bytes == 96 * 64 * 3
        assert state.factors_float32_bytes == 50 * (64 + 96 + 1) * 4 * 3
        text = widget_text(app.query_one(SizesTable))
        assert verdict(state).split(":")[0].split("(")[0] in text.replace("\n", "")
        assert "a_small.png" in app.sub_title and "96×64" in app.sub_title


async def test_jpeg_at_equal_bytes_is_called_far_better_on_a_photo(tmp_path):
    app = make_app(photo(tmp_path / "p.png", 240, 200))
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        await type_rank(pilot, "10")
        await app.settled()
        state = app.query_one(SizesTable).state
        assert state.jpeg_psnr_db > state.container_psnr_db
        assert "JPEG at the same bytes is far better" in widget_text(app.query_one(SizesTable))


async def test_spectrum_marker_moves_with_the_rank(app):
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        plot = app.query_one(SpectrumPlot)
        marker = widget_text(plot.query_one("#spectrum-marker"))
        at_50 = marker.index("▲")
        await type_rank(pilot, "5")
        await app.settled()
        at_5 = widget_text(plot.query_one("#spectrum-marker")).index("▲")
        assert at_5 < at_50
        assert "rank 5 keeps" in widget_text(plot.query_one("#spectrum-title"))
        # log σ falls with rank: the first bar is the tallest.
        bars = plot.query_one("#spectrum-bars").data
        assert bars[0] == max(bars) and bars[-1] < bars[0]


async def test_psnr_from_sigma_is_shown_until_measured_and_svdz_has_ssim(photo_dir, monkeypatch):
    from core.metrics import ssim
    from core.svdz import decode, encode

    import threading

    real = jobs.measure_rank
    release = threading.Event()

    def held(loaded, rank, *executor, **options):
        if rank == 20:
            release.wait(30)  # the estimate is on screen meanwhile (however loaded the machine)
        yield from real(loaded, rank, *executor, **options)

    monkeypatch.setattr(jobs, "measure_rank", held)
    app = make_app(photo_dir / "b_other.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        await type_rank(pilot, "20")
        await wait_for(pilot, lambda: app.query_one(SizesTable).state.rank == 20)
        await pilot.pause(0.1)
        estimate = app.loaded.psnr_sigma[19]
        try:
            assert f"≈{estimate:.1f} dB" in widget_text(app.query_one(SizesTable))
        finally:
            release.set()
        await app.settled()
        state = app.query_one(SizesTable).state
        assert abs(state.psnr_db - estimate) < 1.0  # clipping and rounding move it only a little
        decoded = decode(encode(app.loaded.dec, 20)).pixels
        assert state.container_ssim == pytest.approx(ssim(decoded, app.loaded.source.pixels))


async def test_a_slow_stale_measurement_never_wins(photo_dir, monkeypatch):
    real = jobs.measure_rank

    def slow_for_rank_50(loaded, rank, *executor, **options):
        if rank == 50:
            time.sleep(1.0)  # still running when the rank moves on
        yield from real(loaded, rank, *executor, **options)

    monkeypatch.setattr(jobs, "measure_rank", slow_for_rank_50)
    app = make_app(photo_dir / "b_other.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.loaded is not None, timeout=30)
        await pilot.pause(0.3)  # rank 50's measurement has started and sleeps
        await pilot.press("plus")
        await pilot.pause(1.5)
        await app.settled()
        state = app.query_one(SizesTable).state
        assert state.rank == 51
        expected = rank_row(app.loaded.source, app.loaded.dec, 51).psnr_db
        assert state.psnr_db == pytest.approx(expected)
        # A result tagged with an old generation that arrives late is dropped as well.
        app.post_message(Measured(0, app.loaded, 50, {"psnr_db": 1.0}, done=True))  # generation 0: long gone
        await pilot.pause(0.2)
        assert app.query_one(SizesTable).state.psnr_db == pytest.approx(expected)


async def test_each_figure_is_on_screen_as_soon_as_it_is_measured(photo_dir, monkeypatch):
    import threading

    real = jobs.measure_rank
    release = threading.Event()

    def held_after_psnr(loaded, rank, *executor, **options):
        for figures in real(loaded, rank, *executor, **options):
            yield figures
            if rank == 20 and "psnr_db" in figures:
                release.wait(30)  # the .svdz and JPEG are still being made

    monkeypatch.setattr(jobs, "measure_rank", held_after_psnr)
    app = make_app(photo_dir / "b_other.png")
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            await app.settled()
            await type_rank(pilot, "20")
            table = app.query_one(SizesTable)
            await wait_for(pilot, lambda: table.state.rank == 20 and table.state.psnr_db is not None)
            await pilot.pause(0.1)
            text = widget_text(table)
            measured = f"{table.state.psnr_db:.2f} dB"
            assert measured in text and "≈" not in text  # the measured PSNR, not the estimate
            svdz_row = next(line for line in text.splitlines() if ".svdz file" in line)
            assert "…" in svdz_row and table.state.container_bytes is None
            release.set()
            await app.settled()
            assert table.state.container_bytes is not None and "…" not in widget_text(table)
    finally:
        release.set()


async def test_a_rank_no_longer_current_is_abandoned_between_figures(photo_dir, monkeypatch):
    import threading

    real = jobs.measure_rank
    release = threading.Event()
    seen: dict[int, list[str]] = {}
    closed: list[int] = []

    def watched(loaded, rank, *executor, **options):
        try:
            for figures in real(loaded, rank, *executor, **options):
                seen.setdefault(rank, []).extend(figures)
                yield figures
                if rank == 20 and "psnr_db" in figures:
                    release.wait(30)  # the rank moves on meanwhile
        except GeneratorExit:
            closed.append(rank)
            raise

    monkeypatch.setattr(jobs, "measure_rank", watched)
    app = make_app(photo_dir / "b_other.png")
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            await app.settled()
            await type_rank(pilot, "20")
            await wait_for(pilot, lambda: "psnr_db" in seen.get(20, []))
            await type_rank(pilot, "30")
            await wait_for(pilot, lambda: app.query_one(SizesTable).state.rank == 30)
            release.set()
            await app.settled()
            assert closed == [20]  # stopped between figures, not finished: rank 20 got no JPEG search
            assert "jpeg_bytes" not in seen[20] and "jpeg_bytes" in seen[30]
            state = app.query_one(SizesTable).state
            assert state.rank == 30 and state.container_bytes is not None and state.jpeg_bytes is not None
    finally:
        release.set()


async def test_the_measuring_context_is_made_once_per_decomposition(photo_dir, monkeypatch):
    import core.measure

    made = []

    class Counted(core.measure.MeasureContext):
        def __init__(self, *args, **kwargs):
            made.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(core.measure, "MeasureContext", Counted)
    app = make_app(photo_dir / "b_other.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        for text in ("20", "30", "40"):
            await type_rank(pilot, text)
            await app.settled()
        assert app.query_one(SizesTable).state.container_bytes is not None
        assert len(made) == 1  # four ranks measured, one context


async def test_the_rank_the_next_key_goes_to_is_measured_ahead_and_shown_at_once(photo_dir, monkeypatch):
    import threading

    real = jobs.measure_rank
    release = threading.Event()

    def held_for_rank_52(loaded, rank, *executor, **options):
        if rank == 52:
            release.wait(30)  # the table's own measurement of 52 waits: what shows comes from the read-ahead
        yield from real(loaded, rank, *executor, **options)

    monkeypatch.setattr(jobs, "measure_rank", held_for_rank_52)
    app = make_app(photo_dir / "b_other.png")
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            await app.settled()
            await pilot.press("plus")  # 50 → 51: the next + would go to 52, which is read ahead
            await app.settled()
            await wait_for(pilot, lambda: "container_ssim" in app.loaded.known_figures(52), timeout=60)
            await pilot.press("plus")
            await pilot.pause(0.05)
            state = app.query_one(SizesTable).state
            assert state.rank == 52
            row = rank_row(app.loaded.source, app.loaded.dec, 52)
            assert state.png_bytes == row.png_bytes and state.container_bytes == row.extra["container_bytes"]
            assert state.psnr_db == pytest.approx(row.psnr_db) and state.jpeg_psnr_db is not None
            assert "…" not in widget_text(app.query_one(SizesTable))
    finally:
        release.set()
