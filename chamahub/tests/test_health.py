"""GET /health/: JSON status of database, cache and broker; 503 when the database is unreachable."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
from django.test import override_settings

from chamahub.tests.support import HungServer, ServedApp, clean_env, closed_port


@pytest.mark.django_db
def test_health_reports_every_dependency_and_needs_no_token(api_client):
    response = api_client.get("/health/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert body["cache"]["status"] == "ok"
    assert body["broker"]["status"] == "ok"
    assert response["X-Request-ID"]


@pytest.mark.django_db
def test_health_reports_a_hung_broker_as_down_quickly_and_stays_200(api_client):
    hung = HungServer()
    try:
        with override_settings(CELERY_TASK_ALWAYS_EAGER=False, CELERY_BROKER_URL=hung.url):
            started = time.monotonic()
            response = api_client.get("/health/")
            elapsed = time.monotonic() - started
    finally:
        hung.close()

    assert response.status_code == 200  # the database is fine: degraded, not down
    body = response.json()
    assert body["status"] == "degraded"
    assert body["broker"]["status"] == "down"
    assert elapsed < 2.5
    assert len(hung.accepted) == 1  # one attempt, no retries


def test_health_answers_503_when_the_database_is_unreachable():
    """A real server process whose DATABASE_URL points at a closed PostgreSQL port; no mocks."""
    env = clean_env(
        DJANGO_SETTINGS_MODULE="chamahub.settings.test",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{closed_port()}/chamahub",
    )
    app = ServedApp(env)
    try:
        started = time.monotonic()
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"http://127.0.0.1:{app.port}/health/", timeout=10)
        elapsed = time.monotonic() - started
        error = caught.value
        body = json.loads(error.read())
    finally:
        app.stop()

    assert error.code == 503
    assert error.headers["Content-Type"].startswith("application/json")
    assert error.headers["X-Request-ID"]
    assert body["status"] == "down"
    assert body["database"]["status"] == "down"
    assert body["database"]["error"] == "OperationalError"
    assert elapsed < 5
