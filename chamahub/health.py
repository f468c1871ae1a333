"""GET /health/: status of the database, cache and broker. 503 when the database is unreachable."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


def _check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"status": "ok", "vendor": connection.vendor}
    except Exception as exc:  # any driver error means "down"
        return {"status": "down", "error": exc.__class__.__name__}


def _check_cache() -> dict:
    try:
        key = "health:probe"
        cache.set(key, "1", 5)
        ok = cache.get(key) == "1"
        return {
            "status": "ok" if ok else "degraded",
            "backend": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1],
        }
    except Exception as exc:
        return {"status": "down", "error": exc.__class__.__name__}


def _check_broker() -> dict:
    """Ping the broker with a 1 s budget and no retries. Eager mode (no broker) is always "ok"."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"status": "ok", "mode": "eager (in-process)"}
    url = settings.CELERY_BROKER_URL
    try:
        if url.startswith(("redis://", "rediss://", "unix://")):
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            client = redis.Redis.from_url(
                url, socket_timeout=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0), retry_on_timeout=False
            )
            try:
                client.ping()
            finally:
                client.close()
        else:
            from kombu import Connection

            with Connection(url, connect_timeout=1) as conn:
                conn.ensure_connection(max_retries=1, timeout=1)
        return {"status": "ok", "mode": "broker"}
    except Exception as exc:
        return {"status": "down", "mode": "broker", "error": exc.__class__.__name__}


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(
        operation_id="health",
        responses={
            (200, "application/json"): inline_serializer(
                "Health",
                {
                    "status": serializers.CharField(),
                    "database": serializers.DictField(),
                    "cache": serializers.DictField(),
                    "broker": serializers.DictField(),
                    "duration_ms": serializers.FloatField(),
                },
            ),
            (503, "application/json"): inline_serializer(
                "HealthDown",
                {"status": serializers.CharField(), "database": serializers.DictField()},
            ),
        },
    )
    def get(self, request):
        started = time.monotonic()
        database = _check_database()
        body = {"status": "ok", "database": database, "cache": _check_cache(), "broker": _check_broker()}
        if database["status"] != "ok":
            body["status"] = "down"
        elif body["cache"]["status"] != "ok" or body["broker"]["status"] != "ok":
            body["status"] = "degraded"
        body["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
        return Response(body, status=503 if database["status"] != "ok" else 200)
