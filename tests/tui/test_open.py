"""Pilot tests of opening images: the file pane, the path dialog, bad files, grey/colour, refinement."""

from __future__ import annotations

from pathlib import Path

import pytest

from apphelp import (bad_files, digest, edit_path, make_app, photo, shown_ranks, small_counts_as_large, wait_for,
                     widget_text)
from tui.dialogs import PathScreen
from tui.widgets import ImagePicker, RankInput, SizesTable


async def test_open_from_the_picker(app):
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        picker = app.query_one(ImagePicker)
        await wait_for(pilot, lambda: len(picker.root.children) == 3)
        names = sorted(node.data.path.name for node in picker.root.children)
        assert names == ["a_small.png", "b_other.png", "c_broken.png"]  # notes.txt is not an image
        picker.focus()
        await pilot.press("down", "down", "enter")  # root → a_small → b_other
        await app.settled()
        assert app.loaded.source.path.name == "b_other.png"
        assert app.loaded.dec.shape[:2] == (80, 80)
        assert shown_ranks(app) == (50,) * 4


async def test_open_from_the_path_dialog(photo_dir, app):
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        await pilot.press("f2")
        assert isinstance(app.screen, PathScreen)
        field = app.screen.query_one("#path-input")
        assert field.value == str(photo_dir) + "/"
        await pilot.press(*"b_other.png", "enter")
        await app.settled()
        assert app.loaded.source.path == photo_dir / "b_other.png"
        await pilot.press("ctrl+o", "escape")  # cancelled: nothing changes
        assert not isinstance(app.screen, PathScreen)
        assert app.loaded.source.path == photo_dir / "b_other.png"


@pytest.mark.parametrize("name, words", [
    ("c_broken.png", "not"), ("missing.png", "no such file"), (".", "directory"), ("empty.png", "empty"),
    ("truncated.png", "png"), ("huge.png", "max-pixels"),
])
async def test_bad_file_is_reported_and_the_app_keeps_working(photo_dir, name, words):
    bad_files(photo_dir)
    app = make_app(photo_dir / "a_small.png")
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await app.settled()
        before = digest(photo_dir / "c_broken.png")
        app.open_image(photo_dir / name)
        await app.settled()
        notes = [n.message for n in app._notifications]
        assert any(str(photo_dir) in m for m in notes), notes
        assert words in app.last_error.lower(), app.last_error
        assert "\n" not in app.last_error and "Traceback" not in app.last_error
        assert app.loaded.source.path.name == "a_small.png"  # the previous image stays
        await pilot.press("plus")
        await app.settled()
        assert shown_ranks(app) == (51,) * 4
        assert digest(photo_dir / "c_broken.png") == before


