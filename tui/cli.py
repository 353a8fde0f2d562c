"""The `svdlens` command line: report, compress, decode, and opening the app.

Only the standard library is imported at module level, so `svdlens --help` answers
at once; numpy/OpenCV/torch, rich and Textual are imported inside the commands.
Errors are one line on stderr: exit 2 for bad input or usage, 1 for anything
unexpected (SVDLENS_DEBUG=1 adds the traceback), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from tui.choices import CLASSIC_RANKS, DEVICES, PROTOCOLS

PROG = "svdlens"
COMMANDS = ("report", "compress", "decode")
# A 1-minute load average at or above this many per core: the machine is busy (OpenMP waits passively).
BUSY_LOAD_PER_CORE = 0.5


class UsageError(Exception):
    """Bad command-line usage (exit 2)."""


class StdoutError(Exception):
    """Standard output cannot be written: a full disk, a closed descriptor (exit 2, one line)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of argparse's usage block
        raise UsageError(f"{message} (see {self.prog} --help)")

    def _print_message(self, message, file=None):
        # argparse swallows write errors, so `--help > /dev/full` would exit 0 having printed nothing.
        file = file or sys.stderr
        if message and file is not None:
            file.write(message)


class _CheckedStdout:
    """sys.stdout while a command runs: a write or flush that fails (a full disk, an I/O error) raises
    StdoutError, told apart from every other OSError, wherever the printing happens (print, rich, json).
    A broken pipe stays BrokenPipeError: the reader left, which is not an error to report."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def _checked(self, method, *args):
        try:
            return method(*args)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise StdoutError(_stdout_reason(exc)) from None

    def write(self, text: str) -> int:
        return self._checked(self._stream.write, text)

    def flush(self) -> None:
        self._checked(self._stream.flush)

    def __getattr__(self, name: str):  # isatty, fileno, encoding...: the real stream's
        return getattr(self._stream, name)


def _stdout_reason(exc: OSError) -> str:
    import errno

    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "no space left on device"
    if exc.errno == errno.EBADF:
        return "it is closed"
    return (exc.strerror or str(exc)).lower()


def _fill_closed_descriptors() -> None:
    """Open /dev/null on 0, 1 and 2 where the caller closed them (`>&-`): else the next file opened
    (an image, the temporary output) takes that number, and whatever writes to "stdout" writes into it."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def _silence_stdout(stream) -> None:
    """Point the failed stream's descriptor at /dev/null: what is left in its buffer is then dropped
    at exit, instead of failing again as "Exception ignored ..." after our one line."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (e.g. a test's capture): nothing to do
        return
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, fd)
    os.close(null)


def _printable(text: str) -> str:
    # One line whatever a file is called: newlines and undecodable bytes in names become escapes.
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in str(text))


def _say(message: str) -> None:
    if sys.stderr is not None:  # None when started with stderr closed (2>&-)
        print(f"{PROG}: {_printable(message)}", file=sys.stderr)


# ---- argument parsing -----------------------------------------------------

def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _byte_count(text: str) -> int:
    """N, Nk (×1024) or NM (×1024²) bytes: the same parser as the app's rank field."""
    from tui.units import parse_byte_count  # stdlib only: --help stays fast

    try:
        return parse_byte_count(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _energy(text: str) -> float:
    raw = text.strip()
    percent = raw.endswith("%")
    try:
        value = float(raw[:-1] if percent else raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (use e.g. 0.99 or 99%)") from None
    return value / 100 if percent else value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--grey", "--gray", action="store_true",
                        help="work on BT.601 luma (one channel) instead of colour")
    parser.add_argument("--max-pixels", type=_positive_int, default=None, metavar="N",
                        help="refuse images larger than N pixels (default 100,000,000)")
    parser.add_argument("--device", choices=DEVICES, default="auto", help="where torch computes the SVD")


def _report_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=f"{PROG} report",
                description="Print what each rank costs in bytes and buys in quality, for one photo or many. "
                            "Folders are searched for images by content (sub-folders with --recursive); with "
                            "more than one photo a summary table (or JSON Lines) is printed, one row per photo.",
                epilog="exit codes: 0 every photo measured, 2 a photo failed (each said in one line, the run goes "
                       "on) or bad usage, 1 an unexpected error, 130 interrupted")
    p.add_argument("image", metavar="IMAGE", nargs="+", help="image files and folders of images")
    ranks = ",".join(map(str, CLASSIC_RANKS))
    p.add_argument("--ranks", default=ranks, metavar="R1,R2,...",
                   help=f"ranks to report (default {ranks}); ranks above min(H, W) are clamped and flagged")
    p.add_argument("--ycbcr", action="store_true", help="decompose Y, Cb and Cr instead of R, G and B")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object per photo (JSON Lines) instead of the table")
    p.add_argument("--fast", action="store_true",
                   help="on large images use a randomized truncated SVD of the ranks asked for (said on stderr; "
                        "PSNR within about 0.1 dB) instead of the exact one")
    p.add_argument("--energy", type=_energy, default=None, metavar="E",
                   help="summary target: the smallest rank keeping share E of Σσ² (default 99%%)")
    p.add_argument("--psnr", type=_number, default=None, metavar="DB",
                   help="summary target: the smallest rank whose .svdz file reaches DB dB (default 30)")
    p.add_argument("--html", metavar="DIR", help="write a page per photo (pictures, tables, plot) and an index")
    p.add_argument("--markdown", metavar="DIR", help="the same as README-style Markdown pages")
    p.add_argument("--recursive", "-r", action="store_true", help="look for images in sub-folders too")
    p.add_argument("--jobs", "-j", type=_positive_int, default=1, metavar="N",
                   help="measure N photos at a time (default 1); the next photo is read and decomposed meanwhile "
                        "when both fit in the largest photo's memory")
    _common(p)
    return p


