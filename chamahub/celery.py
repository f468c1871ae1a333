"""
Celery application. Configuration comes from Django settings (CELERY_*).

Beat schedule — every periodic job in one place:
- outbox-relay, every 5 s: hands committed domain events to their subscribers (at least once).
- loans-overdue-scan, daily 00:30: marks loans overdue/defaulted from their schedules.
- contribution-late-fines, daily 01:00: charges late-contribution fines per each group's rules.
- mpesa-stk-pending-sweep, every 60 s: STK Query for pushes still pending after 2 minutes; re-runs callbacks
  whose processing never started.
- mpesa-b2c-pending-sweep, every 300 s: Transaction Status for payouts without a result; settles lost results.
- jwt-flush-expired, daily 03:00: deletes expired outstanding/blacklisted JWTs.
"""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chamahub.settings.base")

app = Celery("chamahub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "outbox-relay": {"task": "chamahub.tasks.outbox_relay_task", "schedule": 5.0},
    "loans-overdue-scan": {"task": "finance.tasks.loans_overdue_scan_task", "schedule": crontab(hour=0, minute=30)},
    "contribution-late-fines": {
        "task": "finance.tasks.late_fines_charge_task",
        "schedule": crontab(hour=1, minute=0),
    },
    "mpesa-stk-pending-sweep": {"task": "mpesa_integration.tasks.stk_pending_sweep_task", "schedule": 60.0},
    "mpesa-b2c-pending-sweep": {"task": "mpesa_integration.tasks_bulk.b2c_pending_sweep_task", "schedule": 300.0},
    "jwt-flush-expired": {"task": "accounts.tasks.jwt_flush_expired_task", "schedule": crontab(hour=3, minute=0)},
}
