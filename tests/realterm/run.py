"""Real-terminal check: svdlens in xterm (Sixel) and kitty under Xvfb, driven by keys, judged by pixels.

    python -m tests.realterm.run [PHOTO] [--out DIR] [--only xterm|kitty]

Starts a private Xvfb, runs `python -m tui.cli PHOTO` in xterm (as a VT340 with 256 colour registers,
so it draws Sixel) and in kitty (software OpenGL), presses keys with xdotool and takes screenshots
(xwd, 30 ms each, so a burst every 0.1 s is possible). It asserts what a person would see:

- both panes show the photo: picture detail (many colours per block) that correlates with the photo;
- after a rank key, no frame of a burst every 0.1 s shows the original pane blank;
- the single view in a large window (1924×1180 px) shows a picture (xterm draws nothing of a Sixel
  image above its 1000×1000 limit);
- kitty shows pictures, not a grid of empty placeholder boxes;
- the process ends soon after ctrl+q.

Screenshots land in --out (default: a temporary folder, printed). Needs Xvfb, xterm, kitty, xdotool and
xwd (Debian: xvfb xterm kitty xdotool x11-apps); tests/realterm/test_realterm.py runs it under pytest
and skips it, saying which are missing, where they are not installed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ("Xvfb", "xterm", "kitty", "xdotool", "xwd")
XTERM_SIXEL = [
    "xterm", "-ti", "vt340", "-xrm", "XTerm*decTerminalID: vt340", "-xrm", "XTerm*numColorRegisters: 256",
    "-xrm", "XTerm*scrollBar: false",
    "-hold",  # a crash leaves its message on screen, in the timeout screenshot
]
START_TIMEOUT = 120.0  # s: a loaded 2-core machine takes ~20 s to import torch and decompose
LARGE_WINDOW = (1924, 1180)  # px, the size at which xterm's default Sixel limit was seen to bite


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


# ---- screenshots ------------------------------------------------------------------------


def read_xwd(data: bytes) -> np.ndarray:
    """An RGB array from an `xwd` dump of a 24/32-bit TrueColor window (what Xvfb -screen …x24 gives)."""
    header = np.frombuffer(data[:100], dtype=">u4")
    header_size, width, height = int(header[0]), int(header[4]), int(header[5])
    byte_order, bits_per_pixel, bytes_per_line, ncolors = int(header[7]), int(header[11]), int(header[12]), int(header[19])
    if bits_per_pixel != 32:
        raise RuntimeError(f"xwd: {bits_per_pixel} bits per pixel; start Xvfb with a 24-bit screen")
    start = header_size + ncolors * 12
    rows = np.frombuffer(data[start : start + height * bytes_per_line], dtype=np.uint8).reshape(height, bytes_per_line)
    pixels = rows[:, : width * 4].reshape(height, width, 4)
    return np.ascontiguousarray(pixels[..., 2::-1] if byte_order == 0 else pixels[..., 1:])


def picture_boxes(frame: np.ndarray, block: int = 24, min_blocks: int = 12) -> list[tuple[int, int, int, int]]:
    """Boxes (x0, y0, x1, y1) of the areas that look like a photograph, largest first.

    A block is 'picture' when no one colour covers half of it and it has real contrast: text, even
    antialiased, is mostly background; a photograph drawn by Sixel, kitty graphics or half-cell
    blocks is not. Neighbouring picture blocks are joined, then cut apart at uniform rows and
    columns (the gap between two panes is one cell, narrower than a block).
    """
    h, w = frame.shape[:2]
    bh, bw = h // block, w // block
    tiles = frame[: bh * block, : bw * block].reshape(bh, block, bw, block, 3).swapaxes(1, 2).reshape(bh, bw, -1, 3)
    packed = (tiles[..., 0].astype(np.int32) << 16) | (tiles[..., 1].astype(np.int32) << 8) | tiles[..., 2]
    packed.sort(axis=-1)
    # The longest run of one value in each sorted block: the share of its most common colour.
    change = np.diff(packed, axis=-1) != 0
    idx = np.arange(packed.shape[-1] - 1)
    starts = np.where(change, idx + 1, 0)
    run_start = np.maximum.accumulate(starts, axis=-1)
    longest = (idx - run_start + 2).max(axis=-1)
    luma = tiles.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    mask = ((longest < 0.5 * block * block) & (luma.std(axis=-1) >= 6)).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
    boxes = []
    for i in range(1, count):
        x, y, bw_, bh_, area = stats[i]
        if area >= min_blocks:
            boxes += _split(frame, (x * block, y * block, (x + bw_) * block, (y + bh_) * block))
    boxes = [b for b in boxes if (b[2] - b[0]) >= 3 * block and (b[3] - b[1]) >= 3 * block]
    boxes.sort(key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))
    return boxes


def _runs(flat: np.ndarray, least: int) -> list[tuple[int, int]]:
    """[start, end) of the runs of False in `flat` at least `least` long."""
    runs, start = [], None
    for i, value in enumerate([*flat, True]):
        if not value and start is None:
            start = i
        elif value and start is not None:
            if i - start >= least:
                runs.append((start, i))
            start = None
    return runs


def _split(frame: np.ndarray, box: tuple[int, int, int, int], depth: int = 0) -> list[tuple[int, int, int, int]]:
    """A box cut at its uniform columns and rows, again in each piece, until nothing more cuts."""
    x0, y0, x1, y1 = box
    sub = frame[y0:y1, x0:x1].astype(np.float32)
    columns = _runs(sub.std(axis=0).max(axis=-1) < 3, 16)
    rows = _runs(sub.std(axis=1).max(axis=-1) < 3, 16)
    if depth > 6 or (columns == [(0, x1 - x0)] and rows == [(0, y1 - y0)]):
        return [box]
    return [
        piece
        for a, b in columns
        for c, d in rows
        for piece in _split(frame, (x0 + a, y0 + c, x0 + b, y0 + d), depth + 1)
    ]


def likeness(frame: np.ndarray, box: tuple[int, int, int, int], photo: np.ndarray) -> float:
    """Correlation of a box's luminance with the photo's (both shrunk to 48 px wide): near 1 where
    the box shows the photo, near 0 for anything else."""
    x0, y0, x1, y1 = box
    crop = frame[y0:y1, x0:x1]
    size = (48, max(8, round(48 * (y1 - y0) / max(1, x1 - x0))))
    a = cv2.resize(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA).astype(np.float32)
    b = cv2.resize(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA).astype(np.float32)
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-6))


# ---- a terminal on a private X display ------------------------------------------------


@dataclass
class Session:
    """Xvfb, one terminal window running a command, and the keys and screenshots in between."""

    out: Path
    name: str
    env: dict = field(default_factory=dict)
    procs: list = field(default_factory=list)
    window: str = ""
    shots: int = 0

    def start_display(self) -> None:
        read, write = os.pipe()
        xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", "2100x1400x24", "-nolisten", "tcp"],
            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(write)
        self.procs.append(xvfb)
        number = b""
        deadline = time.monotonic() + 20
        while not number.endswith(b"\n") and time.monotonic() < deadline:
            chunk = os.read(read, 16)
            if not chunk:
                break
            number += chunk
        os.close(read)
        if not number.strip():
            raise RuntimeError("Xvfb did not start")
        self.env = {**os.environ, "DISPLAY": f":{number.decode().strip()}"}

    def run_terminal(self, argv: list[str], title: str) -> subprocess.Popen:
        proc = subprocess.Popen(argv, env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        self.procs.append(proc)
        deadline = time.monotonic() + 90  # a loaded machine takes its time to start a terminal
        while time.monotonic() < deadline:
            found = self.xdotool("search", "--onlyvisible", "--name", f"^{title}$", check=False).split()
            if found:
                self.window = found[0]
                self.xdotool("mousemove", "--window", self.window, "50", "50")
                self.xdotool("windowfocus", "--sync", self.window, check=False)
                return proc
            time.sleep(0.2)
        raise RuntimeError(f"no {title} window appeared")

    def xdotool(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(["xdotool", *args], env=self.env, capture_output=True, text=True, timeout=30)
        if check and done.returncode:
            raise RuntimeError(f"xdotool {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def key(self, *keys: str) -> None:
        self.xdotool("windowfocus", self.window, check=False)
        self.xdotool("key", "--delay", "60", *keys)

    def grab(self) -> np.ndarray:
        for attempt in range(20):  # a window being mapped or resized can refuse a dump for a moment
            done = subprocess.run(["xwd", "-silent", "-id", self.window], env=self.env, capture_output=True,
                                  timeout=10)
            if done.returncode == 0:
                return read_xwd(done.stdout)
            time.sleep(0.1)
        raise RuntimeError(f"xwd: {done.stderr.decode(errors='replace').strip()}")

    def shot(self, label: str) -> np.ndarray:
        frame = self.grab()
        self.shots += 1
        Image.fromarray(frame).save(self.out / f"{self.name}-{self.shots:02d}-{label}.png")
        return frame

    def burst(self, seconds: float, every: float = 0.1) -> list[tuple[float, np.ndarray]]:
        frames = []
        start = time.monotonic()
        while (now := time.monotonic() - start) < seconds:
            frames.append((now, self.grab()))
            time.sleep(max(0.0, every - (time.monotonic() - start - now)))
        return frames

    def wait_for(self, test, timeout: float, label: str) -> np.ndarray:
        deadline = time.monotonic() + timeout
        frame = self.grab()
        while not test(frame):
            if time.monotonic() > deadline:
                self.shot(label + "-timeout")
                raise AssertionError(f"{self.name}: {label} not seen within {timeout:.0f} s (see {self.out})")
            time.sleep(0.5)
            frame = self.grab()
        return frame

    def resize(self, width: int, height: int) -> None:
        self.xdotool("windowsize", self.window, str(width), str(height))

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM) if proc is not self.procs[0] else proc.terminate()
                except (ProcessLookupError, PermissionError):
                    pass
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()


# ---- scenarios ------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)

    def check(self, what: str, ok: bool, detail: str = "") -> None:
        self.checks.append((what, bool(ok), detail))

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.checks)


def _app_command(photo: Path, end_file: Path, extra: list[str]) -> list[str]:
    # The shell records when the app's process ended, for the quit time.
    python = sys.executable
    script = f'{python} -m tui.cli "$0" "$@"; date +%s.%N > "{end_file}"'
    return ["env", "COLORTERM=truecolor", "sh", "-c", script, str(photo), *extra]


def _two_pictures(photo: np.ndarray):
    def test(frame: np.ndarray) -> bool:
        boxes = picture_boxes(frame)
        return len(boxes) >= 2 and all(likeness(frame, b, photo) > 0.5 for b in boxes[:2])

    return test


def _same_place(frame: np.ndarray, settled: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Correlation between a frame and the settled frame inside one box: near 1 where the frame shows
    there what ends up there."""
    x0, y0, x1, y1 = box
    a = cv2.cvtColor(frame[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32)
    b = cv2.cvtColor(settled[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32)
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-6))


