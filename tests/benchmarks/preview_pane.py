"""How long the preview pane's worker takes per interaction on a large photo.

    .venv/bin/python tests/benchmarks/preview_pane.py [--photo PATH] [--megapixels 18] [--pane 79x96]

The photo (default ../shared/images/retina.jpg) is upscaled to the given size (an upscale, so
the numbers are about pixel counts, not about the photo's detail), decomposed once with
core.svd.decompose's defaults, and then the work one key press causes is timed the way
the pane's worker does it: the pictures (render_images), then the error measurement
(measure_render), then the textual-image half-cell rendering the UI thread does. The pane
size is in display pixels of one side-by-side image (79×96 ≈ a 160×50 terminal).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
from rich.console import Console  # noqa: E402

from core.imageio import load_image  # noqa: E402
from core.svd import decompose  # noqa: E402
from tui.preview.geometry import view_region, zoom_levels  # noqa: E402
from tui.preview.render import OriginalCache, RenderJob, measure_render, render_images  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", default=str(ROOT.parent / "shared" / "images" / "retina.jpg"))
    parser.add_argument("--megapixels", type=float, default=18.0)
    parser.add_argument("--pane", default="79x96", help="display pixels of one image, WxH")
    args = parser.parse_args()
    pane = tuple(int(v) for v in args.pane.split("x"))

    image = load_image(args.photo, "colour")
    h, w = image.shape[:2]
    scale = (args.megapixels * 1e6 / (w * h)) ** 0.5
    size = (round(w * scale), round(h * scale))
    image = cv2.resize(image, size, interpolation=cv2.INTER_CUBIC).clip(0, 1)
    t = time.perf_counter()
    dec = decompose(image)
    print(f"{Path(args.photo).name} upscaled to {size[0]}×{size[1]} ({size[0] * size[1] / 1e6:.1f} MP); "
          f"decompose {time.perf_counter() - t:.1f} s, ranks up to {dec.max_rank}, exact={dec.exact}")
    print(f"zoom levels for a {pane[0]}×{pane[1]} pane: {' '.join(zoom_levels(size, pane))}")

    cache = OriginalCache()
    generation = 0
    centre = [size[0] / 2, size[1] / 2]

    def job(rank: int, zoom: str, view: str = "side"):
        nonlocal generation
        generation += 1
        region, out, _ = view_region(size, pane, zoom, tuple(centre))
        return RenderJob(generation, dec, rank, view, False, zoom, 8, region, out, (1, 2), cache)

    def run(label: str, jobs) -> None:
        pictures, errors = [], []
        render = None
        for j in jobs:
            t0 = time.perf_counter()
            render = render_images(j)
            t1 = time.perf_counter()
            measure_render(j, render)
            t2 = time.perf_counter()
            pictures.append(t1 - t0)
            errors.append(t2 - t1)
        print(f"  {label:44s} pictures median {1e3 * statistics.median(pictures):7.1f} ms, "
              f"max {1e3 * max(pictures):7.1f}; error +{1e3 * statistics.median(errors):6.1f} ms "
              f"({render.error_resolution}; n={len(pictures)})")

    top = min(dec.max_rank, 500)
    ranks = [r for r in (10, 25, 50, 100, 250, 500) if r <= top]
    run("first render at fit (cold caches)", [job(50, "fit")])
    run("rank changes at fit", [job(r, "fit") for r in ranks * 2])
    for zoom in ("1:8", "1:2", "1:1", "4:1"):
        run(f"zoom to {zoom} (new region)", [job(50, zoom)])
        steps = []
        for _ in range(6):
            centre[0] += pane[0] / ZOOM[zoom] / 8  # one arrow-key step: 1/8 of the view
            steps.append(job(50, zoom))
        run(f"  pan steps at {zoom}", steps)
        run(f"  rank changes at {zoom}", [job(r, zoom) for r in ranks])
    run("error view at fit, rank changes", [job(r, "fit", "error") for r in ranks])
    run("error view at 1:1, rank changes", [job(r, "1:1", "error") for r in ranks])

    # The UI thread's share: textual-image builds half-cell segments from the shrunk picture.
    from textual_image.renderable.halfcell import Image as Halfcell

    render = render_images(job(50, "1:1"))
    console = Console(width=200, height=60, file=open("/dev/null", "w"))
    times = []
    for _ in range(10):
        t0 = time.perf_counter()
        img = Halfcell(render.main_image, render.main_image.width, render.main_image.height // 2)
        list(img.__rich_console__(console, console.options))
        times.append(time.perf_counter() - t0)
    print(f"  UI thread: half-cell segments for a {render.main_image.width}×{render.main_image.height} picture "
          f"median {1e3 * statistics.median(times):.1f} ms")


ZOOM = {"1:8": 1 / 8, "1:2": 1 / 2, "1:1": 1.0, "4:1": 4.0}

if __name__ == "__main__":
    main()
