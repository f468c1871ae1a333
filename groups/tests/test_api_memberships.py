"""memberships: invitations of existing users, accept/decline, suspend/reinstate, exit, role changes."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import UserFactory
from groups.choices import MembershipStatus, Role
from groups.models import GroupOfficial, Membership
from groups.tests.conftest import BASE, event_names
from groups.tests.factories import add_member, make_group

pytestmark = pytest.mark.django_db

URL = f"{BASE}/memberships/"


def _snapshot():
    return (
        list(Membership.objects.order_by("id").values_list("id", "status", "role")),
        list(GroupOfficial.objects.order_by("id").values_list("id", "is_current")),
        len(event_names()),
    )


# --- inviting an existing user ------------------------------------------------------------------------------


def test_official_invites_an_existing_user_who_accepts(make_client, group, chair, member):
    invitee = UserFactory()
    response = make_client(chair).post(URL, {"group": group.id, "user": invitee.id, "role": "MEMBER"})
    assert response.status_code == 201, response.data
    assert response.data["status"] == MembershipStatus.INVITED
    assert response.data["member_number"] == 3
    assert response.data["user_details"]["phone_number"] == invitee.phone_number
    assert "invitation.sent" in event_names(group.id)
    membership_id = response.data["id"]

    client = make_client(invitee)
    # The invitee sees the invitation but not the group yet.
    assert [row["id"] for row in client.get(URL).data["results"]] == [membership_id]
    assert client.get(f"{BASE}/chama-groups/{group.id}/").status_code == 404
    # Someone else in the group cannot answer it.
    assert make_client(member).post(f"{URL}{membership_id}/accept/").status_code == 403

    response = client.post(f"{URL}{membership_id}/accept/")
    assert response.status_code == 200, response.data
    assert response.data["status"] == MembershipStatus.ACTIVE
    assert response.data["joined_at"]
    assert event_names(group.id)[-1] == "member.joined"
    assert client.get(f"{BASE}/chama-groups/{group.id}/").status_code == 200
    # Accepting twice is a conflict.
    assert client.post(f"{URL}{membership_id}/accept/").status_code == 409


def test_invitee_declines(make_client, group, chair):
    invitee = UserFactory()
    membership_id = make_client(chair).post(URL, {"group": group.id, "user": invitee.id}).data["id"]
    response = make_client(invitee).post(f"{URL}{membership_id}/decline/")
    assert response.status_code == 200
    assert response.data["status"] == MembershipStatus.EXITED
    assert make_client(invitee).get(f"{BASE}/chama-groups/{group.id}/").status_code == 404
    # A declined user can be invited again; the member number is kept.
    again = make_client(chair).post(URL, {"group": group.id, "user": invitee.id})
    assert again.status_code == 201
    assert (again.data["id"], again.data["status"]) == (membership_id, MembershipStatus.INVITED)


def test_duplicate_invitation_and_joining_twice_are_409(make_client, group, chair, member):
    invitee = UserFactory()
    client = make_client(chair)
    assert client.post(URL, {"group": group.id, "user": invitee.id}).status_code == 201
    before = _snapshot()
    duplicate = client.post(URL, {"group": group.id, "user": invitee.id})
    assert duplicate.status_code == 409
    assert duplicate.data["code"] == "already_invited"
    twice = client.post(URL, {"group": group.id, "user": member.id})
    assert twice.status_code == 409
    assert twice.data["code"] == "already_member"
    assert "user" in twice.data["fields"]
    assert _snapshot() == before


def test_invite_permissions(make_client, group, member, outsider, stranger):
    before = _snapshot()
    payload = {"group": group.id, "user": stranger.id}
    assert make_client(member).post(URL, payload).status_code == 403
    response = make_client(outsider).post(URL, payload)
    assert response.status_code == 404
    assert "group" in response.data["fields"]
    assert make_client(stranger).post(URL, {"group": group.id, "user": stranger.id}).status_code == 404
    # Unknown group and unknown user.
    assert make_client(member).post(URL, {"group": 999999, "user": stranger.id}).status_code == 404
    assert _snapshot() == before


def test_invite_unknown_user_is_400(make_client, group, chair):
    before = _snapshot()
    response = make_client(chair).post(URL, {"group": group.id, "user": 987654})
    assert response.status_code == 400
    assert "user" in response.data["fields"]
    assert _snapshot() == before


def test_only_the_chairperson_invites_a_chairperson(make_client, group, treasurer):
    before = _snapshot()
    response = make_client(treasurer).post(URL, {"group": group.id, "user": UserFactory().id, "role": "CHAIRPERSON"})
    assert response.status_code == 403
    assert _snapshot() == before


def test_invited_official_takes_office_on_accepting(make_client, group, chair, treasurer):
    invitee = UserFactory()
    membership_id = (
        make_client(chair).post(URL, {"group": group.id, "user": invitee.id, "role": "TREASURER"}).data["id"]
    )
    assert make_client(invitee).post(f"{URL}{membership_id}/accept/").status_code == 200
    assert Membership.objects.get(pk=membership_id).role == Role.TREASURER
    assert Membership.objects.get(group=group, user=treasurer).role == Role.MEMBER
    current = GroupOfficial.objects.get(group=group, position="TREASURER", is_current=True)
    assert current.membership_id == membership_id


# --- scoping ---------------------------------------------------------------------------------------------------


def test_list_and_retrieve_are_scoped(make_client, group, member, outsider, other_group):
    mine = Membership.objects.get(group=group, user=member)
    theirs = Membership.objects.get(group=other_group, user=outsider)
    client = make_client(member)
    ids = [row["id"] for row in client.get(URL).data["results"]]
    assert mine.id in ids and theirs.id not in ids
    assert client.get(f"{URL}{theirs.id}/").status_code == 404
    assert client.get(URL, {"group": other_group.id}).data["count"] == 0
    for action in ("suspend", "reinstate", "approve", "exit", "accept", "decline"):
        assert client.post(f"{URL}{theirs.id}/{action}/").status_code == 404
    assert client.post(f"{URL}{theirs.id}/change_role/", {"role": "MEMBER"}).status_code == 404
    assert client.delete(f"{URL}{theirs.id}/").status_code == 404
    theirs.refresh_from_db()
    assert (theirs.status, theirs.role) == (MembershipStatus.ACTIVE, Role.CHAIRPERSON)


def test_list_filters_and_search(make_client, group, chair, member, treasurer):
    client = make_client(member)
    assert client.get(URL, {"role": "TREASURER"}).data["results"][0]["user"] == treasurer.id
    assert client.get(URL, {"user": member.id}).data["count"] == 1
    assert client.get(URL, {"search": member.last_name}).data["count"] >= 1
    numbers = [row["member_number"] for row in client.get(URL, {"ordering": "-member_number"}).data["results"]]
    assert numbers == sorted(numbers, reverse=True)


# --- suspend / reinstate / approve ----------------------------------------------------------------------------


def test_suspended_member_loses_access_and_is_reinstated(make_client, group, treasurer, member):
    membership = Membership.objects.get(group=group, user=member)
    response = make_client(treasurer).post(f"{URL}{membership.id}/suspend/")
    assert response.status_code == 200
    assert response.data["status"] == MembershipStatus.SUSPENDED
    assert event_names(group.id)[-1] == "member.suspended"

    client = make_client(member)
    assert client.get(f"{BASE}/chama-groups/{group.id}/").status_code == 404
    assert client.get(f"{BASE}/chama-groups/").data["count"] == 0
    assert client.get(f"{BASE}/messages/", {"group": group.id}).data["count"] == 0
    assert client.post(f"{BASE}/messages/", {"group": group.id, "content": "hello?"}).status_code == 404

    assert make_client(treasurer).post(f"{URL}{membership.id}/suspend/").status_code == 409
    response = make_client(treasurer).post(f"{URL}{membership.id}/approve/")  # legacy alias of reinstate
    assert response.status_code == 200
    assert response.data["status"] == MembershipStatus.ACTIVE
    assert client.get(f"{BASE}/chama-groups/{group.id}/").status_code == 200
    assert make_client(treasurer).post(f"{URL}{membership.id}/reinstate/").status_code == 409


def test_suspend_rules(make_client, group, chair, treasurer, member):
    chair_membership = Membership.objects.get(group=group, user=chair)
    treasurer_membership = Membership.objects.get(group=group, user=treasurer)
    member_membership = Membership.objects.get(group=group, user=member)
    before = _snapshot()
    assert make_client(member).post(f"{URL}{treasurer_membership.id}/suspend/").status_code == 403
    assert make_client(treasurer).post(f"{URL}{treasurer_membership.id}/suspend/").status_code == 403  # self
    assert make_client(treasurer).post(f"{URL}{chair_membership.id}/suspend/").status_code == 403  # chair's
    assert make_client(member).post(f"{URL}{member_membership.id}/reinstate/").status_code == 403
    assert _snapshot() == before


def test_suspending_an_official_ends_the_term(make_client, group, chair, treasurer):
    treasurer_membership = Membership.objects.get(group=group, user=treasurer)
    assert make_client(chair).post(f"{URL}{treasurer_membership.id}/suspend/").status_code == 200
    treasurer_membership.refresh_from_db()
    assert treasurer_membership.role == Role.MEMBER
    assert not GroupOfficial.objects.filter(membership=treasurer_membership, is_current=True).exists()
    assert GroupOfficial.objects.get(membership=treasurer_membership).term_end is not None


# --- exit --------------------------------------------------------------------------------------------------------


def test_member_leaves(make_client, group, member):
    membership = Membership.objects.get(group=group, user=member)
    response = make_client(member).post(f"{URL}{membership.id}/exit/")
    assert response.status_code == 200
    assert response.data["status"] == MembershipStatus.EXITED
    assert response.data["exited_at"]
    assert event_names(group.id)[-1] == "member.exited"
    assert make_client(member).get(f"{BASE}/chama-groups/{group.id}/").status_code == 404


def test_official_removes_a_member_with_delete(make_client, group, treasurer, member):
    membership = Membership.objects.get(group=group, user=member)
    assert make_client(treasurer).delete(f"{URL}{membership.id}/").status_code == 204
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.EXITED
    assert membership.exited_at is not None
    assert make_client(treasurer).delete(f"{URL}{membership.id}/").status_code == 409


def test_plain_member_cannot_remove_another(make_client, group, member, treasurer):
    other = Membership.objects.get(group=group, user=treasurer)
    before = _snapshot()
    assert make_client(member).delete(f"{URL}{other.id}/").status_code == 403
    assert _snapshot() == before


def test_last_chairperson_cannot_leave(make_client, group, chair):
    membership = Membership.objects.get(group=group, user=chair)
    before = _snapshot()
    response = make_client(chair).post(f"{URL}{membership.id}/exit/")
    assert response.status_code == 409
    assert response.data["code"] == "last_chairperson"
    assert make_client(chair).delete(f"{URL}{membership.id}/").status_code == 409
    assert _snapshot() == before


# --- change_role -----------------------------------------------------------------------------------------------


def test_change_role_keeps_terms_in_step(make_client, group, chair, treasurer, member):
    member_membership = Membership.objects.get(group=group, user=member)
    treasurer_membership = Membership.objects.get(group=group, user=treasurer)
    response = make_client(chair).post(f"{URL}{member_membership.id}/change_role/", {"role": "TREASURER"})
    assert response.status_code == 200, response.data
    assert response.data["role"] == Role.TREASURER
    treasurer_membership.refresh_from_db()
    assert treasurer_membership.role == Role.MEMBER
    current = GroupOfficial.objects.get(group=group, position="TREASURER", is_current=True)
    assert current.membership_id == member_membership.id
    assert GroupOfficial.objects.get(membership=treasurer_membership).is_current is False
    assert event_names(group.id).count("member.role_changed") == 2

    # Back to MEMBER: the term ends, nobody holds the position.
    assert make_client(chair).post(f"{URL}{member_membership.id}/change_role/", {"role": "MEMBER"}).status_code == 200
    assert not GroupOfficial.objects.filter(group=group, position="TREASURER", is_current=True).exists()


def test_nobody_changes_their_own_role(make_client, group, treasurer, chair):
    mine = Membership.objects.get(group=group, user=treasurer)
    before = _snapshot()
    response = make_client(treasurer).post(f"{URL}{mine.id}/change_role/", {"role": "CHAIRPERSON"})
    assert response.status_code == 403
    chair_membership = Membership.objects.get(group=group, user=chair)
    assert make_client(chair).post(f"{URL}{chair_membership.id}/change_role/", {"role": "MEMBER"}).status_code == 403
    assert _snapshot() == before


def test_member_cannot_change_roles_and_self_promotion_is_refused(make_client, group, member, treasurer):
    mine = Membership.objects.get(group=group, user=member)
    other = Membership.objects.get(group=group, user=treasurer)
    before = _snapshot()
    assert make_client(member).post(f"{URL}{mine.id}/change_role/", {"role": "CHAIRPERSON"}).status_code == 403
    assert make_client(member).post(f"{URL}{other.id}/change_role/", {"role": "MEMBER"}).status_code == 403
    assert _snapshot() == before


def test_only_the_chairperson_hands_out_the_chair(make_client, group, treasurer, member):
    target = Membership.objects.get(group=group, user=member)
    before = _snapshot()
    assert make_client(treasurer).post(f"{URL}{target.id}/change_role/", {"role": "CHAIRPERSON"}).status_code == 403
    assert _snapshot() == before


def test_last_chairperson_is_protected_and_handover_works(make_client, group, chair, member):
    second = UserFactory()
    second_membership = add_member(group, user=second, role=Role.SECRETARY)
    chair_membership = Membership.objects.get(group=group, user=chair)
    # The secretary may not demote the only chairperson (not the chair's own action) ...
    before = _snapshot()
    assert make_client(second).post(f"{URL}{chair_membership.id}/change_role/", {"role": "MEMBER"}).status_code == 403
    assert _snapshot() == before
    # ... and the chairperson hands over by appointing a successor: the old chair becomes MEMBER.
    response = make_client(chair).post(f"{URL}{second_membership.id}/change_role/", {"role": "CHAIRPERSON"})
    assert response.status_code == 200, response.data
    chair_membership.refresh_from_db()
    assert chair_membership.role == Role.MEMBER
    assert GroupOfficial.objects.get(group=group, position="CHAIRPERSON", is_current=True).membership_id == (
        second_membership.id
    )
    assert not GroupOfficial.objects.filter(group=group, position="SECRETARY", is_current=True).exists()
    # The former chair lost official powers in the same request sequence.
    assert make_client(chair).patch(f"{BASE}/chama-groups/{group.id}/", {"name": "x"}).status_code == 403


def test_a_chairperson_may_demote_a_co_chair_but_the_last_one_stays(make_client, group, chair):
    """Two chairpersons can exist (e.g. data made before terms were tracked); the last one is protected."""
    co_chair = add_member(group, role=Role.CHAIRPERSON)
    chair_membership = Membership.objects.get(group=group, user=chair)
    response = make_client(co_chair.user).post(f"{URL}{chair_membership.id}/change_role/", {"role": "MEMBER"})
    assert response.status_code == 200
    before = _snapshot()
    # The demoted chair is no longer an official.
    assert make_client(chair).post(f"{URL}{co_chair.id}/change_role/", {"role": "MEMBER"}).status_code == 403
    # The remaining chairperson cannot leave.
    response = make_client(co_chair.user).post(f"{URL}{co_chair.id}/exit/")
    assert response.status_code == 409
    assert response.data["code"] == "last_chairperson"
    assert _snapshot() == before


def test_bad_role_is_400(make_client, group, chair, member):
    target = Membership.objects.get(group=group, user=member)
    response = make_client(chair).post(f"{URL}{target.id}/change_role/", {"role": "KING"})
    assert response.status_code == 400
    assert "role" in response.data["fields"]


# --- query counts -----------------------------------------------------------------------------------------------


def test_list_query_count_does_not_grow_with_rows(make_client, fake_provider):
    spy = fake_provider("group.member_contributions", lambda *, group_ids: {})
    group = make_group(name="Counted")
    user = add_member(group).user
    for _ in range(3):
        add_member(group)
    client = make_client(user)
    with CaptureQueriesContext(connection) as small:
        assert client.get(URL).data["count"] == 5
    for _ in range(20):
        add_member(group)
    with CaptureQueriesContext(connection) as large:
        response = client.get(URL, {"page_size": 25})
    assert len(response.data["results"]) == 25
    assert len(small.captured_queries) == len(large.captured_queries)
    assert len(spy.calls) == 2
    with CaptureQueriesContext(connection) as members:
        assert len(client.get(f"{BASE}/chama-groups/{group.id}/members/").data) == 25
    assert len(members.captured_queries) <= len(small.captured_queries)
