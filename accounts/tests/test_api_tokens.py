"""Token obtain (phone or email), strict refresh rotation, logout, and revocation on password change."""

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from accounts.tests.helpers import ME, PASSWORD, REFRESH, TOKEN, assert_error, bearer, login, make_user

pytestmark = pytest.mark.django_db

LOGOUT = "/api/v1/accounts/users/logout/"
CHANGE_PASSWORD = "/api/v1/accounts/users/change_password/"
NEW_PASSWORD = "Mabati!Roof#77"


def refresh(token: str):
    return APIClient().post(REFRESH, {"refresh": token}, format="json")


@pytest.fixture
def user():
    return make_user(phone_number="+254712345678", email="akinyi@example.com")


def test_obtain_by_email_any_case(user):
    tokens = login("Akinyi@Example.COM", field="email")
    assert bearer(tokens["access"]).get(ME).json()["id"] == user.pk


@pytest.mark.parametrize("phone", ["0712345678", "254712345678", "+254 712 345 678"])
def test_obtain_by_phone_in_every_form(user, phone):
    tokens = login(phone)
    assert set(tokens) == {"refresh", "access"}
    assert bearer(tokens["access"]).get(ME).json()["id"] == user.pk


def test_username_key_and_legacy_path_work(user):
    response = APIClient().post("/api/token/", {"username": "0712345678", "password": PASSWORD}, format="json")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"email": "akinyi@example.com", "password": "wrong-password"},
        {"phone_number": "0712345678", "password": "wrong-password"},
        {"email": "nobody@example.com", "password": PASSWORD},
        {"phone_number": "0799999999", "password": PASSWORD},
    ],
)
def test_bad_credentials_are_401_with_the_error_body(user, body):
    response = APIClient().post(TOKEN, body, format="json")
    error = assert_error(response, 401)
    assert error["code"] == "invalid_credentials"
    assert error["message"]
    assert error["fields"] == {}


def test_inactive_user_cannot_obtain_tokens(user):
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert_error(APIClient().post(TOKEN, {"email": user.email, "password": PASSWORD}, format="json"), 401)


def test_obtain_without_login_is_a_field_error():
    assert_error(APIClient().post(TOKEN, {"password": PASSWORD}, format="json"), 400, "phone_number")


def test_refresh_rotates_and_a_refresh_token_works_only_once(user):
    tokens = login("0712345678")

    first = refresh(tokens["refresh"])
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refresh"] != tokens["refresh"]
    assert bearer(rotated["access"]).get(ME).status_code == 200

    reused = refresh(tokens["refresh"])
    assert_error(reused, 401)
    assert refresh(rotated["refresh"]).status_code == 200


def test_refresh_with_garbage_is_401():
    assert_error(refresh("not-a-token"), 401)


def test_refresh_token_of_a_deactivated_user_is_401(user):
    tokens = login("0712345678")
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert_error(refresh(tokens["refresh"]), 401)


def test_refresh_token_from_before_a_password_change_is_refused_even_if_not_blacklisted(user):
    token = RefreshToken.for_user(user)
    user.set_password(NEW_PASSWORD)  # changed behind the services' back: no blacklist rows written
    user.save()
    assert_error(refresh(str(token)), 401)


def test_logout_blacklists_the_refresh_token(user):
    tokens = login("0712345678")
    response = bearer(tokens["access"]).post(LOGOUT, {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 200
    assert response.json() == {"message": "Logged out."}
    assert_error(refresh(tokens["refresh"]), 401)


def test_logout_refuses_another_users_refresh_token(user):
    other = make_user()
    other_tokens = login(other.phone_number)
    tokens = login("0712345678")
    response = bearer(tokens["access"]).post(LOGOUT, {"refresh": other_tokens["refresh"]}, format="json")
    assert_error(response, 400, "refresh")
    assert refresh(other_tokens["refresh"]).status_code == 200


def test_logout_needs_authentication():
    body = assert_error(APIClient().post(LOGOUT, {"refresh": "x"}, format="json"), 401)
    assert body["code"] == "not_authenticated"


def change_password(access: str, **overrides):
    data = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD}
    data.update(overrides)
    return bearer(access).post(CHANGE_PASSWORD, data, format="json")


def test_change_password_revokes_every_older_token_and_returns_new_ones(user):
    phone_session = login("0712345678")
    web_session = login("akinyi@example.com", field="email")

    response = change_password(phone_session["access"])

    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"message", "timestamp", "tokens"}
    for session in (phone_session, web_session):
        assert_error(bearer(session["access"]).get(ME), 401)
        assert_error(refresh(session["refresh"]), 401)
    # Besides the password-hash claim, every older refresh token is blacklisted outright.
    live = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
    assert list(live.values_list("token", flat=True)) == [body["tokens"]["refresh"]]
    assert bearer(body["tokens"]["access"]).get(ME).status_code == 200
    assert refresh(body["tokens"]["refresh"]).status_code == 200
    login("0712345678", NEW_PASSWORD)
    assert_error(APIClient().post(TOKEN, {"phone_number": "0712345678", "password": PASSWORD}, format="json"), 401)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"current_password": "wrong-password"}, "current_password"),
        ({"new_password_confirm": "Mabati!Roof#78"}, "new_password_confirm"),
        ({"new_password": "password", "new_password_confirm": "password"}, "new_password"),
        ({"new_password": PASSWORD, "new_password_confirm": PASSWORD}, "new_password"),
    ],
)
def test_change_password_bad_input_changes_nothing(user, overrides, field):
    tokens = login("0712345678")
    assert_error(change_password(tokens["access"], **overrides), 400, field)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert bearer(tokens["access"]).get(ME).status_code == 200
    assert refresh(tokens["refresh"]).status_code == 200


def test_change_password_needs_authentication():
    assert_error(APIClient().post(CHANGE_PASSWORD, {}, format="json"), 401)
