"""How the preview's pictures reach the terminal: what the terminal can show (asked once, before
the app starts), the widget per protocol, the display pixels per cell each draws, and Sixel
pictures that are encoded in the worker and sent once per change.

This is the one module that touches textual-image's private API (its terminal probe and cache,
its Sixel encoder). Anything missing there falls back to the stock widgets.

Imported at module level on purpose (tui.preview imports it): the terminal is asked at import
time, which must happen before the app takes over stdin.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import weakref
from collections import OrderedDict
from typing import Any, Callable, TextIO

from PIL import Image as PILImage
from rich.control import Control
from rich.segment import ControlType, Segment
from rich.style import Style
from textual.dom import NoScreen
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from ..terminal_probe import PRIMARY_DA_QUERY, TerminalAnswer, choose_renderer, fallback, forced_problem, parse_replies, query

PROBE_TIMEOUT = 2.0  # s per read, as textual-image waits


# ---- what the terminal can show: asked once, before textual-image's own probe ----------
# textual-image asks at import time (kitty graphics query, DA) and would pick kitty graphics in
# kitty 0.26, which cannot show the Unicode placeholders it places images with. We ask first,
# more (tui.terminal_probe), and seed textual-image's cache with our answer: one round trip.


def _probe_terminal() -> TerminalAnswer | None:
    """Ask the terminal; None where stdin or stdout is no terminal, or textual-image asked already."""
    try:
        from textual_image import _terminal as ti_terminal
    except ImportError:  # pragma: no cover - depends on the textual-image version
        return None
    if hasattr(ti_terminal.probe_terminal, "_result"):
        return None
    if not (sys.__stdout__ and sys.__stdout__.isatty() and sys.__stdin__ and sys.__stdin__.isatty()):
        return None
    tmux = bool(os.environ.get("TMUX"))
    width = height = 0
    try:
        rows, columns, screen_width, screen_height = ti_terminal.get_tiocgwinsz()
        width, height = screen_width // max(1, columns), screen_height // max(1, rows)
    except OSError:
        pass
    batch = query(tmux=tmux)
    if not (width and height):  # the cell size too (textual-image's parser reads the reply), before DA
        batch = batch[: -len(PRIMARY_DA_QUERY)] + "\x1b[16t" + PRIMARY_DA_QUERY
    try:
        with ti_terminal.capture_until_primary_da(PROBE_TIMEOUT) as response:
            sys.__stdout__.write(batch)
            sys.__stdout__.flush()
        replies = response.sequence
    except (TimeoutError, OSError, UnicodeDecodeError, ti_terminal.TerminalError):
        replies = ""
    answer = parse_replies(replies, tmux=tmux)
    if not (width and height):
        _, _, width, height = ti_terminal._parse_probe_response(replies)
    # textual-image's own choice then agrees with ours: kitty graphics only where placeholders show.
    ti_terminal.probe_terminal._result = ti_terminal.TerminalCapabilities(  # type: ignore[attr-defined]
        ti_terminal.CellSize(width or 10, height or 20), sixel=answer.sixel, tgp=answer.placeholders
    )
    return answer


TERMINAL: TerminalAnswer | None = _probe_terminal()

import textual_image.renderable as ti_renderable  # noqa: E402 - probes (from its cache) on import
import textual_image.widget as ti_widget  # noqa: E402


def auto_protocol() -> str:
    """The protocol auto uses here: the terminal's answer where it gave one, else textual-image's pick."""
    if TERMINAL is not None:
        return choose_renderer(TERMINAL)
    if ti_widget.Image is ti_widget.SixelImage:
        return "sixel"
    if ti_renderable.Image is ti_renderable.TGPImage:
        return "tgp"
    if ti_renderable.Image is ti_renderable.HalfcellImage:
        return "halfcell"
    return "unicode"


def sixel_limit() -> tuple[int, int] | None:
    """The largest Sixel picture (width, height) the terminal draws; None where it did not say."""
    return None if TERMINAL is None else TERMINAL.sixel_limit


def check_forced_protocol(
    protocol: str,
    answer: TerminalAnswer | None = None,
    *,
    ask: Callable[[], str] | None = None,
    out: TextIO | None = None,
) -> str:
    """For `--preview sixel` or `tgp` where the terminal said it cannot show that: say what would
    happen in one line and offer auto's choice instead (Enter takes it). Returns the protocol to use."""
    answer = TERMINAL if answer is None else answer
    if answer is None or protocol == "auto":
        return protocol
    problem = forced_problem(protocol, answer)
    if problem is None:
        return protocol
    other = fallback(answer)
    out = out or sys.stderr
    out.write(f"svdlens: --preview {protocol}: {problem}. Use {other} instead? [Y/n] ")
    out.flush()
    try:
        reply = (ask or sys.stdin.readline)()
    except (OSError, EOFError):
        reply = ""
    return protocol if reply.strip().lower() in ("n", "no") else other


