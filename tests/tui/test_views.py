"""Pilot tests of the views: the preview's modes and A/B flip, the preview option, small terminals,
and the gallery, curves and components views, checked against core on what is shown."""

from __future__ import annotations

import math

import numpy as np
import pytest

from apphelp import make_app, no_blink, wait_for, widget_text
from core import render
from core.layers import stretch
from core.report import rank_row
from tui.preview import PreviewPane, original_preview
from tui.views import ViewStack
from tui.views.curves import LogRankFormatter, sample_ranks
from tui.views.gallery import best_grid
from tui.widgets import SizesTable

async def test_preview_view_and_flip_keys(app):
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        preview = app.query_one(PreviewPane)
        views = []
        for _ in range(2):
            await pilot.press("f5")
            views.append(preview.view)
        assert views == ["single", "error"]  # then the gallery, curves, components (below)
        app.action_set_view("side")
        await pilot.press("f6")
        assert preview.flipped
        await pilot.press("f6")
        assert not preview.flipped


@pytest.mark.parametrize("protocol", ["halfcell", "unicode"])
async def test_preview_option_reaches_the_pane(photo_dir, protocol):
    app = make_app(photo_dir / "a_small.png", preview=protocol)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.settled()
        assert app.query_one(PreviewPane).protocol == protocol


