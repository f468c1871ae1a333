"""Shared helpers for the M-Pesa API tests: a chama, STK pushes, callback bodies, ledger checks."""

from __future__ import annotations

import json
from decimal import Decimal

from django.conf import settings

from finance.models import JournalEntry
from finance.selectors.ledger import trial_balance
from mpesa_integration.models import MPesaTransaction

D = Decimal
TRANSACTIONS = "/api/v1/mpesa/transactions/"
STK_PUSH = TRANSACTIONS + "stk-push/"
SUCCESS_PHONE = "254708374149"
CANCEL_PHONE = "254708371032"
UNREACHABLE_PHONE = "254708371037"
WRONG_PIN_PHONE = "254708372001"
NO_FUNDS_PHONE = "254708370001"


def callback_path(kind: str = "stk", secret: str | None = None) -> str:
    secret = secret or settings.MPESA_CALLBACK_SECRET
    paths = {
        "stk": f"/api/v1/mpesa/callbacks/{secret}/stk/",
        "c2b_confirmation": f"/api/v1/payments/hooks/{secret}/c2b-confirm/",
        "c2b_validation": f"/api/v1/payments/hooks/{secret}/c2b-validate/",
    }
    return paths[kind]


def stk_body(txn: MPesaTransaction, *, code: int = 0, receipt: str = "SLK1234567", amount=None, phone=None) -> dict:
    callback = {
        "MerchantRequestID": txn.merchant_request_id or "29115-34620561-1",
        "CheckoutRequestID": txn.checkout_request_id,
        "ResultCode": code,
        "ResultDesc": "The service request is processed successfully." if code == 0 else "Request cancelled by user",
    }
    if code == 0:
        callback["CallbackMetadata"] = {
            "Item": [
                {"Name": "Amount", "Value": float(amount if amount is not None else txn.amount)},
                {"Name": "MpesaReceiptNumber", "Value": receipt},
                {"Name": "Balance"},
                {"Name": "TransactionDate", "Value": 20261125143011},
                {"Name": "PhoneNumber", "Value": int(phone or txn.phone)},
            ]
        }
    return {"Body": {"stkCallback": callback}}


def post_callback(api_client, body, kind: str = "stk", secret: str | None = None):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return api_client.post(callback_path(kind, secret), data=data, content_type="application/json")


def push(client, group, amount="500", **extra):
    body = {"group": group.id, "amount": str(amount), "phone": SUCCESS_PHONE, **extra}
    return client.post(STK_PUSH, body, format="json")


def entries_for(group, reference: str) -> int:
    return JournalEntry.objects.filter(group_id=group.id, reference=reference).count()


def assert_books_balance(group) -> None:
    assert trial_balance(group_id=group.id) == 0
