"""
Contribution schedule arithmetic: pure functions, no database.

A group's periods are anchored at its `cycle_start_date` and follow its `contribution_frequency`:
WEEKLY = 7 days, BIWEEKLY = 14 days, MONTHLY = calendar months (period k starts k months after the
anchor, the day clamped to the month's length: an anchor of 31 Jan gives 28/29 Feb, 31 Mar, 30 Apr...).
Period k runs from its start to the day before period k+1 starts, both inclusive; it is due on its
last day (`due_date == end`). Periods are contiguous and never overlap, for any k (also k < 0, i.e.
before the anchor).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

WEEKLY = "WEEKLY"
BIWEEKLY = "BIWEEKLY"
MONTHLY = "MONTHLY"

_DAYS = {WEEKLY: 7, BIWEEKLY: 14}


@dataclass(frozen=True, order=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def due_date(self) -> date:
        return self.end

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def __contains__(self, day: date) -> bool:
        return self.start <= day <= self.end


def _add_months(day: date, months: int) -> date:
    month_index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(month_index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _period_start(anchor: date, frequency: str, k: int) -> date:
    if frequency == MONTHLY:
        return _add_months(anchor, k)
    return anchor + timedelta(days=_DAYS[frequency] * k)


def _index_of(anchor: date, frequency: str, day: date) -> int:
    """The index k of the period containing `day`."""
    if frequency == MONTHLY:
        k = (day.year - anchor.year) * 12 + (day.month - anchor.month)
        while _period_start(anchor, frequency, k) > day:
            k -= 1
        while _period_start(anchor, frequency, k + 1) <= day:
            k += 1
        return k
    if frequency not in _DAYS:
        raise ValueError(f"Unknown contribution frequency {frequency!r}")
    return (day - anchor).days // _DAYS[frequency]


def period_at(anchor: date, frequency: str, k: int) -> Period:
    return Period(
        start=_period_start(anchor, frequency, k),
        end=_period_start(anchor, frequency, k + 1) - timedelta(days=1),
    )


def period_containing(*, anchor: date, frequency: str, day: date) -> Period:
    """The schedule period of a group (anchored at `anchor`) that contains `day`."""
    return period_at(anchor, frequency, _index_of(anchor, frequency, day))


def periods_covering(*, anchor: date, frequency: str, start: date, end: date) -> list[Period]:
    """
    The contiguous periods that cover [start, end] (both inclusive), oldest first: the first contains
    `start`, the last contains `end`. Empty when end < start.
    """
    if end < start:
        return []
    first = _index_of(anchor, frequency, start)
    last = _index_of(anchor, frequency, end)
    return [period_at(anchor, frequency, k) for k in range(first, last + 1)]


def member_schedule_start(*, cycle_start: date, joined_on: date | None) -> date:
    """A member owes from the later of the cycle start and the day they joined."""
    if joined_on is None:
        return cycle_start
    return max(cycle_start, joined_on)
