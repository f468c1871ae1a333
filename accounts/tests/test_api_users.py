"""users/me and users/{id}: profile reads and edits, visibility (self only, staff everyone), deactivation."""

from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import KYCStatus, User
from accounts.tests.helpers import ME, REFRESH, USERS, assert_error, bearer, login, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return make_user(phone_number="+254712345678", email="otieno@example.com")


def years_ago(years: int, days: int = 0) -> date:
    today = timezone.localdate()
    if (today.month, today.day) == (2, 29):
        today -= timedelta(days=1)
    return today.replace(year=today.year - years) - timedelta(days=days)


def test_me_returns_the_callers_profile(user, make_client):
    body = make_client(user).get(ME).json()
    assert body["id"] == user.pk
    assert body["phone_number"] == "+254712345678"
    assert body["kyc_verified"] is False
    assert body["is_kyc_complete"] is False
    assert body["profile_picture"] is None
    assert body["full_name"] == user.get_full_name()


def test_me_needs_authentication():
    body = assert_error(APIClient().get(ME), 401)
    assert body["code"] == "not_authenticated"
    assert_error(APIClient().get(USERS), 401)
    assert_error(APIClient().patch(ME, {"first_name": "X"}, format="json"), 401)


def test_patch_me_updates_and_normalises_fields(user, make_client):
    dob = years_ago(30)
    response = make_client(user).patch(
        ME,
        {
            "first_name": " Achieng ",
            "phone_number": "+254 722 000 111",
            "email": "Achieng@Example.com",
            "id_number": "12345678",
            "kra_pin": "a123456789b",
            "date_of_birth": dob.isoformat(),
            "address": "Kisumu",
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["first_name"] == "Achieng"
    assert body["phone_number"] == "+254722000111"
    assert body["email"] == "achieng@example.com"
    assert body["kra_pin"] == "A123456789B"
    assert body["is_kyc_complete"] is True
    user.refresh_from_db()
    assert (user.phone_number, user.date_of_birth, user.address) == ("+254722000111", dob, "Kisumu")


def test_patch_me_ignores_read_only_fields(user, make_client):
    response = make_client(user).patch(
        ME, {"is_staff": True, "is_active": False, "kyc_status": KYCStatus.VERIFIED, "last_name": "Odhiambo"}
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert (user.is_staff, user.is_active, user.kyc_status) == (False, True, KYCStatus.UNVERIFIED)
    assert user.last_name == "Odhiambo"


def test_patch_me_can_clear_the_email(user, make_client):
    assert make_client(user).patch(ME, {"email": ""}, format="json").json()["email"] is None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"phone_number": "0712abc678"}, "phone_number"),
        ({"phone_number": "0700 000 002"}, "phone_number"),  # someone else's
        ({"email": "OTHER@example.com"}, "email"),  # someone else's, other case
        ({"email": "nope"}, "email"),
        ({"first_name": ""}, "first_name"),
        ({"date_of_birth": (timezone.localdate() + timedelta(days=1)).isoformat()}, "date_of_birth"),
        ({"date_of_birth": years_ago(18, days=-1).isoformat()}, "date_of_birth"),  # 18 tomorrow
        ({"date_of_birth": "1899-12-31"}, "date_of_birth"),
        ({"date_of_birth": "31/12/1990"}, "date_of_birth"),
        ({"kra_pin": "123"}, "kra_pin"),
        ({"id_number": "12 ab$"}, "id_number"),
    ],
)
def test_patch_me_bad_input_is_a_field_error_and_changes_nothing(user, make_client, data, field):
    make_user(phone_number="+254700000002", email="other@example.com")
    before = User.objects.values().get(pk=user.pk)
    assert_error(make_client(user).patch(ME, data, format="json"), 400, field)
    assert User.objects.values().get(pk=user.pk) == before


def test_patch_me_accepts_exactly_eighteen(user, make_client):
    response = make_client(user).patch(ME, {"date_of_birth": years_ago(18).isoformat()}, format="json")
    assert response.status_code == 200, response.json()


def test_put_me_requires_the_full_profile(user, make_client):
    assert_error(make_client(user).put(ME, {"first_name": "A"}, format="json"), 400, "phone_number")
    response = make_client(user).put(
        ME, {"first_name": "A", "last_name": "B", "phone_number": "0712345678"}, format="json"
    )
    assert response.status_code == 200, response.json()


