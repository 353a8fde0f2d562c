"""Issue 14 item 8: the second round of bad input, as a person meets it in a shell.

Links that loop or lead nowhere, outputs that are pipes or devices, standard output that is
full, closed or a pipe whose reader left, mislabelled files. Each runs the real command in a
subprocess (the behaviour is the process's: exit code, one line on stderr, nothing written,
the input unchanged) from the checkout, as `python -m tui.cli`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, sha256, write_png

LOOP = "loop of symbolic links"
FULL = "svdlens: error: cannot write to stdout: no space left on device"


def svdlens(*args, stdout=subprocess.PIPE, shell_suffix: str = "", timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the command; shell_suffix (e.g. ">&-") is applied by /bin/sh to the command's own descriptors."""
    argv = [sys.executable, "-m", "tui.cli", *map(str, args)]
    if shell_suffix:
        argv = ["/bin/sh", "-c", f'exec "$@" {shell_suffix}', "sh", *argv]
    return subprocess.run(argv, cwd=ROOT, stdout=stdout, stderr=subprocess.PIPE, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200"})


def one_line(done: subprocess.CompletedProcess, *words: str) -> str:
    """The single stderr line of a refused command, holding every word (notes aside)."""
    err = done.stderr.decode("utf-8", "replace")
    lines = [line for line in err.splitlines() if not line.startswith("svdlens: note: ")]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def place(tmp_path, photo_rgb):
    """A folder holding one small photo, a .svdz of it, and an empty `out` folder for results."""
    from core import svdz
    from core.imageio import read_image
    from core.svd import decompose

    write_png(tmp_path / "photo.png", photo_rgb)
    (tmp_path / "photo.svdz").write_bytes(svdz.encode(decompose(read_image(tmp_path / "photo.png").pixels), 6))
    (tmp_path / "out").mkdir()
    return tmp_path


def untouched(place: Path):
    """Snapshot of the inputs; call the result to assert nothing changed and `out` stayed empty."""
    before = {name: sha256(place / name) for name in ("photo.png", "photo.svdz")}

    def check() -> None:
        assert {name: sha256(place / name) for name in before} == before
        assert sorted(p.name for p in (place / "out").iterdir()) == []

    return check


# ---- symbolic links ----------------------------------------------------------------------------

def _commands(src: Path, out: Path) -> dict[str, list]:
    return {"report": ["report", src, "--ranks", "5"], "compress": ["compress", src, "--rank", "3", "-o", out],
            "decode": ["decode", src, "-o", out], "app": [src]}


@pytest.mark.parametrize("command", ["report", "compress", "decode", "app"])
def test_a_symlink_loop_as_input_is_a_known_error(place, command):
    check = untouched(place)
    (place / "loop.png").symlink_to(place / "loop2.png")
    (place / "loop2.png").symlink_to(place / "loop.png")
    done = svdlens(*_commands(place / "loop.png", place / "out" / "o.png")[command])
    assert done.returncode == 2 and done.stdout == b""
    one_line(done, "svdlens: error: ", str(place / "loop.png"), LOOP)
    check()


@pytest.mark.parametrize("command", ["report", "compress", "decode", "app"])
def test_a_dangling_symlink_as_input_names_its_missing_target(place, command):
    check = untouched(place)
    (place / "gone.png").symlink_to(place / "deleted" / "photo.png")
    done = svdlens(*_commands(place / "gone.png", place / "out" / "o.png")[command])
    assert done.returncode == 2 and done.stdout == b""
    one_line(done, "no such file", str(place / "deleted" / "photo.png"))
    check()


@pytest.mark.parametrize("command", ["report", "compress", "decode", "app"])
def test_a_symlink_to_a_folder_as_input(place, command):
    check = untouched(place)
    (place / "folder.png").symlink_to(place / "out")
    done = svdlens(*_commands(place / "folder.png", place / "out" / "o.png")[command])
    assert done.returncode == 2
    one_line(done, "directory")  # report takes folders: for it, "a directory with no images in it"
    check()


def test_an_input_inside_a_looping_folder(place):
    check = untouched(place)
    (place / "a").symlink_to(place / "b")
    (place / "b").symlink_to(place / "a")
    done = svdlens("report", place / "a" / "photo.png")
    assert done.returncode == 2
    one_line(done, LOOP)
    check()


def test_an_output_whose_folder_is_a_symlink_loop(place):
    check = untouched(place)
    (place / "a").symlink_to(place / "b")
    (place / "b").symlink_to(place / "a")
    done = svdlens("compress", place / "photo.png", "--rank", "3", "-o", place / "a" / "o.png")
    assert done.returncode == 2 and done.stdout == b""
    one_line(done, "the folder", LOOP)
    check()


@pytest.mark.parametrize("kind", ["dangling", "loop"])
def test_an_output_that_is_a_broken_link_is_left_alone(place, kind):
    check = untouched(place)
    link = place / "out" / "result.png"
    target = place / "nowhere" / "x.png" if kind == "dangling" else link
    link.symlink_to(target)
    done = svdlens("compress", place / "photo.png", "--rank", "3", "-o", link)
    assert done.returncode == 2 and done.stdout == b""
    one_line(done, str(link), "symbolic link")
    assert link.is_symlink() and os.readlink(link) == str(target)  # not replaced by a file
    link.unlink()
    check()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("kind", ["fifo", "link to /dev/null"])
def test_a_pipe_or_device_as_output_is_refused_not_replaced(place, kind):
    check = untouched(place)
    out = place / "out" / "result.png"
    if kind == "fifo":
        os.mkfifo(out)
    else:
        out.symlink_to(os.devnull)
    for argv in (["compress", place / "photo.png", "--rank", "3", "-o", out], ["decode", place / "photo.svdz", "-o", out]):
        done = svdlens(*argv, timeout=30)  # opening a FIFO for writing would wait for a reader forever
        assert done.returncode == 2 and done.stdout == b""
        one_line(done, "not a regular file")
    assert (out.is_fifo() if kind == "fifo" else os.readlink(out) == os.devnull)
    out.unlink()
    check()


# ---- standard output ---------------------------------------------------------------------------

def _writers(place: Path) -> dict[str, list]:
    out = place / "out"
    return {
        "report --json": ["report", place / "photo.png", "--ranks", "5", "--json"],
        "report": ["report", place / "photo.png", "--ranks", "5"],
        "compress .png": ["compress", place / "photo.png", "--rank", "3", "-o", out / "o.png"],
        "compress .svdz": ["compress", place / "photo.png", "--rank", "3", "-o", out / "o.svdz"],
        "decode": ["decode", place / "photo.svdz", "-o", out / "o.png"],
        "--help": ["--help"],
        "report --help": ["report", "--help"],
        "--version": ["--version"],
    }


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
@pytest.mark.parametrize("command", list(_writers(Path("."))))
def test_stdout_on_a_full_disk_is_one_line_and_writes_nothing(place, command):
    # Every output here is small: it sits in Python's buffer until the final flush, where a full disk
    # used to surface as "Exception ignored ... OSError" (or, for --help, not at all, with exit 0).
    check = untouched(place)
    with open("/dev/full", "wb") as full:
        done = svdlens(*_writers(place)[command], stdout=full)
    assert done.returncode == 2
    assert one_line(done) == FULL
    check()  # compress and decode: no file, as their "wrote ..." line could not be said


@pytest.mark.parametrize("command", ["report --json", "report", "compress .png", "decode"])
def test_stdout_closed_is_refused_before_any_work(place, command):
    check = untouched(place)
    done = svdlens(*_writers(place)[command], shell_suffix=">&-")
    assert done.returncode == 2
    assert one_line(done) == "svdlens: error: cannot write to stdout: it is closed"
    check()


@pytest.mark.parametrize("command", ["report --json", "compress .png", "decode"])
def test_a_reader_that_left_ends_the_command_quietly_and_writes_nothing(place, command):
    check = untouched(place)
    argv = [sys.executable, "-m", "tui.cli", *map(str, _writers(place)[command])]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the command has anything to say
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1
    assert err == ""  # the reader left on purpose: no message, and no "Exception ignored" at exit
    check()


def test_head_takes_what_it_wants_without_noise(place):
    argv = [sys.executable, "-m", "tui.cli", "report", str(place / "photo.png"), "--ranks", "5", "--json"]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = subprocess.run(["head", "-c", "10"], stdin=proc.stdout, capture_output=True, timeout=120)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert head.stdout == b'{"image": '
    assert proc.wait(timeout=120) in (0, 1)  # 1 only if head left before the last write
    assert err == ""


# ---- mislabelled files (in-process: nothing here is about the process) -------------------------

def test_a_svdz_named_png_opens_and_decodes(place, capsys):
    from core import svdz
    from core.imageio import read_image
    from tui.cli import main

    (place / "factors.png").write_bytes((place / "photo.svdz").read_bytes())
    src = read_image(place / "factors.png")
    assert src.format == "SVDZ" and any("decoded from .svdz" in note for note in src.notes)
    assert (src.pixels == svdz.decode((place / "photo.svdz").read_bytes()).pixels).all()
    assert main(["decode", str(place / "factors.png"), "-o", str(place / "out" / "back.png")]) == 0
    assert (place / "out" / "back.png").is_file()


def test_a_png_named_svdz_opens_as_the_png_it_is(place, capsys):
    from core.imageio import read_image
    from tui.cli import main

    (place / "photo-really.svdz").write_bytes((place / "photo.png").read_bytes())
    src = read_image(place / "photo-really.svdz")
    assert (src.pixels == read_image(place / "photo.png").pixels).all()
    assert src.notes[0] == "named .svdz but holds a PNG image"
    # decode reads .svdz files only: there a PNG is a clear refusal, not a crash
    assert main(["decode", str(place / "photo-really.svdz"), "-o", str(place / "out" / "back.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a .svdz file" in err
    assert not (place / "out" / "back.png").exists()


# ---- the app without a terminal: refused in one line before Textual loads ----------------------

def _app_with(place: Path, stdin, stderr, shell_suffix: str = "") -> tuple[int, str]:
    argv = [sys.executable, "-m", "tui.cli", str(place / "photo.png")]
    if shell_suffix:
        argv = ["/bin/sh", "-c", f'exec "$@" {shell_suffix}', "sh", *argv]
    done = subprocess.run(argv, cwd=ROOT, stdin=stdin, stdout=subprocess.PIPE, stderr=stderr, timeout=60,
                          env={**os.environ, "TERM": "xterm-256color"})
    return done.returncode, (done.stderr or b"").decode()


@pytest.mark.parametrize("stdin", ["/dev/null", "closed"])
def test_the_app_without_a_terminal_on_stdin(place, stdin):
    check = untouched(place)
    if stdin == "closed":
        code, err = _app_with(place, None, subprocess.PIPE, shell_suffix="<&-")
    else:
        with open(os.devnull) as null:
            code, err = _app_with(place, null, subprocess.PIPE)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err and "╭" not in err, err
    assert "needs a terminal on stdin" in err and "svdlens report IMAGE" in err
    check()


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="no pseudo-terminals here")
@pytest.mark.parametrize("case", ["stdout closed", "stderr to a file"])
def test_the_app_with_stdout_closed_or_stderr_redirected(place, tmp_path, case):
    primary, secondary = os.openpty()  # a terminal for the streams this case leaves alone
    try:
        with os.fdopen(os.dup(secondary), "rb", buffering=0) as tty_in:
            if case == "stdout closed":
                code, _ = _app_with(place, tty_in, secondary, shell_suffix=">&-")
                os.set_blocking(primary, False)
                err = os.read(primary, 4096).decode().replace("\r\n", "\n")
            else:
                code, err = _app_with(place, tty_in, subprocess.PIPE)
    finally:
        os.close(primary)
        os.close(secondary)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert ("needs stdout open" if case == "stdout closed" else "needs a terminal on stderr") in err, err
