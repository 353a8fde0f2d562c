"""Pilot tests of start-up: the original picture is on screen before the decomposition exists."""

from __future__ import annotations

import threading

import cv2
import numpy as np

from apphelp import make_app, photo, shown_ranks, wait_for, widget_text
from tui.preview import PreviewPane


async def test_the_original_is_shown_while_the_decomposition_is_still_computing(monkeypatch, tmp_path):
    import core.svd

    real = core.svd.decompose
    release = threading.Event()

    def held_decompose(*args, **kwargs):
        release.wait(60)  # torch and the SVD of a large photo: not done until the test says so
        return real(*args, **kwargs)

    monkeypatch.setattr(core.svd, "decompose", held_decompose)
    path = photo(tmp_path / "p.png", 240, 160)
    app = make_app(path)
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            pane = app.query_one(PreviewPane)
            await wait_for(pilot, lambda: pane.last_render is not None, timeout=20)
            assert app.loaded is None  # no decomposition yet
            widget = pane.query_one("#pp-right-image")
            assert widget.display and widget.parent.display
            shown = np.asarray(widget.image.convert("RGB"))
            # The pane's pixels are the photo shrunk by area average (padded to whole cells).
            rgb = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            expected = cv2.resize(rgb.astype(np.float32) / 255, pane.last_render.main.shape[1::-1],
                                  interpolation=cv2.INTER_AREA)
            expected = np.rint(expected * 255).astype(np.uint8)
            h, w = expected.shape[:2]
            assert w >= 100  # a real picture, not a thumbnail
            diff = np.abs(shown[:h, :w].astype(int) - expected.astype(int))
            assert diff.max() <= 1
            # The label is drawn by a refresh of its own (a moment later on a busy machine).
            await wait_for(pilot, lambda: "ORIGINAL" in widget_text(pane.query_one("#pp-right-label")))
            release.set()
            await app.settled()
            assert shown_ranks(app) == (50, 50, 50, 50)  # then the rank-50 reconstruction as usual
            assert "rank 50" in widget_text(pane.query_one("#pp-right-label"))
    finally:
        release.set()
