"""`svdlens report` over many photos in one process: finding them, measuring each, the summary.

torch, OpenCV and matplotlib are imported once for the whole run. Each photo is prepared
(read and decomposed) and then its ranks are measured. Up to `--jobs` photos are measured at
once (one by default), and the next photo is prepared meanwhile, so that both cores stay busy
(measuring leaves one idle while a PNG or JPEG is encoded), but only when the photos in
flight fit in the memory the run's largest photo needs alone, estimated from the files'
headers before any work (MemoryGate): nothing else is in memory while the largest photo is
measured; smaller ones overlap.
The main thread only waits, prints finished results in input order and draws the progress,
so ctrl-c acts at once. A photo that cannot be read or measured costs one line on stderr and
is skipped; pages are written whole or not at all (core.page).
"""

from __future__ import annotations

import functools
import json
import os
import queue
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

# First bytes of the formats OpenCV reads (and a .svdz, which is a zip): a folder's images
# are found by what they are, not by what they are called.
_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*", b"BM",
          b"P1", b"P2", b"P3", b"P4", b"P5", b"P6", b"\x00\x00\x00\x0cjP  ", b"\xff\x4f\xff\x51")
# A file with one of these names is taken even when its bytes are not an image: a broken
# photo is reported as broken, not silently left out.
_PHOTO_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".jpe", ".webp", ".bmp", ".dib", ".tif", ".tiff", ".gif",
                             ".pgm", ".ppm", ".pbm", ".pnm", ".jp2", ".svdz"})


def looks_like_image(path: Path) -> bool:
    """True for a file whose first bytes are an image format's (or a .svdz, or named like a photo)."""
    if path.suffix.lower() in _PHOTO_SUFFIXES:
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return False
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    if head[:2] in (b"P1", b"P2", b"P3", b"P4", b"P5", b"P6"):
        return len(head) > 2 and head[2:3] in b" \t\r\n"  # a PNM header, not any text starting with P5
    return any(head.startswith(m) for m in _MAGIC)


@dataclass
class Found:
    """The photos a command line names, in order, and what could not be looked at."""

    photos: list[Path] = field(default_factory=list)
    problems: list[tuple[Path, str]] = field(default_factory=list)  # (path, one-line reason)
    left_out: int = 0  # files in folders that are not images


def _natural_key(path: Path):
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def find_photos(paths: list[str], recursive: bool = False) -> Found:
    """Files as given; folders' images by content (hidden files skipped), sub-folders only when recursive."""
    found = Found()
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            found.photos.append(path)

    def walk(folder: Path) -> None:
        try:
            entries = sorted(folder.iterdir(), key=_natural_key)
        except OSError as exc:
            found.problems.append((folder, f"cannot list the folder ({exc.strerror or exc})"))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir():
                    if recursive and not entry.is_symlink():  # a link loop would never end
                        walk(entry)
                    continue
                if not entry.is_file():
                    continue
            except OSError:
                continue
            if looks_like_image(entry):
                add(entry)
            else:
                found.left_out += 1

    for text in paths:
        path = Path(text)
        try:
            is_dir = path.is_dir()
        except OSError:
            is_dir = False
        if is_dir:
            walk(path)
        else:
            add(path)  # reading it tells what is wrong with it, if anything
    return found


# ---- progress --------------------------------------------------------------------

