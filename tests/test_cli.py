"""The command line: numbers and pixels against numpy, and every bad input's one line."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import ROOT, classic_procedure, sha256, write_png
from tui.cli import main



def _run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("svdlens: error: ") and "Traceback" not in err
    return lines[0]


def _subprocess(code: str, *args: str, env=None):
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


# ---- fast start --------------------------------------------------------------

@pytest.mark.parametrize("argv", [["--help"], ["report", "--help"], ["compress", "--help"], ["decode", "--help"]])
def test_help_imports_no_heavy_module(argv):
    code = ("import sys; from tui.cli import main; rc = main(sys.argv[1:]); "
            "heavy = [m for m in ('torch', 'textual', 'textual_image', 'numpy', 'cv2', 'rich') if m in sys.modules]; "
            "print('HEAVY', heavy); sys.exit(rc)")
    done = _subprocess(code, *argv)
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout
    assert "usage:" in done.stdout and done.stderr == ""


def test_main_help_lists_the_commands(capsys):
    code, out, _ = _run(["--help"], capsys)
    assert code == 0
    for word in ("report IMAGE", "compress IMAGE", "decode IN.svdz", "--preview", "exit codes"):
        assert word in out


# ---- report --------------------------------------------------------------------

def test_report_table(photo_png, capsys):
    code, out, err = _run(["report", photo_png, "--ranks", "500,20"], capsys)
    assert code == 0
    assert "96*" in out and "PSNR" in out and "factors f32" in out and "128×96" in out
    assert "rank 500 is above min(H, W) = 96" in err and "clamped to 96" in err
    ref = classic_procedure(cv2.imread(str(photo_png))[..., ::-1], 20)
    assert f"{ref['psnr_db']:.2f}" in out


@pytest.mark.parametrize("grey", [False, True])
def test_report_json_matches_numpy(photo_png, photo_rgb, capsys, grey):
    argv = ["report", photo_png, "--json", "--ranks", "500,40,8"] + (["--grey"] if grey else [])
    code, out, err = _run(argv, capsys)
    assert code == 0
    data = json.loads(out)
    original = cv2.cvtColor(photo_rgb, cv2.COLOR_RGB2GRAY) if grey else photo_rgb
    assert data["image"]["channels"] == (1 if grey else 3) and data["image"]["decomposition"] == "exact"
    rows = data["rows"]
    assert [r["rank"] for r in rows] == [96, 40, 8] and [r["clamped"] for r in rows] == [True, False, False]
    assert rows[0]["psnr_db"] is None and "clamped" in err
    for row in rows[1:]:
        ref = classic_procedure(original, row["rank"])
        assert row["energy"] == pytest.approx(ref["energy"], abs=1e-6)
        assert row["relative_error"] == pytest.approx(ref["relative_error"], rel=1e-3)
        assert row["psnr_db"] == pytest.approx(ref["psnr_db"], abs=0.02)
        assert row["raw_bytes"] == original.size
        assert "container_bytes" in row


def test_report_json_stdout_is_pure_json_in_a_subprocess(photo_png):
    done = _subprocess("import sys; from tui.cli import main; sys.exit(main(sys.argv[1:]))",
                       "report", str(photo_png), "--json", "--ranks", "200,10")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["rows"][0]["clamped"] is True and data["rows"][1]["rank"] == 10
    assert "clamped" in done.stderr and "Traceback" not in done.stderr


# ---- compress / decode ---------------------------------------------------------------

def _pixels_match_numpy(out_path, original, rank):
    written = cv2.imread(str(out_path), cv2.IMREAD_UNCHANGED)
    if written.ndim == 3:
        written = written[..., ::-1]
    ref = classic_procedure(original, rank)["saved"]
    assert written.shape == ref.shape
    diff = np.abs(written.astype(int) - ref.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.002  # float32 torch vs float64 numpy rounding


@pytest.mark.parametrize("grey", [False, True])
@pytest.mark.parametrize("rank", [1, 17, 60])
def test_compress_png_equals_numpy(tmp_path, photo_png, photo_rgb, capsys, grey, rank):
    out = tmp_path / "out.png"
    before = sha256(photo_png)
    code, stdout, err = _run(["compress", photo_png, "--rank", rank, "-o", out] + (["--grey"] if grey else []),
                             capsys)
    assert code == 0, err
    original = cv2.cvtColor(photo_rgb, cv2.COLOR_RGB2GRAY) if grey else photo_rgb
    _pixels_match_numpy(out, original, rank)
    assert f"rank {rank}" in stdout and str(out) in stdout
    assert sha256(photo_png) == before


def test_compress_rank_above_full_is_clamped_and_announced(tmp_path, photo_png, photo_rgb, capsys):
    out = tmp_path / "full.webp"
    code, _, err = _run(["compress", photo_png, "--rank", "500", "-o", out], capsys)
    assert code == 0 and "clamped to 96" in err
    np.testing.assert_array_equal(cv2.imread(str(out))[..., ::-1], photo_rgb)  # lossless WebP, full rank


def test_compress_by_energy_and_psnr(tmp_path, photo_png, photo_rgb, capsys):
    out = tmp_path / "e.png"
    code, _, err = _run(["compress", photo_png, "--energy", "99.5%", "-o", out], capsys)
    assert code == 0
    rank = int(err.split("rank ")[1].split()[0])
    assert classic_procedure(photo_rgb, rank)["energy"] >= 0.995 > classic_procedure(photo_rgb, rank - 1)["energy"]
    _pixels_match_numpy(out, photo_rgb, rank)

    out = tmp_path / "p.png"
    code, _, err = _run(["compress", photo_png, "--psnr", "30", "-o", out], capsys)
    assert code == 0
    rank = int(err.split("rank ")[1].split()[0])
    assert classic_procedure(photo_rgb, rank)["psnr_db"] >= 30 - 0.02
    assert classic_procedure(photo_rgb, rank - 1)["psnr_db"] < 30 + 0.02


def test_compress_jpeg(tmp_path, photo_png, capsys):
    out = tmp_path / "out.jpg"
    code, _, _ = _run(["compress", photo_png, "--rank", "30", "-o", out], capsys)
    assert code == 0 and cv2.imread(str(out)).shape == (96, 128, 3)


def test_compress_16_bit_png_stays_16_bit(tmp_path, photo_rgb, capsys):
    deep = photo_rgb[..., 0].astype(np.uint16) * 257 + 9
    src = write_png(tmp_path / "deep.png", deep)
    out = tmp_path / "out.png"
    code, _, _ = _run(["compress", src, "--rank", "96", "-o", out], capsys)
    assert code == 0
    back = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, deep)


def test_svdz_round_trip(tmp_path, photo_png, capsys):
    from core import svdz

    packed = tmp_path / "photo.svdz"
    code, _, err = _run(["compress", photo_png, "--max-bytes", "6k", "-o", packed], capsys)
    assert code == 0, err
    assert packed.stat().st_size <= 6 * 1024
    out = tmp_path / "back.png"
    code, _, err = _run(["decode", packed, "-o", out], capsys)
    assert code == 0, err
    expected = np.clip(np.rint(svdz.read_svdz(packed).pixels * 255), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(cv2.imread(str(out))[..., ::-1], expected)
    # and a .svdz opens like any image
    code, out_json, _ = _run(["report", packed, "--json", "--ranks", "5"], capsys)
    assert code == 0 and json.loads(out_json)["image"]["format"] == "SVDZ"


# ---- bad input: exit 2, one line, nothing written, input untouched ----------------------

@pytest.fixture
def bad_files(tmp_path, photo_rgb):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("not an image")
    (tmp_path / "folder.png").mkdir()
    ok, buf = cv2.imencode(".jpg", photo_rgb)
    (tmp_path / "cut.jpg").write_bytes(buf.tobytes()[:500])
    os.mkfifo(tmp_path / "fifo.png")  # opening it for reading would block without O_NONBLOCK
    return tmp_path


BAD = [
    (["report", "{d}/missing.png"], "no such file"),
    (["report", "{d}/empty.png"], "empty"),
    (["report", "{d}/text.jpg"], "not a readable image"),
    (["report", "{d}/folder.png"], "directory"),
    (["report", "{d}/cut.jpg"], "corrupt or truncated JPEG"),
    (["report", "{photo}", "--ranks", "0"], "at least 1"),
    (["report", "{photo}", "--ranks=-5"], "at least 1"),
    (["report", "{photo}", "--ranks", "ten"], "not a whole number"),
    (["report", "{photo}", "--max-pixels", "100"], "--max-pixels"),
    (["report", "{photo}", "--bogus"], "unrecognized arguments"),
    (["report"], "required: IMAGE"),
    (["compress", "{photo}", "--rank", "0", "-o", "{d}/o.png"], "at least 1"),
    (["compress", "{photo}", "--rank", "-5", "-o", "{d}/o.png"], "at least 1"),
    (["compress", "{photo}", "--rank", "x", "-o", "{d}/o.png"], "not a whole number"),
    (["compress", "{photo}", "--energy", "1.5", "-o", "{d}/o.png"], "at most 1"),
    (["compress", "{photo}", "--energy", "0", "-o", "{d}/o.png"], "above 0"),
    (["compress", "{photo}", "--psnr", "-3", "-o", "{d}/o.png"], "positive"),
    (["compress", "{photo}", "--rank", "5", "-o", "{d}/o.bmp"], "unknown output type"),
    (["compress", "{photo}", "--rank", "5", "-o", "{photo}"], "refusing to write over the input"),
    (["compress", "{photo}", "--rank", "5", "-o", "{d}/link.png"], "refusing to write over the input"),
    (["compress", "{photo}", "--rank", "5", "-o", "{d}/nowhere/o.png"], "does not exist"),
    (["compress", "{photo}", "--rank", "5", "-o", "{d}/folder.png"], "is a directory"),
    (["compress", "{photo}", "-o", "{d}/o.png"], "one of the arguments"),
    (["compress", "{photo}", "--rank", "5", "--psnr", "30", "-o", "{d}/o.png"], "not allowed"),
    (["compress", "{photo}", "--rank", "5"], "required: -o"),
    (["compress", "{photo}", "--rank", "5", "--chroma-rank", "2", "-o", "{d}/o.png"], "needs --ycbcr"),
    (["compress", "{photo}", "--psnr", "30", "--ycbcr", "--chroma-rank", "2", "-o", "{d}/o.png"], "with --rank"),
    (["compress", "{photo}", "--max-bytes", "10k", "-o", "{d}/o.png"], ".svdz"),
    (["compress", "{photo}", "--max-bytes", "lots", "-o", "{d}/o.svdz"], "not a size"),
    (["compress", "{photo}", "--max-bytes", "0.5", "-o", "{d}/o.svdz"], "at least 1 byte"),
    (["compress", "{d}/missing.png", "--rank", "5", "-o", "{d}/o.png"], "no such file"),
    (["decode", "{d}/text.jpg", "-o", "{d}/o.png"], "text.jpg"),
    (["decode", "{d}/missing.svdz", "-o", "{d}/o.png"], "no such file"),
    (["decode", "{d}/x.svdz", "-o", "{d}/o.svdz"], ".png"),
    (["{d}/missing.png"], "no such file"),
    (["{d}/folder.png"], "directory"),
    (["{d}/fifo.png"], "not a regular file"),
    (["decode", "{d}/fifo.png", "-o", "{d}/o.png"], "not a regular file"),
    (["report", "{d}/fifo.png"], "not a regular file"),
    (["compress", "{d}/fifo.png", "--rank", "5", "-o", "{d}/o.png"], "not a regular file"),
]


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(a[:3]).replace("{", "").replace("}", "")
                                                    for a, _ in BAD])
def test_bad_input_gets_one_line_and_exit_2(bad_files, photo_png, capsys, argv, message):
    (bad_files / "link.png").symlink_to(photo_png)
    before = sha256(photo_png)
    listing = sorted(p.name for p in bad_files.iterdir())
    argv = [a.format(d=bad_files, photo=photo_png) for a in argv]
    code, out, err = _run(argv, capsys)
    assert code == 2
    line = _one_line_error(err)
    assert message in line
    assert out == ""
    assert sorted(p.name for p in bad_files.iterdir()) == listing  # nothing written, no temporary left
    assert sha256(photo_png) == before


def test_unknown_suffix_is_refused_before_computing(tmp_path, photo_png, capsys, monkeypatch):
    import core.svd

    def must_not_run(*args, **kwargs):
        raise AssertionError("decomposed before checking the output")

    monkeypatch.setattr(core.svd, "decompose", must_not_run)
    code, _, err = _run(["compress", photo_png, "--rank", "5", "-o", tmp_path / "o.gif"], capsys)
    assert code == 2 and "unknown output type" in err


def test_full_disk_leaves_nothing_behind(tmp_path, photo_png, capsys, monkeypatch):
    out_dir = tmp_path / "out"
    out_dir.mkdir()

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    code, out, err = _run(["compress", photo_png, "--rank", "5", "-o", out_dir / "o.png"], capsys)
    assert code == 2 and "disk is full" in _one_line_error(err)
    assert list(out_dir.iterdir()) == []


def test_unexpected_errors_are_one_line_and_exit_1(photo_png, capsys, monkeypatch):
    import core.imageio

    def boom(*args, **kwargs):
        raise RuntimeError("something broke\nsecond line")

    monkeypatch.setattr(core.imageio, "read_image", boom)
    code, out, err = _run(["report", photo_png], capsys)
    assert code == 1
    assert err.strip().splitlines() == ["svdlens: unexpected error: RuntimeError: something broke "
                                        "(SVDLENS_DEBUG=1 shows the traceback)"]


def test_exit_codes_in_a_subprocess(tmp_path, photo_png):
    run = "import sys; from tui.cli import main; sys.exit(main(sys.argv[1:]))"
    missing = _subprocess(run, "report", str(tmp_path / "missing.png"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "Traceback" not in missing.stderr
    usage = _subprocess(run, "compress", str(photo_png), "--rank", "3")
    assert usage.returncode == 2 and usage.stderr.count("\n") == 1
    broken = _subprocess("import sys, core.imageio as io\n"
                         "def boom(*a, **k): raise ZeroDivisionError('x')\n"
                         "io.read_image = boom\n" + run, "report", str(photo_png))
    assert broken.returncode == 1 and "Traceback" not in broken.stderr and broken.stderr.count("\n") == 1
    debug = _subprocess("import sys, core.imageio as io\n"
                        "def boom(*a, **k): raise ZeroDivisionError('x')\n"
                        "io.read_image = boom\n" + run, "report", str(photo_png), env={"SVDLENS_DEBUG": "1"})
    assert debug.returncode == 1 and "Traceback" in debug.stderr


# ---- the app is opened by `svdlens [IMAGE]` ---------------------------------------------

@pytest.fixture
def fake_app(monkeypatch):
    calls = []
    module = types.ModuleType("tui.lifecycle")

    def run_app(path, *, preview="auto", mode="colour", device="auto"):
        calls.append((path, preview, mode, device))
        return 0

    module.run_app = run_app
    monkeypatch.setitem(sys.modules, "tui.lifecycle", module)
    monkeypatch.setattr("tui.cli._terminal_problem", lambda: None)  # pytest gives no terminal
    return calls


def test_app_gets_the_image_and_options(photo_png, capsys, fake_app):
    assert main([str(photo_png), "--preview", "halfcell", "--grey", "--device", "cpu"]) == 0
    assert main([]) == 0
    assert fake_app == [(Path(photo_png), "halfcell", "grey", "cpu"), (None, "auto", "colour", "auto")]


def test_app_with_a_missing_image_fails_before_textual_loads(tmp_path):
    code = ("import sys; from tui.cli import main; rc = main(sys.argv[1:]); "
            "print('TEXTUAL', 'textual' in sys.modules); sys.exit(rc)")
    done = _subprocess(code, str(tmp_path / "nope.jpg"))
    assert done.returncode == 2 and "TEXTUAL False" in done.stdout
    assert done.stderr.strip() == f"svdlens: error: {tmp_path / 'nope.jpg'}: no such file"


def test_bad_preview_choice_is_a_usage_error(capsys, fake_app):
    code, _, err = _run(["--preview", "kitty"], capsys)
    assert code == 2 and "invalid choice" in _one_line_error(err) and fake_app == []


def test_fast_report_says_it_is_randomized_and_stays_close(photo_png, photo_rgb, capsys, monkeypatch):
    import core.svd

    monkeypatch.setattr(core.svd, "RANDOMIZED_MIN_SIDE", 1)  # make the small photo count as large
    monkeypatch.setattr(core.svd, "RANDOMIZED_MIN_PIXELS", 1)
    monkeypatch.setattr(core.svd, "OVERSAMPLE", 10)  # else the sketch is most of a 96-pixel side: exact
    code, out, err = _run(["report", photo_png, "--fast", "--json", "--ranks", "30,10"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["image"]["decomposition"] == "randomized" and "randomized" in err
    for row in data["rows"]:
        assert row["psnr_db"] == pytest.approx(classic_procedure(photo_rgb, row["rank"])["psnr_db"], abs=0.1)
    code, out, err = _run(["report", photo_png, "--json", "--ranks", "30"], capsys)
    assert json.loads(out)["image"]["decomposition"] == "exact" and "randomized" not in err


def test_fast_report_on_a_small_image_is_exact_but_truncated_and_says_so(tmp_path, capsys):
    # 40×30 is below the randomized threshold: --fast gives the exact SVD of the top ranks only.
    rng = np.random.default_rng(3)
    path = write_png(tmp_path / "small.png", rng.integers(0, 256, (30, 40, 3), dtype=np.uint8))
    code, out, err = _run(["report", path, "--fast", "--json", "--ranks", "5"], capsys)
    assert code == 0
    info = json.loads(out)["image"]
    assert info["decomposition"] == "exact" and info["truncated"] is True and info["max_rank"] == 5
    assert "randomized" not in err and "exact SVD, top 5 ranks kept" in err
    code, out, err = _run(["report", path, "--fast", "--ranks", "5"], capsys)
    assert "exact SVD, truncated" in out and "randomized" not in out


def test_app_gets_a_raised_pixel_limit(photo_png, monkeypatch):
    calls = []
    module = types.ModuleType("tui.lifecycle")
    module.run_app = lambda path, **kwargs: calls.append((path, kwargs)) or 3
    monkeypatch.setitem(sys.modules, "tui.lifecycle", module)
    monkeypatch.setattr("tui.cli._terminal_problem", lambda: None)  # pytest gives no terminal
    assert main([str(photo_png), "--max-pixels", "5000000"]) == 3  # the app's exit code is passed on
    assert calls == [(Path(photo_png), {"preview": "auto", "mode": "colour", "device": "auto",
                                        "max_pixels": 5_000_000})]


def test_ycbcr_with_a_chroma_rank(tmp_path, photo_png, photo_rgb, capsys):
    from core.colour import rgb_to_ycbcr, ycbcr_to_rgb

    out = tmp_path / "y.png"
    code, stdout, _ = _run(["compress", photo_png, "--ycbcr", "--rank", "20", "--chroma-rank", "4", "-o", out], capsys)
    assert code == 0 and "rank 20/4/4" in stdout
    ycc = rgb_to_ycbcr(photo_rgb.astype(np.float64) / 255).astype(np.float64)
    planes = []
    for c, r in zip(range(3), (20, 4, 4)):
        u, s, vt = np.linalg.svd(ycc[..., c], full_matrices=False)
        planes.append((u[:, :r] * s[:r]) @ vt[:r])
    expected = np.clip(np.rint(np.clip(ycbcr_to_rgb(np.stack(planes, -1)), 0, 1) * 255), 0, 255)
    diff = np.abs(cv2.imread(str(out))[..., ::-1].astype(int) - expected.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.002


def test_hostile_file_names_stay_on_one_line(tmp_path, photo_png, capsys):
    odd = tmp_path / "two\nlines \udcff.png"  # a newline and a byte that is not UTF-8
    odd.write_bytes(photo_png.read_bytes())
    before = sha256(odd)
    code, out, err = _run(["compress", odd, "--rank", "4", "-o", tmp_path / "out\n.png"], capsys)
    assert code == 0 and len(out.strip().splitlines()) == 1 and "out\\n.png" in out
    code, out, err = _run(["compress", odd, "--rank", "4", "-o", odd], capsys)
    assert code == 2 and "two\\nlines \\udcff.png" in _one_line_error(err)
    assert sha256(odd) == before


def _odd_files(folder: Path, photo_rgb: np.ndarray) -> dict[str, str]:
    """Awkward but valid images, each with the note a person should see."""
    from PIL import Image

    img = Image.fromarray(photo_rgb)
    rgba = np.dstack([photo_rgb, np.full(photo_rgb.shape[:2], 255, np.uint8)])
    rgba[:10, :, 3] = 0
    write_png(folder / "alpha.png", rgba)
    la = img.convert("LA")
    la.putalpha(Image.fromarray(rgba[..., 3]))
    la.save(folder / "grey alpha.png")
    img.convert("P").save(folder / "palette.png")
    img.convert("CMYK").save(folder / "cmyk.jpg", quality=95)
    exif = Image.Exif()
    exif[0x0112] = 6
    img.save(folder / "rotated.jpg", exif=exif.tobytes())
    img.save(folder / "anim.gif", save_all=True, append_images=[img.rotate(90), img.rotate(180)])
    write_png(folder / "deep.png", photo_rgb.astype(np.uint16) * 257)
    return {"alpha.png": "composited on white", "grey alpha.png": "composited on white",
            "palette.png": "palette", "cmyk.jpg": "CMYK", "rotated.jpg": "EXIF orientation 6",
            "anim.gif": "first of 3 frames", "deep.png": ""}


def test_awkward_images_work_and_say_what_was_done(tmp_path, photo_rgb, capsys):
    for name, note in _odd_files(tmp_path, photo_rgb).items():
        path = tmp_path / name
        before = sha256(path)
        code, out, err = _run(["report", path, "--json", "--ranks", "8"], capsys)
        assert code == 0, err
        info = json.loads(out)["image"]
        assert note in " ".join(info["notes"]) and (not note or note in err)
        expected = (128, 96) if name == "rotated.jpg" else (96, 128)
        assert (info["height"], info["width"]) == expected  # rotated: turned upright
        assert info["channels"] == (1 if name == "grey alpha.png" else 3)
        assert info["bit_depth"] == (16 if name == "deep.png" else 8)
        code, _, err = _run(["compress", path, "--rank", "8", "-o", tmp_path / f"out-{name}.png"], capsys)
        assert code == 0, err
        assert sha256(path) == before


def test_damaged_jpeg_is_reported_as_a_note_in_a_subprocess(tmp_path, photo_rgb):
    ok, buf = cv2.imencode(".jpg", photo_rgb[..., ::-1].copy())
    data = buf.tobytes()
    path = tmp_path / "extra.jpg"
    path.write_bytes(data[:-2] + b"\x13" * 40 + data[-2:])
    done = _subprocess("import sys; from tui.cli import main; sys.exit(main(sys.argv[1:]))",
                       "compress", str(path), "--rank", "5", "-o", str(tmp_path / "o.png"))
    assert done.returncode == 0
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"svdlens: note: {path}: the JPEG decoder warned: Corrupt JPEG")
    assert "extraneous bytes before marker 0xd9" in lines[0]


def test_ctrl_c_interrupts_a_running_decomposition_at_once():
    """A LAPACK call cannot be interrupted, so the SVD runs off the main thread: ctrl-c acts at once and
    asks the computation to stop."""
    import _thread
    import threading
    import time

    from tui.cli import _interruptible

    seen = {}

    def slow_svd(cancelled):
        seen["stopped"] = cancelled.wait(10)  # a long computation that checks for cancellation
        return "finished"

    threading.Timer(0.2, _thread.interrupt_main).start()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        _interruptible(slow_svd)
    assert time.monotonic() - start < 2
    time.sleep(0.1)
    assert seen["stopped"] is True


@pytest.mark.parametrize("load, set_by_user, expected", [
    (0.2, None, None),  # a quiet machine: OpenMP's own default (spin a while), faster there
    (1.5, None, "PASSIVE"),  # a busy one: spinning threads would hold the cores others need
    (1.5, "ACTIVE", "ACTIVE"),  # the user's choice wins
])
def test_openmp_waits_passively_only_on_a_busy_machine(monkeypatch, load, set_by_user, expected):
    from tui import cli

    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    if set_by_user is None:
        monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    else:
        monkeypatch.setenv("OMP_WAIT_POLICY", set_by_user)
    cli._choose_openmp_wait_policy()
    assert os.environ.get("OMP_WAIT_POLICY") == expected


@pytest.mark.parametrize("argv, set_by_user, expected", [
    (["report", "a.png", "b.png"], None, "1"),  # photo after photo: MKL's buffer pools would only grow
    (["report", "a.png"], None, "1"),
    (["compress", "a.png", "--rank", "5", "-o", "b.png"], None, None),
    (["report", "a.png"], "0", "0"),  # the user's choice wins
])
def test_report_turns_mkl_buffer_pools_off(monkeypatch, argv, set_by_user, expected):
    from tui import cli

    monkeypatch.setenv("MKL_DISABLE_FAST_MM", "unset")  # restored afterwards, whatever the test sets
    if set_by_user is None:
        monkeypatch.delenv("MKL_DISABLE_FAST_MM")
    else:
        monkeypatch.setenv("MKL_DISABLE_FAST_MM", set_by_user)
    cli._turn_off_mkl_buffer_pools(argv)
    assert os.environ.get("MKL_DISABLE_FAST_MM") == expected
