"""
Reads for groups, and the scoping helpers every app uses.

Scoping rule: only ACTIVE members see a group and anything in it; anything else answers 404,
exactly as if it did not exist. Officials (chairperson, treasurer, secretary) may change things.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q, QuerySet

from chamahub import extensions
from chamahub.exceptions import NotFound, PermissionDenied
from chamahub.money import ZERO, to_money
from groups.choices import OFFICIAL_ROLES, GoalStatus, MembershipStatus, Role
from groups.models import ChamaGroup, GroupGoal, GroupInvitation, GroupMessage, GroupOfficial, Membership

_CACHE_ATTR = "_chamahub_active_memberships"


def memberships_by_group(user) -> dict[int, Membership]:
    """The user's ACTIVE memberships keyed by group id. One query, cached on the user object per request."""
    if user is None or not getattr(user, "is_authenticated", False):
        return {}
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        # Every scoped request starts here, so it is a fixed SQL string: no ORM query compilation
        # (about half a millisecond) on the hot path. Same rows as
        # Membership.objects.filter(user_id=user.pk, status=ACTIVE).
        rows = Membership.objects.raw(_ACTIVE_MEMBERSHIPS_SQL, [user.pk, MembershipStatus.ACTIVE])
        cached = {m.group_id: m for m in rows}
        setattr(user, _CACHE_ATTR, cached)
    return cached


_ACTIVE_MEMBERSHIPS_SQL = f"SELECT * FROM {Membership._meta.db_table} WHERE user_id = %s AND status = %s"


def memberships_cache_clear(user) -> None:
    if user is not None and hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def active_group_ids(user) -> list[int]:
    return list(memberships_by_group(user))


def official_group_ids(user) -> list[int]:
    return [gid for gid, m in memberships_by_group(user).items() if m.role in OFFICIAL_ROLES]


def own_rows_q(user, *, owner_field: str = "member_id") -> Q:
    """
    What a user may read of a group's member-owned rows (contributions, loans, ledger lines):
    every row of the groups where they are an official, and their own rows in the other groups
    they are an ACTIVE member of. Built without a redundant OR so the database can use the
    (group_id, ...) indexes for ordering and counting.
    """
    official = official_group_ids(user)
    official_set = set(official)
    member_only = [gid for gid in active_group_ids(user) if gid not in official_set]
    q = Q(group_id__in=official) if official else Q(pk__in=[])
    if member_only:
        q |= Q(group_id__in=member_only, **{owner_field: user.pk})
    return q


def is_official(user, group_id: int) -> bool:
    membership = memberships_by_group(user).get(int(group_id))
    return membership is not None and membership.role in OFFICIAL_ROLES


def membership_require(user, group_id, *, field: str | None = None) -> Membership:
    """The caller's active membership of `group_id`, or 404 (the group 'does not exist' for outsiders)."""
    try:
        membership = memberships_by_group(user).get(int(group_id))
    except (TypeError, ValueError, OverflowError):  # OverflowError: a JSON 1e400 is float infinity
        membership = None
    if membership is None:
        if field:
            raise NotFound("Group not found.", fields={field: ["Group not found."]})
        raise NotFound("Group not found.")
    return membership


def official_require(user, group_id, *, field: str | None = None) -> Membership:
    """The caller must be an active official of the group: 404 for outsiders, 403 for plain members."""
    membership = membership_require(user, group_id, field=field)
    if membership.role not in OFFICIAL_ROLES:
        raise PermissionDenied("Only the group's officials (chairperson, treasurer, secretary) may do this.")
    return membership


def active_membership_get(*, group_id: int, user_id: int) -> Membership | None:
    return Membership.objects.filter(group_id=group_id, user_id=user_id, status=MembershipStatus.ACTIVE).first()


def group_get(group_id: int) -> ChamaGroup:
    return ChamaGroup.objects.get(pk=group_id)


def group_list(*, user) -> QuerySet[ChamaGroup]:
    return (
        ChamaGroup.objects.filter(id__in=active_group_ids(user))
        .annotate(member_count=Count("memberships", filter=Q(memberships__status=MembershipStatus.ACTIVE)))
        .select_related("created_by")
    )


def membership_list(*, user) -> QuerySet[Membership]:
    """Members see the memberships of their groups; a user also sees their own invitations (status INVITED)."""
    return Membership.objects.filter(
        Q(group_id__in=active_group_ids(user)) | Q(user_id=user.pk, status=MembershipStatus.INVITED)
    ).select_related("user", "group")


def group_member_list(*, group_id: int) -> QuerySet[Membership]:
    return Membership.objects.filter(group_id=group_id).select_related("user", "group").order_by("member_number")


def official_list(*, user) -> QuerySet[GroupOfficial]:
    return GroupOfficial.objects.filter(group_id__in=active_group_ids(user)).select_related("membership__user", "group")


