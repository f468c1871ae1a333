"""Group messages."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from chamahub import events
from chamahub.exceptions import PermissionDenied, ValidationFailed
from groups.choices import OFFICIAL_ROLES
from groups.models import GroupMessage
from groups.selectors import (
    membership_require,
)


def _content_clean(content: str) -> str:
    content = (content or "").strip()
    if not content:
        raise ValidationFailed("The message is empty.", fields={"content": ["The message is empty."]})
    return content


@transaction.atomic
def message_post(*, actor, group_id: int, content: str) -> GroupMessage:
    membership = membership_require(actor, group_id, field="group")
    message = GroupMessage(group_id=membership.group_id, user=actor, content=_content_clean(content))
    message.full_clean()
    message.save()
    events.publish(
        "message.posted",
        {"group_id": message.group_id, "message_id": message.id, "user_id": actor.pk},
        group_id=message.group_id,
    )
    return message


@transaction.atomic
def message_edit(*, actor, message: GroupMessage, content: str) -> GroupMessage:
    membership_require(actor, message.group_id)
    if message.user_id != actor.pk:
        raise PermissionDenied("Only the sender may edit a message.")
    message.content = _content_clean(content)
    message.is_edited = True
    message.edited_at = timezone.now()
    message.save(update_fields=["content", "is_edited", "edited_at", "updated_at"])
    return message


@transaction.atomic
def message_delete(*, actor, message: GroupMessage) -> None:
    membership = membership_require(actor, message.group_id)
    if message.user_id != actor.pk and membership.role not in OFFICIAL_ROLES:
        raise PermissionDenied("Only the sender or an official may delete a message.")
    message.delete()
