"""Fixtures for the investments tests: a funded group with a chair, a treasurer, a member, and an outsider."""

from __future__ import annotations

import pytest

from accounts.tests.factories import UserFactory
from groups.choices import Role
from groups.tests.factories import add_member, chair_of, make_group
from investments.tests.factories import World, fund


@pytest.fixture
def world(db, make_client) -> World:
    group = make_group()
    chair = chair_of(group)
    treasurer = add_member(group, role=Role.TREASURER).user
    member = add_member(group).user
    outsider = UserFactory()
    other_group = make_group(chair=outsider)
    fund(group, member, "1000000.00")
    fund(other_group, outsider, "1000000.00")
    return World(group, chair, treasurer, member, outsider, other_group, make_client)