def invitation_list(*, user) -> QuerySet[GroupInvitation]:
    """Officials see their groups' invitations; anyone sees invitations sent to their own phone number."""
    return GroupInvitation.objects.filter(
        Q(group_id__in=official_group_ids(user)) | Q(phone_number=user.phone_number)
    ).select_related("group", "invited_by")


def goal_list(*, user) -> QuerySet[GroupGoal]:
    return GroupGoal.objects.filter(group_id__in=active_group_ids(user)).select_related("group")


def message_list(*, user) -> QuerySet[GroupMessage]:
    return GroupMessage.objects.filter(group_id__in=active_group_ids(user)).select_related("user", "group")


def active_member_user_ids(*, group_id: int) -> list[int]:
    return list(
        Membership.objects.filter(group_id=group_id, status=MembershipStatus.ACTIVE).values_list("user_id", flat=True)
    )


def active_chairperson_ids(*, group_id: int) -> list[int]:
    """Ids of the group's ACTIVE memberships holding the CHAIRPERSON role."""
    return list(
        Membership.objects.filter(group_id=group_id, role=Role.CHAIRPERSON, status=MembershipStatus.ACTIVE).values_list(
            "id", flat=True
        )
    )


def group_active_goal_list(*, group_id: int) -> list[GroupGoal]:
    """The group's ACTIVE goals, with progress attached."""
    goals = list(GroupGoal.objects.filter(group_id=group_id, status=GoalStatus.ACTIVE).order_by("target_date", "id"))
    return goal_progress_attach(goals)


# ---------------------------------------------------------------------------------------------------------------
# Figures from higher layers (finance, investments) through providers: ONE call per request for a whole page.
# ---------------------------------------------------------------------------------------------------------------

FINANCIAL_FIGURES = (
    "total_balance",
    "total_savings",
    "total_contributions",
    "total_loans_outstanding",
    "total_fines_outstanding",
)


def _money_or_zero(value) -> Decimal:
    if value is None:
        return ZERO
    try:
        return to_money(value if not isinstance(value, float) else str(value))
    except (TypeError, ValueError):
        return ZERO


def group_figures_attach(groups: Iterable[ChamaGroup], *, investments: bool = False) -> list[ChamaGroup]:
    """
    Attach finance's figures (total_balance = cash, total_savings, total_contributions, total_loans_outstanding,
    total_fines_outstanding) and optionally investments' total_investments to each group, as attributes.
    One provider call each for all the groups; a missing provider or group gives 0.00.
    """
    groups = list(groups)
    ids = [g.id for g in groups]
    financial = (extensions.call("group.financial_summary", group_ids=ids, default={}) or {}) if ids else {}
    invested = {}
    if investments and ids:
        invested = extensions.call("group.investments_summary", group_ids=ids, default={}) or {}
    for group in groups:
        figures = financial.get(group.id) or {}
        for name in FINANCIAL_FIGURES:
            setattr(group, name, _money_or_zero(figures.get(name)))
        if investments:
            group.total_investments = _money_or_zero((invested.get(group.id) or {}).get("total_investments"))
    return groups


def goal_progress_attach(goals: Iterable[GroupGoal]) -> list[GroupGoal]:
    """
    Attach current_amount (net savings contributed to the group between start_date and target_date, from the
    ledger via finance's `group.goal_progress` provider) and progress_percent (0-100, 2 dp). One provider call.
    """
    goals = list(goals)
    windows = [(g.id, g.group_id, g.start_date, g.target_date) for g in goals]
    progress = (extensions.call("group.goal_progress", windows=windows, default={}) or {}) if windows else {}
    for goal in goals:
        current = _money_or_zero(progress.get(goal.id))
        goal.current_amount = current
        if goal.target_amount and goal.target_amount > 0:
            percent = (max(current, ZERO) * 100 / goal.target_amount).quantize(Decimal("0.01"), ROUND_HALF_UP)
            goal.progress_percent = min(percent, Decimal("100.00"))
        else:
            goal.progress_percent = Decimal("0.00")
    return goals


def membership_contributions_attach(memberships: Iterable[Membership]) -> list[Membership]:
    """
    Attach total_contributions (the member's confirmed contributions in that group, a figure the first web
    client reads) via finance's optional `group.member_contributions` provider:
    group_ids=[...] -> {group_id: {user_id: Decimal}}. One call; 0.00 when absent.
    """
    memberships = list(memberships)
    ids = sorted({m.group_id for m in memberships})
    totals = (extensions.call("group.member_contributions", group_ids=ids, default={}) or {}) if ids else {}
    for membership in memberships:
        membership.total_contributions = _money_or_zero((totals.get(membership.group_id) or {}).get(membership.user_id))
    return memberships
