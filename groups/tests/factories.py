from __future__ import annotations

from decimal import Decimal

import factory

from accounts.tests.factories import UserFactory
from groups.choices import Role
from groups.models import ChamaGroup, Membership
from groups.services import group_create, membership_activate


def make_group(*, chair=None, **fields) -> ChamaGroup:
    """A group through the real service (chair membership, officials, events)."""
    chair = chair or UserFactory()
    fields.setdefault("name", f"Chama {factory.Faker('word').evaluate(None, None, {'locale': None})}")
    fields.setdefault("contribution_amount", Decimal("1000.00"))
    fields.setdefault("late_fine_amount", Decimal("100.00"))
    return group_create(creator=chair, **fields)


def add_member(group: ChamaGroup, user=None, role: str = Role.MEMBER) -> Membership:
    return membership_activate(group=group, user=user or UserFactory(), role=role)


def chair_of(group: ChamaGroup):
    return Membership.objects.get(group=group, role=Role.CHAIRPERSON).user
