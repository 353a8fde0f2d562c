"""The .svdz table for the README: sizes against float32 factors, quality loss, and JPEG/WebP at equal bytes.

    .venv/bin/python tests/benchmarks/svdz_table.py [IMAGE ...] [--ranks 10,25,50,100,250] [--schemes]

Without IMAGE it measures the sample photos in ../shared/images (camera grey, astronaut,
coffee, hubble), or scikit-image's camera/astronaut/coffee when that folder is absent.
PSNR is measured on images rounded to 8 bits as saved, against the loaded photo.
--schemes adds the plain alternative the format replaced: every column of U and V as int8
with its own max-abs scale, deflated.
"""

from __future__ import annotations

import argparse
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core import svdz  # noqa: E402
from core.imageio import load_image  # noqa: E402
from core.jpeg import jpeg_at_budget, webp_at_budget  # noqa: E402
from core.metrics import psnr  # noqa: E402
from core.pixels import to_integer  # noqa: E402
from core.svd import decompose  # noqa: E402

SHARED = Path(__file__).resolve().parents[3] / "shared" / "images"
DEFAULT = [("camera.png", "grey"), ("astronaut.png", "colour"), ("coffee.png", "colour"),
           ("hubble_deep_field.jpg", "colour")]


def saved(pixels: np.ndarray) -> np.ndarray:
    return to_integer(pixels, 8).astype(np.float32) / 255.0


def int8_per_vector(dec, rank: int) -> tuple[int, np.ndarray]:
    """Bytes and pixels of the naive scheme: int8 columns with max-abs scales, deflated npz."""
    buf, planes = io.BytesIO(), []
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for i, c in enumerate(dec.channels):
            u, s, v = c.u[:, :rank].numpy(), c.s[:rank].numpy(), c.v[:, :rank].numpy()
            su, sv = np.abs(u).max(0) / 127, np.abs(v).max(0) / 127
            qu, qv = np.rint(u / su).astype(np.int8), np.rint(v / sv).astype(np.int8)
            for name, arr in (("u", qu.T), ("v", qv.T), ("su", su), ("sv", sv), ("s", s)):
                with zf.open(f"{name}{i}.npy", "w") as fh:
                    np.lib.format.write_array(fh, np.ascontiguousarray(arr))
            planes.append(((qu * su) * s) @ (qv * sv).T)
    out = planes[0] if len(planes) == 1 else np.stack(planes, axis=-1)
    if dec.colour_space == "ycbcr":
        from core.colour import ycbcr_to_rgb
        out = ycbcr_to_rgb(out)
    return len(buf.getvalue()), np.clip(out, 0, 1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", nargs="*")
    ap.add_argument("--ranks", default="10,25,50,100,250")
    ap.add_argument("--schemes", action="store_true")
    args = ap.parse_args(argv)
    ranks = [int(r) for r in args.ranks.split(",")]
    if args.images:
        jobs = [(Path(p), "colour") for p in args.images]
    elif SHARED.is_dir():
        jobs = [(SHARED / name, mode) for name, mode in DEFAULT]
    else:
        from skimage import data
        jobs = [(name, "arr") for name in ("camera", "astronaut", "coffee")]
    head = ("| photo | rank | float32 factors | .svdz | share | PSNR unquantised | PSNR .svdz | loss "
            "| JPEG ≤ .svdz bytes (q, PSNR) | WebP ≤ .svdz bytes (PSNR) |")
    if args.schemes:
        head += " int8 max-abs: share, loss |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for path, mode in jobs:
        if mode == "arr":
            image = getattr(data, path)().astype(np.float32) / 255.0
            label = f"{path} (scikit-image)"
        else:
            image = load_image(path, mode)
            label = f"{Path(path).name}{' (grey)' if image.ndim == 2 else ''}"
        label += f" {image.shape[1]}×{image.shape[0]}"
        dec = decompose(image)
        for rank in ranks:
            if rank > dec.full_rank:
                continue
            data_bytes = svdz.encode(dec, rank)
            f32 = dec.factor_bytes(rank)
            p_ref = psnr(saved(dec.reconstruct(rank)), image)
            p_svdz = psnr(saved(svdz.decode(data_bytes).pixels), image)
            jpeg = jpeg_at_budget(image, len(data_bytes))
            webp = webp_at_budget(image, len(data_bytes))
            jpeg_cell = "none fits" if jpeg is None else f"q{jpeg.quality}, {jpeg.psnr_db:.2f} dB"
            webp_cell = "none fits" if webp is None else f"{webp.psnr_db:.2f} dB"
            row = (f"| {label} | {rank} | {f32:,} | {len(data_bytes):,} | {len(data_bytes) / f32:.1%} | {p_ref:.2f} dB "
                   f"| {p_svdz:.2f} dB | {p_ref - p_svdz:.3f} dB | {jpeg_cell} | {webp_cell} |")
            if args.schemes:
                n8, pix8 = int8_per_vector(dec, rank)
                row += f" {n8 / f32:.1%}, {p_ref - psnr(saved(pix8), image):.3f} dB |"
            print(row, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
