"""The app's small widgets, without running the app: rank-field parsing, the spectrum marker, the compact sizes table."""

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


def _compact_text(**changes) -> str:
    from rich.console import Console

    from tui.widgets import SizesTable, TableState

    state = TableState(rank=40, max_rank=500, full_rank=512, method="exact SVD", shape=(512, 512, 3),
                       file_bytes=500_000, file_suffix=".png", file_name="photo.png", energy=0.99,
                       psnr_estimate=30.0, float32_bytes=100_000, raw_bytes=786_432, psnr=30.0, ssim=0.9,
                       png_bytes=300_000, svdz_bytes=40_000, svdz_psnr=30.0, jpeg_bytes=39_000,
                       jpeg_quality=80, jpeg_psnr=38.0, jpeg_ssim=0.95, measuring=False)
    for key, value in changes.items():
        setattr(state, key, value)
    table = SizesTable()
    table.state, table.compact = state, True
    console = Console(width=200, record=True, color_system=None)
    console.print(table._render_state())
    return console.export_text()


@pytest.mark.parametrize("method, label", [
    ("exact SVD", "exact"), ("exact SVD on cuda", "exact"), ("exact SVD, top 60 ranks kept", "exact"),
    ("first pass: randomized top-60 SVD (est. within 0.20 dB of exact)", "randomized"),
])
def test_compact_table_names_the_method(method, label):
    first = _compact_text(method=method).splitlines()[0]
    assert f"rank 40/500 {label} ·" in first


def test_compact_table_says_far_better_only_when_jpeg_is_better():
    assert "+8.0 dB, far better than SVD" in _compact_text()
    worse = _compact_text(jpeg_psnr=28.5)
    assert "-1.5 dB" in worse and "far better" not in worse


def test_marker_column_is_the_bar_that_holds_the_rank():
    from tui.widgets import column_starts, marker_column

    for n, cols in ((5, 3), (512, 49), (400, 78), (7, 7), (1000, 33)):
        starts = column_starts(n, cols) + [n]
        for rank in range(1, n + 1):
            col = marker_column(rank, n, cols)
            assert starts[col] <= rank - 1 < starts[col + 1], (n, cols, rank)


def test_parse_rank_request():
    assert parse_rank_request(" 50 ").kind == "rank"
    assert parse_rank_request("99%").value == pytest.approx(0.99)
    assert parse_rank_request("0.999").value == pytest.approx(0.999)
    assert parse_rank_request("32 dB").value == 32
    assert parse_rank_request("200k").value == 200 * 1024  # k = 1024, as for --max-bytes (tui/units.py)
    assert parse_rank_request("1.5MiB").value == int(1.5 * 1024**2)
    for bad in ("", "-5", "abc", "101%", "1.5", "50x"):
        with pytest.raises(ValueError):
            parse_rank_request(bad)
