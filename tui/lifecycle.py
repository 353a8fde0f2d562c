"""The app's life as a process: the factory, running it, and quitting without waiting on an SVD.

A torch SVD cannot be interrupted, so the loop's thread workers run on an executor that does
not wait for them at shutdown; once the app has closed, the process waits only for a save that
is writing (see tui.jobs.SaveTracker) and then ends, abandoning any computation still running.
"""

from __future__ import annotations

import os
import sys
import time
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tui.app import SvdlensApp


class AbandoningExecutor(ThreadPoolExecutor):
    """The loop's executor for thread workers: at shutdown it does not wait for running work.

    Compute workers write nothing, so they can be abandoned; saves are waited for by
    run_to_exit before the process ends. Companion executors (the measuring threads) are shut
    down with it and count as busy with it.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._companions: list[AbandoningExecutor] = []

    def companion(self, **kwargs) -> AbandoningExecutor:
        """Another executor that ends when this one does (e.g. core.measure's encodes)."""
        other = AbandoningExecutor(**kwargs)
        self._companions.append(other)
        return other

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=False, cancel_futures=True)
        for other in self._companions:
            other.shutdown()

    def live_threads(self) -> list[threading.Thread]:
        """The threads of this executor and its companions that are still alive."""
        own = [t for t in list(self._threads) if t.is_alive()]
        return own + [t for other in self._companions for t in other.live_threads()]

    def busy(self) -> bool:
        """Whether a thread of this executor (or a companion's) is still alive (running or about to end)."""
        return bool(self.live_threads())


def create_app(path: Path | None = None, **options) -> SvdlensApp:
    """The app on path (None: the bundled sample), as the command line, screenshots and tests build it."""
    app = SvdlensApp(path, **options)
    app.executor = AbandoningExecutor(thread_name_prefix="svdlens")
    # The measuring encodes run on threads of the app's own, ended with it: an encode of a rank
    # no longer wanted never holds the exit.
    app.measure_executor = app.executor.companion(max_workers=max(2, os.cpu_count() or 2),
                                                  thread_name_prefix="svdlens-measure")
    # Threads that measure, on cores left idle, the rank the next key press would show (core.measure's read-ahead).
    from core.measure import read_ahead_threads

    app.read_ahead_executor = app.executor.companion(max_workers=read_ahead_threads(),
                                                     thread_name_prefix="svdlens-read-ahead")
    return app


def run_app(path: Path | None, *, preview: str = "auto", mode: str = "colour", device: str = "auto",
            max_pixels: int | None = None) -> int:
    """Run the app on path (None: the bundled sample photo); returns the exit code."""
    return run_to_exit(create_app(path, preview=preview, mode=mode, device=device, max_pixels=max_pixels))


def wait_for_saves(app: SvdlensApp, timeout: float = 120.0, grace: float = 1.0) -> None:
    """Wait while a save writes (it writes atomically either way), never for one that did not start.

    Only a thread of the executor can still be saving; a save whose worker had not started when the
    app closed was cancelled with it, so it holds the exit for `grace` seconds at most (the moment
    between a thread taking it and the counts saying so).
    """
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        asked, writing = app.saves.counts()
        if app.executor is None or not app.executor.busy():
            return  # no thread runs anything: no save can finish or start
        if writing == 0 and (asked == 0 or time.monotonic() - start > grace):
            return
        time.sleep(0.05)


def run_to_exit(app: SvdlensApp, *, headless: bool = False, end_process: bool | None = None) -> int:
    """Run the app; once it is closed, wait for saves in flight, never for computations.

    end_process (default: when not headless) then ends the process at once: Python's own teardown
    (torch, OpenMP thread pools) took 1–6 s after ctrl+q, with nothing left to write (issue 14).
    """
    result = app.run(headless=headless)
    code = int(app.return_code or 0) if result is None else int(result)
    wait_for_saves(app)
    # -- issue 14, quit promptly (terminals branch) --
    if end_process if end_process is not None else not headless:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    # -- end issue 14 --
    if app.executor is not None:
        time.sleep(0.1)  # idle threads see the shutdown and end
        if app.executor.busy():
            # Only computations are left (an SVD cannot be interrupted): end without waiting.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return code
