"""One error body for every 4xx and 5xx: {"code", "message", "fields": {field: [messages]}}."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = [pytest.mark.django_db, pytest.mark.urls("chamahub.tests.urls")]


def assert_error_body(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["fields"], dict)
    for messages in body["fields"].values():
        assert isinstance(messages, list)
        assert all(isinstance(m, str) for m in messages)
    if code is not None:
        assert body["code"] == code
    return body


def test_an_unknown_api_url_answers_a_json_404(api_client):
    body = assert_error_body(api_client.get("/api/v1/no-such-thing/"), 404, "not_found")
    assert body["fields"] == {}


def test_an_unauthenticated_call_answers_401_with_the_same_shape(api_client):
    response = api_client.get("/api/v1/_test/private/")

    assert_error_body(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_bad_token_answers_401_with_the_same_shape():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")

    assert_error_body(client.get("/api/v1/_test/private/"), 401, "token_not_valid")


def test_the_token_endpoint_with_an_empty_body_lists_the_missing_fields(api_client):
    body = assert_error_body(api_client.post("/api/v1/token/", {}, format="json"), 400, "invalid")

    assert "password" in body["fields"]


def test_nested_validation_errors_are_flattened_to_dotted_field_names(api_client):
    payload = {"description": "", "legs": [{"account": "CASH", "amount": "1.005"}, {"amount": "x"}], "meta": {"a": "b"}}

    body = assert_error_body(api_client.post("/api/v1/_test/validate/", payload, format="json"), 400, "invalid")

    assert set(body["fields"]) == {
        "description",
        "legs[0].amount",
        "legs[1].account",
        "legs[1].amount",
        "meta.a",
    }
    assert body["message"] == "Invalid input."


def test_a_single_field_error_becomes_the_message(api_client):
    payload = {"description": "x", "legs": [{"account": "CASH", "amount": "-"}]}

    body = assert_error_body(api_client.post("/api/v1/_test/validate/", payload, format="json"), 400, "invalid")

    assert body["message"] == body["fields"]["legs[0].amount"][0]


def test_a_domain_error_keeps_its_status_code_and_fields(api_client):
    body = assert_error_body(api_client.post("/api/v1/_test/conflict/"), 409, "duplicate")

    assert body == {
        "code": "duplicate",
        "message": "Already approved.",
        "fields": {"approval": ["You approved this loan already."]},
    }


def test_a_django_validation_error_from_a_model_rule_is_a_400_not_a_500(api_client):
    body = assert_error_body(api_client.post("/api/v1/_test/model-rule/"), 400, "invalid")

    assert body["fields"] == {"amount": ["Ensure this value is greater than 0."]}


def test_a_wrong_method_answers_405_with_the_same_shape(api_client):
    assert_error_body(api_client.delete("/api/v1/_test/conflict/"), 405, "method_not_allowed")


@pytest.mark.parametrize("url", ["/api/v1/_test/boom/", "/_test/plain-boom/"])
def test_a_bug_answers_a_json_500_without_details(url):
    client = APIClient(raise_request_exception=False)

    body = assert_error_body(client.get(url), 500, "server_error")

    assert "a bug" not in body["message"]
