"""The app's small widgets: rank input (with its parser), image picker, sizes table, singular-value plot.

No numeric work happens here: every number shown was computed by a worker or read
from curves a worker prepared.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DirectoryTree, Input, Sparkline, Static

from tui.keys import rank_field_keys
from tui.units import has_byte_unit, parse_byte_count

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".pgm", ".ppm", ".pbm", ".pnm", ".svdz"}
)

# ---------------------------------------------------------------------------------------------
# What a person may type in the rank field
# ---------------------------------------------------------------------------------------------

_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"
_RANK_RE = re.compile(r"^\d+$")
_PERCENT_RE = re.compile(rf"^{_NUMBER}\s*%$")
_SHARE_RE = re.compile(r"^(0?\.\d+|1\.0*)$")
_PSNR_RE = re.compile(rf"^{_NUMBER}\s*db$")

RANK_HINT = "a rank (50), an energy share (99% or 0.99), a PSNR (32dB) or a byte budget (200k, k = 1024)"


@dataclass(frozen=True)
class RankRequest:
    """What the rank field asks for: kind is "rank", "energy" (share in (0, 1]), "psnr" (dB) or "bytes"."""

    kind: str
    value: float

    def describe(self) -> str:
        if self.kind == "rank":
            return f"rank {int(self.value)}"
        if self.kind == "energy":
            return f"{self.value * 100:g} % of the energy"
        if self.kind == "psnr":
            return f"PSNR {self.value:g} dB"
        return f"at most {int(self.value):,} bytes".replace(",", " ")


def parse_rank_request(text: str) -> RankRequest:
    """Parse the rank field; raises ValueError with a message a person can act on."""
    t = text.strip().lower().replace(" ", "")
    if not t:
        raise ValueError(f"type {RANK_HINT}")
    if _RANK_RE.match(t):
        rank = int(t)
        if rank < 1:
            raise ValueError("rank must be at least 1")
        return RankRequest("rank", rank)
    if t.startswith("-"):
        raise ValueError(f"{text.strip()!r}: negative values make no sense here; type {RANK_HINT}")
    if m := _PERCENT_RE.match(t):
        share = float(m.group(1)) / 100
        if not 0 < share <= 1:
            raise ValueError(f"{text.strip()!r}: an energy share must be above 0 % and at most 100 %")
        return RankRequest("energy", share)
    if _SHARE_RE.match(t):
        share = float(t)
        if not 0 < share <= 1:
            raise ValueError(f"{text.strip()!r}: an energy share must be above 0 and at most 1")
        return RankRequest("energy", share)
    if m := _PSNR_RE.match(t):
        db = float(m.group(1))
        if db <= 0:
            raise ValueError(f"{text.strip()!r}: a PSNR target must be above 0 dB")
        return RankRequest("psnr", db)
    if has_byte_unit(t):
        return RankRequest("bytes", parse_byte_count(t))  # k = 1024, as --max-bytes
    if re.match(rf"^{_NUMBER}$", t):
        raise ValueError(f"{text.strip()!r}: a rank is a whole number; a share is 0.99 or 99%")
    raise ValueError(f"{text.strip()!r} is not understood: type {RANK_HINT}")


class OrderedInput(Input):
    """An Input whose editing keys act in the order they arrive.

    Textual runs a widget's non-priority bindings only after the key has bubbled up to the
    app, while printable keys are inserted at once; in a burst of keys (tmux send-keys, a
    fast typist, a paste without bracketed paste) "backspace backspace 9" would insert the
    9 before the deletions and lose it. Here the editing keys are handled as they come.
    """

    # key -> (method on this Input, or on the app with "app." in front; arguments)
    KEYS: dict[str, tuple[str, tuple]] = {
        "backspace": ("action_delete_left", ()),
        "delete": ("action_delete_right", ()),
        "ctrl+d": ("action_delete_right", ()),
        "home": ("action_home", ()),
        "ctrl+a": ("action_home", ()),
        "end": ("action_end", ()),
        "ctrl+e": ("action_end", ()),
        "left": ("action_cursor_left", ()),
        "right": ("action_cursor_right", ()),
        "ctrl+left": ("action_cursor_left_word", ()),
        "ctrl+right": ("action_cursor_right_word", ()),
        "ctrl+k": ("action_delete_right_all", ()),
        "ctrl+u": ("action_delete_left_all", ()),
        "ctrl+w": ("action_delete_left_word", ()),
    }

    def check_consume_key(self, key: str, character: str | None) -> bool:
        # Keys handled here that are not text (the rank keys) stay visible in the footer.
        return key not in self.KEYS and super().check_consume_key(key, character)

    async def _on_key(self, event) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            await self.action_submit()
            return
        entry = self.KEYS.get(event.key)
        if entry is None:
            await super()._on_key(event)
            return
        event.stop()
        event.prevent_default()
        self._restart_blink()
        name, args = entry
        if name.startswith("app."):
            getattr(self.app, name[4:])(*args)
        else:
            getattr(self, name)(*args)


class RankInput(OrderedInput):
    """The rank field: also takes the rank keys, which a plain Input would swallow as text."""

    KEYS = {**OrderedInput.KEYS, **rank_field_keys()}  # the rank keys of tui/keys.py

    def __init__(self, **kwargs) -> None:
        super().__init__(
            placeholder="50 · 99% · 32dB · 200k",
            restrict=r"[0-9.,%a-zA-Z ]*",
            max_length=16,
            select_on_focus=False,
            **kwargs,
        )


# ---------------------------------------------------------------------------------------------
# File picker
# ---------------------------------------------------------------------------------------------


class ImagePicker(DirectoryTree):
    """A DirectoryTree that lists folders and image files (including .svdz) only."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        out = []
        for p in paths:
            if p.name.startswith("."):
                continue
            try:
                if p.is_dir() or p.suffix.lower() in IMAGE_SUFFIXES:
                    out.append(p)
            except OSError:  # unreadable entries are left out rather than breaking the tree
                continue
        return out


