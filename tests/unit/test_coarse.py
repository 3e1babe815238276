"""The coarse count shown while a poll or review round is open (council/coarse.py)."""

from datetime import date

import pytest

from council.coarse import CoarseCount, next_coarse_count

MONDAY, TUESDAY = date(2026, 12, 7), date(2026, 12, 8)


@pytest.mark.parametrize(
    "current, shown, today, expected",
    [
        (3, None, MONDAY, CoarseCount(0, MONDAY)),  # the first day: a whole number of steps, here none
        (7, CoarseCount(0, MONDAY), MONDAY, None),  # at most once a day
        (7, CoarseCount(0, MONDAY), TUESDAY, CoarseCount(5, TUESDAY)),
        (9, CoarseCount(5, MONDAY), TUESDAY, None),  # grown, but by less than a step
        (10, CoarseCount(5, MONDAY), TUESDAY, CoarseCount(10, TUESDAY)),
        (2, CoarseCount(5, MONDAY), TUESDAY, None),  # never moves down while open
    ],
)
def test_the_count_moves_once_a_day_and_only_by_whole_steps(current, shown, today, expected):
    assert next_coarse_count(current, shown, today, step=5) == expected
