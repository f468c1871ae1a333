"""
Figures finance provides to lower layers (see chamahub.extensions).

groups (L2) must not import finance (L4); it asks through `extensions.call(name, ..., default=...)`.
Both providers answer for many groups/goals in a bounded number of queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.db.models import Case as CaseExpr
from django.db.models import Q, Sum, Value, When
from django.db.models.functions import Coalesce

from chamahub import extensions
from chamahub.money import ZERO
from finance.choices import AccountKind, EntryKind
from finance.models import Posting
from finance.selectors.ledger import kind_totals, signed

_MONEY = Value(Decimal("0.00"))


def _contribution_postings(group_ids: list[int]):
    """Postings on MEMBER_SAVINGS made by CONTRIBUTION entries or by reversals of them."""
    return Posting.objects.filter(group_id__in=group_ids, account__kind=AccountKind.MEMBER_SAVINGS).filter(
        Q(entry__kind=EntryKind.CONTRIBUTION)
        | Q(entry__kind=EntryKind.REVERSAL, entry__reverses__kind=EntryKind.CONTRIBUTION)
    )


@extensions.provides("group.financial_summary")
def group_financial_summary(group_ids: Iterable[int]) -> dict[int, dict[str, Decimal]]:
    """
    {group_id: {total_balance, total_savings, total_contributions, total_loans_outstanding,
    total_fines_outstanding}} in two queries for any number of groups. Natural-sign amounts.

    - total_balance: the cash account (M-Pesa float / bank);
    - total_savings: Σ of the members' savings accounts (contributions, share-outs, less withdrawals);
    - total_contributions: net credits to MEMBER_SAVINGS from CONTRIBUTION entries, less the
      reversals of those entries — i.e. Σ confirmed contributions still standing.
    """
    ids = sorted({int(g) for g in group_ids})
    if not ids:
        return {}
    totals = kind_totals(group_ids=ids)
    contributed = dict(
        _contribution_postings(ids).values("group_id").annotate(t=Sum("amount")).order_by().values_list("group_id", "t")
    )
    out = {}
    for gid in ids:
        t = totals.get(gid, {})
        out[gid] = {
            "total_balance": t.get(AccountKind.CASH, ZERO),
            "total_savings": t.get(AccountKind.MEMBER_SAVINGS, ZERO),
            "total_contributions": signed(contributed.get(gid), -1),
            "total_loans_outstanding": t.get(AccountKind.LOANS_RECEIVABLE, ZERO),
            "total_fines_outstanding": t.get(AccountKind.FINES_RECEIVABLE, ZERO),
        }
    return out


@extensions.provides("group.goal_progress")
def group_goal_progress(
    windows: Iterable[tuple[int, int, date | None, date | None]],
) -> dict[int, Decimal]:
    """
    {goal_id: net credits to the group's MEMBER_SAVINGS accounts with entry_date in [start, end]}.
    One query for all windows (conditional aggregation); an open end (None) is unbounded.
    """
    windows = list(windows)
    if not windows:
        return {}
    group_ids = sorted({int(w[1]) for w in windows})
    aggregates = {}
    for index, (_goal_id, group_id, start, end) in enumerate(windows):
        condition = Q(group_id=group_id)
        if start is not None:
            condition &= Q(entry_date__gte=start)
        if end is not None:
            condition &= Q(entry_date__lte=end)
        aggregates[f"w{index}"] = Coalesce(Sum(CaseExpr(When(condition, then="amount"))), _MONEY)
    row = Posting.objects.filter(group_id__in=group_ids, account__kind=AccountKind.MEMBER_SAVINGS).aggregate(
        **aggregates
    )
    # Savings are credit-normal: a credit (negative amount) raises them.
    return {int(w[0]): signed(row[f"w{i}"], -1) for i, w in enumerate(windows)}


@extensions.provides("group.member_contributions")
def group_member_contributions(group_ids: Iterable[int]) -> dict[int, dict[int, Decimal]]:
    """
    {group_id: {user_id: Σ confirmed contributions still standing}} in one query: net credits to each
    member's savings from CONTRIBUTION entries, less their reversals. Members with none are absent.
    """
    ids = sorted({int(g) for g in group_ids})
    out: dict[int, dict[int, Decimal]] = {gid: {} for gid in ids}
    if not ids:
        return out
    rows = (
        _contribution_postings(ids)
        .values("group_id", "member_id")
        .annotate(t=Sum("amount"))
        .order_by()
        .values_list("group_id", "member_id", "t")
    )
    for gid, member_id, total in rows:
        out[gid][member_id] = signed(total, -1)
    return out
