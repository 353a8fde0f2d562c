"""Pilot tests: every key and flow of the app, checked on what a person would see."""

from __future__ import annotations

import hashlib
import random
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from textual import events

import tui.app as app_module
from apphelp import make_app, photo, settle, shown_ranks, wait_for, widget_text
from core.report import rank_row
from core.select import rank_for_energy, rank_for_psnr
from tui.app import CLASSIC_RANKS, SvdlensApp
from tui.dialogs import KEYS, HelpScreen, PathScreen
from tui.preview import PreviewPane
from tui.widgets import verdict, ImagePicker, RankInput, SizesTable, SpectrumPlot, parse_rank_request


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def type_rank(pilot, text: str) -> None:
    await pilot.press("ctrl+a", "ctrl+k", *list(text), "enter")


def status(app: SvdlensApp) -> str:
    return widget_text(app.query_one("#rank-status"))


# ---- start-up, table, spectrum ------------------------------------------------------------


async def test_opens_the_image_and_every_pane_agrees_with_core(photo_dir):
    path = photo_dir / "a_small.png"
    app = make_app(path)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        assert shown_ranks(app) == (50, 50, 50, 50)
        state = app.query_one(SizesTable).state
        row = rank_row(app.loaded.source, app.loaded.dec, 50)  # what `svdlens report` prints
        assert state.psnr == pytest.approx(row.psnr_db)
        assert state.ssim == pytest.approx(row.ssim)
        assert state.png_bytes == row.png_bytes
        assert state.svdz_bytes == row.extra["container_bytes"]
        assert state.file_bytes == path.stat().st_size
        assert state.raw_bytes == 96 * 64 * 3
        assert state.float32_bytes == 50 * (64 + 96 + 1) * 4 * 3
        text = widget_text(app.query_one(SizesTable))
        assert verdict(state).split(":")[0].split("(")[0] in text.replace("\n", "")
        assert "a_small.png" in app.sub_title and "96×64" in app.sub_title


async def test_jpeg_at_equal_bytes_is_called_far_better_on_a_photo(tmp_path):
    app = make_app(photo(tmp_path / "p.png", 240, 200))
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        await type_rank(pilot, "10")
        await settle(pilot)
        state = app.query_one(SizesTable).state
        assert state.jpeg_psnr > state.svdz_psnr
        assert "JPEG at the same bytes is far better" in widget_text(app.query_one(SizesTable))


