"""
Celery entry points for B2C bulk payouts: load by id, call the service (mpesa_integration.services.bulk for a
batch, mpesa_integration.services.payouts for one payout).

Every task is idempotent and started with `transaction.on_commit` by the services (never inside an open
transaction): the execute task sends only items still pending, an item is sent once (its row lock and status),
a callback log is processed once (its outcome), a status query only asks about payouts whose outcome is unknown.

Beat (chamahub/celery.py): `b2c_pending_sweep_task` every 5 minutes settles payouts whose
outcome is still unknown (resend with the same OriginatorConversationID, or a Transaction Status query).
"""

from __future__ import annotations

from celery import shared_task


@shared_task(name="mpesa_integration.tasks_bulk.bulk_payment_execute_task", ignore_result=True)
def bulk_payment_execute_task(bulk_payment_id: int) -> None:
    """Send every pending payout of an approved batch."""
    from mpesa_integration.services.bulk import bulk_payment_execute

    bulk_payment_execute(bulk_payment_id=bulk_payment_id)


@shared_task(name="mpesa_integration.tasks_bulk.bulk_item_send_task", ignore_result=True)
def bulk_item_send_task(item_id: int) -> None:
    """Send one pending payout (a retry)."""
    from mpesa_integration.services.payouts import bulk_item_send

    bulk_item_send(item_id=item_id)


@shared_task(name="mpesa_integration.tasks_bulk.b2c_result_process_task", ignore_result=True)
def b2c_result_process_task(log_id: int) -> str:
    """Apply a stored B2C Result / QueueTimeOut / Transaction Status Result (a CallbackLog id)."""
    from mpesa_integration.services.payouts import b2c_result_process

    return b2c_result_process(log_id=log_id)


@shared_task(name="mpesa_integration.tasks_bulk.b2c_status_query_task", ignore_result=True)
def b2c_status_query_task(transaction_id: int) -> bool:
    """Ask Daraja's Transaction Status API about a payout whose outcome is unknown."""
    from mpesa_integration.services.payouts import b2c_status_query

    return b2c_status_query(transaction_id=transaction_id)


@shared_task(name="mpesa_integration.tasks_bulk.b2c_pending_sweep_task", ignore_result=True)
def b2c_pending_sweep_task() -> dict[str, int]:
    """Beat: settle payouts still unknown after MPESA_B2C_QUERY_AFTER_SECONDS (default 300 s)."""
    from mpesa_integration.services.payouts import b2c_pending_sweep

    return b2c_pending_sweep()
