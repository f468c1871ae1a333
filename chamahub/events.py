"""
The in-project domain-event bus (transactional outbox).

Publish (inside a service, inside its transaction):

    from chamahub import events
    events.publish("contribution.confirmed", {"contribution_id": c.id, "amount": str(c.amount)}, group_id=c.group_id)

The event row is written in the caller's transaction: if the change rolls back, so does the event.
After commit it is dispatched:
- with no broker (REDIS_URL unset, the default), in-process right after the commit;
- with a broker, by the Celery beat task `outbox_relay_task` every few seconds. The request path
  never talks to the broker, so a broker outage delays events and loses none.

Subscribe (in an app's handlers.py, imported from AppConfig.ready()):

    @events.subscribe("contribution.confirmed")
    def award_points(event: events.Event) -> None:
        ...

Delivery is at least once: a handler may see the same event again after a crash, so handlers must
be idempotent (key their writes on the event id or a business id with a unique constraint). A
successful run is recorded in EventDelivery (handler id = "module.function") and is never repeated.
A handler that raises is retried on the next dispatch while the handlers that succeeded are not;
after OUTBOX_MAX_ATTEMPTS the event stays undispatched with its last_error, for an operator.

Rules: names are past tense "<entity>.<verb-ed>"; the payload is JSON (ids and strings, money as a
string), never model instances; pass group_id for every group-owned event (it is the distribution
key when the data is sharded by group); a handler must not assume which other handlers ran.

Rule of thumb: an effect that must not be missing once its cause commits (a ledger posting, an
audit record) is a direct service call in the same transaction; a lagging reaction (points,
notifications, score refresh, webhooks) subscribes to an event.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

logger = logging.getLogger(__name__)

_handlers: dict[str, list[tuple[str, Callable[[Event], None]]]] = defaultdict(list)


@dataclass(frozen=True)
class Event:
    id: int
    name: str
    group_id: int | None
    payload: dict[str, Any]


def subscribe(name: str) -> Callable[[Callable[[Event], None]], Callable[[Event], None]]:
    """Register `func` as a handler of the event `name` (past tense, e.g. "loan.disbursed")."""

    def decorator(func: Callable[[Event], None]) -> Callable[[Event], None]:
        handler_id = f"{func.__module__}.{func.__qualname__}"
        if handler_id not in [h for h, _ in _handlers[name]]:
            _handlers[name].append((handler_id, func))
        return func

    return decorator


def handlers_for(name: str) -> list[tuple[str, Callable[[Event], None]]]:
    return list(_handlers.get(name, []))


def publish(name: str, payload: dict[str, Any], *, group_id: int | None = None) -> int:
    """Write the event to the outbox in the current transaction; dispatch after commit."""
    from chamahub.models import OutboxEvent

    json.dumps(payload)  # fail loudly now if the payload is not JSON-serialisable
    event = OutboxEvent.objects.create(name=name, payload=payload, group_id=group_id)
    if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", True):
        transaction.on_commit(lambda: outbox_dispatch(event_ids=[event.id]), robust=True)
    return event.id


def outbox_dispatch(*, event_ids: list[int] | None = None, limit: int | None = None) -> int:
    """
    Deliver pending events to their handlers. Returns the number of events fully dispatched.
    Safe to run concurrently: each event is claimed with SELECT ... FOR UPDATE SKIP LOCKED.
    """
    from chamahub.models import EventDelivery, OutboxEvent

    limit = limit or settings.OUTBOX_BATCH_SIZE
    pending = OutboxEvent.objects.filter(dispatched_at__isnull=True, attempts__lt=settings.OUTBOX_MAX_ATTEMPTS)
    if event_ids is not None:
        pending = pending.filter(id__in=event_ids)
    done = 0
    for event_id in list(pending.order_by("id").values_list("id", flat=True)[:limit]):
        with transaction.atomic():
            row = (
                OutboxEvent.objects.select_for_update(skip_locked=True)
                .filter(id=event_id, dispatched_at__isnull=True)
                .first()
            )
            if row is None:
                continue
            event = Event(id=row.id, name=row.name, group_id=row.group_id, payload=row.payload)
            delivered = set(EventDelivery.objects.filter(event_id=row.id).values_list("handler", flat=True))
            errors = []
            for handler_id, func in handlers_for(row.name):
                if handler_id in delivered:
                    continue
                try:
                    with transaction.atomic():
                        func(event)
                        EventDelivery.objects.create(event_id=row.id, group_id=row.group_id, handler=handler_id)
                except IntegrityError as exc:
                    # The savepoint rolled the handler's work back. If another dispatcher recorded this
                    # delivery concurrently, the handler has run once already; otherwise it is a failure.
                    if EventDelivery.objects.filter(event_id=row.id, handler=handler_id).exists():
                        continue
                    logger.exception("event handler %s failed for %s#%s", handler_id, row.name, row.id)
                    errors.append(f"{handler_id}: {exc!r}")
                except Exception as exc:  # a handler bug must not block other handlers or events
                    logger.exception("event handler %s failed for %s#%s", handler_id, row.name, row.id)
                    errors.append(f"{handler_id}: {exc!r}")
            if errors:
                OutboxEvent.objects.filter(id=row.id).update(
                    attempts=F("attempts") + 1, last_error="\n".join(errors)[:4000]
                )
            else:
                OutboxEvent.objects.filter(id=row.id).update(
                    dispatched_at=timezone.now(), attempts=F("attempts") + 1, last_error=""
                )
                done += 1
    return done
