"""Counts that may be watched while a poll or a review round is open.

A count that moves with each vote, or with each "review done", links whoever watches it to the moment it
moved: the person who just acted. So while a poll or round is open, pages show such a count only as it
stood at the first tick of a day, rounded down to a whole number of steps, and changed only when it has
grown by at least one step. The exact count appears when the poll or round closes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class CoarseCount:
    """At least ``at_least`` (a whole number of steps), as counted on ``counted_on``."""

    at_least: int
    counted_on: date


def next_coarse_count(current: int, shown: CoarseCount | None, today: date, step: int) -> CoarseCount | None:
    """The count to show from today on, or None when what is shown stands: at most one change a day, and
    only by whole steps."""
    if shown is not None and shown.counted_on >= today:
        return None
    rounded = current - current % max(step, 1)
    if shown is not None and rounded <= shown.at_least:
        return None
    return CoarseCount(at_least=rounded, counted_on=today)
