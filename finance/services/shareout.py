"""
Share-out: distributing a cycle's interest, fees and fines income to members, pro rata to savings × time.

The pool is the net INTEREST_INCOME + FEES_INCOME + FINES_INCOME posted with entry_date inside the
cycle, excluding SHARE_OUT entries (and reversals of them). INVESTMENT_INCOME is NOT shared out: the
group keeps investment returns (they are reinvested or distributed by a separate decision).
Fines income is counted as charged (accrual), so waivers in the cycle reduce it.

A member's weight is Σ over each day of the cycle of their MEMBER_SAVINGS balance:
    opening balance at cycle_start × days in cycle
  + Σ each savings posting in the cycle × days from its entry_date to cycle_end (both inclusive)
The opening balance includes every earlier posting (earlier share-outs too: they became savings);
postings of SHARE_OUT entries inside the cycle are excluded, so recomputing a posted cycle gives the
same numbers. Members with weight ≤ 0 get nothing. The pool is split with split_pro_rata, so the
allocations always sum exactly to the pool.

Posting: ONE entry (reference "share-out:<group>:<start>:<end>", dated cycle_end) debiting each income
account by its cycle amount and crediting each member's savings with their allocation.

`share_out_compute` is used by both the preview and the post, so they always agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from chamahub import events
from chamahub.exceptions import Conflict, ValidationFailed
from chamahub.money import ZERO, split_pro_rata, to_money
from finance.choices import AccountKind, EntryKind, ShareOutStatus
from finance.models import LedgerAccount, Posting, ShareOut, ShareOutAllocation
from finance.selectors.ledger import signed
from finance.services.ledger import credit, debit, journal_entry_post, ledger_account_get_or_create
from groups.selectors import official_require

POOL_KINDS = (AccountKind.INTEREST_INCOME, AccountKind.FEES_INCOME, AccountKind.FINES_INCOME)
_PERCENT = Decimal("0.000001")


@dataclass(frozen=True)
class AllocationLine:
    member_id: int
    savings_days: Decimal
    share_percent: Decimal
    amount: Decimal


@dataclass(frozen=True)
class ShareOutPlan:
    group_id: int
    cycle_start: date
    cycle_end: date
    days: int
    pool_by_kind: dict[str, Decimal]
    pool: Decimal
    total_weight: Decimal
    allocations: list[AllocationLine] = field(default_factory=list)


def _not_share_out() -> Q:
    return ~Q(entry__kind=EntryKind.SHARE_OUT) & ~Q(entry__reverses__kind=EntryKind.SHARE_OUT)


def share_out_dates_check(*, cycle_start: date, cycle_end: date) -> None:
    if cycle_end < cycle_start:
        raise ValidationFailed(
            "The cycle ends before it starts.", fields={"cycle_end": ["Must be on or after cycle_start."]}
        )
    if cycle_end > timezone.localdate():
        raise ValidationFailed("The cycle has not ended yet.", fields={"cycle_end": ["Must not be in the future."]})


def share_out_overlap_check(*, group_id: int, cycle_start: date, cycle_end: date) -> None:
    clash = (
        ShareOut.objects.filter(
            group_id=group_id, status=ShareOutStatus.POSTED, cycle_start__lte=cycle_end, cycle_end__gte=cycle_start
        )
        .order_by("cycle_start")
        .first()
    )
    if clash is not None:
        raise Conflict(
            f"This cycle overlaps the posted share-out {clash.cycle_start}..{clash.cycle_end}.",
            fields={"cycle_start": ["Overlaps a posted share-out."]},
            code="share_out_overlap",
        )


def share_out_compute(*, group_id: int, cycle_start: date, cycle_end: date) -> ShareOutPlan:
    """The pool and each member's allocation for a cycle (read-only; the preview and the post use it)."""
    share_out_dates_check(cycle_start=cycle_start, cycle_end=cycle_end)
    days = (cycle_end - cycle_start).days + 1
    in_cycle = Q(group_id=group_id, entry_date__gte=cycle_start, entry_date__lte=cycle_end) & _not_share_out()

    pool_rows = (
        Posting.objects.filter(in_cycle, account__kind__in=POOL_KINDS)
        .values("account__kind")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    pool_by_kind = {kind.value: ZERO for kind in POOL_KINDS}
    for row in pool_rows:
        pool_by_kind[row["account__kind"]] = signed(row["total"], -1)  # income is credit-normal
    pool = to_money(sum(pool_by_kind.values(), ZERO))

    savings = Q(group_id=group_id, account__kind=AccountKind.MEMBER_SAVINGS)
    weights: dict[int, Decimal] = {}
    opening_rows = (
        Posting.objects.filter(savings, entry_date__lt=cycle_start).values("member_id").annotate(t=Sum("amount"))
    ).order_by()
    for row in opening_rows:
        weights[row["member_id"]] = signed(row["t"], -1) * days
    cycle_rows = Posting.objects.filter(savings & in_cycle).values_list("member_id", "amount", "entry_date")
    for member_id, amount, entry_date in cycle_rows:
        weights[member_id] = weights.get(member_id, ZERO) + (-amount) * ((cycle_end - entry_date).days + 1)

    positive = {m: w for m, w in sorted(weights.items()) if w > 0}
    total_weight = sum(positive.values(), ZERO)
    amounts = split_pro_rata(pool, positive, order=list(positive)) if pool > 0 and positive else {}
    allocations = [
        AllocationLine(
            member_id=member_id,
            savings_days=to_money(weight),
            share_percent=(weight * 100 / total_weight).quantize(_PERCENT),
            amount=amounts.get(member_id, ZERO),
        )
        for member_id, weight in positive.items()
    ]
    return ShareOutPlan(
        group_id=group_id,
        cycle_start=cycle_start,
        cycle_end=cycle_end,
        days=days,
        pool_by_kind=pool_by_kind,
        pool=pool,
        total_weight=to_money(total_weight),
        allocations=allocations,
    )


def share_out_preview(*, group_id: int, cycle_start: date, cycle_end: date) -> ShareOutPlan:
    share_out_dates_check(cycle_start=cycle_start, cycle_end=cycle_end)
    share_out_overlap_check(group_id=group_id, cycle_start=cycle_start, cycle_end=cycle_end)
    return share_out_compute(group_id=group_id, cycle_start=cycle_start, cycle_end=cycle_end)


@transaction.atomic
def share_out_post(*, actor, group_id: int, cycle_start: date, cycle_end: date) -> ShareOut:
    """Post a cycle's share-out (officials). Refuses overlapping posted cycles and an empty pool (409)."""
    official_require(actor, group_id, field="group")
    share_out_dates_check(cycle_start=cycle_start, cycle_end=cycle_end)
    # Serialise share-outs of one group: lock its interest-income account row before the overlap check.
    lock_id = ledger_account_get_or_create(group_id=group_id, kind=AccountKind.INTEREST_INCOME).id
    LedgerAccount.objects.select_for_update().filter(pk=lock_id).first()
    share_out_overlap_check(group_id=group_id, cycle_start=cycle_start, cycle_end=cycle_end)

    plan = share_out_compute(group_id=group_id, cycle_start=cycle_start, cycle_end=cycle_end)
    if plan.pool <= 0:
        raise Conflict("There is no income to share out in this cycle.", code="empty_pool")
    if not plan.allocations:
        raise Conflict("No member held savings during this cycle.", code="no_savings")

    legs = [debit(kind, amount) for kind, amount in plan.pool_by_kind.items() if amount != 0]
    legs += [credit(AccountKind.MEMBER_SAVINGS, a.amount, a.member_id) for a in plan.allocations if a.amount > 0]
    entry = journal_entry_post(
        group_id=group_id,
        kind=EntryKind.SHARE_OUT,
        description=f"Share-out {cycle_start:%Y-%m-%d} to {cycle_end:%Y-%m-%d}",
        legs=legs,
        entry_date=cycle_end,
        reference=f"share-out:{group_id}:{cycle_start:%Y-%m-%d}:{cycle_end:%Y-%m-%d}",
        created_by_id=actor.pk,
    )
    share_out = ShareOut(
        group_id=group_id,
        cycle_start=cycle_start,
        cycle_end=cycle_end,
        total_distributed=plan.pool,
        status=ShareOutStatus.POSTED,
        posted_by=actor,
        journal_entry=entry,
    )
    try:
        with transaction.atomic():
            share_out.save()
    except IntegrityError as exc:
        raise Conflict("This cycle has already been shared out.", code="share_out_overlap") from exc
    ShareOutAllocation.objects.bulk_create(
        ShareOutAllocation(
            group_id=group_id,
            share_out=share_out,
            member_id=a.member_id,
            savings_days=a.savings_days,
            share_percent=a.share_percent,
            amount=a.amount,
        )
        for a in plan.allocations
    )
    events.publish(
        "share_out.posted",
        {
            "share_out_id": share_out.id,
            "cycle_start": cycle_start.isoformat(),
            "cycle_end": cycle_end.isoformat(),
            "total_distributed": str(plan.pool),
            "allocations": {str(a.member_id): str(a.amount) for a in plan.allocations},
        },
        group_id=group_id,
    )
    return share_out
