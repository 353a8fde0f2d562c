"""Fixtures for the app tests (helpers live in apphelp.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from apphelp import make_app, photo_folder
from tui.app import SvdlensApp


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    """A folder with two small photos, a text file pretending to be a PNG, and a text file."""
    return photo_folder(tmp_path)


@pytest.fixture
def app(photo_dir: Path) -> SvdlensApp:
    """The app (not yet running) on photo_dir's 96×64 a_small.png, as make_app builds it."""
    return make_app(photo_dir / "a_small.png")
