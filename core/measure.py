"""Measuring a rank: every figure of the rank table, yielded as it is ready, cheapest first.

The one measurement path for `svdlens report` and the app. Make a `MeasureContext` once per
image and decomposition: it holds what does not depend on the rank (the original's integers
and SSIM statistics, the JPEG files tried so far, the figures of ranks already measured).
`measure_rank(context, rank)` is a generator of small dicts {name: value}, each holding the
figures that have just become ready; names are those of `svdlens report --json` (FIGURES).

    context = MeasureContext(src, dec)
    for figures in measure_rank(context, 50):
        table.update(figures)          # or: if stale: break

Abandoning: stop iterating (break, or close() the generator; a generator that is dropped is
closed too), or pass cancelled=callable, checked between figures. Work not yet started for
that rank is then cancelled; an encode already running finishes in its thread and is dropped.
Independent encodes (PNG, .svdz, JPEG) run concurrently on a small thread pool: OpenCV, zlib
and numpy release the GIL. Nothing is computed twice for one rank: the rounded reconstruction
feeds PSNR, SSIM and the PNG; the .svdz bytes and decoded pixels are kept for a save.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from . import svdz
from .imageio import SourceImage
from .pixels import to_integer
from .jpeg import CodecLadder
from .metrics import Reference, energy_from_residual, relative_error_from_residual
from .outputs import check_output, encode_samples, output_kind, write_atomic
from .svd import Decomposition, Rank

# Every figure measure_rank yields, cheapest first (report --json names; the last three are not in the report).
FIGURES = {
    "rank": "the rank of every channel (the luma rank with a chroma rank)",
    "channel_ranks": "the rank of each channel",
    "energy": "kept share of Σσ², in [0, 1], from the singular values",
    "relative_error": "‖A − A_r‖_F / ‖A‖_F (unclipped), from the singular values",
    "original_bytes": "the original file",
    "raw_bytes": "H·W·C samples (two bytes each at 16 bits)",
    "factors_float32_bytes": "the rank-r factors as float32: r·(m + n + 1)·4 per channel",
    "psnr_db": "PSNR (dB) of the reconstruction as saved (rounded to the bit depth); inf when identical",
    "ssim": "SSIM of the reconstruction as saved; None below the 11×11 window",
    "png_bytes": "the reconstruction saved as PNG",
    "container_bytes": "the .svdz file",
    "container_psnr_db": "PSNR (dB) of the .svdz file as decoded",
    "jpeg_bytes": "the best JPEG within the .svdz's bytes (None when even quality 1 is larger)",
    "jpeg_quality": "its quality setting, 1..100",
    "jpeg_psnr_db": "its PSNR (dB)",
    "jpeg_ssim": "its SSIM",
    "psnr_estimate_db": "PSNR (dB) of the unclipped reconstruction from the singular values alone",
    "container_ssim": "SSIM of the .svdz file as decoded",
    "jpeg_subsampling": "the JPEG's chroma subsampling: 4:2:0, 4:4:4 or grey",
}
# What `svdlens report` shows: its JSON schema.
REPORT_FIGURES = frozenset(FIGURES) - {"psnr_estimate_db", "container_ssim", "jpeg_subsampling"}
_JPEG = ("jpeg_bytes", "jpeg_quality", "jpeg_psnr_db", "jpeg_ssim", "jpeg_subsampling")
_KEPT_RANKS = 64  # ranks whose figures are kept (a few hundred bytes each)

_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_ahead_pool: ThreadPoolExecutor | None = None
_KEPT_WORK = 3  # ranks whose jobs and arrays are kept: the shown one, the one read ahead, the one before
# The read-ahead starts a job only while fewer than this many jobs are queued or running (those
# someone waits for, a shown rank or a report row, and its own): it takes the cores they leave idle.
FREE_CORES = max(1, os.cpu_count() or 1)
_in_flight = {"waited for": 0, "ahead": 0}  # jobs queued or running, by who started them
_in_flight_changed = threading.Condition()


def shared_pool() -> ThreadPoolExecutor:
    """The process's measuring threads: one per core (encoders and filters are CPU-bound)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="svdlens-measure")
        return _pool


def read_ahead_threads() -> int:
    """Threads a read-ahead executor needs: one that starts the jobs, one per core that runs them."""
    return FREE_CORES + 1