class BatchProgress:
    """photo k of n with time left, and a line per worker naming its photo and step; stderr, terminals only."""

    def __init__(self, total: int, jobs: int, lock: threading.Lock | None = None) -> None:
        self._progress = None
        self._overall = None
        self._slots: list = []
        # Held while a photo is decoded with fd 2 captured (decoder warnings become notes): the
        # display is then not drawn, or it would be taken for the decoder's words.
        self.lock = lock or threading.Lock()
        if sys.stderr is not None and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TimeRemainingColumn(elapsed_when_finished=True),
                                      console=Console(stderr=True), transient=True, auto_refresh=False)
            self._overall = self._progress.add_task("photos", total=total)
            self._slots = [self._progress.add_task("", total=None, visible=False) for _ in range(jobs)]

    def __enter__(self):
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()

    def draw(self) -> None:
        """Redraw the display (the main thread, every tenth of a second), unless stderr is captured now."""
        if self._progress is not None and self.lock.acquire(blocking=False):
            try:
                self._progress.refresh()
            finally:
                self.lock.release()

    def step(self, slot: int, text: str, done: int | None = None, total: int | None = None) -> None:
        if self._progress is not None:
            self._progress.update(self._slots[slot], description=f"  {text}", completed=done or 0, total=total,
                                  visible=True)

    def callback(self, slot: int, text: str):
        if self._progress is None:
            return None
        return lambda done, total: self.step(slot, text, done, total)

    def photo_done(self, slot: int) -> None:
        if self._progress is not None:
            self._progress.update(self._slots[slot], visible=False)
            self._progress.advance(self._overall)


# ---- memory: which photos may be in flight together ----------------------------------

# Pillow modes OpenCV decodes to one channel; anything else is taken as colour (the larger need).
_ONE_CHANNEL_MODES = frozenset({"1", "L", "I", "F", "I;16", "I;16B", "I;16L", "I;16N"})


def photo_need(path: Path, grey: bool, max_pixels: int):
    """core.summary.MemoryNeed of a photo from its header (Pillow reads no pixels); None if unknown.

    A photo whose header declares more pixels than allowed needs nothing: reading it fails
    before any pixel is decoded.
    """
    import warnings

    from PIL import Image

    from core.summary import MemoryNeed, memory_need

    try:
        if not path.is_file():  # a FIFO would block here; read_image says what is wrong with it
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DecompressionBombWarning: read_image applies its own limit
            with Image.open(path) as im:
                width, height, mode = im.width, im.height, im.mode
    except Exception:  # noqa: BLE001 - not readable by Pillow (.svdz, a broken file): size unknown
        return None
    if width * height > max_pixels:
        return MemoryNeed(0, 0)
    return memory_need(width, height, 1 if grey or mode in _ONE_CHANNEL_MODES else 3)


class MemoryGate:
    """Lets photos into memory so that a run never needs more than `jobs` times its largest photo alone.

    Each photo is prepared (read, decomposed), then measured. Photos start in input order, one
    being prepared at a time, and up to `jobs` are measured at once. A photo in flight holds its
    estimated need (core.summary.MemoryNeed, at most: the prepare phase's, then its whole
    summary's). Up to `jobs` photos move on to measuring while what is held stays within `jobs`
    times the largest photo's estimated need; a photo starts being prepared beside others only
    while what is held stays within `jobs` times the least the largest photo takes alone (the
    estimates' other side). So with `jobs` 1 the next photo is read and decomposed while this one's
    ranks are measured only when the two, each at its most, fit in what the largest photo takes at
    its least, and the run's peak stays within the largest photo's own; nothing else is in memory
    while the largest is measured. A photo whose size is unknown counts as the largest. With
    nothing in flight any photo may start.
    """

    def __init__(self, needs: list, jobs: int, cancel: threading.Event) -> None:
        from core.summary import MemoryNeed

        known = [n for n in needs if n is not None]
        largest = max((n.summary for n in known), default=0) or 1
        least = max((n.summary_at_least for n in known), default=0) or 1
        self.budget = jobs * largest  # what may be held once photos move on to measuring
        self.start_budget = jobs * min(least, largest)  # what may be held once a photo starts beside others
        self.needs = [n if n is not None else MemoryNeed(largest, largest) for n in needs]
        self.jobs, self.cancel = jobs, cancel
        self._cond = threading.Condition()
        self._next = 0  # the next photo to start
        self._preparing: int | None = None
        self._measuring: set[int] = set()
        self._held = 0
        # (photo, the photos in flight as it started), in the order they started: what the tests look at.
        self.starts: list[tuple[int, frozenset[int]]] = []

    def start(self) -> int | None:
        """The next photo, once it may be prepared; None when none is left or the run is cancelled."""
        with self._cond:
            while not self.cancel.is_set() and self._next < len(self.needs):
                need = self.needs[self._next].prepare
                idle = self._preparing is None and not self._measuring
                if idle or (self._preparing is None and self._held + need <= self.start_budget):
                    i, self._next = self._next, self._next + 1
                    self.starts.append((i, frozenset(self._measuring)))
                    self._preparing, self._held = i, self._held + need
                    return i
                self._cond.wait(0.1)
            return None

    def measure(self, i: int) -> bool:
        """Wait until photo i (prepared) may be measured; False if the run is cancelled meanwhile."""
        need = self.needs[i]
        with self._cond:
            while not self.cancel.is_set():
                if not self._measuring or (len(self._measuring) < self.jobs
                                           and self._held - need.prepare + need.summary <= self.budget):
                    self._preparing = None
                    self._measuring.add(i)
                    self._held += need.summary - need.prepare
                    self._cond.notify_all()  # the next photo may start being prepared
                    return True
                self._cond.wait(0.1)
            return False

    def done(self, i: int) -> None:
        """Photo i has left memory (finished, failed or cancelled)."""
        need = self.needs[i]
        with self._cond:
            if self._preparing == i:
                self._preparing = None
                self._held -= need.prepare
            elif i in self._measuring:
                self._measuring.discard(i)
                self._held -= need.summary
            self._cond.notify_all()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()


