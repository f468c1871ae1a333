"""
Inputs that once produced a 500 or a callback stuck unprocessed (found by schemathesis and hand fuzzing). Each must
be a 4xx with nothing written, or a logged, finished callback.
"""

from __future__ import annotations

import io

import pytest

from finance.models import JournalEntry
from finance.tests.loan_fixtures import make_chama
from mpesa_integration.choices import CallbackOutcome
from mpesa_integration.models import CallbackLog, MPesaTransaction, PaymentReconciliation
from mpesa_integration.tests.helpers import STK_PUSH, post_callback, stk_body
from mpesa_integration.tests.test_c2b import c2b_body
from mpesa_integration.tests.test_stk_callbacks import _pending_txn

pytestmark = pytest.mark.django_db(transaction=True)

HUGE_ID = 99999999999999999999999


@pytest.fixture
def chama():
    return make_chama()


@pytest.mark.parametrize(
    "raw",
    [
        b'{"Body": NaN}',
        b'{"Body": {"stkCallback": Infinity}}',
        b"[" * 1000 + b"]" * 1000,
        b'{"Body": "\\ud800"}',  # a lone surrogate cannot be stored as text
        b'{"Body": "a\\u0000b"}',  # NUL cannot be stored in jsonb
    ],
)
def test_unstorable_json_in_a_callback_is_a_400(chama, api_client, raw):
    response = post_callback(api_client, raw)

    assert response.status_code == 400
    assert CallbackLog.objects.get().outcome == CallbackOutcome.INVALID


def test_deeply_nested_json_on_an_api_endpoint_is_a_400(chama, make_client):
    client = make_client(chama.member)

    response = client.post(STK_PUSH, data=b"[" * 1000 + b"]" * 1000, content_type="application/json")

    assert response.status_code == 400


def test_a_superscript_digit_in_an_account_number_is_handled(chama, api_client):
    validation = post_callback(api_client, c2b_body(f"{chama.group.code}²"), kind="c2b_validation")
    confirmation = post_callback(api_client, c2b_body(f"{chama.group.code}²"), kind="c2b_confirmation")

    assert validation.status_code == 200 and validation.json()["ResultCode"] == "C2B00012"
    assert confirmation.status_code == 200
    assert CallbackLog.objects.filter(outcome=CallbackOutcome.RECEIVED).count() == 0
    assert MPesaTransaction.objects.get().settlement == "unallocated"


def test_a_year_one_transaction_time_finishes_as_invalid_instead_of_sticking(chama, api_client):
    txn = _pending_txn(chama)
    body = stk_body(txn, receipt="SLH0000001")
    body["Body"]["stkCallback"]["CallbackMetadata"]["Item"][3]["Value"] = 10101000000  # 0001-01-01 00:00:00

    assert post_callback(api_client, body).status_code == 200
    assert CallbackLog.objects.get().outcome == CallbackOutcome.INVALID
    c2b = c2b_body("ANY", trans_id="SLH0000002")
    c2b["TransTime"] = "00010101000000"
    assert post_callback(api_client, c2b, kind="c2b_confirmation").status_code == 200
    assert CallbackLog.objects.filter(outcome=CallbackOutcome.RECEIVED).count() == 0
    assert JournalEntry.objects.count() == 0


def test_a_receipt_already_on_another_transaction_is_a_duplicate(chama, api_client):
    first = _pending_txn(chama, checkout="ws_CO_A")
    second = _pending_txn(chama, checkout="ws_CO_B", amount="500")
    post_callback(api_client, stk_body(first, receipt="SLH0000003"))
    MPesaTransaction.objects.filter(pk=second.pk).update(status="succeeded")  # settled by STK Query, no receipt

    response = post_callback(api_client, stk_body(second, receipt="SLH0000003"))

    assert response.status_code == 200
    assert CallbackLog.objects.order_by("-id").first().outcome == CallbackOutcome.DUPLICATE
    assert MPesaTransaction.objects.get(pk=second.pk).receipt_number is None


@pytest.mark.parametrize(
    "path",
    ["/api/v1/mpesa/bulk-payments/", "/api/v1/mpesa/reconciliations/", "/api/v1/mpesa/reconciliation-exceptions/",
     "/api/v1/mpesa/transactions/", "/api/v1/finance/contributions/"],
)  # fmt: skip
@pytest.mark.parametrize("value", ["1e300", "-1.77e192", str(HUGE_ID), "1.5"])
def test_an_impossible_id_in_a_list_filter_is_a_400(chama, make_client, path, value):
    response = make_client(chama.treasurer).get(path, {"group": value})

    assert response.status_code == 400
    assert "group" in response.json()["fields"]


def test_impossible_ids_in_bodies_are_a_400(chama, make_client):
    client = make_client(chama.treasurer)

    bulk = client.post(
        "/api/v1/mpesa/bulk-payments/",
        {"group": chama.group.id, "purpose": "refund", "items": [{"member": HUGE_ID, "amount": 100}]},
        format="json",
    )
    infinite = client.post("/api/v1/mpesa/bulk-payments/", data=b'{"group": 1e400}', content_type="application/json")
    push = client.post(STK_PUSH, {"group": chama.group.id, "amount": "100", "target_id": HUGE_ID}, format="json")

    assert bulk.status_code == 400
    assert infinite.status_code in (400, 404)
    assert push.status_code == 400 and "target_id" in push.json()["fields"]


@pytest.mark.parametrize(
    ("when", "amount"),
    [
        ("0001-01-01 00:00:00", "500.00"),
        ("9999-12-31 23:59:59", "500.00"),
        ("2026-11-20 10:00:00", "1e30"),
        ("2026-11-20 10:00:00", "1000000000000.00"),
        ("2026-11-20 10:00:00", "1e999999999"),
    ],
)
def test_a_statement_with_impossible_times_or_amounts_is_a_400(chama, make_client, when, amount):
    csv = (
        "Receipt No.,Completion Time,Details,Transaction Status,Paid In,Withdrawn,Other Party Info\r\n"
        f"SLH0000009,{when},Pay Bill Online,Completed,{amount},,254708374149 - JANE\r\n"
    )
    upload = io.BytesIO(csv.encode())
    upload.name = "statement.csv"

    response = make_client(chama.treasurer).post(
        "/api/v1/mpesa/reconciliations/", {"group": chama.group.id, "file": upload}, format="multipart"
    )

    assert response.status_code == 400, response.content
    assert "file" in response.json()["fields"]
    assert PaymentReconciliation.objects.count() == 0


def test_a_statement_whose_total_overflows_the_money_column_is_a_400(chama, make_client):
    rows = "".join(
        f"SLH00001{k:02d},2026-11-20 10:{k:02d}:00,Pay Bill Online,Completed,99999999999.99,,254708374149 - J\r\n"
        for k in range(11)
    )
    upload = io.BytesIO(
        (
            "Receipt No.,Completion Time,Details,Transaction Status,Paid In,Withdrawn,Other Party Info\r\n" + rows
        ).encode()
    )
    upload.name = "statement.csv"

    response = make_client(chama.treasurer).post(
        "/api/v1/mpesa/reconciliations/", {"group": chama.group.id, "file": upload}, format="multipart"
    )

    assert response.status_code == 400 and "file" in response.json()["fields"]
    assert PaymentReconciliation.objects.count() == 0
