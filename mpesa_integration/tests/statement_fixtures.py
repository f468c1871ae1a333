"""Writers for M-Pesa org-portal statements (CSV / XLSX) and a synthetic statement + payments data set.

Shared by the statement/matching tests, the lead's upload tests and the benchmarks; pure Python (no Django).

A row is a dict or a StatementRow-like object. Dict keys may be the canonical keys of
``statements.COLUMN_LABELS`` (``receipt``, ``completed_at``, ``paid_in``, ``withdrawn``, ``other_party``, ...), the
portal labels themselves ("Receipt No.", ...), or the shortcuts ``amount`` + ``direction`` (-> Paid In or
Withdrawn) and ``phone`` + ``name`` (-> Other Party Info). Missing cells are written empty; ``status`` defaults to
"Completed"; an empty dict writes a fully blank line. Values are written the way the portal writes them:
datetimes as Nairobi "YYYY-MM-DD HH:MM:SS", numbers with thousands separators ("1,250.00"), Withdrawn negative
("-500.00"); strings go out verbatim, so tests can inject any raw text ("24/11/2026 14:03:11", "not a date").
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from os import PathLike
from typing import Any

import openpyxl

from mpesa_integration.matching import OurPayment
from mpesa_integration.statements import _HEADER_ALIASES, COLUMN_LABELS, NAIROBI, _header_key

#: Every portal column, in the portal's order.
PORTAL_COLUMNS: tuple[str, ...] = tuple(COLUMN_LABELS)

#: The preamble the portal writes above the table.
DEFAULT_PREAMBLE: dict[str, str] = {
    "Organization Name": "CHAMAHUB TEST CHAMA",
    "Organisation Short Code": "600000",
    "Time Period": "From 01-11-2026 00:00:00 To 30-11-2026 23:59:59",
}

_AMOUNT_KEYS = ("paid_in", "withdrawn", "balance")
_ROW_ATTRS = ("receipt", "completed_at", "status", "details", "other_party", "account_number")

Row = Mapping[str, Any] | Any
Preamble = bool | Mapping[str, str]


def statement_csv_bytes(
    rows: Iterable[Row],
    *,
    preamble: Preamble = True,
    columns: Sequence[str] = PORTAL_COLUMNS,
    labels: Mapping[str, str] | None = None,
    encoding: str = "utf-8",
) -> bytes:
    """The statement as CSV bytes. ``columns`` picks/reorders canonical columns; ``labels`` overrides header texts."""
    buffer = io.StringIO(newline="")
    _write_csv(buffer, rows, preamble=preamble, columns=columns, labels=labels)
    return buffer.getvalue().encode(encoding)


def statement_csv_write(
    path: str | PathLike[str],
    rows: Iterable[Row],
    *,
    preamble: Preamble = True,
    columns: Sequence[str] = PORTAL_COLUMNS,
    labels: Mapping[str, str] | None = None,
    encoding: str = "utf-8",
) -> int:
    """Stream the statement to ``path`` row by row (``rows`` may be a generator of 100k+ rows). Returns rows written."""
    with open(path, "w", newline="", encoding=encoding) as handle:
        return _write_csv(handle, rows, preamble=preamble, columns=columns, labels=labels)


def statement_xlsx_bytes(
    rows: Iterable[Row],
    *,
    preamble: Preamble = True,
    columns: Sequence[str] = PORTAL_COLUMNS,
    labels: Mapping[str, str] | None = None,
    native: bool = True,
) -> bytes:
    """The statement as an XLSX workbook (one sheet, write-only/streaming).

    ``native=True`` writes datetimes as naive Nairobi datetime cells and amounts as numeric cells (as Excel would
    after re-saving an export); ``native=False`` writes the same text cells as the CSV.
    """
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("Statement")
    for line in _preamble_lines(preamble):
        sheet.append(line)
    sheet.append(_header(columns, labels))
    for row in rows:
        values = _row_values(row)
        sheet.append(
            [_xlsx_cell(key, values.get(key)) if native else _csv_cell(key, values.get(key)) for key in columns]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def masked(phone: str) -> str:
    """The portal's masking of an MSISDN: "254712345678" -> "2547******678"."""
    return f"{phone[:4]}******{phone[-3:]}"


# --------------------------------------------------------------------------------------------------------------
# Internals


def _write_csv(
    handle: Any, rows: Iterable[Row], *, preamble: Preamble, columns: Sequence[str], labels: Mapping[str, str] | None
) -> int:
    writer = csv.writer(handle, lineterminator="\r\n")
    writer.writerows(_preamble_lines(preamble))
    writer.writerow(_header(columns, labels))
    count = 0
    for row in rows:
        values = _row_values(row)
        writer.writerow([_csv_cell(key, values.get(key)) for key in columns])
        count += 1
    return count


