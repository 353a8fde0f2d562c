"""Pilot tests of saving: the save dialog, .png and .svdz, refusals, exact exports."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from apphelp import digest, edit_path, make_app, photo, type_rank, wait_for
from tui.dialogs import PathScreen


async def test_save_png_and_svdz(photo_dir):
    from core.svdz import read_svdz

    src = photo_dir / "a_small.png"
    before = digest(src)
    app = make_app(src)
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await app.settled()
        await type_rank(pilot, "12")
        await app.settled()
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
        await app.settled()
        assert app.loaded.source.path.name == "astronaut.png"
        assert app.proposed_save_path() == tmp_path / "astronaut-rank50.png"


async def test_save_from_a_randomized_decomposition_writes_the_exact_reconstruction(photo_dir, monkeypatch):
    import dataclasses

    import core.svd
    from core.svd import decompose

    src = photo(photo_dir / "wide.png", 320, 240)
    app = make_app(src)
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await app.settled()
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
        await app.settled()
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