def test_non_staff_see_only_themselves(user, make_client):
    other = make_user()
    client = make_client(user)

    listed = client.get(USERS).json()
    assert [row["id"] for row in listed["results"]] == [user.pk]
    assert client.get(f"{USERS}{user.pk}/").status_code == 200
    assert_error(client.get(f"{USERS}{other.pk}/"), 404)


def test_another_users_record_cannot_be_changed_or_deactivated(user, make_client):
    other = make_user()
    before = User.objects.values().get(pk=other.pk)
    client = make_client(user)
    assert_error(client.patch(f"{USERS}{other.pk}/", {"first_name": "Hacked"}, format="json"), 404)
    assert_error(
        client.put(
            f"{USERS}{other.pk}/", {"first_name": "H", "last_name": "H", "phone_number": "0733000000"}, format="json"
        ),
        404,
    )
    assert_error(client.delete(f"{USERS}{other.pk}/"), 404)
    assert User.objects.values().get(pk=other.pk) == before


def test_self_patch_by_id_follows_the_me_rules(user, make_client):
    response = make_client(user).patch(f"{USERS}{user.pk}/", {"last_name": "Ouma", "is_staff": True}, format="json")
    assert response.status_code == 200, response.json()
    user.refresh_from_db()
    assert (user.last_name, user.is_staff) == ("Ouma", False)


def test_staff_see_everyone_and_can_search(make_client):
    staff = make_user(is_staff=True)
    target = make_user(phone_number="+254733111222", first_name="Mwangi")
    client = make_client(staff)
    assert client.get(USERS).json()["count"] == 2
    results = client.get(USERS, {"search": "+254733111"}).json()["results"]
    assert [row["id"] for row in results] == [target.pk]
    assert client.get(f"{USERS}{target.pk}/").status_code == 200
    assert client.get(USERS, {"is_staff": "true"}).json()["count"] == 1
    ordered = client.get(USERS, {"ordering": "created_at"}).json()["results"]
    assert [row["id"] for row in ordered] == [staff.pk, target.pk]


def test_staff_can_deactivate_and_promote_and_deactivation_revokes_tokens(make_client):
    staff = make_user(is_staff=True)
    target = make_user()
    tokens = login(target.phone_number)
    client = make_client(staff)

    response = client.patch(f"{USERS}{target.pk}/", {"is_active": False}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["is_active"] is False
    assert_error(bearer(tokens["access"]).get(ME), 401)
    assert_error(APIClient().post(REFRESH, {"refresh": tokens["refresh"]}, format="json"), 401)

    assert client.patch(f"{USERS}{target.pk}/", {"is_staff": True, "is_active": True}, format="json").status_code == 200
    target.refresh_from_db()
    assert (target.is_staff, target.is_active) == (True, True)


def test_delete_self_deactivates_and_revokes(user):
    tokens = login(user.phone_number)
    response = bearer(tokens["access"]).delete(f"{USERS}{user.pk}/")
    assert response.status_code == 204
    user.refresh_from_db()
    assert user.is_active is False
    assert User.objects.filter(pk=user.pk).exists()
    assert_error(bearer(tokens["access"]).get(ME), 401)
    assert_error(APIClient().post(REFRESH, {"refresh": tokens["refresh"]}, format="json"), 401)


def test_staff_can_deactivate_anyone(make_client):
    staff = make_user(is_staff=True)
    target = make_user()
    assert make_client(staff).delete(f"{USERS}{target.pk}/").status_code == 204
    target.refresh_from_db()
    assert target.is_active is False


@pytest.mark.parametrize("params", [{}, {"search": "example.com", "ordering": "last_name", "is_active": "true"}])
def test_user_list_query_count_does_not_grow_with_rows(make_client, params):
    staff = make_user(is_staff=True)
    client = make_client(staff)

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(USERS, {"page_size": 100, **params})
            assert response.status_code == 200
            assert response.json()["count"] == User.objects.count()
        return len(ctx.captured_queries)

    for _ in range(4):
        make_user()
    small = count_queries()
    for _ in range(20):
        make_user()
    assert count_queries() == small


def test_legacy_profile_page_multipart_patch_is_accepted(user, make_client):
    """The old web client PATCHes users/me/ as multipart, with blank optional fields and a picture file."""
    picture = SimpleUploadedFile("me.png", b"\x89PNG\r\n\x1a\n", content_type="image/png")
    response = make_client(user).patch(
        ME,
        {"first_name": "Kiprop", "date_of_birth": "", "kra_pin": "", "email": user.email, "profile_picture": picture},
        format="multipart",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["first_name"] == "Kiprop"
    assert response.json()["profile_picture"] is None
    user.refresh_from_db()
    assert user.date_of_birth is None