async def test_non_ascii_path_opens(photo_dir):
    bad_files(photo_dir)
    app = make_app(photo_dir / "ünïcode ☃ name.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        assert app.loaded.dec.shape[:2] == (64, 96) and "ünïcode ☃ name.png" in app.sub_title


async def test_bad_file_as_the_first_image(photo_dir):
    app = make_app(photo_dir / "c_broken.png")
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await app.settled()
        assert app.loaded is None
        assert "not an image" in app.last_error
        await pilot.press("plus", "f7", "f3")  # nothing to act on: no crash
        app.open_image(photo_dir / "a_small.png")
        await app.settled()
        assert app.loaded.source.path.name == "a_small.png"


async def test_grey_colour_toggle(app):
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        await pilot.press("f4")
        await app.settled()
        assert app.mode == "grey" and app.loaded.dec.colour_space == "grey"
        assert app.query_one(SizesTable).state.raw_bytes == 96 * 64
        assert "grey" in app.sub_title
        await pilot.press("f4")
        await app.settled()
        assert app.loaded.dec.image.ndim == 3 and "colour" in app.sub_title
        await pilot.press("f4", "f4")  # there and back before the first finishes: colour again
        await app.settled()
        assert app.mode == "colour" and app.loaded.dec.image.ndim == 3


async def test_opening_a_new_photo_while_one_decomposes(photo_dir, tmp_path):
    big = photo(tmp_path / "big.png", 900, 700)
    app = make_app(photo_dir / "a_small.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        app.open_image(big)
        await pilot.pause(0.05)
        await pilot.resize_terminal(80, 24)  # resizing mid-work
        app.open_image(photo_dir / "b_other.png")  # the later request wins
        await pilot.resize_terminal(120, 40)
        await app.settled()
        await pilot.pause(1.0)
        await app.settled()
        assert app.loaded.source.path.name == "b_other.png"
        assert shown_ranks(app) == (50,) * 4


async def test_bad_file_opened_from_the_picker(app):
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await app.settled()
        picker = app.query_one(ImagePicker)
        await wait_for(pilot, lambda: len(picker.root.children) == 3)
        picker.focus()
        await pilot.press("down", "down", "down", "enter")  # c_broken.png
        await app.settled()
        assert any("c_broken.png" in n.message and "not an image" in n.message for n in app._notifications)
        assert app.loaded.source.path.name == "a_small.png"
        app.query_one(RankInput).focus()
        await pilot.press("minus")
        await app.settled()
        assert shown_ranks(app) == (49,) * 4


async def test_randomized_decomposition_is_shown_then_refined_to_exact(monkeypatch, tmp_path):
    import core.svd

    # Make a small photo count as "large" so the randomized path and its refinement run quickly.
    small_counts_as_large(monkeypatch)
    app = make_app(photo(tmp_path / "p.png", 320, 240))
    seen = []
    show = app.show_decomposition

    def recording_install(loaded, **kw):
        show(loaded, **kw)
        seen.append((loaded.dec.exact, loaded.dec.max_rank, app.sub_title, app.rank))

    app.show_decomposition = recording_install
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.loaded is not None and app.loaded.dec.exact, timeout=60)
        await app.settled()
        assert seen[0][0] is False and seen[0][1] == 40 and "randomized" in seen[0][2] and seen[0][3] == 40
        assert app.loaded.dec.max_rank == 240 and "exact SVD" in app.sub_title
        assert "computing" not in app.sub_title
        assert shown_ranks(app) == (50, 50, 50, 50)  # the rank asked for (clamped to 40 before) is served now


async def test_the_shown_rank_is_measured_from_before_the_decomposition_is_drawn(photo_dir):
    app = make_app(photo_dir / "a_small.png")
    jobs_when_drawn = []
    show = app.show_decomposition

    def recording(loaded, **kw):
        # Asked for before the drawing: its jobs started (the PNG, longest, first), or about to start
        # on the read-ahead's thread (its target set).
        context = loaded.measure_context()
        ranks = context.channel_ranks(50)
        work = context._work.get(ranks)
        with context._lock:
            wanted = context._ahead is not None and context._ahead[0] == ranks
        jobs_when_drawn.append(wanted or (work is not None and "png" in work.jobs))
        show(loaded, **kw)

    app.show_decomposition = recording
    async with app.run_test(size=(160, 50)):
        await app.settled()
        assert jobs_when_drawn == [True]
        assert shown_ranks(app) == (50,) * 4 and not app.query_one(SizesTable).state.measuring


async def test_figures_of_the_randomized_svd_stay_marked_until_the_exact_ones_arrive(monkeypatch, tmp_path):
    import threading

    import core.measure
    import tui.jobs
    from tui.widgets import exact_bytes

    small_counts_as_large(monkeypatch)
    exact_ready, png_held, png_go = threading.Event(), threading.Event(), threading.Event()
    refine, png_bytes = tui.jobs.refine, core.measure._png_bytes

    def held_refine(loaded, should_cancel):
        exact_ready.wait(60)
        return refine(loaded, should_cancel)

    def held_png(ints):
        if exact_ready.is_set():  # the exact SVD's PNG: held until the test has looked
            png_held.set()
            png_go.wait(60)
        return png_bytes(ints)

    monkeypatch.setattr(tui.jobs, "refine", held_refine)
    monkeypatch.setattr(core.measure, "_png_bytes", held_png)
    app = make_app(photo(tmp_path / "p.png", 320, 240))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.loaded is not None)
        app.action_set_rank(30)
        table = app.query_one(SizesTable)
        await wait_for(pilot, lambda: table.state.rank == 30 and not table.state.measuring, timeout=60)
        randomized = table.state.png_bytes, table.state.psnr_db
        assert not app.loaded.dec.exact and randomized[0] is not None
        exact_ready.set()
        await wait_for(pilot, lambda: app.loaded.dec.exact and png_held.is_set(), timeout=60)
        await pilot.pause(0.2)
        png_row = next(line for line in widget_text(table).splitlines() if "reconstruction as PNG" in line)
        # the randomized SVD's bytes, marked, instead of "…"
        assert f"≈{exact_bytes(randomized[0])}" in png_row and "…" not in png_row, png_row
        png_go.set()
        await app.settled()
        png_row = next(line for line in widget_text(table).splitlines() if "reconstruction as PNG" in line)
        assert "≈" not in png_row and table.state.png_bytes is not None
        assert exact_bytes(table.state.png_bytes) in png_row


