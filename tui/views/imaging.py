"""The picture plumbing the views share with the preview pane, imported from one place.

The gallery and the components view draw with the same textual-image widgets as the preview
pane (half-cell, Sixel with worker-side encoding, kitty TGP), pad pictures to whole cells the
same way and shrink the original the same way. This module only gathers tui.preview's public
helpers (render.py, terminal.py), so a change of where they live is a change here alone.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from PIL import Image as PILImage

# tui.preview imports textual-image, which probes the terminal on import: this module is imported early too.
from tui.preview.render import original_preview, to_pil
from tui.preview.terminal import display_units, image_class, picture_encoder

__all__ = ["display_units", "image_class", "original_preview", "picture", "picture_encoder", "set_picture"]


def picture(pixels: np.ndarray, units: tuple[int, int],
            encode: Callable[[PILImage.Image], None] | None) -> PILImage.Image:
    """uint8 pixels → a PIL image padded to whole cells, encoded for the widget now (call in a worker).

    encode is picture_encoder(widget class): Sixel data is made here rather than on the UI thread.
    """
    image = to_pil(pixels, units)
    if encode is not None:
        encode(image)
    return image


def set_picture(widget: Any, image: PILImage.Image, units: tuple[int, int]) -> None:
    """Show image in a textual-image widget at exactly its size in cells (no resampling)."""
    widget.styles.width = image.width // units[0]
    widget.styles.height = image.height // units[1]
    widget.image = image
