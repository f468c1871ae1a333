"""Password reset by one-time token: no user enumeration, hashed at rest, expiring, single use, revokes sessions."""

import hashlib
import logging
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import PasswordResetToken
from accounts.tests.helpers import ME, PASSWORD, REFRESH, TOKEN, assert_error, bearer, login, make_user

pytestmark = pytest.mark.django_db

REQUEST = "/api/v1/accounts/users/request_password_reset/"
VERIFY = "/api/v1/accounts/users/verify_reset_token/"
RESET = "/api/v1/accounts/users/reset_password/"
NEW_PASSWORD = "Sokoni#Mpya2025"


@pytest.fixture
def user():
    return make_user(phone_number="+254712345678", email="njeri@example.com")


def request_reset(data, capture):
    with capture(execute=True):
        return APIClient().post(REQUEST, data, format="json")


def mailed_token() -> str:
    assert len(mail.outbox) == 1
    match = re.search(r"reset code in the app: (\S+)", mail.outbox[0].body)
    assert match, mail.outbox[0].body
    return match.group(1)


def reset(token: str, password: str = NEW_PASSWORD, **extra):
    data = {"token": token, "new_password": password, "new_password_confirm": password, **extra}
    return APIClient().post(RESET, data, format="json")


def test_request_by_email_sends_a_token_stored_only_as_a_hash(user, django_capture_on_commit_callbacks):
    response = request_reset({"email": "NJERI@example.com"}, django_capture_on_commit_callbacks)

    assert response.status_code == 200
    assert set(response.json()) == {"message", "expires_in_minutes"}  # no token unless DEBUG
    assert mail.outbox[0].to == ["njeri@example.com"]
    raw = mailed_token()
    assert len(raw) >= 40
    stored = PasswordResetToken.objects.get(user=user)
    assert stored.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in str(PasswordResetToken.objects.values().get())
    ttl = stored.expires_at - stored.created_at
    assert timedelta(minutes=29) < ttl <= timedelta(minutes=30, seconds=1)


def test_unknown_email_answers_the_same_and_sends_nothing(user, django_capture_on_commit_callbacks):
    known = request_reset({"email": "njeri@example.com"}, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    unknown = request_reset({"email": "nobody@example.com"}, django_capture_on_commit_callbacks)

    assert unknown.status_code == 200
    assert unknown.json() == known.json()
    assert mail.outbox == []
    assert PasswordResetToken.objects.count() == 1


def test_inactive_user_gets_no_token(user, django_capture_on_commit_callbacks):
    user.is_active = False
    user.save()
    assert request_reset({"email": user.email}, django_capture_on_commit_callbacks).status_code == 200
    assert mail.outbox == []
    assert not PasswordResetToken.objects.exists()


def test_request_by_phone_for_a_phone_only_user_logs_that_sms_is_not_configured(
    django_capture_on_commit_callbacks, caplog
):
    phone_only = make_user(phone_number="+254722000111", email=None)
    with caplog.at_level(logging.WARNING, logger="accounts.services"):
        response = request_reset({"phone_number": "0722 000 111"}, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert PasswordResetToken.objects.filter(user=phone_only).count() == 1
    assert mail.outbox == []
    assert "SMS delivery is not configured" in caplog.text


@pytest.mark.parametrize(("data", "field"), [({}, "email"), ({"email": "not-an-email"}, "email")])
def test_request_needs_an_email_or_phone(data, field):
    assert_error(APIClient().post(REQUEST, data, format="json"), 400, field)
    assert not PasswordResetToken.objects.exists()


def test_debug_mode_returns_the_token(user, settings, django_capture_on_commit_callbacks):
    settings.DEBUG = True
    response = request_reset({"email": user.email}, django_capture_on_commit_callbacks)
    assert response.json()["token"] == mailed_token()
    unknown = request_reset({"email": "nobody@example.com"}, django_capture_on_commit_callbacks)
    assert "token" not in unknown.json()


def test_verify_reset_token(user, django_capture_on_commit_callbacks):
    request_reset({"email": user.email}, django_capture_on_commit_callbacks)
    raw = mailed_token()

    valid = APIClient().post(VERIFY, {"token": raw, "uid": "ignored"}, format="json").json()
    assert valid["valid"] is True
    assert valid["expires_at"]
    assert APIClient().post(VERIFY, {"token": "nope"}, format="json").json() == {"valid": False, "expires_at": None}


def test_reset_works_once_and_revokes_every_older_token(user, django_capture_on_commit_callbacks):
    session = login(user.phone_number)
    request_reset({"email": user.email}, django_capture_on_commit_callbacks)
    raw = mailed_token()

    response = reset(raw, uid="MQ")  # legacy clients also send uid; it is ignored
    assert response.status_code == 200, response.json()
    assert set(response.json()) == {"message"}

    login(user.phone_number, NEW_PASSWORD)
    assert_error(APIClient().post(TOKEN, {"email": user.email, "password": PASSWORD}, format="json"), 401)
    assert_error(bearer(session["access"]).get(ME), 401)
    assert_error(APIClient().post(REFRESH, {"refresh": session["refresh"]}, format="json"), 401)

    again = reset(raw, "Another#Pass2026")
    assert_error(again, 400, "token")
    login(user.phone_number, NEW_PASSWORD)
    assert APIClient().post(VERIFY, {"token": raw}, format="json").json()["valid"] is False


def test_expired_token_fails(user, django_capture_on_commit_callbacks):
    request_reset({"email": user.email}, django_capture_on_commit_callbacks)
    raw = mailed_token()
    PasswordResetToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert_error(reset(raw), 400, "token")
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_unknown_token_fails():
    assert_error(reset("made-up-token"), 400, "token")


def test_a_new_request_invalidates_the_older_token(user, django_capture_on_commit_callbacks):
    request_reset({"email": user.email}, django_capture_on_commit_callbacks)
    first = mailed_token()
    mail.outbox.clear()
    request_reset({"email": user.email}, django_capture_on_commit_callbacks)
    second = mailed_token()

    assert_error(reset(first), 400, "token")
    assert reset(second).status_code == 200


@pytest.mark.parametrize(
    ("password", "confirm", "field"),
    [("password", "password", "new_password"), (NEW_PASSWORD, "Different#2025", "new_password_confirm")],
)
def test_bad_new_password_writes_nothing_and_keeps_the_token_usable(
    user, django_capture_on_commit_callbacks, password, confirm, field
):
    request_reset({"email": user.email}, django_capture_on_commit_callbacks)
    raw = mailed_token()
    data = {"token": raw, "new_password": password, "new_password_confirm": confirm}

    assert_error(APIClient().post(RESET, data, format="json"), 400, field)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert PasswordResetToken.objects.get().used_at is None
    assert reset(raw).status_code == 200