def _compress_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=f"{PROG} compress",
                description="Write the rank-r reconstruction (.png/.jpg/.webp) or the compressed factors (.svdz).")
    p.add_argument("image", metavar="IMAGE")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--rank", metavar="R", help="keep R singular values per channel")
    target.add_argument("--energy", type=_energy, metavar="E",
                        help="smallest rank keeping share E of Σσ² (0.99 or 99%%)")
    target.add_argument("--psnr", type=_number, metavar="DB", help="smallest rank reaching DB dB, measured as saved")
    target.add_argument("--max-bytes", type=_byte_count, metavar="N[k|M]",
                        help="largest rank whose .svdz file fits in N bytes (k = 1024, M = 1024²); .svdz output only")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output file: .png, .jpg, .webp or .svdz")
    p.add_argument("--ycbcr", action="store_true", help="decompose Y, Cb and Cr instead of R, G and B")
    p.add_argument("--chroma-rank", metavar="R", help="with --ycbcr: a separate rank for Cb and Cr")
    _common(p)
    return p


def _decode_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=f"{PROG} decode", description="Decode a .svdz file to an image.")
    p.add_argument("input", metavar="IN.svdz")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output image: .png, .jpg or .webp")
    p.add_argument("--max-pixels", type=_positive_int, default=None, metavar="N",
                   help="refuse images larger than N pixels (default 100,000,000)")
    return p


def _app_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description="See and measure SVD image compression in a terminal. Without IMAGE the app opens the "
                    "bundled sample photo.",
        epilog="commands (run `svdlens COMMAND --help` for each):\n"
               "  report IMAGE|FOLDER... [--ranks 500,250,100,50,25,10] [--grey] [--ycbcr] [--json]\n"
               "         [--energy E] [--psnr DB] [--html DIR] [--markdown DIR] [--recursive] [--jobs N]\n"
               "  compress IMAGE (--rank R | --energy E | --psnr DB | --max-bytes N) -o OUT\n"
               "  decode IN.svdz -o OUT.png\n\n"
               "exit codes: 0 done, 1 unexpected error, 2 bad input or usage, 130 interrupted",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("image", metavar="IMAGE", nargs="?", help="photo to open (default: the bundled sample)")
    p.add_argument("--preview", choices=PROTOCOLS, default="auto",
                   help="how pictures are drawn (auto detects; over SSH try halfcell with "
                        "TEXTUAL_COLOR_SYSTEM=truecolor)")
    _common(p)
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    return p


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("svdlens")
    except Exception:  # noqa: BLE001 - running from a checkout that was never installed
        return "(not installed)"


