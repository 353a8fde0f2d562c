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
from tui.batch import BatchProgress, MemoryGate, Options, Run, photo_need, worker_count
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


# ---- photos overlap only when their memory fits in the largest photo's ------------------------------

def _square(folder: Path, name: str, side: int, shift: int = 0) -> Path:
    """A side×side crop of the bundled photo (shift moves it, so that equal sizes differ in content)."""
    rgb = cv2.imread(str(SAMPLE), cv2.IMREAD_COLOR)[..., ::-1]
    return write_png(folder / name, np.ascontiguousarray(np.roll(rgb, shift, axis=1)[50:50 + side, 60:60 + side]))


@pytest.fixture
def by_pixels(monkeypatch):
    """Estimates without core.summary's fixed parts: fitted to photos of 0.5 MP and up, they would keep these
    tiny photos apart (41 MiB each against 40 bytes per sample), so that the pixels would decide nothing."""
    import core.summary

    monkeypatch.setattr(core.summary, "PREPARE_BYTES", 0)
    monkeypatch.setattr(core.summary, "SUMMARY_BYTES", 0)


def _run(photos: list[Path], jobs: int = 1):
    """A many-photo run in this process: (its MemoryGate, the outcomes in the order they came)."""
    options = Options(ranks=[30, 8], energy=0.99, psnr_db=30.0, device="cpu", jobs=jobs)
    run = Run(photos, options, lambda message: None, BatchProgress(len(photos), worker_count(len(photos), jobs)))
    run.start()
    return run.gate, list(run.outcomes())


