"""svdlens speed benchmarks: one command, one table.

    .venv/bin/python -m tests.benchmarks.run            # the default run (a few minutes)
    .venv/bin/python -m tests.benchmarks.run --only a,d  # some sections
    .venv/bin/python -m tests.benchmarks.run --full      # also the 24 MP exact comparison (slow)

Sections: (a) rank-change, zoom and pan latency at 1, 8 and 24 MP colour; (b) open → first
preview at 8 MP colour; (c) the six-rank classic report against recomputing the SVD per
rank; (d) peak RSS at 18 MP colour (in a fresh subprocess); (e) the exact SVD by numpy,
scipy and torch on one matrix, and the randomized decomposition against the exact one at
every rank it serves; (f) the crop contract: the fast (resized-factor) preview against
the exact one at ranks 5–500; (g) whole processes side by side with commit d84d2c2 (a git
worktree, alternating runs): `import torch`, `compress --rank 50` at 1.76 MP and the six-rank
`report` at 8 MP colour, with the two reports' numbers compared (tests/benchmarks/processes.py).

Large images are a sample photo (../shared/images or the bundled astronaut) enlarged
with OpenCV (INTER_CUBIC); enlarged photos have smoother spectra than camera photos, so
(e) also runs on one with camera-like noise added. Timings are medians on whatever machine
runs this; on a shared machine they are noisy, so compare ratios within one run.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from core import svd
from core.imageio import read_image, sample_image_path
from tui.describe import describe

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "images" / "hubble_deep_field.jpg"
PHOTO = SHARED if SHARED.exists() else sample_image_path()
PANE = (320, 200)  # preview pixels: a large terminal in half-cells, or a small Sixel pane
ROWS: list[tuple[str, str, str]] = []


def say(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def row(section: str, what: str, figure: str) -> None:
    ROWS.append((section, what, figure))
    say(f"  {section:<3} {what:<58} {figure}")


def photo(megapixels: float, grey: bool = False, noise: float = 0.0) -> np.ndarray:
    """The sample photo enlarged (INTER_CUBIC) to about `megapixels`, float32 [0, 1]."""
    img = cv2.imread(str(PHOTO), cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR)
    if not grey:
        img = img[..., ::-1]
    scale = (megapixels * 1e6 / (img.shape[0] * img.shape[1])) ** 0.5
    img = cv2.resize(img.astype(np.float32) / 255, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    if noise:
        img += np.random.default_rng(0).normal(0, noise / 255, img.shape).astype(np.float32)
    return np.clip(img, 0, 1, out=img)


def median_p95(samples: list[float]) -> str:
    a = np.array(samples) * 1000
    return f"median {np.median(a):7.1f} ms   p95 {np.percentile(a, 95):7.1f} ms"


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def timed_cpu(fn, *args, **kwargs):
    """(result, wall seconds, CPU seconds of this process): on a shared machine the wall
    time includes waiting for a core; the CPU time does not (but counts both threads)."""
    t, c = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t, time.process_time() - c


# ---- (a) ----------------------------------------------------------------------------
def bench_rank_change(sizes: list[float]) -> None:
    rng = np.random.default_rng(1)
    for mp in sizes:
        image = photo(mp)
        h, w = image.shape[:2]
        label = f"{mp:g} MP colour ({w}×{h})"
        dec, seconds, cpu = timed_cpu(svd.decompose, image, device="cpu")
        row("a", f"{label}: decompose ({describe(dec)})", f"{seconds:7.2f} s (CPU {cpu:.1f} s)")
        dec.preview(50, PANE)  # the view's first call resizes the factors
        ranks = rng.integers(1, dec.max_rank + 1, size=40)
        times = []
        for r in ranks:  # what the app does per rank: preview + metrics from σ
            t = time.perf_counter()
            dec.preview(int(r), PANE)
            dec.psnr_estimate(int(r)), dec.energy(int(r))
            times.append(time.perf_counter() - t)
        row("a", f"{label}: rank change, fit view {PANE[0]}×{PANE[1]}", median_p95(times))
        # Zoom 1:1 on a detail, then step the rank there (a crop costs only the crop).
        cx, cy = w // 3, h // 3
        region = (cx, cy, cx + PANE[0], cy + PANE[1])
        times = [timed(dec.preview, int(r), PANE, region)[1] for r in ranks[:20]]
        row("a", f"{label}: rank change, 1:1 zoom", median_p95(times))
        # Pan: a new region every call, at 1:1 and at 4× shrink (factors resized per view).
        for zoom in (1, 4):
            cw, ch = min(PANE[0] * zoom, w - 1), min(PANE[1] * zoom, h - 1)
            times = []
            for i in range(20):
                x0 = int(rng.integers(0, w - cw)); y0 = int(rng.integers(0, h - ch))
                times.append(timed(dec.preview, 200, PANE, (x0, y0, x0 + cw, y0 + ch))[1])
            row("a", f"{label}: pan at rank 200, {'1:1' if zoom == 1 else f'1:{zoom}'}", median_p95(times))
        del dec, image


# ---- (b) ----------------------------------------------------------------------------
def bench_first_preview() -> None:
    image = photo(8)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo.jpg"
        cv2.imwrite(str(path), np.rint(image[..., ::-1] * 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 95])
        del image
        svd.decompose(photo(0.05), device="cpu")  # warm torch's kernels, as the app's import would
        for quick in (True, False):
            t0, c0 = time.perf_counter(), time.process_time()
            src = read_image(path, "colour")
            t1 = time.perf_counter()
            dec = svd.decompose(src.pixels, device="cpu", quick=quick)
            t2 = time.perf_counter()
            dec.preview(50, PANE), dec.original_preview(PANE)
            t3, c3 = time.perf_counter(), time.process_time()
            how = f"quick=True, {describe(dec).split(' (')[0]}" if quick else describe(dec).split(" (")[0]
            row("b", f"open → first preview, 8 MP colour JPEG ({src.width}×{src.height}), {how}",
                f"{t3 - t0:7.2f} s (load {t1 - t0:.2f} + decompose {t2 - t1:.2f} + preview {t3 - t2:.2f}; "
                f"CPU {c3 - c0:.1f} s)")
            if quick:
                refined, seconds, cpu = timed_cpu(dec.refine)
                row("b", f"  then refine() in the background → {describe(refined).split(' (')[0]}",
                    f"{seconds:7.2f} s (CPU {cpu:.1f} s)")


# ---- (c) ----------------------------------------------------------------------------
def bench_classic_report() -> None:
    import torch

    image = photo(1.76)  # the classic tools' 1.76 MP photo
    ranks = (500, 250, 100, 50, 25, 10)

    def psnr(a, b) -> float:
        return float(10 * np.log10(1 / np.mean((a.astype(np.float64) - b) ** 2)))

    def once():
        dec = svd.decompose(image, method="exact", device="cpu")
        return [psnr(dec.reconstruct(r), image) for r in ranks]

    def per_rank():
        out = []
        for r in ranks:  # what every classic script does: a new SVD for every rank
            planes = []
            for c in range(3):
                u, s, vh = torch.linalg.svd(torch.from_numpy(np.ascontiguousarray(image[..., c])), full_matrices=False)
                planes.append(((u[:, :r] * s[:r]) @ vh[:r]).clamp(0, 1).numpy())
            out.append(psnr(np.stack(planes, axis=-1), image))
        return out

    # Alternate the two, three times each, and quote medians: one run of each is at the mercy of
    # whatever else the shared machine does during it.
    once_runs, each_runs = [], []
    for _ in range(3):
        a, *times = timed_cpu(once)
        once_runs.append(times)
        b, *times = timed_cpu(per_rank)
        each_runs.append(times)
        assert np.allclose(a, b, atol=1e-3)
    t_once, c_once = np.median(once_runs, axis=0)
    t_each, c_each = np.median(each_runs, axis=0)
    row("c", f"six-rank report, {image.shape[1]}×{image.shape[0]} colour: decompose once vs per-rank SVD (medians of 3)",
        f"{t_once:7.2f} s vs {t_each:.2f} s: {t_each / t_once:.1f}× faster "
        f"(CPU {c_once:.1f} s vs {c_each:.1f} s: {c_each / c_once:.1f}×)")


# ---- (d) ----------------------------------------------------------------------------
def _peak_rss_kb() -> int:
    """This process's peak resident set (VmHWM). getrusage's ru_maxrss would do on most
    systems, but Linux carries it over fork and exec, so a child started by a big parent
    would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _rss_child(path: str, refine: bool) -> None:
    """Run in a fresh interpreter: open an image as the app/CLI would, report peak RSS."""
    from core import svd as core_svd
    from core.imageio import read_image as read

    import torch  # noqa: F401  (counted in the baseline)

    base = _peak_rss_kb()
    src = read(Path(path), "colour")
    dec = core_svd.decompose(src.pixels, device="cpu")
    dec.preview(50, PANE), dec.original_preview(PANE), dec.preview(200, PANE, (0, 0, 640, 400))
    recon = dec.reconstruct(100)
    peak = _peak_rss_kb()
    from core.metrics import psnr, ssim  # what the app's measure worker and `report` do next

    psnr(recon, src.pixels), ssim(recon, src.pixels)
    metrics_peak = _peak_rss_kb()
    del recon
    exact_peak = 0
    if refine:  # what the app does next in the background
        exact = dec.refine()
        exact.preview(50, PANE), exact.reconstruct(100)
        exact_peak = _peak_rss_kb()
    print(f"{base} {peak} {metrics_peak} {exact_peak} {src.width} {src.height} {describe(dec)}")


