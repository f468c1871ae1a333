"""invitations by phone number: the invitee may register later and then accept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from groups.choices import InvitationStatus, MembershipStatus, Role
from groups.models import GroupInvitation, Membership
from groups.tests.conftest import BASE, event_names

pytestmark = pytest.mark.django_db

URL = f"{BASE}/invitations/"


def _snapshot():
    return (
        list(GroupInvitation.objects.order_by("id").values_list("id", "status")),
        list(Membership.objects.order_by("id").values_list("id", "status", "role")),
        len(event_names()),
    )


def test_invitee_registers_later_and_accepts(make_client, group, chair):
    response = make_client(chair).post(URL, {"group": group.id, "phone_number": "0722 000 111"})
    assert response.status_code == 201, response.data
    assert response.data["phone_number"] == "+254722000111"
    assert response.data["status"] == InvitationStatus.PENDING
    assert response.data["is_expired"] is False
    invitation_id = response.data["id"]
    assert "invitation.sent" in event_names(group.id)
    expires = GroupInvitation.objects.get(pk=invitation_id).expires_at
    assert timedelta(days=13, hours=23) < expires - timezone.now() <= timedelta(days=14)

    newcomer = UserFactory(phone_number="+254722000111")  # registers after the invitation
    client = make_client(newcomer)
    assert [row["id"] for row in client.get(URL).data["results"]] == [invitation_id]
    response = client.post(f"{URL}{invitation_id}/accept/")
    assert response.status_code == 200, response.data
    assert response.data["status"] == MembershipStatus.ACTIVE
    assert response.data["group"] == group.id
    assert response.data["member_number"] == 2
    assert event_names(group.id)[-1] == "member.joined"
    assert GroupInvitation.objects.get(pk=invitation_id).status == InvitationStatus.ACCEPTED
    assert client.get(f"{BASE}/chama-groups/{group.id}/").status_code == 200
    assert client.post(f"{URL}{invitation_id}/accept/").status_code == 409


@pytest.mark.parametrize("phone", ["12345", "0712", "not a phone", "+1 555", ""])
def test_bad_phone_is_400_and_writes_nothing(make_client, group, chair, phone):
    before = _snapshot()
    response = make_client(chair).post(URL, {"group": group.id, "phone_number": phone})
    assert response.status_code == 400
    assert "phone_number" in response.data["fields"]
    assert _snapshot() == before


def test_active_member_and_pending_invite_are_409(make_client, group, chair, member):
    client = make_client(chair)
    before = _snapshot()
    response = client.post(URL, {"group": group.id, "phone_number": member.phone_number})
    assert response.status_code == 409
    assert "phone_number" in response.data["fields"]
    assert _snapshot() == before
    assert client.post(URL, {"group": group.id, "phone_number": "0733111222"}).status_code == 201
    before = _snapshot()
    response = client.post(URL, {"group": group.id, "phone_number": "+254733111222"})
    assert response.status_code == 409
    assert response.data["code"] == "already_invited"
    assert _snapshot() == before


def test_only_officials_invite(make_client, group, member, outsider):
    before = _snapshot()
    assert make_client(member).post(URL, {"group": group.id, "phone_number": "0733111222"}).status_code == 403
    assert make_client(outsider).post(URL, {"group": group.id, "phone_number": "0733111222"}).status_code == 404
    assert _snapshot() == before


def test_only_the_addressee_answers(make_client, group, chair, member, outsider):
    invitation_id = make_client(chair).post(URL, {"group": group.id, "phone_number": "0744555666"}).data["id"]
    before = _snapshot()
    assert make_client(chair).post(f"{URL}{invitation_id}/accept/").status_code == 403  # official, not addressee
    assert make_client(member).post(f"{URL}{invitation_id}/accept/").status_code == 404  # cannot see it
    assert make_client(outsider).post(f"{URL}{invitation_id}/decline/").status_code == 404
    assert _snapshot() == before
    invitee = UserFactory(phone_number="+254744555666")
    response = make_client(invitee).post(f"{URL}{invitation_id}/decline/")
    assert response.status_code == 200
    assert response.data["status"] == InvitationStatus.DECLINED
    assert not Membership.objects.filter(user=invitee).exists()


def test_expired_invitation_is_409_and_can_be_renewed(make_client, group, chair):
    invitation_id = make_client(chair).post(URL, {"group": group.id, "phone_number": "0755000111"}).data["id"]
    GroupInvitation.objects.filter(pk=invitation_id).update(expires_at=timezone.now() - timedelta(minutes=1))
    invitee = UserFactory(phone_number="+254755000111")
    before = _snapshot()
    response = make_client(invitee).post(f"{URL}{invitation_id}/accept/")
    assert response.status_code == 409
    assert response.data["code"] == "invitation_expired"
    assert _snapshot() == before
    assert make_client(invitee).get(f"{URL}{invitation_id}/").data["is_expired"] is True
    # A new invitation replaces the expired one.
    response = make_client(chair).post(URL, {"group": group.id, "phone_number": "0755000111"})
    assert response.status_code == 201
    assert GroupInvitation.objects.get(pk=invitation_id).status == InvitationStatus.EXPIRED


def test_revoke(make_client, group, chair, treasurer, member):
    invitation_id = make_client(chair).post(URL, {"group": group.id, "phone_number": "0766000111"}).data["id"]
    assert make_client(member).post(f"{URL}{invitation_id}/revoke/").status_code == 404  # members don't see invites
    response = make_client(treasurer).post(f"{URL}{invitation_id}/revoke/")
    assert response.status_code == 200
    assert response.data["status"] == InvitationStatus.REVOKED
    invitee = UserFactory(phone_number="+254766000111")
    assert make_client(invitee).post(f"{URL}{invitation_id}/accept/").status_code == 409
    assert make_client(treasurer).post(f"{URL}{invitation_id}/revoke/").status_code == 409


def test_list_scoping(make_client, group, chair, member, other_group, outsider):
    mine = make_client(chair).post(URL, {"group": group.id, "phone_number": "0777000111"}).data["id"]
    theirs = make_client(outsider).post(URL, {"group": other_group.id, "phone_number": "0777000222"}).data["id"]
    ids = [row["id"] for row in make_client(chair).get(URL).data["results"]]
    assert ids == [mine]
    assert make_client(chair).get(f"{URL}{theirs}/").status_code == 404
    assert make_client(member).get(URL).data["count"] == 0


def test_official_role_invitation(make_client, group, chair, treasurer):
    invitation_id = (
        make_client(chair).post(URL, {"group": group.id, "phone_number": "0788000111", "role": "SECRETARY"}).data["id"]
    )
    invitee = UserFactory(phone_number="+254788000111")
    response = make_client(invitee).post(f"{URL}{invitation_id}/accept/")
    assert response.status_code == 200
    assert response.data["role"] == Role.SECRETARY
    before = _snapshot()
    response = make_client(treasurer).post(
        URL, {"group": group.id, "phone_number": "0788000222", "role": "CHAIRPERSON"}
    )
    assert response.status_code == 403
    assert _snapshot() == before