def _single(photo: Path, capsys) -> dict:
    assert main(["report", str(photo), "--json", "--ranks", "30,8", "--device", "cpu"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_next_photo_is_read_while_one_is_measured_when_both_fit(tmp_path, capsys, by_pixels):
    """Two small photos before one over ten times their size: each starts while the one before is measured,
    and nothing starts while the largest is; every JSON object is still that photo's own single-photo one."""
    photos = [_square(tmp_path, "a.png", 110), _square(tmp_path, "b.png", 110, 60), _square(tmp_path, "c.png", 400),
              _square(tmp_path, "d.png", 110, 120)]
    gate, outcomes = _run(photos)
    assert [o.index for o in outcomes] == [0, 1, 2, 3] and not any(o.error for o in outcomes)
    assert gate.starts == [(0, frozenset()), (1, frozenset({0})), (2, frozenset({1})), (3, frozenset())]
    for photo, outcome in zip(photos, outcomes):
        single = _single(photo, capsys)
        assert outcome.data["image"] == single["image"] and outcome.data["rows"] == single["rows"]


def test_photos_of_one_size_never_overlap_with_one_job_and_do_with_two(tmp_path, by_pixels):
    photos = [_square(tmp_path, f"p{i}.png", 120, 50 * i) for i in range(3)]
    gate, outcomes = _run(photos)
    assert gate.starts == [(0, frozenset()), (1, frozenset()), (2, frozenset())]
    gate2, outcomes2 = _run(photos, jobs=2)
    assert any(in_flight for _, in_flight in gate2.starts)  # --jobs 2: two photos' worth of memory
    assert [o.data for o in outcomes2] == [o.data for o in outcomes]


def test_a_bad_file_between_overlapping_photos_is_reported_and_the_rest_done(tmp_path, capsys, by_pixels):
    """A PNG cut short after its header (its size known, its pixels not) read beside the photo before it."""
    photos = [_square(tmp_path, "a.png", 100), tmp_path / "b-broken.png", _square(tmp_path, "c.png", 100, 40),
              _square(tmp_path, "d.png", 300)]
    photos[1].write_bytes(photos[0].read_bytes()[:300])
    gate, outcomes = _run(photos)
    assert (1, frozenset({0})) in gate.starts  # the broken one was read while the first was measured
    assert [bool(o.error) for o in outcomes] == [False, True, False, False]
    assert outcomes[1].error.startswith(str(photos[1])) and "corrupt or truncated PNG" in outcomes[1].error
    code = main(["report", *map(str, photos), "--json", "--ranks", "30,8", "--device", "cpu"])
    out, err = capsys.readouterr()
    assert code == 2
    assert [Path(json.loads(line)["image"]["path"]).name for line in out.splitlines()] == ["a.png", "c.png", "d.png"]
    assert [json.loads(line) for line in out.splitlines()] == [o.data for o in outcomes if not o.error]
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "b-broken.png" in errors[0] and "(skipped)" in errors[0]
    assert "1 failed: " in err and "Traceback" not in err


def test_memory_need_comes_from_the_header_and_grows_with_the_pixels(tmp_path):
    small, large = _square(tmp_path, "small.png", 100), _square(tmp_path, "large.png", 200)
    a, b = photo_need(small, False, 10**8), photo_need(large, False, 10**8)
    assert 0 < a.prepare < a.summary and a.prepare < b.prepare < b.summary and a.summary < b.summary
    grey = photo_need(small, True, 10**8)  # --grey: one channel
    assert grey.prepare < a.prepare and grey.summary < a.summary
    assert photo_need(large, False, 100 * 100).summary == 0  # over --max-pixels: refused before decoding
    (tmp_path / "junk.png").write_bytes(b"not a picture")
    assert photo_need(tmp_path / "junk.png", False, 10**8) is None


def test_a_photo_of_unknown_size_counts_as_the_largest():
    import threading

    from core.summary import MemoryNeed

    gate = MemoryGate([MemoryNeed(10, 40), None, MemoryNeed(10, 40)], jobs=1, cancel=threading.Event())
    assert gate.budget == 40 and gate.needs[1] == MemoryNeed(40, 40)
    assert gate.start() == 0 and gate.measure(0)
    cancel_after_wait = threading.Timer(0.5, gate.cancel.set)  # start() would wait for photo 0 to finish
    cancel_after_wait.start()
    assert gate.start() is None  # photo 1 did not start beside photo 0
    gate.cancel.clear()
    gate.done(0)
    assert gate.start() == 1 and gate.starts[-1] == (1, frozenset())


def _one_job_starts(needs: list) -> list[tuple[int, frozenset[int]]]:
    """MemoryGate.starts of a --jobs 1 run, driven in this thread: each photo measured as soon as it may be,
    and finished only when the next one cannot start beside it."""
    import threading

    cancel = threading.Event()
    gate = MemoryGate(needs, jobs=1, cancel=cancel)

    def start():
        timer = threading.Timer(0.2, cancel.set)  # start() waits while the next photo does not fit
        timer.start()
        try:
            return gate.start()
        finally:
            timer.cancel()
            cancel.clear()

    measuring = None
    while True:
        i = start()
        if measuring is not None:
            gate.done(measuring)
            measuring = None
            if i is None:
                continue  # it may start now
        if i is None:
            return gate.starts
        assert gate.measure(i)
        measuring = i


def test_a_photo_is_read_beside_another_only_within_the_least_the_largest_takes():
    """Estimates are at most (prepare, summary) and at least (least): two photos at their most must fit in the
    least the largest photo takes alone, or the run could peak above the largest photo's own run."""
    from core.summary import MemoryNeed

    small, medium, large = MemoryNeed(4, 15, 13), MemoryNeed(5, 20, 18), MemoryNeed(8, 25, 22)
    largest = MemoryNeed(20, 30, 27)
    # medium beside small: 15 + 5 <= 27; large beside medium: 20 + 8 = 28, within the largest's 30 at its most
    # but not its least 27; nothing beside the largest.
    assert _one_job_starts([small, medium, large, largest]) == [
        (0, frozenset()), (1, frozenset({0})), (2, frozenset()), (3, frozenset())]


def test_photos_up_to_about_5_mp_are_read_beside_one_being_measured_when_the_largest_is_8_mp():
    """The fitted estimates (core.summary) at the benchmark's sizes, the largest 8 MP: while a 2 MP or 4.8 MP
    photo is measured the next (up to 5.5 MP) is read; while a 5.5 MP or 6 MP one is, or the 8 MP one, none."""
    from core.summary import memory_need

    sizes = [(1633, 1225), (1633, 1225), (2536, 1891), (2862, 1908), (3000, 2000), (3000, 2000), (3266, 2449)]
    starts = _one_job_starts([memory_need(w, h, 3) for w, h in sizes])
    assert starts == [(0, frozenset()), (1, frozenset({0})), (2, frozenset({1})), (3, frozenset({2})),
                      (4, frozenset()), (5, frozenset()), (6, frozenset())]


def test_help_names_the_new_options(capsys):
    code = main(["report", "--help"])
    out = capsys.readouterr().out
    assert code == 0
    for word in ("--html", "--markdown", "--jobs", "--recursive", "--energy", "--psnr", "JSON Lines"):
        assert word in out