# ---- the run ---------------------------------------------------------------------

@dataclass
class Options:
    ranks: list[int]
    energy: float
    psnr_db: float
    grey: bool = False
    ycbcr: bool = False
    fast: bool = False
    device: str = "auto"
    max_pixels: int | None = None
    jobs: int = 1
    pages: dict[Path, tuple[str, ...]] = field(default_factory=dict)  # output folder -> ("html", "markdown")


@dataclass
class Outcome:
    """One photo's result: its JSON object (done) or why it failed."""

    index: int
    path: Path
    data: dict | None = None
    error: str = ""
    unexpected: bool = False
    page_name: str = ""
    report: object = None  # core.report.Report, for the single-photo rank table


def worker_count(photos: int, jobs: int) -> int:
    """Threads a run uses: `jobs` measuring and one preparing the next photo."""
    return max(1, min(jobs + 1, photos))


class Run:
    """Measures the photos with worker threads under a MemoryGate; the caller's thread waits and reports."""

    def __init__(self, photos: list[Path], options: Options, say, progress: BatchProgress) -> None:
        from core.imageio import DEFAULT_MAX_PIXELS
        from core.page import safe_name

        self.photos, self.options, self.progress = photos, options, progress
        self._say = say
        self.cancel = threading.Event()
        self.write_lock = threading.Lock()  # writes of a photo's folder, each whole; held when cancelling
        self.stderr_lock = progress.lock  # held while fd 2 is captured by a decoder (see _read)
        self.partial: list[Path] = []
        self.results: queue.Queue[Outcome] = queue.Queue()
        taken: set[str] = {"index.html", "readme.md"}
        self.names = [safe_name(p.stem, taken) for p in photos]
        limit = options.max_pixels or DEFAULT_MAX_PIXELS
        self.gate = MemoryGate([photo_need(p, options.grey, limit) for p in photos], options.jobs, self.cancel)

    def say(self, message: str) -> None:
        """A line on stderr, never while a decoder's output is being captured from it."""
        with self.stderr_lock:
            self._say(message)

    def start(self) -> None:
        for slot in range(worker_count(len(self.photos), self.options.jobs)):
            threading.Thread(target=self._worker, args=(slot,), name=f"svdlens-report-{slot}", daemon=True).start()

    def outcomes(self):
        """Outcomes in input order, each as soon as it and every one before it are done."""
        waiting: dict[int, Outcome] = {}
        for i in range(len(self.photos)):
            while i not in waiting:
                try:
                    got = self.results.get(timeout=0.1)  # short waits: ctrl-c is seen between them
                except queue.Empty:
                    self.progress.draw()
                    continue
                waiting[got.index] = got
            yield waiting.pop(i)

    def stop(self) -> None:
        """After ctrl-c: no worker writes again, and a folder being assembled is removed."""
        import shutil

        self.cancel.set()
        self.gate.wake()
        with self.stderr_lock:  # a decode capturing fd 2 gives it back first; no other one starts
            pass
        with self.write_lock:  # a folder being renamed into place is finished first (milliseconds)
            for tmp in list(self.partial):
                shutil.rmtree(tmp, ignore_errors=True)

    def _worker(self, slot: int) -> None:
        from core.errors import Cancelled, SvdlensError
        from core.errors import display_path

        while True:
            i = self.gate.start()
            if i is None:
                return
            path = self.photos[i]
            outcome = Outcome(index=i, path=path, page_name=self.names[i])
            try:
                try:
                    outcome.data, outcome.report = self._measure(slot, i, path)
                except Cancelled:
                    if self.cancel.is_set():
                        return
                    outcome.error = "cancelled"  # not asked for here: reported, so the run still ends
                except SvdlensError as exc:
                    outcome.error = str(exc)
                except MemoryError:
                    outcome.error, outcome.unexpected = "out of memory (try --grey, or fewer --jobs)", True
                except Exception as exc:  # noqa: BLE001 - one photo's surprise must not end the run
                    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    outcome.error = f"unexpected error: {type(exc).__name__}{': ' + detail if detail else ''}"
                    outcome.unexpected = True
            finally:
                # The photo's arrays are unreachable now: hand their memory back before the next may take it.
                _give_back_memory()
                self.gate.done(i)
            if outcome.error and not outcome.error.startswith(display_path(path)):
                outcome.error = f"{display_path(path)}: {outcome.error}"
            if self.cancel.is_set():
                return
            self.progress.photo_done(slot)
            self.results.put(outcome)

    def _read(self, path: Path):
        from core.errors import Cancelled
        from core.imageio import DEFAULT_MAX_PIXELS, read_image

        o = self.options
        # fd 2 is redirected while decoding (libjpeg's warnings become notes): nobody else writes meanwhile.
        with self.stderr_lock:
            if self.cancel.is_set():
                raise Cancelled()
            return read_image(path, "grey" if o.grey else "colour", max_pixels=o.max_pixels or DEFAULT_MAX_PIXELS,
                              capture_decoder_messages=True)

    def _measure(self, slot: int, i: int, path: Path):
        from core.errors import Cancelled
        from core.imageio import display_path
        from core.summary import summarise
        from core.svd import decompose

        o = self.options
        label = f"{i + 1}/{len(self.photos)} {display_path(path.name)}"
        self.progress.step(slot, f"{label}: reading")
        src = self._read(path)
        for note in src.notes:
            self.say(f"note: {display_path(path)}: {note}")
        method, wanted = ("auto", min(max(o.ranks), src.height, src.width)) if o.fast else ("exact", None)
        dec = decompose(src.pixels, colour_space="ycbcr" if o.ycbcr and src.channels == 3 else None,
                        device=o.device, method=method, max_rank=wanted,
                        progress=self.progress.callback(slot, f"{label}: decomposing"),
                        should_cancel=self.cancel.is_set)
        if not dec.exact:
            self.say(f"note: {display_path(path)}: {dec.description} (ranks up to {dec.max_rank} of {dec.full_rank})")
        self.progress.step(slot, f"{label}: decomposed, waiting for memory to measure")
        if not self.gate.measure(i):
            raise Cancelled()
        self.progress.step(slot, f"{label}: measuring ranks")
        summary = summarise(src, dec, o.ranks, energy=o.energy, psnr_db=o.psnr_db,
                            progress=self.progress.callback(slot, f"{label}: measuring ranks"))
        for note in summary.report.notes:
            self.say(f"note: {display_path(path)}: {note}")
        data = summary.to_json()
        if self.cancel.is_set():
            raise Cancelled()
        if o.pages:
            self.progress.step(slot, f"{label}: pictures and page")
            self._write_pages(self.names[i], dec, data, summary.psnr_curve)
        return data, summary.report

    def _write_pages(self, name: str, dec, data: dict, curve) -> None:
        from core.errors import Cancelled, OutputError
        from core.page import PICTURE_SIDE, PhotoPage, Picture, page_files, picture_file, write_folder

        # Shrunk to the page, never enlarged: an enlarged small photo would only repeat pixels.
        scale = min(1.0, PICTURE_SIDE / max(dec.width, dec.height))
        size = (max(1, round(dec.width * scale)), max(1, round(dec.height * scale)))
        pictures = [Picture(picture_file(None), f"original, {data['image']['width']}×{data['image']['height']}",
                            dec.original_preview(size))]
        rows = {r["rank"]: r for r in data["rows"]}
        for t in data["targets"]:
            if t.get("row") is not None:
                rows.setdefault(t["rank"], t["row"])
        for rank in sorted(rows, reverse=True):
            row = rows[rank]
            goal = [f"{t['goal'] * 100:g}% energy" if t["target"] == "energy" else f"{t['goal']:g} dB"
                    for t in data["targets"] if t.get("rank") == rank]
            caption = (f"rank {rank}{' (' + ', '.join(goal) + ')' if goal else ''} · .svdz "
                       f"{row.get('container_bytes', 0):,} B · PSNR {_db(row.get('psnr_db'))} dB")
            pictures.append(Picture(picture_file(rank), caption, dec.preview(rank, size), rank))
        page = PhotoPage(name=name, data=data, pictures=pictures, psnr_curve=curve)
        for folder, kinds in self.options.pages.items():
            files = page_files(page, kinds)
            with self.write_lock:
                if self.cancel.is_set():
                    raise Cancelled()
                try:
                    write_folder(folder, name, files, partial=self.partial)
                except OSError as exc:
                    raise OutputError(f"{folder}: could not write the page ({exc.strerror or exc})") from None