def _preamble_lines(preamble: Preamble) -> list[list[str]]:
    if preamble is False:
        return []
    items = DEFAULT_PREAMBLE if preamble is True else preamble
    return [[label, value] for label, value in items.items()]


def _header(columns: Sequence[str], labels: Mapping[str, str] | None) -> list[str]:
    labels = labels or {}
    return [labels.get(key, COLUMN_LABELS.get(key, key)) for key in columns]


def _row_values(row: Row) -> dict[str, Any]:
    """Canonical column key -> value for one fixture row (dict or StatementRow-like)."""
    if isinstance(row, Mapping) and not row:
        return {}  # an empty dict is a fully blank line
    values: dict[str, Any] = {"status": "Completed"}
    if isinstance(row, Mapping):
        items = dict(row)
    else:
        items = {attr: getattr(row, attr) for attr in _ROW_ATTRS if hasattr(row, attr)}
        items["amount"], items["direction"] = row.amount, row.direction
    amount, direction = items.pop("amount", None), items.pop("direction", "in")
    phone, name = items.pop("phone", None), items.pop("name", "MEMBER")
    if amount is not None:
        values["paid_in" if direction == "in" else "withdrawn"] = Decimal(amount)
    if phone is not None:
        values["other_party"] = f"{phone} - {name}"
    for key, value in items.items():
        canonical = key if key in COLUMN_LABELS else _HEADER_ALIASES.get(_header_key(key))
        if canonical is None:
            raise KeyError(f"Unknown statement column {key!r}")
        values[canonical] = value
    return values


