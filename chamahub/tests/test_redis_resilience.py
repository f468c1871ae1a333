"""
Every Redis client has short socket timeouts and no automatic retries: with Redis hung or down, cache
reads and writes become misses within a couple of seconds and never fail the request.
A "hung Redis" here is a real TCP server that accepts connections and never answers.
"""

from __future__ import annotations

import socket
import time
import uuid

import pytest
from django.conf import settings
from django_redis.cache import RedisCache
from redis.backoff import NoBackoff
from redis.retry import Retry

from chamahub.tests.support import HungServer, closed_port


def redis_cache(location: str, **pool_overrides) -> RedisCache:
    """A django-redis cache built with exactly the project's options (settings.REDIS_CACHE_OPTIONS)."""
    options = {**settings.REDIS_CACHE_OPTIONS}
    options["CONNECTION_POOL_KWARGS"] = {**options["CONNECTION_POOL_KWARGS"], **pool_overrides}
    return RedisCache(location, {"OPTIONS": options, "KEY_PREFIX": f"t-{uuid.uuid4().hex[:8]}"})


@pytest.fixture
def hung_redis():
    server = HungServer()
    yield server
    server.close()


def timed(func, *args, **kwargs):
    started = time.monotonic()
    result = func(*args, **kwargs)
    return result, time.monotonic() - started


def test_cache_on_a_hung_redis_misses_fast_without_raising(hung_redis):
    cache = redis_cache(hung_redis.url)

    value, get_seconds = timed(cache.get, "member:1", "fallback")
    _, set_seconds = timed(cache.set, "member:1", "x", 30)
    many, many_seconds = timed(cache.get_many, ["a", "b"])

    assert value == "fallback"
    assert many == {}
    assert get_seconds < 2
    assert set_seconds < 2
    assert many_seconds < 2
    # One connection per operation: redis-py retried nothing (its client default would retry 10 times).
    assert len(hung_redis.accepted) == 3


def test_a_retry_policy_would_multiply_the_wait(hung_redis):
    """
    The measurement behind the setting. redis-py retries both the command and, inside it, the connect:
    with its client default (10 retries) one miss on a hung Redis took over a minute here. One retry
    already costs about four socket timeouts instead of one.
    """
    no_retry_cache = redis_cache(hung_redis.url)  # django-redis caches pools per URL: use distinct dbs
    retrying_cache = redis_cache(hung_redis.url.replace("/0", "/1"), retry=Retry(NoBackoff(), 1))

    _, plain_seconds = timed(no_retry_cache.get, "k")
    connections_after_plain = len(hung_redis.accepted)
    _, retried_seconds = timed(retrying_cache.get, "k")

    assert connections_after_plain == 1
    assert plain_seconds < 1.5
    assert retried_seconds > 2.5 * plain_seconds
    assert len(hung_redis.accepted) > 2


def test_cache_on_a_dead_redis_misses_immediately():
    cache = redis_cache(f"redis://127.0.0.1:{closed_port()}/0")

    value, seconds = timed(cache.get, "k")
    _, set_seconds = timed(cache.set, "k", "v", 10)

    assert value is None
    assert seconds < 1
    assert set_seconds < 1


def _real_redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.3):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _real_redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_cache_round_trip_on_the_real_redis():
    cache = redis_cache("redis://127.0.0.1:6379/0")

    cache.set("answer", {"value": 42}, 30)
    try:
        assert cache.get("answer") == {"value": 42}
        assert cache.add("answer-counter", 0, 30) is True
        assert cache.incr("answer-counter") == 1
    finally:
        cache.delete_many(["answer", "answer-counter"])
    assert cache.get("answer") is None