# ---- shared steps -----------------------------------------------------------

class _Progress:
    """A rich progress bar on stderr when stderr is a terminal; silent otherwise."""

    def __init__(self) -> None:
        self._progress = None
        if sys.stderr is not None and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/"
                                      "{task.total}"), TimeElapsedColumn(), console=Console(stderr=True),
                                      transient=True)

    def __enter__(self):
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()

    def callback(self, label: str):
        if self._progress is None:
            return None
        task = self._progress.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            self._progress.update(task, completed=done, total=total)

        return update


def _load(path: str, grey: bool, max_pixels: int | None):
    from core.imageio import read_image
    from core.pixels import DEFAULT_MAX_PIXELS

    return read_image(path, "grey" if grey else "colour", max_pixels=max_pixels or DEFAULT_MAX_PIXELS,
                      capture_decoder_messages=True)


def _interruptible(compute):
    """Run compute(cancelled_event) in a thread so ctrl-c acts at once: a LAPACK call cannot be
    interrupted, and the main thread only sees KeyboardInterrupt between bytecodes."""
    import threading

    cancelled = threading.Event()
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = compute(cancelled)
        except BaseException as exc:  # handed to the main thread, which reports it
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="svdlens-decompose", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.1)
    except KeyboardInterrupt:
        cancelled.set()  # the daemon thread stops at its next check, or dies with the process
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _decompose(src, ycbcr: bool, device: str, progress: _Progress, *, fast: bool = False,
               max_rank: int | None = None):
    from core.svd import decompose

    if ycbcr and src.channels == 1:
        _say("note: --ycbcr has no effect on a one-channel (grey) image")
    # Exact unless asked: exports and reported numbers should match the textbook SVD.
    method, wanted = ("auto", max_rank) if fast else ("exact", None)
    if wanted is not None:
        wanted = min(wanted, min(src.height, src.width))
    dec = _interruptible(lambda cancelled: decompose(
        src.pixels, colour_space="ycbcr" if ycbcr and src.channels == 3 else None, device=device, method=method,
        max_rank=wanted, progress=progress.callback("decomposing"), should_cancel=cancelled.is_set))
    if not dec.exact:  # randomized, or exact but truncated to the top ranks: say which
        from tui.describe import describe

        _say(f"note: {describe(dec)} (ranks up to {dec.max_rank} of {dec.full_rank})")
    return dec


def _notes(src) -> None:
    for note in src.notes:
        _say(f"note: {src.path}: {note}")


def _parse_rank(text: str, what: str = "rank") -> int:
    from core.errors import RankError

    try:
        value = int(text.strip())
    except ValueError:
        raise RankError(f"{what} {text!r} is not a whole number") from None
    if value < 1:
        raise RankError(f"{what} must be at least 1, got {value}")
    return value


# ---- commands ---------------------------------------------------------------

def _cmd_report(argv: list[str]) -> int:
    args = _report_parser().parse_args(argv)
    from core.report import build_report, parse_ranks

    ranks = parse_ranks(args.ranks)  # bad ranks are refused before any work
    if _many(args):
        return _cmd_report_many(args, ranks)
    src = _load(args.image[0], args.grey, args.max_pixels)
    _notes(src)
    with _Progress() as progress:
        dec = _decompose(src, args.ycbcr, args.device, progress, fast=args.fast, max_rank=max(ranks))
        report = build_report(src, dec, ranks, progress=progress.callback("measuring ranks"))
    for note in report.notes:
        _say(f"note: {note}")
    if args.json:
        sys.stdout.write(json.dumps(report.to_json(), allow_nan=False) + "\n")
    else:
        _print_table(report)
    return 0


def _many(args) -> bool:
    """Anything beyond one photo's rank table: several inputs, a folder, targets or a page."""
    if len(args.image) > 1 or args.html or args.markdown or args.energy is not None or args.psnr is not None:
        return True
    try:
        return Path(args.image[0]).is_dir()
    except OSError:
        return False