async def test_small_terminal_hides_the_picker_and_compacts_the_table(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await app.settled()
        assert not app.query_one("#picker-pane").display or app.query_one("#picker-pane").region.width == 0
        table = app.query_one(SizesTable)
        assert table.compact
        assert table.region.height <= 4
        assert app.query_one(PreviewPane).region.height >= 12
        await pilot.resize_terminal(160, 50)
        await pilot.pause(0.3)
        assert app.query_one("#picker-pane").region.width > 0
        assert not table.compact


# ---- gallery, curves and components ----------------------------------------------------------

def views(app) -> ViewStack:
    return app.query_one(ViewStack)


async def _figures_done(pilot, timeout: float = 180.0) -> None:
    stack = views(pilot.app)
    assert stack.figure_ranks
    await wait_for(pilot, lambda: not stack.missing_figures, timeout)


# ---- gallery ----------------------------------------------------------------------------------


async def test_gallery_tiles_are_the_previews_of_their_ranks(photo_dir, monkeypatch):
    monkeypatch.chdir(photo_dir)
    app = make_app(None)  # the bundled 512×512 photo: every classic rank is served
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled(120)
        await pilot.press("ctrl+g")
        gallery = views(app).gallery
        await wait_for(pilot, lambda: gallery.rendered, 30)
        assert gallery.display and not app.query_one(PreviewPane).display
        dec = app.loaded.dec
        assert [t.rank for t in gallery.tiles] == [None, 500, 250, 100, 50, 25, 10]
        assert gallery._grid == (4, 2)  # seven square pictures in a 126×35 pane: two rows of four
        size = gallery._tile_px
        region = (0, 0, dec.width, dec.height)
        assert np.array_equal(gallery.pixels[0], original_preview(dec, size, region))
        for tile, pixels in zip(gallery.tiles[1:], gallery.pixels[1:]):
            assert np.array_equal(pixels, dec.preview(tile.rank, size)), tile.rank
        # Each picture is on screen at exactly its size in cells (half-cell: two pixels a row).
        images = list(gallery.query(".g-image"))
        for pixels, widget in zip(gallery.pixels, images):
            assert widget.region.width == pixels.shape[1] and widget.region.height == math.ceil(pixels.shape[0] / 2)


async def test_gallery_labels_show_what_svdlens_report_measures(photo_dir, monkeypatch):
    monkeypatch.chdir(photo_dir)
    app = make_app(None)
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled(120)
        await pilot.press("ctrl+g")
        gallery = views(app).gallery
        labels = lambda: [widget_text(w) for w in gallery.query(".g-label")]  # noqa: E731
        await wait_for(pilot, lambda: gallery.rendered, 30)
        await _figures_done(pilot)
        await pilot.pause(0.1)
        text = labels()
        assert text[0].strip().startswith("original") and "791 555 B" in text[0]
        for tile, label in zip(gallery.tiles[1:], text[1:]):
            row = rank_row(app.loaded.source, app.loaded.dec, tile.rank)  # `svdlens report`
            assert f"rank {tile.rank}" in label
            psnr = "∞ dB" if math.isinf(row.psnr_db) else f"{row.psnr_db:.2f} dB"
            assert psnr in label, (tile.rank, label)
            container = row.extra["container_bytes"]
            assert f"{container / 1000:.1f} kB" in label or f"{container / 1e6:.1f} MB" in label or \
                f"{container:,} B".replace(",", " ") in label, (tile.rank, label)
            assert f"{row.png_bytes / 1000:.1f} kB" in label or f"{row.png_bytes:,} B".replace(",", " ") in label


async def test_gallery_shows_dots_until_figures_arrive_and_takes_them_from_outside(photo_dir):
    app = make_app(photo_dir / "b_other.png")  # 80×80: ranks 500 and 250 are above min(H, W)
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        stack = views(app)
        stack._measure_missing = lambda: None  # only what is handed in
        await pilot.press("ctrl+g")
        gallery = stack.gallery
        await wait_for(pilot, lambda: gallery.rendered, 30)
        assert [(t.rank, t.asked) for t in gallery.tiles[1:]] == [(80, 500), (50, 100), (25, 25), (10, 10)] or \
            [t.rank for t in gallery.tiles[1:]] == [80, 50, 25, 10]
        label = lambda i: widget_text(list(gallery.query(".g-label"))[i])  # noqa: E731
        index = [t.rank for t in gallery.tiles].index(25)
        assert "…" in label(index)
        stack.add_figures(app.loaded, 25, {"psnr_db": 31.234, "container_bytes": 4321, "png_bytes": 12345})
        await pilot.pause(0.05)
        assert "31.23 dB" in label(index) and "4 321 B" in label(index) and "12 345 B" in label(index)
        stack.add_figures(object(), 25, {"psnr_db": 1.0})  # another image's figures are dropped
        await pilot.pause(0.05)
        assert "31.23 dB" in label(index)


async def test_gallery_arrows_and_enter_choose_the_rank(photo_dir):
    app = make_app(photo_dir / "b_other.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        await pilot.press("f5", "f5", "f5")  # side → single → error → gallery
        gallery = views(app).gallery
        assert views(app).view == "gallery" and app.focused is gallery
        await wait_for(pilot, lambda: gallery.rendered, 30)
        ranks = [t.rank for t in gallery.tiles]
        await pilot.press("right", "right")
        assert gallery.selected == 2
        await pilot.press("enter")
        await app.settled()
        assert app.rank == ranks[2] and int(app.query_one("#rank").value) == ranks[2]
        await pilot.press("left", "left", "left", "enter")  # the original tile: no rank to choose
        await app.settled()
        assert gallery.selected == 0 and app.rank == ranks[2]
        # Digits typed while the gallery has focus go to the rank field.
        await pilot.press("1", "2", "enter")
        await app.settled()
        assert app.rank == 12


def test_best_grid_fills_the_pane():
    assert best_grid(7, 126, 34, (512, 512), (1, 2)) == (4, 2)
    assert best_grid(7, 200, 12, (300, 100), (1, 2)) == (7, 1)  # wide pictures, a short pane: one row
    assert best_grid(7, 40, 60, (100, 300), (1, 2)) == (3, 3)  # tall pictures, a tall pane


# ---- curves -------------------------------------------------------------------------------------


def _marker_columns(plot) -> set[int]:
    """Screen columns where a marker line is seen over the plot area."""
    marker = plot.query_one("#c-marker")
    if not marker.display:
        return set()
    assert set(widget_text(marker).replace("\n", "")) == {"│"}
    canvas = plot.query_one("#plot")
    assert canvas.region.x < marker.region.x < canvas.region.right - 1  # inside the frame
    assert marker.region.height == canvas.region.height - 2
    return {marker.region.x}


async def test_curves_marker_moves_with_the_rank_and_the_curves_stay(photo_dir):
    app = make_app(photo_dir / "b_other.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        curves = views(app).curves
        curves.set_figures = lambda figures: None  # measured points are tested below; here only the rank moves
        await pilot.press("ctrl+t")
        await pilot.pause(0.2)
        assert curves.display and curves.marker_x == pytest.approx(math.log10(50))
        draws = curves.draws
        psnr_x, psnr_y = curves.plotted["psnr"]
        energy_x, energy_y = curves.plotted["energy"]
        # The curves are exact, from the singular values.
        ranks = np.rint(10**psnr_x).astype(int)
        assert np.allclose(psnr_y, [app.loaded.dec.psnr_estimate(int(r)) for r in ranks])
        assert np.allclose(energy_y, [100 * app.loaded.dec.energy(int(r)) for r in np.rint(10**energy_x).astype(int)])
        plot = curves.query_one("#c-plot-psnr")
        before = _marker_columns(plot)
        assert len(before) == 1
        await pilot.press("pageup", "pageup")  # +20: the rank keys work while the curves have focus
        await pilot.pause(0.2)
        assert app.rank == 70 and curves.marker_x == pytest.approx(math.log10(70))
        after = _marker_columns(plot)
        assert len(after) == 1 and after != before and min(after) > min(before)
        # The marker sits where the plot maps rank 70.
        column, _ = plot.get_pixel_from_coordinate(math.log10(70), plot._y_min)
        assert min(after) == plot.query_one("#plot").region.x + int(column)
        assert curves.draws == draws  # moved the marker, did not draw the curves again
        assert "rank 70" in widget_text(curves.query_one("#c-readout"))
        await pilot.press("l")  # linear rank axis
        await pilot.pause(0.2)
        assert curves.marker_x == pytest.approx(70.0) and curves.plotted["psnr"][0][0] == pytest.approx(1.0)


async def test_curves_show_measured_bytes_and_jpeg(photo_dir):
    app = make_app(photo_dir / "b_other.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        await pilot.press("ctrl+t")
        stack = views(app)
        await _figures_done(pilot)
        await pilot.pause(0.2)
        curves = stack.curves
        bx, by = curves.plotted["svdz_bytes"]
        measured = sorted(r for r, v in stack.figures.items() if "container_bytes" in v)
        assert np.allclose(10**bx, measured)
        assert np.allclose(by, [stack.figures[r]["container_bytes"] / 1000 for r in measured])
        jx, jy = curves.plotted["jpeg_psnr"]
        assert np.allclose(jy, [stack.figures[int(round(10**x))]["jpeg_psnr_db"] for x in jx])
        row = rank_row(app.loaded.source, app.loaded.dec, 50)
        assert stack.figures[50]["container_bytes"] == row.extra["container_bytes"]
        assert stack.figures[50]["jpeg_psnr_db"] == pytest.approx(row.extra["jpeg_psnr_db"])


async def test_curves_at_80x24_show_one_plot_at_a_time(photo_dir):
    app = make_app(photo_dir / "b_other.png")
    async with app.run_test(size=(80, 24)) as pilot:
        await app.settled()
        await pilot.press("ctrl+t")
        await pilot.pause(0.2)
        curves = views(app).curves
        shown = [p.kind for p in curves.query("_Plot") if p.display]
        assert shown == ["psnr"]
        assert curves.query_one("#c-plot-psnr").size.height >= 14  # the results pane gave its rows
        await pilot.press("c")
        assert [p.kind for p in curves.query("_Plot") if p.display] == ["energy"]


def test_log_rank_ticks_are_ranks():
    f = LogRankFormatter()
    ticks = f.get_ticks(0.0, math.log10(500))
    assert f.get_labels_for_ticks(ticks) == ["1", "2", "5", "10", "20", "50", "100", "200", "500"]
    assert list(sample_ranks(30, 400, True)) == list(range(1, 31))
    many = sample_ranks(5000, 100, True)
    assert many[0] == 1 and many[-1] == 5000 and len(many) <= 100


# ---- components --------------------------------------------------------------------------------


def _layer_from_factors(dec, first: int, last: int, size) -> np.ndarray:
    out_w, out_h = render.fit_size(dec.width, dec.height, size)
    rh = render.area_matrix(dec.height, out_h).astype(np.float64)
    rw = render.area_matrix(dec.width, out_w).astype(np.float64)
    planes = [rh @ ((c.u.double().numpy()[:, first - 1:last] * c.s.double().numpy()[first - 1:last])
                    @ c.v.double().numpy()[:, first - 1:last].T) @ rw.T for c in dec.channels]
    return np.stack(planes, axis=-1)


async def test_components_show_the_layer_computed_from_the_factors(photo_dir):
    app = make_app(photo_dir / "b_other.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        await pilot.press("ctrl+l")
        components = views(app).components
        await wait_for(pilot, lambda: components.rendered and components.last["rank"] == 50, 30)
        dec = app.loaded.dec
        last = components.last
        size = components._pane_px()
        want = _layer_from_factors(dec, 50, 50, size)
        assert np.abs(last["layers"].values - want).max() < 1e-4
        assert np.array_equal(last["shown"], stretch(last["layers"].values))
        assert np.array_equal(last["build"], dec.preview(50, size))
        share = sum(float(s[49] ** 2) for s in dec.singular_values) / sum(c.total_energy for c in dec.channels)
        assert last["layers"].energy_share == pytest.approx(share)
        label = widget_text(components.query_one("#k-right-label"))
        assert "layer 50" in label and "of the energy" in label
        await pilot.press("s")  # the last 10 layers
        await wait_for(pilot, lambda: components.rendered and components.last["count"] == 10, 30)
        assert np.abs(components.last["layers"].values - _layer_from_factors(dec, 41, 50, size)).max() < 1e-4
        assert "layers 41…50" in widget_text(components.query_one("#k-right-label"))


async def test_components_play_steps_the_rank_and_any_key_stops_it(photo_dir):
    app = make_app(photo_dir / "b_other.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        await pilot.press("ctrl+l")
        components = views(app).components
        await wait_for(pilot, lambda: components.rendered, 30)
        await pilot.press("space")
        assert components.playing
        await wait_for(pilot, lambda: app.rank >= 4, 10)
        seen = app.rank
        assert seen < 20  # it starts from rank 1
        await pilot.press("x")
        assert not components.playing
        stopped = app.rank
        await pilot.pause(1.0)
        assert app.rank == stopped


async def test_f5_cycles_all_six_views_and_back(photo_dir):
    app = make_app(photo_dir / "b_other.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        stack = views(app)
        seen = []
        for _ in range(6):
            await pilot.press("f5")
            seen.append(stack.view)
        assert seen == ["single", "error", "gallery", "curves", "components", "side"]
        preview = app.query_one(PreviewPane)
        assert preview.display and preview.view == "side"
        # A rank changed while the preview was hidden is rendered once it is shown again.
        await pilot.press("f5", "f5", "f5", "plus", "plus")
        await app.settled()
        assert preview.last_render.rank == 50
        app.action_set_view("side")
        await app.settled()
        assert preview.last_render.rank == app.rank == 52
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for name in ("gallery", "curves", "components"):
            assert any(t.startswith("View: " + name) for t in titles)


async def test_settled_waits_for_the_teaching_view_shown(photo_dir):
    """app.settled() is the idle signal tests and screenshots use: with a view shown it means that view is done."""
    app = make_app(photo_dir / "b_other.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        stack = views(app)
        await pilot.press("ctrl+g")
        await app.settled(120)
        assert stack.gallery.rendered and not stack.missing_figures
        assert all(p is not None for p in stack.gallery.pixels)
        await pilot.press("ctrl+l", "plus")
        await app.settled()
        assert app.rank == 51 and stack.components.rendered and stack.components.last["rank"] == 51
        await pilot.press("ctrl+t")
        await app.settled()
        assert stack.curves.marker_x == pytest.approx(math.log10(51))


# ---- snapshots (half-cell renderer, every figure measured) --------------------------------------


def _in_view(key: str, ready):
    async def run_before(pilot) -> None:
        no_blink(pilot.app)
        await pilot.app.settled(120)
        await pilot.press(key)
        await wait_for(pilot, lambda: ready(views(pilot.app)), 60)
        if key in ("ctrl+g", "ctrl+t"):
            await _figures_done(pilot)
            stack = views(pilot.app)
            jpeg = sum(1 for v in stack.figures.values() if v.get("jpeg_psnr_db") is not None)
            if key == "ctrl+t":  # the measured points are drawn
                await wait_for(pilot, lambda: len(stack.curves.plotted.get("jpeg_psnr", ((),))[0]) == jpeg, 30)
        await pilot.pause(0.5)

    return run_before


def test_snapshot_gallery(snap_compare, photo_dir, monkeypatch):
    monkeypatch.chdir(photo_dir)
    assert snap_compare(make_app(None), terminal_size=(160, 50),
                        run_before=_in_view("ctrl+g", lambda v: v.gallery.rendered))


def test_snapshot_curves(snap_compare, photo_dir, monkeypatch):
    monkeypatch.chdir(photo_dir)
    assert snap_compare(make_app(None), terminal_size=(160, 50),
                        run_before=_in_view("ctrl+t", lambda v: v.curves.marker_x is not None))


def test_snapshot_components(snap_compare, photo_dir, monkeypatch):
    monkeypatch.chdir(photo_dir)
    assert snap_compare(make_app(None), terminal_size=(160, 50),
                        run_before=_in_view("ctrl+l", lambda v: v.components.rendered))
