from celery import shared_task
from django.core.management import call_command


@shared_task(name="accounts.tasks.jwt_flush_expired_task", ignore_result=True)
def jwt_flush_expired_task() -> None:
    """Daily: delete expired outstanding and blacklisted JWTs (simplejwt's flushexpiredtokens)."""
    call_command("flushexpiredtokens")
