"""The picture plumbing the views share with the preview pane, imported from one place.

The gallery and the components view draw with the same textual-image widgets as the preview
pane (half-cell, Sixel with worker-side encoding, kitty TGP), pad pictures to whole cells the
same way and shrink the original the same way. This module only re-exports the preview pane's
helpers so a change of where they live is a change here alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image as PILImage

# Imported for its side effect too: textual-image probes the terminal on import.
import textual_image.widget as ti_widget

from tui.preview import SIXELS, _image_class, _to_pil, display_units, original_preview

__all__ = ["image_widget_class", "display_units", "picture", "original_preview", "uses_sixel"]


def image_widget_class(protocol: str) -> type:
    """The textual-image widget class for a protocol ("auto", "sixel", "tgp", "halfcell", "unicode")."""
    return _image_class(protocol)


def uses_sixel(widget_class: type) -> bool:
    return issubclass(widget_class, ti_widget.SixelImage)


def picture(pixels: np.ndarray, units: tuple[int, int], sixel: bool) -> PILImage.Image:
    """uint8 pixels → a PIL image padded to whole cells; Sixel data encoded now (call in a worker)."""
    image = _to_pil(pixels, units)
    if sixel:
        SIXELS.encode(image)
    return image


def set_picture(widget: Any, image: PILImage.Image, units: tuple[int, int]) -> None:
    """Show image in a textual-image widget at exactly its size in cells (no resampling)."""
    widget.styles.width = image.width // units[0]
    widget.styles.height = image.height // units[1]
    widget.image = image
