"""Officials: appointments; terms of office follow the roles."""

from __future__ import annotations

from django.db import transaction

from chamahub.exceptions import Conflict, NotFound, ValidationFailed
from groups.choices import MembershipStatus, OfficialPosition
from groups.models import GroupOfficial, Membership
from groups.selectors import (
    active_group_ids,
    official_require,
)
from groups.services.guards import chairperson_guard, group_lock, require_not_self, role_assign


@transaction.atomic
def official_appoint(*, actor, membership_id: int, position: str) -> GroupOfficial:
    """
    An official appoints an active member to a position. The previous holder's term ends and their role
    becomes MEMBER; the appointee's role becomes the position. Nobody appoints themselves.
    """
    if position not in OfficialPosition.values:
        raise ValidationFailed("Not a valid position.", fields={"position": ["Not a valid position."]})
    membership = (
        Membership.objects.filter(pk=membership_id, group_id__in=active_group_ids(actor)).select_related("user").first()
    )
    if membership is None:
        raise NotFound("Membership not found.", fields={"membership": ["Membership not found."]})
    actor_membership = official_require(actor, membership.group_id)
    require_not_self(actor, membership, "You cannot appoint yourself.")
    group_lock(membership.group_id)
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    chairperson_guard(actor_membership, target=membership, role=position)
    if membership.status != MembershipStatus.ACTIVE:
        raise Conflict(
            "Only an active member can be appointed.",
            fields={"membership": ["Not an active member."]},
            code="not_active",
        )
    if membership.role == position:
        raise Conflict(
            "This member already holds that position.",
            fields={"position": ["Already holds this position."]},
            code="already_holds_position",
        )
    term = role_assign(membership=membership, role=position, actor=actor)
    if term is None:  # pragma: no cover - an official position always starts a term
        raise Conflict("Could not start the term of office.")
    return term
