"""PreviewPane: zoom, pan, A/B flip, error map and stale renders, driven by keys in a tiny app.

The pane uses the half-cell renderer here (one display pixel per half cell), so what a
view shows can be compared pixel for pixel with the core previews.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from textual.app import App, ComposeResult

from core.imageio import load_image, sample_image_path
from core.svd import decompose
from tui.preview import PreviewPane, view_region, zoom_levels

SIZE = (80, 24)  # terminal cells; a side-by-side image gets 39×44 display pixels


def _small(image: np.ndarray) -> np.ndarray:
    # 128×96: a non-square image small enough that an exact SVD is instant.
    return np.ascontiguousarray(image[:384:4, ::4])


@pytest.fixture(scope="module")
def dec():
    return decompose(_small(load_image(sample_image_path(), "colour")))


@pytest.fixture(scope="module")
def grey_dec():
    return decompose(_small(load_image(sample_image_path(), "grey")))


class PreviewApp(App):
    def __init__(self, decomposition, rank: int = 8) -> None:
        super().__init__()
        self.decomposition = decomposition
        self.rank = rank
        self.updates: list[PreviewPane.Updated] = []

    def compose(self) -> ComposeResult:
        yield PreviewPane(protocol="halfcell", id="preview")

    def on_mount(self) -> None:
        pane = self.query_one(PreviewPane)
        pane.focus()
        pane.show(self.decomposition, self.rank)

    def on_preview_pane_updated(self, message: PreviewPane.Updated) -> None:
        self.updates.append(message)


async def settled(pilot, timeout: float = 10.0):
    """Wait until the pane's newest render is on screen; return it."""
    pane = pilot.app.query_one(PreviewPane)
    for _ in range(int(timeout / 0.02)):
        await pilot.pause(0.02)
        if not pane.render_pending and (pane.last_render is not None or pane.last_error):
            await pilot.pause()
            return pane.last_render
    raise AssertionError("the preview did not finish rendering")


def shown(pane: PreviewPane, which: str = "main") -> np.ndarray:
    """The pixels handed to the textual-image widget, without the padding to whole cells."""
    render = pane.last_render
    widget = pane.query_one("#pp-right-image" if which == "main" else "#pp-left-image")
    pixels = render.main if which == "main" else render.left
    h, w = pixels.shape[:2]
    return np.asarray(widget.image)[:h, :w]


def pane_px(pane: PreviewPane) -> tuple[int, int]:
    return pane._pane_px()


# ---- geometry ------------------------------------------------------------------------


def test_view_region_clamps_at_the_edges_and_keeps_the_zoom():
    image, pane = (1000, 600), (100, 80)
    for centre in [(-500, -500), (0, 0), (500, 300), (999, 599), (5000, 5000)]:
        region, out, clamped = view_region(image, pane, "1:1", centre)
        left, top, right, bottom = region
        assert 0 <= left < right <= 1000 and 0 <= top < bottom <= 600
        assert (right - left, bottom - top) == (100, 80) == out
        assert clamped == ((left + right) / 2, (top + bottom) / 2)
    assert view_region(image, pane, "1:1", (-9, -9))[0] == (0, 0, 100, 80)
    assert view_region(image, pane, "1:1", (9e9, 9e9))[0] == (900, 520, 1000, 600)
    region, out, _ = view_region(image, pane, "4:1", (500, 300))
    assert (region[2] - region[0], region[3] - region[1]) == (25, 20) and out == (100, 80)
    region, out, _ = view_region(image, pane, "1:4", (500, 300))
    assert region == (300, 140, 700, 460) and out == (100, 80)
    # Zoomed in on an image smaller than the pane: the zoom is kept, not stretched to fit.
    region, out, _ = view_region((30, 10), pane, "2:1", (15, 5))
    assert region == (0, 0, 30, 10) and out == (60, 20)


def test_zoom_levels_start_at_fit_and_skip_levels_smaller_than_fit():
    assert zoom_levels((4000, 3000), (75, 90)) == ["fit", "1:32", "1:16", "1:8", "1:4", "1:2", "1:1", "2:1", "4:1"]
    assert zoom_levels((128, 96), (39, 44)) == ["fit", "1:2", "1:1", "2:1", "4:1"]
    assert zoom_levels((20, 20), (39, 44)) == ["fit", "2:1", "4:1"]


