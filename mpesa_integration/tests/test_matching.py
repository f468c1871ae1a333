"""reconcile(): receipt, phone+amount+window and out-of-range rules, totals, order, and a hypothesis invariant."""

from __future__ import annotations

import io
import random
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpesa_integration.matching import OurPayment, ReconcileResult, phones_compatible, reconcile
from mpesa_integration.statements import NAIROBI, StatementRow, parse_statement
from mpesa_integration.tests.statement_fixtures import (
    SyntheticStatement,
    masked,
    statement_csv_bytes,
    statement_xlsx_bytes,
)

T0 = datetime(2026, 11, 24, 10, 0, 0, tzinfo=NAIROBI)
PHONE = "254712345678"
OTHER = "254799999999"


def row(
    line: int,
    receipt: str,
    amount: str = "1000.00",
    *,
    minutes: float = 0,
    phone: str = PHONE,
    direction: str = "in",
) -> StatementRow:
    return StatementRow(
        line=line,
        receipt=receipt,
        completed_at=T0 + timedelta(minutes=minutes),
        amount=Decimal(amount),
        direction=direction,  # type: ignore[arg-type]
        status="Completed",
        details="",
        other_party=f"{phone} - MEMBER" if phone else "",
        phone=phone,
        account_number="",
    )


def pay(
    pid: int,
    receipt: str | None = None,
    amount: str = "1000.00",
    *,
    minutes: float = 0,
    phone: str = PHONE,
    direction: str = "in",
) -> OurPayment:
    return OurPayment(
        id=pid,
        receipt=receipt,
        phone=phone,
        amount=Decimal(amount),
        at=T0 + timedelta(minutes=minutes),
        direction=direction,  # type: ignore[arg-type]
    )


def pairs(result_pairs: list[tuple[StatementRow, OurPayment]]) -> list[tuple[int, int]]:
    return [(r.line, p.id) for r, p in result_pairs]


def shape(result: ReconcileResult) -> dict:
    """Everything about a result as line numbers and payment ids."""
    return {
        "matched": pairs(result.matched),
        "amount_mismatch": pairs(result.amount_mismatch),
        "missing_in_chamahub": [r.line for r in result.missing_in_chamahub],
        "missing_in_statement": [p.id for p in result.missing_in_statement],
        "by_receipt": result.matched_by_receipt,
        "by_phone": result.matched_by_phone,
        "out_of_range": result.out_of_range,
    }


# --------------------------------------------------------------------------------------------------------------
# 1. Receipt


def test_receipt_match_is_case_insensitive_and_ignores_time() -> None:
    result = reconcile([row(1, "SKX1ABCDEF")], [pay(7, " skx1abcdef ", minutes=3 * 24 * 60, phone="")])
    assert shape(result) == {
        "matched": [(1, 7)],
        "amount_mismatch": [],
        "missing_in_chamahub": [],
        "missing_in_statement": [],
        "by_receipt": 1,
        "by_phone": 0,
        "out_of_range": 0,
    }


def test_receipt_with_a_different_amount_is_an_amount_mismatch() -> None:
    result = reconcile([row(1, "R1", "1000.00")], [pay(1, "R1", "1000.01")])
    assert pairs(result.amount_mismatch) == [(1, 1)]
    assert result.matched == [] and result.missing_in_chamahub == [] and result.missing_in_statement == []
    assert result.matched_by_receipt == 0 and result.matched_amount == Decimal("0.00")


def test_receipt_with_the_other_direction_is_an_amount_mismatch() -> None:
    result = reconcile([row(1, "R1", direction="out")], [pay(1, "R1", direction="in")])
    assert pairs(result.amount_mismatch) == [(1, 1)] and result.matched == []


def test_equal_decimals_with_different_exponents_match() -> None:
    result = reconcile([row(1, "R1", "1000.00")], [pay(1, "R1", "1000")])
    assert pairs(result.matched) == [(1, 1)]


# --------------------------------------------------------------------------------------------------------------
# 2. Phone + amount + direction + window


def test_phone_amount_window_match_for_payment_without_receipt() -> None:
    result = reconcile([row(1, "R1", minutes=0)], [pay(1, None, minutes=4)])
    assert pairs(result.matched) == [(1, 1)]
    assert (result.matched_by_receipt, result.matched_by_phone) == (0, 1)


def test_payment_whose_receipt_is_not_in_the_statement_can_phone_match() -> None:
    result = reconcile([row(1, "R1")], [pay(1, "OTHERRCPT1", minutes=-2)])
    assert pairs(result.matched) == [(1, 1)] and result.matched_by_phone == 1


