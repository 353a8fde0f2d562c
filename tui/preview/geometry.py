"""View geometry of the preview: which image region a zoom shows, at what size, and how keys
and the mouse move it.

Pure functions of sizes and coordinates (no Textual, no pixels), tested directly. Sizes are in
*display pixels*: one half-cell with the half-cell renderer, one terminal pixel with Sixel or
the Terminal Graphics Protocol. Zoom 1:1 is one image pixel per display pixel.
"""

from __future__ import annotations

import math

Region = tuple[int, int, int, int]  # left, top, right, bottom in image pixels

VIEWS = ("side", "single", "error")
ZOOM_STEPS: dict[str, float] = {
    "1:32": 1 / 32,
    "1:16": 1 / 16,
    "1:8": 1 / 8,
    "1:4": 1 / 4,
    "1:2": 1 / 2,
    "1:1": 1.0,
    "2:1": 2.0,
    "4:1": 4.0,
}
PAN_STEP = 1 / 8  # of the visible width or height; shift pans four steps
_MINIMAP_CELLS = 12


def fit_scale(image_size: tuple[int, int], pane_px: tuple[int, int]) -> float:
    """Display pixels per image pixel when the whole image fits the pane."""
    return min(pane_px[0] / image_size[0], pane_px[1] / image_size[1])


def zoom_scale(zoom: str, image_size: tuple[int, int], pane_px: tuple[int, int]) -> float:
    """Display pixels per image pixel at a zoom level ("fit" or one of ZOOM_STEPS)."""
    return fit_scale(image_size, pane_px) if zoom == "fit" else ZOOM_STEPS[zoom]


def zoom_levels(image_size: tuple[int, int], pane_px: tuple[int, int]) -> list[str]:
    """"fit", then every fixed zoom that shows more detail than fit does."""
    fit = fit_scale(image_size, pane_px)
    return ["fit"] + [name for name, s in ZOOM_STEPS.items() if s > fit * 1.001]


def step_zoom(levels: list[str], zoom: str, step: int) -> str:
    """The zoom `step` levels from `zoom` (more detail for step > 0), stopping at either end;
    a zoom not in `levels` counts as the first."""
    i = levels.index(zoom) if zoom in levels else 0
    return levels[max(0, min(len(levels) - 1, i + step))]


def view_region(
    image_size: tuple[int, int], pane_px: tuple[int, int], zoom: str, centre: tuple[float, float]
) -> tuple[Region, tuple[int, int], tuple[float, float]]:
    """The image region a zoom shows around a centre, the size to render it at, and the centre
    after clamping the region to the image (so panning past an edge stops at the edge)."""
    width, height = image_size
    if zoom == "fit":
        return (0, 0, width, height), (max(1, pane_px[0]), max(1, pane_px[1])), centre
    scale = ZOOM_STEPS[zoom]
    region_w = max(1, min(width, int(pane_px[0] / scale)))
    region_h = max(1, min(height, int(pane_px[1] / scale)))
    left = min(max(int(round(centre[0] - region_w / 2)), 0), width - region_w)
    top = min(max(int(round(centre[1] - region_h / 2)), 0), height - region_h)
    out = (
        max(1, min(pane_px[0], round(region_w * scale))),
        max(1, min(pane_px[1], round(region_h * scale))),
    )
    return (left, top, left + region_w, top + region_h), out, (left + region_w / 2, top + region_h / 2)


def pane_pixels(cols: int, rows: int, view: str, units: tuple[int, int]) -> tuple[int, int]:
    """Display pixels available to one image in a pane of cols × rows cells."""
    image_rows = max(1, rows - 2)  # a label row above, the status row below
    image_cols = max(1, (cols - 1) // 2) if view == "side" else max(1, cols)
    return image_cols * units[0], image_rows * units[1]


def panned_centre(
    centre: tuple[float, float], region: Region, dx: float, dy: float
) -> tuple[float, float]:
    """The centre moved by dx, dy steps of PAN_STEP of the region's width and height."""
    step_x = max(1, round((region[2] - region[0]) * PAN_STEP))
    step_y = max(1, round((region[3] - region[1]) * PAN_STEP))
    return centre[0] + dx * step_x, centre[1] + dy * step_y


def centre_keeping_point(
    region: Region, point: tuple[float, float], old_scale: float, new_scale: float
) -> tuple[float, float]:
    """The centre for a new zoom that keeps `point` (image pixels) where it is on screen."""
    centre = ((region[0] + region[2]) / 2, (region[1] + region[3]) / 2)
    ratio = old_scale / new_scale
    return point[0] + (centre[0] - point[0]) * ratio, point[1] + (centre[1] - point[1]) * ratio


def picture_to_image(
    point: tuple[float, float], picture_size: tuple[int, int], region: Region
) -> tuple[float, float] | None:
    """Image coordinates of a point (x, y) in display pixels of a picture of `region` rendered
    at picture_size=(w, h); None in the padding beside or below the picture."""
    px, py = point
    w, h = picture_size
    if px >= w or py >= h:
        return None
    left, top, right, bottom = region
    return left + px * (right - left) / w, top + py * (bottom - top) / h


def zoom_text(zoom: str, scale: float) -> str:
    """The zoom as the status line shows it: fit gets its actual ratio, e.g. "fit (1:7.8)"."""
    if zoom != "fit":
        return zoom
    return f"fit ({'1:' + format(1 / scale, '.1f') if scale < 1 else format(scale, '.1f') + ':1'})"


def minimap(start: int, end: int, total: int, cells: int = _MINIMAP_CELLS) -> str:
    """A one-line bar: where [start, end) lies in [0, total)."""
    a = min(cells - 1, int(start * cells / total))
    b = max(a + 1, math.ceil(end * cells / total))
    return "·" * a + "█" * (b - a) + "·" * (cells - b)
