"""The svdlens app: pick an image, change the rank from the keyboard, see what it costs and buys.

Threading: the event loop never does numeric work. Thread workers (one exclusive group per
kind: "decompose", "refine", "measure", "target", and "save"; the preview pane has its own
"preview") call core and post messages. Every result carries the generation it was asked for; a
result whose generation is no longer current is dropped, so a stale one never wins.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DirectoryTree, Footer, Header, Input, Label, ProgressBar
from textual.worker import Worker, WorkerState, get_current_worker

from core.errors import Cancelled, SvdlensError
from core.imageio import SourceImage, read_image, sample_image_path

# textual-image probes the terminal when imported: that has to happen before the app runs.
from tui.preview import PreviewPane
from tui.dialogs import HelpScreen, PathScreen
from tui.views import DESCRIPTIONS as VIEW_DESCRIPTIONS, RankChosen, ViewStack  # issue 12: views
from tui.widgets import (
    IMAGE_SUFFIXES,
    ImagePicker,
    RankInput,
    RankRequest,
    SizesTable,
    SpectrumPlot,
    TableState,
    parse_rank_request,
)

CLASSIC_RANKS = (500, 250, 100, 50, 25, 10)
ENERGY_PRESETS = (0.90, 0.99, 0.999)
DEFAULT_RANK = 50
MEASURE_DELAY = 0.12  # s of quiet after a rank change before the costly numbers are measured


@dataclass
class Loaded:
    """One decomposed image and the curves the UI reads without computing."""

    source: SourceImage
    mode: str
    dec: object  # core.svd.Decomposition
    energy: np.ndarray  # kept energy share for ranks 1..max_rank
    psnr_sigma: np.ndarray  # PSNR of the unclipped rank-r image, from the singular values alone
    log_sigma: list[float]  # log10 of the combined singular values, ranks 1..max_rank

    @property
    def method(self) -> str:
        description = getattr(self.dec, "description", None)
        if description:
            return str(description)
        return "exact SVD" if self.dec.exact else f"randomized SVD, ranks ≤ {self.dec.max_rank}"


# ---- messages from workers ------------------------------------------------------------------


class LoadProgress(Message):
    def __init__(self, generation: int, text: str, done: int, total: int) -> None:
        super().__init__()
        self.generation, self.text, self.done, self.total = generation, text, done, total


class LoadDone(Message):
    def __init__(self, generation: int, loaded: Loaded) -> None:
        super().__init__()
        self.generation, self.loaded = generation, loaded


class LoadFailed(Message):
    def __init__(self, generation: int, path: Path, text: str) -> None:
        super().__init__()
        self.generation, self.path, self.text = generation, path, text


class Refined(Message):
    def __init__(self, generation: int, before: Loaded, after: Loaded | None, text: str = "") -> None:
        super().__init__()
        self.generation, self.before, self.after, self.text = generation, before, after, text


class Measured(Message):
    def __init__(self, generation: int, loaded: Loaded, rank: int, values: dict, done: bool) -> None:
        super().__init__()
        self.generation, self.loaded, self.rank, self.values, self.done = generation, loaded, rank, values, done


class TargetResolved(Message):
    def __init__(self, generation: int, request: RankRequest, rank: int | None, text: str) -> None:
        super().__init__()
        self.generation, self.request, self.rank, self.text = generation, request, rank, text


class Saved(Message):
    def __init__(self, path: Path | None, size: int, text: str) -> None:
        super().__init__()
        self.path, self.size, self.text = path, size, text


# ---- optional core modules (written by other engineers; the app says what is missing) ------


def _svdz():
    try:
        from core import svdz
    except ImportError:
        return None
    return svdz


def _jpeg():
    try:
        from core import jpeg
    except ImportError:
        return None
    return jpeg


# ---- numeric work, run only inside thread workers -------------------------------------------


def _curves(dec) -> tuple[np.ndarray, np.ndarray, list[float]]:
    from core.select import psnr_curve

    energy = np.asarray(dec.energy_curve(), dtype=np.float64)
    sig = [np.asarray(s[: dec.max_rank], dtype=np.float64) for s in dec.singular_values]
    combined = np.sqrt(sum(s**2 for s in sig))
    floor = max(float(combined[0]) * 1e-12, 1e-30) if combined.size else 1e-30
    return energy, psnr_curve(dec), [float(v) for v in np.log10(np.maximum(combined, floor))]


def _measure(loaded: Loaded, rank: int) -> Iterator[dict]:
    """The costly numbers for one rank, cheapest first, one stage at a time so a worker can stop
    between them. The same core functions as core.report.rank_row, so the numbers are those of
    `svdlens report` (a test holds them equal)."""
    from core.metrics import psnr, ssim
    from core.outputs import encode_image
    from core.report import saved_pixels

    dec, src = loaded.dec, loaded.source
    saved = saved_pixels(dec, rank, src.bit_depth)
    yield {"psnr": psnr(saved, src.pixels)}
    yield {"ssim": ssim(saved, src.pixels)}
    yield {"png_bytes": len(encode_image(saved, ".png", src.bit_depth))}
    del saved
    svdz = _svdz()
    if svdz is None:
        yield {"svdz_note": "needs core.svdz (not in this build)", "jpeg_note": "needs the .svdz size"}
        return
    data = svdz.encode(dec, rank, bit_depth=src.bit_depth)
    decoded = np.asarray(svdz.decode(data).pixels, dtype=np.float32)
    same = decoded.shape == src.pixels.shape
    yield {"svdz_bytes": len(data), "svdz_psnr": psnr(decoded, src.pixels) if same else None}
    yield {"svdz_ssim": ssim(decoded, src.pixels) if same else None}
    jpeg = _jpeg()
    if jpeg is None:
        yield {"jpeg_note": "needs core.jpeg (not in this build)"}
        return
    result = jpeg.jpeg_at_budget(src.pixels, len(data))
    if result is None:
        yield {"jpeg_note": "no JPEG fits in so few bytes"}
    else:
        yield {"jpeg_bytes": int(result.size_bytes), "jpeg_quality": int(result.quality),
               "jpeg_psnr": float(result.psnr_db), "jpeg_ssim": None if result.ssim is None else float(result.ssim)}


def _save(loaded: Loaded, rank: int, path: Path, dec=None) -> int:
    """Write the rank-r reconstruction (by suffix) or the .svdz of dec (default: loaded.dec)
    atomically; returns the bytes written."""
    from core.outputs import check_output, output_kind, write_atomic, write_image

    src = loaded.source
    dec = loaded.dec if dec is None else dec
    check_output(path, src.path)
    if output_kind(path) == "svdz":
        svdz = _svdz()
        if svdz is None:
            raise SvdlensError(f"{path}: .svdz needs core.svdz, which is not in this build")
        write_atomic(path, svdz.encode(dec, rank, bit_depth=src.bit_depth), src.path)
    else:
        write_image(path, dec.reconstruct(rank), src.bit_depth, src.path)
    return path.stat().st_size


def _refining_note(dec) -> str:
    """The sub-title's note for the refinement that runs next (see Decomposition.refine)."""
    next_ranks = int(getattr(dec, "next_ranks", 0) or 0)
    if getattr(dec, "method", "") == "randomized" and next_ranks > dec.max_rank:
        return f" · top-{next_ranks} computing…"
    return " · exact SVD computing…"


