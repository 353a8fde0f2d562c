"""The svdlens app: pick an image, change the rank from the keyboard, see what it costs and buys.

The App holds the layout, the rank and the image shown, the actions and the message handlers.
Threading: the event loop never does numeric work. Thread workers (one exclusive group per
kind, WORKER_GROUPS; the preview pane has its own "preview") run a job from tui/jobs.py and
post a message from tui/messages.py. Every result carries the generation it was asked for; a
result whose generation is no longer current is dropped, so a stale one never wins.
Keys come from tui/keys.py, palette commands from tui/commands.py, the process around the app
(executor, quitting, the factory) from tui/lifecycle.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from concurrent.futures import Executor
from contextlib import closing
from pathlib import Path
from typing import Callable, Iterable

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DirectoryTree, Footer, Header, Input, Label, ProgressBar
from textual.worker import Worker, WorkerState, get_current_worker

import tui.jobs as jobs
from core.errors import Cancelled, SvdlensError
from core.imageio import sample_image_path

# textual-image probes the terminal when imported: that has to happen before the app runs.
from tui.preview import PREVIEW_GROUP, PreviewPane
from tui.choices import CLASSIC_RANKS, ENERGY_PRESETS
from tui.commands import svdlens_commands
from tui.dialogs import HelpScreen, PathScreen
from tui.jobs import DecompositionCache, Loaded, SaveTicket, SaveTracker
from tui.keys import bindings
from tui.messages import (
    LoadDone,
    LoadFailed,
    LoadProgress,
    Measured,
    Refined,
    Saved,
    SourceRead,
    TargetResolved,
)
from tui.views import RankChosen, ViewStack
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

DEFAULT_RANK = 50
MEASURE_DELAY = 0.12  # s of quiet after a rank change before the costly numbers are measured
WORKER_GROUPS = ("decompose", "refine", "measure", "target", "save")
# The table's numbers that a measurement fills in (named as `svdlens report --json` names them).
MEASURED_FIGURES = frozenset(f.name for f in dataclasses.fields(TableState) if f.default is None) - {
    "jpeg_note", "svdz_note", "max_error", "max_error_at"}


SCREENSHOTS_ENV = "SVDLENS_SCREENSHOTS"


def screenshot_folder() -> Path:
    """Where the palette's screenshots go: $SVDLENS_SCREENSHOTS, else the working folder."""
    return Path(os.environ.get(SCREENSHOTS_ENV) or os.getcwd()).expanduser()


def next_classic_rank(rank: int) -> int:
    """F7: the largest classic rank below rank (51 → 50, 26 → 25, 600 → 500); from the smallest or
    below, back to the largest. Always downwards, so a clamped 500 (rank 300 on a 300-pixel image)
    moves on to 250."""
    below = [r for r in CLASSIC_RANKS if r < rank]
    return max(below) if below else max(CLASSIC_RANKS)


def fill_state(state: TableState, values: dict) -> None:
    """Put measured figures into the table's state (the rest, from the factors, it holds already)."""
    for key, value in values.items():
        if key in MEASURED_FIGURES:
            setattr(state, key, value)
    if "jpeg_bytes" in values and values["jpeg_bytes"] is None:
        state.jpeg_note = "no JPEG fits in so few bytes"


def refining_note(dec) -> str:
    """The sub-title's note for the refinement that runs next (see Decomposition.refine)."""
    next_ranks = int(getattr(dec, "next_ranks", 0) or 0)
    if getattr(dec, "method", "") == "randomized" and next_ranks > dec.max_rank:
        return f" · top-{next_ranks} computing…"
    return " · exact SVD computing…"


# ---- the app -------------------------------------------------------------------------------


