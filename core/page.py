"""The shareable report: an HTML or Markdown page per photo, with its pictures and plot beside it.

Pages are built from the same JSON object `svdlens report --json` prints (so the page
and the JSON cannot disagree), plus the pictures (uint8 arrays) and the σ-derived PSNR
curve. Every measured number in an HTML table carries its exact value in `data-value`.
Files only: nothing here prints. A photo's folder is assembled under a temporary name
and renamed into place, so a failure or an interrupt never leaves a partial page.
"""

from __future__ import annotations

import html
import io
import math
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import cv2
import numpy as np

from .outputs import write_atomic
from .runtime import umask

PAGE_KINDS = ("html", "markdown")
PAGE_FILE = {"html": "index.html", "markdown": "README.md"}
PICTURE_SIDE = 1024  # pictures on the page are shrunk to this longest side; numbers are full size
_PLOT_LOCK = threading.Lock()  # matplotlib's font cache and rcParams are shared by every thread


@dataclass
class Picture:
    """One image file of a photo page: what it shows, and its pixels (uint8, H×W or H×W×3 RGB)."""

    file: str
    caption: str
    pixels: np.ndarray = field(repr=False)
    rank: int | None = None  # None for the original


@dataclass
class PhotoPage:
    """Everything one photo's page shows."""

    name: str  # the folder under the output folder (unique, file-system safe)
    data: dict  # the --json object: {"image": ..., "rows": [...], "targets": [...]}
    pictures: list[Picture]
    psnr_curve: np.ndarray = field(repr=False)  # unclipped PSNR (dB) for ranks 1..max_rank


# ---- numbers as shown ----------------------------------------------------------

def fmt_bytes(n) -> str:
    return "–" if n is None else f"{n:,}"


def fmt_db(v) -> str:
    # JSON writes an identical reconstruction's infinite PSNR as null.
    if v is None:
        return "–"
    return "∞" if v == float("inf") else f"{v:.2f}"


def fmt_energy(v) -> str:
    return "–" if v is None else f"{v * 100:.4f}%"


def fmt_goal(kind: str, goal: float) -> str:
    return f"{goal * 100:g}% energy" if kind == "energy" else f"{goal:g} dB"


def safe_name(text: str, taken: set[str]) -> str:
    """A folder name for a photo: its stem with anything odd replaced, unique among `taken`."""
    stem = re.sub(r"[^\w.-]+", "_", text).strip("._") or "photo"
    name, n = stem, 2
    while name.lower() in taken:
        name, n = f"{stem}-{n}", n + 1
    taken.add(name.lower())
    return name


def picture_file(rank: int | None) -> str:
    return "original.png" if rank is None else f"rank-{rank:04d}.png"


# ---- the plot ------------------------------------------------------------------

def plot_png(data: dict, psnr_curve: np.ndarray) -> bytes:
    """PSNR and .svdz bytes against rank (with JPEG at the same bytes), drawn by matplotlib (Agg)."""
    with _PLOT_LOCK:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        rows = sorted({r["rank"]: r for r in data["rows"] + [t["row"] for t in data.get("targets", [])
                                                             if t.get("row")]}.values(), key=lambda r: r["rank"])
        ranks = [r["rank"] for r in rows]
        fig = Figure(figsize=(8, 6.4), dpi=100, layout="constrained")
        FigureCanvasAgg(fig)
        top, bottom = fig.subplots(2, 1, sharex=True)
        curve = np.asarray(psnr_curve, dtype=float)
        xs = np.arange(1, curve.size + 1)
        finite = np.isfinite(curve)
        top.plot(xs[finite], curve[finite], color="0.6", lw=1, label="SVD, from the singular values")
        top.plot(ranks, [_nan(r.get("container_psnr_db")) for r in rows], "o-", color="tab:blue",
                 label=".svdz file, decoded")
        top.plot(ranks, [_nan(r.get("jpeg_psnr_db")) for r in rows], "s--", color="tab:orange",
                 label="JPEG at the same bytes")
        top.set_ylabel("PSNR (dB)")
        top.grid(True, alpha=0.3)
        top.legend(loc="lower right", fontsize=8)
        bottom.plot(ranks, [_nan(r.get("container_bytes")) for r in rows], "o-", color="tab:blue",
                    label=".svdz file")
        bottom.plot(ranks, [_nan(r.get("factors_float32_bytes")) for r in rows], ":", color="0.4",
                    label="factors as float32")
        bottom.axhline(data["image"]["file_bytes"], color="tab:green", lw=1, label="original file")
        bottom.set_yscale("log")
        bottom.set_ylabel("bytes")
        bottom.set_xlabel("rank")
        bottom.set_xscale("log")
        bottom.grid(True, which="both", alpha=0.3)
        bottom.legend(loc="lower right", fontsize=8)
        fig.suptitle(Path(data["image"]["path"]).name, fontsize=10)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()


