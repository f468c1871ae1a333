"""Writes for groups: creation, membership lifecycle, invitations, officials, goals, messages."""

from __future__ import annotations

import secrets
import string
from datetime import date

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from chamahub import events
from chamahub.exceptions import Conflict
from groups.choices import MembershipStatus, OfficialPosition, Role
from groups.models import ChamaGroup, GroupOfficial, Membership
from groups.selectors import memberships_cache_clear

_CODE_ALPHABET = string.ascii_uppercase + string.digits


def _new_group_code() -> str:
    while True:
        code = "CH" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(5))
        if not ChamaGroup.objects.filter(code=code).exists():
            return code


@transaction.atomic
def group_create(*, creator, name: str, cycle_start_date: date | None = None, **fields) -> ChamaGroup:
    """Create a group; the creator becomes its chairperson (member number 1)."""
    group = ChamaGroup(
        name=name,
        code=fields.pop("code", None) or _new_group_code(),
        cycle_start_date=cycle_start_date or timezone.localdate().replace(day=1),
        created_by=creator,
        **fields,
    )
    group.full_clean()
    group.save()
    membership = membership_activate(group=group, user=creator, role=Role.CHAIRPERSON)
    GroupOfficial.objects.create(
        group=group,
        membership=membership,
        position=OfficialPosition.CHAIRPERSON,
        term_start=timezone.localdate(),
        appointed_by=creator,
    )
    events.publish("group.created", {"group_id": group.id, "created_by": creator.id}, group_id=group.id)
    return group


def _next_member_number(group_id: int) -> int:
    current = Membership.objects.filter(group_id=group_id).aggregate(m=Max("member_number"))["m"]
    return (current or 0) + 1


@transaction.atomic
def membership_activate(
    *, group: ChamaGroup, user, role: str = Role.MEMBER, invited_by=None, joined_at=None
) -> Membership:
    """
    Make `user` an ACTIVE member of `group` (new membership, or an INVITED/EXITED one reactivated).
    Joining twice answers Conflict. Publishes member.joined.
    """
    existing = Membership.objects.select_for_update().filter(group=group, user=user).first()
    now = joined_at or timezone.now()
    if existing is not None:
        if existing.status == MembershipStatus.ACTIVE:
            raise Conflict(
                "Already a member of this group.",
                fields={"user": ["Already a member of this group."]},
                code="already_member",
            )
        if existing.status == MembershipStatus.SUSPENDED:
            raise Conflict("This membership is suspended; an official must reinstate it.", code="suspended")
        existing.status = MembershipStatus.ACTIVE
        existing.role = role
        existing.joined_at = now
        existing.approved_at = now
        existing.exited_at = None
        existing.save()
        membership = existing
    else:
        for _ in range(5):
            try:
                with transaction.atomic():
                    membership = Membership.objects.create(
                        group=group,
                        user=user,
                        role=role,
                        status=MembershipStatus.ACTIVE,
                        member_number=_next_member_number(group.id),
                        joined_at=now,
                        approved_at=now,
                        invited_by=invited_by,
                    )
                break
            except IntegrityError as exc:
                if Membership.objects.filter(group=group, user=user).exists():
                    raise Conflict("Already a member of this group.", code="already_member") from exc
        else:  # pragma: no cover - five concurrent joins in a row
            raise Conflict("Could not allocate a member number; try again.")
    memberships_cache_clear(user)
    events.publish(
        "member.joined",
        {"group_id": group.id, "user_id": user.id, "membership_id": membership.id, "role": membership.role},
        group_id=group.id,
    )
    return membership
