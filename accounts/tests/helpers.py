"""Small helpers shared by the accounts API tests."""

from __future__ import annotations

from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory

PASSWORD = "Passw0rd!234"
ME = "/api/v1/accounts/users/me/"
USERS = "/api/v1/accounts/users/"
TOKEN = "/api/v1/token/"
REFRESH = "/api/v1/token/refresh/"


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def login(login_value: str, password: str = PASSWORD, *, field: str = "phone_number") -> dict:
    response = APIClient().post(TOKEN, {field: login_value, "password": password}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def make_user(**kwargs):
    return UserFactory(**kwargs)


def assert_error(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "fields"}, body
    if field is not None:
        assert field in body["fields"], body
        assert body["fields"][field] and all(isinstance(m, str) and m for m in body["fields"][field])
    return body
