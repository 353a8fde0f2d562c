"""What the preview writes to a Sixel terminal, captured without one (issue 14).

A driver that keeps every byte Textual writes stands in for the terminal; the pane draws with
Sixel (textual-image's encoder, at the 10×20-pixel cells it assumes without a terminal). Counted:
pictures sent per rank change, what is sent around a resize, the size cap, the padding colour and
where pictures sit.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from textual.app import App, ComposeResult
from textual.drivers.headless_driver import HeadlessDriver

from core.imageio import load_image, sample_image_path
from core.svd import decompose
from tui.preview import PreviewPane
from tui.preview import terminal
from tui.terminal_probe import parse_replies

SIXEL_START = re.compile(r"\x1bP[0-9;]*q\"1;1;(\d+);(\d+)")  # DCS … q and the raster size
KITTY_0_26 = "\x1bP>|kitty(0.26.5)\x1b\\\x1b_Gi=31;OK\x1b\\\x1b[?62;c"
KITTY_0_35 = "\x1bP>|kitty(0.35.2)\x1b\\\x1b_Gi=31;OK\x1b\\\x1b[?62;c"
TMUX_3_3 = "\x1bP>|tmux 3.3a\x1b\\\x1b[?1;2c"
XTERM_VT340 = "\x1bP>|XTerm(379)\x1b\\\x1b[?2;0;1000;1000S\x1b[?2;0;480;312S\x1b[?63;1;2;4;6;9;15;16;22;28c"


class _Recording(HeadlessDriver):
    """A headless driver that keeps what a terminal would have been sent."""

    @property
    def is_headless(self) -> bool:
        return False  # Textual writes its updates only to drivers that are not headless

    def write(self, data: str) -> None:
        self._app.written.append(data)


class SixelApp(App):
    def __init__(self, decomposition, rank: int = 5) -> None:
        super().__init__()
        self.driver_class = _Recording
        self.written: list[str] = []
        self.decomposition, self.rank = decomposition, rank

    def compose(self) -> ComposeResult:
        yield PreviewPane(protocol="sixel", id="preview")

    def on_mount(self) -> None:
        self.query_one(PreviewPane).show(self.decomposition, self.rank)

    def take(self) -> str:
        text = "".join(self.written)
        self.written.clear()
        return text


@pytest.fixture(scope="module")
def dec():
    return decompose(np.ascontiguousarray(load_image(sample_image_path(), "colour")[:384:4, ::4]))  # 128×96


async def _settled(pilot) -> None:
    pane = pilot.app.query_one(PreviewPane)
    await pilot.pause(0.2)  # past the pane's resize debounce (0.1 s), which then asks for a render
    for _ in range(400):
        await pilot.pause(0.05)
        if not pane.render_pending and pane.last_render is not None:
            break
    await pilot.pause(0.3)  # the error measurement, and any repaint it causes


def _pictures(text: str) -> list[tuple[int, int]]:
    return [(int(w), int(h)) for w, h in SIXEL_START.findall(text)]


async def test_a_rank_change_sends_the_new_picture_once_and_the_original_never(dec):
    app = SixelApp(dec)
    async with app.run_test(headless=False, size=(100, 30)) as pilot:
        await _settled(pilot)
        pane = app.query_one(PreviewPane)
        left, right = pane.query_one("#pp-left-image"), pane.query_one("#pp-right-image")
        first = app.take()
        assert len(_pictures(first)) == 2  # both pictures, once each
        for rank in (6, 12, 30):
            left_sent, right_sent = left.sent, right.sent
            pane.show(dec, rank)
            await _settled(pilot)
            sent = app.take()
            # Before issue 14: 4 pictures per rank change (both twice), about 360 KB here.
            assert len(_pictures(sent)) == 1, f"rank {rank}: {len(_pictures(sent))} pictures sent"
            assert (left.sent, right.sent) == (left_sent, right_sent + 1)
            assert len(sent.encode()) < 1.2 * len(first.encode()) / 2


async def test_pictures_are_not_blanked_before_they_are_replaced(dec):
    app = SixelApp(dec)
    async with app.run_test(headless=False, size=(100, 30)) as pilot:
        await _settled(pilot)
        pane = app.query_one(PreviewPane)
        right = pane.query_one("#pp-right-image")
        app.take()
        pane.show(dec, 9)
        await _settled(pilot)
        sent = app.take()
        region = right.region
        # Nothing but cursor moves where the picture is: a run of spaces there would blank it.
        rows = {}
        for match in re.finditer(r"\x1b\[(\d+);(\d+)H( +)", sent):
            row, col = int(match.group(1)) - 1, int(match.group(2)) - 1
            if region.y <= row < region.bottom and col < region.right and col + len(match.group(3)) > region.x:
                rows[row] = match.group(0)
        assert not rows, f"spaces written over the picture on rows {sorted(rows)}"


async def test_resize_blanks_pictures_then_sends_each_once_at_the_new_size(dec):
    app = SixelApp(dec)
    async with app.run_test(headless=False, size=(100, 30)) as pilot:
        await _settled(pilot)
        pane = app.query_one(PreviewPane)
        before = {w.id: w.image.size for w in pane.query(terminal.SixelPicture)}
        app.take()
        await pilot.resize_terminal(140, 40)
        await pilot.pause(0.05)
        # Held: nothing drawn at the old size in the new layout (xterm showed those cut and moved).
        assert _pictures(app.take()) == []
        await _settled(pilot)
        after = {w.id: w.image.size for w in pane.query(terminal.SixelPicture)}
        assert after != before
        assert sorted(_pictures(app.take())) == sorted(after.values())


async def test_sixel_pictures_stay_within_the_terminals_limit_and_the_status_says_so(dec, monkeypatch):
    monkeypatch.setattr(terminal, "TERMINAL", parse_replies(XTERM_VT340.replace("1000;1000", "400;300")))
    app = SixelApp(dec)
    async with app.run_test(headless=False, size=(160, 50)) as pilot:
        pane = app.query_one(PreviewPane)
        pane.view = "single"
        await _settled(pilot)
        sizes = _pictures(app.take())
        assert sizes and all(w <= 400 and h <= 300 for w, h in sizes), sizes
        status = str(pane.query_one("#pp-status").render())
        assert "capped at 400×300 px" in status


async def test_pictures_are_padded_with_the_pane_background_and_centred(dec):
    app = SixelApp(dec)
    async with app.run_test(headless=False, size=(100, 50)) as pilot:
        pane = app.query_one(PreviewPane)
        pane.view = "single"
        await _settled(pilot)
        # 1000 px wide, 750 tall: padded to 760, whole 20-pixel cells.
        render = pane.last_render
        picture = pane.query_one("#pp-right-image")
        h, w = render.main.shape[:2]
        assert picture.image.height > h
        background = pane.query_one("#pp-right").background_colors[1]
        pad = np.asarray(picture.image)[h:, :w].reshape(-1, 3)
        assert (pad == (background.r, background.g, background.b)).all()  # not a black band
        # Narrower than its column (580 px tall, 773 wide in 1000): in the middle, as the label is.
        await pilot.resize_terminal(100, 31)
        await _settled(pilot)
        column = pane.query_one("#pp-right").region
        left_gap, right_gap = picture.region.x - column.x, column.right - picture.region.right
        assert left_gap > 2 and abs(left_gap - right_gap) <= 1, (left_gap, right_gap)


@pytest.mark.parametrize(
    "replies, expected",
    [(KITTY_0_26, "halfcell"), (KITTY_0_35, "tgp"), (XTERM_VT340, "sixel"), (TMUX_3_3, "halfcell")],
)
def test_auto_widget_follows_the_terminals_answer(monkeypatch, replies, expected):
    import textual_image.widget as ti_widget

    monkeypatch.setattr(terminal, "TERMINAL", parse_replies(replies))
    assert terminal.auto_protocol() == expected
    widget = {"halfcell": ti_widget.HalfcellImage, "tgp": ti_widget.TGPImage, "sixel": terminal.SixelPicture}
    assert terminal.image_class("auto") is widget[expected]


@pytest.mark.parametrize(
    "replies, forced, reply, used, words",
    [
        (TMUX_3_3, "sixel", "\n", "halfcell", "tmux 3.3a does not pass Sixel images through"),
        (KITTY_0_26, "sixel", "\n", "halfcell", "raw Sixel text"),
        (KITTY_0_26, "tgp", "y\n", "halfcell", "empty boxes"),
        (KITTY_0_26, "sixel", "n\n", "sixel", "raw Sixel text"),
    ],
)
def test_forcing_what_the_terminal_cannot_show_says_so_and_offers_auto(replies, forced, reply, used, words):
    import io

    out = io.StringIO()
    assert terminal.check_forced_protocol(forced, parse_replies(replies), ask=lambda: reply, out=out) == used
    line = out.getvalue()
    assert line.count("\n") == 0 and words in line and line.endswith("[Y/n] ")
    assert f"Use {parse_replies(replies) and 'halfcell'} instead?" in line


def test_forcing_what_shows_asks_nothing():
    import io

    out = io.StringIO()

    def must_not_ask() -> str:
        raise AssertionError("asked")

    assert terminal.check_forced_protocol("sixel", parse_replies(XTERM_VT340), ask=must_not_ask, out=out) == "sixel"
    assert terminal.check_forced_protocol("halfcell", parse_replies(TMUX_3_3), ask=must_not_ask, out=out) == "halfcell"
    assert out.getvalue() == ""


async def test_a_picture_shown_again_after_another_was_drawn_over_it_is_sent_again(dec):
    # In xterm a Sixel picture stays until something is drawn over it: the single view's picture
    # covers where the original was, so coming back to side by side must write the original anew.
    app = SixelApp(dec)
    async with app.run_test(headless=False, size=(100, 30)) as pilot:
        await _settled(pilot)
        pane = app.query_one(PreviewPane)
        left = pane.query_one("#pp-left-image")
        sent = left.sent
        for view in ("single", "error", "side"):
            pane.view = view
            await _settled(pilot)
        assert left.sent == sent + 1
        assert len(_pictures(app.take())) >= 4  # single, error map, then both side pictures