def shared_read_ahead_pool() -> ThreadPoolExecutor:
    """The process's read-ahead threads (see MeasureContext.read_ahead)."""
    global _ahead_pool
    with _pool_lock:
        if _ahead_pool is None:
            _ahead_pool = ThreadPoolExecutor(max_workers=read_ahead_threads(), thread_name_prefix="svdlens-read-ahead")
        return _ahead_pool


def _count(kind: str, future: Future) -> None:
    """Count a job of kind ("waited for": someone waits for it; "ahead": the read-ahead's) until it
    is done or cancelled."""
    with _in_flight_changed:
        _in_flight[kind] += 1
    future.add_done_callback(lambda _future: _uncount(kind))


def _uncount(kind: str) -> None:
    with _in_flight_changed:
        _in_flight[kind] -= 1
        _in_flight_changed.notify_all()


# The jobs that measure a rank (beyond what the singular values give), each run once per rank by
# whoever needs it first, and the figures each one gives.
_JOB_FIGURES = {
    "png": ("png_bytes",),
    "psnr": ("psnr_db",),
    "container": ("container_bytes",),
    "ssim": ("ssim",),
    "jpeg": _JPEG,
    "container_psnr": ("container_psnr_db",),
    "container_ssim": ("container_ssim",),
}
# The order jobs are started in: the PNG encode first, as it is the longest (about two thirds of a
# rank's CPU time) and one core does it; the rest follow on the pool's other threads (on two cores:
# one after another on the other core), cheapest figure first. A rank's jobs then finish about when
# its PNG does, and no third thread slows the PNG.
_JOB_ORDER = tuple(_JOB_FIGURES)


class _RankWork:
    """One rank's jobs (futures by job name) and arrays, shared by everyone measuring that rank."""

    def __init__(self) -> None:
        self.jobs: dict[str, Future] = {}
        self.saved: Future | None = None  # the reconstruction rounded to the bit depth, integers in BGR order
        self.container: Future | None = None  # (.svdz bytes, its decoded integers in BGR order)


class ImageMeasures:
    """What measuring needs of the original alone, shared by every decomposition of one image
    (the app's quick sketch, top 500, exact SVD): the reference (its integers and SSIM's local
    statistics) and the JPEG ladder. Each is made on first use; start() makes the reference
    early on another thread (the app does it while torch imports)."""

    def __init__(self, src: SourceImage) -> None:
        self.src = src
        self._lock = threading.Lock()
        self._reference: Future | None = None
        self._jpeg: CodecLadder | None = None

    def start(self, executor: ThreadPoolExecutor) -> ImageMeasures:
        """Begin making the reference on executor; returns self."""
        with self._lock:
            if self._reference is None:
                self._reference = executor.submit(original_reference, self.src, prepare=True)
        return self

    @property
    def reference(self) -> Reference:
        with self._lock:
            mine = self._reference is None
            if mine:
                self._reference = Future()
            future = self._reference
        if mine:
            _fill(future, original_reference, self.src)
        return future.result()  # waited for without the lock held

    @property
    def jpeg(self) -> CodecLadder:
        reference = self.reference
        with self._lock:
            if self._jpeg is None:
                eight = reference.samples if reference.samples.dtype == np.uint8 and reference.top == 255 else None
                if eight is None:
                    ints = to_integer(self.src.pixels, 8)
                    eight = np.ascontiguousarray(ints[..., ::-1]) if ints.ndim == 3 else ints
                self._jpeg = CodecLadder(samples=eight, reference=reference)
            return self._jpeg


