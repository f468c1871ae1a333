"""Ledger reads: balances are derived from postings (LedgerAccount.balance is their running total)."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Case, F, Sum, When
from django.db.models.expressions import Combinable

from chamahub.money import ZERO, to_money
from finance.choices import KIND_TYPES, AccountKind, AccountType
from finance.models import JournalEntry, LedgerAccount, Posting

CREDIT_NORMAL_TYPES = (AccountType.LIABILITY, AccountType.EQUITY, AccountType.INCOME)
_CREDIT_NORMAL = CREDIT_NORMAL_TYPES


def normal_sign(kind: str) -> int:
    """+1 for debit-normal kinds (assets, expenses), -1 for credit-normal ones (savings, income)."""
    return -1 if KIND_TYPES[AccountKind(kind)] in _CREDIT_NORMAL else 1


def cents(value: Decimal | None) -> Decimal:
    """
    A database sum as exact cents. SQLite adds decimals as floats (a sum that should be 0 can come
    back as 2.8e-14), so every aggregate of money goes through here; never "-0.00" either.
    """
    return to_money(value or ZERO) + ZERO


def signed(value: Decimal | None, sign: int) -> Decimal:
    """value × sign in exact cents, never "-0.00" (Decimal keeps the sign of zero; adding +0 drops it)."""
    return cents((value or ZERO) * sign)


def type_sign(account_type: str) -> int:
    """normal_sign() keyed by account type (what a select_related account row carries)."""
    return -1 if account_type in CREDIT_NORMAL_TYPES else 1


def natural_amount_expression(type_path: str = "account__account_type", amount: str = "amount") -> Combinable:
    """SQL expression: a posting's amount in its account's natural sign (a credit to savings is positive)."""
    return Case(
        When(**{f"{type_path}__in": list(CREDIT_NORMAL_TYPES)}, then=-F(amount)),
        default=F(amount),
    )


def account_balance(*, group_id: int, kind: str, member_id: int | None = None) -> Decimal:
    """Balance in the account's natural sign (a member's savings are positive). 0 if never used."""
    raw = (
        LedgerAccount.objects.filter(group_id=group_id, kind=kind, member_id=member_id)
        .values_list("balance", flat=True)
        .first()
    )
    return signed(raw, normal_sign(kind))


def member_balances(*, group_id: int, member_id: int) -> dict[str, Decimal]:
    """{kind: natural-sign balance} for the member's per-member accounts in one group."""
    rows = LedgerAccount.objects.filter(group_id=group_id, member_id=member_id).values_list("kind", "balance")
    out = {
        AccountKind.MEMBER_SAVINGS: ZERO,
        AccountKind.LOANS_RECEIVABLE: ZERO,
        AccountKind.FINES_RECEIVABLE: ZERO,
    }
    for kind, balance in rows:
        out[kind] = signed(balance, normal_sign(kind))
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
        out[row["group_id"]][row["kind"]] = signed(row["total"], normal_sign(row["kind"]))
    return out


def trial_balance(*, group_id: int) -> Decimal:
    """Σ of every posting of the group: always zero in a healthy ledger."""
    return cents(Posting.objects.filter(group_id=group_id).aggregate(t=Sum("amount"))["t"])


def balance_from_postings(*, account_id: int) -> Decimal:
    return cents(Posting.objects.filter(account_id=account_id).aggregate(t=Sum("amount"))["t"])


def journal_entry_by_reference(*, group_id: int, reference: str) -> JournalEntry | None:
    """The entry posted under `reference` in the group (references are unique per group), or None."""
    return JournalEntry.objects.filter(group_id=group_id, reference=reference).first()