def _cmd_report_many(args, ranks: list[int]) -> int:
    from core.errors import TargetError
    from core.summary import DEFAULT_ENERGY, DEFAULT_PSNR_DB
    from tui.batch import Options, check_page_folder, run_report

    energy = DEFAULT_ENERGY if args.energy is None else args.energy
    psnr_db = DEFAULT_PSNR_DB if args.psnr is None else args.psnr
    if not 0 < energy <= 1:
        raise TargetError(f"energy share must be above 0 and at most 1 (e.g. 0.99 or 99%), got {energy:g}")
    if not psnr_db > 0:
        raise TargetError(f"PSNR target must be a positive number of dB, got {psnr_db:g}")
    pages: dict[Path, tuple[str, ...]] = {}
    for kind, folder in (("html", args.html), ("markdown", args.markdown)):
        if folder:
            path = check_page_folder(folder)  # before any work
            pages[path] = pages.get(path, ()) + (kind,)
    options = Options(ranks=ranks, energy=energy, psnr_db=psnr_db, grey=args.grey, ycbcr=args.ycbcr, fast=args.fast,
                      device=args.device, max_pixels=args.max_pixels, jobs=args.jobs, pages=pages)
    return run_report(args, options, _say, _print_table)


def _fmt_db(v) -> str:
    if v is None:
        return "–"
    return "∞ (identical)" if v == float("inf") else f"{v:.2f}"


def _print_table(report) -> None:
    from core.page import fmt_bytes
    from rich.console import Console
    from rich.table import Table

    info = report.image
    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 200, highlight=False)
    title = (f"{_printable(info['path'])} — {info['width']}×{info['height']}, {info['channels']} channel"
             f"{'s' if info['channels'] != 1 else ''}, {info['bit_depth']}-bit, {info['colour_space']}, "
             f"{info['decomposition']} SVD{', truncated' if info.get('truncated') else ''}")
    caption = (f"original file {info['file_bytes']:,} bytes · raw pixels {info['raw_bytes']:,} bytes · "
               "* = clamped to min(H, W)")
    table = Table(title=title, caption=caption, title_justify="left", caption_justify="left")
    extra = report.rows[0].extra if report.rows else {}
    table.add_column("rank", justify="right")
    table.add_column("energy", justify="right")
    table.add_column("rel. error", justify="right")
    table.add_column("PSNR dB", justify="right")
    table.add_column("SSIM", justify="right")
    table.add_column("factors f32 B", justify="right")
    table.add_column("PNG B", justify="right")
    if "container_bytes" in extra:
        table.add_column(".svdz B", justify="right")
        table.add_column(".svdz PSNR", justify="right")
    if "jpeg_bytes" in extra:
        table.add_column("JPEG ≤ .svdz B", justify="right")
        table.add_column("JPEG q", justify="right")
        table.add_column("JPEG PSNR", justify="right")
    for row in report.rows:
        cells = [
            f"{row.rank}*" if row.clamped else str(row.rank),
            f"{row.energy * 100:.4f}%",
            f"{row.relative_error:.5f}",
            _fmt_db(row.psnr_db),
            "–" if row.ssim is None else f"{row.ssim:.4f}",
            fmt_bytes(row.factors_float32_bytes),
            fmt_bytes(row.png_bytes),
        ]
        if "container_bytes" in extra:
            cells += [fmt_bytes(row.extra.get("container_bytes")), _fmt_db(row.extra.get("container_psnr_db"))]
        if "jpeg_bytes" in extra:
            q = row.extra.get("jpeg_quality")
            cells += [fmt_bytes(row.extra.get("jpeg_bytes")), "–" if q is None else str(q),
                      _fmt_db(row.extra.get("jpeg_psnr_db"))]
        table.add_row(*cells)
    console.print(table)


