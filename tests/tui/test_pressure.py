"""The app under pressure (issue 6): hostile files, key storms, opening, resizing and quitting mid-work.

Afterwards the app must be consistent (every pane shows the rank asked for, with core's numbers),
exit cleanly, and leave no svdlens worker thread running.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

import pytest
from textual import events
from textual.widgets import Input

from apphelp import make_app, photo, shown_ranks, wait_for
from core.errors import display_path
from core.report import rank_row
from tests.hostile import build_corpus
from tui.dialogs import PathScreen
from tui.widgets import RankInput, SizesTable


def svdlens_threads(app) -> list[threading.Thread]:
    # The threads of this app: its workers' executor and the measuring threads that end with it.
    # Other apps of this test process, and core.measure's process-wide pool, are not its own.
    return app.executor.live_threads() if app.executor is not None else []


def wait_for_no_threads(app, timeout: float = 20.0) -> list[str]:
    """After the app exits, what asyncio.run does at the end of `svdlens`: shut the default executor
    down. Idle threads then end at once; one still inside an uninterruptible torch call finishes it,
    sees its worker cancelled, and ends. Returns the stacks of threads still alive (none expected)."""
    if app.executor is not None:
        app.executor.shutdown()
    deadline = time.monotonic() + timeout
    while svdlens_threads(app) and time.monotonic() < deadline:
        time.sleep(0.05)
    frames = sys._current_frames()
    return [f"{t.name}:\n" + "".join(traceback.format_stack(frames[t.ident])) for t in svdlens_threads(app)
            if t.ident in frames]


def digests(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*")
            if p.is_file() and not p.is_symlink() and p.stat().st_mode & 0o170000 == 0o100000}


async def assert_consistent(pilot, rank: int) -> None:
    await pilot.app.settled()
    app = pilot.app
    assert shown_ranks(app) == (rank,) * 4
    row = rank_row(app.loaded.source, app.loaded.dec, rank)
    assert app.query_one(SizesTable).state.psnr_db == pytest.approx(row.psnr_db)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-app")
    return folder, {case.name: case for case in build_corpus(folder)}


OPENED_IN_THE_APP = {"grey 16-bit.png", "rgba.png", "animated.gif", "cmyk.jpg", "one row.png",
                     "папка с пробелами/фото 照片 é.png"}


async def open_by_dialog(pilot, path: Path) -> None:
    await pilot.press("f2")
    assert isinstance(pilot.app.screen, PathScreen)
    pilot.app.screen.query_one("#path-input").value = str(path)
    await pilot.press("enter")


async def test_every_corpus_file_opened_in_the_app(corpus, tmp_path):
    """Bad files: a notification naming the file and the reason, the current photo stays. Good ones open."""
    folder, cases = corpus
    before = digests(folder)
    good = photo(tmp_path / "good.png", 60, 40)
    app = make_app(good)
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await pilot.app.settled()
        # Every bad file; of the good ones a few that differ most (the rest are covered headless).
        chosen = [c for c in cases.values() if c.expect != "ok" or c.name in OPENED_IN_THE_APP]
        for i, case in enumerate(chosen):
            if i % 4 == 0:
                await open_by_dialog(pilot, case.path)  # as a person would, now and then
            else:
                app.open_image(case.path)
            await pilot.app.settled()
            if case.expect == "bad" or (case.expect == "either" and app.loaded.source.path != case.path):
                assert app.last_error is not None and display_path(case.path) in app.last_error, case.name
                assert case.reason in app.last_error, (case.name, app.last_error)
                assert any(display_path(case.path) in n.message for n in app._notifications), case.name
                assert app.loaded is not None and app.loaded.source.path != case.path
            else:
                assert app.loaded.source.path == case.path, (case.name, app.last_error)
                assert case.shape is None or app.loaded.dec.shape[:2] == case.shape[:2], case.name
                if case.note:
                    assert case.note in app.sub_title, (case.name, app.sub_title)
            app.last_error = None
        # Still usable: a good photo opens and the rank keys work.
        app.open_image(good)
        await pilot.app.settled()
        field = app.query_one(RankInput)
        field.focus()
        field.value = "20"
        await pilot.press("enter")
        await assert_consistent(pilot, 20)
        await pilot.press("minus", "minus")
        await assert_consistent(pilot, 18)
        await pilot.press("ctrl+q")
    assert app.return_code in (0, None)
    assert wait_for_no_threads(app) == []
    assert digests(folder) == before


async def test_hundreds_of_rank_changes_in_a_second(tmp_path):
    app = make_app(photo(tmp_path / "p.png", 200, 150))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.app.settled()
        field = app.query_one(RankInput)
        start = time.monotonic()
        expected = app.rank
        for i in range(400):
            # Keys as a terminal's auto-repeat delivers them, and typed values, all queued at once.
            if i % 5 == 4:  # a typed rank, Enter pressed (through the field, in order with the keys)
                expected = 1 + (i * 37) % 140
                field.post_message(Input.Submitted(field, str(expected)))
            else:
                key = ("plus", "minus", "pageup", "plus")[i % 4]
                field.post_message(events.Key(key, {"plus": "+", "minus": "-"}.get(key)))
                expected = min(150, max(1, expected + {"plus": 1, "minus": -1, "pageup": 10}[key]))
        queued = time.monotonic() - start
        assert queued < 1.0  # posting never waits for a computation
        await assert_consistent(pilot, expected)
        await pilot.press("ctrl+q")
    assert wait_for_no_threads(app) == []


async def test_open_resize_and_quit_while_a_decomposition_runs(tmp_path):
    big = photo(tmp_path / "big.png", 1400, 1000)
    small = photo(tmp_path / "small.png", 90, 70)
    app = make_app(small)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.app.settled()
        app.open_image(big)
        await wait_for(pilot, lambda: app.has_class("-busy"))
        await pilot.resize_terminal(80, 24)
        await pilot.press("plus", "plus")  # rank keys on the old photo while the new one decomposes
        await pilot.resize_terminal(200, 60)
        app.open_image(small)  # opening another photo supersedes the running decomposition
        await assert_consistent(pilot, 52)
        assert app.loaded.source.path == small
        await pilot.pause(0.5)
        assert app.loaded.source.path == small  # the slow, superseded result never wins
        app.open_image(big)
        await wait_for(pilot, lambda: app.has_class("-busy"))
        await pilot.resize_terminal(100, 30)
        await pilot.press("ctrl+q")  # quit mid-decomposition
    assert app.return_code in (0, None)
    assert wait_for_no_threads(app) == []


async def test_quit_while_measuring_and_saving(tmp_path):
    app = make_app(photo(tmp_path / "p.png", 300, 200))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.app.settled()
        field = app.query_one(RankInput)
        for key in ("asterisk", "slash", "plus") * 5:  # measurements and previews under way...
            field.post_message(events.Key(key, {"asterisk": "*", "slash": "/", "plus": "+"}[key]))
        await pilot.press("f3")
        assert isinstance(app.screen, PathScreen)
        app.screen.query_one("#path-input").value = str(tmp_path / "out.svdz")
        await pilot.press("enter", "pageup", "ctrl+q")
    assert app.return_code in (0, None)
    assert wait_for_no_threads(app) == []
    # The save either finished or never started: never a partial file or a temporary.
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers in (["p.png"], ["out.svdz", "p.png"])


async def save_as(pilot, path: Path) -> None:
    await pilot.press("f3")
    assert isinstance(pilot.app.screen, PathScreen)
    pilot.app.screen.query_one("#path-input").value = str(path)
    await pilot.press("enter")


async def test_saving_where_it_must_not_is_refused_and_the_app_goes_on(tmp_path):
    source = photo(tmp_path / "p.png", 64, 48)
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    (tmp_path / "link.png").symlink_to(source)
    os.link(source, tmp_path / "hard.png")
    (tmp_path / "sub" / "dir.png").mkdir(parents=True)
    app = make_app(source)
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await pilot.app.settled()
        refusals = [(source, "refusing to write over the input"), (tmp_path / "link.png", "refusing"),
                    (tmp_path / "hard.png", "refusing"), (tmp_path / "sub" / ".." / "p.png", "refusing"),
                    (tmp_path / "o.bmp", "unknown output type"), (source / "o.png", "does not exist"),
                    (tmp_path / "sub" / "dir.png", "is a directory"), (tmp_path / ("n" * 300 + ".png"), "too long")]
        for i, (target, reason) in enumerate(refusals):
            app.last_error = None
            if i < 2:
                await save_as(pilot, target)  # as a person does; the rest straight to what Enter calls
            else:
                app.save_to(target)
            await wait_for(pilot, lambda: app.last_error is not None)
            assert reason in app.last_error, (target, app.last_error)
            await wait_for(pilot, lambda: any(reason in n.message for n in app._notifications))
        await save_as(pilot, tmp_path / "sub" / "fine.svdz")  # and a good save still works
        await wait_for(pilot, lambda: (tmp_path / "sub" / "fine.svdz").exists())
        await pilot.press("ctrl+q")
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hard.png", "link.png", "p.png", "sub"]
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["dir.png", "fine.svdz"]


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("mount") is None, reason="mounting a tmpfs needs root")
async def test_saving_to_a_full_disk_leaves_nothing_behind(tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(full)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        (full / "filler").write_bytes(b"\0" * (48 * 1024))
        app = make_app(photo(tmp_path / "p.png", 300, 200))
        async with app.run_test(size=(160, 50), notifications=True) as pilot:
            await pilot.app.settled()
            await save_as(pilot, full / "big.png")
            await wait_for(pilot, lambda: app.last_error is not None, timeout=30)
            assert "disk is full" in app.last_error and "big.png" in app.last_error
            await pilot.press("ctrl+q")
        assert sorted(p.name for p in full.iterdir()) == ["filler"]  # no partial file, no temporary
        assert wait_for_no_threads(app) == []
    finally:
        subprocess.run(["umount", "-l", str(full)])


async def test_hostile_svdz_files_in_the_app(tmp_path):
    from core import svdz
    from core.svd import decompose
    from core.imageio import read_image
    from tests.hostile import build_svdz_corpus

    source = photo(tmp_path / "p.png", 40, 30)
    good = svdz.encode(decompose(read_image(source).pixels), 5)
    cases = build_svdz_corpus(tmp_path / "svdz", good)
    app = make_app(source)
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await pilot.app.settled()
        for case in cases:
            app.last_error = None
            app.open_image(case.path)
            await pilot.app.settled()
            if case.name == "png inside.svdz":  # a picture opens as the picture its bytes hold, said in the title
                assert app.loaded.source.path == case.path and app.loaded.source.format == "PNG"
                assert "named .svdz but holds a PNG image" in app.sub_title
            elif case.expect == "ok":
                assert app.loaded.source.path == case.path and app.loaded.source.format == "SVDZ"
            else:
                assert app.last_error and display_path(case.path) in app.last_error, case.name
                assert app.loaded.source.path != case.path
        await pilot.press("ctrl+q")
    assert wait_for_no_threads(app) == []
