"""The app's small widgets, without running the app: rank-field parsing and the compact sizes table."""

from __future__ import annotations

import pytest

from tui.cli import _byte_count
from tui.widgets import parse_rank_request


@pytest.mark.parametrize("typed, expected", [
    ("200k", 200 * 1024), ("200 K", 200 * 1024), ("64KiB", 64 * 1024), ("1.5M", int(1.5 * 1024**2)),
    ("2mb", 2 * 1024**2), ("300b", 300),
])
def test_a_byte_budget_means_the_same_in_the_app_and_the_cli(typed, expected):
    # README: k = 1024, M = 1024²; "200k" must not be 200 000 bytes in one place and 204 800 in the other.
    request = parse_rank_request(typed)
    assert request.kind == "bytes" and request.value == expected
    assert _byte_count(typed) == expected


@pytest.mark.parametrize("typed", ["0.0001k", "0.5b"])
def test_a_budget_under_one_byte_is_refused(typed):
    with pytest.raises(ValueError, match="at least 1 byte"):
        parse_rank_request(typed)


def test_a_plain_number_is_a_rank_in_the_app_and_bytes_in_the_cli():
    assert parse_rank_request("200").kind == "rank"
    assert _byte_count("200") == 200
