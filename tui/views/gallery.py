"""GalleryView: the classic figure, live — the original beside ranks 500, 250, 100, 50, 25 and 10.

Each tile is a preview of the decomposition at tile size (dec.preview: a product of factors
resized once, no new SVD), labelled with its rank, PSNR, .svdz bytes and PNG bytes. The
figures are measured elsewhere and handed in with set_figures(); a tile shows "…" until its
figures arrive. Arrow keys (or hjkl) move between tiles; Enter posts RankChosen for the
selected tile's rank.

Pictures are made in a thread worker; the UI thread only hands ready PIL images to the
textual-image widgets (the same widgets, and the same protocol choice, as the preview pane).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static
from textual.worker import get_current_worker

import tui.keys as keys
from core.errors import SvdlensError
from core.render import fit_size
from tui.widgets import human_bytes

from .base import CLASSIC_RANKS, RankChosen, clamp_ranks, db, fit, short_size, size
from .imaging import display_units, image_class, original_preview, picture, picture_encoder, set_picture

LABEL_ROWS = 2  # rank and PSNR; .svdz and PNG bytes
STATUS_ROWS = 1


@dataclass(frozen=True)
class Tile:
    """One tile: the original (rank None) or a rank (shown; asked differs when clamped to min(H, W))."""

    rank: int | None
    asked: int | None = None


def best_grid(n: int, cols: int, rows: int, image: tuple[int, int], units: tuple[int, int]) -> tuple[int, int]:
    """(columns, rows) of tiles that gives each of n pictures the most display pixels in cols×rows cells."""
    best, best_area = (n, 1), -1
    for c in range(1, n + 1):
        r = math.ceil(n / c)
        tile_w = (cols - (c - 1)) // c
        tile_h = rows // r - LABEL_ROWS
        if tile_w < 1 or tile_h < 1:
            continue
        w, h = fit_size(image[0], image[1], (tile_w * units[0], tile_h * units[1]))
        # Ties go to fewer rows, so the figure reads left to right.
        if w * h > best_area:
            best, best_area = (c, r), w * h
    return best


def human_bytes_or_dots(value: int | None) -> str:
    return "…" if value is None else human_bytes(value)


class _Tile(Vertical):
    """A label above a picture; the selected tile gets a highlighted label."""


class GalleryView(Widget, can_focus=True):
    """The original and a set of ranks as a grid of previews with their measured figures."""

    DEFAULT_CSS = """
    GalleryView { layout: vertical; width: 1fr; height: 1fr; }
    GalleryView #g-grid { height: 1fr; grid-gutter: 0 1; }
    GalleryView _Tile { height: 1fr; width: 1fr; align: center top; }
    GalleryView .g-label { width: 100%; height: 2; text-align: center; color: $text-muted; }
    GalleryView .g-current .g-label { color: $text; text-style: bold; }
    GalleryView .g-selected .g-label { background: $accent 40%; color: $text; }
    GalleryView:focus .g-selected .g-label { background: $accent; }
    GalleryView .g-image { width: auto; height: auto; }
    GalleryView #g-status { height: 1; width: 100%; color: $text-muted; }
    GalleryView:focus #g-status { background: $accent 25%; color: $text; }
    GalleryView #g-message { height: 1fr; width: 100%; content-align: center middle; color: $text-muted; }
    """

    BINDINGS = keys.bindings("gallery")  # declared in tui/keys.py, with their help-screen line

    class _Rendered(Message, bubble=False):
        def __init__(self, generation: int, index: int, pixels: np.ndarray | None, image: Any, note: str) -> None:
            super().__init__()
            self.generation, self.index, self.pixels, self.image, self.note = generation, index, pixels, image, note

    def __init__(self, protocol: str = "auto", ranks: Sequence[int] = CLASSIC_RANKS, *, name: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._image_cls = image_class(protocol)
        self._units = display_units(protocol)
        self._ranks = tuple(int(r) for r in ranks)
        self._dec: Any = None
        self._file_kind, self._file_bytes = "", None
        self._rank: int | None = None
        self.tiles: list[Tile] = [Tile(None)] + [Tile(r) for r in self._ranks]
        self.figures: dict[int, dict] = {}
        self.pixels: list[np.ndarray | None] = [None] * len(self.tiles)  # what each tile shows (tests read it)
        self.selected = 0
        self._grid = (len(self.tiles), 1)
        self._tile_px: tuple[int, int] | None = None
        self._generation = 0
        self._rendered_generation = 0
        self._active = False

    # ---- layout --------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Grid(id="g-grid"):
            for i, _ in enumerate(self.tiles):
                yield self._tile_widget(i)
        yield Static("no image yet", id="g-message", markup=False)
        yield Static("", id="g-status", markup=False)

    def on_mount(self) -> None:
        self.query_one("#g-grid").display = False

    def on_resize(self) -> None:
        self._layout()

    def _layout(self) -> None:
        """Pick the grid that gives the pictures the most pixels; re-render if the tile size changed."""
        if self._dec is None or not self.is_mounted:
            return
        cols, rows = self.content_size.width, self.content_size.height - STATUS_ROWS
        if cols < 3 or rows < LABEL_ROWS + 1:
            return
        n = len(self.tiles)
        grid_cols, grid_rows = best_grid(n, cols, rows, (self._dec.width, self._dec.height), self._units)
        self._grid = (grid_cols, grid_rows)
        grid = self.query_one("#g-grid", Grid)
        grid.styles.grid_size_columns = grid_cols
        grid.styles.grid_size_rows = grid_rows
        tile_w = (cols - (grid_cols - 1)) // grid_cols
        tile_h = rows // grid_rows - LABEL_ROWS
        tile_px = (max(1, tile_w) * self._units[0], max(1, tile_h) * self._units[1])
        self._label_room = tile_w
        if tile_px != self._tile_px:
            self._tile_px = tile_px
            self._request_render()
        self._update_labels()

    # ---- what the app calls ----------------------------------------------------------
    def show(self, dec: Any, rank: int, file_kind: str = "", file_bytes: int | None = None) -> None:
        """Show dec's tiles (rendered only when dec or the tile size changes) and mark rank as current.

        file_kind and file_bytes describe the original file for its tile ("PNG", 791555).
        """
        self._rank = int(rank)
        self._file_kind, self._file_bytes = file_kind, file_bytes
        if dec is not self._dec:
            self._dec = dec
            self.figures = {}
            self.tiles = [Tile(None)] + [Tile(s, a) for s, a in clamp_ranks(self._ranks, dec.full_rank)]
            if len(self.tiles) != len(self.pixels):
                self.selected = min(self.selected, len(self.tiles) - 1)
                self._rebuild_tiles()
            self.pixels = [None] * len(self.tiles)
            self._tile_px = None
            self.query_one("#g-message").display = False
            self.query_one("#g-grid").display = True
            self._layout()
        self._update_labels()

    def _tile_widget(self, index: int) -> _Tile:
        return _Tile(Static("", classes="g-label", markup=False), self._image_cls(classes="g-image"))

    def _tile_widgets(self) -> list[_Tile]:
        return [w for w in self.query_one("#g-grid", Grid).children if isinstance(w, _Tile) and w.is_attached]

    def _rebuild_tiles(self) -> None:
        """Another number of tiles (ranks above min(H, W) fold into one): new tile widgets."""
        self._generation += 1  # pictures made for the old tiles are dropped
        self.call_later(self._remount_tiles)

    async def _remount_tiles(self) -> None:
        grid = self.query_one("#g-grid", Grid)
        await grid.remove_children()
        await grid.mount(*[self._tile_widget(i) for i in range(len(self.tiles))])
        self._tile_px = None
        self._layout()  # renders for the new tiles
        self._update_labels()

    def set_ranks(self, ranks: Sequence[int]) -> None:
        """Show another set of ranks (the original stays first)."""
        self._ranks = tuple(int(r) for r in ranks)
        dec, self._dec = self._dec, None
        self.tiles = [Tile(None)] + [Tile(r) for r in self._ranks]
        if dec is not None:
            self.show(dec, self._rank or 1, self._file_kind, self._file_bytes)

    @property
    def ranks(self) -> tuple[int, ...]:
        """The ranks asked for (before folding those above min(H, W) into the full rank)."""
        return self._ranks

    @property
    def wanted_ranks(self) -> list[int]:
        """The ranks whose figures the tiles need (those the factors serve)."""
        limit = self._dec.max_rank if self._dec is not None else 0
        return [t.rank for t in self.tiles if t.rank is not None and t.rank <= limit]

    def set_figures(self, rank: int, values: dict) -> None:
        """Figures measured for rank (keys psnr_db, container_bytes, png_bytes, …, as `report --json`): merged, labels redrawn."""
        self.figures.setdefault(int(rank), {}).update(values)
        self._update_labels()

    def set_active(self, active: bool) -> None:
        """Render only while shown: a hidden gallery costs nothing."""
        self._active = active
        if active and self._generation != self._rendered_generation:
            self._request_render()

    # ---- labels ----------------------------------------------------------------------
    @staticmethod
    def _byte_styles(svdz: int | None, png: int | None) -> list[str]:
        """The bytes line, most exact first: full bytes, kB/MB, then shorter forms for narrow tiles."""
        return [f".svdz {size(svdz)} · PNG {size(png)}",
                f".svdz {human_bytes_or_dots(svdz)} · PNG {human_bytes_or_dots(png)}",
                f".svdz {short_size(svdz)} PNG {short_size(png)}",
                f"svdz {short_size(svdz)} PNG {short_size(png)}",
                f"svdz{short_size(svdz)} PNG{short_size(png)}",
                f"z{short_size(svdz)} p{short_size(png)}"]

    def _byte_style(self, room: int) -> int:
        """One style for every tile (the figure reads as a table): the most exact that fits them all."""
        lines = [self._byte_styles(f.get("container_bytes"), f.get("png_bytes"))
                 for f in (self.figures.get(t.rank, {}) for t in self.tiles if t.rank is not None)]
        for style in range(len(lines[0]) if lines else 0):
            if all(len(line[style]) <= room for line in lines):
                return style
        return len(lines[0]) - 1 if lines else 0

    def _label(self, tile: Tile, room: int, style: int = 0) -> str:
        """Two lines: rank and PSNR; .svdz and PNG bytes."""
        if tile.rank is None:
            dec = self._dec
            size_text = f"{self._file_kind} {size(self._file_bytes)}" if self._file_bytes else ""
            second = f"{dec.width}×{dec.height}" + (f" · {size_text}" if size_text else "")
            if len(second) > room and self._file_bytes:
                second = f"{dec.width}×{dec.height} {self._file_kind} {short_size(self._file_bytes)}"
            return f"original\n{second[:room]}"
        f = self.figures.get(tile.rank, {})
        mark = "● " if tile.rank == self._rank else ""
        asked = f" ({tile.asked} asked)" if tile.asked is not None and tile.asked != tile.rank else ""
        if tile.rank > self._dec.max_rank:
            return f"{mark}rank {tile.rank}\n{f'computing (top {self._dec.max_rank} so far)'[:room]}"
        first = f"{mark}rank {tile.rank}{asked} · {db(f.get('psnr_db'))}"
        if len(first) > room:
            first = f"{mark}rank {tile.rank} · {db(f.get('psnr_db'))}"
        if len(first) > room:
            first = f"{mark}{tile.rank} · {db(f.get('psnr_db')).replace(' dB', 'dB')}"
        return f"{first}\n{self._byte_styles(f.get('container_bytes'), f.get('png_bytes'))[style][:room]}"

    def _update_labels(self) -> None:
        if self._dec is None or not self.is_mounted:
            return
        room = max(8, getattr(self, "_label_room", 20))
        tiles = self._tile_widgets()
        style = self._byte_style(room)
        for i, (tile, widget) in enumerate(zip(self.tiles, tiles)):
            for label in widget.query(".g-label"):  # none yet on a tile still being mounted
                label.update(self._label(tile, room, style))
            widget.set_class(i == self.selected, "g-selected")
            widget.set_class(tile.rank is not None and tile.rank == self._rank, "g-current")
        self._update_status()

    def _update_status(self) -> None:
        if not self.query("#g-status"):
            return
        tile = self.tiles[self.selected]
        if tile.rank is None:
            parts = [f"original {self._dec.width}×{self._dec.height}"]
            if self._file_bytes:
                parts.append(f"{self._file_kind} file {size(self._file_bytes)}")
        else:
            f = self.figures.get(tile.rank, {})
            parts = [f"rank {tile.rank}: PSNR {db(f.get('psnr_db'))}", f".svdz {size(f.get('container_bytes'))}",
                     f"PNG {size(f.get('png_bytes'))}"]
            if f.get("jpeg_psnr_db") is not None:
                parts.append(f"JPEG at those bytes {db(f.get('jpeg_psnr_db'))}")
        parts.append("←→↑↓ move · Enter use this rank")
        self.query_one("#g-status", Static).update(fit(parts, self.content_size.width or 80))

    # ---- keys --------------------------------------------------------------------------
    def action_move(self, dx: int, dy: int) -> None:
        cols = self._grid[0]
        n = len(self.tiles)
        index = self.selected + dx + dy * cols
        if dx and not 0 <= index < n:
            index = self.selected  # left/right stop at the ends
        if dy and not 0 <= index < n:
            index = self.selected  # no tile there (the last row may be short)
        self.selected = index
        self._update_labels()

    def action_choose(self) -> None:
        tile = self.tiles[self.selected]
        if tile.rank is not None and self._dec is not None and tile.rank <= self._dec.max_rank:
            self.post_message(RankChosen(tile.rank, "gallery"))

    # ---- rendering ---------------------------------------------------------------------
    def _request_render(self) -> None:
        if self._dec is None or self._tile_px is None:
            return
        self._generation += 1
        if not self._active:
            return  # rendered when shown
        self._render_worker(self._generation, self._dec, list(self.tiles), self._tile_px)

    @work(thread=True, exclusive=True, exit_on_error=False, group="gallery")
    def _render_worker(self, generation: int, dec: Any, tiles: list[Tile], tile_px: tuple[int, int]) -> None:
        worker = get_current_worker()
        encode = picture_encoder(self._image_cls)
        region = (0, 0, dec.width, dec.height)
        for index, tile in enumerate(tiles):
            if worker.is_cancelled:
                return
            try:
                if tile.rank is None:
                    pixels = original_preview(dec, tile_px, region)
                elif tile.rank > dec.max_rank:
                    self.post_message(self._Rendered(generation, index, None, None, ""))
                    continue
                else:
                    pixels = dec.preview(tile.rank, tile_px)
                image = picture(pixels, self._units, encode)
            except SvdlensError as exc:
                self.post_message(self._Rendered(generation, index, None, None, str(exc)))
                continue
            except Exception as exc:  # a bug here must not leave a tile silently stale
                self.post_message(self._Rendered(generation, index, None, None, f"{type(exc).__name__}: {exc}"))
                continue
            self.post_message(self._Rendered(generation, index, pixels, image, ""))

    @on(_Rendered)
    def _on_rendered(self, message: _Rendered) -> None:
        if message.generation != self._generation or message.index >= len(self.tiles):
            return
        self.pixels[message.index] = message.pixels
        tiles = self._tile_widgets()
        for widget in tiles[message.index].query(".g-image") if message.index < len(tiles) else []:
            widget.display = message.image is not None
            if message.image is not None:
                set_picture(widget, message.image, self._units)
        if all(p is not None or t.rank is not None and t.rank > self._dec.max_rank
               for p, t in zip(self.pixels, self.tiles)):
            self._rendered_generation = message.generation
        if message.note:
            self.notify(message.note, title="gallery", severity="error")

    @property
    def rendered(self) -> bool:
        """True once every tile the factors serve shows its picture at the current tile size."""
        return self._dec is not None and self._generation > 0 and self._rendered_generation == self._generation