async def test_file_pane_toggle_and_folders_from_the_dialog(photo_dir, tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    photo(other / "z.png", 64, 48)
    app = make_app(photo_dir / "a_small.png")
    async with app.run_test(size=(80, 24)) as pilot:
        await app.settled()
        pane = app.query_one("#picker-pane")
        assert pane.region.width == 0  # hidden in a small terminal
        await pilot.press("f9")
        await pilot.pause(0.1)
        assert pane.region.width > 0 and isinstance(app.focused, ImagePicker)
        await pilot.press("f9")
        await pilot.pause(0.1)
        assert pane.region.width == 0 and isinstance(app.focused, RankInput)
        # a folder typed in the open dialog is browsed in the file pane
        await pilot.press("f2")
        await edit_path(pilot, other)
        await pilot.pause(0.1)
        picker = app.query_one(ImagePicker)
        assert Path(picker.path) == other.resolve() and pane.region.width > 0
        await wait_for(pilot, lambda: len(picker.root.children) == 1)
        await pilot.press("down", "enter")
        await app.settled()
        assert app.loaded.source.path.name == "z.png"
        # an image elsewhere, opened by path: the file pane follows it
        await pilot.press("f2")
        await edit_path(pilot, photo_dir / "b_other.png")
        await app.settled()
        assert Path(picker.path) == photo_dir.resolve()


async def test_max_pixels_option_refuses_larger_images(photo_dir):
    app = make_app(photo_dir / "a_small.png", max_pixels=1000)  # 96×64 is above it
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await app.settled()
        assert app.loaded is None and "max-pixels" in app.last_error


async def test_svdz_opens_at_its_saved_rank(photo_dir):
    from core.imageio import load_image
    from core.svd import decompose
    from core.svdz import encode

    pixels = load_image(photo_dir / "a_small.png")
    path = photo_dir / "a_small-rank9.svdz"
    path.write_bytes(encode(decompose(pixels), 9))
    app = make_app(path)
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        assert app.rank == 9 and app.query_one(RankInput).value == "9"
        assert "decoded from .svdz (ranks 9, 9, 9, rgb)" in app.sub_title
        # the decoded pixels hold little beyond rank 9 (only rounding and quantisation noise)
        assert app.loaded.source.format == "SVDZ" and app.loaded.dec.psnr_estimate(9) > 40


async def test_typed_paths_that_cannot_be_looked_at_are_reported(photo_dir, app):
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await app.settled()
        # ~name of no such user: said in the dialog, which stays open for a correction
        await pilot.press("f2")
        await edit_path(pilot, "~nosuchuser_svdlens/x.png")
        assert isinstance(app.screen, PathScreen)
        said = widget_text(app.screen.query_one("#path-error"))
        assert "~nosuchuser_svdlens" in said and "expand" in said, said
        await pilot.press("escape")
        # a name longer than the file system allows, and an embedded NUL: one line each, naming the path
        long_name = photo_dir / ("x" * 300 + ".png")
        for typed, words in ((long_name, "too long"), (f"{photo_dir}/a\0b.png", "nul")):
            app.last_error = None
            await pilot.press("f2")
            await edit_path(pilot, typed)
            await app.settled()
            assert app.last_error is not None and words in app.last_error.lower(), app.last_error
            assert str(photo_dir) in app.last_error and "\n" not in app.last_error
            assert any(n.message == app.last_error for n in app._notifications)
        assert app.loaded.source.path.name == "a_small.png"  # the app keeps working
        await pilot.press("plus")
        await app.settled()
        assert shown_ranks(app) == (51,) * 4


async def test_sub_title_names_the_refinement_that_runs_next(monkeypatch, tmp_path):
    import core.svd

    # Small sizes so the quick pass → top-40 → exact chain runs in a moment.
    small_counts_as_large(monkeypatch)
    monkeypatch.setattr(core.svd, "QUICK_RANKS", 10)
    monkeypatch.setattr(core.svd, "QUICK_OVERSAMPLE", 10)
    app = make_app(photo(tmp_path / "p.png", 320, 240))
    seen = []
    show = app.show_decomposition

    def recording_install(loaded, **kw):
        show(loaded, **kw)
        seen.append((loaded.dec.max_rank, app.sub_title))

    app.show_decomposition = recording_install
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.loaded is not None and app.loaded.dec.exact, timeout=60)
        await app.settled()
    assert [rank for rank, _ in seen] == [10, 40, 240]
    assert seen[0][1].endswith(" · top-40 computing…") and "exact SVD computing" not in seen[0][1]
    assert seen[1][1].endswith(" · exact SVD computing…") and "top-40 computing" not in seen[1][1]
    assert "computing" not in seen[2][1]


async def test_the_refinement_note_goes_when_the_refinement_fails(monkeypatch, tmp_path):
    import core.svd

    small_counts_as_large(monkeypatch)
    monkeypatch.setattr(core.svd, "QUICK_RANKS", 10)
    monkeypatch.setattr(core.svd, "QUICK_OVERSAMPLE", 10)

    def failing_refine(self, **kwargs):
        raise RuntimeError("no memory left, say")

    monkeypatch.setattr(core.svd.Decomposition, "refine", failing_refine)
    app = make_app(photo(tmp_path / "p.png", 320, 240))
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await wait_for(pilot, lambda: any(n.title == "kept the randomized SVD" for n in app._notifications))
        await app.settled()
        assert app.loaded.dec.max_rank == 10
        assert "computing" not in app.sub_title and "p.png" in app.sub_title
