"""Pilot tests of choosing the rank: the rank field, the rank keys, presets and targets."""

from __future__ import annotations

import random
import time

import pytest
from textual import events

from apphelp import make_app, photo, shown_ranks, status, type_rank, wait_for
from core.report import rank_row
from core.select import rank_for_energy, rank_for_reconstruction_psnr
from tui.choices import CLASSIC_RANKS
from tui.keys import help_sections
from tui.preview import PreviewPane
from tui.widgets import RankInput, SizesTable


async def test_typed_rank_and_validation_messages(app):
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        await type_rank(pilot, "20")
        await app.settled()
        assert shown_ranks(app) == (20, 20, 20, 20)
        for bad, words in (("abc", "not understood"), ("150%", "at most 100"), ("0", "at least 1"),
                           ("2.5", "whole number"), ("0dB", "above 0 dB")):
            await type_rank(pilot, bad)
            await pilot.pause(0.1)
            assert words in status(app), bad
            assert app.query_one("#rank-status").has_class("-error")
            assert app.rank == 20
        await type_rank(pilot, "999")  # above min(H, W) = 64: clamped, and said so
        await app.settled()
        assert shown_ranks(app) == (64, 64, 64, 64)
        assert "above min(H, W) = 64" in status(app)


async def test_step_keys_work_while_the_rank_field_has_focus(app):
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
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
        await app.settled()
        assert shown_ranks(app)[1:] == (app.rank,) * 3
        await pilot.press(*["pagedown"] * 7, "minus")
        assert app.rank == 1  # the smallest rank; stepping further stays there
        await app.settled()
        assert shown_ranks(app) == (1, 1, 1, 1)


async def test_rank_keys_from_the_preview_and_its_own_keys(app):
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
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
        await app.settled()
        seen = []
        for _ in range(len(CLASSIC_RANKS)):
            await pilot.press("f7")
            seen.append(app.rank)
            if app.rank == 300:  # 500 is above min(H, W) = 300: clamped and announced
                assert "rank 500 is above min(H, W) = 300" in status(app)
        assert seen == [25, 10, 300, 250, 100, 50]
        await pilot.press("f7", "f7", "f7")
        await app.settled()
        assert shown_ranks(app) == (300,) * 4


async def test_f7_goes_to_the_classic_rank_below_the_current_one(tmp_path):
    # Issue 14: F7 from 51 went to 500 and from 26 to 10; the help says "next classic rank".
    app = make_app(photo(tmp_path / "wide.png", 640, 520))  # min(H, W) = 520: rank 500 is not clamped
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        for typed, expected in ((51, 50), (26, 25), (50, 25), (10, 500), (3, 500), (520, 500), (499, 250)):
            await type_rank(pilot, str(typed))
            await app.settled()
            await pilot.press("f7")
            await app.settled()
            assert status(app).strip().startswith(f"rank {expected} of 520"), (typed, status(app))
            assert shown_ranks(app) == (expected,) * 4
    assert "below the current one" in dict(row for _, rows in help_sections() for row in rows)["F7"]


async def test_energy_and_psnr_targets(photo_dir):
    app = make_app(photo_dir / "b_other.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        dec = app.loaded.dec
        for share in (0.90, 0.99, 0.999):
            await pilot.press("f8")
            await app.settled()
            assert app.rank == rank_for_energy(dec, share)
            assert app.loaded.energy[app.rank - 1] >= share - 1e-12
        await type_rank(pilot, "95%")
        await app.settled()
        assert app.rank == rank_for_energy(dec, 0.95)
        await type_rank(pilot, "0.9")
        await app.settled()
        assert app.rank == rank_for_energy(dec, 0.9)
        assert "of the energy" in status(app)
        await type_rank(pilot, "30dB")
        await app.settled()
        assert app.rank == rank_for_reconstruction_psnr(dec, 30.0)
        assert app.query_one(SizesTable).state.psnr_db >= 30.0


async def test_byte_budget_target(photo_dir):
    from core.svdz import encode, rank_for_max_bytes

    app = make_app(photo_dir / "b_other.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        await type_rank(pilot, "6k")
        await app.settled()
        assert app.rank == rank_for_max_bytes(app.loaded.dec, 6 * 1024)  # k = 1024, as --max-bytes
        assert len(encode(app.loaded.dec, app.rank)) <= 6 * 1024
        assert app.query_one(SizesTable).state.container_bytes <= 6 * 1024, app.query_one(SizesTable).state
        rank = app.rank
        await type_rank(pilot, "10b")  # below the smallest .svdz: said so, rank kept
        await wait_for(pilot, lambda: "below the smallest" in status(app))
        await app.settled()
        assert app.rank == rank and app.query_one("#rank-status").has_class("-error")


async def test_hammering_rank_keys_ends_consistent(photo_dir):
    app = make_app(photo_dir / "b_other.png")
    keys = ["plus", "minus", "up", "down", "shift+up", "shift+down", "asterisk", "slash", "pageup", "pagedown"]
    rng = random.Random(7)
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
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
        await app.settled()
        assert shown_ranks(app) == (expected,) * 4
        state = app.query_one(SizesTable).state
        row = rank_row(app.loaded.source, app.loaded.dec, expected)
        assert state.psnr_db == pytest.approx(row.psnr_db) and state.png_bytes == row.png_bytes


async def test_a_burst_of_editing_keys_is_applied_in_order(photo_dir):
    """As tmux send-keys or a fast typist delivers them: deletions before the new digits."""

    def burst(app, keys):
        for key in keys:
            app.post_message(events.Key(key, key if len(key) == 1 else None))

    app = make_app(photo_dir / "a_small.png")
    async with app.run_test(size=(160, 50)) as pilot:
        await app.settled()
        burst(app, ["backspace", "backspace", "backspace", "7", "enter"])
        await app.settled()
        assert shown_ranks(app) == (7,) * 4
        burst(app, ["ctrl+a", "ctrl+k", "1", "2", "plus", "plus"])  # + steps from the applied rank
        await app.settled()
        assert shown_ranks(app) == (9,) * 4
        await pilot.press("f2")
        burst(app, ["ctrl+u", *str(photo_dir / "b_other.png"), "enter"])
        await app.settled()
        assert app.loaded.source.path.name == "b_other.png"


async def test_rank_keys_pressed_while_the_first_photo_loads_are_kept(monkeypatch, tmp_path):
    import core.svd

    real = core.svd.decompose

    def slow_decompose(*args, **kwargs):
        time.sleep(3.0)  # a large photo: keys arrive before the factors do (even on a loaded machine)
        return real(*args, **kwargs)

    monkeypatch.setattr(core.svd, "decompose", slow_decompose)
    app = make_app(photo(tmp_path / "p.png", 96, 64))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("f7", "f7", "f7")  # 50 → 25 → 10 → 500
        assert app.loaded is None
        await app.settled()
        # 500 is above min(H, W) = 64: clamped once the photo is in, and every pane agrees
        assert shown_ranks(app) == (64, 64, 64, 64)
        await pilot.press("f7")  # below 64: 50; then down the list
        await pilot.press("f7", "f7")
        await app.settled()
        assert shown_ranks(app) == (10, 10, 10, 10)
