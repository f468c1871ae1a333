"""The admin lists every investments model with its search and filters."""

from __future__ import annotations

import pytest

from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", ["portfolio", "investment", "stockholding", "investmenttransaction"])
def test_admin_changelist_renders_with_search_and_filters(world, client, model):
    world.create_investment()
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    response = client.get(f"/admin/investments/{model}/", {"q": "fund"})
    assert response.status_code == 200
    assert client.get(f"/admin/investments/{model}/add/").status_code == (
        403 if model == "investmenttransaction" else 200
    )
