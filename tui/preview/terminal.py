"""How the preview's pictures reach the terminal: textual-image's widgets per protocol, the
display pixels per cell each draws, and Sixel data encoded in the worker.

This is the one module that touches textual-image's private API (its Sixel encoder and
painter, its cell-size probe). Anything missing there falls back to the stock widgets.

Imported at module level on purpose (tui.preview imports it): textual-image probes the
terminal at import time, which must happen before the app takes over stdin.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any, Callable

import textual_image.renderable as ti_renderable
import textual_image.widget as ti_widget
from PIL import Image as PILImage
from textual.app import ComposeResult


# ---- Sixel: encode in the worker, not on the UI thread --------------------------------
# textual-image encodes Sixel data while painting (about 0.25 s for a 640×430 photo, in
# Python), which would freeze the UI on every rank change. The worker encodes the same
# picture beforehand; the widget finds it by content.
try:
    from textual_image._sixel import image_to_sixels as _encode_sixels
    from textual_image.widget.sixel import _ImageSixelImpl
except ImportError:  # pragma: no cover - depends on the textual-image version
    _encode_sixels = None
    _ImageSixelImpl = None


class _SixelCache:
    """Sixel data encoded by workers, found again by the picture's content."""

    def __init__(self, entries: int = 8) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple, str] = OrderedDict()
        self._entries = entries

    @staticmethod
    def _key(image: PILImage.Image, options: Any) -> tuple:
        digest = hashlib.blake2b(image.tobytes(), digest_size=16).digest()
        return image.mode, image.size, options, digest

    def encode(self, image: PILImage.Image, options: Any = None) -> None:
        if _encode_sixels is None or "A" in image.getbands():
            return  # without alpha the background colour plays no part, so content is the key
        data = _encode_sixels(image, options)
        with self._lock:
            self._items[self._key(image, options)] = data
            while len(self._items) > self._entries:
                self._items.popitem(last=False)

    def get(self, image: PILImage.Image, options: Any = None) -> str | None:
        if "A" in image.getbands():
            return None
        with self._lock:
            return self._items.get(self._key(image, options))


SIXELS = _SixelCache()

if _ImageSixelImpl is not None:

    class _WorkerEncodedSixels(_ImageSixelImpl):
        def _image_to_sixels(self, image, sixel_options=None, background=None) -> str:
            cached = SIXELS.get(image, sixel_options)
            return cached if cached is not None else super()._image_to_sixels(image, sixel_options, background)

    class WorkerSixelImage(ti_widget.SixelImage, Renderable=ti_widget.SixelImage._Renderable):
        """SixelImage that uses Sixel data the preview worker encoded already."""

        def compose(self) -> ComposeResult:
            yield _WorkerEncodedSixels(self.image, self._sixel_options)

else:  # pragma: no cover
    WorkerSixelImage = ti_widget.SixelImage


def image_class(protocol: str) -> type:
    """The textual-image widget class that draws pictures with a protocol (one of PROTOCOLS)."""
    if protocol == "sixel" or (protocol == "auto" and ti_widget.Image is ti_widget.SixelImage):
        return WorkerSixelImage
    return {
        "auto": ti_widget.Image,
        "tgp": ti_widget.TGPImage,
        "halfcell": ti_widget.HalfcellImage,
        "unicode": ti_widget.UnicodeImage,
    }[protocol]


def picture_encoder(widget_class: type) -> Callable[[PILImage.Image], None] | None:
    """What a render worker should do to each picture for this widget class: encode Sixel data
    for the Sixel widget (so it does not on the UI thread), nothing for the others."""
    return SIXELS.encode if issubclass(widget_class, ti_widget.SixelImage) else None


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
    pixels: the cell's pixel size as textual-image measured it.
    """
    if protocol == "auto":
        if ti_widget.Image is ti_widget.SixelImage:
            protocol = "sixel"
        elif ti_renderable.Image is ti_renderable.TGPImage:
            protocol = "tgp"
        elif ti_renderable.Image is ti_renderable.HalfcellImage:
            protocol = "halfcell"
        else:
            protocol = "unicode"
    if protocol in ("sixel", "tgp"):
        return _terminal_cell_pixels()
    return 1, 2