class _AbandoningExecutor(ThreadPoolExecutor):
    """The loop's executor for thread workers: at shutdown it does not wait for running work.

    A torch SVD cannot be interrupted, so quitting mid-decomposition would otherwise hang
    until it finished. Compute workers write nothing, so they can be abandoned; saves are
    waited for by run_app before the process ends.
    """

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=False, cancel_futures=True)

    def busy(self) -> bool:
        return any(t.is_alive() for t in list(self._threads))


# ---- the app -------------------------------------------------------------------------------


class SvdlensApp(App[int]):
    """Truncated-SVD image compression, measured honestly, driven by the keyboard."""

    CSS_PATH = "app.tcss"
    TITLE = "svdlens"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]

    BINDINGS = [
        Binding("f1", "help", "help", id="help"),
        Binding("f2,ctrl+o", "open", "open", id="open"),
        Binding("f3,ctrl+s", "save", "save", id="save"),
        Binding("f4", "toggle_mode", "grey/colour", id="mode"),
        Binding("f5", "cycle_view", "view", id="view"),
        Binding("f6", "flip", "A/B", id="flip"),
        Binding("f7", "next_preset", "500…10", id="preset"),
        Binding("f8", "next_energy", "energy", id="energy"),
        Binding("f9", "toggle_files", "files", id="files"),
        # ---- issue 12: views (begin) ----
        Binding("ctrl+g", "set_view('gallery')", "gallery", show=False, id="gallery"),
        Binding("ctrl+t", "set_view('curves')", "curves", show=False, id="curves"),
        Binding("ctrl+l", "set_view('components')", "layers", show=False, id="components"),
        # ---- issue 12: views (end) ----
        Binding("plus,equals_sign", "step_rank(1)", "rank+1", key_display="+", id="rank-up"),
        Binding("minus,underscore", "step_rank(-1)", "rank−1", key_display="-", id="rank-down"),
        Binding("pageup", "step_rank(10)", "+10", key_display="PgUp", id="rank-up-10"),
        Binding("pagedown", "step_rank(-10)", "−10", key_display="PgDn", id="rank-down-10"),
        Binding("asterisk", "scale_rank(2)", "×2", key_display="*", id="rank-double"),
        Binding("slash", "scale_rank(0.5)", "÷2", key_display="/", id="rank-halve"),
        Binding("ctrl+q", "quit", "quit", priority=True, id="quit"),
    ]

    def __init__(self, path: Path | None = None, *, preview: str = "auto", mode: str = "colour",
                 device: str = "auto", rank: int = DEFAULT_RANK, max_pixels: int | None = None) -> None:
        super().__init__()
        self.image_path = Path(path) if path is not None else sample_image_path()
        self.preview_protocol = preview
        self.mode = mode
        self._wanted_mode = mode
        self.device = device
        self.max_pixels = max_pixels
        self.rank = rank
        self._requested_rank = rank
        self.loaded: Loaded | None = None
        self._cache: dict[tuple, Loaded] = {}
        self._load_generation = 0
        self._rank_generation = 0
        self._measure_timer = None
        self._panes_pending = False
        self._preset_index = -1
        self._energy_index = -1
        self.last_error: str | None = None  # the last message shown as an error (tests read it)
        self.executor: _AbandoningExecutor | None = None
        # Saves asked for and not yet writing (worker not started, or its exact SVD computing), and
        # saves writing now: run_to_exit waits for the latter only. Changed from the UI and worker
        # threads, hence the lock.
        self._save_lock = threading.Lock()
        self._saves_queued = 0
        self._saves_active = 0

    # ---- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header(icon="◧")
        with Horizontal(id="body"):
            with Vertical(id="picker-pane"):
                yield Label("images · Enter opens", id="picker-title")
                yield ImagePicker(self._picker_root(), id="picker")
            with Vertical(id="main"):
                with Horizontal(id="controls"):
                    yield Label("rank", id="rank-label")
                    yield RankInput(id="rank", compact=True)
                    yield Label("", id="rank-status")
                    yield ProgressBar(id="progress", show_eta=False, show_percentage=False)
                yield ViewStack(protocol=self.preview_protocol, id="views")  # issue 12: holds PreviewPane #preview
                with Horizontal(id="results"):
                    yield SizesTable(id="table")
                    yield SpectrumPlot(id="spectrum")
        yield Footer(compact=True)

    def _picker_root(self) -> Path:
        folder = self.image_path.parent
        if folder == sample_image_path().parent or not folder.is_dir():
            folder = Path.cwd()  # the bundled sample lives in the package: browse the user's folder
        return folder.resolve()

    def on_load(self) -> None:
        # Before any widget starts a thread worker: see _AbandoningExecutor.
        self.executor = _AbandoningExecutor(thread_name_prefix="svdlens")
        asyncio.get_running_loop().set_default_executor(self.executor)

    def on_mount(self) -> None:
        self.query_one(ProgressBar).display = False
        self._sync_input()
        self.query_one(RankInput).focus()
        self._set_status("loading…")
        self.open_image(self.image_path)

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit_layout)

    def _fit_layout(self) -> None:
        width, height = self.size
        self.query_one(SizesTable).set_compact(height < 40 or width < 100)

    # ---- status text -----------------------------------------------------------------------
    def _set_status(self, text: str, error: bool = False) -> None:
        label = self.query_one("#rank-status", Label)
        label.update(text)
        label.set_class(error, "-error")

    # ---- opening ---------------------------------------------------------------------------
    def open_image(self, path: Path, mode: str | None = None) -> None:
        """Load and decompose path (in a worker); the current image stays until it succeeds."""
        mode = mode or self._wanted_mode
        self._load_generation += 1
        self.workers.cancel_group(self, "refine")  # a refinement of the old image is no longer wanted
        key = self._cache_key(Path(path), mode)
        if key is not None and key in self._cache:
            self.workers.cancel_group(self, "decompose")
            self._install(self._cache[key])
            return
        bar = self.query_one(ProgressBar)
        bar.update(total=None, progress=0)
        bar.display = True
        self.add_class("-busy")
        self._set_status(f"opening {Path(path).name}…")
        if self.loaded is None:
            self.query_one(PreviewPane).clear(f"opening {Path(path).name}…")
        self._decompose_worker(Path(path), mode, self._load_generation)

    @staticmethod
    def _cache_key(path: Path, mode: str) -> tuple | None:
        """The same file, unchanged on disk, in the same mode; None when it cannot be looked at."""
        try:
            stat = path.stat()
            return (str(path.resolve()), mode, stat.st_mtime_ns, stat.st_size)
        except (OSError, ValueError):  # ValueError: an embedded NUL; the worker reports it
            return None

    @work(thread=True, exclusive=True, exit_on_error=False, group="decompose")
    def _decompose_worker(self, path: Path, mode: str, generation: int) -> None:
        worker = get_current_worker()
        if worker.is_cancelled:
            return
        try:
            limit = {} if self.max_pixels is None else {"max_pixels": self.max_pixels}
            source = read_image(path, mode, **limit)  # also decodes .svdz files
            if worker.is_cancelled:
                return
            self.post_message(LoadProgress(generation, f"decomposing {source.width}×{source.height}…", 0, 0))
            from core.svd import decompose

            def progress(done: int, total: int) -> None:
                self.post_message(LoadProgress(generation, f"decomposing: {100 * done // max(total, 1)} %", done, total))

            # quick: a large photo first serves its small ranks from a small sketch; refine() does the rest.
            dec = decompose(source.pixels, device=self.device, progress=progress, quick=True,
                            should_cancel=lambda: worker.is_cancelled)
            self.post_message(LoadDone(generation, Loaded(source, mode, dec, *_curves(dec))))
        except Cancelled:
            return
        except SvdlensError as exc:
            self.post_message(LoadFailed(generation, path, str(exc)))
        except MemoryError:
            self.post_message(LoadFailed(generation, path, f"{path}: not enough memory to decompose this image"))
        except Exception as exc:  # anything unexpected: say so, keep the app alive
            self.post_message(LoadFailed(generation, path, f"{path}: unexpected error: {type(exc).__name__}: {exc}"))

    def on_load_progress(self, message: LoadProgress) -> None:
        if message.generation != self._load_generation:
            return
        bar = self.query_one(ProgressBar)
        if message.total:
            bar.update(total=message.total, progress=message.done)
        self._set_status(message.text)

    def on_load_done(self, message: LoadDone) -> None:
        if message.generation != self._load_generation:
            return
        loaded = message.loaded
        self._remember(loaded)
        self._install(loaded)

    def _remember(self, loaded: Loaded) -> None:
        # Keep the decompositions of one file (both modes, for a quick F4), not of every file opened.
        key = self._cache_key(loaded.source.path, loaded.mode)
        if key is not None:
            self._cache = {k: v for k, v in self._cache.items() if k[0] == key[0]}
            self._cache[key] = loaded

    def on_load_failed(self, message: LoadFailed) -> None:
        if message.generation != self._load_generation:
            return
        self._end_busy()
        self._wanted_mode = self.mode
        self.notify(message.text, title="cannot open", severity="error", timeout=8)
        self.last_error = message.text
        if self.loaded is None:
            self.query_one(PreviewPane).clear(f"{message.text}\nF2 opens another image")
            self._set_status("no image: F2 opens one", error=True)
        else:
            self._set_status(f"could not open {message.path.name}: still showing {self.loaded.source.path.name}",
                             error=True)

    def _end_busy(self) -> None:
        self.query_one(ProgressBar).display = False
        self.remove_class("-busy")

    def _install(self, loaded: Loaded, *, refined: bool = False) -> None:
        self._end_busy()
        self.loaded = loaded
        self.image_path = loaded.source.path
        self.mode = self._wanted_mode = loaded.mode
        src = loaded.source
        notes = f" · {'; '.join(src.notes)}" if src.notes else ""
        self.sub_title = (f"{src.path.name} · {src.width}×{src.height} · {loaded.mode} · "
                          f"{src.bit_depth}-bit · {loaded.method}{notes}")
        self._follow_in_picker(src.path)
        if not refined:
            for note in src.notes:
                self.notify(f"{src.path.name}: {note}", timeout=5)
        self.query_one(SpectrumPlot).set_curve(loaded.log_sigma, list(loaded.energy))
        if src.stored_ranks and not refined:
            # A .svdz opens at the rank it was saved with: above it the image has nothing more to give.
            self.rank = self._requested_rank = max(src.stored_ranks)
        # A rank clamped to what the randomized factors served is restored once the exact SVD serves it.
        self._apply_rank(max(self.rank, self._requested_rank) if refined else self.rank, quiet_clamp=refined)
        if not loaded.dec.exact and hasattr(loaded.dec, "refine"):
            # Serve the randomized factors now; the exact SVD replaces them when it is ready.
            self.sub_title += _refining_note(loaded.dec)
            self._refine_worker(loaded, self._load_generation)

    def _follow_in_picker(self, path: Path) -> None:
        """Show the folder of an image opened from elsewhere (the dialog) in the file pane."""
        if path.parent == sample_image_path().parent:
            return
        picker = self.query_one(ImagePicker)
        try:
            root = Path(picker.path).resolve()
            folder = path.resolve().parent
            if root != folder and root not in folder.parents:
                picker.path = folder
        except OSError:
            pass

    @work(thread=True, exclusive=True, exit_on_error=False, group="refine")
    def _refine_worker(self, loaded: Loaded, generation: int) -> None:
        worker = get_current_worker()
        if worker.is_cancelled:
            return
        try:
            dec = loaded.dec.refine(should_cancel=lambda: worker.is_cancelled)
            curves = _curves(dec)
        except Cancelled:
            return
        except MemoryError:
            self.post_message(Refined(generation, loaded, None, "not enough memory for the exact SVD"))
            return
        except Exception as exc:
            self.post_message(Refined(generation, loaded, None, f"exact SVD failed: {type(exc).__name__}: {exc}"))
            return
        if not worker.is_cancelled:
            self.post_message(Refined(generation, loaded, Loaded(loaded.source, loaded.mode, dec, *curves)))

    def on_refined(self, message: Refined) -> None:
        if message.generation != self._load_generation or message.before is not self.loaded:
            return
        if message.after is None:
            self.notify(message.text, title="kept the randomized SVD", severity="warning")
            self.sub_title = self.sub_title.replace(_refining_note(message.before.dec), "")
            return
        self._remember(message.after)
        self._install(message.after, refined=True)

    # ---- rank ------------------------------------------------------------------------------
    def _clamp(self, rank: int) -> tuple[int, str | None]:
        dec = self.loaded.dec
        if rank < 1:
            return 1, "rank 1 is the smallest"
        if rank > dec.max_rank:
            if dec.max_rank == dec.full_rank:
                return dec.max_rank, f"rank {rank} is above min(H, W) = {dec.max_rank}: showing {dec.max_rank}"
            return dec.max_rank, (f"rank {rank} is above the {dec.max_rank} ranks computed so far "
                                  f"(exact SVD on its way): showing {dec.max_rank}")
        return rank, None

    def _apply_rank(self, rank: int, *, quiet_clamp: bool = True, note: str | None = None) -> None:
        """Make rank current everywhere: input, preview, sparkline marker, table (measured later)."""
        self._rank_generation += 1
        if self.loaded is None:
            self.rank = max(1, rank)
            self._sync_input()
            return
        self._requested_rank = rank
        rank, clamp_note = self._clamp(rank)
        self.rank = rank
        self._sync_input()
        if clamp_note and not quiet_clamp:
            self._set_status(clamp_note, error=True)
        elif note:
            self._set_status(note)
        else:
            self._set_status(self._rank_summary())
        if not self._panes_pending:
            # Queued behind any keys already waiting: a burst of 200 key presses redraws once.
            self._panes_pending = True
            self.call_later(self._show_rank)

    def _show_rank(self) -> None:
        """Bring preview, marker and table to the current rank (the costly numbers follow)."""
        self._panes_pending = False
        if self.loaded is None:
            return
        rank = self.rank
        self.query_one(PreviewPane).show(self.loaded.dec, rank)
        self.query_one(ViewStack).show(self.loaded, rank)  # issue 12: views
        self.query_one(SpectrumPlot).set_rank(rank)
        self.query_one(SizesTable).show_state(self._quick_state(rank))
        if self._measure_timer is not None:
            self._measure_timer.stop()
        self._measure_timer = self.set_timer(MEASURE_DELAY, self._start_measure)

    def _rank_summary(self) -> str:
        energy = self.loaded.energy[self.rank - 1] * 100
        return f"rank {self.rank} of {self.loaded.dec.max_rank} · {energy:.2f} % energy"

    def _sync_input(self) -> None:
        field = self.query_one(RankInput)
        text = str(self.rank)
        if field.value != text:
            with field.prevent(Input.Changed):
                field.value = text
            field.cursor_position = len(text)

    def _quick_state(self, rank: int) -> TableState:
        loaded = self.loaded
        dec, src = loaded.dec, loaded.source
        preview = self.query_one(PreviewPane).last_render
        state = TableState(
            rank=rank, max_rank=dec.max_rank, full_rank=dec.full_rank, method=loaded.method,
            shape=tuple(src.pixels.shape), file_bytes=src.file_bytes,
            file_suffix=src.path.suffix.lstrip(".").upper() or "file", file_name=src.path.name,
            energy=float(loaded.energy[rank - 1]), psnr_estimate=float(loaded.psnr_sigma[rank - 1]),
            float32_bytes=dec.factor_bytes(rank),
            raw_bytes=src.raw_bytes,
        )
        if preview is not None and preview.rank == rank:
            state.max_error, state.max_error_at = preview.max_error, preview.max_error_at
        return state

    def _start_measure(self) -> None:
        self._measure_timer = None
        if self.loaded is not None:
            self._measure_worker(self.loaded, self.rank, self._rank_generation)

    @work(thread=True, exclusive=True, exit_on_error=False, group="measure")
    def _measure_worker(self, loaded: Loaded, rank: int, generation: int) -> None:
        worker = get_current_worker()
        if worker.is_cancelled:
            return

        def stale() -> bool:
            return worker.is_cancelled or generation != self._rank_generation or loaded is not self.loaded

        try:
            for values in _measure(loaded, rank):
                if stale():
                    return  # a newer rank or image wants the threads
                self.post_message(Measured(generation, loaded, rank, values, done=False))
        except SvdlensError as exc:
            self.post_message(Measured(generation, loaded, rank, {"svdz_note": str(exc)}, done=False))
        except MemoryError:
            self.post_message(Measured(generation, loaded, rank, {"svdz_note": "not enough memory"}, done=False))
        except Exception as exc:
            self.post_message(Measured(generation, loaded, rank,
                                       {"svdz_note": f"unexpected error: {type(exc).__name__}: {exc}"}, done=False))
        if not stale():
            self.post_message(Measured(generation, loaded, rank, {}, done=True))

    def on_measured(self, message: Measured) -> None:
        if message.generation != self._rank_generation or message.loaded is not self.loaded:
            return  # a newer rank or image is current: this result is stale
        for views in self.query(ViewStack):  # issue 12: the gallery and curves reuse what was measured
            views.add_figures(message.loaded, message.rank, message.values)
        tables = self.query(SizesTable)
        if not tables:
            return  # the app is closing: the table is already gone
        table = tables.first()
        state = table.state
        if state is None or state.rank != message.rank:
            state = self._quick_state(message.rank)
        for key, value in message.values.items():
            setattr(state, key, value)
        state.measuring = not message.done
        table.show_state(state)

    @on(PreviewPane.Updated)
    def _preview_updated(self, message: PreviewPane.Updated) -> None:
        table = self.query_one(SizesTable)
        state = table.state
        if state is not None and message.rank == state.rank and self.loaded is not None:
            state.max_error, state.max_error_at = message.max_error, message.max_error_at
            table.show_state(state)

    # ---- rank field ------------------------------------------------------------------------
    @on(Input.Changed, "#rank")
    def _rank_typed(self, event: Input.Changed) -> None:
        try:
            request = parse_rank_request(event.value)
        except ValueError as exc:
            self._set_status(str(exc), error=True)
            return
        if request.kind == "rank" and int(request.value) == self.rank:
            if self.loaded is not None:
                self._set_status(self._rank_summary())
        else:
            self._set_status(f"{request.describe()}: Enter applies")

    @on(Input.Submitted, "#rank")
    def _rank_submitted(self, event: Input.Submitted) -> None:
        try:
            request = parse_rank_request(event.value)
        except ValueError as exc:
            self._set_status(str(exc), error=True)
            return
        self.request_target(request)

    def request_target(self, request: RankRequest) -> None:
        if request.kind == "rank":
            self._apply_rank(int(request.value), quiet_clamp=False)
            return
        if self.loaded is None:
            self._set_status("no image yet", error=True)
            return
        self._rank_generation += 1
        self._set_status(f"finding the rank for {request.describe()}…")
        self._target_worker(self.loaded, request, self._rank_generation)

    @work(thread=True, exclusive=True, exit_on_error=False, group="target")
    def _target_worker(self, loaded: Loaded, request: RankRequest, generation: int) -> None:
        if get_current_worker().is_cancelled:
            return
        dec = loaded.dec
        try:
            if request.kind == "energy":
                from core.select import rank_for_energy

                rank = rank_for_energy(dec, request.value)
                text = (f"rank {rank} keeps {loaded.energy[rank - 1] * 100:.3f} % of the energy "
                        f"(asked {request.value * 100:g} %)")
            elif request.kind == "psnr":
                from core.select import rank_for_psnr

                rank = rank_for_psnr(dec, request.value, bit_depth=loaded.source.bit_depth)
                text = f"rank {rank} is the smallest with PSNR ≥ {request.value:g} dB"
            else:
                svdz = _svdz()
                if svdz is None:
                    raise SvdlensError("byte budgets need the .svdz container (core.svdz), not in this build")
                rank = svdz.rank_for_max_bytes(dec, int(request.value), bit_depth=loaded.source.bit_depth)
                text = f"rank {rank} is the largest whose .svdz fits in {int(request.value):,} bytes".replace(",", " ")
        except SvdlensError as exc:
            self.post_message(TargetResolved(generation, request, None, str(exc)))
            return
        except Exception as exc:
            text = f"unexpected error: {type(exc).__name__}: {exc}"
            self.post_message(TargetResolved(generation, request, None, text))
            return
        self.post_message(TargetResolved(generation, request, rank, text))

    def on_target_resolved(self, message: TargetResolved) -> None:
        if message.generation != self._rank_generation:
            return  # the rank moved on since this target was asked for
        if message.rank is None:
            self._set_status(message.text, error=True)
            self._sync_input()
            return
        self._apply_rank(message.rank, note=message.text)

    # ---- actions ---------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Dialogs and help own the keyboard while they are up (quit still works).
        if action not in ("quit", "help", "command_palette") and self.screen is not self.screen_stack[0]:
            return False
        return True

    # Rank keys work while the first photo is still loading: the rank is kept and clamped once it arrives.
    def action_step_rank(self, delta: int) -> None:
        self._apply_rank(self.rank + int(delta))

    def action_scale_rank(self, factor: float) -> None:
        self._apply_rank(max(1, round(self.rank * float(factor))))

    def action_set_rank(self, rank: int) -> None:
        self._apply_rank(int(rank), quiet_clamp=False)

    def action_next_preset(self) -> None:
        # 500 → 250 → … → 10 → 500; a clamped preset (500 on a 400-pixel image) still moves on.
        if self.rank in CLASSIC_RANKS:
            index = (CLASSIC_RANKS.index(self.rank) + 1) % len(CLASSIC_RANKS)
        else:
            index = (self._preset_index + 1) % len(CLASSIC_RANKS)
        self._preset_index = index
        self._apply_rank(CLASSIC_RANKS[index], quiet_clamp=False)

    def action_next_energy(self) -> None:
        if self.loaded is None:
            return
        self._energy_index = (self._energy_index + 1) % len(ENERGY_PRESETS)
        self.request_target(RankRequest("energy", ENERGY_PRESETS[self._energy_index]))

    def action_set_energy(self, share: float) -> None:
        self.request_target(RankRequest("energy", float(share)))

    def action_toggle_mode(self) -> None:
        # From the mode last asked for, so F4 F4 in quick succession comes back where it started.
        self.set_mode("grey" if self._wanted_mode == "colour" else "colour")

    def set_mode(self, mode: str) -> None:
        """Decompose the current image in mode ("grey" or "colour"); self.mode changes once it is shown."""
        if mode != self._wanted_mode or self.loaded is None:
            self._wanted_mode = mode
            self.open_image(self.image_path, mode)

    # ---- issue 12: views (begin) ----
    def action_cycle_view(self) -> None:
        self.query_one(ViewStack).cycle_view()

    def action_set_view(self, view: str) -> None:
        self.query_one(ViewStack).set_view(view)

    @on(RankChosen)
    def _rank_chosen(self, message: RankChosen) -> None:
        self._apply_rank(message.rank, quiet_clamp=False)

    @on(ViewStack.TypedAhead)
    def _typed_ahead(self, message: ViewStack.TypedAhead) -> None:
        field = self.query_one(RankInput)
        if field.has_focus:  # keys typed ahead of the focus change
            field.insert_text_at_cursor(message.character)
            return
        self.screen.set_focus(field)
        field.value = message.character  # a new request starts: what was in the field is replaced
        field.cursor_position = len(field.value)
    # ---- issue 12: views (end) ----

    def action_toggle_files(self) -> None:
        screen = self.screen_stack[0]
        shown = self.query_one("#picker-pane").region.width > 0
        screen.set_class(not shown, "-show-files")
        screen.set_class(shown, "-hide-files")
        if not shown:
            self.query_one(ImagePicker).focus()
        elif self.focused is None or self.focused is self.query_one(ImagePicker):
            self.query_one(RankInput).focus()

    def action_flip(self) -> None:
        self.query_one(PreviewPane).toggle_flip()

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
        else:
            self.push_screen(HelpScreen())

    def action_open(self) -> None:
        proposed = str(self.image_path.parent) + os.sep
        hint = "Enter opens · Escape cancels · images: " + " ".join(sorted(IMAGE_SUFFIXES))
        self.push_screen(PathScreen("Open image", proposed, hint, id="open-dialog"), self._open_chosen)

    def _open_chosen(self, path: Path | None) -> None:
        if path is None:
            return
        try:
            if "\0" in str(path):
                raise ValueError("a path cannot hold a NUL character")
            is_folder = path.is_dir()
        except (OSError, ValueError) as exc:  # a name too long, a folder we may not enter
            reason = getattr(exc, "strerror", None) or str(exc)
            shown = str(path).replace("\0", "\\0")
            self.on_load_failed(LoadFailed(self._load_generation, path, f"{shown}: {reason}"))
            return
        if is_folder:  # a folder: browse it in the file pane
            picker = self.query_one(ImagePicker)
            picker.path = path.resolve()
            self.screen.add_class("-show-files")
            self.screen.remove_class("-hide-files")
            picker.focus()
            self._set_status(f"browsing {path}: pick an image, Enter opens")
            return
        self.open_image(path)

    @on(DirectoryTree.FileSelected, "#picker")
    def _picked(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.open_image(Path(event.path))

    # ---- saving ----------------------------------------------------------------------------
    def proposed_save_path(self) -> Path:
        src = self.image_path
        name = f"{src.stem}-rank{self.rank}.png"
        folder = src.parent
        if folder == sample_image_path().parent or not os.access(folder, os.W_OK):
            folder = Path.cwd()
        return folder / name

    def action_save(self) -> None:
        if self.loaded is None:
            self._set_status("nothing to save yet", error=True)
            return
        hint = "the suffix decides: .png .jpg .webp (reconstruction) or .svdz (factors) · Escape cancels"
        self.push_screen(PathScreen(f"Save rank {self.rank}", str(self.proposed_save_path()), hint,
                                    id="save-dialog"), self._save_chosen)

    def _save_chosen(self, path: Path | None) -> None:
        if path is None or self.loaded is None:
            return
        from core.outputs import check_output

        try:
            check_output(path, self.loaded.source.path)  # refused before any work
        except SvdlensError as exc:
            self.on_saved(Saved(None, 0, str(exc)))
            return
        exact_first = "" if self.loaded.dec.exact else " (exact SVD first)"
        self._set_status(f"saving {path.name}{exact_first}…")
        self._count_saves(queued=1)
        self._save_worker(self.loaded, self.rank, path)

    def _count_saves(self, queued: int = 0, active: int = 0) -> tuple[int, int]:
        """Change the save counts (from any thread); returns (queued, active)."""
        with self._save_lock:
            self._saves_queued += queued
            self._saves_active += active
            return self._saves_queued, self._saves_active

    @property
    def saves_running(self) -> int:
        """Saves asked for and not finished (queued or writing)."""
        return sum(self._count_saves())

    @work(thread=True, exclusive=False, exit_on_error=False, group="save")
    def _save_worker(self, loaded: Loaded, rank: int, path: Path) -> None:
        writing = [False]
        try:
            self._save_in_thread(loaded, rank, path, writing)
        finally:
            # run_to_exit waits for a save that is writing before the process ends
            if writing[0]:
                self._count_saves(active=-1)
            else:
                self._count_saves(queued=-1)

    def _save_in_thread(self, loaded: Loaded, rank: int, path: Path, writing: list[bool]) -> None:
        note = ""
        try:
            dec = loaded.dec
            if not dec.exact:
                # Exports are exact (issue 5): the quick/randomized factors only serve the preview.
                from core.svd import decompose

                worker = get_current_worker()
                dec = decompose(loaded.source.pixels, colour_space=None if dec.colour_space == "grey"
                                else dec.colour_space, method="exact", device=dec.device,
                                should_cancel=lambda: worker.is_cancelled)
                note = " · exact SVD computed for the export"
            self._count_saves(queued=-1, active=1)  # from here quitting waits (an SVD is abandoned)
            writing[0] = True
            size = _save(loaded, rank, path, dec)
        except Cancelled:
            return
        except MemoryError:
            self.post_message(Saved(None, 0, f"{path}: not enough memory for the exact SVD of this image"))
            return
        except SvdlensError as exc:
            self.post_message(Saved(None, 0, str(exc)))
            return
        except Exception as exc:
            self.post_message(Saved(None, 0, f"{path}: unexpected error: {type(exc).__name__}: {exc}"))
            return
        self.post_message(Saved(path, size, f"rank {rank} → {path} ({size:,} bytes){note}".replace(",", " ")))

    def on_saved(self, message: Saved) -> None:
        if message.path is None:
            self.notify(message.text, title="not saved", severity="error", timeout=8)
            self._set_status(f"not saved: {message.text}", error=True)
            self.last_error = message.text
        else:
            self.notify(message.text, title="saved", timeout=6)
            self._set_status(f"saved {message.path.name}")
            picker = self.query_one(ImagePicker)
            try:
                if message.path.parent.resolve() == Path(picker.path).resolve():
                    picker.reload()  # show the new file in the file pane
            except OSError:
                pass

    # ---- workers that fail anyway ----------------------------------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.group in ("decompose", "refine", "measure", "target",
                                                                        "save"):
            error = event.worker.error
            text = f"unexpected error in {event.worker.group}: {type(error).__name__}: {error}"
            self.notify(text, severity="error")
            self.last_error = text
            if event.worker.group == "decompose":
                self._end_busy()

    # ---- command palette -------------------------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Open image…", "Open an image by path (F2)", self.action_open)
        yield SystemCommand("Save…", "Save the reconstruction or the .svdz (F3)", self.action_save)
        for rank in CLASSIC_RANKS:
            yield SystemCommand(f"Rank {rank}", f"Show rank {rank}", lambda r=rank: self.action_set_rank(r))
        for share in ENERGY_PRESETS:
            yield SystemCommand(f"Energy {share * 100:g} %", f"Smallest rank keeping {share * 100:g} % of Σσ²",
                                lambda s=share: self.action_set_energy(s))
        yield SystemCommand("Colour mode: grey", "Decompose the grey image", lambda: self.set_mode("grey"))
        yield SystemCommand("Colour mode: colour", "Decompose the colour image", lambda: self.set_mode("colour"))
        for view, text in (("side", "side by side"), ("single", "single large view"), ("error", "error map")):
            yield SystemCommand(f"Preview: {text}", f"Show the {text}", lambda v=view: self.action_set_view(v))
        for view, key in (("gallery", "ctrl+g"), ("curves", "ctrl+t"), ("components", "ctrl+l")):  # issue 12: views
            yield SystemCommand(f"View: {VIEW_DESCRIPTIONS[view]}", f"{key}, or F5 cycles the views",
                                lambda v=view: self.action_set_view(v))
        yield SystemCommand("Preview: A/B flip", "Swap the reconstruction for the original (F6)", self.action_flip)
        yield SystemCommand("Files: show or hide the file pane", "F9", self.action_toggle_files)
        yield SystemCommand("Help: keys", "Every key (F1)", self.action_help)