def _nan(v) -> float:
    return float("nan") if v is None else float(v)


def png_bytes(pixels: np.ndarray) -> bytes:
    ints = np.ascontiguousarray(pixels[..., ::-1]) if pixels.ndim == 3 else pixels  # RGB -> OpenCV's BGR
    ok, buf = cv2.imencode(".png", ints)
    if not ok:
        raise ValueError("OpenCV could not encode a picture as PNG")
    return buf.tobytes()


# ---- HTML ----------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 72em; padding: 0 1em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.55em; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f3f3; }
.pictures { display: grid; grid-template-columns: repeat(auto-fill, minmax(20em, 1fr)); gap: 1em; }
figure { margin: 0; } figure img { width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 0.85em; color: #444; }
.note { color: #555; font-size: 0.9em; }
.failed { color: #a00; }
img.thumb { max-width: 8em; max-height: 6em; }
"""

ROW_COLUMNS = (  # (JSON key, heading, format)
    ("rank", "rank", str),
    ("energy", "energy", fmt_energy),
    ("psnr_db", "PSNR dB", fmt_db),
    ("ssim", "SSIM", lambda v: "–" if v is None else f"{v:.4f}"),
    ("factors_float32_bytes", "factors f32 B", fmt_bytes),
    ("png_bytes", "PNG B", fmt_bytes),
    ("container_bytes", ".svdz B", fmt_bytes),
    ("container_psnr_db", ".svdz PSNR", fmt_db),
    ("jpeg_bytes", "JPEG ≤ .svdz B", fmt_bytes),
    ("jpeg_quality", "JPEG q", lambda v: "–" if v is None else str(v)),
    ("jpeg_psnr_db", "JPEG PSNR", fmt_db),
)
TARGET_COLUMNS = (
    ("rank", "rank", str),
    ("energy", "energy", fmt_energy),
    ("container_bytes", ".svdz B", fmt_bytes),
    ("container_psnr_db", ".svdz PSNR", fmt_db),
    ("jpeg_bytes", "JPEG ≤ .svdz B", fmt_bytes),
    ("jpeg_psnr_db", "JPEG PSNR", fmt_db),
)


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _cell(key: str, value, fmt) -> str:
    exact = "" if value is None else _e(json_value(value))
    return f'<td class="n" data-key="{_e(key)}" data-value="{exact}">{_e(fmt(value))}</td>'


def json_value(value) -> str:
    """The exact value as text (repr round-trips floats), for data-value attributes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else "null"
    return str(value)


def _html_doc(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n')


def describe(image: dict) -> str:
    return (f"{image['width']}×{image['height']}, {image['channels']} channel{'s' if image['channels'] != 1 else ''}, "
            f"{image['bit_depth']}-bit, {image['colour_space']}, {image['decomposition']} SVD"
            f"{', truncated' if image.get('truncated') else ''} · original file {image['file_bytes']:,} bytes · "
            f"raw pixels {image['raw_bytes']:,} bytes")


def _target_table_html(targets: list[dict]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for _, h, _ in TARGET_COLUMNS)
    out = [f"<table class=\"targets\">\n<tr><th>target</th>{head}</tr>"]
    for t in targets:
        label = _e(fmt_goal(t["target"], t["goal"]))
        if t.get("row") is None:
            out.append(f'<tr data-target="{_e(t["target"])}"><td>{label}</td>'
                       f'<td colspan="{len(TARGET_COLUMNS)}">out of reach: {_e(t.get("reason", ""))}</td></tr>')
            continue
        cells = "".join(_cell(k, t["row"].get(k), f) for k, _, f in TARGET_COLUMNS)
        out.append(f'<tr data-target="{_e(t["target"])}" data-goal="{_e(json_value(t["goal"]))}">'
                   f"<td>{label}</td>{cells}</tr>")
    out.append("</table>")
    return "\n".join(out)


def _rank_table_html(rows: list[dict]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for _, h, _ in ROW_COLUMNS)
    out = [f"<table class=\"ranks\">\n<tr>{head}</tr>"]
    for i, row in enumerate(rows):
        cells = "".join(_cell(k, row.get(k), f) for k, _, f in ROW_COLUMNS)
        out.append(f'<tr data-row="{i}">{cells}</tr>')
    out.append("</table>")
    return "\n".join(out)


NOTE = ("Pictures are shrunk to at most {side} px on their longest side for the page; every number is measured "
        "on the full-size image. JPEG at the same bytes as the .svdz file is far better than truncated SVD on "
        "photographs: SVD here is for seeing what a rank keeps, not for storing photos.")


def photo_html(page: PhotoPage, *, index_link: bool = True) -> str:
    data, image = page.data, page.data["image"]
    title = Path(image["path"]).name
    figures = "\n".join(
        f'<figure><img src="{_e(quote(p.file))}" alt="{_e(p.caption)}" width="{p.pixels.shape[1]}" '
        f'height="{p.pixels.shape[0]}"><figcaption>{_e(p.caption)}</figcaption></figure>' for p in page.pictures)
    back = '<p><a href="../index.html">all photos</a></p>\n' if index_link else ""
    body = (f'{back}<h1 data-path="{_e(image["path"])}">{_e(title)}</h1>\n'
            f"<p>{_e(image['path'])} — {_e(describe(image))}</p>\n"
            f"<h2>Targets</h2>\n{_target_table_html(data.get('targets', []))}\n"
            f"<h2>Ranks</h2>\n{_rank_table_html(data['rows'])}\n"
            f'<h2>Quality and size against rank</h2>\n<p><img src="plot.png" alt="PSNR and bytes against rank" '
            f'width="800" height="640"></p>\n'
            f'<h2>Pictures</h2>\n<div class="pictures">\n{figures}\n</div>\n'
            f'<p class="note">{_e(NOTE.format(side=PICTURE_SIDE))}</p>')
    return _html_doc(f"svdlens — {title}", body)


def index_html(entries: list[tuple[str, dict]], failed: list[tuple[str, str]]) -> str:
    """The index of many photo pages: (folder name, JSON object) per photo, and (photo, reason) per failure."""
    kinds = [t["target"] for t in entries[0][1].get("targets", [])] if entries else []
    goals = {t["target"]: t["goal"] for t in entries[0][1].get("targets", [])} if entries else {}
    head = "<tr><th>photo</th><th>original</th><th>W×H</th><th>file B</th>" + "".join(
        f'<th colspan="3">{_e(fmt_goal(k, goals[k]))}: rank, .svdz B, JPEG PSNR</th>' for k in kinds) + "</tr>"
    rows = []
    for name, data in entries:
        image = data["image"]
        link = f"{quote(name)}/index.html"
        cells = [f'<td><a href="{_e(link)}">{_e(Path(image["path"]).name)}</a></td>',
                 f'<td><a href="{_e(link)}"><img class="thumb" src="{_e(quote(name))}/original.png" '
                 f'alt="{_e(Path(image["path"]).name)}"></a></td>',
                 f"<td>{image['width']}×{image['height']}</td>", _cell("file_bytes", image["file_bytes"], fmt_bytes)]
        for t in data.get("targets", []):
            row = t.get("row")
            if row is None:
                cells.append('<td colspan="3">out of reach</td>')
            else:
                cells += [_cell("rank", row["rank"], str), _cell("container_bytes", row["container_bytes"], fmt_bytes),
                          _cell("jpeg_psnr_db", row["jpeg_psnr_db"], fmt_db)]
        rows.append(f'<tr data-photo="{_e(name)}">{"".join(cells)}</tr>')
    fail = ""
    if failed:
        items = "".join(f"<li>{_e(p)}: {_e(r)}</li>" for p, r in failed)
        fail = f'<h2 class="failed">Not included ({len(failed)})</h2>\n<ul class="failed">{items}</ul>'
    body = (f"<h1>svdlens report — {len(entries)} photo{'s' if len(entries) != 1 else ''}</h1>\n"
            f"<table class=\"index\">\n{head}\n" + "\n".join(rows) + f"\n</table>\n{fail}\n"
            f'<p class="note">{_e(NOTE.format(side=PICTURE_SIDE))}</p>')
    return _html_doc("svdlens report", body)


# ---- Markdown ------------------------------------------------------------------

def _md(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(headings: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(_md(h) for h in headings) + " |", "|" + "---|" * len(headings)]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def photo_markdown(page: PhotoPage) -> str:
    data, image = page.data, page.data["image"]
    title = Path(image["path"]).name
    targets = []
    for t in data.get("targets", []):
        row = t.get("row")
        targets.append([fmt_goal(t["target"], t["goal"])] + (
            [f(row.get(k)) for k, _, f in TARGET_COLUMNS] if row else ["out of reach"] + [""] * (len(TARGET_COLUMNS) - 1)))
    ranks = [[f(row.get(k)) for k, _, f in ROW_COLUMNS] for row in data["rows"]]
    pictures = "\n".join(f"![{_md(p.caption)}]({quote(p.file)})  \n*{_md(p.caption)}*\n" for p in page.pictures)
    return (f"[all photos](../README.md)\n\n# {_md(title)}\n\n{_md(image['path'])} — {describe(image)}\n\n## Targets\n\n"
            f"{_md_table(['target'] + [h for _, h, _ in TARGET_COLUMNS], targets)}\n\n## Ranks\n\n"
            f"{_md_table([h for _, h, _ in ROW_COLUMNS], ranks)}\n\n## Quality and size against rank\n\n"
            f"![PSNR and bytes against rank](plot.png)\n\n## Pictures\n\n{pictures}\n"
            f"{NOTE.format(side=PICTURE_SIDE)}\n")


def index_markdown(entries: list[tuple[str, dict]], failed: list[tuple[str, str]]) -> str:
    goals = [(t["target"], t["goal"]) for t in entries[0][1].get("targets", [])] if entries else []
    headings = ["photo", "W×H", "file B"]
    for kind, goal in goals:
        headings += [f"{fmt_goal(kind, goal)}: rank", ".svdz B", "JPEG PSNR"]
    rows = []
    for name, data in entries:
        image = data["image"]
        row = [f"[{_md(Path(image['path']).name)}]({quote(name)}/README.md)", f"{image['width']}×{image['height']}",
               fmt_bytes(image["file_bytes"])]
        for t in data.get("targets", []):
            r = t.get("row")
            row += [str(r["rank"]), fmt_bytes(r["container_bytes"]), fmt_db(r["jpeg_psnr_db"])] if r else \
                ["out of reach", "", ""]
        rows.append(row)
    out = f"# svdlens report — {len(entries)} photo{'s' if len(entries) != 1 else ''}\n\n{_md_table(headings, rows)}\n"
    if failed:
        out += f"\n## Not included ({len(failed)})\n\n" + "".join(f"- {_md(p)}: {_md(r)}\n" for p, r in failed)
    return out + f"\n{NOTE.format(side=PICTURE_SIDE)}\n"


# ---- writing -------------------------------------------------------------------

def page_files(page: PhotoPage, kinds: tuple[str, ...]) -> dict[str, bytes]:
    """Every file of a photo's folder, encoded in memory (name -> bytes)."""
    files = {p.file: png_bytes(p.pixels) for p in page.pictures}
    files["plot.png"] = plot_png(page.data, page.psnr_curve)
    if "html" in kinds:
        files[PAGE_FILE["html"]] = photo_html(page).encode("utf-8")
    if "markdown" in kinds:
        files[PAGE_FILE["markdown"]] = photo_markdown(page).encode("utf-8")
    return files


def write_folder(out_dir: Path, name: str, files: dict[str, bytes], *, partial: list[Path] | None = None) -> Path:
    """Write files into out_dir/name as a whole: assembled in a hidden temporary folder, then renamed
    into place (an older folder of that name is replaced). `partial`, if given, holds the temporary
    folder while it exists, so a caller that is interrupted can remove it."""
    out_dir = Path(out_dir)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=out_dir))
    if partial is not None:
        partial.append(tmp)
    try:
        for file, data in files.items():
            with open(tmp / file, "wb") as fh:
                fh.write(data)
        os.chmod(tmp, 0o755 & ~umask())
        final = out_dir / name
        old = None
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".old", dir=out_dir))
            os.rename(final, old / name)
        os.rename(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return final
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if partial is not None and tmp in partial:
            partial.remove(tmp)


def write_index(out_dir: Path, entries: list[tuple[str, dict]], failed: list[tuple[str, str]],
                kinds: tuple[str, ...]) -> list[Path]:
    """The index page(s), each written atomically."""
    written = []
    if "html" in kinds:
        written.append(write_atomic(Path(out_dir) / "index.html", index_html(entries, failed).encode("utf-8")))
    if "markdown" in kinds:
        written.append(write_atomic(Path(out_dir) / "README.md", index_markdown(entries, failed).encode("utf-8")))
    return written
