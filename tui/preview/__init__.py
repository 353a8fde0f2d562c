"""The preview: the original beside the rank-r image, zoom, pan, A/B flip and an error map.

    geometry.py  which image region a zoom shows and at what size (pure)
    render.py    the pictures and error numbers of one view, made in a worker (UI-free)
    errormap.py  the error map's colours and gains
    terminal.py  textual-image's widgets per protocol and worker-encoded Sixel data
                 (the one module that touches textual-image's private API)
    pane.py      PreviewPane, the widget

Importing this package imports textual-image, which probes the terminal then: import it at
module level, before the app runs.
"""

from .geometry import VIEWS, ZOOM_STEPS, Region, view_region, zoom_levels
from .pane import PREVIEW_GROUP, PreviewPane
from .render import Render, RenderJob, OriginalCache, original_preview
from .terminal import display_units
from ..choices import PROTOCOLS

__all__ = [
    "PREVIEW_GROUP",
    "PreviewPane",
    "Render",
    "RenderJob",
    "OriginalCache",
    "original_preview",
    "Region",
    "PROTOCOLS",
    "VIEWS",
    "ZOOM_STEPS",
    "display_units",
    "view_region",
    "zoom_levels",
]
