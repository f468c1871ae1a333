"""
Celery application. Configuration comes from Django settings (CELERY_*).

Beat schedule — every periodic job in one place:
- outbox-relay, every 5 s: hands committed domain events to their subscribers (at least once).
- loans-overdue-scan, daily 00:30: marks loans overdue/defaulted from their schedules.
- contribution-late-fines, daily 01:00: charges late-contribution fines per each group's rules.
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
    "jwt-flush-expired": {"task": "accounts.tasks.jwt_flush_expired_task", "schedule": crontab(hour=3, minute=0)},
}
