"""Fixtures for the app tests (helpers live in apphelp.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from apphelp import _photo_dir


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    """A folder with two small photos, a text file pretending to be a PNG, and a text file."""
    return _photo_dir(tmp_path)
