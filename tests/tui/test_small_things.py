"""Issue 14 item 9: small things a person notices on the screen: the footer's last cell, the
title of a grey or float file, where the palette's screenshot goes."""

from __future__ import annotations

import pytest

from textual.geometry import Region

from apphelp import make_app, photo, screen_lines, wait_for


def close(app) -> None:
    """Shut the app's executor down as `svdlens` does at exit: no thread outlives the test (test_pressure
    counts the svdlens threads of the whole process)."""
    if app.executor is not None:
        app.executor.shutdown()


@pytest.mark.parametrize("size", [(160, 50), (80, 24)])
async def test_the_footer_ends_with_the_palette_key_whatever_has_focus(tmp_path, size):
    # The compact footer gave the docked "^p palette" key a right margin: the last column showed the
    # footer text scrolled beneath it ("^p palettep" with the preview focused, "^p paletteg" at 80×24).
    app = make_app(photo(tmp_path / "p.png", 96, 64))
    async with app.run_test(size=size) as pilot:
        await app.settled()
        for _ in range(3):  # rank field, preview, file pane (where shown)
            # The footer fills in after a refresh of its own (blank for a moment on a busy machine).
            await wait_for(pilot, lambda: screen_lines(app)[-1].strip() != "")
            footer = screen_lines(app)[-1]
            assert len(footer) == size[0] and footer.endswith("▏^p palette"), (app.focused, footer)
            await pilot.press("tab")
            await pilot.pause(0.2)
    close(app)


async def test_the_title_says_grey_for_a_grey_file_and_float_for_a_float_file(tmp_path):
    import cv2
    import numpy as np
    import tifffile

    colour = cv2.imread(str(photo(tmp_path / "p.png", 96, 64)), cv2.IMREAD_COLOR)
    grey = tmp_path / "grey.png"
    cv2.imwrite(str(grey), cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY))
    floats = tmp_path / "science.tif"
    tifffile.imwrite(floats, colour[..., ::-1].astype(np.float32) / 255, photometric="rgb")
    for path, words, not_words in ((grey, ["grey.png", "· grey ·", "8-bit"], ["colour"]),
                                   (floats, ["science.tif", "· colour ·", "32-bit float"], ["16-bit"]),
                                   (tmp_path / "p.png", ["· colour ·", "8-bit"], ["grey"])):
        app = make_app(path)  # colour mode, as `svdlens FILE` starts
        async with app.run_test(size=(160, 50)):
            await app.settled()
            title = screen_lines(app)[0]
            assert all(word in title for word in words), title
            assert not any(word in title for word in not_words), title
        close(app)


@pytest.mark.parametrize("where", ["working folder", "SVDLENS_SCREENSHOTS"])
async def test_the_palette_screenshot_lands_in_a_folder_that_exists_and_says_where(tmp_path, monkeypatch, where):
    # Textual's own command saves into ~/Downloads, which an SSH box seldom has: "Failed to save screenshot".
    home, work, shots = tmp_path / "home", tmp_path / "work", tmp_path / "shots"
    for folder in (home, work, shots):
        folder.mkdir()
    monkeypatch.setenv("HOME", str(home))  # no ~/Downloads here
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    monkeypatch.chdir(work)
    if where == "SVDLENS_SCREENSHOTS":
        monkeypatch.setenv("SVDLENS_SCREENSHOTS", str(shots))
    expected = work if where == "working folder" else shots
    app = make_app(photo(tmp_path / "p.png", 96, 64))
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await app.settled()
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"screenshot")
        await pilot.pause(0.5)
        await pilot.press("enter")
        for _ in range(60):
            await pilot.pause(0.1)
            saved = list(expected.glob("*.svg"))
            if saved and any("Saved screenshot" in line for line in screen_lines(app)):
                break
        assert len(saved) == 1 and saved[0].read_text().lstrip().startswith("<svg")
        toasts = ["\n".join(strip.text for strip in toast.render_lines(Region(0, 0, *toast.outer_size)))
                  for toast in app.screen.query("Toast")]
        # The toast wraps a long path mid-name: join its lines as they read.
        said = ["".join(line.strip(" ▌") for line in text.splitlines()) for text in toasts]
        assert any("Savedscreenshotto" in text.replace(" ", "") and str(saved[0]) in text for text in said), toasts
    assert not (home / "Downloads").exists()
    close(app)


async def test_a_screenshot_folder_that_does_not_exist_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("SVDLENS_SCREENSHOTS", str(tmp_path / "no such folder"))
    app = make_app(photo(tmp_path / "p.png", 96, 64))
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await app.settled()
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"screenshot")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause(1.0)
        said = " ".join(line.strip(" ▌") for line in screen_lines(app))
        assert "cannot save a screenshot in" in said and "SVDLENS_SCREENSHOTS" in said, said[-400:]
    assert not (tmp_path / "no such folder").exists()
    close(app)