# ---- Sixel: encode in the worker, not on the UI thread --------------------------------
# Encoding takes about 0.25 s for a 640×430 photo (in Python), which would freeze the UI on
# every rank change. The worker encodes each picture; the widget finds it by content.
try:
    from textual_image._sixel import image_to_sixels as _encode_sixels
except ImportError:  # pragma: no cover - depends on the textual-image version
    _encode_sixels = None


def picture_digest(image: PILImage.Image) -> bytes:
    """A picture's content in a few bytes: the same pixels are never sent twice."""
    head = f"{image.mode}{image.size}".encode()
    return head + hashlib.blake2b(image.tobytes(), digest_size=16).digest()


class _SixelCache:
    """Sixel data encoded by workers, found again by the picture's content."""

    def __init__(self, entries: int = 8) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[bytes, str] = OrderedDict()
        self._entries = entries

    def encode(self, image: PILImage.Image) -> None:
        if _encode_sixels is None or "A" in image.getbands():
            return  # without alpha the background colour plays no part, so content is the key
        data = _encode_sixels(image)
        with self._lock:
            self._items[picture_digest(image)] = data
            while len(self._items) > self._entries:
                self._items.popitem(last=False)

    def get(self, image: PILImage.Image, digest: bytes | None = None) -> str | None:
        with self._lock:
            return self._items.get(digest or picture_digest(image))


SIXELS = _SixelCache()


# ---- Sixel: sent once per change, never blanked first ---------------------------------
# textual-image's Sixel widget writes spaces over its area and then the image, on every paint
# of it, and its image setter recomposes: a rank change painted both pictures twice and blanked
# them in between, which xterm (no synchronized output) shows as flicker. SixelPicture writes
# cursor moves where the picture is (it stays on screen) and the image only when it changed,
# moved, or another screen was painted over it.

_NULL_STYLE = Style()
HELD_AT_MOST_S = 10.0  # s: a picture held for a resize the pane did not answer shows again after this
_PASS = ((ControlType.CURSOR_FORWARD, 0),)  # a no-op control: Rich and Textual pass the text through


def _control(text: str) -> Segment:
    return Segment(text, style=_NULL_STYLE, control=_PASS)


class SixelPicture(Widget):
    """A picture drawn with Sixel, written to the terminal once per change, never blanked first.

    The pane sizes it in whole cells and hands it a picture of exactly that many pixels, padded
    with the pane's background. `sent` counts the pictures written (for tests and benchmarks).
    """

    DEFAULT_CSS = "SixelPicture { width: auto; height: auto; }"
    _written: "weakref.WeakSet[SixelPicture]" = weakref.WeakSet()  # pictures that have been on screen

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.image: PILImage.Image | None = None
        self._digest: bytes | None = None
        self._data: str | None = None
        self._on_screen: tuple | None = None  # (digest, screen region, screen size) last written
        self._held = False
        self._sent_at: Any = None  # the terminal's size when the picture was last written
        self.sent = 0

    def set_picture(self, image: PILImage.Image | None) -> bool:
        """Show `image`; False, and nothing written, when it is the picture on screen already."""
        digest = None if image is None else picture_digest(image)
        if digest == self._digest and not self._held:
            return False
        self.image, self._digest, self._data = image, digest, None
        self.release()
        return True

    def _release_if_still_held(self, since: Any) -> Callable[[], None]:
        def release() -> None:
            if self._held and self._sent_at == since:
                self.release()

        return release

    def release(self) -> None:
        """Show the picture again after hold() (written anew, where the widget is now)."""
        self._held = False
        self._sent_at = None
        self._on_screen = None
        self.refresh()

    def hold(self) -> None:
        """Blank the area and write nothing until the next set_picture (the layout is changing)."""
        if not self._held:
            self._held = True
            self._on_screen = None
            self.refresh()

    def _sixels(self, image: PILImage.Image, digest: bytes | None) -> str:
        if _encode_sixels is None:  # pragma: no cover
            return ""
        return SIXELS.get(image, digest) or _encode_sixels(image)

    def render_lines(self, crop: Region) -> list[Strip]:
        width = crop.width
        try:
            screen = self.screen
            active = screen.is_active
        except NoScreen:
            return []
        if not active:
            # Another screen is painted over this one: write the picture again when it is back.
            self._on_screen = None
            return []
        if self.image is None or self._held:
            self._on_screen = None
            blank = Segment(" " * width, Style(bgcolor=self.background_colors[1].rich_color))
            return [Strip([blank], cell_length=width) for _ in range(crop.height)]
        if self._sent_at is not None and self._sent_at != self.app.size:
            # The terminal was resized: the pane sends a picture for the new size (or releases
            # this one) once the resize settles. Meanwhile blank, not the old picture cut and
            # moved (issue 14). Should neither come, it shows again after a while.
            self._held = True
            self.set_timer(HELD_AT_MOST_S, self._release_if_still_held(self._sent_at))
            return self.render_lines(crop)
        # Cursor moves, not spaces: what is on screen stays until the new picture covers it.
        lines = [Strip([_control(f"\x1b[{width}C")], cell_length=width) for _ in range(crop.height)]
        try:
            region = screen.find_widget(self).region
        except Exception:  # not laid out: nothing to place
            return lines
        whole = crop == Region(0, 0, region.width, region.height)
        key = (self._digest, region, self.app.size)
        if whole and key == self._on_screen:
            return lines
        if whole:
            if self._data is None:
                self._data = self._sixels(self.image, self._digest)
            data = self._data
        else:  # clipped (the layout is moving): that part, and again next time
            ux, uy = self.image.width // max(1, region.width), self.image.height // max(1, region.height)
            part = self.image.crop((crop.x * ux, crop.y * uy, crop.right * ux, crop.bottom * uy))
            data = self._sixels(part, None)
            key = None
        x, y = region.x + crop.x, region.y + crop.y
        lines[-1] = Strip(
            [
                _control(f"\x1b[{width}C"),
                _control(Control.move_to(x, y).segment.text),
                _control(data),
                # Back to where the line goes on: Textual writes a whole line without repositioning.
                _control(Control.move_to(x + width, y + crop.height - 1).segment.text),
            ],
            cell_length=width,
        )
        self._on_screen = key
        self._sent_at = self.app.size
        self.sent += 1
        # A picture drawn where another one was: that one must be written again when it shows.
        drawn = Region(x, y, width, crop.height)
        for other in list(SixelPicture._written):
            if other is not self and other._on_screen is not None and other._on_screen[1].overlaps(drawn):
                other._on_screen = None
        SixelPicture._written.add(self)
        return lines

    def on_hide(self) -> None:
        # Whatever is drawn where it was (another picture, in another view) stays in a Sixel
        # terminal until overwritten: when it shows again, it is written again.
        self._on_screen = None


