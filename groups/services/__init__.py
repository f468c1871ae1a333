"""
Writes for groups, one module per area; import from `groups.services` (the names below are the contract).

Every service is keyword-only and atomic, checks the caller's rights (404 outside the group, 403 for a plain
member on an official's action), validates before writing and publishes its domain events.
"""

from groups.services.goals import goal_create, goal_delete, goal_mark_achieved, goal_update
from groups.services.groups import group_create, group_deactivate, group_update
from groups.services.invitations import (
    INVITATION_TTL,
    invitation_accept,
    invitation_create,
    invitation_decline,
    invitation_revoke,
)
from groups.services.memberships import (
    membership_accept,
    membership_activate,
    membership_decline,
    membership_exit,
    membership_invite,
    membership_reinstate,
    membership_role_change,
    membership_suspend,
)
from groups.services.messages import message_delete, message_edit, message_post
from groups.services.officials import official_appoint

__all__ = [
    "INVITATION_TTL",
    "goal_create",
    "goal_delete",
    "goal_mark_achieved",
    "goal_update",
    "group_create",
    "group_deactivate",
    "group_update",
    "invitation_accept",
    "invitation_create",
    "invitation_decline",
    "invitation_revoke",
    "membership_accept",
    "membership_activate",
    "membership_decline",
    "membership_exit",
    "membership_invite",
    "membership_reinstate",
    "membership_role_change",
    "membership_suspend",
    "message_delete",
    "message_edit",
    "message_post",
    "official_appoint",
]
