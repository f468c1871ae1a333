"""goals: officials manage them; progress comes from the ledger through one provider call per request."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from groups.choices import GoalStatus
from groups.models import GroupGoal
from groups.tests.conftest import BASE, event_names
from groups.tests.factories import add_member, make_group

pytestmark = pytest.mark.django_db

URL = f"{BASE}/goals/"
PAYLOAD = {"title": "Buy land", "description": "Plot in Kitengela", "target_amount": "100000.00"}


def _goal(group, **fields):
    fields.setdefault("title", "Goal")
    fields.setdefault("target_amount", Decimal("1000.00"))
    fields.setdefault("start_date", date(2025, 1, 1))
    fields.setdefault("target_date", date(2025, 12, 31))
    return GroupGoal.objects.create(group=group, **fields)


def test_official_creates_a_goal_with_default_start(make_client, group, treasurer):
    response = make_client(treasurer).post(URL, {**PAYLOAD, "group": group.id, "target_date": "2099-12-31"})
    assert response.status_code == 201, response.data
    assert response.data["start_date"] == timezone.localdate().isoformat()
    assert response.data["status"] == GoalStatus.ACTIVE
    assert response.data["current_amount"] == "0.00"
    assert response.data["progress_percent"] == "0.00"
    assert response.data["created_by"] == treasurer.id


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"target_amount": "0"}, "target_amount"),
        ({"target_amount": "-10.00"}, "target_amount"),
        ({"target_amount": "10.005"}, "target_amount"),
        ({"start_date": "2025-06-01", "target_date": "2025-06-01"}, "target_date"),
        ({"start_date": "2025-06-01", "target_date": "2025-01-01"}, "target_date"),
        ({"title": ""}, "title"),
    ],
)
def test_bad_goal_is_400_and_writes_nothing(make_client, group, chair, patch, field):
    payload = {**PAYLOAD, "group": group.id, "start_date": "2025-01-01", "target_date": "2026-01-01", **patch}
    response = make_client(chair).post(URL, payload)
    assert response.status_code == 400
    assert field in response.data["fields"]
    assert GroupGoal.objects.count() == 0


def test_update_validates_against_stored_dates(make_client, group, chair):
    goal = _goal(group)
    response = make_client(chair).patch(f"{URL}{goal.id}/", {"target_date": "2024-01-01"})
    assert response.status_code == 400
    assert "target_date" in response.data["fields"]
    goal.refresh_from_db()
    assert goal.target_date == date(2025, 12, 31)
    response = make_client(chair).patch(f"{URL}{goal.id}/", {"target_amount": "2500.00"})
    assert response.status_code == 200
    assert response.data["target_amount"] == "2500.00"


def test_members_read_officials_write(make_client, group, member, chair):
    goal = _goal(group)
    client = make_client(member)
    assert client.get(f"{URL}{goal.id}/").status_code == 200
    assert client.post(URL, {**PAYLOAD, "group": group.id, "target_date": "2099-01-01"}).status_code == 403
    assert client.patch(f"{URL}{goal.id}/", {"title": "Mine"}).status_code == 403
    assert client.delete(f"{URL}{goal.id}/").status_code == 403
    assert client.post(f"{URL}{goal.id}/mark_achieved/").status_code == 403
    goal.refresh_from_db()
    assert (goal.title, goal.status) == ("Goal", GoalStatus.ACTIVE)
    assert GroupGoal.objects.count() == 1
    assert make_client(chair).delete(f"{URL}{goal.id}/").status_code == 204
    assert GroupGoal.objects.count() == 0


def test_outsider_gets_404(make_client, group, outsider):
    goal = _goal(group)
    client = make_client(outsider)
    assert client.get(f"{URL}{goal.id}/").status_code == 404
    assert client.patch(f"{URL}{goal.id}/", {"title": "x"}).status_code == 404
    assert client.delete(f"{URL}{goal.id}/").status_code == 404
    assert client.post(f"{URL}{goal.id}/mark_achieved/").status_code == 404
    response = client.post(URL, {**PAYLOAD, "group": group.id, "target_date": "2099-01-01"})
    assert response.status_code == 404
    assert "group" in response.data["fields"]
    assert client.get(URL).data["count"] == 0
    assert GroupGoal.objects.count() == 1


def test_mark_achieved(make_client, group, chair):
    goal = _goal(group)
    response = make_client(chair).post(f"{URL}{goal.id}/mark_achieved/")
    assert response.status_code == 200
    assert response.data["status"] == GoalStatus.ACHIEVED
    assert response.data["achieved_at"]
    assert "goal.achieved" in event_names(group.id)
    assert make_client(chair).post(f"{URL}{goal.id}/mark_achieved/").status_code == 409


def test_progress_from_the_provider(make_client, group, member, fake_provider):
    first = _goal(group, target_amount=Decimal("1000.00"))
    second = _goal(group, target_amount=Decimal("300.00"), start_date=date(2025, 3, 1))
    amounts = {first.id: Decimal("333.33"), second.id: Decimal("450.00")}
    spy = fake_provider("group.goal_progress", lambda *, windows: {w[0]: amounts[w[0]] for w in windows})
    rows = {row["id"]: row for row in make_client(member).get(URL).data["results"]}
    assert (rows[first.id]["current_amount"], rows[first.id]["progress_percent"]) == ("333.33", "33.33")
    assert (rows[second.id]["current_amount"], rows[second.id]["progress_percent"]) == ("450.00", "100.00")
    assert len(spy.calls) == 1
    assert sorted(spy.calls[0]["windows"]) == sorted(
        [
            (first.id, group.id, date(2025, 1, 1), date(2025, 12, 31)),
            (second.id, group.id, date(2025, 3, 1), date(2025, 12, 31)),
        ]
    )


def test_list_query_count_does_not_grow_with_rows(make_client, fake_provider):
    spy = fake_provider("group.goal_progress", lambda *, windows: {w[0]: Decimal("1.00") for w in windows})
    group = make_group(name="Goals")
    user = add_member(group).user
    for _ in range(5):
        _goal(group)
    client = make_client(user)
    with CaptureQueriesContext(connection) as small:
        assert client.get(URL).data["count"] == 5
    for _ in range(20):
        _goal(group)
    with CaptureQueriesContext(connection) as large:
        assert len(client.get(URL, {"page_size": 25}).data["results"]) == 25
    assert len(small.captured_queries) == len(large.captured_queries)
    assert len(spy.calls) == 2


def test_filters(make_client, group, member):
    active = _goal(group, title="Water tank")
    _goal(group, title="Bus", status=GoalStatus.ACHIEVED)
    client = make_client(member)
    assert [r["id"] for r in client.get(URL, {"status": "ACTIVE"}).data["results"]] == [active.id]
    assert [r["id"] for r in client.get(URL, {"search": "tank"}).data["results"]] == [active.id]
    assert client.get(URL, {"group": group.id}).data["count"] == 2