class MeasureContext:
    """What measuring any rank of one image and decomposition needs, prepared once and kept.

    Cheap to make: each part is computed on first use. Safe to share between threads (the
    app's measure worker, a save, an abandoned worker still finishing an encode, the read-ahead).
    A job of a rank (its PNG, its .svdz, its SSIM...) runs once however many ask for it: a
    later request joins the running one.
    """

    def __init__(self, src: SourceImage, dec: Decomposition, *, executor: ThreadPoolExecutor | None = None,
                 read_ahead_executor: ThreadPoolExecutor | None = None, image: ImageMeasures | None = None) -> None:
        """image: the ImageMeasures of src when another decomposition of it was measured (or its
        reference started early); None makes a new one."""
        if tuple(src.pixels.shape) != tuple(dec.shape):
            raise ValueError(f"the image ({src.pixels.shape}) and its decomposition ({dec.shape}) differ in shape")
        if image is not None and image.src is not src:
            raise ValueError("image measures of another image")
        self.src, self.dec = src, dec
        self.image = image or ImageMeasures(src)
        self.bit_depth = src.bit_depth
        self.top = 65535 if src.bit_depth == 16 else 255
        self.executor = executor or shared_pool()
        self.read_ahead_executor = read_ahead_executor or shared_read_ahead_pool()
        self._lock = threading.Lock()
        self._figures: OrderedDict[tuple[int, ...], dict] = OrderedDict()
        self._work: OrderedDict[tuple[int, ...], _RankWork] = OrderedDict()
        self._ahead: tuple[tuple[int, ...], bool] | None = None  # (ranks, with JPEG SSIM) to read ahead
        self._ahead_running = False

    # ---- what does not depend on the rank ------------------------------------------------------
    @property
    def reference(self) -> Reference:
        """The original in OpenCV's channel order, as integers at its bit depth."""
        return self.image.reference

    @property
    def jpeg(self) -> CodecLadder:
        """The image's JPEG files by quality: every budget search reuses the earlier encodes."""
        return self.image.jpeg

    # ---- one rank's pixels and files -------------------------------------------------------------
    def channel_ranks(self, rank: Rank) -> tuple[int, ...]:
        return self.dec.channel_ranks(rank)

    def _rank_work(self, ranks: tuple[int, ...]) -> _RankWork:
        """This rank's jobs and arrays (call with the lock held); only the last few ranks' are kept."""
        work = self._work.get(ranks)
        if work is None:
            work = self._work[ranks] = _RankWork()
            while len(self._work) > _KEPT_WORK:
                self._work.popitem(last=False)
        self._work.move_to_end(ranks)
        return work

    def _shared(self, ranks: tuple[int, ...], slot: str, fn, *args):
        """One of the rank's arrays: computed by the first caller, waited for by the others."""
        with self._lock:
            work = self._rank_work(ranks)
            future = getattr(work, slot)
            mine = future is None
            if mine:
                future = Future()
                setattr(work, slot, future)
        if mine:
            _fill(future, fn, *args)
        return future.result()

    def saved_integers(self, rank: Rank, bit_depth: int | None = None) -> np.ndarray:
        """The rank-r image as saved: clipped, rounded to bit_depth (default the image's), BGR order."""
        ranks = self.channel_ranks(rank)
        depth = self.bit_depth if bit_depth is None else bit_depth
        if depth != self.bit_depth:
            return _saved_integers(self.dec, ranks, depth)
        return self._shared(ranks, "saved", _saved_integers, self.dec, ranks, depth)

    def container(self, rank: Rank) -> tuple[bytes, np.ndarray]:
        """The .svdz bytes at this rank and the integers they decode to (BGR order)."""
        ranks = self.channel_ranks(rank)
        return self._shared(ranks, "container", _container, self.dec, ranks, self.bit_depth)

    def known_figures(self, rank: Rank) -> dict:
        """The figures already measured for this rank (a copy)."""
        with self._lock:
            return dict(self._figures.get(self.channel_ranks(rank), {}))

    def measured_figures(self) -> dict[tuple[int, ...], dict]:
        """Every kept rank's figures so far, by channel ranks (copies)."""
        with self._lock:
            return {ranks: dict(figures) for ranks, figures in self._figures.items()}

    def _remember(self, ranks: tuple[int, ...], figures: dict) -> None:
        with self._lock:
            kept = self._figures.setdefault(ranks, {})
            kept.update(figures)
            self._figures.move_to_end(ranks)
            while len(self._figures) > _KEPT_RANKS:
                self._figures.popitem(last=False)

    # ---- a rank's jobs, shared by whoever asks ------------------------------------------------------
    def _run_job(self, ranks: tuple[int, ...], name: str, with_ssim: bool) -> dict:
        """Run one job of a rank on this thread; its figures are returned and remembered."""
        if name in ("png", "psnr", "ssim"):
            saved = self.saved_integers(ranks)
            if name == "png":
                figures = {"png_bytes": _png_bytes(saved)}
            elif name == "psnr":
                figures = {"psnr_db": self.reference.psnr(saved, self.top)}
            else:
                value = self.reference.ssim(saved, self.top)
                figures = {"ssim": None if value is None else float(value)}
        else:
            data, decoded = self.container(ranks)
            if name == "container":
                figures = {"container_bytes": len(data)}
            elif name == "container_psnr":
                figures = {"container_psnr_db": self.reference.psnr(decoded, self.top)}
            elif name == "container_ssim":
                value = self.reference.ssim(decoded, self.top)
                figures = {"container_ssim": None if value is None else float(value)}
            else:
                figures = _jpeg_figures(self, len(data), with_ssim)
        self._remember(ranks, figures)
        return figures

    def _job(self, ranks: tuple[int, ...], name: str, with_ssim: bool,
             pool: ThreadPoolExecutor) -> tuple[Future, bool]:
        """(the job's future, whether this call started it on pool): a job queued, running or done is joined."""
        key = name if name != "jpeg" or with_ssim else "jpeg without SSIM"
        with self._lock:
            work = self._rank_work(ranks)
            future = work.jobs.get(key)
            if future is not None and not future.cancelled():
                return future, False
            future = work.jobs[key] = pool.submit(self._run_job, ranks, name, with_ssim)
            return future, True

    # ---- reading ahead -----------------------------------------------------------------------------
    def read_ahead(self, rank: Rank | None, *, with_ssim: bool = True) -> None:
        """Measure rank in the background on cores left idle, so that asking for it next finds its
        figures ready or under way (the app reads ahead the rank a key press would go to next).

        One rank at a time: a new call (or None) replaces a rank not reached yet; jobs running
        finish. It starts a job only on a core left idle (FREE_CORES, less the jobs someone waits
        for and its own), so it never queues ahead of them; a job it started that someone then
        asks for is joined, at the same priority as theirs. read_ahead_executor needs
        read_ahead_threads() threads."""
        ranks = None if rank is None else self.channel_ranks(rank)
        with self._lock:
            self._ahead = None if ranks is None else (ranks, with_ssim)
            if ranks is None or self._ahead_running:
                return
            self._ahead_running = True
        try:
            self.read_ahead_executor.submit(self._read_ahead_loop)
        except RuntimeError:  # the executor is shut down: the process is ending
            with self._lock:
                self._ahead_running = False

    def _read_ahead_loop(self) -> None:
        """Start the wanted rank's jobs on the read-ahead threads, one per idle core, longest first."""
        while True:
            with self._lock:
                if self._ahead is None:
                    self._ahead_running = False
                    return
                target = self._ahead
            ranks, with_ssim = target
            for name in _JOB_ORDER:
                if not self._wait_for_a_free_core(target):
                    break  # another rank was asked for meanwhile
                future, mine = self._job(ranks, name, with_ssim, self.read_ahead_executor)
                if mine:
                    _count("ahead", future)
            else:
                with self._lock:
                    if self._ahead == target:
                        self._ahead = None

    def _wait_for_a_free_core(self, target) -> bool:
        """Wait until a core is idle (no job someone waits for or read ahead on it); False if target is
        no longer wanted."""
        with _in_flight_changed:
            while sum(_in_flight.values()) >= FREE_CORES:
                if not _still_wanted(self, target):
                    return False
                _in_flight_changed.wait(0.1)
        return _still_wanted(self, target)


