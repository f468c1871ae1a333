"""Amortisation schedules: worked examples and hypothesis properties (pure functions, no database)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finance.services.amortization import FLAT, REDUCING, add_months, flat_total_interest, schedule_build

D = Decimal
START = date(2025, 1, 31)

principals = st.decimals(min_value=D("100.00"), max_value=D("5000000.00"), places=2)
tiny_principals = st.decimals(min_value=D("0.01"), max_value=D("5.00"), places=2)
rates = st.decimals(min_value=D("0"), max_value=D("60"), places=2)
months = st.integers(min_value=1, max_value=60)
methods = st.sampled_from([FLAT, REDUCING])
fees = st.decimals(min_value=D("0"), max_value=D("5000"), places=2)


def test_flat_worked_example_10000_at_12_percent_for_12_months():
    s = schedule_build(principal=D("10000"), annual_rate=D("12"), months=12, method=FLAT, start_date=START)
    assert s.total_interest == D("1200.00")
    assert s.monthly_payment == D("933.33")  # 833.33 principal + 100.00 interest
    assert [line.principal for line in s.lines[:11]] == [D("833.33")] * 11
    assert s.lines[-1].principal == D("833.37")  # the last instalment absorbs the rounding
    assert all(line.interest == D("100.00") for line in s.lines)
    assert s.total_amount == D("11200.00")


def test_reducing_worked_example_10000_at_12_percent_for_12_months():
    s = schedule_build(principal=D("10000"), annual_rate=D("12"), months=12, method=REDUCING, start_date=START)
    assert s.monthly_payment == D("888.49")  # 10000·0.01 / (1 − 1.01^−12) = 888.4879
    first = s.lines[0]
    assert (first.interest, first.principal) == (D("100.00"), D("788.49"))
    assert s.lines[1].interest == D("92.12")  # 1% of 9211.51
    assert s.lines[-1].balance == D("0.00")
    assert s.total_interest == D("661.86")


def test_zero_rate_is_principal_only():
    for method in (FLAT, REDUCING):
        s = schedule_build(principal=D("1000"), annual_rate=D("0"), months=3, method=method, start_date=START)
        assert [line.principal for line in s.lines] == [D("333.33"), D("333.33"), D("333.34")]
        assert s.total_interest == D("0.00")


def test_processing_fee_is_due_with_the_first_instalment():
    s = schedule_build(
        principal=D("1200"), annual_rate=D("10"), months=3, method=FLAT, start_date=START, processing_fee=D("50")
    )
    assert [line.fee for line in s.lines] == [D("50"), D("0.00"), D("0.00")]
    assert s.total_amount == D("1200") + s.total_interest + D("50")


def test_due_dates_are_start_plus_k_months_clamped_to_month_end():
    s = schedule_build(principal=D("300"), annual_rate=D("10"), months=4, method=FLAT, start_date=START)
    assert [line.due_date for line in s.lines] == [
        date(2025, 2, 28),
        date(2025, 3, 31),
        date(2025, 4, 30),
        date(2025, 5, 31),
    ]
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2024, 11, 15), 3) == date(2025, 2, 15)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"principal": D("0")},
        {"principal": D("-5")},
        {"principal": D("1.001")},
        {"months": 0},
        {"months": 61},
        {"annual_rate": D("-1")},
        {"method": "SIMPLE"},
        {"processing_fee": D("-1")},
    ],
)
def test_bad_terms_are_refused(kwargs):
    terms = {"principal": D("1000"), "annual_rate": D("10"), "months": 12, "method": FLAT, "start_date": START}
    with pytest.raises(ValueError):
        schedule_build(**{**terms, **kwargs})


def _check_invariants(s, principal):
    assert sum(line.principal for line in s.lines) == principal
    for line in s.lines:
        assert line.principal >= 0 and line.interest >= 0 and line.fee >= 0 and line.balance >= 0
        assert line.principal == line.principal.quantize(D("0.01"))
        assert line.interest == line.interest.quantize(D("0.01"))
    assert s.lines[-1].balance == 0


@settings(max_examples=300, deadline=None)
@given(principal=principals, rate=rates, n=months, method=methods, fee=fees)
def test_schedule_invariants(principal, rate, n, method, fee):
    s = schedule_build(
        principal=principal, annual_rate=rate, months=n, method=method, start_date=START, processing_fee=fee
    )
    assert len(s.lines) == n
    _check_invariants(s, principal)
    assert s.total_amount == principal + sum(line.interest for line in s.lines) + fee


@settings(max_examples=300, deadline=None)
@given(principal=st.one_of(principals, tiny_principals), rate=rates, n=months)
def test_flat_total_interest_is_the_rounded_simple_interest(principal, rate, n):
    s = schedule_build(principal=principal, annual_rate=rate, months=n, method=FLAT, start_date=START)
    _check_invariants(s, principal)
    assert s.total_interest == (principal * rate * n / 1200).quantize(D("0.01"), rounding="ROUND_HALF_UP")
    assert s.total_interest == flat_total_interest(principal, rate, n)


@settings(max_examples=300, deadline=None)
@given(principal=principals, rate=rates.filter(lambda r: r > 0), n=months)
def test_reducing_instalments_are_equal_except_the_last(principal, rate, n):
    s = schedule_build(principal=principal, annual_rate=rate, months=n, method=REDUCING, start_date=START)
    _check_invariants(s, principal)
    regular = {line.principal + line.interest for line in s.lines[:-1]}
    assert len(regular) <= 1
    # Each month's interest is charged on the balance still owed before it.
    owed = principal
    for line in s.lines:
        assert line.interest == (owed * rate / 1200).quantize(D("0.01"), rounding="ROUND_HALF_UP")
        owed -= line.principal


@settings(max_examples=200, deadline=None)
@given(principal=tiny_principals, rate=rates, n=months, method=methods)
def test_tiny_loans_never_go_negative(principal, rate, n, method):
    _check_invariants(
        schedule_build(principal=principal, annual_rate=rate, months=n, method=method, start_date=START), principal
    )
