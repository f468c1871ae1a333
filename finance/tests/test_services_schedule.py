"""Schedule period arithmetic (pure): contiguous, non-overlapping periods that cover the range."""

from datetime import date, timedelta
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from finance.services.schedule import (
    BIWEEKLY,
    MONTHLY,
    WEEKLY,
    member_schedule_start,
    period_containing,
    periods_covering,
)

dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31))
frequencies = st.sampled_from([WEEKLY, BIWEEKLY, MONTHLY])


@given(anchor=dates, frequency=frequencies, start=dates, span=st.integers(min_value=0, max_value=800))
def test_periods_are_contiguous_non_overlapping_and_cover_the_range(anchor, frequency, start, span):
    end = start + timedelta(days=span)
    periods = periods_covering(anchor=anchor, frequency=frequency, start=start, end=end)
    assert periods
    assert periods[0].start <= start <= periods[0].end
    assert periods[-1].start <= end <= periods[-1].end
    for period in periods:
        assert period.start <= period.end
        assert period.due_date == period.end
    for previous, following in pairwise(periods):
        assert following.start == previous.end + timedelta(days=1)


@given(anchor=dates, frequency=frequencies, day=dates)
def test_the_period_containing_a_day_contains_it_and_is_aligned_to_the_anchor(anchor, frequency, day):
    period = period_containing(anchor=anchor, frequency=frequency, day=day)
    assert day in period
    if frequency == WEEKLY:
        assert period.days == 7
        assert (period.start - anchor).days % 7 == 0
    elif frequency == BIWEEKLY:
        assert period.days == 14
        assert (period.start - anchor).days % 14 == 0
    else:
        assert 28 <= period.days <= 31


def test_monthly_periods_follow_calendar_months_and_clamp_the_day():
    periods = periods_covering(
        anchor=date(2024, 1, 31), frequency=MONTHLY, start=date(2024, 1, 31), end=date(2024, 4, 1)
    )
    assert [(p.start, p.end) for p in periods] == [
        (date(2024, 1, 31), date(2024, 2, 28)),
        (date(2024, 2, 29), date(2024, 3, 30)),
        (date(2024, 3, 31), date(2024, 4, 29)),
    ]


def test_monthly_from_the_first_is_the_calendar_month():
    periods = periods_covering(
        anchor=date(2024, 1, 1), frequency=MONTHLY, start=date(2024, 2, 10), end=date(2024, 3, 5)
    )
    assert [(p.start, p.end) for p in periods] == [
        (date(2024, 2, 1), date(2024, 2, 29)),
        (date(2024, 3, 1), date(2024, 3, 31)),
    ]


def test_weekly_periods_are_seven_days_from_the_anchor():
    periods = periods_covering(anchor=date(2024, 1, 1), frequency=WEEKLY, start=date(2024, 1, 1), end=date(2024, 1, 15))
    assert [p.start for p in periods] == [date(2024, 1, 1), date(2024, 1, 8), date(2024, 1, 15)]
    assert periods[0].end == date(2024, 1, 7)


def test_empty_range_has_no_periods():
    assert (
        periods_covering(anchor=date(2024, 1, 1), frequency=WEEKLY, start=date(2024, 2, 1), end=date(2024, 1, 1)) == []
    )


def test_member_owes_from_the_later_of_cycle_start_and_joining():
    assert member_schedule_start(cycle_start=date(2024, 1, 1), joined_on=date(2024, 3, 5)) == date(2024, 3, 5)
    assert member_schedule_start(cycle_start=date(2024, 1, 1), joined_on=date(2023, 3, 5)) == date(2024, 1, 1)
    assert member_schedule_start(cycle_start=date(2024, 1, 1), joined_on=None) == date(2024, 1, 1)