class SvdlensApp(App[int]):
    """Truncated-SVD image compression, measured honestly, driven by the keyboard."""

    CSS_PATH = "app.tcss"
    TITLE = "svdlens"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]

    BINDINGS = bindings("app")

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
        # Figures measured on the decompositions the shown one refined (same image), by channel
        # ranks: the table shows them marked ≈ until the refined decomposition's own arrive.
        self._earlier_figures: dict[tuple[int, ...], dict] = {}
        self._decompositions = DecompositionCache()
        self._load_generation = 0
        self._rank_generation = 0
        self._measure_timer = None
        self._panes_pending = False
        # How the last rank change moved (a function of the rank): the rank read ahead is the next
        # one the same key would give.
        self._next_rank: Callable[[int], int] = lambda rank: rank + 1
        self._refine_waiting: Loaded | None = None  # a refinement that starts once the shown rank is measured
        self._measure_at_once = False
        self._energy_index = -1
        self.last_error: str | None = None  # the last message shown as an error (tests read it)
        # The loop's executor for thread workers, set by the factory (tui.lifecycle); None: asyncio's own.
        self.executor: Executor | None = None
        self.measure_executor: Executor | None = None  # threads for core.measure's encodes; None: core's own
        self.read_ahead_executor: Executor | None = None  # core.measure's read-ahead threads; None: core's own
        self.saves = SaveTracker()  # quitting waits for a save that writes (tui.lifecycle)

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
                yield ViewStack(protocol=self.preview_protocol, id="views")  # composes PreviewPane #preview
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
        # Before any widget starts a thread worker: see tui.lifecycle.AbandoningExecutor.
        if self.executor is not None:
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
        cached = self._decompositions.get(Path(path), mode)
        if cached is not None:
            self.workers.cancel_group(self, "decompose")
            self.show_decomposition(cached)
            return
        bar = self.query_one(ProgressBar)
        bar.update(total=None, progress=0)
        bar.display = True
        self.add_class("-busy")
        self._set_status(f"opening {Path(path).name}…")
        if self.loaded is None:
            self.query_one(PreviewPane).clear(f"opening {Path(path).name}…")
        self._decompose_worker(Path(path), mode, self._load_generation)

    @work(thread=True, exclusive=True, exit_on_error=False, group="decompose")
    def _decompose_worker(self, path: Path, mode: str, generation: int) -> None:
        worker = get_current_worker()

        def progress(text: str, done: int, total: int) -> None:
            self.post_message(LoadProgress(generation, text, done, total))

        try:
            loaded = jobs.load(path, mode, device=self.device, max_pixels=self.max_pixels, progress=progress,
                               should_cancel=lambda: worker.is_cancelled,
                               decoded=lambda source: self.post_message(SourceRead(generation, source)),
                               executor=self.measure_executor)
        except Cancelled:
            return
        except Exception as exc:  # anything unexpected too: say so, keep the app alive
            self.post_message(LoadFailed(generation, path, jobs.failure_text(exc, path, "decomposing this image")))
            return
        self._measure_early(loaded, refined=False)
        self.post_message(LoadDone(generation, loaded))

    def _measure_early(self, loaded: Loaded, *, refined: bool) -> None:
        """Start measuring the rank a new decomposition will be shown at, from its worker, before
        the UI has drawn it (a few hundred ms): the table then joins the jobs already running."""
        if refined:
            rank = max(self.rank, self._requested_rank)
        else:
            stored = loaded.source.stored_ranks
            rank = max(stored) if stored else self.rank
        rank = min(max(1, rank), loaded.dec.max_rank)
        loaded.measure_context(self.measure_executor, self.read_ahead_executor).read_ahead(rank)

    def on_load_progress(self, message: LoadProgress) -> None:
        if message.generation != self._load_generation:
            return
        bar = self.query_one(ProgressBar)
        if message.total:
            bar.update(total=message.total, progress=message.done)
        self._set_status(message.text)

    def on_source_read(self, message: SourceRead) -> None:
        # The first picture is the original, shown while torch loads and the SVD runs; once an
        # image is shown it stays until the new one is decomposed.
        if message.generation == self._load_generation and self.loaded is None:
            self.query_one(PreviewPane).show_original(message.source)

    def on_load_done(self, message: LoadDone) -> None:
        if message.generation != self._load_generation:
            return
        loaded = message.loaded
        self._decompositions.remember(loaded)
        self.show_decomposition(loaded)

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

    def show_decomposition(self, loaded: Loaded, *, refined: bool = False) -> None:
        """Make loaded the image shown: sub-title, spectrum, rank (clamped), and its refinement started."""
        self._end_busy()
        if self.loaded is not None and self.loaded is not loaded:
            self.loaded.stop_reading_ahead()  # its ranks are not the ones shown any more
        if not refined:
            self._earlier_figures = {}
        elif self.loaded is not None and self.loaded is not loaded:
            for ranks, figures in self.loaded.measured_figures().items():  # newer over older
                self._earlier_figures.setdefault(ranks, {}).update(figures)
        self.loaded = loaded
        self.image_path = loaded.source.path
        self.mode = self._wanted_mode = loaded.mode
        src = loaded.source
        notes = f" · {'; '.join(src.notes)}" if src.notes else ""
        # What is shown, not what was asked for: a grey file stays grey in colour mode.
        shown = "colour" if src.channels == 3 else "grey"
        depth = f"{src.float_bits}-bit float" if src.float_bits else f"{src.bit_depth}-bit"
        self.sub_title = f"{src.path.name} · {src.width}×{src.height} · {shown} · {depth} · {loaded.method}{notes}"
        self._follow_in_picker(src.path)
        if not refined:
            for note in src.notes:
                self.notify(f"{src.path.name}: {note}", timeout=5)
        self.query_one(SpectrumPlot).set_curve(loaded.log_sigma, list(loaded.energy))
        if src.stored_ranks and not refined:
            # A .svdz opens at the rank it was saved with: above it the image has nothing more to give.
            self.rank = self._requested_rank = max(src.stored_ranks)
        # A rank clamped to what the randomized factors served is restored once the exact SVD serves it.
        self._measure_at_once = True
        self._apply_rank(max(self.rank, self._requested_rank) if refined else self.rank, quiet_clamp=refined)
        if not loaded.dec.exact and hasattr(loaded.dec, "refine"):
            # Serve the randomized factors now; the exact SVD replaces them when it is ready. It starts
            # once the shown rank's numbers are on screen: both want the cores, and the numbers come first.
            self.sub_title += refining_note(loaded.dec)
            self._refine_waiting = loaded
        else:
            self._refine_waiting = None

    def _start_waiting_refinement(self) -> None:
        loaded, self._refine_waiting = self._refine_waiting, None
        if loaded is not None and loaded is self.loaded:
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
        try:
            after = jobs.refine(loaded, should_cancel=lambda: worker.is_cancelled)
        except Cancelled:
            return
        except Exception as exc:
            self.post_message(Refined(generation, loaded, None, jobs.failure_text(exc, task="the exact SVD")))
            return
        if not worker.is_cancelled:
            self._measure_early(after, refined=True)
            self.post_message(Refined(generation, loaded, after))

    def on_refined(self, message: Refined) -> None:
        if message.generation != self._load_generation or message.before is not self.loaded:
            return
        if message.after is None:
            self.notify(message.text, title="kept the randomized SVD", severity="warning")
            self.sub_title = self.sub_title.replace(refining_note(message.before.dec), "")
            return
        self._decompositions.remember(message.after)
        self.show_decomposition(message.after, refined=True)

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
        self.query_one(ViewStack).show(self.loaded, rank)
        self.query_one(SpectrumPlot).set_rank(rank)
        self.query_one(SizesTable).show_state(self._quick_state(rank))
        if self._measure_timer is not None:
            self._measure_timer.stop()
        # A key may be followed by more (MEASURE_DELAY waits for them); a new decomposition is measured at once.
        delay, self._measure_at_once = (0.001 if self._measure_at_once else MEASURE_DELAY), False
        self._measure_timer = self.set_timer(delay, self._start_measure)

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
            shape=tuple(src.pixels.shape), original_bytes=src.file_bytes,
            file_suffix=src.path.suffix.lstrip(".").upper() or "file", file_name=src.path.name,
            energy=float(loaded.energy[rank - 1]), psnr_estimate_db=float(loaded.psnr_sigma[rank - 1]),
            factors_float32_bytes=dec.factor_bytes(rank),
            raw_bytes=src.raw_bytes,
        )
        if preview is not None and preview.rank == rank:
            state.max_error, state.max_error_at = preview.max_error, preview.max_error_at
        # Figures already measured (the read-ahead measures the rank the next key goes to) show at once.
        fill_state(state, loaded.known_figures(rank))
        earlier = self._earlier_figures.get(dec.channel_ranks(rank), {})
        state.earlier = {name: value for name, value in earlier.items() if name in MEASURED_FIGURES}
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
            # Each figure is posted as it is ready; a rank no longer current is abandoned between
            # figures (closing the generator cancels its work not yet started).
            with closing(jobs.measure_rank(loaded, rank, self.measure_executor, self.read_ahead_executor,
                                           read_ahead=self._read_ahead_rank(loaded, rank))) as figures:
                for values in figures:
                    if stale():
                        return  # a newer rank or image wants the threads
                    self.post_message(Measured(generation, loaded, rank, values, done=False))
        except Exception as exc:
            note = jobs.failure_text(exc, task="the measurement")
            self.post_message(Measured(generation, loaded, rank, {"svdz_note": note}, done=False))
        if not stale():
            self.post_message(Measured(generation, loaded, rank, {}, done=True))

    def _read_ahead_rank(self, loaded: Loaded, rank: int) -> int | None:
        """The rank to measure in the background while rank is shown: where the last key would go next."""
        ahead = min(max(1, int(self._next_rank(rank))), loaded.dec.max_rank)
        return None if ahead == rank else ahead

    def on_measured(self, message: Measured) -> None:
        if message.generation != self._rank_generation or message.loaded is not self.loaded:
            return  # a newer rank or image is current: this result is stale
        if message.done:
            self._start_waiting_refinement()
        for views in self.query(ViewStack):  # the gallery and the curves reuse what was measured
            views.add_figures(message.loaded, message.rank, message.values)
        tables = self.query(SizesTable)
        if not tables:
            return  # the app is closing: the table is already gone
        table = tables.first()
        state = table.state
        if state is None or state.rank != message.rank:
            state = self._quick_state(message.rank)
        fill_state(state, message.values)
        state.measuring = not message.done
        table.show_state(state)

    @on(PreviewPane.Updated)
    def _preview_updated(self, message: PreviewPane.Updated) -> None:
        tables = self.query(SizesTable)
        if not tables:
            return  # the app is closing: the table is already gone
        table = tables.first()
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
        try:
            rank, text = jobs.resolve_target(loaded, request.kind, request.value)
        except Exception as exc:
            self.post_message(TargetResolved(generation, request, None, jobs.failure_text(exc, task="the search")))
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
        self._next_rank = lambda rank: rank + int(delta)
        self._apply_rank(self.rank + int(delta))

    def action_scale_rank(self, factor: float) -> None:
        self._next_rank = lambda rank: max(1, round(rank * float(factor)))
        self._apply_rank(max(1, round(self.rank * float(factor))))

    def action_set_rank(self, rank: int) -> None:
        self._apply_rank(int(rank), quiet_clamp=False)

    def action_next_preset(self) -> None:
        self._next_rank = next_classic_rank
        self._apply_rank(next_classic_rank(self.rank), quiet_clamp=False)

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
                                    id="save-dialog"), self.save_to)

    def save_to(self, path: Path | None) -> None:
        """Save the current rank to path in a worker (what Enter in the save dialog does); None: nothing."""
        if path is None or self.loaded is None:
            return
        try:
            jobs.check_save_path(self.loaded, path)  # refused before any work
        except SvdlensError as exc:
            self.on_saved(Saved(None, 0, str(exc)))
            return
        exact_first = "" if self.loaded.dec.exact else " (exact SVD first)"
        self._set_status(f"saving {path.name}{exact_first}…")
        self._save_worker(self.loaded, self.rank, path, self.saves.ask())

    @work(thread=True, exclusive=False, exit_on_error=False, group="save")
    def _save_worker(self, loaded: Loaded, rank: int, path: Path, ticket: SaveTicket) -> None:
        worker = get_current_worker()
        with ticket:
            try:
                dec, note = jobs.exact_factors(loaded, should_cancel=lambda: worker.is_cancelled)
                with ticket.writing():  # from here quitting waits (an SVD is abandoned)
                    size = jobs.save(loaded, rank, path, dec)
            except Cancelled:
                return
            except Exception as exc:
                self.post_message(Saved(None, 0, jobs.failure_text(exc, path, "the exact SVD of this image")))
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
        if event.state == WorkerState.ERROR and event.worker.group in WORKER_GROUPS:
            error = event.worker.error
            text = f"unexpected error in {event.worker.group}: {type(error).__name__}: {error}"
            self.notify(text, severity="error")
            self.last_error = text
            if event.worker.group == "decompose":
                self._end_busy()

    # ---- idle: for tests, screenshots and scripts ------------------------------------------
    def is_idle(self) -> bool:
        """Whether the app has nothing left to do for what it shows: no worker of its own runs, no
        measurement waits, and the shown view and the table show the current rank (or nothing was
        loaded and an error says why)."""
        active = (WorkerState.PENDING, WorkerState.RUNNING)
        groups = (*WORKER_GROUPS, PREVIEW_GROUP)
        if self.has_class("-busy") or self._measure_timer is not None or self._panes_pending:
            return False
        if any(w.group in groups and w.state in active for w in self.workers):
            return False
        if self.loaded is None:
            return self.last_error is not None
        table = self.query_one(SizesTable).state
        return (table is not None and not table.measuring and table.rank == self.rank
                and self.query_one(ViewStack).is_idle(self.rank))

    async def settled(self, timeout: float = 30.0, poll: float = 0.05) -> None:
        """Wait until is_idle() holds, then one more poll for the screen to catch up.

        app.workers.wait_for_complete() would never return: the file pane's loader never ends.
        Raises TimeoutError when the app is still busy after timeout seconds.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            await asyncio.sleep(poll)
            if self.is_idle():
                await asyncio.sleep(poll)
                return
        busy = [w for w in self.workers if w.group in (*WORKER_GROUPS, PREVIEW_GROUP) and w.is_running]
        raise TimeoutError(f"the app did not settle in {timeout} s: workers {busy}")

    # ---- command palette -------------------------------------------------------------------
    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        """The palette's "Screenshot". Textual saves into ~/Downloads (platformdirs' user_downloads_path
        when path is None), which most SSH hosts lack; here it goes to $SVDLENS_SCREENSHOTS or the working
        folder, and Textual's notification names the file."""
        folder = Path(path) if path is not None else screenshot_folder()
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            self.notify(f"cannot save a screenshot in {folder}: not a writable folder "
                        f"(set {SCREENSHOTS_ENV} to one)", title="Screenshot", severity="error")
            return None
        return super().deliver_screenshot(filename, str(folder), time_format)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from svdlens_commands(self)
