"""The measured figures the gallery labels and the curves need, per rank (run in a worker).

The app's measurement path (core.measure through tui.jobs, the numbers of `svdlens report`),
on the loaded image's own measuring context, so the gallery, the table and the curves share
what they measured; only the figures these views show are asked for (no SSIM).
"""

from __future__ import annotations

from typing import Iterator

# What the gallery labels and the curves show, named as `svdlens report --json` names them.
VIEW_FIGURES = ("psnr_db", "png_bytes", "container_bytes", "jpeg_bytes", "jpeg_psnr_db")


def measure_figures(loaded, rank: int) -> Iterator[dict]:
    """Figures for one rank, as they become ready (cheapest first) so a worker can stop between them."""
    from core.measure import measure_rank

    return measure_rank(loaded.measure_context(), rank, figures=VIEW_FIGURES)