def create_app(path: Path | None = None, **options) -> SvdlensApp:
    """The app factory the tests and the screenshot command reuse."""
    return SvdlensApp(path, **options)


def run_app(path: Path | None, *, preview: str = "auto", mode: str = "colour", device: str = "auto",
            max_pixels: int | None = None) -> int:
    """Run the app on path (None: the bundled sample photo); returns the exit code."""
    return run_to_exit(create_app(path, preview=preview, mode=mode, device=device, max_pixels=max_pixels))


def _wait_for_saves(app: SvdlensApp, timeout: float = 120.0, grace: float = 1.0) -> None:
    """Wait while a save writes (it writes atomically either way), never for one that did not start.

    Only a thread of the executor can still be saving; a save whose worker had not started when the
    app closed was cancelled with it, so it holds the exit for `grace` seconds at most (the moment
    between a thread taking it and the counts saying so).
    """
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        queued, active = app._count_saves()
        if app.executor is None or not app.executor.busy():
            return  # no thread runs anything: no save can finish or start
        if active == 0 and (queued == 0 or time.monotonic() - start > grace):
            return
        time.sleep(0.05)


def run_to_exit(app: SvdlensApp, *, headless: bool = False) -> int:
    """Run the app; once it is closed, wait for saves in flight, never for computations."""
    result = app.run(headless=headless)
    code = int(app.return_code or 0) if result is None else int(result)
    _wait_for_saves(app)
    if app.executor is not None:
        time.sleep(0.1)  # idle threads see the shutdown and end
        if app.executor.busy():
            # Only computations are left (an SVD cannot be interrupted): end without waiting.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return code
