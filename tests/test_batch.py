"""`svdlens report` over many photos: folders found by content, bad files skipped, JSON Lines, exit codes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.imageio import read_image
from core.svd import decompose
from core.svdz import quantised_psnr
from tests.conftest import ROOT, SAMPLE, classic_procedure, write_png
from tui.cli import main

RANKS = "30,8"


def _crops(folder: Path) -> list[Path]:
    """Three small real photos (crops of the bundled one), a broken JPEG, a text file and a sub-folder."""
    folder.mkdir()
    rgb = cv2.imread(str(SAMPLE), cv2.IMREAD_COLOR)[..., ::-1]
    photos = [write_png(folder / "a-face.png", np.ascontiguousarray(rgb[40:136, 180:308])),
              write_png(folder / "b-suit.png", np.ascontiguousarray(rgb[300:380, 100:200]))]
    # A JPEG with no suffix: found by its bytes, as the file pane would show it.
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(rgb[200:290, 250:370, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    (folder / "c-flag").write_bytes(data.tobytes())
    photos.append(folder / "c-flag")
    (folder / "d-broken.jpg").write_bytes(data.tobytes()[:400])
    (folder / "notes.txt").write_text("not a photo\n")
    (folder / "sub").mkdir()
    write_png(folder / "sub" / "e-deep.png", np.ascontiguousarray(rgb[0:64, 0:80]))
    return photos


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("batch")
    _crops(root / "photos")
    return root / "photos"


@pytest.fixture(scope="module")
def batch_json(folder):
    """One run over the folder: (exit code, JSON objects, stderr)."""
    done = subprocess.run([sys.executable, "-m", "tui.cli", "report", str(folder), "--json", "--ranks", RANKS],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()], done.stderr


def test_folder_finds_images_by_content_and_skips_the_broken_one(batch_json, folder):
    code, objects, err = batch_json
    assert code == 2  # a photo failed
    names = [Path(o["image"]["path"]).name for o in objects]
    assert names == ["a-face.png", "b-suit.png", "c-flag"]  # sub-folder not searched; notes.txt not an image
    lines = err.strip().splitlines()
    assert all(line.startswith("svdlens: ") for line in lines) and "Traceback" not in err
    broken = [line for line in lines if "error:" in line]
    assert len(broken) == 1 and "d-broken.jpg" in broken[0] and "(skipped)" in broken[0]
    assert any("1 failed: " in line and "d-broken.jpg" in line for line in lines)
    assert any("1 file in the folder is not an image" in line for line in lines)
    assert "notes.txt" not in err and "\x1b[" not in err  # no progress drawing when stderr is not a terminal


def test_each_json_line_is_the_single_photo_object(batch_json, folder, capsys):
    _, objects, _ = batch_json
    code = main(["report", str(folder / "b-suit.png"), "--json", "--ranks", RANKS])
    single = json.loads(capsys.readouterr().out)
    assert code == 0 and "targets" not in single  # one photo alone: today's output
    line = objects[1]
    assert set(line) == {"image", "rows", "targets"}
    assert line["image"] == single["image"] and line["rows"] == single["rows"]


def test_targets_are_the_smallest_ranks_reaching_them(batch_json, folder):
    _, objects, _ = batch_json
    for obj in objects:
        path = Path(obj["image"]["path"])
        energy, psnr = obj["targets"]
        assert energy["target"] == "energy" and energy["goal"] == 0.99
        assert psnr["target"] == "psnr" and psnr["goal"] == 30.0
        original = cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1]
        r = energy["rank"]
        # Independent numpy SVD: rank r keeps 99 % of Σσ², rank r − 1 does not.
        assert classic_procedure(original, r)["energy"] >= 0.99 > classic_procedure(original, r - 1)["energy"]
        assert energy["row"]["rank"] == r and energy["row"]["energy"] >= 0.99
        row = psnr["row"]
        assert row["rank"] == psnr["rank"] and row["container_psnr_db"] >= 30.0
        dec = decompose(read_image(path).pixels, method="exact", device="cpu")
        assert quantised_psnr(dec, psnr["rank"] - 1) < 30.0 <= quantised_psnr(dec, psnr["rank"])
        # JPEG at those bytes: a JPEG no larger than the .svdz file, measured.
        assert row["jpeg_bytes"] is None or row["jpeg_bytes"] <= row["container_bytes"]


def test_summary_table_names_every_photo_and_the_failure(folder, tmp_path):
    good = tmp_path / "good"
    good.mkdir()
    for name in ("a-face.png", "c-flag"):
        (good / name).write_bytes((folder / name).read_bytes())
    done = subprocess.run([sys.executable, "-m", "tui.cli", "report", str(good), str(folder / "d-broken.jpg"),
                           str(folder / "sub"), "--ranks", RANKS, "--energy", "95%", "--psnr", "28"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 2, done.stderr
    out = done.stdout
    assert "95% energy" in out and "28 dB" in out and ".svdz B" in out and "JPEG PSNR" in out
    for name in ("a-face.png", "c-flag", "e-deep.png", "d-broken.jpg"):
        assert name in out
    assert "failed" in out.splitlines()[[i for i, l in enumerate(out.splitlines()) if "d-broken.jpg" in l][0]]


def test_all_good_exits_0_and_recursive_goes_into_sub_folders(folder, tmp_path):
    good = tmp_path / "good"
    (good / "inner").mkdir(parents=True)
    (good / "a.png").write_bytes((folder / "a-face.png").read_bytes())
    (good / "inner" / "deep.png").write_bytes((folder / "sub" / "e-deep.png").read_bytes())
    code = subprocess.run([sys.executable, "-m", "tui.cli", "report", str(good), "-r", "--json", "--ranks", "4",
                           "--jobs", "2"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert code.returncode == 0, code.stderr
    objects = [json.loads(line) for line in code.stdout.splitlines()]
    assert [Path(o["image"]["path"]).name for o in objects] == ["a.png", "deep.png"]
    assert objects[0]["rows"][0]["rank"] == 4


@pytest.mark.parametrize("argv, message", [
    (["--jobs", "0"], "--jobs"),
    (["--energy", "1.5"], "energy share"),
    (["--psnr", "-3"], "PSNR target"),
])
def test_bad_options_are_one_line_before_any_work(folder, capsys, argv, message):
    code = main(["report", str(folder), *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0]


def test_an_empty_folder_is_one_line(tmp_path, capsys):
    (tmp_path / "readme.txt").write_text("nothing here")
    code = main(["report", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "a directory with no images in it" in err and "Traceback" not in err


def test_ctrl_c_stops_at_once_leaving_only_whole_pages(tmp_path):
    """Ctrl-C after the first page: exit 130 within seconds, every folder written is whole, no temporary left."""
    photos = tmp_path / "photos"
    photos.mkdir()
    rgb = cv2.imread(str(SAMPLE), cv2.IMREAD_COLOR)[..., ::-1]
    for i in range(6):
        write_png(photos / f"p{i}.png", np.ascontiguousarray(np.roll(rgb, 37 * i, axis=1)))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "report", str(photos), "--html", str(out), "--json",
                             "--ranks", "50,10"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (out / "p0" / "index.html").exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    sent = time.monotonic()
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and time.monotonic() - sent < 5, stderr
    assert stderr.strip().splitlines()[-1] == "svdlens: interrupted" and "Traceback" not in stderr
    assert all(json.loads(line)["rows"] for line in stdout.splitlines())  # whole lines only
    left = sorted(p.name for p in out.iterdir())
    assert not [n for n in left if n.startswith(".")]  # no half-assembled folder
    assert "index.html" not in left  # the index is written only by a finished run
    for name in left:
        files = {p.name for p in (out / name).iterdir()}
        assert {"index.html", "plot.png", "original.png", "rank-0050.png", "rank-0010.png"} <= files


def test_help_names_the_new_options(capsys):
    code = main(["report", "--help"])
    out = capsys.readouterr().out
    assert code == 0
    for word in ("--html", "--markdown", "--jobs", "--recursive", "--energy", "--psnr", "JSON Lines"):
        assert word in out
