"""Shared fixtures: API clients authenticated as a given user."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

# On CI (CI=true) property tests are derandomized: the same examples every run, so a red build is always
# reproducible. Locally they explore new random examples each run (and remember failures in .hypothesis/).
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    hypothesis_settings.load_profile("ci")


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def make_client():
    return client_for


@pytest.fixture(autouse=True)
def _isolated_cache():
    """Each test starts with an empty cache (throttle counters and cached lookups never leak between tests)."""
    from django.core.cache import cache

    def reset() -> None:
        if hasattr(cache, "delete_pattern"):  # django-redis: only this run's key prefix, never FLUSHDB
            cache.delete_pattern("*")
        else:
            cache.clear()

    reset()
    yield
    reset()


@pytest.fixture
def on_postgres():
    """Skip the test unless the database is PostgreSQL (row locks, SKIP LOCKED, real concurrency)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL=postgres://...)")
