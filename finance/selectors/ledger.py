"""Ledger reads: balances are derived from postings (LedgerAccount.balance is their running total)."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from chamahub.money import ZERO
from finance.choices import KIND_TYPES, AccountKind, AccountType
from finance.models import LedgerAccount, Posting

_CREDIT_NORMAL = (AccountType.LIABILITY, AccountType.EQUITY, AccountType.INCOME)


def normal_sign(kind: str) -> int:
    """+1 for debit-normal kinds (assets, expenses), -1 for credit-normal ones (savings, income)."""
    return -1 if KIND_TYPES[AccountKind(kind)] in _CREDIT_NORMAL else 1


def account_balance(*, group_id: int, kind: str, member_id: int | None = None) -> Decimal:
    """Balance in the account's natural sign (a member's savings are positive). 0 if never used."""
    raw = (
        LedgerAccount.objects.filter(group_id=group_id, kind=kind, member_id=member_id)
        .values_list("balance", flat=True)
        .first()
    )
    return (raw or ZERO) * normal_sign(kind)


def member_balances(*, group_id: int, member_id: int) -> dict[str, Decimal]:
    """{kind: natural-sign balance} for the member's per-member accounts in one group."""
    rows = LedgerAccount.objects.filter(group_id=group_id, member_id=member_id).values_list("kind", "balance")
    out = {
        AccountKind.MEMBER_SAVINGS: ZERO,
        AccountKind.LOANS_RECEIVABLE: ZERO,
        AccountKind.FINES_RECEIVABLE: ZERO,
    }
    for kind, balance in rows:
        out[kind] = balance * normal_sign(kind)
    return out


def kind_totals(*, group_ids: list[int]) -> dict[int, dict[str, Decimal]]:
    """{group_id: {kind: natural-sign total over all accounts of that kind}} in one query."""
    out: dict[int, dict[str, Decimal]] = {gid: {} for gid in group_ids}
    rows = (
        LedgerAccount.objects.filter(group_id__in=group_ids)
        .values("group_id", "kind")
        .annotate(total=Sum("balance"))
        .order_by()
    )
    for row in rows:
        out[row["group_id"]][row["kind"]] = (row["total"] or ZERO) * normal_sign(row["kind"])
    return out


def trial_balance(*, group_id: int) -> Decimal:
    """Σ of every posting of the group: always zero in a healthy ledger."""
    return Posting.objects.filter(group_id=group_id).aggregate(t=Sum("amount"))["t"] or ZERO


def balance_from_postings(*, account_id: int) -> Decimal:
    return Posting.objects.filter(account_id=account_id).aggregate(t=Sum("amount"))["t"] or ZERO
