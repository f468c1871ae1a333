"""Reads for contributions, fines and the contribution schedule (always scoped to the caller's groups)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import F, Q, QuerySet, Sum
from django.utils import timezone

from chamahub.money import ZERO
from finance.choices import ContributionStatus, FineKind, FineStatus
from finance.models import Contribution, Fine
from finance.selectors.ledger import cents
from finance.services.schedule import member_schedule_start, periods_covering
from groups.choices import MembershipStatus
from groups.selectors import active_group_ids, group_get, group_member_list, official_group_ids, own_rows_q


def _visible(user) -> Q:
    """Officials see all of their groups' rows; a plain member sees their own rows in their active groups."""
    return own_rows_q(user, owner_field="member_id")


def contribution_list(*, user) -> QuerySet[Contribution]:
    """
    Contributions the caller may see. The group and member names are annotated (two columns) instead of
    joining whole group and user rows into model instances: the hot list stays cheap at 24,000 rows.
    """
    return Contribution.objects.filter(_visible(user)).annotate(
        group_label=F("group__name"),
        member_first_name=F("member__first_name"),
        member_last_name=F("member__last_name"),
        member_email=F("member__email"),
        member_phone=F("member__phone_number"),
    )


def contribution_group_list(*, user) -> QuerySet[Contribution]:
    """Every contribution of the caller's active groups (used by official actions, which check the role)."""
    return Contribution.objects.filter(group_id__in=active_group_ids(user)).select_related("group", "member")


def contribution_export_list(*, user) -> QuerySet[Contribution]:
    """Officials' export: every contribution of the groups they are official of."""
    return Contribution.objects.filter(group_id__in=official_group_ids(user)).select_related(
        "group", "member", "reconciled_by"
    )


def fine_list(*, user) -> QuerySet[Fine]:
    return Fine.objects.filter(_visible(user)).select_related("group", "member")


def fine_group_list(*, user) -> QuerySet[Fine]:
    return Fine.objects.filter(group_id__in=active_group_ids(user)).select_related("group", "member")


@dataclass(frozen=True)
class SchedulePeriod:
    period_start: date
    period_end: date
    due_date: date
    expected: Decimal
    paid: Decimal
    arrears: Decimal
    fine: Decimal | None
    is_past_due: bool


@dataclass(frozen=True)
class MemberSchedule:
    member_id: int
    member_name: str
    periods: list[SchedulePeriod]
    totals: dict[str, Decimal]


def contribution_schedule_get(
    *, group_id: int, member_ids: list[int] | None = None, as_of: date | None = None
) -> list[MemberSchedule]:
    """
    Each ACTIVE member's schedule (or only `member_ids`): the periods from max(cycle start, joined) to
    `as_of` (today), with expected, confirmed paid, arrears and the late fine charged for each, plus
    totals {expected, paid, arrears, fines_outstanding}. Four queries, whatever the number of members.
    """
    as_of = as_of or timezone.localdate()
    group = group_get(group_id)
    memberships = group_member_list(group_id=group_id).filter(status=MembershipStatus.ACTIVE)
    if member_ids is not None:
        memberships = memberships.filter(user_id__in=member_ids)
    memberships = list(memberships)
    user_ids = [m.user_id for m in memberships]

    paid: dict[tuple[int, date], Decimal] = defaultdict(lambda: ZERO)
    for row in (
        Contribution.objects.filter(group_id=group_id, member_id__in=user_ids, status=ContributionStatus.CONFIRMED)
        .values("member_id", "period")
        .annotate(total=Sum("amount"))
        .order_by()
    ):
        paid[(row["member_id"], row["period"])] = cents(row["total"])
    late_fines: dict[tuple[int, date], Decimal] = {}
    fines_outstanding: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for member_id, kind, period, amount, amount_paid, status in Fine.objects.filter(
        group_id=group_id, member_id__in=user_ids
    ).values_list("member_id", "kind", "period", "amount", "amount_paid", "status"):
        if kind == FineKind.LATE_CONTRIBUTION:
            late_fines[(member_id, period)] = amount
        if status == FineStatus.UNPAID:
            fines_outstanding[member_id] += amount - amount_paid

    expected = group.contribution_amount
    out = []
    for membership in memberships:
        joined_on = timezone.localdate(membership.joined_at) if membership.joined_at else None
        start = member_schedule_start(cycle_start=group.cycle_start_date, joined_on=joined_on)
        periods = []
        for period in periods_covering(
            anchor=group.cycle_start_date, frequency=group.contribution_frequency, start=start, end=as_of
        ):
            got = paid[(membership.user_id, period.start)]
            periods.append(
                SchedulePeriod(
                    period_start=period.start,
                    period_end=period.end,
                    due_date=period.due_date,
                    expected=expected,
                    paid=got,
                    arrears=max(ZERO, expected - got),
                    fine=late_fines.get((membership.user_id, period.start)),
                    is_past_due=period.due_date < as_of,
                )
            )
        totals = {
            "expected": sum((p.expected for p in periods), ZERO),
            "paid": sum((p.paid for p in periods), ZERO),
            "arrears": sum((p.arrears for p in periods), ZERO),
            "fines_outstanding": fines_outstanding[membership.user_id],
        }
        out.append(
            MemberSchedule(
                member_id=membership.user_id,
                member_name=membership.user.full_name,
                periods=periods,
                totals=totals,
            )
        )
    return out
