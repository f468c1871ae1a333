"""Shared guards for group services: locks, chairperson rules, officials' terms kept in step with roles."""

from __future__ import annotations

from django.utils import timezone

from chamahub import events
from chamahub.exceptions import Conflict, PermissionDenied
from groups.choices import OFFICIAL_ROLES, MembershipStatus, Role
from groups.models import ChamaGroup, GroupOfficial, Membership
from groups.selectors import (
    active_chairperson_ids,
    memberships_cache_clear,
)


def group_lock(group_id: int) -> ChamaGroup:
    """Lock the group row: role and status changes of one group are serialised (chairperson invariant)."""
    return ChamaGroup.objects.select_for_update().get(pk=group_id)


def require_group_active(group: ChamaGroup) -> None:
    if not group.is_active:
        raise Conflict("This group has been deactivated.", code="group_inactive")


def require_not_self(actor, membership: Membership, message: str) -> None:
    if membership.user_id == actor.pk:
        raise PermissionDenied(message, code="self_action")


def chairperson_guard(actor_membership: Membership, target: Membership | None = None, role: str | None = None):
    """Only the chairperson may hand out the chairperson role or act on a chairperson's membership."""
    touches_chair = role == Role.CHAIRPERSON or (target is not None and target.role == Role.CHAIRPERSON)
    if touches_chair and actor_membership.role != Role.CHAIRPERSON:
        raise PermissionDenied("Only the chairperson may change the chairperson's role or membership.")


def last_chairperson_guard(membership: Membership) -> None:
    """The group must keep at least one ACTIVE chairperson."""
    if membership.role != Role.CHAIRPERSON or membership.status != MembershipStatus.ACTIVE:
        return
    others = [pk for pk in active_chairperson_ids(group_id=membership.group_id) if pk != membership.pk]
    if not others:
        raise Conflict(
            "The group must keep an active chairperson: appoint another chairperson first.",
            code="last_chairperson",
        )


def terms_end(*, group_id: int, membership_ids: list[int] | None = None, position: str | None = None) -> None:
    terms = GroupOfficial.objects.filter(group_id=group_id, is_current=True)
    if membership_ids is not None:
        terms = terms.filter(membership_id__in=membership_ids)
    if position is not None:
        terms = terms.filter(position=position)
    terms.update(is_current=False, term_end=timezone.localdate())


def publish_role_changed(membership: Membership, *, old_role: str, changed_by) -> None:
    events.publish(
        "member.role_changed",
        {
            "group_id": membership.group_id,
            "membership_id": membership.id,
            "user_id": membership.user_id,
            "old_role": old_role,
            "new_role": membership.role,
            "changed_by": getattr(changed_by, "pk", None),
        },
        group_id=membership.group_id,
    )


def role_assign(*, membership: Membership, role: str, actor) -> GroupOfficial | None:
    """
    Give `membership` the role `role`, keeping officials' terms in step:
    - the membership's current term (if any) ends;
    - for an official role, whoever else holds that position loses it (term ends, role becomes MEMBER)
      and a new term starts for `membership`.
    Refuses (409) to leave the group without an active chairperson. Caller holds the group lock.
    """
    old_role = membership.role
    if old_role == role:
        return GroupOfficial.objects.filter(membership=membership, is_current=True).first()
    if old_role == Role.CHAIRPERSON:
        last_chairperson_guard(membership)
    previous_holders: list[Membership] = []
    if role in OFFICIAL_ROLES:
        previous_holders = list(
            Membership.objects.select_for_update()
            .filter(group_id=membership.group_id, role=role, status=MembershipStatus.ACTIVE)
            .exclude(pk=membership.pk)
        )
    # Validated: now write.
    terms_end(group_id=membership.group_id, membership_ids=[membership.pk])
    term = None
    if role in OFFICIAL_ROLES:
        terms_end(group_id=membership.group_id, position=role)
        for holder in previous_holders:
            holder_old = holder.role
            holder.role = Role.MEMBER
            holder.save(update_fields=["role", "updated_at"])
            publish_role_changed(holder, old_role=holder_old, changed_by=actor)
    membership.role = role
    membership.full_clean()
    membership.save(update_fields=["role", "updated_at"])
    if role in OFFICIAL_ROLES:
        term = GroupOfficial(
            group_id=membership.group_id,
            membership=membership,
            position=role,
            term_start=timezone.localdate(),
            appointed_by=actor,
        )
        term.full_clean()
        term.save()
    # The actor may have handed over their own position (e.g. the chairperson appoints a successor).
    memberships_cache_clear(actor)
    publish_role_changed(membership, old_role=old_role, changed_by=actor)
    return term


def membership_leave_office(membership: Membership) -> None:
    """A suspended or exited member holds no office: their term ends and their role becomes MEMBER."""
    terms_end(group_id=membership.group_id, membership_ids=[membership.pk])
    membership.role = Role.MEMBER
