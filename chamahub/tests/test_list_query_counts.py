"""
Query-count guard for every list endpoint (issue #2, section 11): the number of SQL queries of a list
does not grow with the number of rows returned. Every list route is discovered from the URL resolver and
called by a chairperson of a seeded demo chama at two page sizes; the counts must be equal.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chamahub.tests.support import api_routes
from groups.choices import Role
from groups.models import ChamaGroup, Membership

pytestmark = pytest.mark.django_db

SMALL, LARGE = 1, 12


def _count(client, path: str, params: dict) -> tuple[int, int]:
    cache.clear()  # a cached page total would hide the COUNT query of one of the two calls
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, params)
    assert response.status_code == 200, (path, response.status_code, response.content[:300])
    body = response.json()
    rows = body.get("results", body) if isinstance(body, dict) else body
    return len(ctx.captured_queries), len(rows) if isinstance(rows, list) else 1


def test_every_list_endpoint_has_a_constant_query_count(make_client):
    call_command("seed_demo", stdout=StringIO())
    group = ChamaGroup.objects.get(code="DEMOTUJ")
    chair = Membership.objects.get(group=group, role=Role.CHAIRPERSON).user
    client = make_client(chair)
    checked, grew, thin = 0, [], []
    for name, path, actions, detail in api_routes():
        if detail or actions.get("get") != "list":
            continue
        params = {"group": group.id} if "wallet" not in name and "user" not in name else {}
        small, small_rows = _count(client, path, {**params, "page_size": SMALL})
        large, large_rows = _count(client, path, {**params, "page_size": LARGE})
        checked += 1
        if small != large:
            grew.append(f"{name}: {small} queries for {small_rows} rows, {large} for {large_rows}")
        if large_rows <= SMALL:
            thin.append(name)
    assert checked >= 20
    assert not grew, "\n".join(grew)
    # Most lists must really return more rows at the larger page size for the check to mean anything; the few
    # the demo keeps small (one wallet, one group, one portfolio...) have their own 5-vs-25-row tests per app.
    assert len(thin) <= checked // 2, f"too few rows to compare: {thin}"
