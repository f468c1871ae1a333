"""Reconcile M-Pesa statement rows against ChamaHub's own M-Pesa payments. Pure Python, no Django.

Three passes, each payment used at most once and each row ending in exactly one bucket:

1. **Receipt.** A row and a payment with the same receipt (case-insensitive) pair up: ``matched`` when amount and
   direction are equal, ``amount_mismatch`` otherwise. A receipt match is definitive whatever the times say.
2. **Phone + amount + direction + time.** Rows left over (with a phone) against payments left over that have no
   receipt, or whose receipt is not in the statement: same phone, exactly the same amount and direction, and
   ``|row.completed_at - payment.at| <= window``. Among all such candidate pairs the closest in time wins (a full
   phone beats a masked one; ties go to the lower line, then the lower payment id), so the result does not depend
   on input order. A masked statement phone ("2547******678") matches a payment whose phone starts with its
   visible prefix and ends with its visible suffix; it needs at least :data:`MASK_MIN_SUFFIX` visible trailing
   digits, otherwise it is treated as no phone. A row without a phone cannot phone-match.
3. **The rest.** Rows -> ``missing_in_chamahub``. Payments -> ``missing_in_statement`` only when their time falls
   inside the statement's span (first..last row ``completed_at``, widened by ``window``); payments outside it are
   not the statement's business and are only counted in ``out_of_range``. With no rows at all, every unmatched
   payment is out of range.

A pair whose payment has no receipt, or a different one, was matched by phone: the caller may store
``row.receipt`` on that payment. Output is deterministic: pairs and rows ordered by row line, payments by id.

Cost: O((R + P) log P) time via a receipt dict and per-(phone, amount, direction) buckets of sorted times searched
with bisect; no pairwise comparison. 100,000 x 100,000 runs in about a second (bench/reconcile_pure.py).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from mpesa_integration.statements import StatementRow

__all__ = ["MASK_MIN_SUFFIX", "OurPayment", "ReconcileResult", "phones_compatible", "reconcile"]

#: A masked phone must show at least this many trailing digits to be matched by phone.
MASK_MIN_SUFFIX = 3

_ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class OurPayment:
    """One of ChamaHub's own M-Pesa transactions, as the reconciliation needs it.

    ``phone`` is a normalised MSISDN ("2547XXXXXXXX") or ""; ``at`` must be timezone-aware; ``amount`` a Decimal.
    """

    id: int
    receipt: str | None
    phone: str
    amount: Decimal
    at: datetime
    direction: Literal["in", "out"]

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError(f"OurPayment {self.id}: amount must be a Decimal, not {type(self.amount).__name__}.")
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError(f"OurPayment {self.id}: 'at' must be a timezone-aware datetime.")
        if self.direction not in ("in", "out"):
            raise ValueError(f"OurPayment {self.id}: direction must be 'in' or 'out', not {self.direction!r}.")


@dataclass(slots=True)
class ReconcileResult:
    """The buckets of a reconciliation. See the module docstring for the rules.

    ``matched_by_receipt + matched_by_phone == len(matched)``. ``matched_amount`` sums ``row.amount`` over
    ``matched``; ``statement_total`` sums ``row.amount`` over every row (gross: paid in plus withdrawn).
    ``period_start``/``period_end`` are the first and last ``completed_at`` of the rows (None when there are none).
    """

    matched: list[tuple[StatementRow, OurPayment]] = field(default_factory=list)
    amount_mismatch: list[tuple[StatementRow, OurPayment]] = field(default_factory=list)
    missing_in_chamahub: list[StatementRow] = field(default_factory=list)
    missing_in_statement: list[OurPayment] = field(default_factory=list)
    matched_by_receipt: int = 0
    matched_by_phone: int = 0
    out_of_range: int = 0
    matched_amount: Decimal = _ZERO
    statement_total: Decimal = _ZERO
    period_start: datetime | None = None
    period_end: datetime | None = None


def phones_compatible(statement_phone: str, payment_phone: str) -> bool:
    """Could ``statement_phone`` (full or masked, as in StatementRow.phone) be ``payment_phone`` (full)?"""
    if not statement_phone or not payment_phone:
        return False
    if "*" not in statement_phone:
        return statement_phone == payment_phone
    prefix, suffix = _mask_parts(statement_phone)
    return (
        len(suffix) >= MASK_MIN_SUFFIX
        and len(prefix) + len(suffix) <= len(payment_phone)
        and payment_phone.startswith(prefix)
        and payment_phone.endswith(suffix)
    )


def _mask_parts(masked: str) -> tuple[str, str]:
    """The visible digits before the first "*" and after the last "*"."""
    return masked[: masked.index("*")], masked[masked.rindex("*") + 1 :]


def reconcile(
    rows: Iterable[StatementRow],
    payments: Iterable[OurPayment],
    *,
    window: timedelta = timedelta(minutes=10),
) -> ReconcileResult:
    """Pair statement rows with our payments (receipt, then phone + amount + direction + time) and report the rest."""
    if window < timedelta(0):
        raise ValueError("window must not be negative")
    row_list = sorted(rows, key=_line)
    pay_list = sorted(payments, key=_pid)
    result = ReconcileResult()
    used = bytearray(len(pay_list))  # payment index -> 1 once paired
    row_done = bytearray(len(row_list))  # row index -> 1 once paired
    phone_pairs: list[tuple[int, int]] = []  # (row index, payment index)

    # 1. Receipt.
    by_receipt: dict[str, int] = {}
    for index, payment in enumerate(pay_list):
        if payment.receipt:
            by_receipt.setdefault(payment.receipt.strip().upper(), index)
    statement_receipts: set[str] = set()
    for r_index, row in enumerate(row_list):
        statement_receipts.add(row.receipt)
        p_index = by_receipt.get(row.receipt)
        if p_index is None:
            continue
        payment = pay_list[p_index]
        used[p_index] = row_done[r_index] = 1
        if payment.amount == row.amount and payment.direction == row.direction:
            result.matched.append((row, payment))
            result.matched_by_receipt += 1
        else:
            result.amount_mismatch.append((row, payment))

    # 2. Phone + amount + direction + time window.
    seconds = window.total_seconds()
    full: list[int] = []
    masked: list[int] = []
    for r_index, row in enumerate(row_list):
        if row_done[r_index] or not row.phone:
            continue
        if "*" not in row.phone:
            full.append(r_index)
        elif len(_mask_parts(row.phone)[1]) >= MASK_MIN_SUFFIX:
            masked.append(r_index)
    if full or masked:
        eligible = [
            index
            for index, payment in enumerate(pay_list)
            if not used[index]
            and payment.phone
            and (not payment.receipt or payment.receipt.strip().upper() not in statement_receipts)
        ]
        candidates: list[tuple[int, float, int, int, int, int]] = []
        if full:
            buckets = _buckets(pay_list, eligible, lambda p: (p.phone, p.amount, p.direction))
            for r_index in full:
                row = row_list[r_index]
                bucket = buckets.get((row.phone, row.amount, row.direction))
                if bucket is not None:
                    _collect(candidates, 0, r_index, row, bucket, seconds, pay_list, None)
        if masked:
            buckets = _buckets(pay_list, eligible, lambda p: (p.phone[-MASK_MIN_SUFFIX:], p.amount, p.direction))
            for r_index in masked:
                row = row_list[r_index]
                bucket = buckets.get((row.phone[-MASK_MIN_SUFFIX:], row.amount, row.direction))
                if bucket is not None:
                    _collect(candidates, 1, r_index, row, bucket, seconds, pay_list, row.phone)
        candidates.sort()
        for _rank, _gap, _line_no, _pay_id, r_index, p_index in candidates:
            if row_done[r_index] or used[p_index]:
                continue
            row_done[r_index] = used[p_index] = 1
            phone_pairs.append((r_index, p_index))
    if phone_pairs:
        result.matched.extend((row_list[r], pay_list[p]) for r, p in phone_pairs)
        result.matched_by_phone = len(phone_pairs)
        result.matched.sort(key=lambda pair: pair[0].line)

    # 3. The rest.
    result.missing_in_chamahub = [row for index, row in enumerate(row_list) if not row_done[index]]
    span: tuple[datetime, datetime] | None = None
    if row_list:
        result.period_start = min(row.completed_at for row in row_list)
        result.period_end = max(row.completed_at for row in row_list)
        span = (result.period_start - window, result.period_end + window)
    for index, payment in enumerate(pay_list):
        if used[index]:
            continue
        if span is not None and span[0] <= payment.at <= span[1]:
            result.missing_in_statement.append(payment)
        else:
            result.out_of_range += 1
    result.statement_total = sum((row.amount for row in row_list), _ZERO)
    result.matched_amount = sum((row.amount for row, _payment in result.matched), _ZERO)
    return result


# A bucket: (sorted epoch seconds, payment indexes in the same order).
_Bucket = tuple[list[float], list[int]]


def _buckets(
    pay_list: list[OurPayment], eligible: list[int], key_of: Callable[[OurPayment], tuple]
) -> dict[tuple, _Bucket]:
    """Group eligible payment indexes by ``key_of(payment)``, each group sorted by time (then id)."""
    grouped: dict[tuple, list[tuple[float, int]]] = {}
    for index in eligible:
        payment = pay_list[index]
        grouped.setdefault(key_of(payment), []).append((payment.at.timestamp(), index))
    buckets: dict[tuple, _Bucket] = {}
    for key, items in grouped.items():
        items.sort()
        buckets[key] = ([ts for ts, _ in items], [index for _, index in items])
    return buckets


def _collect(
    candidates: list[tuple[int, float, int, int, int, int]],
    rank: int,
    r_index: int,
    row: StatementRow,
    bucket: _Bucket,
    seconds: float,
    pay_list: list[OurPayment],
    mask: str | None,
) -> None:
    """Append (rank, |gap|, line, payment id, row index, payment index) for each payment within the window."""
    times, indexes = bucket
    at = row.completed_at.timestamp()
    for position in range(bisect_left(times, at - seconds), bisect_right(times, at + seconds)):
        p_index = indexes[position]
        payment = pay_list[p_index]
        if mask is not None and not phones_compatible(mask, payment.phone):
            continue
        candidates.append((rank, abs(times[position] - at), row.line, payment.id, r_index, p_index))


def _line(row: StatementRow) -> int:
    return row.line


def _pid(payment: OurPayment) -> int:
    return payment.id
