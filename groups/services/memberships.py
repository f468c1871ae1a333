"""Membership lifecycle: activate (join), invite, accept/decline, suspend/reinstate, exit, role change."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from chamahub import events
from chamahub.exceptions import Conflict, PermissionDenied, ValidationFailed
from groups.choices import OFFICIAL_ROLES, MembershipStatus, Role
from groups.models import ChamaGroup, GroupOfficial, Membership
from groups.selectors import (
    membership_require,
    memberships_cache_clear,
    official_require,
)
from groups.services.guards import (
    chairperson_guard,
    group_lock,
    last_chairperson_guard,
    membership_leave_office,
    require_group_active,
    require_not_self,
    role_assign,
)


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
    if (
        membership.role in OFFICIAL_ROLES
        and not GroupOfficial.objects.filter(group_id=group.id, position=membership.role, is_current=True).exists()
    ):
        GroupOfficial.objects.create(
            group=group,
            membership=membership,
            position=membership.role,
            term_start=timezone.localdate(),
            appointed_by=invited_by,
        )
    memberships_cache_clear(user)
    events.publish(
        "member.joined",
        {"group_id": group.id, "user_id": user.id, "membership_id": membership.id, "role": membership.role},
        group_id=group.id,
    )
    return membership


@transaction.atomic
def membership_invite(*, actor, group_id: int, user_id: int, role: str = Role.MEMBER) -> Membership:
    """An official invites an existing user: a membership with status INVITED and the next member number."""
    actor_membership = official_require(actor, group_id, field="group")
    chairperson_guard(actor_membership, role=role)
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise ValidationFailed("No such user.", fields={"user": ["No such user."]})
    group = group_lock(actor_membership.group_id)
    require_group_active(group)
    existing = Membership.objects.select_for_update().filter(group=group, user=user).first()
    if existing is not None:
        if existing.status == MembershipStatus.ACTIVE:
            raise Conflict(
                "Already a member of this group.",
                fields={"user": ["Already a member of this group."]},
                code="already_member",
            )
        if existing.status == MembershipStatus.INVITED:
            raise Conflict(
                "This user has already been invited.",
                fields={"user": ["This user has already been invited."]},
                code="already_invited",
            )
        if existing.status == MembershipStatus.SUSPENDED:
            raise Conflict(
                "This membership is suspended; reinstate it instead.",
                fields={"user": ["Membership suspended."]},
                code="suspended",
            )
        existing.status = MembershipStatus.INVITED
        existing.role = role
        existing.invited_by = actor
        existing.exited_at = None
        existing.full_clean()
        existing.save()
        membership = existing
    else:
        membership = Membership(
            group=group,
            user=user,
            role=role,
            status=MembershipStatus.INVITED,
            member_number=_next_member_number(group.id),
            invited_by=actor,
        )
        membership.full_clean(validate_constraints=False)
        membership.save()
    events.publish(
        "invitation.sent",
        {
            "kind": "membership",
            "group_id": group.id,
            "membership_id": membership.id,
            "user_id": user.pk,
            "role": role,
            "invited_by": actor.pk,
        },
        group_id=group.id,
    )
    return membership


def _invitee_require(actor, membership: Membership) -> None:
    if membership.user_id != actor.pk:
        raise PermissionDenied("Only the invited person may answer this invitation.")
    if membership.status != MembershipStatus.INVITED:
        raise Conflict("This invitation has already been answered.", code="not_invited")


@transaction.atomic
def membership_accept(*, actor, membership: Membership) -> Membership:
    """The invitee accepts: the membership becomes ACTIVE (member.joined); an invited official role is taken up."""
    _invitee_require(actor, membership)
    group = group_lock(membership.group_id)
    require_group_active(group)
    role = membership.role
    membership = membership_activate(group=group, user=actor, role=Role.MEMBER, invited_by=membership.invited_by)
    if role in OFFICIAL_ROLES:
        role_assign(membership=membership, role=role, actor=membership.invited_by)
    return membership


@transaction.atomic
def membership_decline(*, actor, membership: Membership) -> Membership:
    """The invitee declines: the membership is closed (EXITED)."""
    _invitee_require(actor, membership)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    membership.status = MembershipStatus.EXITED
    membership.exited_at = timezone.now()
    membership.save(update_fields=["status", "exited_at", "updated_at"])
    events.publish(
        "invitation.declined",
        {"kind": "membership", "group_id": membership.group_id, "membership_id": membership.id},
        group_id=membership.group_id,
    )
    return membership


@transaction.atomic
def membership_suspend(*, actor, membership: Membership) -> Membership:
    """An official suspends an active member (not themselves). The member loses access and any office."""
    actor_membership = official_require(actor, membership.group_id)
    require_not_self(actor, membership, "You cannot suspend yourself.")
    group_lock(membership.group_id)
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    chairperson_guard(actor_membership, target=membership)
    if membership.status != MembershipStatus.ACTIVE:
        raise Conflict("Only an active membership can be suspended.", code="not_active")
    last_chairperson_guard(membership)
    old_role = membership.role
    membership_leave_office(membership)
    membership.status = MembershipStatus.SUSPENDED
    membership.save(update_fields=["status", "role", "updated_at"])
    memberships_cache_clear(membership.user)
    events.publish(
        "member.suspended",
        {
            "group_id": membership.group_id,
            "membership_id": membership.id,
            "user_id": membership.user_id,
            "old_role": old_role,
            "suspended_by": actor.pk,
        },
        group_id=membership.group_id,
    )
    return membership


@transaction.atomic
def membership_reinstate(*, actor, membership: Membership) -> Membership:
    """An official reinstates a suspended member (as a plain MEMBER)."""
    official_require(actor, membership.group_id)
    require_not_self(actor, membership, "You cannot reinstate yourself.")
    group_lock(membership.group_id)
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    if membership.status != MembershipStatus.SUSPENDED:
        raise Conflict("Only a suspended membership can be reinstated.", code="not_suspended")
    now = timezone.now()
    membership.status = MembershipStatus.ACTIVE
    membership.approved_at = now
    membership.save(update_fields=["status", "approved_at", "updated_at"])
    memberships_cache_clear(membership.user)
    events.publish(
        "member.reinstated",
        {
            "group_id": membership.group_id,
            "membership_id": membership.id,
            "user_id": membership.user_id,
            "reinstated_by": actor.pk,
        },
        group_id=membership.group_id,
    )
    return membership


@transaction.atomic
def membership_exit(*, actor, membership: Membership) -> Membership:
    """
    A member leaves, or an official removes a member (or withdraws an invitation). Status EXITED, exited_at now.
    The last active chairperson cannot leave.
    """
    if membership.user_id == actor.pk:
        membership_require(actor, membership.group_id)
    else:
        actor_membership = official_require(actor, membership.group_id)
        chairperson_guard(actor_membership, target=membership)
    group_lock(membership.group_id)
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    if membership.status == MembershipStatus.EXITED:
        raise Conflict("This membership has already ended.", code="already_exited")
    last_chairperson_guard(membership)
    old_role = membership.role
    membership_leave_office(membership)
    membership.status = MembershipStatus.EXITED
    membership.exited_at = timezone.now()
    membership.save(update_fields=["status", "role", "exited_at", "updated_at"])
    memberships_cache_clear(membership.user)
    events.publish(
        "member.exited",
        {
            "group_id": membership.group_id,
            "membership_id": membership.id,
            "user_id": membership.user_id,
            "old_role": old_role,
            "removed_by": None if membership.user_id == actor.pk else actor.pk,
        },
        group_id=membership.group_id,
    )
    return membership


@transaction.atomic
def membership_role_change(*, actor, membership: Membership, role: str) -> Membership:
    """An official changes another member's role. Nobody changes their own role; a chairperson must remain."""
    actor_membership = official_require(actor, membership.group_id)
    require_not_self(actor, membership, "You cannot change your own role.")
    if role not in Role.values:
        raise ValidationFailed("Not a valid role.", fields={"role": ["Not a valid role."]})
    group_lock(membership.group_id)
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    chairperson_guard(actor_membership, target=membership, role=role)
    if membership.status != MembershipStatus.ACTIVE:
        raise Conflict("Only an active member's role can be changed.", code="not_active")
    role_assign(membership=membership, role=role, actor=actor)
    return membership
