"""Group goals (progress is computed from the ledger, never stored)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from chamahub import events
from chamahub.exceptions import Conflict, ValidationFailed
from groups.choices import GoalStatus
from groups.models import GroupGoal
from groups.selectors import (
    official_require,
)


def _goal_validate(goal: GroupGoal) -> None:
    errors: dict[str, list[str]] = {}
    if goal.target_amount is None or goal.target_amount <= 0:
        errors["target_amount"] = ["The target must be greater than zero."]
    if goal.start_date and goal.target_date and goal.target_date <= goal.start_date:
        errors["target_date"] = ["The target date must be after the start date."]
    if errors:
        raise ValidationFailed("Invalid goal.", fields=errors)


@transaction.atomic
def goal_create(
    *,
    actor,
    group_id: int,
    title: str,
    target_amount: Decimal,
    target_date: date,
    description: str = "",
    start_date: date | None = None,
) -> GroupGoal:
    membership = official_require(actor, group_id, field="group")
    goal = GroupGoal(
        group_id=membership.group_id,
        title=title,
        description=description,
        target_amount=target_amount,
        start_date=start_date or timezone.localdate(),
        target_date=target_date,
        created_by=actor,
    )
    _goal_validate(goal)
    goal.full_clean()
    goal.save()
    events.publish("goal.created", {"group_id": goal.group_id, "goal_id": goal.id}, group_id=goal.group_id)
    return goal


GOAL_FIELDS = frozenset({"title", "description", "target_amount", "start_date", "target_date"})


@transaction.atomic
def goal_update(*, actor, goal: GroupGoal, **fields) -> GroupGoal:
    official_require(actor, goal.group_id)
    unknown = set(fields) - GOAL_FIELDS
    if unknown:
        raise ValidationFailed(
            "These fields cannot be changed.", fields={name: ["This field cannot be changed."] for name in unknown}
        )
    goal = GroupGoal.objects.select_for_update().get(pk=goal.pk)
    for name, value in fields.items():
        setattr(goal, name, value)
    _goal_validate(goal)
    goal.full_clean()
    goal.save()
    return goal


@transaction.atomic
def goal_delete(*, actor, goal: GroupGoal) -> None:
    official_require(actor, goal.group_id)
    events.publish("goal.deleted", {"group_id": goal.group_id, "goal_id": goal.id}, group_id=goal.group_id)
    goal.delete()


@transaction.atomic
def goal_mark_achieved(*, actor, goal: GroupGoal) -> GroupGoal:
    official_require(actor, goal.group_id)
    goal = GroupGoal.objects.select_for_update().get(pk=goal.pk)
    if goal.status != GoalStatus.ACTIVE:
        raise Conflict("Only an active goal can be marked achieved.", code="goal_not_active")
    goal.status = GoalStatus.ACHIEVED
    goal.achieved_at = timezone.now()
    goal.save(update_fields=["status", "achieved_at", "updated_at"])
    events.publish(
        "goal.achieved",
        {"group_id": goal.group_id, "goal_id": goal.id, "marked_by": actor.pk},
        group_id=goal.group_id,
    )
    return goal
