"""Fixtures for the groups API tests."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from accounts.tests.factories import UserFactory
from chamahub import extensions
from chamahub.models import OutboxEvent
from groups.choices import Role
from groups.tests.factories import add_member, chair_of, make_group

BASE = "/api/v1/groups"


@pytest.fixture
def group(db):
    return make_group(name="Umoja Chama")


@pytest.fixture
def chair(group):
    return chair_of(group)


@pytest.fixture
def treasurer(group):
    return add_member(group, role=Role.TREASURER).user


@pytest.fixture
def member(group):
    return add_member(group).user


@pytest.fixture
def outsider(db):
    """An active member (and chairperson) of ANOTHER group."""
    other = make_group(name="Other Chama")
    return chair_of(other)


@pytest.fixture
def other_group(outsider):
    return outsider.memberships.get().group


@pytest.fixture
def stranger(db):
    """A user with no group at all."""
    return UserFactory()


class ProviderSpy:
    """A fake provider that records its calls."""

    def __init__(self, result: Callable[..., dict]):
        self.result = result
        self.calls: list[dict] = []

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        return self.result(**kwargs)


@pytest.fixture
def fake_provider():
    """Register fake providers by name for one test; the previous registrations are restored afterwards."""
    saved: dict[str, object] = {}

    def register(name: str, result: Callable[..., dict]) -> ProviderSpy:
        if name not in saved:
            saved[name] = extensions._providers.get(name)
        spy = ProviderSpy(result)
        extensions.provides(name)(spy)
        return spy

    yield register
    for name, previous in saved.items():
        if previous is None:
            extensions._providers.pop(name, None)
        else:
            extensions._providers[name] = previous


@pytest.fixture
def financial_summary(fake_provider):
    def result(*, group_ids):
        return {
            gid: {
                "total_balance": Decimal("1500.50"),
                "total_savings": Decimal("1200.00"),
                "total_contributions": Decimal("1300.00"),
                "total_loans_outstanding": Decimal("400.00"),
                "total_fines_outstanding": Decimal("50.00"),
            }
            for gid in group_ids
        }

    return fake_provider("group.financial_summary", result)


def event_names(group_id=None) -> list[str]:
    events = OutboxEvent.objects.order_by("id")
    if group_id is not None:
        events = events.filter(group_id=group_id)
    return list(events.values_list("name", flat=True))