def _still_wanted(context: MeasureContext, target) -> bool:
    with context._lock:
        return context._ahead == target


def original_reference(src: SourceImage, *, prepare: bool = False) -> Reference:
    """The original as the measurements compare against it (integers at its bit depth, BGR):
    depends on the image only, so it can be made before the SVD is. prepare=True also computes
    SSIM's local statistics of it now (otherwise the first SSIM does; `compress` needs none)."""
    depths = (src.bit_depth,) + tuple(d for d in (8, 16) if d != src.bit_depth)
    reference = Reference.of_pixels(src.pixels, bit_depths=depths, bgr=True)
    return reference.prepare() if prepare else reference


def _fill(future: Future, fn, *args) -> None:
    try:
        future.set_result(fn(*args))
    except BaseException as exc:  # handed to whoever waits on it
        future.set_exception(exc)
        raise


def _saved_integers(dec: Decomposition, ranks: tuple[int, ...], bit_depth: int) -> np.ndarray:
    """dec.reconstruct(ranks) rounded as imageio.as_saved rounds it, straight to integers in BGR
    order: one product per channel, clipped and rounded by torch, no full-size float copies."""
    top = 65535 if bit_depth == 16 else 255
    dtype = np.uint16 if bit_depth == 16 else np.uint8
    if dec.colour_space == "ycbcr":  # the planes mix before clipping: the general path
        ints = to_integer(dec.reconstruct(ranks), bit_depth)
        return np.ascontiguousarray(ints[..., ::-1])
    out = np.empty(dec.shape, dtype=dtype)
    for i, (c, r) in enumerate(zip(dec.channels, ranks)):
        # The same product and float32 rounding as Decomposition.reconstruct and imageio.to_integer.
        plane = ((c.u[:, :r] * c.s[:r]) @ c.v[:, :r].T).clamp_(0.0, 1.0).mul_(float(top)).round_()
        plane = plane.cpu().numpy()
        if out.ndim == 2:
            out[...] = plane
        else:
            out[..., out.shape[2] - 1 - i] = plane  # RGB plane i → BGR
        del plane
    return out


