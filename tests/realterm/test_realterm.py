"""The real-terminal check (tests/realterm/run.py) under pytest: xterm with Sixel and kitty under Xvfb.

Runs where Xvfb, xterm, kitty, xdotool and xwd are installed (CI installs them from Debian's packages
when it can); skipped with the list of what is missing otherwise. `-m "not realterm"` leaves it out.
About a minute and a half per terminal on a loaded 2-core machine.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from realterm import run  # tests/ is on sys.path (pytest puts the first folder without __init__.py there)

pytestmark = [
    pytest.mark.realterm,
    pytest.mark.skipif(
        bool(run.missing_tools()),
        reason=f"real-terminal check needs {', '.join(run.missing_tools())} "
        "(Debian: apt-get install xvfb xterm kitty xdotool x11-apps)",
    ),
]


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photo")
    path = folder / "sample-3x2.png"
    Image.open(run.ROOT / "core" / "data" / "astronaut.png").convert("RGB").crop((0, 60, 512, 401)).save(path)
    return path, np.asarray(Image.open(path))


def _report(result: run.Result) -> str:
    return "\n".join(f"{'ok  ' if ok else 'FAIL'} {what} ({detail})" for what, ok, detail in result.checks)


def test_xterm_sixel(photo, tmp_path):
    result = run.run_xterm(*photo, tmp_path)
    assert result.ok, _report(result) + f"\nscreenshots: {tmp_path}"


def test_kitty(photo, tmp_path):
    result = run.run_kitty(*photo, tmp_path)
    assert result.ok, _report(result) + f"\nscreenshots: {tmp_path}"