def _csv_cell(key: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        local = value.astimezone(NAIROBI) if value.tzinfo else value
        return local.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
        number = Decimal(str(value))
        if key == "withdrawn" and number > 0:
            number = -number
        return f"{number:,.2f}" if key in _AMOUNT_KEYS else str(value)
    return str(value)


def _xlsx_cell(key: str, value: Any) -> Any:
    if isinstance(value, datetime):
        return (value.astimezone(NAIROBI) if value.tzinfo else value).replace(tzinfo=None)
    if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
        number = Decimal(str(value))
        if key == "withdrawn" and number > 0:
            number = -number
        return number
    return value


# --------------------------------------------------------------------------------------------------------------
# Synthetic data set (benchmarks, large-upload tests)

_NORMAL_AMOUNTS = tuple(Decimal(a) for a in ("100", "200", "500", "1000", "1500", "2000", "2500", "5000"))
# Exception rows use amounts with odd cents so they can never phone-match a normal row by accident.
_ODD_CENTS = Decimal("0.37")


@dataclass(slots=True)
class SyntheticStatement:
    """A reproducible statement of ``n`` lines plus the matching ChamaHub payments, with known exceptions.

    ``rows()`` and ``payments()`` regenerate the same data on every call (nothing is held in memory), so a 100k-row
    statement can be streamed to disk. ``expected`` holds the bucket counts :func:`reconcile` must produce and the
    parser's ``rows`` / ``skipped_not_completed`` counts. Kinds, each at ``rate`` of the lines (the rest are plain
    receipt matches): ``amount_mismatch``, ``direction_mismatch`` (paid in on the statement, out in ours),
    ``missing_in_chamahub`` (row, no payment), ``window_miss`` (same phone and amount, 30 min apart: reported on
    both sides), ``not_completed`` (a Failed row), and two kinds that add an *extra* payment next to a normal
    receipt match: ``missing_in_statement`` (a payment the statement lacks) and ``out_of_range`` (a payment a day
    before the statement); and at 3 x ``rate`` each ``phone`` (payment without receipt) and ``masked`` (payment
    without receipt, masked phone on the statement). The file always has exactly ``n`` table lines.
    """

    n: int
    seed: int = 2026
    rate: float = 0.01
    start: datetime = field(default_factory=lambda: datetime(2026, 11, 1, tzinfo=NAIROBI))
    days: int = 30
    expected: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        counts = dict.fromkeys(_KINDS, 0)
        for item in self._plan():
            counts[item[1]] += 1
        both = counts["window_miss"]
        extra = counts["missing_in_statement"] + counts["out_of_range"]
        self.expected = {
            "rows": self.n - counts["not_completed"],
            "skipped_not_completed": counts["not_completed"],
            "payments": self.n - counts["not_completed"] - counts["missing_in_chamahub"] + extra,
            "matched": counts["receipt"] + extra + counts["phone"] + counts["masked"],
            "matched_by_receipt": counts["receipt"] + extra,
            "matched_by_phone": counts["phone"] + counts["masked"],
            "amount_mismatch": counts["amount_mismatch"] + counts["direction_mismatch"],
            "missing_in_chamahub": counts["missing_in_chamahub"] + both,
            "missing_in_statement": counts["missing_in_statement"] + both,
            "out_of_range": counts["out_of_range"],
        }

    def _plan(self) -> Iterator[tuple[int, str, random.Random]]:
        """(index, kind, per-line RNG): the one source both rows() and payments() are derived from."""
        rng = random.Random(self.seed)
        cuts = []
        edge = 0.0
        for kind, weight in _WEIGHTS:
            edge += weight * self.rate
            cuts.append((edge, kind))
        for index in range(self.n):
            pick = rng.random()
            kind = next((k for edge, k in cuts if pick < edge), "receipt")
            yield index, kind, random.Random(self.seed * 1_000_003 + index)

    def _line(self, index: int, kind: str, rng: random.Random) -> dict[str, Any]:
        """Everything about line ``index``: its time, receipt, phone, amount and direction."""
        step = self.days * 86_400 / max(self.n, 1)
        at = self.start + timedelta(seconds=int(index * step))
        exceptional = kind not in ("receipt", "phone", "masked")
        if exceptional:
            phone = f"2547{index:08d}"[-12:]
            amount = _NORMAL_AMOUNTS[rng.randrange(len(_NORMAL_AMOUNTS))] + _ODD_CENTS
        else:
            phone = f"2547{10_000_000 + rng.randrange(5_000)}"
            amount = _NORMAL_AMOUNTS[rng.randrange(len(_NORMAL_AMOUNTS))]
        direction = "out" if kind == "receipt" and rng.random() < 0.05 else "in"
        return {
            "at": at,
            "receipt": "SK" + _base36(index).rjust(8, "0"),
            "phone": phone,
            "amount": amount,
            "direction": direction,
            "jitter": timedelta(seconds=rng.randrange(-300, 301)),
        }

    def rows(self) -> Iterator[dict[str, Any]]:
        """The statement lines, in order (dicts for the writers above)."""
        for index, kind, rng in self._plan():
            line = self._line(index, kind, rng)
            phone = masked(line["phone"]) if kind == "masked" else line["phone"]
            yield {
                "receipt": line["receipt"],
                "completed_at": line["at"],
                "initiated_at": line["at"] - timedelta(seconds=2),
                "details": "Pay Bill Online" if line["direction"] == "in" else "Business Payment",
                "status": "Failed" if kind == "not_completed" else "Completed",
                "amount": line["amount"],
                "direction": line["direction"],
                "reason_type": "Pay Bill Online" if line["direction"] == "in" else "Business Payment",
                "other_party": f"{phone} - MEMBER {index}",
                "account_number": f"M{index % 1000:03d}",
            }

    def payments(self) -> Iterator[OurPayment]:
        """ChamaHub's payments for the same period (ids 1..)."""
        pay_id = 0
        for index, kind, rng in self._plan():
            if kind in ("missing_in_chamahub", "not_completed"):
                continue
            line = self._line(index, kind, rng)
            at, receipt, amount, direction = line["at"], line["receipt"], line["amount"], line["direction"]
            if kind in ("phone", "masked"):
                receipt, at = None, at + line["jitter"]
            elif kind == "amount_mismatch":
                amount += 50
            elif kind == "direction_mismatch":
                direction = "out"
            elif kind == "window_miss":
                receipt, at = None, at + timedelta(minutes=30)
            pay_id += 1
            yield OurPayment(id=pay_id, receipt=receipt, phone=line["phone"], amount=amount, at=at, direction=direction)
            if kind == "missing_in_statement":  # an extra payment the statement does not have
                pay_id += 1
                yield OurPayment(
                    id=pay_id,
                    receipt="SZ" + _base36(index).rjust(8, "0"),
                    phone=line["phone"],
                    amount=amount + 1,
                    at=at,
                    direction=direction,
                )
            elif kind == "out_of_range":  # an extra payment from before the statement's period
                pay_id += 1
                yield OurPayment(
                    id=pay_id,
                    receipt=None,
                    phone=line["phone"],
                    amount=amount,
                    at=self.start - timedelta(days=1),
                    direction=direction,
                )


_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("amount_mismatch", 1),
    ("direction_mismatch", 1),
    ("missing_in_chamahub", 1),
    ("missing_in_statement", 1),
    ("window_miss", 1),
    ("out_of_range", 1),
    ("not_completed", 1),
    ("phone", 3),
    ("masked", 3),
)
_KINDS = ("receipt", *(kind for kind, _ in _WEIGHTS))


def _base36(number: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if not number:
            return text
