"""The shareable page (--html / --markdown): whole, self-contained, its pictures real, its numbers --json's.

The browser test opens the pages in Debian's headless Chromium; it is skipped, saying so, where
no `chromium` is installed (`apt-get install chromium`; .ci/run installs it when it can).
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import ROOT, SAMPLE, classic_procedure, write_png
from tui.cli import main

RANKS = "30,8"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]


class _Page(HTMLParser):
    """Images, links, scripts and the numbers (data-key/data-value cells) of an HTML page, by table row."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict] = []
        self.links: list[str] = []
        self.scripts = 0
        self.external: list[str] = []
        self.rows: list[tuple[dict, dict]] = []  # (the row's attributes, {key: exact text})
        self._row = None
        self.path = None  # the photo a page is about (its h1's data-path)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a)
        if tag == "h1" and "data-path" in a:
            self.path = a["data-path"]
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        if tag == "script":
            self.scripts += 1
        for key in ("src", "href"):
            if a.get(key, "").startswith(("http:", "https:", "//")):
                self.external.append(a[key])
        if tag == "tr":
            self._row = (a, {})
            self.rows.append(self._row)
        if tag == "td" and "data-key" in a and self._row is not None:
            self._row[1][a["data-key"]] = a["data-value"]


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def _exact(value) -> str:
    from core.page import json_value

    return "" if value is None else json_value(value)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """One run: two small real photos and a broken one, --json, --html and --markdown together."""
    root = tmp_path_factory.mktemp("page")
    photos = root / "photos"
    photos.mkdir()
    rgb = cv2.imread(str(SAMPLE), cv2.IMREAD_COLOR)[..., ::-1]
    write_png(photos / "face.png", np.ascontiguousarray(rgb[40:136, 180:308]))
    write_png(photos / "suit & <tie>.png", np.ascontiguousarray(rgb[300:380, 100:200]))  # a name to escape
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    html_dir, md_dir = root / "site", root / "md"
    done = subprocess.run([sys.executable, "-m", "tui.cli", "report", str(photos), "--json", "--ranks", RANKS,
                           "--html", str(html_dir), "--markdown", str(md_dir)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 2, done.stderr  # the broken one
    objects = [json.loads(line) for line in done.stdout.splitlines()]
    return {"root": root, "photos": photos, "html": html_dir, "md": md_dir, "json": objects, "rgb": rgb}


def _photo_pages(made) -> list[tuple[Path, dict]]:
    index = _parse((made["html"] / "index.html").read_text())
    folders = [made["html"] / link.split("/")[0] for link in index.links]
    by_path = {o["image"]["path"]: o for o in made["json"]}
    out = []
    for folder in dict.fromkeys(folders):
        page = _parse((folder / "index.html").read_text())
        assert page.scripts == 0 and not page.external  # self-contained, no JavaScript
        out.append((folder, by_path[page.path]))
    return out


def test_index_links_every_photo_and_names_the_failure(made):
    text = (made["html"] / "index.html").read_text()
    index = _parse(text)
    assert index.scripts == 0 and not index.external
    assert len(made["json"]) == 2 and len(set(index.links)) == 2
    assert "Not included (1)" in text and "broken.png" in text
    assert "suit &amp; &lt;tie&gt;.png" in text  # escaped, not markup
    for img in index.images:
        assert (made["html"] / img["src"]).is_file()


def test_every_picture_is_a_real_file_of_the_right_pixels(made):
    pages = _photo_pages(made)
    assert len(pages) == 2
    for folder, obj in pages:
        page = _parse((folder / "index.html").read_text())
        sources = [img["src"] for img in page.images]
        assert sources[0] == "plot.png" and "original.png" in sources
        ranks = {r["rank"] for r in obj["rows"]} | {t["rank"] for t in obj["targets"]}
        assert {f"rank-{r:04d}.png" for r in ranks} <= set(sources)
        for img in page.images:
            pixels = cv2.imread(str(folder / img["src"]), cv2.IMREAD_COLOR)
            assert pixels is not None and pixels.shape[:2] == (int(img["height"]), int(img["width"]))
        original = cv2.imread(obj["image"]["path"], cv2.IMREAD_COLOR)
        # Small photos are shown at their own size: the original as it is, rank 8 as numpy's rank 8.
        assert np.array_equal(cv2.imread(str(folder / "original.png"), cv2.IMREAD_COLOR), original)
        rank8 = cv2.imread(str(folder / "rank-0008.png"), cv2.IMREAD_COLOR)[..., ::-1].astype(int)
        expected = classic_procedure(original[..., ::-1], 8)["saved"].astype(int)
        assert np.abs(rank8 - expected).max() <= 1


def test_page_numbers_are_the_json_numbers(made):
    for folder, obj in _photo_pages(made):
        page = _parse((folder / "index.html").read_text())
        _check_numbers(page, obj)


def _check_numbers(page: _Page, obj: dict) -> None:
    ranks = [(a, cells) for a, cells in page.rows if "data-row" in a]
    assert len(ranks) == len(obj["rows"])
    for (attrs, cells), row in zip(ranks, obj["rows"]):
        assert cells and all(cells[k] == _exact(row[k]) for k in cells), (cells, row)
    targets = {a["data-target"]: cells for a, cells in page.rows if "data-target" in a}
    assert set(targets) == {"energy", "psnr"}
    for t in obj["targets"]:
        cells = targets[t["target"]]
        assert cells["rank"] == str(t["rank"]) and cells["container_bytes"] == _exact(t["row"]["container_bytes"])
        assert cells["jpeg_psnr_db"] == _exact(t["row"]["jpeg_psnr_db"])


def test_markdown_pages_link_their_pictures(made):
    from core.page import fmt_bytes

    index = (made["md"] / "README.md").read_text()
    assert "broken.png" in index
    for obj in made["json"]:
        assert fmt_bytes(obj["targets"][0]["row"]["container_bytes"]) in index
    folders = [p for p in made["md"].iterdir() if p.is_dir()]
    assert len(folders) == 2
    for folder in folders:
        text = (folder / "README.md").read_text()
        import re

        links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
        assert "plot.png" in links and "original.png" in links and len(links) >= 4
        assert all((folder / link).is_file() for link in links)


def test_a_failure_while_writing_leaves_no_page(tmp_path, monkeypatch, capsys):
    import core.page

    write_png(tmp_path / "face.png", cv2.imread(str(SAMPLE), cv2.IMREAD_COLOR)[40:136, 180:308, ::-1].copy())
    out = tmp_path / "site"

    def broken_plot(*args, **kwargs):
        raise RuntimeError("the plot could not be drawn")

    monkeypatch.setattr(core.page, "plot_png", broken_plot)
    code = main(["report", str(tmp_path / "face.png"), "--html", str(out), "--ranks", "8"])
    err = capsys.readouterr().err
    assert code == 1 and "the plot could not be drawn" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["index.html"]  # the index says it failed; no photo folder
    assert "Not included (1)" in (out / "index.html").read_text()


def test_a_page_folder_that_is_a_file_is_refused_before_any_work(tmp_path, capsys):
    (tmp_path / "taken").write_text("x")
    code = main(["report", str(SAMPLE), "--html", str(tmp_path / "taken")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "is a file" in err[0]


# ---- in a real browser ---------------------------------------------------------------------------

_HARNESS = """<!DOCTYPE html><html><body><pre id="out">waiting</pre>
{frames}
<script>
window.addEventListener('load', () => {{
  const seen = [];
  for (const frame of document.querySelectorAll('iframe')) {{
    for (const img of frame.contentDocument.images) {{
      seen.push({{page: frame.getAttribute('src'), src: img.getAttribute('src'), complete: img.complete,
                 natural: [img.naturalWidth, img.naturalHeight], shown: img.width}});
    }}
  }}
  document.getElementById('out').textContent = JSON.stringify(seen);
}});
</script></body></html>
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    served: list = []

    def log_message(self, fmt, *args):  # the status of every request, kept for the test
        _Quiet.served.append((self.path, args[1] if len(args) > 1 else ""))


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=180)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium): "
                                              "the page is not checked in a real browser")
def test_pages_in_headless_chromium(made, tmp_path):
    """Loaded by Chromium over HTTP: every picture decodes, and the numbers in the DOM are --json's."""
    root = made["root"]
    pages = [f"site/{folder.name}/index.html" for folder, _ in _photo_pages(made)] + ["site/index.html"]
    frames = "\n".join(f'<iframe src="{p}" width="1200" height="900"></iframe>' for p in pages)
    (root / "harness.html").write_text(_HARNESS.format(frames=frames))
    _Quiet.served = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        dumped = _chromium("--virtual-time-budget=20000", "--run-all-compositor-stages-before-draw", "--dump-dom",
                           f"{base}/harness.html", profile=tmp_path / "profile")
        first = _chromium("--dump-dom", f"{base}/{pages[0]}", profile=tmp_path / "profile")
        shot = tmp_path / "page.png"
        _chromium("--window-size=1200,1600", f"--screenshot={shot}", f"{base}/{pages[0]}", profile=tmp_path / "profile")
    finally:
        server.shutdown()
    report = _parse_out(dumped.stdout)
    # Every <img> of every page (pictures, plot, thumbnails) was fetched and decoded by the browser.
    assert len(report) == sum(len(_parse((root / p).read_text()).images) for p in pages) > 10
    bad = [r for r in report if not r["complete"] or min(r["natural"]) == 0]
    assert not bad, bad
    missing = [(path, status) for path, status in _Quiet.served if status not in ("200", "304") and path != "/favicon.ico"]
    assert not missing and len(_Quiet.served) > 10, _Quiet.served  # (a browser asks for a favicon on its own)
    # The numbers as the browser parsed the page.
    obj = dict(_photo_pages(made))[made["html"] / pages[0].split("/")[1]]
    _check_numbers(_parse(first.stdout), obj)
    # The screenshot shows pictures (many colours), not a blank or broken page.
    pixels = cv2.imread(str(shot), cv2.IMREAD_COLOR)
    assert pixels is not None and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 1000


def _parse_out(dom: str) -> list[dict]:
    start = dom.index('<pre id="out">') + len('<pre id="out">')
    text = dom[start:dom.index("</pre>", start)]
    import html

    return json.loads(html.unescape(text))