def _cmd_compress(argv: list[str]) -> int:
    args = _compress_parser().parse_args(argv)
    from core.errors import TargetError
    from core.outputs import check_output, output_kind

    rank = _parse_rank(args.rank) if args.rank is not None else None
    chroma = _parse_rank(args.chroma_rank, "chroma rank") if args.chroma_rank is not None else None
    if chroma is not None and not args.ycbcr:
        raise UsageError("--chroma-rank needs --ycbcr (chroma ranks exist only in YCbCr)")
    if chroma is not None and rank is None:
        raise UsageError("--chroma-rank goes with --rank (a target chooses one rank for every channel)")
    if args.energy is not None and not 0 < args.energy <= 1:
        raise TargetError(f"energy share must be above 0 and at most 1 (e.g. 0.99 or 99%), got {args.energy:g}")
    if args.psnr is not None and not args.psnr > 0:
        raise TargetError(f"PSNR target must be a positive number of dB, got {args.psnr:g}")
    # The output is checked before anything is computed: suffix, not the input, folder writable.
    out = check_output(args.output, args.image)
    kind = output_kind(out)
    if kind == "svdz":
        from core import svdz
    else:
        svdz = None  # no container: a PSNR target is met on the image file instead
    if args.max_bytes is not None and kind != "svdz":
        raise UsageError("--max-bytes budgets a .svdz file: give an OUT ending in .svdz")

    src = _load(args.image, args.grey, args.max_pixels)
    _notes(src)
    with _Progress() as progress:
        dec = _decompose(src, args.ycbcr, args.device, progress)
    r = _choose_rank(src, dec, svdz, args, rank)
    if chroma is not None and chroma > dec.max_rank:
        _say(f"note: chroma rank {chroma} is above min(H, W) = {dec.max_rank}: clamped to {dec.max_rank}")
        chroma = dec.max_rank
    spec = r if chroma is None or dec.colour_space != "ycbcr" else (r, chroma)
    ranks = dec.channel_ranks(spec)
    return _write_result(src, dec, out, kind, svdz, spec, ranks)


def _choose_rank(src, dec, svdz, args, rank: int | None) -> int:
    from core import select

    if rank is not None:
        if rank > dec.max_rank:
            limit = "min(H, W)" if dec.max_rank == dec.full_rank else "the largest rank computed"
            _say(f"note: rank {rank} is above {limit} = {dec.max_rank} for this {dec.width}×{dec.height} image: "
                 f"clamped to {dec.max_rank}")
            return dec.max_rank
        return rank
    if args.energy is not None:
        r = select.rank_for_energy(dec, args.energy)
        kept = dec.energy(r)
        _say(f"rank {r} keeps {kept * 100:.4f}% of the energy (asked {args.energy * 100:g}%)")
        return r
    if args.psnr is not None:
        if svdz is not None:
            r = svdz.rank_for_decoded_psnr(dec, args.psnr, bit_depth=src.bit_depth)
        else:
            r = select.rank_for_reconstruction_psnr(
                dec, args.psnr, bit_depth=src.bit_depth if args.output.lower().endswith(".png") else 8)
            if not args.output.lower().endswith((".png", ".webp")):
                _say("note: the PSNR target is met before JPEG encoding; the JPEG file loses a little more")
        _say(f"rank {r} is the smallest reaching {args.psnr:g} dB")
        return r
    r = svdz.rank_for_max_bytes(dec, args.max_bytes, bit_depth=src.bit_depth)
    _say(f"rank {r} is the largest whose .svdz fits in {args.max_bytes:,} bytes")
    return r


def _write_result(src, dec, out: Path, kind: str, svdz, spec, ranks) -> int:
    from core.measure import MeasureContext, save_rank

    def announce(saved) -> None:
        shown = ranks[0] if len(set(ranks)) == 1 else "/".join(str(r) for r in ranks)
        db = "∞ (identical)" if saved.psnr_db == float("inf") else f"{saved.psnr_db:.2f} dB"
        _announce(f"wrote {out}: rank {shown}, PSNR {db}, {saved.size_bytes:,} bytes "
                  f"(original file {src.file_bytes:,} bytes)")

    # Only what this one file needs: its bytes, and the PSNR of its pixels as they decode. The line is
    # said before the file is renamed into place: if stdout fails (a full disk), no file is left.
    save_rank(MeasureContext(src, dec), spec, out, announce=announce)
    return 0


def _announce(line: str) -> None:
    """The result line on stdout, flushed: if stdout fails (a full disk), the output file is not written."""
    print(_printable(line))
    sys.stdout.flush()


