"""Choices the command line and the app share, in a module light enough for `svdlens --help` to import.

(Rank presets and devices belong to core: core.report.CLASSIC_RANKS, core.svd.DEVICES.)
"""

from __future__ import annotations

PROTOCOLS = ("auto", "sixel", "tgp", "halfcell", "unicode")  # how the preview pane draws pixels
ENERGY_PRESETS = (0.90, 0.99, 0.999)  # F8 and the command palette step through these shares of Σσ²
