"""
Loan amortisation: pure functions, Decimal only, no database.

- FLAT: every month charges interest on the ORIGINAL principal, P·r/1200, and repays P/n of principal.
  Total interest = round(P·r·n/1200).
- REDUCING (equal instalments): i = r/1200, payment = P·i / (1 − (1+i)^−n); each month's interest is
  charged on the balance still owed, the rest of the payment repays principal; the last month clears
  the balance.
- r = 0: principal only, P/n a month, for either method.

Every figure is rounded ROUND_HALF_UP to cents and the last instalment absorbs the rounding, so
Σ principal = P exactly. If rounding the regular monthly figure up would leave the last instalment
negative (only possible for amounts of a few cents), the regular figure is rounded down instead.
Due dates are the start date + k months, clamped to the month's end (31 Jan -> 28/29 Feb -> 31 Mar).
The processing fee is due with the first instalment.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, localcontext

from chamahub.money import CENT, ZERO

FLAT = "FLAT"
REDUCING = "REDUCING"
MAX_DURATION_MONTHS = 60


@dataclass(frozen=True)
class ScheduleLine:
    number: int
    due_date: date
    principal: Decimal
    interest: Decimal
    fee: Decimal
    balance: Decimal  # principal still owed after this instalment

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest + self.fee


@dataclass(frozen=True)
class Schedule:
    lines: tuple[ScheduleLine, ...]
    principal: Decimal
    total_interest: Decimal
    processing_fee: Decimal
    monthly_payment: Decimal  # the regular instalment (principal + interest), without the fee

    @property
    def total_amount(self) -> Decimal:
        return self.principal + self.total_interest + self.processing_fee

    @property
    def due_date(self) -> date:
        return self.lines[-1].due_date


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _regular(exact: Decimal, total: Decimal, months: int) -> Decimal:
    """The regular monthly figure: exact rounded half-up, unless that leaves the last month negative."""
    rounded = _cents(exact)
    if rounded * (months - 1) > total:
        rounded = exact.quantize(CENT, rounding=ROUND_DOWN)
    return rounded


def add_months(start: date, months: int) -> date:
    """`start` + `months` calendar months, clamped to the last day of the target month."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def flat_total_interest(principal: Decimal, annual_rate: Decimal, months: int) -> Decimal:
    return _cents(Decimal(principal) * Decimal(annual_rate) * months / Decimal(1200))


def schedule_build(
    *,
    principal: Decimal,
    annual_rate: Decimal,
    months: int,
    method: str,
    start_date: date,
    processing_fee: Decimal = ZERO,
) -> Schedule:
    """The amortisation schedule of a loan disbursed on `start_date`. Raises ValueError on bad terms."""
    principal, annual_rate, processing_fee = Decimal(principal), Decimal(annual_rate), Decimal(processing_fee)
    if principal <= 0 or _cents(principal) != principal:
        raise ValueError("principal must be a positive amount in cents")
    if not 1 <= months <= MAX_DURATION_MONTHS:
        raise ValueError(f"months must be between 1 and {MAX_DURATION_MONTHS}")
    if annual_rate < 0:
        raise ValueError("annual_rate must not be negative")
    if processing_fee < 0 or _cents(processing_fee) != processing_fee:
        raise ValueError("processing_fee must be a non-negative amount in cents")
    if method not in (FLAT, REDUCING):
        raise ValueError(f"unknown interest method {method!r}")

    with localcontext() as ctx:
        ctx.prec = 40
        if method == REDUCING and annual_rate > 0:
            amounts = _reducing(principal, annual_rate, months)
        else:
            amounts = _flat(principal, annual_rate, months)

    lines = []
    balance = principal
    for k, (principal_part, interest_part) in enumerate(amounts, start=1):
        balance -= principal_part
        lines.append(
            ScheduleLine(
                number=k,
                due_date=add_months(start_date, k),
                principal=principal_part,
                interest=interest_part,
                fee=processing_fee if k == 1 else ZERO,
                balance=balance,
            )
        )
    first = lines[0]
    return Schedule(
        lines=tuple(lines),
        principal=principal,
        total_interest=sum((line.interest for line in lines), ZERO),
        processing_fee=processing_fee,
        monthly_payment=first.principal + first.interest,
    )


def _flat(principal: Decimal, annual_rate: Decimal, months: int) -> list[tuple[Decimal, Decimal]]:
    total_interest = flat_total_interest(principal, annual_rate, months)
    principal_part = _regular(principal / months, principal, months)
    interest_part = _regular(principal * annual_rate / Decimal(1200), total_interest, months)
    out = [(principal_part, interest_part)] * (months - 1)
    out.append((principal - principal_part * (months - 1), total_interest - interest_part * (months - 1)))
    return out


def _reducing(principal: Decimal, annual_rate: Decimal, months: int) -> list[tuple[Decimal, Decimal]]:
    payment = reducing_payment(principal, annual_rate, months)
    out = []
    balance = principal
    for k in range(1, months + 1):
        interest_part = _cents(balance * annual_rate / Decimal(1200))
        # The last month clears the balance; earlier ones never repay more than is still owed.
        principal_part = balance if k == months else min(payment - interest_part, balance)
        out.append((principal_part, interest_part))
        balance -= principal_part
    return out


def reducing_payment(principal: Decimal, annual_rate: Decimal, months: int) -> Decimal:
    """The equal monthly payment of a reducing-balance loan, to the cent (P/n when r = 0)."""
    principal, annual_rate = Decimal(principal), Decimal(annual_rate)
    if annual_rate == 0:
        return _cents(principal / months)
    with localcontext() as ctx:
        ctx.prec = 40
        rate = annual_rate / Decimal(1200)
        return _cents(principal * rate / (1 - (1 + rate) ** -months))