def image_class(protocol: str) -> type:
    """The widget class that draws pictures with a protocol (one of PROTOCOLS)."""
    if protocol == "auto":
        protocol = auto_protocol()
    if protocol == "sixel" and _encode_sixels is not None:
        return SixelPicture
    return {
        "sixel": ti_widget.SixelImage,
        "tgp": ti_widget.TGPImage,
        "halfcell": ti_widget.HalfcellImage,
        "unicode": ti_widget.UnicodeImage,
    }[protocol]


def picture_encoder(widget_class: type) -> Callable[[PILImage.Image], None] | None:
    """What a render worker should do to each picture for this widget class: encode Sixel data
    for the Sixel widget (so it does not on the UI thread), nothing for the others."""
    return SIXELS.encode if issubclass(widget_class, SixelPicture) else None


def put_picture(widget: Widget, image: PILImage.Image) -> bool:
    """Hand a picture to a picture widget; False (nothing redrawn) when it shows that picture already.

    textual-image's widgets rebuild and resend a picture on every `image =`, so the same pixels
    (the original, on a rank change) must not be set again.
    """
    if isinstance(widget, SixelPicture):
        return widget.set_picture(image)
    digest = picture_digest(image)
    if getattr(widget, "_svdlens_digest", None) == digest:
        return False
    widget._svdlens_digest = digest  # type: ignore[attr-defined]
    widget.image = image
    return True


def release_picture(widget: Widget) -> None:
    """Show a held Sixel picture again, as it is (the resize did not change it)."""
    if isinstance(widget, SixelPicture) and widget._held:
        widget.release()


def hold_picture(widget: Widget) -> None:
    """Blank a Sixel picture until its next picture arrives (while a resize settles): xterm would
    show the old picture cut or moved. Other renderers redraw as text and need nothing."""
    if isinstance(widget, SixelPicture):
        widget.hold()


def _terminal_cell_pixels() -> tuple[int, int]:
    try:
        from textual_image._terminal import get_cell_size  # cached probe result, no I/O here

        cell = get_cell_size()
        if cell.width > 0 and cell.height > 0:
            return int(cell.width), int(cell.height)
    except Exception:  # a private helper: fall back rather than fail
        pass
    return 10, 20


def display_units(protocol: str) -> tuple[int, int]:
    """Display pixels per terminal cell (x, y) for a protocol.

    Half-cell blocks give 1×2. The Unicode renderer draws one pixel per cell, but an image
    made at 1×2 keeps its aspect ratio when it squeezes it. Sixel and TGP draw real terminal
    pixels: the cell's pixel size as the terminal reported it.
    """
    if protocol == "auto":
        protocol = auto_protocol()
    if protocol in ("sixel", "tgp"):
        return _terminal_cell_pixels()
    return 1, 2
