"""Celery entry points for finance: load by id / date, call a service. Idempotent."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="finance.tasks.late_fines_charge_task", ignore_result=True)
def late_fines_charge_task() -> int:
    """Daily: charge late-contribution fines per each group's rules (one fine per member per period)."""
    from finance.services.fines import late_fines_charge

    return late_fines_charge()


@shared_task(name="finance.tasks.loans_overdue_scan_task", ignore_result=True)
def loans_overdue_scan_task() -> int:
    """Daily: publish loan.overdue for loans past due; mark DEFAULTED after LOAN_DEFAULT_DAYS."""
    from finance.services.loans import loans_overdue_scan

    return loans_overdue_scan()
