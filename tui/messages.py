"""The typed messages the app's thread workers post back to the event loop.

A worker never touches a widget: it computes (tui.jobs) and posts one of these. Each
result carries the generation it was asked for, so the app can drop a stale one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.message import Message

from tui.jobs import Loaded
from tui.widgets import RankRequest


@dataclass
class LoadProgress(Message):
    """A step of opening an image: what is happening, and how far the decomposition is."""

    generation: int
    text: str
    done: int
    total: int


@dataclass
class LoadDone(Message):
    """An image is read and decomposed."""

    generation: int
    loaded: Loaded


@dataclass
class LoadFailed(Message):
    """An image could not be opened; text is the one line to show."""

    generation: int
    path: Path
    text: str


@dataclass
class Refined(Message):
    """The next refinement of a decomposition is ready (after), or failed (after is None, text says why)."""

    generation: int
    before: Loaded
    after: Loaded | None
    text: str = ""


@dataclass
class Measured(Message):
    """Some of the costly numbers for one rank; done once every stage has been posted."""

    generation: int
    loaded: Loaded
    rank: int
    values: dict
    done: bool


@dataclass
class TargetResolved(Message):
    """The rank found for an energy, PSNR or byte-budget request (rank None: text says why not)."""

    generation: int
    request: RankRequest
    rank: int | None
    text: str


@dataclass
class Saved(Message):
    """A save finished (path set) or was refused or failed (path None); text is the one line to show."""

    path: Path | None
    size: int
    text: str