def _describe(frame: np.ndarray, photo: np.ndarray) -> str:
    return ", ".join(
        f"{x1 - x0}×{y1 - y0} at ({x0},{y0}) r={likeness(frame, (x0, y0, x1, y1), photo):.2f}"
        for x0, y0, x1, y1 in picture_boxes(frame)[:4]
    ) or "no picture"


def _side_by_side(result: Result, frame: np.ndarray, photo: np.ndarray, label: str) -> tuple | None:
    boxes = sorted(picture_boxes(frame)[:2])
    ok = len(boxes) == 2 and all(likeness(frame, b, photo) > 0.5 for b in boxes)
    result.check(f"{label}: original and rank-r pictures show the photo", ok, _describe(frame, photo))
    return boxes[0] if ok else None


def _rank_key_burst(result: Result, session: Session, photo: np.ndarray, original: tuple, key: str) -> None:
    session.key(key)
    frames = session.burst(2.0)
    x0, y0, x1, y1 = original
    blank = []
    for t, frame in frames:
        crop = frame[y0:y1, x0:x1]
        # The original pane never changes with rank: any frame where it is not the photo is flicker.
        if likeness(frame, original, photo) < 0.5 or crop.std() < 10:
            blank.append(t)
    Image.fromarray(frames[len(frames) // 2][1]).save(session.out / f"{session.name}-burst-{key}-mid.png")
    result.check(
        f"after {key}: the original pane shows the photo in every frame of a 0.1 s burst",
        not blank,
        f"{len(frames)} frames; not the photo at {', '.join(f'{t:.2f}s' for t in blank) or 'none'}",
    )


def _quit(result: Result, session: Session, proc: subprocess.Popen, end_file: Path) -> None:
    end_file.unlink(missing_ok=True)
    session.key("ctrl+q")
    sent = time.time()
    deadline = time.monotonic() + 15
    while not end_file.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    if end_file.exists() and end_file.read_text().strip():
        seconds = float(end_file.read_text()) - sent
        result.figures["quit_s"] = seconds
        result.check("the process ends within 0.5 s of ctrl+q", seconds < 0.5, f"{seconds:.2f} s")
    else:
        result.check("the process ends within 0.5 s of ctrl+q", False, "still running after 15 s")


def run_xterm(photo_path: Path, photo: np.ndarray, out: Path) -> Result:
    result = Result("xterm")
    session = Session(out, "xterm")
    end_file = out / "xterm.ended"
    try:
        session.start_display()
        title = "svdlens-realterm-xterm"
        proc = session.run_terminal(
            [*XTERM_SIXEL, "-T", title, "-geometry", "200x60+0+0", "-e", *_app_command(photo_path, end_file, [])],
            title,
        )
        frame = session.wait_for(_two_pictures(photo), START_TIMEOUT, "two pictures")
        time.sleep(1.0)  # the error measurement and table follow the pictures
        frame = session.shot("side")
        original = _side_by_side(result, frame, photo, "side by side (Sixel)")
        if original:
            _rank_key_burst(result, session, photo, original, "F7")
            _rank_key_burst(result, session, photo, original, "plus")
        # The single view in a large window: above xterm's default 1000×1000 Sixel limit.
        # Resizing: frames every 0.1 s may show no picture (held while the layout settles) or one
        # still being drawn (Sixel appears top down), but never an old picture cut or moved: every
        # picture area in a frame must show what the settled frame shows there. Judged once the
        # app has drawn at the new size (before that, xterm repaints its old screen, white below).
        session.resize(*LARGE_WINDOW)
        frames = session.burst(3.0)
        settled = session.wait_for(_two_pictures(photo), 60, "two pictures after the resize")
        Image.fromarray(settled).save(session.out / "xterm-resize-settled.png")
        drawn = [(t, frame) for t, frame in frames if frame[-16:].mean() < 200]  # 238 before, 153 after
        garbled = [
            t for t, frame in drawn if any(_same_place(frame, settled, b) < 0.5 for b in picture_boxes(frame))
        ]
        for t, frame in frames:
            if t in garbled:
                Image.fromarray(frame).save(session.out / f"xterm-resize-garbled-{t:.2f}s.png")
        result.check(
            "while resizing, no picture is shown cut or moved (only blank, or drawn where it settles)",
            bool(drawn) and not garbled,
            f"{len(drawn)} of {len(frames)} frames drawn at the new size; garbled at "
            f"{', '.join(f'{t:.2f}s' for t in garbled) or 'none'}; settled: {_describe(settled, photo)}",
        )
        session.key("F5")
        time.sleep(2.0)
        frame = session.shot("single-large")
        boxes = picture_boxes(frame)
        big = boxes[0] if boxes else None
        result.check(
            f"single view at {LARGE_WINDOW[0]}×{LARGE_WINDOW[1]} px shows the photo",
            len(boxes) == 1 and likeness(frame, big, photo) > 0.5 and (big[2] - big[0]) > 600,
            _describe(frame, photo),
        )
        session.key("F5")  # the error map
        time.sleep(2.0)
        frame = session.shot("error-large")
        result.check("error view at the large size shows a picture", bool(picture_boxes(frame)), _describe(frame, np.zeros_like(photo)))
        session.key("F5")  # the gallery: the original and the six classic ranks, each a Sixel tile
        time.sleep(4.0)
        frame = session.shot("gallery-large")
        tiles = picture_boxes(frame)
        result.check(
            "gallery shows seven tiles, each the photo",
            len(tiles) == 7 and all(likeness(frame, b, photo) > 0.5 for b in tiles),
            _describe(frame, photo),
        )
        for _ in range(3):  # curves, components, then back to side by side
            session.key("F5")
            time.sleep(1.5)
        time.sleep(2.0)
        frame = session.shot("side-large")
        boxes = sorted(picture_boxes(frame))
        result.check(
            "back to side by side, both panes show the photo (no error map left over)",
            len(boxes) == 2 and all(likeness(frame, b, photo) > 0.5 for b in boxes),
            _describe(frame, photo),
        )
        _quit(result, session, proc, end_file)
    finally:
        session.close()
    return result


def run_kitty(photo_path: Path, photo: np.ndarray, out: Path) -> Result:
    result = Result("kitty")
    session = Session(out, "kitty")
    end_file = out / "kitty.ended"
    try:
        session.start_display()
        title = "svdlens-realterm-kitty"
        session.env["LIBGL_ALWAYS_SOFTWARE"] = "1"
        proc = session.run_terminal(
            ["kitty", "--title", title, "-o", "remember_window_size=no", "-o", "initial_window_width=1280",
             "-o", "initial_window_height=800", "-o", "allow_remote_control=no", "-o", "confirm_os_window_close=0",
             *_app_command(photo_path, end_file, [])],
            title,
        )
        try:
            frame = session.wait_for(_two_pictures(photo), START_TIMEOUT, "two pictures")
        except AssertionError as exc:
            result.check("kitty shows pictures, not empty placeholder boxes", False, str(exc))
            return result
        time.sleep(1.0)
        frame = session.shot("side")
        original = _side_by_side(result, frame, photo, "side by side (kitty: pictures, no placeholder boxes)")
        if original:
            _rank_key_burst(result, session, photo, original, "F7")
        _quit(result, session, proc, end_file)
    finally:
        session.close()
        stderr = b""
        for proc in session.procs[1:]:
            if proc.stderr:
                stderr += proc.stderr.read() or b""
        (out / "kitty.log").write_bytes(stderr)
        if b"invalid key character" in stderr:
            result.check("kitty logged no malformed graphics commands", False, "invalid key character (U=1?)")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.realterm.run", description=__doc__.split("\n")[0])
    parser.add_argument("photo", nargs="?", default=None,
                        help="default: a 3:2 crop of the bundled sample (wide enough to pass 1000 px in the large window)")
    parser.add_argument("--out", default=None, help="folder for screenshots (default: a new temporary one)")
    parser.add_argument("--only", choices=("xterm", "kitty"), default=None)
    args = parser.parse_args(argv)
    missing = missing_tools()
    if missing:
        print(f"real-terminal check skipped: {', '.join(missing)} not installed "
              "(Debian: apt-get install xvfb xterm kitty xdotool x11-apps)")
        return 0
    out = Path(args.out or tempfile.mkdtemp(prefix="svdlens-realterm-"))
    out.mkdir(parents=True, exist_ok=True)
    if args.photo is None:
        (out / "photo").mkdir(exist_ok=True)
        photo_path = out / "photo" / "sample-3x2.png"
        Image.open(ROOT / "core" / "data" / "astronaut.png").convert("RGB").crop((0, 60, 512, 401)).save(photo_path)
    else:
        photo_path = Path(args.photo).resolve()
    photo = np.asarray(Image.open(photo_path).convert("RGB"))
    results = [run(photo_path, photo, out) for name, run in (("xterm", run_xterm), ("kitty", run_kitty))
               if args.only in (None, name)]
    for result in results:
        for what, ok, detail in result.checks:
            print(f"{'ok  ' if ok else 'FAIL'} {result.name}: {what} ({detail})")
    print(f"screenshots: {out}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
