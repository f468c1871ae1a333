"""Groups: creation (the creator becomes chairperson), settings, deactivation."""

from __future__ import annotations

import secrets
import string
from datetime import date

from django.db import transaction
from django.utils import timezone

from chamahub import events
from chamahub.exceptions import PermissionDenied, ValidationFailed
from groups.choices import Role
from groups.models import ChamaGroup, GroupOfficial
from groups.selectors import (
    membership_require,
    official_require,
)
from groups.services.guards import group_lock, require_group_active
from groups.services.memberships import membership_activate

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
    # membership_activate records the chairperson's first term of office.
    membership_activate(group=group, user=creator, role=Role.CHAIRPERSON)
    GroupOfficial.objects.filter(group=group, is_current=True).update(appointed_by=creator)
    events.publish("group.created", {"group_id": group.id, "created_by": creator.id}, group_id=group.id)
    return group


GROUP_SETTINGS = frozenset(
    {
        "name",
        "description",
        "objectives",
        "group_type",
        "contribution_amount",
        "contribution_frequency",
        "cycle_start_date",
        "late_fine_amount",
        "late_fine_grace_days",
        "loan_interest_rate",
        "loan_interest_method",
        "loan_processing_fee",
        "max_loan_multiple",
        "required_approvals",
    }
)


@transaction.atomic
def group_update(*, actor, group: ChamaGroup, **fields) -> ChamaGroup:
    """An official changes the group's settings and rules."""
    official_require(actor, group.id)
    unknown = set(fields) - GROUP_SETTINGS
    if unknown:
        raise ValidationFailed(
            "These fields cannot be changed.", fields={name: ["This field cannot be changed."] for name in unknown}
        )
    group = group_lock(group.id)
    require_group_active(group)
    changed = sorted(name for name, value in fields.items() if getattr(group, name) != value)
    for name, value in fields.items():
        setattr(group, name, value)
    group.full_clean()
    group.save()
    if changed:
        events.publish(
            "group.updated", {"group_id": group.id, "changed": changed, "updated_by": actor.pk}, group_id=group.id
        )
    return group


@transaction.atomic
def group_deactivate(*, actor, group: ChamaGroup) -> ChamaGroup:
    """The chairperson closes the group: it stays readable to its members but is marked inactive."""
    membership = membership_require(actor, group.id)
    if membership.role != Role.CHAIRPERSON:
        raise PermissionDenied("Only the chairperson may deactivate the group.")
    group = group_lock(group.id)
    if group.is_active:
        group.is_active = False
        group.save(update_fields=["is_active", "updated_at"])
        events.publish("group.deactivated", {"group_id": group.id, "deactivated_by": actor.pk}, group_id=group.id)
    return group
