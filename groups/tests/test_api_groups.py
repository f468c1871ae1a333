"""chama-groups: create (legacy payload), scoping, officials-only settings, chairperson-only deactivation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import UserFactory
from groups.choices import GoalStatus, MembershipStatus, Role
from groups.models import ChamaGroup, GroupGoal, GroupOfficial, Membership
from groups.tests.conftest import BASE, event_names
from groups.tests.factories import add_member, make_group

pytestmark = pytest.mark.django_db

LEGACY_PAYLOAD = {
    "name": "Wanawake Pamoja",
    "description": "Women's savings group",
    "group_type": "SAVINGS",
    "objectives": "Save and lend",
    "contribution_frequency": "MONTHLY",
    "minimum_contribution": "2500.00",
}


def test_legacy_create_payload_makes_the_caller_chairperson(make_client):
    user = UserFactory()
    response = make_client(user).post(f"{BASE}/chama-groups/", LEGACY_PAYLOAD)
    assert response.status_code == 201, response.data
    body = response.data
    assert body["name"] == "Wanawake Pamoja"
    assert body["contribution_amount"] == "2500.00"
    assert body["minimum_contribution"] == "2500.00"
    assert body["objectives"] == "Save and lend"
    assert body["my_role"] == Role.CHAIRPERSON
    assert body["member_count"] == 1
    assert body["total_balance"] == "0.00"
    assert body["currency"] == "KES"
    assert body["code"]
    group = ChamaGroup.objects.get(pk=body["id"])
    membership = Membership.objects.get(group=group, user=user)
    assert (membership.role, membership.status, membership.member_number) == (Role.CHAIRPERSON, "ACTIVE", 1)
    term = GroupOfficial.objects.get(group=group)
    assert (term.membership_id, term.position, term.is_current, term.appointed_by_id) == (
        membership.id,
        "CHAIRPERSON",
        True,
        user.id,
    )
    assert "group.created" in event_names(group.id)


def test_create_with_rules(make_client):
    payload = {
        "name": "Biashara",
        "group_type": "TABLE_BANKING",
        "contribution_amount": "1000.00",
        "contribution_frequency": "WEEKLY",
        "cycle_start_date": "2025-01-06",
        "late_fine_amount": "200.00",
        "late_fine_grace_days": 5,
        "loan_interest_rate": "12.5",
        "loan_interest_method": "REDUCING",
        "loan_processing_fee": "100.00",
        "max_loan_multiple": "2.50",
        "required_approvals": 3,
    }
    response = make_client(UserFactory()).post(f"{BASE}/chama-groups/", payload)
    assert response.status_code == 201, response.data
    for key in ("late_fine_grace_days", "loan_interest_method", "required_approvals", "cycle_start_date"):
        assert str(response.data[key]) == str(payload[key])
    assert Decimal(response.data["loan_interest_rate"]) == Decimal("12.5")
    assert response.data["max_loan_multiple"] == "2.50"


@pytest.mark.parametrize(
    "patch",
    [
        {"minimum_contribution": "-5.00"},
        {"minimum_contribution": "10.001"},
        {"name": ""},
        {"group_type": "PYRAMID"},
        {"contribution_frequency": "HOURLY"},
        {"required_approvals": 0},
        {"loan_interest_rate": "150"},
        {"contribution_amount": "100.00", "minimum_contribution": "200.00"},
    ],
)
def test_bad_create_input_is_400_with_field_and_writes_nothing(make_client, patch):
    user = UserFactory()
    before = (ChamaGroup.objects.count(), Membership.objects.count(), len(event_names()))
    response = make_client(user).post(f"{BASE}/chama-groups/", {**LEGACY_PAYLOAD, **patch})
    assert response.status_code == 400
    assert response.data["code"] == "invalid"
    assert set(response.data["fields"]) & set(patch)
    assert (ChamaGroup.objects.count(), Membership.objects.count(), len(event_names())) == before


def test_list_shows_only_groups_where_the_caller_is_active(make_client, group, member, other_group):
    exited = make_group(name="Old Chama")
    gone = add_member(exited, user=member)
    Membership.objects.filter(pk=gone.pk).update(status=MembershipStatus.EXITED)
    response = make_client(member).get(f"{BASE}/chama-groups/")
    assert response.status_code == 200
    assert [row["id"] for row in response.data["results"]] == [group.id]
    assert response.data["results"][0]["my_role"] == Role.MEMBER
    assert response.data["results"][0]["member_count"] == 2


def test_list_filters_search_and_ordering(make_client):
    user = UserFactory()
    savings = make_group(chair=user, name="Alpha savers", group_type="SAVINGS")
    welfare = make_group(chair=user, name="Beta welfare", group_type="WELFARE")
    client = make_client(user)
    ids = lambda r: [row["id"] for row in r.data["results"]]  # noqa: E731
    assert ids(client.get(f"{BASE}/chama-groups/", {"group_type": "WELFARE"})) == [welfare.id]
    assert ids(client.get(f"{BASE}/chama-groups/", {"search": "alpha"})) == [savings.id]
    assert ids(client.get(f"{BASE}/chama-groups/", {"ordering": "name"})) == [savings.id, welfare.id]
    assert ids(client.get(f"{BASE}/chama-groups/", {"ordering": "-name"})) == [welfare.id, savings.id]
    ChamaGroup.objects.filter(pk=savings.pk).update(is_active=False)
    assert ids(client.get(f"{BASE}/chama-groups/", {"is_active": "true"})) == [welfare.id]


def test_outsider_gets_404_everywhere_and_nothing_changes(make_client, group, outsider):
    client = make_client(outsider)
    url = f"{BASE}/chama-groups/{group.id}/"
    assert client.get(url).status_code == 404
    assert client.get(url + "members/").status_code == 404
    assert client.get(url + "dashboard/").status_code == 404
    assert client.patch(url, {"name": "Hijacked"}).status_code == 404
    assert client.put(url, {"name": "Hijacked"}).status_code == 404
    assert client.delete(url).status_code == 404
    group.refresh_from_db()
    assert (group.name, group.is_active) == ("Umoja Chama", True)


def test_plain_member_cannot_change_settings(make_client, group, member):
    response = make_client(member).patch(f"{BASE}/chama-groups/{group.id}/", {"late_fine_amount": "1.00"})
    assert response.status_code == 403
    group.refresh_from_db()
    assert group.late_fine_amount == Decimal("100.00")


def test_official_changes_settings(make_client, group, treasurer):
    response = make_client(treasurer).patch(
        f"{BASE}/chama-groups/{group.id}/", {"minimum_contribution": "1500.00", "required_approvals": 1}
    )
    assert response.status_code == 200, response.data
    assert response.data["contribution_amount"] == "1500.00"
    group.refresh_from_db()
    assert (group.contribution_amount, group.required_approvals) == (Decimal("1500.00"), 1)
    assert "group.updated" in event_names(group.id)


def test_put_needs_name_and_bad_update_writes_nothing(make_client, group, chair):
    client = make_client(chair)
    assert client.put(f"{BASE}/chama-groups/{group.id}/", {"description": "x"}).status_code == 400
    response = client.patch(f"{BASE}/chama-groups/{group.id}/", {"late_fine_amount": "-1.00"})
    assert response.status_code == 400
    assert "late_fine_amount" in response.data["fields"]
    group.refresh_from_db()
    assert group.late_fine_amount == Decimal("100.00")
    assert client.put(f"{BASE}/chama-groups/{group.id}/", {"name": "Umoja II"}).status_code == 200


def test_only_the_chairperson_deactivates(make_client, group, chair, treasurer):
    url = f"{BASE}/chama-groups/{group.id}/"
    assert make_client(treasurer).delete(url).status_code == 403
    group.refresh_from_db()
    assert group.is_active
    assert make_client(chair).delete(url).status_code == 204
    group.refresh_from_db()
    assert group.is_active is False
    # Still readable by its members; settings are frozen.
    client = make_client(chair)
    assert client.get(url).data["is_active"] is False
    assert client.patch(url, {"name": "Revived"}).status_code == 409


def test_my_groups_is_an_unpaginated_list(make_client, group, member, other_group):
    response = make_client(member).get(f"{BASE}/chama-groups/my_groups/")
    assert response.status_code == 200
    assert isinstance(response.data, list)
    assert [row["id"] for row in response.data] == [group.id]


def test_members_lists_memberships_with_user_details(make_client, group, chair, member):
    response = make_client(member).get(f"{BASE}/chama-groups/{group.id}/members/")
    assert response.status_code == 200
    assert isinstance(response.data, list)
    assert [row["member_number"] for row in response.data] == [1, 2]
    details = response.data[1]["user_details"]
    assert details == {
        "id": member.id,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "full_name": member.full_name,
        "phone_number": member.phone_number,
        "email": member.email,
    }


def test_dashboard_uses_each_provider_once(make_client, group, member, financial_summary, fake_provider):
    investments = fake_provider(
        "group.investments_summary",
        lambda *, group_ids: {gid: {"total_investments": Decimal("7000.00")} for gid in group_ids},
    )
    progress = fake_provider("group.goal_progress", lambda *, windows: {w[0]: Decimal("250.00") for w in windows})
    active = GroupGoal.objects.create(
        group=group, title="Land", target_amount=Decimal("1000.00"), start_date="2025-01-01", target_date="2026-01-01"
    )
    GroupGoal.objects.create(
        group=group,
        title="Done",
        target_amount=Decimal("10.00"),
        start_date="2025-01-01",
        target_date="2026-01-01",
        status=GoalStatus.ACHIEVED,
    )
    response = make_client(member).get(f"{BASE}/chama-groups/{group.id}/dashboard/")
    assert response.status_code == 200, response.data
    body = response.data
    assert body["total_balance"] == "1500.50"
    assert body["total_contributions"] == "1300.00"
    assert body["total_loans_outstanding"] == "400.00"
    assert body["total_investments"] == "7000.00"
    assert body["member_count"] == 2
    assert [g["id"] for g in body["active_goals"]] == [active.id]
    assert body["active_goals"][0]["current_amount"] == "250.00"
    assert body["active_goals"][0]["progress_percent"] == "25.00"
    assert len(financial_summary.calls) == len(investments.calls) == len(progress.calls) == 1


def test_figures_default_to_zero_without_providers(make_client, group, member):
    body = make_client(member).get(f"{BASE}/chama-groups/{group.id}/dashboard/").data
    for key in ("total_balance", "total_contributions", "total_loans_outstanding", "total_investments"):
        assert body[key] == "0.00"


def _list_queries(client, url) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.data


def test_list_query_count_does_not_grow_with_rows(make_client, financial_summary):
    user = UserFactory()
    for i in range(5):
        add_member(make_group(name=f"G{i}"), user=user)
    client = make_client(user)
    small, data = _list_queries(client, f"{BASE}/chama-groups/")
    assert data["count"] == 5
    for i in range(20):
        add_member(make_group(name=f"H{i}"), user=user)
    large, data = _list_queries(client, f"{BASE}/chama-groups/?page_size=25")
    assert data["count"] == 25 and len(data["results"]) == 25
    assert small == large
    assert all(row["total_balance"] == "1500.50" for row in data["results"])
    assert len(financial_summary.calls) == 2  # once per request, for the whole page
    my_small, _ = _list_queries(client, f"{BASE}/chama-groups/my_groups/")
    assert my_small == small - 1  # no COUNT query: unpaginated
