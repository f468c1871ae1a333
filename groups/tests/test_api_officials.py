"""officials: appointments keep terms and roles in step; nobody appoints themselves."""

from __future__ import annotations

import pytest
from django.utils import timezone

from groups.choices import Role
from groups.models import GroupOfficial, Membership
from groups.tests.conftest import BASE, event_names
from groups.tests.factories import add_member

pytestmark = pytest.mark.django_db

URL = f"{BASE}/officials/"


def _snapshot():
    return (
        list(GroupOfficial.objects.order_by("id").values_list("id", "is_current", "term_end")),
        list(Membership.objects.order_by("id").values_list("id", "role")),
        len(event_names()),
    )


def test_appointment_ends_the_previous_term(make_client, group, chair, treasurer, member):
    old = GroupOfficial.objects.get(group=group, position="TREASURER", is_current=True)
    appointee = Membership.objects.get(group=group, user=member)
    response = make_client(chair).post(URL, {"membership": appointee.id, "position": "TREASURER"})
    assert response.status_code == 201, response.data
    assert response.data["membership"] == appointee.id
    assert response.data["user"] == member.id
    assert response.data["is_current"] is True
    old.refresh_from_db()
    assert (old.is_current, old.term_end) == (False, timezone.localdate())
    assert Membership.objects.get(group=group, user=treasurer).role == Role.MEMBER
    assert Membership.objects.get(pk=appointee.id).role == Role.TREASURER
    # List shows current and past terms; filters work.
    client = make_client(member)
    assert client.get(URL, {"position": "TREASURER"}).data["count"] == 2
    current = client.get(URL, {"position": "TREASURER", "is_current": "true"}).data["results"]
    assert [row["id"] for row in current] == [response.data["id"]]
    # The new treasurer now has official powers.
    assert client.patch(f"{BASE}/chama-groups/{group.id}/", {"late_fine_grace_days": 7}).status_code == 200


def test_nobody_appoints_themselves(make_client, group, treasurer):
    mine = Membership.objects.get(group=group, user=treasurer)
    before = _snapshot()
    response = make_client(treasurer).post(URL, {"membership": mine.id, "position": "SECRETARY"})
    assert response.status_code == 403
    assert _snapshot() == before


def test_members_cannot_appoint_and_outsiders_get_404(make_client, group, member, outsider, other_group):
    target = add_member(group)
    before = _snapshot()
    assert make_client(member).post(URL, {"membership": target.id, "position": "SECRETARY"}).status_code == 403
    response = make_client(outsider).post(URL, {"membership": target.id, "position": "SECRETARY"})
    assert response.status_code == 404
    assert "membership" in response.data["fields"]
    assert _snapshot() == before
    theirs = GroupOfficial.objects.get(group=other_group)
    assert make_client(member).get(f"{URL}{theirs.id}/").status_code == 404
    assert make_client(member).get(URL, {"group": other_group.id}).data["count"] == 0


def test_only_the_chair_appoints_a_chair_and_the_old_chair_steps_down(make_client, group, chair, treasurer, member):
    target = Membership.objects.get(group=group, user=member)
    before = _snapshot()
    assert make_client(treasurer).post(URL, {"membership": target.id, "position": "CHAIRPERSON"}).status_code == 403
    assert _snapshot() == before
    assert make_client(chair).post(URL, {"membership": target.id, "position": "CHAIRPERSON"}).status_code == 201
    assert Membership.objects.get(group=group, user=chair).role == Role.MEMBER
    assert list(Membership.objects.filter(group=group, role=Role.CHAIRPERSON).values_list("user_id", flat=True)) == [
        member.id
    ]


def test_a_co_chair_may_move_the_other_chair_to_another_post(make_client, group, chair):
    """Allowed because a chairperson remains (the sole chair could only be moved by themselves: 403)."""
    co_chair = add_member(group, role=Role.CHAIRPERSON)
    chair_membership = Membership.objects.get(group=group, user=chair)
    response = make_client(co_chair.user).post(URL, {"membership": chair_membership.id, "position": "SECRETARY"})
    assert response.status_code == 201
    assert Membership.objects.get(pk=chair_membership.id).role == Role.SECRETARY


def test_appointing_an_inactive_or_current_holder_is_409(make_client, group, chair, treasurer):
    holder = Membership.objects.get(group=group, user=treasurer)
    suspended = add_member(group)
    assert make_client(chair).post(f"{BASE}/memberships/{suspended.id}/suspend/").status_code == 200
    before = _snapshot()
    assert make_client(chair).post(URL, {"membership": holder.id, "position": "TREASURER"}).status_code == 409
    response = make_client(chair).post(URL, {"membership": suspended.id, "position": "SECRETARY"})
    assert response.status_code == 409
    assert response.data["code"] == "not_active"
    assert _snapshot() == before


def test_bad_position_is_400(make_client, group, chair, member):
    target = Membership.objects.get(group=group, user=member)
    response = make_client(chair).post(URL, {"membership": target.id, "position": "PRESIDENT"})
    assert response.status_code == 400
    assert "position" in response.data["fields"]
