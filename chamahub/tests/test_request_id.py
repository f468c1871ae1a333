"""Every response carries an X-Request-ID (the caller's if safe, else a new one), and log records carry it."""

from __future__ import annotations

import logging
import re

import pytest
from rest_framework.test import APIClient

from chamahub.middleware import RequestIDLogFilter

pytestmark = [pytest.mark.django_db, pytest.mark.urls("chamahub.tests.urls")]

GENERATED = re.compile(r"^[0-9a-f]{32}$")


def test_a_safe_incoming_request_id_is_echoed(api_client):
    response = api_client.get("/health/", HTTP_X_REQUEST_ID="req-2024.11_abc")

    assert response["X-Request-ID"] == "req-2024.11_abc"


def test_a_request_id_is_generated_when_absent_and_differs_per_request(api_client):
    first = api_client.get("/health/")["X-Request-ID"]
    second = api_client.get("/health/")["X-Request-ID"]

    assert GENERATED.match(first)
    assert GENERATED.match(second)
    assert first != second


@pytest.mark.parametrize(
    "unsafe",
    ["", "has space", "x" * 129, "<script>", "a\tb", "id;rm -rf"],
)
def test_an_unsafe_incoming_request_id_is_replaced(api_client, unsafe):
    response = api_client.get("/health/", HTTP_X_REQUEST_ID=unsafe)

    assert GENERATED.match(response["X-Request-ID"])


@pytest.mark.parametrize(
    ("url", "status"),
    [("/api/v1/no-such-thing/", 404), ("/api/v1/_test/private/", 401), ("/api/v1/_test/boom/", 500)],
)
def test_error_responses_carry_the_request_id(url, status):
    client = APIClient(raise_request_exception=False)

    response = client.get(url, HTTP_X_REQUEST_ID="trace-123")

    assert response.status_code == status
    assert response["X-Request-ID"] == "trace-123"


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(RequestIDLogFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def log_records():
    handler = ListHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler.records
    root.removeHandler(handler)


def test_log_records_written_during_a_request_carry_its_id(log_records):
    client = APIClient(raise_request_exception=False)

    client.get("/api/v1/_test/boom/", HTTP_X_REQUEST_ID="trace-456")

    by_logger = {record.name: record for record in log_records}
    assert by_logger["chamahub.tests"].getMessage() == "about to fail"
    assert by_logger["chamahub.tests"].request_id == "trace-456"
    assert by_logger["django.request"].request_id == "trace-456"  # Django's own error log for the 500
    assert by_logger["chamahub.request"].request_id == "trace-456"


def test_log_records_outside_a_request_get_a_placeholder(log_records):
    logging.getLogger("chamahub.tests").warning("no request here")

    assert log_records[-1].request_id == "-"