def test_nearest_payment_is_chosen() -> None:
    payments = [pay(1, None, minutes=-8), pay(2, None, minutes=3), pay(3, None, minutes=-5)]
    result = reconcile([row(1, "R1")], payments)
    assert pairs(result.matched) == [(1, 2)]
    assert [p.id for p in result.missing_in_statement] == [1, 3]


def test_nearest_row_wins_a_contested_payment_whatever_the_line_order() -> None:
    # Row 1 at 10:00 and row 2 at 10:04 both fit the payment at 10:03; row 2 is closer, so it takes it.
    rows = [row(1, "R1", minutes=0), row(2, "R2", minutes=4)]
    result = reconcile(rows, [pay(1, None, minutes=3)])
    assert pairs(result.matched) == [(2, 1)]
    assert [r.line for r in result.missing_in_chamahub] == [1]


def test_outside_the_window_both_sides_are_reported() -> None:
    rows = [row(1, "R1"), row(2, "R2", minutes=60)]  # the statement spans 10:00-11:00
    result = reconcile(rows, [pay(1, None, minutes=10.5), pay(2, "R2", minutes=60)])
    assert pairs(result.matched) == [(2, 2)]
    assert [r.line for r in result.missing_in_chamahub] == [1]
    assert [p.id for p in result.missing_in_statement] == [1]


def test_window_edge_is_inclusive_and_configurable() -> None:
    assert pairs(reconcile([row(1, "R1")], [pay(1, None, minutes=-10)]).matched) == [(1, 1)]
    assert pairs(reconcile([row(1, "R1")], [pay(1, None, minutes=10)]).matched) == [(1, 1)]
    wide = reconcile([row(1, "R1")], [pay(1, None, minutes=14)], window=timedelta(minutes=15))
    assert pairs(wide.matched) == [(1, 1)]
    narrow = reconcile([row(1, "R1")], [pay(1, None, minutes=1)], window=timedelta(0))
    assert narrow.matched == []
    with pytest.raises(ValueError, match="negative"):
        reconcile([], [], window=timedelta(minutes=-1))


@pytest.mark.parametrize(
    "payment",
    [
        pay(1, None, "1000.50"),
        pay(1, None, direction="out"),
        pay(1, None, phone=OTHER),
        pay(1, None, phone=""),
    ],
    ids=["amount", "direction", "phone", "no-phone"],
)
def test_phone_match_needs_same_phone_amount_and_direction(payment: OurPayment) -> None:
    result = reconcile([row(1, "R1")], [payment])
    assert result.matched == [] and result.amount_mismatch == []
    assert len(result.missing_in_chamahub) == 1 and len(result.missing_in_statement) == 1


def test_payment_whose_receipt_is_in_the_statement_does_not_phone_match() -> None:
    # Payment 2 duplicates payment 1's receipt (R1): R1 is taken by payment 1, and payment 2 may not claim row 2.
    result = reconcile([row(1, "R1"), row(2, "R2", minutes=1)], [pay(1, "R1"), pay(2, "r1", minutes=1)])
    assert pairs(result.matched) == [(1, 1)]
    assert [r.line for r in result.missing_in_chamahub] == [2]
    assert [p.id for p in result.missing_in_statement] == [2]


def test_row_without_phone_cannot_phone_match() -> None:
    result = reconcile([row(1, "R1", phone="")], [pay(1, None)])
    assert result.matched == [] and len(result.missing_in_chamahub) == 1


def test_masked_phone_matches_visible_prefix_and_suffix() -> None:
    rows = [row(1, "R1", phone=masked(PHONE)), row(2, "R2", phone="25471****678", minutes=30)]
    payments = [pay(1, None, phone="254712000679"), pay(2, None, minutes=1), pay(3, None, minutes=31)]
    result = reconcile(rows, payments)
    assert pairs(result.matched) == [(1, 2), (2, 3)]
    assert [p.id for p in result.missing_in_statement] == [1]


def test_masked_phone_with_too_few_visible_trailing_digits_cannot_match() -> None:
    result = reconcile([row(1, "R1", phone="2547*******78")], [pay(1, None)])
    assert result.matched == []


def test_full_phone_row_beats_masked_row_for_the_same_payment() -> None:
    rows = [row(1, "R1", phone=masked(PHONE), minutes=0), row(2, "R2", phone=PHONE, minutes=5)]
    result = reconcile(rows, [pay(1, None, minutes=1)])
    assert pairs(result.matched) == [(2, 1)]