def bench_memory(refine: bool) -> None:
    image = photo(18)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo.png"
        cv2.imwrite(str(path), np.rint(image[..., ::-1] * 255).astype(np.uint8))
        del image
        command = [sys.executable, "-m", "tests.benchmarks.run", "--rss-child", str(path)]
        out = subprocess.run(command + (["--full"] if refine else []), cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split(maxsplit=6)
    base, peak, metrics_peak, exact_peak = (int(v) for v in out[:4])
    w, h, desc = out[4], out[5], out[6].strip()
    row("d", f"peak RSS, 18 MP colour ({w}×{h}): load, {desc.split(' (')[0]}, previews, reconstruct",
        f"{peak / 1024:7.0f} MB (after imports {base / 1024:.0f} MB)")
    row("d", "peak RSS, same, then core.metrics psnr + ssim of that rank (float32, in bands)", f"{metrics_peak / 1024:7.0f} MB")
    if refine:
        row("d", "peak RSS, same, after refine() to the exact SVD in the background", f"{exact_peak / 1024:7.0f} MB")


# ---- (e) ----------------------------------------------------------------------------
def bench_exact_and_randomized(full: bool) -> None:
    import scipy.linalg
    import torch

    a = photo(2, grey=True)
    t_np = timed(np.linalg.svd, a, full_matrices=False)[1]
    t_sp = timed(scipy.linalg.svd, a, full_matrices=False, lapack_driver="gesdd", check_finite=False)[1]
    t_th = timed(torch.linalg.svd, torch.from_numpy(a), full_matrices=False)[1]
    row("e", f"exact SVD {a.shape[1]}×{a.shape[0]} float32: numpy / scipy gesdd / torch",
        f"{t_np:5.2f} / {t_sp:.2f} / {t_th:.2f} s")
    # The photo as it is (colour, 872×1000: top-500 of 872 is a hard case for a sketch), then enlarged.
    native = read_image(PHOTO, "colour").pixels
    fast = svd.decompose(native, method="randomized", device="cpu")
    exact = svd.decompose(native, method="exact", device="cpu")
    gaps = [exact.psnr_estimate(r) - fast.psnr_estimate(r) for r in range(1, fast.max_rank + 1)]
    row("e", f"{PHOTO.name} as it is ({native.shape[1]}×{native.shape[0]} colour): randomized top-{fast.max_rank} "
        f"PSNR shortfall, max over ranks", f"{max(gaps):.4f} dB at rank {int(np.argmax(gaps)) + 1} "
        f"(estimated {fast.accuracy_db:.4f} dB)")
    cases = [(8, 0.0), (8, 3.0)] + ([(24, 3.0)] if full else [])
    for mp, noise in cases:
        grey = photo(mp, grey=True, noise=noise)
        fast, t_fast, c_fast = timed_cpu(svd.decompose, grey, method="randomized", device="cpu")
        exact, t_exact, c_exact = timed_cpu(svd.decompose, grey, method="exact", device="cpu")
        gaps = [exact.psnr_estimate(r) - fast.psnr_estimate(r) for r in range(1, fast.max_rank + 1)]
        worst = int(np.argmax(gaps)) + 1
        what = f"{mp} MP grey{' + noise σ=3/255' if noise else ''}"
        row("e", f"{what}: randomized top-{fast.max_rank} vs exact SVD",
            f"{t_fast:5.2f} s vs {t_exact:.2f} s: {t_exact / t_fast:.1f}× faster "
            f"(CPU {c_fast:.1f} s vs {c_exact:.1f} s)")
        row("e", f"{what}: PSNR shortfall, max over ranks 1–{fast.max_rank}",
            f"{max(gaps):.4f} dB at rank {worst} (estimated {fast.accuracy_db:.4f} dB)")
        del grey, fast, exact


# ---- (f) ----------------------------------------------------------------------------
def bench_crop_contract() -> None:
    natives = [p for p in (PHOTO.parent / "coffee.png", PHOTO.parent / "rocket.jpg") if p.exists()]
    cases = [(f"{p.name} {w}×{h} (as is)", img) for p in natives
             for img in [read_image(p, "colour").pixels] for h, w in [img.shape[:2]]]
    cases += [(f"{mp} MP colour (enlarged)", mp) for mp in (1, 8)]
    for label, image in cases:
        image = photo(image) if isinstance(image, int) else image
        dec = svd.decompose(image, device="cpu")
        worst, share, cost_fast, cost_exact = 0, 0.0, [], []
        for r in (5, 20, 50, 100, 200, 500):
            if r > dec.max_rank:
                continue
            exact, t_exact = timed(dec.preview, r, PANE, exact=True)
            fast, t_fast = timed(dec.preview, r, PANE, exact=False)
            diff = np.abs(exact.astype(int) - fast.astype(int))
            worst, share = max(worst, int(diff.max())), max(share, float((diff > 1).mean()))
            cost_fast.append(t_fast), cost_exact.append(t_exact)
        row("f", f"{label}, fit view: fast vs exact preview, ranks 5–500",
            f"max {worst}/255, ≤ {share * 100:.2f}% of pixels > 1/255; "
            f"{np.median(cost_fast) * 1000:.0f} ms vs {np.median(cost_exact) * 1000:.0f} ms")
        del dec, image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="a,b,c,d,e,f,g", help="sections to run, e.g. a,d")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each side in section g (report: --report-repeats)")
    parser.add_argument("--report-repeats", type=int, default=1, help="runs of each side of the 8 MP report in g")
    parser.add_argument("--full", action="store_true",
                        help="add the slow ones: 24 MP randomized vs exact, RSS after refining 18 MP to exact")
    parser.add_argument("--rss-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        _rss_child(args.rss_child, args.full)
        return
    import torch

    only = set(args.only.split(","))
    say(f"load average {os.getloadavg()[0]:.1f}; svdlens benchmarks on {os.cpu_count()} CPUs, torch {torch.__version__} ({torch.get_num_threads()} threads); "
        f"photo: {PHOTO.name} enlarged with OpenCV INTER_CUBIC")
    start = time.perf_counter()
    if "a" in only:
        bench_rank_change([1, 8, 24])
    if "b" in only:
        bench_first_preview()
    if "c" in only:
        bench_classic_report()
    if "d" in only:
        bench_memory(args.full)
    if "e" in only:
        bench_exact_and_randomized(args.full)
    if "f" in only:
        bench_crop_contract()
    if "g" in only:
        from .processes import bench_processes

        bench_processes(row, args.repeats, args.report_repeats)
    print(f"\n| | measurement | figure |\n|---|---|---|")
    for section, what, figure in ROWS:
        print(f"| {section} | {what} | {figure.strip()} |")
    print(f"\n(total {time.perf_counter() - start:.0f} s; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs at the end)")


if __name__ == "__main__":
    main()
