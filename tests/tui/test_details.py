"""Issue 14 item 9: small things a person notices on the screen: the footer's last cell, the
title of a grey or float file, where the palette's screenshot goes."""

from __future__ import annotations

import pytest

from apphelp import make_app, photo, screen_lines


@pytest.mark.parametrize("size", [(160, 50), (80, 24)])
async def test_the_footer_ends_with_the_palette_key_whatever_has_focus(tmp_path, size):
    # The compact footer gave the docked "^p palette" key a right margin: the last column showed the
    # footer text scrolled beneath it ("^p palettep" with the preview focused, "^p paletteg" at 80×24).
    app = make_app(photo(tmp_path / "p.png", 96, 64))
    async with app.run_test(size=size) as pilot:
        await app.settled()
        for _ in range(3):  # rank field, preview, file pane (where shown)
            footer = screen_lines(app)[-1]
            assert len(footer) == size[0] and footer.endswith("▏^p palette"), (app.focused, footer)
            await pilot.press("tab")
            await pilot.pause(0.2)


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