def test_display_pixels_per_cell_follow_the_protocol():
    from textual_image._terminal import get_cell_size

    from tui.preview import display_units

    assert display_units("halfcell") == (1, 2) and display_units("unicode") == (1, 2)
    cell = get_cell_size()  # what textual-image measured (a fallback without a terminal)
    assert display_units("sixel") == display_units("tgp") == (cell.width, cell.height)


class UnicodeApp(PreviewApp):
    def compose(self) -> ComposeResult:
        yield PreviewPane(protocol="unicode", id="preview")


async def test_unicode_renderer_gets_a_picture_with_square_pixels(dec):
    app = UnicodeApp(dec)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(PreviewPane)
        render = await settled(pilot)
        widget = pane.query_one("#pp-right-image")
        assert widget.image.size == (render.main.shape[1], render.main.shape[0] + render.main.shape[0] % 2)
        # One cell per two picture rows: the aspect ratio survives the renderer's squeeze.
        assert (widget.size.width, widget.size.height) == (widget.image.width, widget.image.height // 2)


def test_sixel_pictures_are_encoded_by_the_worker_and_reused_by_the_widget(dec, monkeypatch):
    from textual_image._sixel import image_to_sixels

    from tui.preview import render as preview_render
    from tui.preview import terminal

    assert terminal.image_class("sixel") is terminal.SixelPicture
    region, out, _ = view_region((128, 96), (60, 80), "1:1", (64, 48))
    encoder = terminal.picture_encoder(terminal.SixelPicture)
    job = preview_render.RenderJob(
        1, dec, 7, "side", False, "1:1", 8, region, out, (10, 20), preview_render.OriginalCache(), encoder
    )
    render = preview_render.render_images(job)
    assert render.main_image.size == (60, 80) and render.left_image.size == (60, 80)

    def encoder_must_not_run(*args, **kwargs):
        raise AssertionError("encoded on the UI thread")

    monkeypatch.setattr(terminal, "_encode_sixels", encoder_must_not_run)
    picture = terminal.SixelPicture()
    # The widget finds the worker's data by content (a copy is the same picture).
    assert picture._sixels(render.main_image.copy(), None) == image_to_sixels(render.main_image)
    assert picture._sixels(render.left_image.copy(), None) == image_to_sixels(render.left_image)
    # A picture the worker did not encode is encoded where it is painted.
    with pytest.raises(AssertionError, match="UI thread"):
        picture._sixels(render.main_image.transpose(0), None)


def test_unknown_protocol_is_refused():
    with pytest.raises(ValueError, match="unknown preview protocol"):
        PreviewPane(protocol="ascii")


# ---- zoom and pan --------------------------------------------------------------------


async def test_zoom_keys_step_through_the_levels_and_back(dec):
    app = PreviewApp(dec)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(PreviewPane)
        render = await settled(pilot)
        assert render.zoom == "fit" and render.region == (0, 0, 128, 96)
        # Fit: the whole image in the pane's 39×44 pixels, aspect kept.
        assert render.main.shape[:2] == (29, 39)
        seen = []
        for _ in range(5):
            await pilot.press("right_square_bracket")
            seen.append((await settled(pilot)).zoom)
        assert seen == ["1:2", "1:1", "2:1", "4:1", "4:1"]
        render = pane.last_render
        left, top, right, bottom = render.region
        assert render.main.shape[:2] == (4 * (bottom - top), 4 * (right - left))
        # 4:1 is 4×4 blocks of the image pixels.
        assert np.array_equal(render.main[::4, ::4], dec.preview(8, (right - left, bottom - top), render.region))
        await pilot.press("left_square_bracket")
        assert (await settled(pilot)).zoom == "2:1"
        await pilot.press("0")
        render = await settled(pilot)
        assert render.zoom == "fit" and render.region == (0, 0, 128, 96)
        assert "fit" in str(pane.query_one("#pp-status").render())


async def test_one_to_one_shows_image_pixels_of_the_reconstruction(dec):
    app = PreviewApp(dec, rank=12)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(PreviewPane)
        await settled(pilot)
        await pilot.press("right_square_bracket", "right_square_bracket")
        render = await settled(pilot)
        assert render.zoom == "1:1"
        left, top, right, bottom = render.region
        assert (right - left, bottom - top) == pane_px(pane)
        expected = np.rint(dec.reconstruct(12)[top:bottom, left:right] * 255)
        assert np.abs(shown(pane).astype(int) - expected).max() <= 1
        # Drawn one image pixel per half cell: the widget is exactly w × h/2 cells.
        widget = pane.query_one("#pp-right-image")
        assert (widget.size.width, widget.size.height) == (right - left, (bottom - top + 1) // 2)
        original = np.rint(dec.image[top:bottom, left:right] * 255)
        assert np.abs(shown(pane, "left").astype(int) - original).max() <= 1
        status = str(pane.query_one("#pp-status").render())
        assert f"x {left}–{right} / 128" in status and f"y {top}–{bottom} / 96" in status


async def test_pan_stops_at_every_edge_and_both_panes_follow(dec):
    app = PreviewApp(dec)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(PreviewPane)
        await settled(pilot)
        await pilot.press("right_square_bracket", "right_square_bracket", "right_square_bracket")  # 2:1
        start = (await settled(pilot)).region
        width, height = start[2] - start[0], start[3] - start[1]

        await pilot.press("l")
        region = (await settled(pilot)).region
        assert region[0] > start[0] and region[1] == start[1]

        for keys, expected_edge in [
            (["H"] * 9, lambda r: r[0] == 0),
            (["shift+right"] * 16, lambda r: r[2] == 128),
            (["K"] * 9, lambda r: r[1] == 0),
            (["J"] * 8 + ["j"] * 3, lambda r: r[3] == 96),
        ]:
            await pilot.press(*keys)
            render = await settled(pilot)
            assert expected_edge(render.region), render.region
            assert (render.region[2] - render.region[0], render.region[3] - render.region[1]) == (width, height)
            # The original beside it shows exactly the same region.
            size = (render.main.shape[1], render.main.shape[0])
            assert np.array_equal(shown(pane, "left"), dec.original_preview(size, render.region))
            assert np.array_equal(shown(pane), dec.preview(8, size, render.region))
        # One step back from the bottom-right corner moves at once: no hidden overshoot.
        before = pane.last_render.region
        await pilot.press("k")
        assert (await settled(pilot)).region[1] < before[1]


async def test_pan_does_nothing_at_fit(dec):
    app = PreviewApp(dec)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(PreviewPane)
        await settled(pilot)
        await pilot.press("l", "L", "j")
        assert (await settled(pilot)).region == (0, 0, 128, 96)
        assert pane.image_region == (0, 0, 128, 96)


# ---- views and flip ------------------------------------------------------------------


async def test_views_cycle_and_flip_shows_the_original_in_place(dec):
    app = PreviewApp(dec, rank=3)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(PreviewPane)
        render = await settled(pilot)
        size = (render.main.shape[1], render.main.shape[0])
        original = dec.original_preview(size)
        assert render.view == "side"
        assert np.array_equal(shown(pane), dec.preview(3, size))
        assert not np.array_equal(shown(pane), original)  # rank 3 is visibly not the original
        # The label adds the PSNR of the visible region over every image pixel (8-bit).
        psnr = 10 * np.log10(1 / np.mean(full_resolution_error_signed(dec, 3, render.region) ** 2))
        assert render.region_psnr_db == pytest.approx(psnr, abs=0.05)
        assert str(pane.query_one("#pp-right-label").render()) == f"rank 3 · {render.region_psnr_db:.1f} dB here"

        await pilot.press("f")
        render = await settled(pilot)
        assert render.flipped and np.array_equal(shown(pane), original)
        assert str(pane.query_one("#pp-right-label").render()).startswith("ORIGINAL")
        await pilot.press("f")
        render = await settled(pilot)
        assert not render.flipped and np.array_equal(shown(pane), dec.preview(3, size))

        await pilot.press("v")
        render = await settled(pilot)
        assert render.view == "single" and render.left is None
        assert not pane.query_one("#pp-left").display
        # The single view uses the whole width: a larger picture of the same image.
        assert render.main.shape[1] > size[0]
        big = (render.main.shape[1], render.main.shape[0])
        await pilot.press("f")
        await settled(pilot)
        assert np.array_equal(shown(pane), dec.original_preview(big))
        assert str(pane.query_one("#pp-right-label").render()).startswith("ORIGINAL")
        await pilot.press("f", "v")
        assert (await settled(pilot)).view == "error"
        await pilot.press("v")
        render = await settled(pilot)
        assert render.view == "side" and pane.query_one("#pp-left").display


# ---- error map -----------------------------------------------------------------------


def full_resolution_error_signed(d, rank, region):
    """original − rank-r per image pixel and channel over a region, 8-bit, as a share of full scale."""
    left, top, right, bottom = region
    original = np.rint(d.image[top:bottom, left:right] * 255)
    reconstruction = np.rint(d.reconstruct(rank)[top:bottom, left:right] * 255)
    return (original - reconstruction) / 255


def full_resolution_error(d, rank, region):
    """|original − rank-r| per image pixel over a region, in 8-bit levels, independently of the pane."""
    left, top, right, bottom = region
    original = np.rint(d.image[top:bottom, left:right] * 255)
    reconstruction = np.rint(d.reconstruct(rank)[top:bottom, left:right] * 255)
    error = np.abs(original - reconstruction)
    return (error.mean(axis=-1) if error.ndim == 3 else error) / 255


async def test_error_map_at_fit_finds_the_largest_error_over_every_image_pixel(dec):
    app = PreviewApp(dec, rank=4)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(PreviewPane)
        side = await settled(pilot)
        pane.view = "error"
        render = await settled(pilot)
        assert render.error_resolution == "full" and render.region == (0, 0, 128, 96)
        error = full_resolution_error(dec, 4, render.region)
        assert render.max_error == pytest.approx(error.max(), abs=1 / 255)
        x, y = render.max_error_at
        assert error[y, x] >= error.max() - 1 / 255
        # Side-by-side measures the same numbers: the table does not depend on the view.
        assert (side.max_error, side.max_error_at) == (render.max_error, render.max_error_at)
        label = str(pane.query_one("#pp-right-label").render())
        assert "×8" in label and f"max {render.max_error * 255:.0f}/255 at ({x}, {y})" in label
        assert "block-mean err, max per px ×8" in str(pane.query_one("#pp-status").render())
        # The app hears the same numbers.
        last = app.updates[-1]
        assert (last.view, last.max_error, last.max_error_at, last.region, last.error_resolution) == (
            "error", render.max_error, render.max_error_at, (0, 0, 128, 96), "full"
        )
        # The map is brightest where the error is largest (mean per display pixel, ×8, inferno).
        brightness = shown(pane).astype(int).sum(axis=-1)
        scale = render.main.shape[1] / 128
        assert brightness[int(y * scale), int(x * scale)] >= np.percentile(brightness, 90)

        await pilot.press("g")
        render = await settled(pilot)
        assert render.gain == 16 and "×16" in str(pane.query_one("#pp-right-label").render())


async def test_error_map_of_a_large_region_compares_the_previews(dec, monkeypatch):
    monkeypatch.setattr("tui.preview.render.FULL_RES_ERROR_PIXELS", 0)  # as if the photo were huge
    app = PreviewApp(dec, rank=4)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(PreviewPane)
        await settled(pilot)
        pane.view = "error"
        render = await settled(pilot)
        assert render.error_resolution == "preview"
        size = (render.main.shape[1], render.main.shape[0])
        original = dec.original_preview(size).astype(float)
        reconstruction = dec.preview(4, size).astype(float)
        error = np.abs(original - reconstruction).mean(axis=-1) / 255
        assert render.max_error == pytest.approx(error.max(), abs=1e-6)
        y, x = np.unravel_index(np.argmax(error), error.shape)
        scale = 128 / size[0]
        assert render.max_error_at == (int((x + 0.5) * scale), int((y + 0.5) * scale))
        # The picture is the error ×8 in OpenCV's inferno colour map.
        levels = np.clip(np.rint(error * 8 * 255), 0, 255).astype(np.uint8)
        assert np.array_equal(shown(pane), cv2.applyColorMap(levels, cv2.COLORMAP_INFERNO)[..., ::-1])
        assert "err of shrunk previews ×8" in str(pane.query_one("#pp-status").render())


@pytest.mark.parametrize("which", ["colour", "grey"])
async def test_error_map_at_one_to_one_matches_full_resolution_error(which, dec, grey_dec):
    d = dec if which == "colour" else grey_dec
    app = PreviewApp(d, rank=5)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(PreviewPane)
        await settled(pilot)
        pane.view = "error"
        await pilot.press("right_square_bracket", "right_square_bracket", "L", "J")
        render = await settled(pilot)
        assert render.zoom == "1:1" and render.error_resolution == "full"
        left, top, right, bottom = render.region
        error = full_resolution_error(d, 5, render.region)
        psnr = 10 * np.log10(1 / np.mean(full_resolution_error_signed(d, 5, render.region) ** 2))
        assert render.region_psnr_db == pytest.approx(psnr, abs=0.05)
        assert app.updates[-1].region_psnr_db == render.region_psnr_db
        assert render.max_error == pytest.approx(error.max(), abs=1 / 255)
        x, y = render.max_error_at
        assert left <= x < right and top <= y < bottom
        assert error[y - top, x - left] >= error.max() - 1 / 255


async def test_m_jumps_to_the_largest_error_at_one_to_one(dec):
    app = PreviewApp(dec, rank=3)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(PreviewPane)
        await settled(pilot)
        pane.view = "error"
        at_fit = await settled(pilot)
        await pilot.press("m")
        render = await settled(pilot)
        assert render.zoom == "1:1"
        left, top, right, bottom = render.region
        x, y = at_fit.max_error_at
        assert left <= x < right and top <= y < bottom
        # The same worst pixel is in view, measured per image pixel.
        assert render.max_error == pytest.approx(at_fit.max_error, abs=1 / 255)


async def test_click_zooms_to_one_to_one_on_that_spot_and_the_wheel_keeps_it_under_the_mouse(dec):
    app = PreviewApp(dec)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(PreviewPane)
        render = await settled(pilot)
        widget = pane.query_one("#pp-right-image")
        box = widget.content_region
        # The cell 30 across, 3 down in the reconstruction: which image pixels it shows at fit.
        x, y = pane.image_point(box.x + 30, box.y + 3)
        assert x == pytest.approx(30.5 * 128 / render.main.shape[1])
        assert y == pytest.approx(3.5 * 2 * 96 / render.main.shape[0])
        await pilot.click("#pp-right-image", offset=(30, 3))
        render = await settled(pilot)
        assert render.zoom == "1:1"
        left, top, right, bottom = render.region
        assert left <= x < right and top <= y < bottom
        assert abs((left + right) / 2 - x) <= 1 or left == 0 or right == 128  # centred unless clamped

        class Wheel:  # what a mouse wheel event carries, for the handler
            def __init__(self, sx: int, sy: int) -> None:
                self.screen_x, self.screen_y = sx, sy

            def stop(self) -> None:
                pass

        box = pane.query_one("#pp-right-image").content_region
        under = pane.image_point(box.x + 10, box.y + 8)
        pane._scroll_zoom(Wheel(box.x + 10, box.y + 8), +1)
        render = await settled(pilot)
        assert render.zoom == "2:1"
        after = pane.image_point(box.x + 10, box.y + 8)
        assert abs(after[0] - under[0]) <= 1 and abs(after[1] - under[1]) <= 1
        # Off the pictures, clicks do nothing.
        assert pane.image_point(0, SIZE[1] - 1) is None


async def test_same_photo_in_grey_keeps_the_view_a_new_photo_starts_at_fit(dec, grey_dec):
    app = PreviewApp(dec)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(PreviewPane)
        await settled(pilot)
        await pilot.press("right_square_bracket", "right_square_bracket", "l", "l")
        zoomed = await settled(pilot)
        pane.show(grey_dec, 8)  # grey/colour toggle: same photo, same size
        render = await settled(pilot)
        assert (render.zoom, render.region) == (zoomed.zoom, zoomed.region) and render.main.ndim == 2
        await pilot.press("f")
        assert (await settled(pilot)).flipped
        other = decompose(np.ascontiguousarray(grey_dec.image[:50, :70]))
        pane.show(other, 8)
        render = await settled(pilot)
        assert (render.zoom, render.region, render.flipped) == ("fit", (0, 0, 70, 50), False)


# ---- rendering discipline ------------------------------------------------------------


async def test_many_shows_end_on_the_last_rank(dec):
    app = PreviewApp(dec, rank=1)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(PreviewPane)
        await settled(pilot)
        ranks = [int(r) for r in np.random.default_rng(7).integers(1, 96, size=120)] + [37]
        for i, rank in enumerate(ranks):
            pane.show(dec, rank)
            if i % 7 == 0:
                await pilot.pause()  # let some renders finish in between
        render = await settled(pilot)
        assert render.rank == 37
        size = (render.main.shape[1], render.main.shape[0])
        assert np.array_equal(shown(pane), dec.preview(37, size))
        assert str(pane.query_one("#pp-right-label").render()).startswith("rank 37 · ")
        assert app.updates[-1].rank == 37


async def test_resize_renders_again_at_the_new_size(dec):
    app = PreviewApp(dec)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(PreviewPane)
        small = (await settled(pilot)).main.shape
        await pilot.resize_terminal(120, 40)
        for _ in range(100):
            await pilot.pause(0.02)
            if pane.last_render is not None and pane.last_render.main.shape != small and not pane.render_pending:
                break
        big = pane.last_render.main.shape
        assert big[1] == pane_px(pane)[0] == (120 - 1) // 2 and big[0] > small[0]


async def test_clear_shows_text_and_drops_renders_in_flight(dec):
    app = PreviewApp(dec)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(PreviewPane)
        await settled(pilot)
        pane.show(dec, 30)
        pane.clear("Decomposing photo.jpg …")
        await pilot.pause(0.3)
        assert pane.last_render is None
        assert not pane.query_one("#pp-views").display
        assert "Decomposing photo.jpg" in str(pane.query_one("#pp-message").render())
        assert app.updates[-1].rank == 8  # nothing from the dropped render arrived


async def test_bad_rank_shows_the_error_and_keeps_working(dec):
    app = PreviewApp(dec)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(PreviewPane)
        await settled(pilot)
        pane.show(dec, 500)
        await settled(pilot)
        assert "rank 500 is above" in str(pane.query_one("#pp-message").render())
        pane.show(dec, 9)
        assert (await settled(pilot)).rank == 9
        assert pane.query_one("#pp-views").display


# ---- snapshots (half-cell renderer) ---------------------------------------------------


def _snapshot_app(decomposition, view: str = "side", keys: tuple[str, ...] = ()):
    async def run_before(pilot) -> None:
        await settled(pilot)
        pilot.app.query_one(PreviewPane).view = view
        await settled(pilot)
        if keys:
            await pilot.press(*keys)
            await settled(pilot)

    return PreviewApp(decomposition, rank=6), run_before


def test_snapshot_side_by_side(snap_compare, dec):
    app, run_before = _snapshot_app(dec)
    assert snap_compare(app, terminal_size=(60, 18), run_before=run_before)


def test_snapshot_single_view_zoomed_in(snap_compare, dec):
    app, run_before = _snapshot_app(dec, "single", ("right_square_bracket", "right_square_bracket", "j"))
    assert snap_compare(app, terminal_size=(60, 18), run_before=run_before)


def test_snapshot_error_map(snap_compare, dec):
    app, run_before = _snapshot_app(dec, "error")
    assert snap_compare(app, terminal_size=(60, 18), run_before=run_before)


def test_snapshot_flipped_zoomed_in(snap_compare, dec):
    app, run_before = _snapshot_app(dec, "side", ("right_square_bracket",) * 3 + ("f",))
    assert snap_compare(app, terminal_size=(60, 18), run_before=run_before)


# ---- the original at large shrinks ---------------------------------------------------


@pytest.mark.parametrize("which", ["colour", "grey"])
def test_fast_original_shrink_equals_core(which, dec, grey_dec, monkeypatch):
    from tui.preview import original_preview

    d = dec if which == "colour" else grey_dec
    monkeypatch.setattr("tui.preview.render.FAST_ORIGINAL_PIXELS", 0)  # take the OpenCV path at this size
    for size, region in [((39, 44), None), ((20, 9), (3, 5, 128, 96)), ((7, 30), (100, 0, 117, 96))]:
        region = region or (0, 0, 128, 96)
        ours = original_preview(d, size, region).astype(int)
        core = d.original_preview(size, region).astype(int)
        assert ours.shape == core.shape
        assert np.abs(ours - core).max() <= 1  # the same area average; rounding ties may differ
