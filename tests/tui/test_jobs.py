"""The workers' jobs, the key table and save tracking, without running the app."""

from __future__ import annotations

from pathlib import Path

import pytest

from apphelp import photo
from core.errors import ImageError
from tui import jobs, keys


def test_failure_text_is_one_line_naming_the_path():
    path = Path("/photos/p.png")
    assert jobs.failure_text(ImageError("/photos/p.png: not an image"), path) == "/photos/p.png: not an image"
    assert jobs.failure_text(MemoryError(), path, "the exact SVD") == "/photos/p.png: not enough memory for the exact SVD"
    assert jobs.failure_text(ValueError("bad"), path) == "/photos/p.png: unexpected error: ValueError: bad"
    assert jobs.failure_text(ValueError("bad")) == "unexpected error: ValueError: bad"


def test_save_tracker_counts_a_save_as_asked_then_writing_then_gone():
    tracker = jobs.SaveTracker()
    ticket = tracker.ask()
    assert tracker.counts() == (1, 0)
    with ticket:
        with ticket.writing():
            assert tracker.counts() == (0, 1)
        assert tracker.counts() == (1, 0)
    assert tracker.counts() == (0, 0)
    with pytest.raises(OSError), tracker.ask() as failing, failing.writing():
        raise OSError("disk full")  # a failed write is uncounted all the same
    assert tracker.counts() == (0, 0)


def test_load_then_resolve_a_target_as_the_workers_do(tmp_path):
    from core.select import rank_for_energy

    steps = []
    loaded = jobs.load(photo(tmp_path / "p.png", 96, 64), "colour", device="cpu", max_pixels=None,
                       progress=lambda text, done, total: steps.append(text), should_cancel=lambda: False)
    assert loaded.source.width == 96 and steps[0] == "decomposing 96×64…"
    rank, text = jobs.resolve_target(loaded, "energy", 0.99)
    assert rank == rank_for_energy(loaded.dec, 0.99) and text.startswith(f"rank {rank} keeps")


def test_a_cancelled_load_stops_before_reading(tmp_path):
    from core.errors import Cancelled

    with pytest.raises(Cancelled):
        jobs.load(tmp_path / "never-read.png", "grey", device="cpu", max_pixels=None,
                  progress=lambda *args: None, should_cancel=lambda: True)


def test_each_key_is_bound_once_per_scope_and_the_rank_field_takes_the_rank_keys():
    for scope in ("app", "preview", "gallery", "curves", "components"):
        bound = [key for binding in keys.bindings(scope) for key in binding.key.split(",")]
        assert len(bound) == len(set(bound)), scope
    field = keys.rank_field_keys()
    assert field["up"] == field["plus"] == ("app.action_step_rank", (1,))
    assert field["shift+down"] == field["pagedown"] == ("app.action_step_rank", (-10,))
    assert field["slash"] == ("app.action_scale_rank", (0.5,))
    assert "f7" not in field  # F-keys reach the app anyway


def test_pane_hint_names_the_gain_key_only_in_the_error_view():
    assert keys.pane_hint("preview") == "] [ zoom  0 fit  hjkl pan  m worst  v view  f flip"
    assert keys.pane_hint("preview", error_view=True).endswith("f flip  g gain")


def test_the_uis_choices_are_cores():
    from core.report import CLASSIC_RANKS
    from core.svd import DEVICES
    from tui import choices

    assert choices.CLASSIC_RANKS == CLASSIC_RANKS and choices.DEVICES == DEVICES
