"""Celery entry points for M-Pesa: load by id, call a service. Every one is idempotent (row locks + outcomes)."""

from __future__ import annotations

from celery import shared_task

from mpesa_integration.choices import CallbackKind


@shared_task(name="mpesa_integration.tasks.callback_process_task", ignore_result=True, max_retries=5)
def callback_process_task(log_id: int, kind: str) -> str:
    """Process one stored callback. A retry after success finds the log already processed and does nothing."""
    from mpesa_integration.services import callbacks

    if kind == CallbackKind.STK:
        return callbacks.stk_callback_process(log_id=log_id)
    if kind == CallbackKind.C2B_CONFIRMATION:
        return callbacks.c2b_confirmation_process(log_id=log_id)
    if kind in (CallbackKind.B2C_RESULT, CallbackKind.B2C_TIMEOUT, CallbackKind.STATUS_RESULT):
        from mpesa_integration.services.payouts import b2c_result_process

        return b2c_result_process(log_id=log_id)
    if kind in (CallbackKind.REVERSAL_RESULT, CallbackKind.REVERSAL_TIMEOUT):
        from mpesa_integration.services.reversals import reversal_result_process

        return reversal_result_process(log_id=log_id)
    if kind == CallbackKind.BALANCE_RESULT:
        from mpesa_integration.services.balance import account_balance_result_process

        return account_balance_result_process(log_id=log_id)
    return "ignored"


@shared_task(name="mpesa_integration.tasks.stk_pending_sweep_task", ignore_result=True)
def stk_pending_sweep_task() -> int:
    """
    Every minute: process stored callbacks whose processing never started, then STK Query the pushes still pending
    after MPESA_STK_QUERY_AFTER_SECONDS (lost callbacks).
    """
    from mpesa_integration.services.callbacks import callbacks_stalled_retry
    from mpesa_integration.services.stk import stk_pending_sweep

    callbacks_stalled_retry()
    return stk_pending_sweep()
