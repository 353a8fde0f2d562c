"""What the terminal can show, from its answers to a few queries: no I/O, no Textual.

svdlens asks the terminal once, before the app owns stdin, in one batch (see QUERY):

- XTVERSION (``CSI > 0 q``): the terminal's name and version, e.g. ``kitty(0.26.5)``, ``XTerm(379)``,
  ``tmux 3.3a``. It tells kitty 0.26 (kitty graphics, but no Unicode placeholders) from kitty 0.28+.
- XTSMGRAPHICS (``CSI ? 2 ; 4 ; 0 S``, then ``CSI ? 2 ; 1 ; 0 S``): the largest Sixel image the terminal
  draws, and the size it draws now. xterm draws nothing at all of a Sixel image above its
  ``maxGraphicSize`` (1000×1000 by default).
- the kitty graphics query (``APC G a=q``): kitty graphics understood at all.
- primary device attributes (``CSI c``), last: every terminal answers it, so its reply ends the batch
  without waiting on silence; a 4 among its parameters means Sixel.

parse_replies() turns the bytes that came back into a TerminalAnswer; choose_renderer() picks the renderer
auto uses; forced_problem() says what goes wrong when a person forces one the terminal cannot show.
The I/O (sending QUERY, reading until the DA reply) lives in tui.preview.terminal, which reuses
textual-image's capture helpers; the replies recorded from real terminals live in the tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The id of the kitty graphics query: any number; it comes back in the reply.
KITTY_QUERY_ID = 31
XTVERSION_QUERY = "\x1b[>0q"
# Read the maximum Sixel geometry (Pa=4), then the current one (Pa=1): replies come back in this order.
SIXEL_GEOMETRY_QUERY = "\x1b[?2;4;0S\x1b[?2;1;0S"
KITTY_GRAPHICS_QUERY = f"\x1b_Gi={KITTY_QUERY_ID},s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\"
PRIMARY_DA_QUERY = "\x1b[c"

_XTVERSION_RE = re.compile(r"\x1bP>\|([^\x1b]*)\x1b\\")
_NAME_VERSION_RE = re.compile(r"^\s*([A-Za-z][\w.-]*?)[\s(]+v?(\d+(?:\.\d+)*)")
_GRAPHICS_ATTR_RE = re.compile(r"\x1b\[\?2;(\d+)((?:;\d+)*)S")
_KITTY_REPLY_RE = re.compile(r"\x1b_G([^;\x1b]*);([^\x1b]*)\x1b\\")
_PRIMARY_DA_RE = re.compile(r"\x1b\[\?([0-9;]*)c")

# Terminals that draw kitty graphics through Unicode placeholders (textual-image places every image
# with U=1), from their XTVERSION name, with the first version that does. kitty added placeholders in
# 0.28.0; Ghostty has had them since its first release. WezTerm and Konsole answer the kitty graphics
# query but have no placeholders (textual-image's own notes say so): they get Sixel.
PLACEHOLDER_TERMINALS: dict[str, tuple[int, ...]] = {"kitty": (0, 28, 0), "ghostty": (0,)}


def query(*, tmux: bool = False) -> str:
    """The batched query, DA last. Inside tmux the kitty query goes through tmux's passthrough
    (as textual-image sends its images); tmux answers XTVERSION and DA itself."""
    kitty = KITTY_GRAPHICS_QUERY
    if tmux:
        kitty = "\x1bPtmux;" + kitty.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    return XTVERSION_QUERY + SIXEL_GEOMETRY_QUERY + kitty + PRIMARY_DA_QUERY


@dataclass(frozen=True)
class TerminalAnswer:
    """What a terminal said about itself. `answered` is False where no DA reply came (no terminal,
    or one that does not answer): then nothing else is known either."""

    answered: bool = False
    name: str | None = None  # from XTVERSION, lower case: "kitty", "xterm", "tmux", "wezterm", …
    version: tuple[int, ...] | None = None
    version_text: str = ""  # XTVERSION's text as sent, e.g. "kitty(0.26.5)"
    sixel: bool = False  # DA lists 4
    kitty_graphics: bool = False  # the kitty graphics query was answered OK
    sixel_max: tuple[int, int] | None = None  # largest Sixel image drawn (XTSMGRAPHICS), pixels
    sixel_now: tuple[int, int] | None = None  # the Sixel size limit right now (window-bound in xterm)
    tmux: bool = False

    @property
    def label(self) -> str:
        """How to name the terminal in a message: "kitty 0.26.5", "tmux 3.3a", or "this terminal"."""
        if self.version_text:
            text = self.version_text.replace("(", " ").replace(")", "").strip()
            return text or "this terminal"
        return "tmux" if self.tmux else "this terminal"

    @property
    def placeholders(self) -> bool:
        """True where kitty graphics with Unicode placeholders will show (the only kind textual-image
        sends). Conservative: the terminal must identify itself as one known to have them."""
        if not self.kitty_graphics or self.name is None or self.tmux:
            return False
        first = PLACEHOLDER_TERMINALS.get(self.name)
        return first is not None and self.version is not None and self.version >= first

    @property
    def sixel_limit(self) -> tuple[int, int] | None:
        """The largest Sixel image (width, height) this terminal draws; None where it did not say."""
        return self.sixel_max or self.sixel_now


def parse_replies(text: str, *, tmux: bool = False) -> TerminalAnswer:
    """Read the replies to query() (in any order, possibly with other bytes between them)."""
    da = _PRIMARY_DA_RE.search(text)
    if da is None:
        return TerminalAnswer(tmux=tmux)
    sixel = "4" in da.group(1).split(";")
    name = version = None
    version_text = ""
    xtversion = _XTVERSION_RE.search(text)
    if xtversion:
        version_text = xtversion.group(1)
        match = _NAME_VERSION_RE.match(version_text)
        if match:
            name = match.group(1).lower()
            version = tuple(int(part) for part in match.group(2).split("."))
        elif version_text.strip():
            name = version_text.strip().split()[0].lower()
    kitty = any(
        f"i={KITTY_QUERY_ID}" in keys.split(",") and status == "OK" for keys, status in _KITTY_REPLY_RE.findall(text)
    )
    sizes: list[tuple[int, int] | None] = []
    for status, values in _GRAPHICS_ATTR_RE.findall(text):
        numbers = [int(v) for v in values.split(";") if v]
        sizes.append((numbers[0], numbers[1]) if status == "0" and len(numbers) >= 2 and min(numbers[:2]) > 0 else None)
    # Replies come in the order asked: the maximum first, then the current size. One reply alone is
    # taken as the maximum (a terminal that cannot read the current size answers only once, with an error).
    sixel_max = sizes[0] if sizes else None
    sixel_now = sizes[1] if len(sizes) > 1 else None
    return TerminalAnswer(
        answered=True,
        name=name,
        version=version,
        version_text=version_text,
        sixel=sixel,
        kitty_graphics=kitty,
        sixel_max=sixel_max,
        sixel_now=sixel_now,
        tmux=tmux or name == "tmux",
    )


def choose_renderer(answer: TerminalAnswer, *, tty: bool = True) -> str:
    """The renderer auto uses: kitty graphics only where placeholders show, else Sixel where DA says
    so, else half-cell blocks (Unicode where stdout is no terminal)."""
    if not tty:
        return "unicode"
    if answer.placeholders:
        return "tgp"
    if answer.sixel:
        return "sixel"
    return "halfcell"


def forced_problem(protocol: str, answer: TerminalAnswer) -> str | None:
    """One line saying what goes wrong when `protocol` is forced on this terminal, or None when it
    should show (or nothing is known: a terminal that does not answer at all gets the benefit of doubt)."""
    if not answer.answered or protocol not in ("sixel", "tgp"):
        return None
    who = answer.label
    if protocol == "sixel" and not answer.sixel:
        if answer.tmux:
            return f"{who} does not pass Sixel images through: the panes would stay empty"
        if answer.kitty_graphics:
            return f"{who} does not draw Sixel images: the panes would fill with raw Sixel text"
        return f"{who} did not report Sixel support: the panes may stay empty or show raw text"
    if protocol == "tgp" and not answer.placeholders:
        if answer.kitty_graphics:
            return f"{who} has kitty graphics but not the Unicode placeholders svdlens uses: the panes would show empty boxes"
        if answer.tmux:
            return f"{who} did not pass the kitty graphics query through: the panes would show empty boxes"
        return f"{who} did not answer the kitty graphics query: the panes would show empty boxes or odd characters"
    return None


def fallback(answer: TerminalAnswer) -> str:
    """What auto would use instead (never the forced protocol that failed)."""
    return choose_renderer(answer)


__all__ = [
    "TerminalAnswer",
    "choose_renderer",
    "fallback",
    "forced_problem",
    "parse_replies",
    "query",
]
