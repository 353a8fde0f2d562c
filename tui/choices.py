"""Choices the command line and the app share, in a module light enough for `svdlens --help` to import.

`svdlens --help` must not import numpy, so the UI cannot read these from core (which does);
core.report's default ranks and core.svd's devices are the same values (tests/tui/test_jobs.py).
"""

from __future__ import annotations

CLASSIC_RANKS = (500, 250, 100, 50, 25, 10)  # the classic procedure's ranks: F7, the palette, `report`
DEVICES = ("auto", "cpu", "cuda")  # where torch computes the SVD
PROTOCOLS = ("auto", "sixel", "tgp", "halfcell", "unicode")  # how the preview pane draws pixels
ENERGY_PRESETS = (0.90, 0.99, 0.999)  # F8 and the command palette step through these shares of Σσ²
