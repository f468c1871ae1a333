"""Invitations by phone number (the person may not have an account yet); they expire after 14 days."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.services import InvalidPhoneNumber, normalize_phone
from chamahub import events
from chamahub.exceptions import Conflict, PermissionDenied, ValidationFailed
from groups.choices import OFFICIAL_ROLES, InvitationStatus, MembershipStatus, Role
from groups.models import GroupInvitation, Membership
from groups.selectors import (
    official_require,
)
from groups.services.guards import chairperson_guard, group_lock, require_group_active, role_assign
from groups.services.memberships import membership_activate

INVITATION_TTL = timedelta(days=14)


def _phone_normalize(raw: str) -> str:
    try:
        return normalize_phone(raw)
    except InvalidPhoneNumber as exc:
        raise ValidationFailed(str(exc), fields={"phone_number": [str(exc)]}, code="invalid_phone") from exc


@transaction.atomic
def invitation_create(*, actor, group_id: int, phone_number: str, role: str = Role.MEMBER) -> GroupInvitation:
    """An official invites a phone number (the person may not have an account yet). Expires after 14 days."""
    actor_membership = official_require(actor, group_id, field="group")
    chairperson_guard(actor_membership, role=role)
    phone = _phone_normalize(phone_number)
    group = group_lock(actor_membership.group_id)
    require_group_active(group)
    blocking = Membership.objects.filter(
        group=group, user__phone_number=phone, status__in=[MembershipStatus.ACTIVE, MembershipStatus.SUSPENDED]
    ).first()
    if blocking is not None:
        raise Conflict(
            "This person is already a member of the group.",
            fields={"phone_number": ["Already a member of this group."]},
            code="already_member",
        )
    now = timezone.now()
    pending = GroupInvitation.objects.select_for_update().filter(
        group=group, phone_number=phone, status=InvitationStatus.PENDING
    )
    stale = [inv.pk for inv in pending if inv.expires_at <= now]
    if len(stale) != len(pending):
        raise Conflict(
            "This phone number already has a pending invitation.",
            fields={"phone_number": ["A pending invitation exists for this phone number."]},
            code="already_invited",
        )
    invitation = GroupInvitation(
        group=group, phone_number=phone, role=role, invited_by=actor, expires_at=now + INVITATION_TTL
    )
    invitation.full_clean(validate_constraints=False)
    if stale:
        GroupInvitation.objects.filter(pk__in=stale).update(status=InvitationStatus.EXPIRED, updated_at=now)
    invitation.save()
    events.publish(
        "invitation.sent",
        {
            "kind": "phone",
            "group_id": group.id,
            "invitation_id": invitation.id,
            "phone_number": phone,
            "role": role,
            "invited_by": actor.pk,
        },
        group_id=group.id,
    )
    return invitation


def _addressee_require(actor, invitation: GroupInvitation) -> None:
    if invitation.phone_number != getattr(actor, "phone_number", None):
        raise PermissionDenied("Only the person invited may answer this invitation.")
    if invitation.status != InvitationStatus.PENDING:
        raise Conflict("This invitation is no longer pending.", code="not_pending")


@transaction.atomic
def invitation_accept(*, actor, invitation: GroupInvitation) -> Membership:
    """The invited person (matched by phone number) joins the group. 409 once expired."""
    _addressee_require(actor, invitation)
    invitation = GroupInvitation.objects.select_for_update().get(pk=invitation.pk)
    _addressee_require(actor, invitation)
    if invitation.expires_at <= timezone.now():
        raise Conflict("This invitation has expired.", code="invitation_expired")
    group = group_lock(invitation.group_id)
    require_group_active(group)
    membership = membership_activate(group=group, user=actor, role=Role.MEMBER, invited_by=invitation.invited_by)
    if invitation.role in OFFICIAL_ROLES:
        role_assign(membership=membership, role=invitation.role, actor=invitation.invited_by)
    invitation.status = InvitationStatus.ACCEPTED
    invitation.responded_at = timezone.now()
    invitation.save(update_fields=["status", "responded_at", "updated_at"])
    return membership


@transaction.atomic
def invitation_decline(*, actor, invitation: GroupInvitation) -> GroupInvitation:
    _addressee_require(actor, invitation)
    invitation = GroupInvitation.objects.select_for_update().get(pk=invitation.pk)
    _addressee_require(actor, invitation)
    invitation.status = InvitationStatus.DECLINED
    invitation.responded_at = timezone.now()
    invitation.save(update_fields=["status", "responded_at", "updated_at"])
    events.publish(
        "invitation.declined",
        {"kind": "phone", "group_id": invitation.group_id, "invitation_id": invitation.id},
        group_id=invitation.group_id,
    )
    return invitation


@transaction.atomic
def invitation_revoke(*, actor, invitation: GroupInvitation) -> GroupInvitation:
    official_require(actor, invitation.group_id)
    invitation = GroupInvitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status != InvitationStatus.PENDING:
        raise Conflict("Only a pending invitation can be revoked.", code="not_pending")
    invitation.status = InvitationStatus.REVOKED
    invitation.save(update_fields=["status", "updated_at"])
    events.publish(
        "invitation.revoked",
        {"group_id": invitation.group_id, "invitation_id": invitation.id, "revoked_by": actor.pk},
        group_id=invitation.group_id,
    )
    return invitation