def _container(dec: Decomposition, ranks: tuple[int, ...], bit_depth: int) -> tuple[bytes, np.ndarray]:
    """The .svdz bytes and the integers they decode to.

    The pixels come from the quantised factors the bytes were made from, through the decoder's
    own reconstruction (svdz._decoded_integers), so they equal svdz.decode(data) without inflating
    and parsing the file again (tests/test_measure.py holds them equal).
    """
    spec = ranks[0] if len(set(ranks)) == 1 else ranks
    quantised = svdz._quantise(dec, spec, bit_depth)
    data = svdz._pack(quantised, bit_depth)
    return data, svdz._decoded_integers(quantised, bit_depth, bgr=True)


# ---- measuring -----------------------------------------------------------------------------------
def measure_rank(context: MeasureContext, rank: Rank, *, figures: Iterable[str] | None = None,
                 cancelled: Callable[[], bool] | None = None, read_ahead: Rank | None = None) -> Iterator[dict]:
    """Yield the figures of one rank as they become ready, cheapest first: {name: value} dicts.

    rank: an int, one per channel, or (luma, chroma) for YCbCr; RankError when out of range.
    figures: the names wanted (default all of FIGURES); work nobody asked for is not done.
    cancelled: checked between figures; when it returns True the generator ends.
    Figures of a rank measured before on this context come back at once; a job another caller
    (the read-ahead, an abandoned measurement) is running is joined, not started again.
    read_ahead: a rank to measure next on the cores this one leaves idle (MeasureContext.read_ahead),
    asked for once this rank's own jobs are counted, so that it never takes their place.
    """
    dec, src = context.dec, context.src
    ranks = context.channel_ranks(rank)
    want = set(FIGURES) if figures is None else set(figures)
    unknown = want - set(FIGURES)
    if unknown:
        raise ValueError(f"unknown figure(s): {', '.join(sorted(unknown))}")
    stop = cancelled or (lambda: False)
    known = context.known_figures(ranks)

    def out(values: dict) -> dict:
        values = {k: v for k, v in values.items() if k in want}
        context._remember(ranks, values)
        return values

    residual = float(dec.residual_energy(ranks).sum())
    cheap = {
        "rank": ranks[0], "channel_ranks": ranks,
        "energy": float(energy_from_residual(dec, residual)),
        "relative_error": float(relative_error_from_residual(dec, residual)),
        "original_bytes": src.file_bytes, "raw_bytes": src.raw_bytes,
        "factors_float32_bytes": dec.factor_bytes(ranks),
        "psnr_estimate_db": float(dec.psnr_estimate(ranks)),
    }
    first = out(cheap)
    if first:
        yield first
    ready = {k: known[k] for k in want if k in known}
    if ready:
        yield ready
    todo = want - set(cheap) - set(ready)
    if not todo or stop():
        context.read_ahead(read_ahead)
        return

    with_ssim = "jpeg_ssim" in want
    needed = [name for name in _JOB_ORDER if todo & set(_JOB_FIGURES[name])]
    pending: dict[Future, str] = {}
    started: list[Future] = []  # the jobs this call put on the pool

    def finished(block: bool) -> Iterator[dict]:
        """Figures of the jobs that are done (waiting for one when block)."""
        if not pending:
            return
        done, _ = wait(list(pending), timeout=None if block else 0, return_when=FIRST_COMPLETED)
        # In job order: a .svdz's size before the figures that waited for its file.
        for future in sorted(done, key=lambda f: _JOB_ORDER.index(pending[f])):
            name = pending.pop(future)
            if future.cancelled():  # the caller who started it moved on before it ran: start it again
                again, mine = context._job(ranks, name, with_ssim, pool=context.executor)
                pending[again] = name
                if mine:
                    _count("waited for", again)
                    started.append(again)
                continue
            values = out(future.result())
            if values:
                yield values
                if stop():
                    return  # the rest of done stays unread: the caller has moved on

    try:
        # Every job on the pool, in _JOB_ORDER (one the read-ahead started is joined instead).
        for name in needed:
            future, mine = context._job(ranks, name, with_ssim, context.executor)
            pending[future] = name
            if mine:
                _count("waited for", future)
                started.append(future)
        context.read_ahead(read_ahead)
        while pending:
            if stop():
                return
            yield from finished(block=True)
    finally:
        for future in started:
            future.cancel()  # not started yet: never runs (and starts again when asked for); running: finishes