def test_each_payment_is_used_once() -> None:
    rows = [row(1, "R1", minutes=0), row(2, "R2", minutes=2)]
    one = reconcile(rows, [pay(1, None, minutes=1)])
    assert len(one.matched) == 1 and len(one.missing_in_chamahub) == 1 and one.missing_in_statement == []
    two = reconcile(rows, [pay(1, None, minutes=1), pay(2, None, minutes=2)])
    assert pairs(two.matched) == [(1, 1), (2, 2)]


@pytest.mark.parametrize(
    ("statement", "payment", "compatible"),
    [
        (PHONE, PHONE, True),
        (PHONE, OTHER, False),
        ("2547******678", PHONE, True),
        ("2547******678", "254712345679", False),
        ("2548******678", PHONE, False),
        ("2547123456789*678", PHONE, False),  # more visible digits than the number has
        ("2547*****78", PHONE, False),
        ("", PHONE, False),
        (PHONE, "", False),
    ],
)
def test_phones_compatible(statement: str, payment: str, compatible: bool) -> None:
    assert phones_compatible(statement, payment) is compatible


# --------------------------------------------------------------------------------------------------------------
# 3. The rest, range, totals, order


def test_payments_outside_the_statement_span_are_only_counted() -> None:
    rows = [row(1, "R1", minutes=0), row(2, "R2", minutes=60)]
    payments = [
        pay(1, "R1"),
        pay(2, "R2", minutes=60),
        pay(3, "GONE000001", minutes=-9),  # inside the span widened by the window
        pay(4, "GONE000002", minutes=69),
        pay(5, "GONE000003", minutes=-11),  # outside
        pay(6, None, minutes=24 * 60),
    ]
    result = reconcile(rows, payments)
    assert [p.id for p in result.missing_in_statement] == [3, 4]
    assert result.out_of_range == 2
    assert (result.period_start, result.period_end) == (T0, T0 + timedelta(minutes=60))


def test_an_empty_statement_covers_nothing() -> None:
    result = reconcile([], [pay(1, "R1"), pay(2, None)])
    assert result.out_of_range == 2 and result.missing_in_statement == []
    assert result.statement_total == Decimal("0.00") and result.period_start is None


def test_totals() -> None:
    rows = [
        row(1, "R1", "1,000.00".replace(",", "")),
        row(2, "R2", "250.50"),
        row(3, "R3", "99.99", direction="out"),
        row(4, "R4", "10.00"),
    ]
    payments = [pay(1, "R1", "1000.00"), pay(2, None, "250.50"), pay(3, "R3", "99.98", direction="out")]
    result = reconcile(rows, payments)
    assert result.statement_total == Decimal("1360.49")
    assert result.matched_amount == Decimal("1250.50")
    assert type(result.statement_total) is Decimal and type(result.matched_amount) is Decimal


def test_output_order_is_deterministic() -> None:
    rows = [row(line, f"R{line}", minutes=line * 30) for line in range(1, 21)]
    payments = [pay(pid, None if pid % 2 else f"R{pid}", minutes=pid * 30 + 1) for pid in range(1, 21)]
    payments += [pay(100 + pid, f"X{pid}", minutes=pid * 30, phone=OTHER) for pid in range(1, 6)]
    expected = shape(reconcile(rows, payments))
    rng = random.Random(7)
    for _ in range(5):
        rng.shuffle(rows)
        rng.shuffle(payments)
        assert shape(reconcile(iter(rows), iter(payments))) == expected
    assert expected["matched"] == [(line, line) for line in range(1, 21)]
    assert expected["missing_in_statement"] == [101, 102, 103, 104, 105]


def test_our_payment_validates_its_fields() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        OurPayment(id=1, receipt=None, phone=PHONE, amount=Decimal(1), at=datetime(2026, 11, 1), direction="in")
    with pytest.raises(TypeError, match="Decimal"):
        OurPayment(id=1, receipt=None, phone=PHONE, amount=1000.0, at=T0, direction="in")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="direction"):
        OurPayment(id=1, receipt=None, phone=PHONE, amount=Decimal(1), at=T0, direction="sideways")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------------------
