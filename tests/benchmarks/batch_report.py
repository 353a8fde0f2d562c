"""Many photos: one `svdlens report FOLDER` process against one `svdlens report PHOTO` process per photo.

Run from the repository root (numbers in README "Many photos"):

    .venv/bin/python tests/benchmarks/batch_report.py                 # 20 photos of 2–8 MP
    .venv/bin/python tests/benchmarks/batch_report.py --low-mp 0.2 --high-mp 0.8 --jobs 1,2
    .venv/bin/python tests/benchmarks/batch_report.py --count 4 --low-mp 0.5 --high-mp 8 --phases

The photos are made by batch_photos.py (upscaled and cropped from ../shared/images, outside the
repository, in a temporary folder unless --folder is given). Both ways run in the same session,
alternating round by round; each process's wall time, CPU time (user + system) and peak resident
memory (ru_maxrss from wait4) are measured, and the JSON both print is checked to be the same
numbers. CPU time over wall time is how many cores were busy on average: on N cores no way can be
faster than its CPU time / N, so the table also says how far each way is from that.

--phases instead measures, in this process, what each photo adds to the peak resident memory
while it is read and decomposed and over its whole summary, beside core.summary.memory_need's
estimates (which decide which photos a many-photo run lets overlap): run it when core.measure
changes how much it holds at once.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch_photos import make_photos  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def run(argv: list[str]) -> tuple[float, int, str, float]:
    """(seconds, peak RSS in bytes, stdout, CPU seconds) of one svdlens process."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tui.cli", *argv], cwd=ROOT, stdout=out,
                                stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        out.seek(0)
        text = out.read()
    if proc.returncode != 0:
        raise SystemExit(f"svdlens {' '.join(argv)} exited with {proc.returncode}")
    return seconds, usage.ru_maxrss * 1024, text, usage.ru_utime + usage.ru_stime


# The same question both ways: the rank table and the summary's targets (given explicitly, so that a
# one-photo run computes them too and both ways print the same JSON object per photo).
SAME = ["--json", "--device", "cpu", "--energy", "99%", "--psnr", "30"]


def _same(obj: dict) -> dict:
    obj["image"].pop("path")  # the only field that differs: how the photo was named
    return obj


def one_process(folder: Path, ranks: str, jobs: int) -> dict:
    seconds, rss, text, cpu = run(["report", str(folder), "--ranks", ranks, "--jobs", str(jobs), *SAME])
    return {"seconds": seconds, "cpu": cpu, "peak_rss": rss,
            "rows": [_same(json.loads(line)) for line in text.splitlines()]}


def process_per_photo(photos: list[Path], ranks: str) -> dict:
    total, cpu, peaks, rows = 0.0, 0.0, [], []
    for photo in photos:
        seconds, rss, text, used = run(["report", str(photo), "--ranks", ranks, *SAME])
        total += seconds
        cpu += used
        peaks.append(rss)
        rows.append(_same(json.loads(text)))
    return {"seconds": total, "cpu": cpu, "peak_rss": max(peaks), "largest_photo_rss": peaks[-1], "rows": rows}


def _memory_phases(photos: list[Path], ranks: str) -> None:
    """Peak RSS each photo adds while prepared and over its summary, against memory_need's estimates."""
    import gc

    os.environ.setdefault("MKL_DISABLE_FAST_MM", "1")  # as `svdlens report` runs (tui.cli), before torch loads
    sys.path.insert(0, str(ROOT))
    from core.imageio import read_image
    from core.report import parse_ranks
    from core.summary import memory_need, summarise
    from core.svd import decompose
    from tui.batch import _give_back_memory, _map_large_blocks

    def rss() -> tuple[int, int]:  # (now, peak since the last reset), bytes
        fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
        return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024

    def reset_peak() -> None:
        Path("/proc/self/clear_refs").write_text("5")

    _map_large_blocks()
    wanted = parse_ranks(ranks)
    first = read_image(photos[0])  # imports and thread pools first, so that they count in no photo
    summarise(first, decompose(first.pixels, method="exact", device="cpu"), wanted)
    del first
    mib = 2**20
    print(f"{'photo':<28} {'prepare MiB':>11} {'estimate':>9} {'summary MiB':>11} {'estimate':>9}")
    for photo in photos:
        gc.collect()
        _give_back_memory()
        before, _ = rss()
        reset_peak()
        src = read_image(photo)
        dec = decompose(src.pixels, method="exact", device="cpu")
        prepared = rss()[1] - before
        summarise(src, dec, wanted)
        whole = rss()[1] - before
        need = memory_need(src.width, src.height, src.channels)
        print(f"{photo.name:<28} {prepared / mib:11.0f} {need.prepare / mib:9.0f} {whole / mib:11.0f} "
              f"{need.summary / mib:9.0f}", flush=True)
        del src, dec


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--folder", type=Path, help="where to make the photos (default: a temporary folder)")
    p.add_argument("--count", type=int, default=20)
    p.add_argument("--low-mp", type=float, default=2.0)
    p.add_argument("--high-mp", type=float, default=8.0)
    p.add_argument("--ranks", default="500,250,100,50,25,10")
    p.add_argument("--jobs", default="1", help="comma-separated --jobs values for the one-process runs")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--phases", action="store_true",
                   help="measure each photo's memory by phase against core.summary.memory_need instead")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="svdlens-bench-") as tmp:
        folder = args.folder or Path(tmp) / "photos"
        photos = make_photos(folder, args.count, args.low_mp, args.high_mp)  # sorted by size, largest last
        print(f"{len(photos)} photos of {args.low_mp:g}–{args.high_mp:g} MP in {folder}; ranks {args.ranks}; "
              f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}", flush=True)
        if args.phases:
            _memory_phases(photos, args.ranks)
            return
        jobs = [int(j) for j in args.jobs.split(",")]
        results: dict[str, list[dict]] = {}
        for r in range(args.rounds):
            order = ["separate"] + [f"one process, --jobs {j}" for j in jobs]
            if r % 2:
                order.reverse()  # alternate, so a change in the machine's load hits both ways
            for way in order:
                if way == "separate":
                    got = process_per_photo(photos, args.ranks)
                else:
                    got = one_process(folder, args.ranks, int(way.rsplit(" ", 1)[1]))
                results.setdefault(way, []).append(got)
                print(f"round {r + 1}: {way}: {got['seconds']:.1f} s, CPU {got['cpu']:.1f} s, "
                      f"peak {got['peak_rss'] / 2**20:.0f} MiB", flush=True)
        separate = results["separate"]
        for way, runs in results.items():
            if way != "separate":
                assert all(run_["rows"] == separate[0]["rows"] for run_ in runs), f"{way}: numbers differ"
        base = statistics.median(r["seconds"] for r in separate)
        cores = os.cpu_count() or 1
        print(f"\n{'way':<24} {'median s':>9} {'photos/min':>11} {'× separate':>11} {'peak MiB':>9} "
              f"{'CPU s':>8} {'cores busy':>10} {f'CPU/{cores} s':>9}")
        for way, runs in results.items():
            seconds = statistics.median(r["seconds"] for r in runs)
            cpu = statistics.median(r["cpu"] for r in runs)
            peak = max(r["peak_rss"] for r in runs)
            print(f"{way:<24} {seconds:9.1f} {60 * len(photos) / seconds:11.2f} {base / seconds:11.2f} "
                  f"{peak / 2**20:9.0f} {cpu:8.1f} {cpu / seconds:10.2f} {cpu / cores:9.1f}")
        print(f"largest photo's own report: peak {max(r['largest_photo_rss'] for r in separate) / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