@functools.cache
def _glibc():
    """The C library when it is glibc (malloc_trim, mallopt), else None."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim, libc.mallopt  # noqa: B018 - glibc's own: absent elsewhere
        return libc
    except (OSError, AttributeError):
        return None


def _give_back_memory() -> None:
    """Return the last photo's freed heap to the system before the next one (glibc only).

    Large arrays freed by one photo stay in malloc's heap as holes the next, differently
    sized photo cannot always reuse: without this a run's peak creeps above that of its
    largest photo measured alone.
    """
    import gc

    gc.collect()
    if _glibc() is not None:
        _glibc().malloc_trim(0)


def _map_large_blocks() -> None:
    """Give every allocation of 1 MiB or more its own mapping, returned to the system when freed (glibc only).

    By default glibc raises its mmap threshold (up to 32 MiB) whenever a mapped block is freed,
    and from then on a photo's arrays come from the heap, where they stay as holes the next
    photo cannot always reuse. Measured on six 0.5–1.5 MP photos: one process peaked at 882 MiB
    against 814 MiB for the largest photo alone; with the threshold fixed at 1 MiB, 731 against
    729 MiB, in the same time within the noise.
    """
    if _glibc() is not None:
        _glibc().mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD (fixing it stops the raising)


def _db(v) -> str:
    return "∞" if v is None or v == float("inf") else f"{v:.2f}"


def check_page_folder(text: str) -> Path:
    """The folder for --html/--markdown, created if missing; refused before any work if it cannot be."""
    from core.errors import OutputError
    from core.errors import display_path

    folder = Path(text)
    try:
        if folder.exists() and not folder.is_dir():
            raise OutputError(f"{display_path(folder)}: is a file, not a folder for the page")
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise OutputError(f"{display_path(folder)}: the folder is not writable")
    except OSError as exc:
        raise OutputError(f"{display_path(folder)}: cannot be made ({exc.strerror or exc})") from None
    return folder


def run_report(args, options: Options, say, print_rank_table) -> int:
    """The many-photo `svdlens report`: JSON Lines or the summary table on stdout; 2 if a photo failed."""
    from core.errors import ImageError
    from core.errors import display_path
    from core.page import PAGE_FILE, write_index

    found = find_photos(args.image, args.recursive)
    if found.left_out:
        say(f"note: {found.left_out} file{'s' if found.left_out != 1 else ''} in the folder"
            f"{'s' if len(args.image) > 1 else ''} {'are' if found.left_out != 1 else 'is'} not an image: left out")
    failed: list[Outcome] = []
    for folder, reason in found.problems:
        say(f"error: {display_path(folder)}: {reason} (skipped)")
        failed.append(Outcome(index=-1, path=folder, error=f"{display_path(folder)}: {reason}"))
    if not found.photos:
        if failed:
            return 2
        hint = "" if args.recursive else " (sub-folders are searched with --recursive)"
        raise ImageError(f"{', '.join(display_path(p) for p in args.image)}: a directory with no images in it{hint}"
                         if len(args.image) == 1 else f"no images found in {', '.join(args.image)}{hint}")
    single_file = len(args.image) == 1 and found.photos == [Path(args.image[0])]
    _map_large_blocks()
    done: list[Outcome] = []
    started = time.perf_counter()
    with BatchProgress(len(found.photos), worker_count(len(found.photos), options.jobs)) as progress:
        run = Run(found.photos, options, say, progress)
        run.start()
        try:
            for outcome in run.outcomes():
                if outcome.error:
                    run.say(f"error: {outcome.error} (skipped)")
                    failed.append(outcome)
                    continue
                done.append(outcome)
                if args.json:
                    sys.stdout.write(json.dumps(outcome.data, allow_nan=False) + "\n")
                    sys.stdout.flush()
        except KeyboardInterrupt:
            run.stop()
            raise
    if not args.json:
        if single_file and done:
            print_rank_table(done[0].report)
        print_summary(done, failed)
    for folder, kinds in options.pages.items():
        write_index(folder, [(o.page_name, o.data) for o in done],
                    [(display_path(o.path), o.error.removeprefix(f"{display_path(o.path)}: ")) for o in failed],
                    kinds)
        names = " and ".join(display_path(folder / PAGE_FILE[k]) for k in kinds)
        say(f"wrote {names}: {len(done)} photo{'s' if len(done) != 1 else ''}")
    seconds = time.perf_counter() - started
    if len(found.photos) > 1:
        say(f"{len(done)} of {len(found.photos) + len(found.problems)} photos measured in {seconds:.1f} s "
            f"({60 * len(done) / max(seconds, 1e-9):.1f} per minute)")
    if failed:
        say(f"{len(failed)} failed: " + ", ".join(display_path(o.path) for o in failed))
        return 1 if any(o.unexpected for o in failed) else 2
    return 0


def print_summary(done: list[Outcome], failed: list[Outcome]) -> None:
    """One row per photo: size, and for each target the rank, the .svdz bytes there and JPEG's PSNR at them."""
    from rich.console import Console
    from rich.table import Table

    from core.errors import display_path
    from core.page import fmt_bytes, fmt_db, fmt_goal

    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 200, highlight=False)
    goals = [(t["target"], t["goal"]) for t in done[0].data["targets"]] if done else []
    table = Table(title=f"{len(done)} photo{'s' if len(done) != 1 else ''}"
                        f"{f', {len(failed)} failed' if failed else ''}", title_justify="left",
                  caption="rank: the smallest reaching the target (energy: share of Σσ²; dB: the .svdz file "
                          "decoded) · JPEG PSNR: the best JPEG no larger than that .svdz", caption_justify="left")
    table.add_column("photo")
    table.add_column("W×H", justify="right")
    table.add_column("file B", justify="right")
    for kind, goal in goals:
        table.add_column(f"{fmt_goal(kind, goal)}\nrank", justify="right")
        table.add_column(".svdz B", justify="right")
        table.add_column("JPEG PSNR", justify="right")
    for o in done:
        image = o.data["image"]
        cells = [display_path(o.path), f"{image['width']}×{image['height']}", fmt_bytes(image["file_bytes"])]
        for t in o.data["targets"]:
            row = t.get("row")
            cells += [str(row["rank"]), fmt_bytes(row["container_bytes"]), fmt_db(row["jpeg_psnr_db"])] if row \
                else ["out of reach", "–", "–"]
        table.add_row(*cells)
    for o in failed:
        table.add_row(display_path(o.path), "failed", *[""] * (1 + 3 * len(goals)), style="red")
    console.print(table)
