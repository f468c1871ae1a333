"""POST users/register/: 201 {user, tokens}; every bad input is a 400 field error that writes nothing."""

import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.models import User
from accounts.tests.helpers import ME, assert_error, bearer, make_user
from chamahub.models import OutboxEvent

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/accounts/users/register/"
USER_FIELDS = {
    "id",
    "email",
    "first_name",
    "last_name",
    "full_name",
    "phone_number",
    "id_number",
    "kra_pin",
    "kyc_status",
    "kyc_verified",
    "kyc_verified_at",
    "is_kyc_complete",
    "profile_picture",
    "credit_score",
    "date_of_birth",
    "address",
    "is_active",
    "is_staff",
    "created_at",
    "updated_at",
}


def payload(**overrides):
    data = {
        "email": "Wanjiku.Kamau@Example.com",
        "password": "Harambee!2024",
        "password_confirm": "Harambee!2024",
        "first_name": "Wanjiku",
        "last_name": "Kamau",
        "phone_number": "0712345678",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_register_returns_user_and_working_tokens():
    response = APIClient().post(REGISTER, payload(), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"user", "tokens"}
    assert set(body["user"]) == USER_FIELDS
    assert body["user"]["phone_number"] == "+254712345678"
    assert body["user"]["email"] == "wanjiku.kamau@example.com"
    assert body["user"]["full_name"] == "Wanjiku Kamau"
    assert body["user"]["kyc_status"] == "UNVERIFIED"
    assert body["user"]["kyc_verified"] is False
    assert body["user"]["profile_picture"] is None
    assert body["user"]["is_staff"] is False
    user = User.objects.get()
    assert user.check_password("Harambee!2024")
    assert OutboxEvent.objects.filter(name="user.registered", payload__user_id=user.pk).count() == 1

    me = bearer(body["tokens"]["access"]).get(ME)
    assert me.status_code == 200
    assert me.json()["id"] == user.pk
    refreshed = APIClient().post("/api/v1/token/refresh/", {"refresh": body["tokens"]["refresh"]}, format="json")
    assert refreshed.status_code == 200


@pytest.mark.parametrize("phone", ["0712345678", "254712345678", "+254 712 345 678"])
def test_register_normalises_every_common_phone_form(phone):
    response = APIClient().post(REGISTER, payload(phone_number=phone), format="json")
    assert response.status_code == 201, response.json()
    assert User.objects.get().phone_number == "+254712345678"


def test_email_is_optional():
    response = APIClient().post(REGISTER, payload(email=None), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["user"]["email"] is None
    blank = APIClient().post(REGISTER, payload(email="", phone_number="0722000111"), format="json")
    assert blank.status_code == 201, blank.json()
    assert User.objects.filter(email__isnull=True).count() == 2


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"phone_number": "12345"}, "phone_number"),
        ({"phone_number": "0712abc678"}, "phone_number"),
        ({"phone_number": ""}, "phone_number"),
        ({"phone_number": None}, "phone_number"),
        ({"phone_number": "+254 700 000 001"}, "phone_number"),  # taken, written differently
        ({"email": "TAKEN@example.com"}, "email"),  # taken, other case
        ({"email": "not-an-email"}, "email"),
        ({"password_confirm": "Harambee!2025"}, "password_confirm"),
        ({"password": "password", "password_confirm": "password"}, "password"),
        ({"password": "12345678901", "password_confirm": "12345678901"}, "password"),
        ({"password": "Ab1!", "password_confirm": "Ab1!"}, "password"),
        ({"password": None}, "password"),
        ({"first_name": ""}, "first_name"),
        ({"last_name": None}, "last_name"),
    ],
)
def test_bad_input_is_a_field_error_and_writes_nothing(overrides, field):
    make_user(phone_number="+254700000001", email="taken@example.com")
    users_before = User.objects.count()
    tokens_before = OutstandingToken.objects.count()

    response = APIClient().post(REGISTER, payload(**overrides), format="json")

    assert_error(response, 400, field)
    assert User.objects.count() == users_before
    assert OutstandingToken.objects.count() == tokens_before
    assert not OutboxEvent.objects.filter(name="user.registered").exists()


def test_all_field_errors_are_reported_together():
    make_user(phone_number="+254700000001", email="taken@example.com")
    response = APIClient().post(
        REGISTER,
        payload(phone_number="0700000001", email="taken@example.com", password="password", password_confirm="password"),
        format="json",
    )
    body = assert_error(response, 400)
    assert {"phone_number", "email", "password"} <= set(body["fields"])


def test_password_similar_to_the_name_is_refused():
    response = APIClient().post(
        REGISTER,
        payload(
            first_name="Nyambura", email="nyambura@example.com", password="nyambura1", password_confirm="nyambura1"
        ),
        format="json",
    )
    assert_error(response, 400, "password")
    assert not User.objects.exists()


def test_register_is_throttled(monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth": "2/min"})
    client = APIClient()
    for _ in range(2):
        assert client.post(REGISTER, payload(phone_number="12"), format="json").status_code == 400
    body = assert_error(client.post(REGISTER, payload(), format="json"), 429)
    assert body["code"] == "throttled"
    assert not User.objects.exists()