# End to end: statement file -> parse -> reconcile


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_synthetic_statement_end_to_end(fmt: str) -> None:
    data = SyntheticStatement(3_000, seed=11, rate=0.02)
    writer = statement_csv_bytes if fmt == "csv" else statement_xlsx_bytes
    with parse_statement(io.BytesIO(writer(data.rows())), f"statement.{fmt}") as reader:
        result = reconcile(reader, data.payments())
        summary = reader.summary
    expected = data.expected
    assert summary.rows == expected["rows"]
    assert summary.skipped_not_completed == expected["skipped_not_completed"]
    actual = shape(result)
    for name in ("matched", "amount_mismatch", "missing_in_chamahub", "missing_in_statement"):
        assert len(actual[name]) == expected[name], name
    assert result.matched_by_receipt == expected["matched_by_receipt"]
    assert result.matched_by_phone == expected["matched_by_phone"] > 0
    assert result.out_of_range == expected["out_of_range"] > 0
    assert all(expected[name] > 0 for name in ("amount_mismatch", "missing_in_chamahub", "missing_in_statement"))


# --------------------------------------------------------------------------------------------------------------
# Invariant (hypothesis)

PHONES = [PHONE, OTHER, "254712000678"]
STATEMENT_PHONES = [*PHONES, masked(PHONE), "2547*******78", ""]
AMOUNTS = ["100.00", "200.00", "200.50"]
RECEIPTS = [f"R{i}" for i in range(8)]

row_specs = st.lists(
    st.tuples(
        st.sampled_from(RECEIPTS),
        st.sampled_from(AMOUNTS),
        st.integers(0, 60),
        st.sampled_from(STATEMENT_PHONES),
        st.sampled_from(["in", "out"]),
    ),
    max_size=12,
    unique_by=lambda spec: spec[0],
)
payment_specs = st.lists(
    st.tuples(
        st.one_of(st.none(), st.sampled_from([*RECEIPTS, "r1", "ZZ1"])),
        st.sampled_from(AMOUNTS),
        st.integers(-90, 150),
        st.sampled_from([*PHONES, ""]),
        st.sampled_from(["in", "out"]),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(row_specs, payment_specs, st.integers(0, 15))
def test_every_row_in_one_bucket_and_every_payment_in_at_most_one(rspecs, pspecs, window_minutes) -> None:
    rows = [
        row(line, receipt, amount, minutes=minute, phone=phone, direction=direction)
        for line, (receipt, amount, minute, phone, direction) in enumerate(rspecs, start=1)
    ]
    payments = [
        pay(pid, receipt, amount, minutes=minute, phone=phone, direction=direction)
        for pid, (receipt, amount, minute, phone, direction) in enumerate(pspecs, start=1)
    ]
    window = timedelta(minutes=window_minutes)
    result = reconcile(rows, payments, window=window)

    row_lines = (
        [r.line for r, _ in result.matched]
        + [r.line for r, _ in result.amount_mismatch]
        + [r.line for r in result.missing_in_chamahub]
    )
    assert sorted(row_lines) == [r.line for r in rows]  # every row exactly once
    payment_ids = (
        [p.id for _, p in result.matched]
        + [p.id for _, p in result.amount_mismatch]
        + [p.id for p in result.missing_in_statement]
    )
    assert len(payment_ids) == len(set(payment_ids))  # every payment at most once
    assert len(payment_ids) + result.out_of_range == len(payments)  # ... and exactly once unless out of range
    assert result.matched_by_receipt + result.matched_by_phone == len(result.matched)
    assert [r.line for r, _ in result.matched] == sorted(r.line for r, _ in result.matched)
    assert [p.id for p in result.missing_in_statement] == sorted(p.id for p in result.missing_in_statement)

    for statement_row, payment in result.matched:
        assert statement_row.amount == payment.amount and statement_row.direction == payment.direction
        if (payment.receipt or "").strip().upper() != statement_row.receipt:
            assert phones_compatible(statement_row.phone, payment.phone)
            assert abs(statement_row.completed_at - payment.at) <= window
    if rows:
        start = min(r.completed_at for r in rows) - window
        end = max(r.completed_at for r in rows) + window
        assert all(start <= p.at <= end for p in result.missing_in_statement)

    # Nothing left over could still have been paired by phone (the matching is maximal).
    receipts = {r.receipt for r in rows}
    for statement_row in result.missing_in_chamahub:
        for payment in result.missing_in_statement:
            if payment.receipt and payment.receipt.strip().upper() in receipts:
                continue
            assert not (
                phones_compatible(statement_row.phone, payment.phone)
                and statement_row.amount == payment.amount
                and statement_row.direction == payment.direction
                and abs(statement_row.completed_at - payment.at) <= window
            )