def _png_bytes(ints: np.ndarray) -> int:
    return len(encode_samples(ints, ".png"))


def _jpeg_figures(context: MeasureContext, budget: int, with_ssim: bool) -> dict:
    result = context.jpeg.at_budget(budget, with_ssim=with_ssim)
    if result is None:
        return dict.fromkeys(_JPEG)
    return {"jpeg_bytes": int(result.size_bytes), "jpeg_quality": int(result.quality),
            "jpeg_psnr_db": float(result.psnr_db), "jpeg_ssim": None if result.ssim is None else float(result.ssim),
            "jpeg_subsampling": result.subsampling}


def measure_all(context: MeasureContext, rank: Rank, *, figures: Iterable[str] | None = None,
                read_ahead: Rank | None = None) -> dict:
    """Every figure asked for, collected: what `svdlens report` puts in a row."""
    values: dict = {}
    for part in measure_rank(context, rank, figures=figures, read_ahead=read_ahead):
        values.update(part)
    return values


# ---- saving ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Saved:
    """A file written for a rank: where, how many bytes, and the PSNR of its pixels as decoded."""

    path: Path
    size_bytes: int
    psnr_db: float  # of the file as written (a JPEG loses more than the reconstruction)
    ranks: tuple[int, ...]


def save_rank(context: MeasureContext, rank: Rank, path: str | Path,
              announce: Callable[[Saved], None] | None = None) -> Saved:
    """Write the rank-r image (.png/.jpg/.jpeg/.webp by suffix) or its .svdz, atomically, never over
    the input; the bytes are encoded and measured before anything is written. Reuses what
    measuring this rank already made (the rounded pixels, the .svdz).

    announce: called with the result once the bytes are safely in a temporary file, before the
    rename; if it raises, nothing is written (write_atomic's before_replace)."""
    path = check_output(path, context.src.path)
    ranks = context.channel_ranks(rank)
    suffix = path.suffix.lower()
    if output_kind(path) == "svdz":
        data, decoded = context.container(ranks)
        quality = context.reference.psnr(decoded, context.top)
    else:
        depth = context.bit_depth if suffix == ".png" else 8
        ints = context.saved_integers(ranks, depth)
        data = encode_samples(ints, suffix)
        top = 65535 if depth == 16 else 255
        if suffix in (".jpg", ".jpeg"):
            ints = _decoded_image(data, ints.ndim == 2)
        quality = context.reference.psnr(ints, top)  # PNG and lossless WebP hold these very integers
    saved = Saved(path=path, size_bytes=len(data), psnr_db=quality, ranks=ranks)
    # last: a failure before it leaves no file behind
    hook = None if announce is None else (lambda: announce(saved))
    write_atomic(path, data, context.src.path, before_replace=hook)
    return saved


def _decoded_image(data: bytes, grey: bool) -> np.ndarray:
    import cv2

    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR)