def _cmd_decode(argv: list[str]) -> int:
    args = _decode_parser().parse_args(argv)
    from core.outputs import IMAGE_SUFFIXES, check_output, encode_image, write_atomic

    out = check_output(args.output, args.input, allowed=IMAGE_SUFFIXES)
    from core import svdz

    path = Path(args.input)
    _check_input(path, "a .svdz file")
    from core.pixels import DEFAULT_MAX_PIXELS

    decoded = svdz.read_svdz(path, max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS)
    bit_depth = int(decoded.bit_depth) if out.suffix.lower() == ".png" else 8
    data = encode_image(decoded.pixels, out.suffix, bit_depth)
    write_atomic(out, data, path, before_replace=lambda: _announce(f"wrote {out}: {len(data):,} bytes"))
    return 0


def _check_input(path: Path, what: str) -> None:
    """One line for an input that is a folder, absent, not a regular file, or not even a valid name."""
    from core.errors import ImageError
    from core.files import missing_reason

    try:
        if path.is_dir():
            raise ImageError(f"{path}: is a directory, not {what}")
        if not path.exists():  # also a dangling link or a symlink loop: say which
            raise ImageError(f"{path}: {missing_reason(path)}")
        if not path.is_file():  # a FIFO would block the read
            raise ImageError(f"{path}: not a regular file (a pipe, device or socket)")
    except OSError as exc:  # e.g. a file name too long for the file system
        raise ImageError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _cmd_app(argv: list[str]) -> int:
    args = _app_parser().parse_args(argv)
    from core.errors import ImageError

    path = None
    if args.image is not None:
        path = Path(args.image)
        _check_input(path, "an image")
        if not os.access(path, os.R_OK):
            raise ImageError(f"{path}: permission denied (the file cannot be read)")
    problem = _terminal_problem()
    if problem:  # before Textual loads: textual-image probes the terminal at import and raises on a closed stdout
        raise UsageError(problem)
    from tui.lifecycle import run_app

    # -- issue 14: a forced --preview this terminal cannot show: one line, and auto's choice offered --
    from tui.preview.terminal import check_forced_protocol

    args.preview = check_forced_protocol(args.preview)
    # -- end issue 14 --
    kwargs = dict(preview=args.preview, mode="grey" if args.grey else "colour", device=args.device)
    if args.max_pixels is not None:
        kwargs["max_pixels"] = args.max_pixels
    return int(run_app(path, **kwargs) or 0)


def _terminal_problem() -> str | None:
    """Why the app cannot run with these standard streams (`< /dev/null`, `<&-`, `>&-`, `2> log`); None if it can."""
    def tty(stream, fd: int) -> bool:
        try:
            return stream is not None and os.isatty(fd)
        except OSError:
            return False

    alone = f"for the numbers alone: {PROG} report IMAGE"
    if not tty(sys.stdin, 0):
        return f"the app needs a terminal on stdin (it reads keys there); {alone}"
    if sys.stdout is None:
        return "the app needs stdout open (the image renderers ask the terminal through it)"
    if not tty(sys.stderr, 2):
        return f"the app needs a terminal on stderr (it draws there); {alone}"
    return None


_HANDLERS = {"report": _cmd_report, "compress": _cmd_compress, "decode": _cmd_decode}
_NEEDS_TORCH = {"report", "compress", None}  # None: the app


def _start_torch_import(argv: list[str]) -> None:
    """Import torch (about a second) in a background thread from process start, so that it
    overlaps decoding the image (and, in the app, the first frame); the first `import torch`
    in a command then finds it done or waits for the rest. Not for help, version or decode."""
    command = argv[0] if argv and argv[0] in _HANDLERS else None
    if command not in _NEEDS_TORCH or {"-h", "--help", "--version"} & set(argv):
        return
    import threading

    def load() -> None:
        try:
            import torch  # noqa: F401
        except Exception:  # noqa: BLE001 - reported where torch is used, as before
            pass

    threading.Thread(target=load, name="svdlens-import-torch", daemon=True).start()


def _choose_openmp_wait_policy() -> None:
    """PASSIVE OpenMP waiting when the machine is busy, OpenMP's default (spin a while) when not.

    Threads that wait by spinning hold a core each: on a busy 2-core machine torch's exact SVD of a
    1.76 MP photo took 98 s instead of 4 s (CPU 20 s vs 1.7 s). On a quiet one, sleeping at every
    barrier costs instead: `compress --rank 50` of that photo took 2.97 s passive vs 2.34 s. Read
    when torch loads libgomp, so set before any import of torch; a value the user set wins.
    """
    if "OMP_WAIT_POLICY" in os.environ:
        return
    try:
        busy = os.getloadavg()[0] >= BUSY_LOAD_PER_CORE * (os.cpu_count() or 1)
    except OSError:  # no load average here: be safe on a shared machine
        busy = True
    if busy:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