async def test_spectrum_marker_moves_with_the_rank(photo_dir):
    app = make_app(photo_dir / "a_small.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        plot = app.query_one(SpectrumPlot)
        marker = widget_text(plot.query_one("#spectrum-marker"))
        at_50 = marker.index("▲")
        await type_rank(pilot, "5")
        await settle(pilot)
        at_5 = widget_text(plot.query_one("#spectrum-marker")).index("▲")
        assert at_5 < at_50
        assert "rank 5 keeps" in widget_text(plot.query_one("#spectrum-title"))
        # log σ falls with rank: the first bar is the tallest.
        bars = plot.query_one("#spectrum-bars").data
        assert bars[0] == max(bars) and bars[-1] < bars[0]


# ---- the rank field and the rank keys ------------------------------------------------------


async def test_typed_rank_and_validation_messages(photo_dir):
    app = make_app(photo_dir / "a_small.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        await type_rank(pilot, "20")
        await settle(pilot)
        assert shown_ranks(app) == (20, 20, 20, 20)
        for bad, words in (("abc", "not understood"), ("150%", "at most 100"), ("0", "at least 1"),
                           ("2.5", "whole number"), ("0dB", "above 0 dB")):
            await type_rank(pilot, bad)
            await pilot.pause(0.1)
            assert words in status(app), bad
            assert app.query_one("#rank-status").has_class("-error")
            assert app.rank == 20
        await type_rank(pilot, "999")  # above min(H, W) = 64: clamped, and said so
        await settle(pilot)
        assert shown_ranks(app) == (64, 64, 64, 64)
        assert "above min(H, W) = 64" in status(app)


async def test_step_keys_work_while_the_rank_field_has_focus(photo_dir):
    app = make_app(photo_dir / "a_small.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        assert isinstance(app.focused, RankInput)
        expected = 50
        for key, change in (("plus", +1), ("plus", +1), ("minus", -1), ("up", +1), ("down", -1),
                            ("shift+down", -10), ("pagedown", -10), ("shift+up", +10), ("pageup", +10)):
            await pilot.press(key)
            expected += change
            assert app.rank == expected, key
        await pilot.press("slash")
        assert app.rank == round(expected / 2)
        await pilot.press("asterisk")
        assert app.rank == 2 * round(expected / 2)
        await settle(pilot)
        assert shown_ranks(app)[1:] == (app.rank,) * 3
        await pilot.press(*["pagedown"] * 7, "minus")
        assert app.rank == 1  # the smallest rank; stepping further stays there
        await settle(pilot)
        assert shown_ranks(app) == (1, 1, 1, 1)


async def test_rank_keys_from_the_preview_and_its_own_keys(photo_dir):
    app = make_app(photo_dir / "a_small.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        preview = app.query_one(PreviewPane)
        preview.focus()
        await pilot.press("plus", "plus")
        assert app.rank == 52
        rank = app.rank
        await pilot.press("right_square_bracket")  # zoom in: the preview's key, not a rank key
        await pilot.press("down", "up")  # pan, not rank
        assert app.rank == rank
        assert preview.zoom != "fit"


async def test_classic_rank_presets_cycle(tmp_path):
    app = make_app(photo(tmp_path / "big.png", 320, 300))
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        seen = []
        for _ in range(len(CLASSIC_RANKS)):
            await pilot.press("f7")
            seen.append(app.rank)
            if app.rank == 300:  # 500 is above min(H, W) = 300: clamped and announced
                assert "rank 500 is above min(H, W) = 300" in status(app)
        assert seen == [25, 10, 300, 250, 100, 50]
        await pilot.press("f7", "f7", "f7")
        await settle(pilot)
        assert shown_ranks(app) == (300,) * 4


async def test_energy_and_psnr_targets(photo_dir):
    app = make_app(photo_dir / "b_other.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        dec = app.loaded.dec
        for share in (0.90, 0.99, 0.999):
            await pilot.press("f8")
            await settle(pilot)
            assert app.rank == rank_for_energy(dec, share)
            assert app.loaded.energy[app.rank - 1] >= share - 1e-12
        await type_rank(pilot, "95%")
        await settle(pilot)
        assert app.rank == rank_for_energy(dec, 0.95)
        await type_rank(pilot, "0.9")
        await settle(pilot)
        assert app.rank == rank_for_energy(dec, 0.9)
        assert "of the energy" in status(app)
        await type_rank(pilot, "30dB")
        await settle(pilot)
        assert app.rank == rank_for_psnr(dec, 30.0)
        assert app.query_one(SizesTable).state.psnr >= 30.0


async def test_byte_budget_target(photo_dir):
    from core.svdz import encode, rank_for_max_bytes

    app = make_app(photo_dir / "b_other.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        await type_rank(pilot, "6k")
        await settle(pilot)
        assert app.rank == rank_for_max_bytes(app.loaded.dec, 6 * 1024)  # k = 1024, as --max-bytes
        assert len(encode(app.loaded.dec, app.rank)) <= 6 * 1024
        assert app.query_one(SizesTable).state.svdz_bytes <= 6 * 1024, app.query_one(SizesTable).state
        rank = app.rank
        await type_rank(pilot, "10b")  # below the smallest .svdz: said so, rank kept
        await wait_for(pilot, lambda: "below the smallest" in status(app))
        await settle(pilot)
        assert app.rank == rank and app.query_one("#rank-status").has_class("-error")


def test_marker_column_is_the_bar_that_holds_the_rank():
    from tui.widgets import column_starts, marker_column

    for n, cols in ((5, 3), (512, 49), (400, 78), (7, 7), (1000, 33)):
        starts = column_starts(n, cols) + [n]
        for rank in range(1, n + 1):
            col = marker_column(rank, n, cols)
            assert starts[col] <= rank - 1 < starts[col + 1], (n, cols, rank)


def test_parse_rank_request():
    assert parse_rank_request(" 50 ").kind == "rank"
    assert parse_rank_request("99%").value == pytest.approx(0.99)
    assert parse_rank_request("0.999").value == pytest.approx(0.999)
    assert parse_rank_request("32 dB").value == 32
    assert parse_rank_request("200k").value == 200 * 1024  # k = 1024, as for --max-bytes (tui/units.py)
    assert parse_rank_request("1.5MiB").value == int(1.5 * 1024**2)
    for bad in ("", "-5", "abc", "101%", "1.5", "50x"):
        with pytest.raises(ValueError):
            parse_rank_request(bad)


# ---- opening ------------------------------------------------------------------------------


async def test_open_from_the_picker(photo_dir):
    app = make_app(photo_dir / "a_small.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        picker = app.query_one(ImagePicker)
        await wait_for(pilot, lambda: len(picker.root.children) == 3)
        names = sorted(node.data.path.name for node in picker.root.children)
        assert names == ["a_small.png", "b_other.png", "c_broken.png"]  # notes.txt is not an image
        picker.focus()
        await pilot.press("down", "down", "enter")  # root → a_small → b_other
        await settle(pilot)
        assert app.loaded.source.path.name == "b_other.png"
        assert app.loaded.dec.shape[:2] == (80, 80)
        assert shown_ranks(app) == (50,) * 4


async def test_open_from_the_path_dialog(photo_dir):
    app = make_app(photo_dir / "a_small.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        await pilot.press("f2")
        assert isinstance(app.screen, PathScreen)
        field = app.screen.query_one("#path-input")
        assert field.value == str(photo_dir) + "/"
        await pilot.press(*"b_other.png", "enter")
        await settle(pilot)
        assert app.loaded.source.path == photo_dir / "b_other.png"
        await pilot.press("ctrl+o", "escape")  # cancelled: nothing changes
        assert not isinstance(app.screen, PathScreen)
        assert app.loaded.source.path == photo_dir / "b_other.png"


def _bad_files(folder: Path) -> None:
    good = (folder / "a_small.png").read_bytes()
    (folder / "empty.png").write_bytes(b"")
    (folder / "truncated.png").write_bytes(good[: len(good) // 2])
    # A PNG header declaring 100000×100000 pixels: refused before anything is allocated.
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    (folder / "huge.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                                      + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    (folder / "ünïcode ☃ name.png").write_bytes(good)


@pytest.mark.parametrize("name, words", [
    ("c_broken.png", "not"), ("missing.png", "no such file"), (".", "directory"), ("empty.png", "empty"),
    ("truncated.png", "png"), ("huge.png", "max-pixels"),
])
async def test_bad_file_is_reported_and_the_app_keeps_working(photo_dir, name, words):
    _bad_files(photo_dir)
    app = make_app(photo_dir / "a_small.png")
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await settle(pilot)
        before = digest(photo_dir / "c_broken.png")
        app.open_image(photo_dir / name)
        await settle(pilot)
        notes = [n.message for n in app._notifications]
        assert any(str(photo_dir) in m for m in notes), notes
        assert words in app.last_error.lower(), app.last_error
        assert "\n" not in app.last_error and "Traceback" not in app.last_error
        assert app.loaded.source.path.name == "a_small.png"  # the previous image stays
        await pilot.press("plus")
        await settle(pilot)
        assert shown_ranks(app) == (51,) * 4
        assert digest(photo_dir / "c_broken.png") == before


async def test_non_ascii_path_opens(photo_dir):
    _bad_files(photo_dir)
    app = make_app(photo_dir / "ünïcode ☃ name.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        assert app.loaded.dec.shape[:2] == (64, 96) and "ünïcode ☃ name.png" in app.sub_title


async def test_bad_file_as_the_first_image(photo_dir):
    app = make_app(photo_dir / "c_broken.png")
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await settle(pilot)
        assert app.loaded is None
        assert "not an image" in app.last_error
        await pilot.press("plus", "f7", "f3")  # nothing to act on: no crash
        app.open_image(photo_dir / "a_small.png")
        await settle(pilot)
        assert app.loaded.source.path.name == "a_small.png"


# ---- grey/colour, views, help, palette ------------------------------------------------------


async def test_grey_colour_toggle(photo_dir):
    app = make_app(photo_dir / "a_small.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        assert app.mode == "grey" and app.loaded.dec.colour_space == "grey"
        assert app.query_one(SizesTable).state.raw_bytes == 96 * 64
        assert "grey" in app.sub_title
        await pilot.press("f4")
        await settle(pilot)
        assert app.loaded.dec.image.ndim == 3 and "colour" in app.sub_title
        await pilot.press("f4", "f4")  # there and back before the first finishes: colour again
        await settle(pilot)
        assert app.mode == "colour" and app.loaded.dec.image.ndim == 3


async def test_preview_view_and_flip_keys(photo_dir):
    app = make_app(photo_dir / "a_small.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        preview = app.query_one(PreviewPane)
        views = []
        for _ in range(2):
            await pilot.press("f5")
            views.append(preview.view)
        assert views == ["single", "error"]  # then the gallery, curves, components (test_views.py)
        app.action_set_view("side")
        await pilot.press("f6")
        assert preview.flipped
        await pilot.press("f6")
        assert not preview.flipped


async def test_help_lists_every_key(photo_dir):
    app = make_app(photo_dir / "a_small.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        text = "\n".join(widget_text(w) for w in app.screen.query(".help-table"))
        for _, keys, what in KEYS:
            assert " ".join(what.split()[:3]) in text, what
        for binding in SvdlensApp.BINDINGS:
            first = binding.key.split(",")[0]
            shown = {"plus": "+", "minus": "−", "asterisk": "*", "slash": "/", "pageup": "PgUp",
                     "pagedown": "PgDn"}.get(first, first.upper() if first.startswith("f") else first)
            assert shown in text, binding.key
        await pilot.press("plus")  # rank keys do nothing while help is up
        assert app.rank == 50
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_command_palette_commands(photo_dir):
    app = make_app(photo_dir / "a_small.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in ("Open image…", "Save…", "Rank 500", "Rank 10", "Energy 99 %", "Colour mode: grey",
                       "Preview: error map", "Preview: side by side", "Preview: single large view"):
            assert wanted in titles
        await pilot.press("ctrl+p")
        await pilot.press(*"Rank 25")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(pilot)
        assert shown_ranks(app) == (25,) * 4
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        commands["Preview: error map"].callback()
        await pilot.pause()
        assert app.query_one(PreviewPane).view == "error"


# ---- saving -------------------------------------------------------------------------------


async def edit_path(pilot, path: Path) -> None:
    """Replace the proposed path in the open dialog and confirm (long paths typed key by key are slow)."""
    field = pilot.app.screen.query_one("#path-input")
    field.value = str(path)
    await pilot.press("end", "enter")


async def test_save_png_and_svdz(photo_dir):
    from core.svdz import read_svdz

    src = photo_dir / "a_small.png"
    before = digest(src)
    app = make_app(src)
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await settle(pilot)
        await type_rank(pilot, "12")
        await settle(pilot)
        await pilot.press("f3")
        assert isinstance(app.screen, PathScreen)
        field = app.screen.query_one("#path-input")
        assert field.value == str(photo_dir / "a_small-rank12.png")
        await pilot.press("enter")
        out = photo_dir / "a_small-rank12.png"
        await wait_for(pilot, lambda: out.exists() and any("saved" == n.title for n in app._notifications))
        saved = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)[..., ::-1]
        expected = np.clip(np.rint(app.loaded.dec.reconstruct(12) * 255), 0, 255).astype(np.uint8)
        assert np.array_equal(saved, expected)
        note = [n.message for n in app._notifications if n.title == "saved"][-1]
        assert str(out) in note and f"{out.stat().st_size:,}".replace(",", " ") in note
        # .svdz through ctrl+s, edited path
        await pilot.press("ctrl+s", "ctrl+u", *"r12.svdz")  # typed: the dialog is an ordinary Input
        assert app.screen.query_one("#path-input").value == "r12.svdz"
        await edit_path(pilot, photo_dir / "r12.svdz")
        await wait_for(pilot, lambda: (photo_dir / "r12.svdz").exists())
        assert read_svdz(photo_dir / "r12.svdz").ranks[0] == 12
        # never over the input
        await pilot.press("f3")
        await edit_path(pilot, src)
        await wait_for(pilot, lambda: any(n.title == "not saved" for n in app._notifications))
        assert "input" in app.last_error
        # unknown suffix: refused before any work
        await pilot.press("f3")
        await edit_path(pilot, photo_dir / "x.bmpx")
        await pilot.pause(0.2)
        assert "x.bmpx" in app.last_error and not (photo_dir / "x.bmpx").exists()
        assert digest(src) == before
        leftovers = [p.name for p in photo_dir.iterdir() if p.name.endswith(".tmp")]
        assert leftovers == []


async def test_save_proposes_cwd_for_the_bundled_sample(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    app = make_app(None)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        assert app.loaded.source.path.name == "astronaut.png"
        assert app.proposed_save_path() == tmp_path / "astronaut-rank50.png"


# ---- under pressure -----------------------------------------------------------------------


async def test_hammering_rank_keys_ends_consistent(photo_dir):
    app = make_app(photo_dir / "b_other.png")
    keys = ["plus", "minus", "up", "down", "shift+up", "shift+down", "asterisk", "slash", "pageup", "pagedown"]
    rng = random.Random(7)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        expected = app.rank
        for burst in range(24):
            # A burst is posted at once, as a terminal delivers fast key repeat or tmux send-keys.
            for _ in range(12):
                key = rng.choice(keys)
                app.post_message(events.Key(key, {"plus": "+", "minus": "-", "asterisk": "*",
                                                  "slash": "/"}.get(key)))
                step = {"plus": 1, "minus": -1, "up": 1, "down": -1, "shift+up": 10, "shift+down": -10,
                        "pageup": 10, "pagedown": -10}.get(key)
                if step is not None:
                    expected = min(80, max(1, expected + step))
                else:
                    expected = min(80, max(1, round(expected * (2 if key == "asterisk" else 0.5))))
            await pilot.pause(0.01 if burst % 3 else 0.2)
        await settle(pilot)
        assert shown_ranks(app) == (expected,) * 4
        state = app.query_one(SizesTable).state
        row = rank_row(app.loaded.source, app.loaded.dec, expected)
        assert state.psnr == pytest.approx(row.psnr_db) and state.png_bytes == row.png_bytes


async def test_a_slow_stale_measurement_never_wins(photo_dir, monkeypatch):
    real = app_module._measure

    def slow_for_rank_50(loaded, rank):
        if rank == 50:
            time.sleep(1.0)  # still running when the rank moves on
        yield from real(loaded, rank)

    monkeypatch.setattr(app_module, "_measure", slow_for_rank_50)
    app = make_app(photo_dir / "b_other.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.loaded is not None, timeout=30)
        await pilot.pause(0.3)  # rank 50's measurement has started and sleeps
        await pilot.press("plus")
        await pilot.pause(1.5)
        await settle(pilot)
        state = app.query_one(SizesTable).state
        assert state.rank == 51
        expected = rank_row(app.loaded.source, app.loaded.dec, 51).psnr_db
        assert state.psnr == pytest.approx(expected)
        # A result tagged with an old generation that arrives late is dropped as well.
        app.post_message(app_module.Measured(app._rank_generation - 1, app.loaded, 50, {"psnr": 1.0}, done=True))
        await pilot.pause(0.2)
        assert app.query_one(SizesTable).state.psnr == pytest.approx(expected)


async def test_opening_a_new_photo_while_one_decomposes(photo_dir, tmp_path):
    big = photo(tmp_path / "big.png", 900, 700)
    app = make_app(photo_dir / "a_small.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        app.open_image(big)
        await pilot.pause(0.05)
        await pilot.resize_terminal(80, 24)  # resizing mid-work
        app.open_image(photo_dir / "b_other.png")  # the later request wins
        await pilot.resize_terminal(120, 40)
        await settle(pilot)
        await pilot.pause(1.0)
        await settle(pilot)
        assert app.loaded.source.path.name == "b_other.png"
        assert shown_ranks(app) == (50,) * 4


async def test_quit_mid_decomposition_exits_cleanly(tmp_path):
    big = photo(tmp_path / "big.png", 1200, 900)
    app = make_app(big)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.has_class("-busy"))
        await pilot.press("ctrl+q")
    assert app.return_code in (0, None)
    assert app.loaded is None


async def test_quit_key(photo_dir):
    app = make_app(photo_dir / "a_small.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+q")
        await pilot.pause(0.2)
    assert app.return_code in (0, None)


async def test_small_terminal_hides_the_picker_and_compacts_the_table(photo_dir):
    app = make_app(photo_dir / "a_small.png")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert not app.query_one("#picker-pane").display or app.query_one("#picker-pane").region.width == 0
        table = app.query_one(SizesTable)
        assert table.compact
        assert table.region.height <= 4
        assert app.query_one(PreviewPane).region.height >= 12
        await pilot.resize_terminal(160, 50)
        await pilot.pause(0.3)
        assert app.query_one("#picker-pane").region.width > 0
        assert not table.compact


async def test_bad_file_opened_from_the_picker(photo_dir):
    app = make_app(photo_dir / "a_small.png")
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await settle(pilot)
        picker = app.query_one(ImagePicker)
        await wait_for(pilot, lambda: len(picker.root.children) == 3)
        picker.focus()
        await pilot.press("down", "down", "down", "enter")  # c_broken.png
        await settle(pilot)
        assert any("c_broken.png" in n.message and "not an image" in n.message for n in app._notifications)
        assert app.loaded.source.path.name == "a_small.png"
        app.query_one(RankInput).focus()
        await pilot.press("minus")
        await settle(pilot)
        assert shown_ranks(app) == (49,) * 4


def _small_counts_as_large(monkeypatch) -> None:
    """Lower core.svd's thresholds so a 320×240 photo takes the randomized (top-40) path."""
    import core.svd

    monkeypatch.setattr(core.svd, "RANDOMIZED_MIN_SIDE", 100)
    monkeypatch.setattr(core.svd, "RANDOMIZED_MIN_PIXELS", 10_000)
    monkeypatch.setattr(core.svd, "SERVED_RANKS", 40)


async def test_randomized_decomposition_is_shown_then_refined_to_exact(monkeypatch, tmp_path):
    import core.svd

    # Make a small photo count as "large" so the randomized path and its refinement run quickly.
    _small_counts_as_large(monkeypatch)
    app = make_app(photo(tmp_path / "p.png", 320, 240))
    seen = []
    install = app._install

    def recording_install(loaded, **kw):
        install(loaded, **kw)
        seen.append((loaded.dec.exact, loaded.dec.max_rank, app.sub_title, app.rank))

    app._install = recording_install
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.loaded is not None and app.loaded.dec.exact, timeout=60)
        await settle(pilot)
        assert seen[0][0] is False and seen[0][1] == 40 and "randomized" in seen[0][2] and seen[0][3] == 40
        assert app.loaded.dec.max_rank == 240 and "exact SVD" in app.sub_title
        assert "computing" not in app.sub_title
        assert shown_ranks(app) == (50, 50, 50, 50)  # the rank asked for (clamped to 40 before) is served now


def test_the_process_ends_at_once_when_quit_mid_computation(tmp_path):
    """A torch SVD cannot be interrupted: quitting must not wait for it (and exit code 0)."""
    import subprocess
    import sys

    big = photo(tmp_path / "big.png", 2400, 1800)
    script = f"""
import sys
from pathlib import Path
from tui.app import create_app, run_to_exit
app = create_app(Path({str(big)!r}), preview="halfcell", device="cpu")
def quit_soon():
    print("busy at quit:", app.has_class("-busy") or any(w.group in ("decompose", "refine") and w.is_running
                                                         for w in app.workers), flush=True)
    app.exit()
app.call_later(lambda: app.set_timer(1.5, quit_soon))
sys.exit(run_to_exit(app, headless=True))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "busy at quit: True" in done.stdout  # it really was computing when asked to quit


async def test_file_pane_toggle_and_folders_from_the_dialog(photo_dir, tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    photo(other / "z.png", 64, 48)
    app = make_app(photo_dir / "a_small.png")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
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
        await settle(pilot)
        assert app.loaded.source.path.name == "z.png"
        # an image elsewhere, opened by path: the file pane follows it
        await pilot.press("f2")
        await edit_path(pilot, photo_dir / "b_other.png")
        await settle(pilot)
        assert Path(picker.path) == photo_dir.resolve()


async def test_psnr_from_sigma_is_shown_until_measured_and_svdz_has_ssim(photo_dir, monkeypatch):
    from core.metrics import ssim
    from core.svdz import decode, encode

    real = app_module._measure

    def held(loaded, rank):
        if rank == 20:
            time.sleep(0.8)  # the estimate is on screen meanwhile
        yield from real(loaded, rank)

    monkeypatch.setattr(app_module, "_measure", held)
    app = make_app(photo_dir / "b_other.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        await type_rank(pilot, "20")
        await pilot.pause(0.4)
        estimate = app.loaded.psnr_sigma[19]
        assert f"≈{estimate:.1f} dB" in widget_text(app.query_one(SizesTable))
        await settle(pilot)
        state = app.query_one(SizesTable).state
        assert abs(state.psnr - estimate) < 1.0  # clipping and rounding move it only a little
        decoded = decode(encode(app.loaded.dec, 20)).pixels
        assert state.svdz_ssim == pytest.approx(ssim(decoded, app.loaded.source.pixels))


async def test_a_burst_of_editing_keys_is_applied_in_order(photo_dir):
    """As tmux send-keys or a fast typist delivers them: deletions before the new digits."""

    def burst(app, keys):
        for key in keys:
            app.post_message(events.Key(key, key if len(key) == 1 else None))

    app = make_app(photo_dir / "a_small.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        burst(app, ["backspace", "backspace", "backspace", "7", "enter"])
        await settle(pilot)
        assert shown_ranks(app) == (7,) * 4
        burst(app, ["ctrl+a", "ctrl+k", "1", "2", "plus", "plus"])  # + steps from the applied rank
        await settle(pilot)
        assert shown_ranks(app) == (9,) * 4
        await pilot.press("f2")
        burst(app, ["ctrl+u", *str(photo_dir / "b_other.png"), "enter"])
        await settle(pilot)
        assert app.loaded.source.path.name == "b_other.png"


@pytest.mark.parametrize("protocol", ["halfcell", "unicode"])
async def test_preview_option_reaches_the_pane(photo_dir, protocol):
    app = make_app(photo_dir / "a_small.png", preview=protocol)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.query_one(PreviewPane).protocol == protocol


async def test_max_pixels_option_refuses_larger_images(photo_dir):
    app = make_app(photo_dir / "a_small.png", max_pixels=1000)  # 96×64 is above it
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
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
        await settle(pilot)
        assert app.rank == 9 and app.query_one(RankInput).value == "9"
        assert "decoded from .svdz (ranks 9, 9, 9, rgb)" in app.sub_title
        # the decoded pixels hold little beyond rank 9 (only rounding and quantisation noise)
        assert app.loaded.source.format == "SVDZ" and app.loaded.dec.psnr_estimate(9) > 40


# ---- review fixes: typed paths, exact exports, quitting, refinement note -------------------


async def test_typed_paths_that_cannot_be_looked_at_are_reported(photo_dir):
    app = make_app(photo_dir / "a_small.png")
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await settle(pilot)
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
            await settle(pilot)
            assert app.last_error is not None and words in app.last_error.lower(), app.last_error
            assert str(photo_dir) in app.last_error and "\n" not in app.last_error
            assert any(n.message == app.last_error for n in app._notifications)
        assert app.loaded.source.path.name == "a_small.png"  # the app keeps working
        await pilot.press("plus")
        await settle(pilot)
        assert shown_ranks(app) == (51,) * 4


async def test_save_from_a_randomized_decomposition_writes_the_exact_reconstruction(photo_dir, monkeypatch):
    import dataclasses

    import core.svd
    from core.svd import decompose

    src = photo(photo_dir / "wide.png", 320, 240)
    app = make_app(src)
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await settle(pilot)
        pixels = app.loaded.source.pixels
        # A crude sketch (few extra columns, no power iteration) so its rank-12 image differs visibly.
        monkeypatch.setattr(core.svd, "OVERSAMPLE", 2)
        monkeypatch.setattr(core.svd, "POWER_ITERATIONS", 0)
        rough = decompose(pixels, colour_space=app.loaded.dec.colour_space, method="randomized", max_rank=20,
                          device="cpu")
        monkeypatch.undo()
        assert not rough.exact
        app.loaded = dataclasses.replace(app.loaded, dec=rough)  # as if a large photo's first pass were shown
        await type_rank(pilot, "12")
        await settle(pilot)
        await pilot.press("f3")
        out = photo_dir / "wide-rank12.png"
        await edit_path(pilot, out)
        await wait_for(pilot, lambda: any(n.title == "saved" for n in app._notifications), timeout=30)
        saved = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)[..., ::-1]
        exact = decompose(pixels, colour_space=rough.colour_space, method="exact", device="cpu")

        def as_8bit(dec):
            return np.clip(np.rint(dec.reconstruct(12) * 255), 0, 255).astype(np.uint8)

        assert not np.array_equal(as_8bit(rough), as_8bit(exact))  # the test can tell them apart
        assert np.array_equal(saved, as_8bit(exact))
        note = [n.message for n in app._notifications if n.title == "saved"][-1]
        assert "exact SVD computed" in note and str(out) in note


def test_a_save_that_never_started_does_not_hold_the_exit(monkeypatch):
    """A save cancelled before its worker ran must not make quitting wait (it waited 120 s)."""
    app = make_app(None)
    app.executor = app_module._AbandoningExecutor()

    def closed_with_a_queued_save(*args, **kwargs):
        app._count_saves(queued=1)  # asked for; the app closed before its worker started
        app.executor.shutdown()
        return 0

    monkeypatch.setattr(app, "run", closed_with_a_queued_save)
    start = time.monotonic()
    assert app_module.run_to_exit(app, headless=True) == 0
    assert time.monotonic() - start < 10


def test_quitting_waits_for_a_save_that_is_writing():
    import threading

    app = make_app(None)
    app.executor = app_module._AbandoningExecutor()
    written = threading.Event()

    def save():
        app._count_saves(active=1)
        try:
            time.sleep(0.5)
            written.set()
        finally:
            app._count_saves(active=-1)

    app.executor.submit(save)
    time.sleep(0.05)
    app.executor.shutdown()
    app_module._wait_for_saves(app, timeout=30)
    assert written.is_set()


async def test_sub_title_names_the_refinement_that_runs_next(monkeypatch, tmp_path):
    import core.svd

    # Small sizes so the quick pass → top-40 → exact chain runs in a moment.
    _small_counts_as_large(monkeypatch)
    monkeypatch.setattr(core.svd, "QUICK_RANKS", 10)
    monkeypatch.setattr(core.svd, "QUICK_OVERSAMPLE", 10)
    app = make_app(photo(tmp_path / "p.png", 320, 240))
    seen = []
    install = app._install

    def recording_install(loaded, **kw):
        install(loaded, **kw)
        seen.append((loaded.dec.max_rank, app.sub_title))

    app._install = recording_install
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.loaded is not None and app.loaded.dec.exact, timeout=60)
        await settle(pilot)
    assert [rank for rank, _ in seen] == [10, 40, 240]
    assert seen[0][1].endswith(" · top-40 computing…") and "exact SVD computing" not in seen[0][1]
    assert seen[1][1].endswith(" · exact SVD computing…") and "top-40 computing" not in seen[1][1]
    assert "computing" not in seen[2][1]


async def test_the_refinement_note_goes_when_the_refinement_fails(monkeypatch, tmp_path):
    import core.svd

    _small_counts_as_large(monkeypatch)
    monkeypatch.setattr(core.svd, "QUICK_RANKS", 10)
    monkeypatch.setattr(core.svd, "QUICK_OVERSAMPLE", 10)

    def failing_refine(self, **kwargs):
        raise RuntimeError("no memory left, say")

    monkeypatch.setattr(core.svd.Decomposition, "refine", failing_refine)
    app = make_app(photo(tmp_path / "p.png", 320, 240))
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await wait_for(pilot, lambda: any(n.title == "kept the randomized SVD" for n in app._notifications))
        await settle(pilot)
        assert app.loaded.dec.max_rank == 10
        assert "computing" not in app.sub_title and "p.png" in app.sub_title


async def test_rank_keys_pressed_while_the_first_photo_loads_are_kept(monkeypatch, tmp_path):
    import core.svd

    real = core.svd.decompose

    def slow_decompose(*args, **kwargs):
        time.sleep(1.0)  # a large photo: keys arrive before the factors do
        return real(*args, **kwargs)

    monkeypatch.setattr(core.svd, "decompose", slow_decompose)
    app = make_app(photo(tmp_path / "p.png", 96, 64))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("f7", "f7", "f7")  # 50 → 25 → 10 → 500
        assert app.loaded is None
        await settle(pilot)
        # 500 is above min(H, W) = 64: clamped once the photo is in, and every pane agrees
        assert shown_ranks(app) == (64, 64, 64, 64)
        await pilot.press("f7")  # 500 → 250, clamped to 64 again; then down the list
        await pilot.press("f7", "f7")
        await settle(pilot)
        assert shown_ranks(app) == (50, 50, 50, 50)
