"""
Prepare the callback-ingest benchmark: one group of 50 members and N pending STK pushes (each with its PENDING
contribution), then write the success callbacks to a JSON file. Run by bench/mpesa_callbacks.py.

Usage: DATABASE_URL=postgres://... .venv/bin/python bench/mpesa_seed.py <count> <out.json>
Prints RUN=<run id> TREASURER=<phone>.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chamahub.settings.base")

import django

django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from finance.choices import ContributionStatus, PaymentMethod  # noqa: E402
from finance.models import Contribution  # noqa: E402
from groups.choices import Role  # noqa: E402
from groups.models import ChamaGroup  # noqa: E402
from groups.services import group_create, membership_activate  # noqa: E402
from mpesa_integration.models import MPesaTransaction  # noqa: E402

CODE = "BENCHMP"
PASSWORD = "bench-pass-123"


def group_get_or_create() -> tuple[ChamaGroup, list[User], User]:
    group = ChamaGroup.objects.filter(code=CODE).first()
    phones = [f"+2547190{k:05d}" for k in range(50)]
    users = []
    for phone in phones:
        user = User.objects.filter(phone_number=phone).first() or User.objects.create(
            phone_number=phone, password=make_password(PASSWORD), first_name="Bench", last_name=phone[-4:]
        )
        users.append(user)
    if group is None:
        group = group_create(creator=users[0], name="Bench M-Pesa chama", code=CODE, contribution_amount=Decimal("500"))
        membership_activate(group=group, user=users[1], role=Role.TREASURER)
        for user in users[2:]:
            membership_activate(group=group, user=user)
    return group, users, users[1]


def main() -> None:
    count, out_path = int(sys.argv[1]), sys.argv[2]
    group, users, treasurer = group_get_or_create()
    run = secrets.token_hex(3).upper()
    members = users[2:]
    now = timezone.now()
    with transaction.atomic():
        contributions = Contribution.objects.bulk_create(
            Contribution(
                group=group, member=members[i % len(members)], amount=Decimal("500.00"),
                period=now.date().replace(day=1),
                payment_method=PaymentMethod.MPESA, status=ContributionStatus.PENDING, paid_at=now,
            )
            for i in range(count)
        )  # fmt: skip
        txns = MPesaTransaction.objects.bulk_create(
            MPesaTransaction(
                kind="stk", group=group, member_id=c.member_id, initiated_by_id=c.member_id, amount=c.amount,
                phone="254708374149", account_reference=CODE, transaction_desc="Contribution", purpose="contribution",
                contribution=c, checkout_request_id=f"ws_CO_B{run}{i:07d}", merchant_request_id=f"B{run}-{i}",
                status="accepted",
            )
            for i, c in enumerate(contributions)
        )  # fmt: skip
    bodies = []
    for i, txn in enumerate(txns):
        bodies.append(
            {
                "Body": {
                    "stkCallback": {
                        "MerchantRequestID": txn.merchant_request_id,
                        "CheckoutRequestID": txn.checkout_request_id,
                        "ResultCode": 0,
                        "ResultDesc": "The service request is processed successfully.",
                        "CallbackMetadata": {
                            "Item": [
                                {"Name": "Amount", "Value": 500.0},
                                {"Name": "MpesaReceiptNumber", "Value": f"B{run[:4]}{i:05d}"},
                                {"Name": "Balance"},
                                {"Name": "TransactionDate", "Value": int(now.strftime("%Y%m%d%H%M%S"))},
                                {"Name": "PhoneNumber", "Value": 254708374149},
                            ]
                        },
                    }
                }
            }
        )
    Path(out_path).write_text(json.dumps(bodies))
    print(f"RUN={run} TREASURER={treasurer.phone_number} GROUP={group.id}")


if __name__ == "__main__":
    main()
