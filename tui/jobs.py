"""What the app's thread workers run: open, refine, measure, find a rank, save. UI-free.

Each function calls core and returns (or yields) plain values; the worker in tui/app.py posts
them as messages (tui/messages.py). Nothing here touches a widget or the event loop, so each
job can be called and tested without the app. A job stops early by raising core's Cancelled
when its should_cancel callback says so; anything else it raises is put into one line for a
person by failure_text.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from core.errors import Cancelled, SvdlensError
from core.imageio import SourceImage, read_image

from tui.describe import describe

ShouldCancel = Callable[[], bool]
_CONTEXT_LOCK = threading.Lock()


@dataclass
class Loaded:
    """One decomposed image and the curves the UI reads without computing."""

    source: SourceImage
    mode: str
    dec: object  # core.svd.Decomposition
    energy: np.ndarray  # kept energy share for ranks 1..max_rank
    psnr_sigma: np.ndarray  # PSNR of the unclipped rank-r image, from the singular values alone
    log_sigma: list[float]  # log10 of the combined singular values, ranks 1..max_rank
    _context: object = field(default=None, init=False, repr=False, compare=False)
    # core.measure.ImageMeasures of the image: shared by its decompositions (quick, top 500, exact).
    image_measures: object = field(default=None, repr=False, compare=False)

    @property
    def method(self) -> str:
        return describe(self.dec)

    def measure_context(self, executor=None, read_ahead_executor=None):
        """The core.measure.MeasureContext of this image and decomposition: made on first use (its
        encodes on executor, its read-ahead on read_ahead_executor; None: core's threads) and kept,
        so every rank measured reuses the original's statistics and the JPEGs tried so far. A
        refined decomposition's context shares them with the one before (same image)."""
        with _CONTEXT_LOCK:  # measure workers (one abandoned, one current) and saves may ask at once
            if self._context is None:
                from core.measure import MeasureContext

                self._context = MeasureContext(self.source, self.dec, executor=executor,
                                               read_ahead_executor=read_ahead_executor, image=self.image_measures)
            return self._context

    def known_figures(self, rank: int) -> dict:
        """The figures of rank measured so far (by the table, the read-ahead or a view); {} if none."""
        with _CONTEXT_LOCK:
            context = self._context
        return {} if context is None else context.known_figures(rank)

    def measured_figures(self) -> dict[tuple[int, ...], dict]:
        """Every rank's figures measured so far, by channel ranks ({} if none)."""
        with _CONTEXT_LOCK:
            context = self._context
        return {} if context is None else context.measured_figures()

    def stop_reading_ahead(self) -> None:
        """No more background measuring for this decomposition (another one is shown now)."""
        with _CONTEXT_LOCK:
            context = self._context
        if context is not None:
            context.read_ahead(None)


class DecompositionCache:
    """The decompositions of the file shown, both modes (F4 back and forth is instant), not of every file opened.

    An entry is found again only for the same file, unchanged on disk, in the same mode.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple, Loaded] = {}

    @staticmethod
    def _key(path: Path, mode: str) -> tuple | None:
        try:
            stat = path.stat()
            return (str(path.resolve()), mode, stat.st_mtime_ns, stat.st_size)
        except (OSError, ValueError):  # ValueError: an embedded NUL; the load job reports it
            return None

    def get(self, path: Path, mode: str) -> Loaded | None:
        key = self._key(path, mode)
        return None if key is None else self._entries.get(key)

    def remember(self, loaded: Loaded) -> None:
        key = self._key(loaded.source.path, loaded.mode)
        if key is not None:
            self._entries = {k: v for k, v in self._entries.items() if k[0] == key[0]}
            self._entries[key] = loaded


def failure_text(exc: BaseException, path: Path | None = None, task: str = "this") -> str:
    """One line for a person about why a job failed: core's own words, or what kind of failure.

    task names what ran out of memory ("decomposing this image", "the exact SVD").
    """
    if isinstance(exc, SvdlensError):
        return str(exc)
    where = f"{path}: " if path is not None else ""
    if isinstance(exc, MemoryError):
        return f"{where}not enough memory for {task}"
    return f"{where}unexpected error: {type(exc).__name__}: {exc}"


def _stop_if(should_cancel: ShouldCancel) -> None:
    if should_cancel():
        raise Cancelled("cancelled: a newer request replaced this one")


def _curves(dec) -> tuple[np.ndarray, np.ndarray, list[float]]:
    from core.select import psnr_curve

    energy = np.asarray(dec.energy_curve(), dtype=np.float64)
    sig = [np.asarray(s[: dec.max_rank], dtype=np.float64) for s in dec.singular_values]
    combined = np.sqrt(sum(s**2 for s in sig))
    floor = max(float(combined[0]) * 1e-12, 1e-30) if combined.size else 1e-30
    return energy, psnr_curve(dec), [float(v) for v in np.log10(np.maximum(combined, floor))]


def load(path: Path, mode: str, *, device: str, max_pixels: int | None,
         progress: Callable[[str, int, int], None], should_cancel: ShouldCancel,
         decoded: Callable[[SourceImage], None] | None = None, executor=None) -> Loaded:
    """Read path (an image or a .svdz) and decompose it; progress(text, done, total) says how far,
    decoded(source) is called as soon as the pixels are read (before torch is needed); the original's
    reference for the measurements is then made on executor (None: core's threads) meanwhile."""
    _stop_if(should_cancel)
    limit = {} if max_pixels is None else {"max_pixels": max_pixels}
    source = read_image(path, mode, **limit)
    _stop_if(should_cancel)
    if decoded is not None:
        decoded(source)
    from core.measure import ImageMeasures, shared_pool

    # What the numbers compare against depends on the image only: made while torch imports.
    image_measures = ImageMeasures(source).start(executor or shared_pool())
    progress(f"decomposing {source.width}×{source.height}…", 0, 0)
    from core.svd import decompose  # torch is imported here, off the event loop

    def step(done: int, total: int) -> None:
        progress(f"decomposing: {100 * done // max(total, 1)} %", done, total)

    # quick: a large photo first serves its small ranks from a small sketch; refine() does the rest.
    dec = decompose(source.pixels, device=device, progress=step, quick=True, should_cancel=should_cancel)
    return Loaded(source, mode, dec, *_curves(dec), image_measures=image_measures)


def refine(loaded: Loaded, should_cancel: ShouldCancel) -> Loaded:
    """The next, more exact decomposition of the same image (see core.svd.Decomposition.refine)."""
    _stop_if(should_cancel)
    dec = loaded.dec.refine(should_cancel=should_cancel)
    return Loaded(loaded.source, loaded.mode, dec, *_curves(dec), image_measures=loaded.image_measures)


def measure_rank(loaded: Loaded, rank: int, executor=None, read_ahead_executor=None, *,
                 read_ahead: int | None = None) -> Iterator[dict]:
    """The figures of one rank as core.measure yields them: cheapest first, each dict holding the
    figures just ready, named as `svdlens report --json` names them (a test holds the numbers
    equal). The same path as `svdlens report`; the image's measuring context is loaded's own, so
    what does not depend on the rank is done once. Stop iterating (or close()) to abandon the
    rest: work not started for this rank is then cancelled. read_ahead: a rank to measure
    meanwhile on cores this one leaves idle (the one the next key press is likely to show), or None."""
    from core.measure import measure_rank as measure

    return measure(loaded.measure_context(executor, read_ahead_executor), rank, read_ahead=read_ahead)


def resolve_target(loaded: Loaded, kind: str, value: float) -> tuple[int, str]:
    """The rank for an energy share, a PSNR (dB) or a byte budget, and the sentence that says so."""
    dec, bit_depth = loaded.dec, loaded.source.bit_depth
    if kind == "energy":
        from core.select import rank_for_energy

        rank = rank_for_energy(dec, value)
        return rank, (f"rank {rank} keeps {loaded.energy[rank - 1] * 100:.3f} % of the energy "
                      f"(asked {value * 100:g} %)")
    if kind == "psnr":
        from core.select import rank_for_reconstruction_psnr

        rank = rank_for_reconstruction_psnr(dec, value, bit_depth=bit_depth)
        return rank, f"rank {rank} is the smallest with PSNR ≥ {value:g} dB"
    from core.svdz import rank_for_max_bytes

    rank = rank_for_max_bytes(dec, int(value), bit_depth=bit_depth)
    return rank, f"rank {rank} is the largest whose .svdz fits in {int(value):,} bytes".replace(",", " ")


def exact_factors(loaded: Loaded, should_cancel: ShouldCancel) -> tuple[object, str]:
    """The decomposition an export is made from, and a note when it had to be computed.

    Exports are exact (issue 5): quick or randomized factors only serve the preview.
    """
    dec = loaded.dec
    if dec.exact:
        return dec, ""
    from core.svd import decompose

    exact = decompose(loaded.source.pixels, colour_space=None if dec.colour_space == "grey" else dec.colour_space,
                      method="exact", device=dec.device, should_cancel=should_cancel)
    return exact, " · exact SVD computed for the export"


def check_save_path(loaded: Loaded, path: Path) -> None:
    """Refuse, before any work, a path that must not be written (the input, an unknown suffix...)."""
    from core.outputs import check_output

    check_output(path, loaded.source.path)


def save(loaded: Loaded, rank: int, path: Path, dec) -> int:
    """Write the rank-r reconstruction (by suffix) or the .svdz of dec atomically; returns the bytes written.

    Through core.measure.save_rank, as `svdlens compress` writes: from loaded's own measuring
    context when dec is loaded's decomposition (the .svdz or pixels just measured are reused).
    """
    from core.measure import MeasureContext, save_rank

    check_save_path(loaded, path)
    context = loaded.measure_context() if dec is loaded.dec else MeasureContext(loaded.source, dec)
    return save_rank(context, rank, path).size_bytes


class SaveTracker:
    """The saves asked for and the saves writing now, counted from any thread.

    Quitting waits for a save that writes (it writes atomically either way), never for one that
    is still computing its exact SVD (that is abandoned). Use:

        ticket = tracker.ask()       # on the UI thread, when the save is asked for
        with ticket:                 # in the worker: uncounted when it ends, however it ends
            ...compute...
            with ticket.writing():   # quitting waits while this block runs
                ...write...
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._asked = 0
        self._writing = 0

    def counts(self) -> tuple[int, int]:
        """(saves asked for and not writing, saves writing now)."""
        with self._lock:
            return self._asked, self._writing

    def _move(self, asked: int, writing: int) -> None:
        with self._lock:
            self._asked += asked
            self._writing += writing

    def ask(self) -> SaveTicket:
        """Count a save from now until its worker's `with ticket:` block ends."""
        self._move(1, 0)
        return SaveTicket(self)


class SaveTicket:
    """One save's place in a SaveTracker (see there)."""

    def __init__(self, tracker: SaveTracker) -> None:
        self._tracker = tracker

    def __enter__(self) -> SaveTicket:
        return self

    def __exit__(self, *exc_info) -> None:
        self._tracker._move(-1, 0)

    @contextmanager
    def writing(self) -> Iterator[None]:
        self._tracker._move(-1, 1)
        try:
            yield
        finally:
            self._tracker._move(1, -1)
