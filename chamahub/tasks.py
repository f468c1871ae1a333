from celery import shared_task

from chamahub.events import outbox_dispatch


@shared_task(name="chamahub.tasks.outbox_relay_task", ignore_result=True)
def outbox_relay_task() -> int:
    """Beat, every 5 s: deliver committed domain events to subscribers (at least once)."""
    return outbox_dispatch()