def _turn_off_mkl_buffer_pools(argv: list[str]) -> None:
    """`report` runs with MKL's own memory allocator off (MKL_DISABLE_FAST_MM=1), unless the user set it.

    That allocator keeps the buffers of torch's SVDs and products in per-thread pools for reuse and
    never hands them back: photo after photo in one process, resident memory grew about 10 MiB a
    photo (3.3-8 MP), and a 20-photo run's last, largest photo peaked 80 MiB above its own run
    (1545 against 1466 MiB), past what tui.batch's gate allows for. With the pools off MKL's
    buffers come from malloc and go back when freed: the last of five photos measured one after
    another in one process peaked at 1453 MiB instead of 1512, and one photo's own run is as before
    (1448 and 1471 MiB against 1465 and 1468). Read when torch loads MKL, so set before any import
    of torch.
    """
    if argv and argv[0] == "report":
        os.environ.setdefault("MKL_DISABLE_FAST_MM", "1")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _fill_closed_descriptors()  # first: before any thread (torch's import) opens a file
    _choose_openmp_wait_policy()
    _turn_off_mkl_buffer_pools(argv)
    _start_torch_import(argv)
    stdout = sys.stdout
    prints = bool(argv and argv[0] in _HANDLERS) or bool({"-h", "--help", "--version"} & set(argv))
    if stdout is not None and prints:  # not around the app: its renderers write to the terminal themselves
        sys.stdout = _CheckedStdout(stdout)
    try:
        return _dispatch(argv)
    except StdoutError as exc:
        _say(f"error: cannot write to stdout: {exc}")
        _silence_stdout(stdout)
        return 2
    finally:
        sys.stdout = stdout


def _run_command(argv: list[str]) -> int:
    try:
        # argparse cannot mix subcommands with an optional IMAGE, so dispatch on the first word.
        if argv and argv[0] in _HANDLERS:
            if sys.stdout is None:  # started with `>&-`: refuse before any work, as nothing could be said
                raise StdoutError("it is closed")
            code = _HANDLERS[argv[0]](argv[1:])
        else:
            code = _cmd_app(argv)
    except SystemExit as exc:  # --help and --version
        code = exc.code if isinstance(exc.code, int) else 0
    if sys.stdout is not None:
        sys.stdout.flush()  # here, not at exit: a full disk must fail the command, not be ignored
    return code


def _dispatch(argv: list[str]) -> int:
    try:
        return _run_command(argv)
    except StdoutError:
        raise  # main says it
    except UsageError as exc:
        _say(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    except BrokenPipeError:
        # `svdlens report x | head`: the reader left; say nothing more on a closed pipe.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as exc:  # noqa: BLE001 - the one place that turns failures into one line
        from core.errors import Cancelled, SvdlensError

        if isinstance(exc, SvdlensError):
            _say(f"error: {exc}")
            return 2
        if isinstance(exc, Cancelled):
            _say("cancelled")
            return 130
        if os.environ.get("SVDLENS_DEBUG"):
            import traceback

            traceback.print_exc()
        if isinstance(exc, MemoryError):
            _say("error: out of memory (try a smaller image or --grey)")
        else:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            _say(f"unexpected error: {type(exc).__name__}{': ' + detail if detail else ''} "
                 "(SVDLENS_DEBUG=1 shows the traceback)")
        return 1


def run() -> None:
    """The `svdlens` command: main(), then the exit. After ctrl-c, threads may still be inside torch
    or OpenCV (they cannot be interrupted); finalizing the interpreter under them can abort the
    process ("terminate called without an active exception", SIGABRT instead of 130), so an
    interrupted run ends without finalizing, once everything it wrote is whole and said."""
    code = main()
    if code == 130:
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(130)
    sys.exit(code)


if __name__ == "__main__":
    run()