# ---------------------------------------------------------------------------------------------
# Sizes and quality
# ---------------------------------------------------------------------------------------------


def human_bytes(n: int | None) -> str:
    if n is None:
        return "…"
    for unit, size in (("MB", 1000**2), ("kB", 1000)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def exact_bytes(n: int | None) -> str:
    return "…" if n is None else f"{n:,}".replace(",", " ")


def _db(x: float | None) -> str:
    if x is None:
        return "…"
    return "∞" if math.isinf(x) else f"{x:.2f} dB"


def _ssim(x: float | None) -> str:
    return "…" if x is None else f"{x:.4f}"


@dataclass
class TableState:
    """Everything the sizes table shows; None means "still being measured".

    A measured number has the name `svdlens report --json` gives it (core.measure.FIGURES).
    """

    rank: int
    max_rank: int
    full_rank: int
    method: str  # "exact SVD" or a description of the randomized decomposition
    shape: tuple[int, ...]
    original_bytes: int
    file_suffix: str
    file_name: str
    energy: float
    psnr_estimate_db: float  # from the singular values (unclipped), shown until PSNR is measured
    factors_float32_bytes: int
    raw_bytes: int
    psnr_db: float | None = None
    ssim: float | None = None
    png_bytes: int | None = None
    container_bytes: int | None = None
    container_psnr_db: float | None = None
    container_ssim: float | None = None
    jpeg_bytes: int | None = None
    jpeg_quality: int | None = None
    jpeg_psnr_db: float | None = None
    jpeg_ssim: float | None = None
    jpeg_note: str | None = None  # why there is no JPEG row
    svdz_note: str | None = None
    max_error: float | None = None
    max_error_at: tuple[int, int] | None = None
    measuring: bool = True
    # Figures of this rank measured on the decomposition this one refines (the randomized one the
    # exact SVD replaces): shown marked ≈ until this decomposition's own arrive, instead of "…".
    earlier: dict = field(default_factory=dict)

    def figure(self, name: str) -> tuple[object, bool]:
        """(the value to show, whether it is the earlier decomposition's): None while unmeasured."""
        value = getattr(self, name)
        if value is None and self.earlier.get(name) is not None:
            return self.earlier[name], True
        return value, False


def verdict(state: TableState) -> str:
    """The plain statement about JPEG at equal bytes."""
    if state.jpeg_psnr_db is not None and state.container_psnr_db is not None:
        gain = state.jpeg_psnr_db - state.container_psnr_db
        if gain > 0:
            return (f"JPEG at the same bytes is far better: {gain:+.1f} dB PSNR. "
                    "Truncated SVD shows what rank keeps; it is not a good image codec.")
        return f"Here JPEG at the same bytes is not better ({gain:+.1f} dB): an unusual image for SVD."
    return ("JPEG and WebP at the same bytes beat every SVD variant by 8–17 dB on photos: "
            "truncated SVD shows what rank keeps; it is not a good image codec.")


def _shown(s: TableState, name: str, fmt) -> Text:
    """A measured figure's cell: this decomposition's value, or the earlier one's marked ≈ (dim), or fmt(None)."""
    value, earlier = s.figure(name)
    return Text(f"≈{fmt(value)}", style="dim") if earlier else Text(fmt(value))


def _share(n: int | None, of: int) -> str:
    if n is None or of <= 0:
        return ""
    return f"{100 * n / of:.0f} %"


class SizesTable(Static):
    """A rich table of real sizes and quality for the current rank."""

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.state: TableState | None = None
        self.compact = False

    def show_state(self, state: TableState | None) -> None:
        self.state = state
        self.update(self._render_state())

    def set_compact(self, compact: bool) -> None:
        if compact != self.compact:
            self.compact = compact
            self.update(self._render_state())

    @staticmethod
    def _psnr(s: TableState) -> str:
        # Until it is measured, the estimate from σ (before clipping and rounding), marked ≈.
        if s.psnr_db is None and math.isfinite(s.psnr_estimate_db):
            return f"≈{s.psnr_estimate_db:.1f} dB"
        return _db(s.psnr_db)

    def _quality_line(self, s: TableState) -> Text:
        max_err = "…" if s.max_error is None else f"{s.max_error * 255:.0f}/255"
        if s.max_error is not None and s.max_error_at is not None:
            max_err += f" at ({s.max_error_at[0]}, {s.max_error_at[1]})"
        line = Text()
        line.append(f"rank {s.rank}", style="bold")
        line.append(f" / {s.max_rank}")
        if s.max_rank != s.full_rank:
            line.append(f" (of {s.full_rank})")
        line.append(f" · {s.method} · energy ")
        line.append(f"{s.energy * 100:.2f} %", style="bold")
        line.append(" · PSNR ")
        line.append(self._psnr(s), style="bold")
        line.append(" · SSIM ")
        ssim = _shown(s, "ssim", _ssim)
        ssim.stylize("bold")
        line.append_text(ssim)
        line.append(f" · largest error (preview) {max_err}")
        return line

    def _render_state(self):
        s = self.state
        if s is None:
            return Text("No image yet.", style="dim")
        if self.compact:
            return self._render_compact(s)
        h, w = s.shape[:2]
        c = 1 if len(s.shape) == 2 else s.shape[2]
        table = Table(expand=False, box=None, padding=(0, 1), header_style="bold", show_edge=False)
        table.add_column(f"sizes at rank {s.rank}", no_wrap=True, min_width=24)
        table.add_column("bytes", justify="right", no_wrap=True, min_width=9)
        table.add_column("of file", justify="right", no_wrap=True)
        table.add_column("PSNR", justify="right", no_wrap=True, min_width=8)
        table.add_column("SSIM", justify="right", no_wrap=True, min_width=6)
        of = s.original_bytes
        notes = []
        table.add_row(f"original file ({s.file_suffix})", exact_bytes(s.original_bytes), "100 %", "", "")
        table.add_row(f"raw pixels {w}×{h}×{c}", exact_bytes(s.raw_bytes), _share(s.raw_bytes, of), "", "")
        table.add_row("factors as float32", exact_bytes(s.factors_float32_bytes),
                      _share(s.factors_float32_bytes, of), "", "")
        if s.svdz_note:
            table.add_row(".svdz file (real bytes)", "—", "", "", "")
            notes.append(f".svdz: {s.svdz_note}")
        else:
            ssim = _shown(s, "container_ssim", _ssim) if s.figure("container_ssim")[0] is not None or s.measuring \
                else "—"
            table.add_row(Text(".svdz file (real bytes)", style="bold"), _shown(s, "container_bytes", exact_bytes),
                          _share(s.container_bytes, of), _shown(s, "container_psnr_db", _db), ssim)
        if s.jpeg_note:
            table.add_row("JPEG at the .svdz bytes", "—", "", "", "")
            notes.append(f"JPEG: {s.jpeg_note}")
        else:
            quality, earlier = s.figure("jpeg_quality")
            q = "" if quality is None else f" ({'≈' if earlier else ''}q {quality})"
            table.add_row(Text(f"JPEG at the .svdz bytes{q}", style="bold"), _shown(s, "jpeg_bytes", exact_bytes),
                          _share(s.jpeg_bytes, of), _shown(s, "jpeg_psnr_db", _db), _shown(s, "jpeg_ssim", _ssim))
        table.add_row("reconstruction as PNG", _shown(s, "png_bytes", exact_bytes), _share(s.png_bytes, of),
                      _shown(s, "psnr_db", _db), _shown(s, "ssim", _ssim))
        from rich.console import Group

        parts = [self._quality_line(s), table]
        parts += [Text(n, style="dim", overflow="ellipsis", no_wrap=True) for n in notes]
        parts.append(Text(verdict(s), style="italic"))
        return Group(*parts)

    def _render_compact(self, s: TableState):
        from rich.console import Group

        pending = "…" if s.measuring else "—"
        quality = Text(overflow="ellipsis", no_wrap=True)
        quality.append(f"rank {s.rank}", style="bold")
        # method is the decomposition's description: "exact SVD on cuda", "exact SVD, top 60 ranks kept"…
        quality.append(f"/{s.max_rank} {'exact' if s.method.startswith('exact') else 'randomized'} · ")
        quality.append(f"{s.energy * 100:.2f}%", style="bold")
        quality.append(" energy · PSNR ")
        quality.append(self._psnr(s), style="bold")
        quality.append(" · SSIM ")
        ssim, earlier = s.figure("ssim")
        quality.append(pending if ssim is None else f"{'≈' if earlier else ''}{ssim:.3f}", style="bold")
        if s.max_error is not None:
            quality.append(f" · err≤{s.max_error * 255:.0f}/255")
        sizes = Text(overflow="ellipsis", no_wrap=True)
        name = s.file_name if len(s.file_name) <= 24 else s.file_name[:11] + "…" + s.file_name[-12:]
        sizes.append(f"{name} {human_bytes(s.original_bytes)} · ")
        sizes.append(".svdz ")
        sizes.append(_shown(s, "container_bytes", human_bytes).plain if not s.svdz_note else pending, style="bold")
        sizes.append(f" · PNG {_shown(s, 'png_bytes', human_bytes).plain} · float32 {human_bytes(s.factors_float32_bytes)}"
                     f" · raw {human_bytes(s.raw_bytes)}")
        jpeg = Text(overflow="ellipsis", no_wrap=True)
        if s.jpeg_note:
            jpeg.append(f"JPEG at the same bytes: {s.jpeg_note}", style="dim")
        else:
            jpeg.append(f"JPEG at the same bytes: {_shown(s, 'jpeg_psnr_db', _db).plain}, "
                        f"SSIM {_shown(s, 'jpeg_ssim', _ssim).plain}")
            if s.jpeg_psnr_db is not None and s.container_psnr_db is not None:
                gain = s.jpeg_psnr_db - s.container_psnr_db  # as verdict(): "far better" only when it is
                word = "far better than SVD" if gain > 0 else "not better here"
                jpeg.append(f": {gain:+.1f} dB, {word}", style="italic")
        return Group(quality, sizes, jpeg)


# ---------------------------------------------------------------------------------------------
# Singular values
# ---------------------------------------------------------------------------------------------


def column_starts(n: int, cols: int) -> list[int]:
    """First rank index (0-based) of each of cols columns that share n ranks (n ≥ cols)."""
    return [(j * n) // cols for j in range(cols)]


def marker_column(rank: int, n: int, cols: int) -> int:
    """The column whose ranks include rank (1-based): the same split as the bars."""
    return max(0, bisect.bisect_right(column_starts(n, cols), rank - 1) - 1)


class SpectrumPlot(Vertical):
    """log10 of the singular values (√Σσ² over channels, per rank) as a Sparkline with one bar per
    column (the largest of the ranks it covers), and a marker line under it at the current rank."""

    DEFAULT_CSS = """
    SpectrumPlot { height: auto; }
    SpectrumPlot > Sparkline { height: 3; }
    SpectrumPlot > #spectrum-marker { height: 1; }
    SpectrumPlot > #spectrum-title { height: 1; color: $text-muted; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.log_sigma: list[float] = []
        self.energy: list[float] = []
        self.rank = 0

    def compose(self) -> ComposeResult:
        yield Static("singular values (log σ)", id="spectrum-title")
        yield Sparkline([], id="spectrum-bars")
        yield Static("", id="spectrum-marker")

    def set_curve(self, log_sigma: list[float], energy: list[float]) -> None:
        self.log_sigma = list(log_sigma)
        self.energy = list(energy)
        self._redraw()

    def set_rank(self, rank: int) -> None:
        self.rank = rank
        self._redraw_marker()

    def on_resize(self) -> None:
        self._redraw()

    def _width(self) -> int:
        return max(1, self.content_region.width)

    def _columns(self) -> int:
        return max(1, min(self._width(), len(self.log_sigma)))

    def _column_of(self, rank: int) -> int:
        return marker_column(rank, len(self.log_sigma), self._columns())

    def _redraw(self) -> None:
        if not self.is_mounted:
            return
        bars = self.query_one(Sparkline)
        n, cols = len(self.log_sigma), self._columns()
        if n == 0:
            bars.data = []
        else:
            # One value per column (max of its ranks), so the Sparkline maps data to columns 1:1.
            starts = column_starts(n, cols) + [n]
            bars.data = [max(self.log_sigma[starts[j]: starts[j + 1]]) for j in range(cols)]
            bars.styles.width = cols
        self._redraw_marker()

    def _redraw_marker(self) -> None:
        if not self.is_mounted:
            return
        marker = self.query_one("#spectrum-marker", Static)
        title = self.query_one("#spectrum-title", Static)
        if not self.log_sigma or self.rank < 1:
            marker.update("")
            title.update("singular values (log σ)")
            return
        cols = self._columns()
        col = self._column_of(self.rank)
        line = Text("━" * col, style="bold")
        line.append("▲", style="bold reverse")
        line.append("─" * (cols - col - 1), style="dim")
        marker.update(line)
        kept = self.energy[self.rank - 1] * 100 if self.rank <= len(self.energy) else float("nan")
        title.update(Text.assemble(("singular values, log σ · ", "dim"), (f"rank {self.rank}", "bold"),
                                   (f" keeps {kept:.2f} % energy", "")))
