"""
Domain events through the transactional outbox: written in the caller's transaction, delivered after
commit at least once to every handler, each handler's success recorded so a redelivery skips it.
Handlers here subscribe to event names used by no app ("test.events.*").
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from django.db import connection, transaction
from django.test import override_settings

from chamahub import events
from chamahub.celery import app as celery_app
from chamahub.models import EventDelivery, OutboxEvent
from chamahub.tasks import outbox_relay_task
from chamahub.tests.support import HungServer

calls: Counter = Counter()
_calls_lock = threading.Lock()
failures_left: Counter = Counter()


def _record(handler: str, event: events.Event) -> None:
    with _calls_lock:
        calls[(handler, event.id)] += 1


@events.subscribe("test.events.happened")
def first_handler(event: events.Event) -> None:
    _record("first", event)


@events.subscribe("test.events.happened")
def second_handler(event: events.Event) -> None:
    _record("second", event)


@events.subscribe("test.events.flaky")
def flaky_handler(event: events.Event) -> None:
    _record("flaky", event)
    if failures_left["flaky"] > 0:
        failures_left["flaky"] -= 1
        raise RuntimeError("downstream unavailable")


@events.subscribe("test.events.flaky")
def steady_handler(event: events.Event) -> None:
    _record("steady", event)


@events.subscribe("test.events.slow")
def slow_handler(event: events.Event) -> None:
    _record("slow", event)
    time.sleep(0.05)  # widen the window in which a second dispatcher could pick the same event


@pytest.fixture(autouse=True)
def _reset_counters():
    calls.clear()
    failures_left.clear()


def handler_id(func) -> str:
    return f"{func.__module__}.{func.__qualname__}"


@pytest.mark.django_db
def test_an_event_published_in_a_rolled_back_transaction_never_exists(django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        events.publish("test.events.happened", {"n": 1}, group_id=7)
        raise RuntimeError("the business change failed")

    assert callbacks == []
    assert not OutboxEvent.objects.filter(name="test.events.happened").exists()
    assert sum(calls.values()) == 0


@pytest.mark.django_db
def test_a_committed_event_is_delivered_once_to_each_handler(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        event_id = events.publish("test.events.happened", {"contribution_id": 42}, group_id=7)
        assert sum(calls.values()) == 0  # nothing runs before the commit

    assert len(callbacks) == 1
    assert calls == Counter({("first", event_id): 1, ("second", event_id): 1})
    row = OutboxEvent.objects.get(id=event_id)
    assert row.dispatched_at is not None
    assert row.payload == {"contribution_id": 42}
    assert row.group_id == 7
    assert set(EventDelivery.objects.filter(event_id=event_id).values_list("handler", flat=True)) == {
        handler_id(first_handler),
        handler_id(second_handler),
    }

    # Dispatching again (a beat tick, a redelivered task) changes nothing.
    assert events.outbox_dispatch() == 0
    assert calls == Counter({("first", event_id): 1, ("second", event_id): 1})


@pytest.mark.django_db
def test_a_payload_that_is_not_json_is_refused_at_publish_time():
    with pytest.raises(TypeError):
        events.publish("test.events.happened", {"when": object()})
    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db
def test_a_failing_handler_is_retried_on_the_next_dispatch_and_the_others_are_not_rerun(
    django_capture_on_commit_callbacks,
):
    failures_left["flaky"] = 1
    with django_capture_on_commit_callbacks(execute=True):
        event_id = events.publish("test.events.flaky", {"n": 1})

    row = OutboxEvent.objects.get(id=event_id)
    assert row.dispatched_at is None
    assert row.attempts == 1
    assert "downstream unavailable" in row.last_error
    assert list(EventDelivery.objects.filter(event_id=event_id).values_list("handler", flat=True)) == [
        handler_id(steady_handler)
    ]

    assert events.outbox_dispatch() == 1

    assert calls == Counter({("flaky", event_id): 2, ("steady", event_id): 1})
    row.refresh_from_db()
    assert row.dispatched_at is not None
    assert row.attempts == 2
    assert row.last_error == ""


@pytest.mark.django_db
@override_settings(OUTBOX_MAX_ATTEMPTS=2)
def test_an_event_whose_handler_keeps_failing_stops_after_max_attempts(django_capture_on_commit_callbacks):
    failures_left["flaky"] = 99
    with django_capture_on_commit_callbacks(execute=True):
        event_id = events.publish("test.events.flaky", {"n": 1})
    events.outbox_dispatch()
    events.outbox_dispatch()

    assert calls[("flaky", event_id)] == 2
    row = OutboxEvent.objects.get(id=event_id)
    assert row.dispatched_at is None  # left for an operator: visible in the admin with its last error
    assert row.attempts == 2


@pytest.mark.django_db
@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_a_handler_already_delivered_is_skipped_on_redelivery():
    """A dispatcher crashed after `first` succeeded but before the event was marked dispatched."""
    event_id = events.publish("test.events.happened", {"n": 1})
    EventDelivery.objects.create(event_id=event_id, handler=handler_id(first_handler))

    assert events.outbox_dispatch() == 1

    assert calls == Counter({("second", event_id): 1})
    assert EventDelivery.objects.filter(event_id=event_id).count() == 2


@pytest.fixture
def hung_broker(monkeypatch):
    """Point the Celery app at a broker that accepts connections and never answers."""
    server = HungServer()
    monkeypatch.setattr(celery_app.conf, "broker_url", server.url)
    monkeypatch.setattr(celery_app, "_pool", None)
    yield server
    server.close()


@pytest.mark.django_db
@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_with_a_broker_publish_neither_dispatches_in_process_nor_touches_the_broker(
    hung_broker, django_capture_on_commit_callbacks
):
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        event_id = events.publish("test.events.happened", {"n": 1}, group_id=3)
    elapsed = time.monotonic() - started

    assert callbacks == []
    assert sum(calls.values()) == 0
    assert hung_broker.accepted == []  # not a single connection to the broker
    assert elapsed < 0.5
    assert OutboxEvent.objects.get(id=event_id).dispatched_at is None

    # Later, the beat-driven relay (run here as the worker would run it) delivers the event.
    assert outbox_relay_task() == 1
    assert calls == Counter({("first", event_id): 1, ("second", event_id): 1})
    assert OutboxEvent.objects.get(id=event_id).dispatched_at is not None


@pytest.mark.django_db(transaction=True)
@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_concurrent_dispatchers_deliver_each_event_exactly_once(on_postgres):
    event_ids = [events.publish("test.events.slow", {"n": n}) for n in range(8)]
    workers = 4
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def dispatcher() -> None:
        try:
            barrier.wait(timeout=5)
            events.outbox_dispatch()
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert errors == []
    assert calls == Counter({("slow", event_id): 1 for event_id in event_ids})
    assert EventDelivery.objects.filter(event_id__in=event_ids).count() == len(event_ids)
    assert not OutboxEvent.objects.filter(id__in=event_ids, dispatched_at__isnull=True).exists()
