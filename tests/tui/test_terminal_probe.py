"""The renderer auto picks, and the Sixel size limit, from terminals' recorded answers to the probe.

The replies below are byte for byte what these terminals sent back to tui.terminal_probe.query()
under Xvfb on Debian 12 (recorded with tests/realterm/record_replies.py), except kitty 0.35: no
newer kitty was at hand, so its reply is kitty 0.26.5's with the version kitty 0.35.2 reports.
"""

from __future__ import annotations

import pytest

from tui.terminal_probe import (
    TerminalAnswer,
    choose_renderer,
    forced_problem,
    parse_replies,
    query,
)

XTERM_VT340 = "\x1bP>|XTerm(379)\x1b\\\x1b[?2;0;1000;1000S\x1b[?2;0;480;312S\x1b[?63;1;2;4;6;9;15;16;22;28c"
XTERM_VT340_BIG = "\x1bP>|XTerm(379)\x1b\\\x1b[?2;0;2000;2000S\x1b[?2;0;480;312S\x1b[?63;1;2;4;6;9;15;16;22;28c"
XTERM_PLAIN = "\x1bP>|XTerm(379)\x1b\\\x1b[?2;3S\x1b[?2;3S\x1b[?64;1;2;6;9;15;16;17;18;21;22;28c"
KITTY_0_26 = "\x1bP>|kitty(0.26.5)\x1b\\\x1b_Gi=31;OK\x1b\\\x1b[?62;c"
KITTY_0_35 = "\x1bP>|kitty(0.35.2)\x1b\\\x1b_Gi=31;OK\x1b\\\x1b[?62;c"
MLTERM_3_9 = "\x1b[?1;3;0S\x1b[?1;3;0S\x1b[?63;1;2;3;4;6;7;15;18;22;29c"
TMUX_3_3 = "\x1bP>|tmux 3.3a\x1b\\\x1b[?1;2c"
NO_REPLY = ""


@pytest.mark.parametrize(
    "replies, renderer",
    [
        (KITTY_0_26, "halfcell"),  # kitty graphics without placeholders: empty boxes; no Sixel either
        (KITTY_0_35, "tgp"),
        (XTERM_VT340, "sixel"),
        (XTERM_PLAIN, "halfcell"),
        (MLTERM_3_9, "sixel"),
        (TMUX_3_3, "halfcell"),
        (NO_REPLY, "halfcell"),
    ],
)
def test_auto_renderer_for_recorded_replies(replies, renderer):
    assert choose_renderer(parse_replies(replies)) == renderer


def test_not_a_terminal_gets_unicode():
    assert choose_renderer(parse_replies(XTERM_VT340), tty=False) == "unicode"


def test_identifies_terminal_and_version():
    kitty = parse_replies(KITTY_0_26)
    assert (kitty.name, kitty.version, kitty.kitty_graphics, kitty.sixel) == ("kitty", (0, 26, 5), True, False)
    assert not kitty.placeholders and parse_replies(KITTY_0_35).placeholders
    assert parse_replies(XTERM_VT340).label == "XTerm 379"
    tmux = parse_replies(TMUX_3_3)
    assert (tmux.name, tmux.version, tmux.tmux, tmux.label) == ("tmux", (3, 3), True, "tmux 3.3a")


def test_sixel_limit_is_the_maximum_not_the_window():
    # xterm answers the maximum (maxGraphicSize) first and then the window's size in pixels.
    assert parse_replies(XTERM_VT340).sixel_limit == (1000, 1000)
    assert parse_replies(XTERM_VT340).sixel_now == (480, 312)
    assert parse_replies(XTERM_VT340_BIG).sixel_limit == (2000, 2000)
    # Failures (status 3, or mlterm's reply about another item) give no limit.
    assert parse_replies(XTERM_PLAIN).sixel_limit is None
    assert parse_replies(MLTERM_3_9).sixel_limit is None


def test_no_reply_knows_nothing():
    answer = parse_replies(NO_REPLY)
    assert answer == TerminalAnswer()
    assert forced_problem("sixel", answer) is None  # nothing known: forcing is the person's call


def test_replies_mixed_with_other_bytes_and_reordered():
    # A key pressed during the probe, and the DA reply arriving before the others.
    answer = parse_replies("x\x1b[?62;c\x1b_Gi=31;OK\x1b\\j\x1bP>|kitty(0.35.2)\x1b\\")
    assert choose_renderer(answer) == "tgp"


def test_kitty_reply_to_another_query_id_is_not_ours():
    assert not parse_replies("\x1b_Gi=7;OK\x1b\\\x1b[?62;c").kitty_graphics
    assert not parse_replies("\x1b_Gi=31;ENOENT:bad\x1b\\\x1b[?62;c").kitty_graphics


@pytest.mark.parametrize(
    "replies, protocol, words",
    [
        (TMUX_3_3, "sixel", "tmux 3.3a does not pass Sixel images through"),
        (KITTY_0_26, "sixel", "raw Sixel text"),
        (KITTY_0_35, "sixel", "raw Sixel text"),
        (KITTY_0_26, "tgp", "kitty 0.26.5 has kitty graphics but not the Unicode placeholders"),
        (XTERM_VT340, "tgp", "empty boxes"),
    ],
)
def test_forcing_what_the_terminal_cannot_show_is_explained(replies, protocol, words):
    line = forced_problem(protocol, parse_replies(replies))
    assert line is not None and words in line and "\n" not in line


@pytest.mark.parametrize(
    "replies, protocol",
    [(XTERM_VT340, "sixel"), (MLTERM_3_9, "sixel"), (KITTY_0_35, "tgp"), (TMUX_3_3, "halfcell"), (KITTY_0_26, "unicode")],
)
def test_forcing_what_shows_says_nothing(replies, protocol):
    assert forced_problem(protocol, parse_replies(replies)) is None


def test_query_ends_with_primary_da_and_wraps_kitty_query_in_tmux():
    assert query().endswith("\x1b[c")
    assert query().startswith("\x1b[>0q")
    wrapped = query(tmux=True)
    assert "\x1bPtmux;\x1b\x1b_G" in wrapped and wrapped.endswith("\x1b[c")
