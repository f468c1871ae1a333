"""Callbacks that arrive twice, early, late, out of order, malformed or with the wrong amount; the STK Query sweep."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from finance.choices import AccountKind, ContributionStatus, FineStatus
from finance.models import Contribution, Fine, JournalEntry, Loan
from finance.selectors.ledger import account_balance
from finance.services.fines import fine_charge
from finance.tests.loan_fixtures import give_savings, make_chama, outsider
from mpesa_integration.choices import CallbackOutcome, Settlement, TransactionStatus
from mpesa_integration.models import CallbackLog, MPesaTransaction
from mpesa_integration.services.stk import stk_orphans_adopt, stk_pending_sweep
from mpesa_integration.tests.conftest import wait_callbacks, wait_for
from mpesa_integration.tests.helpers import (
    TRANSACTIONS,
    assert_books_balance,
    entries_for,
    post_callback,
    push,
    stk_body,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def chama():
    return make_chama()


def _pending_txn(chama, amount="500", checkout="ws_CO_TEST0001", purpose="contribution", **fields) -> MPesaTransaction:
    """A push that M-Pesa accepted, built directly (no simulator): the callbacks below are posted by hand."""
    from mpesa_integration.services.settlement import pay_in_target_attach

    txn = MPesaTransaction(
        kind="stk", group=chama.group, member=chama.member, initiated_by=chama.member, amount=Decimal(amount),
        phone="254708374149", account_reference=chama.group.code[:12], transaction_desc="Contribution",
        checkout_request_id=checkout, merchant_request_id=f"m-{checkout}",
        **{"status": TransactionStatus.ACCEPTED, **fields},
    )  # fmt: skip
    if purpose == "contribution":
        pay_in_target_attach(txn, purpose=purpose, target_id=None, member_id=chama.member.id)
    txn.purpose = purpose
    txn.save()
    return txn


def test_a_duplicate_callback_posts_nothing_more(chama, api_client):
    txn = _pending_txn(chama)
    body = stk_body(txn, receipt="SLA0000001")

    first, second = post_callback(api_client, body), post_callback(api_client, body)

    assert first.status_code == second.status_code == 200
    assert first.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    assert entries_for(chama.group, "SLA0000001") == 1
    assert JournalEntry.objects.filter(group_id=chama.group.id).count() == 1
    outcomes = list(CallbackLog.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == [CallbackOutcome.PROCESSED, CallbackOutcome.DUPLICATE]
    assert_books_balance(chama.group)


def test_a_failure_after_a_success_does_not_undo_it(chama, api_client):
    txn = _pending_txn(chama)
    post_callback(api_client, stk_body(txn, receipt="SLA0000002"))

    post_callback(api_client, stk_body(txn, code=1032))

    txn.refresh_from_db()
    assert txn.status == TransactionStatus.SUCCEEDED and txn.receipt_number == "SLA0000002"
    assert Contribution.objects.get(pk=txn.contribution_id).status == ContributionStatus.CONFIRMED
    assert CallbackLog.objects.order_by("-id").first().outcome == CallbackOutcome.IGNORED
    assert entries_for(chama.group, "SLA0000002") == 1


def test_a_late_success_after_a_timeout_still_posts(chama, api_client):
    txn = _pending_txn(chama, status=TransactionStatus.TIMED_OUT)

    post_callback(api_client, stk_body(txn, receipt="SLA0000003"))

    txn.refresh_from_db()
    assert txn.status == TransactionStatus.SUCCEEDED and txn.settlement == Settlement.POSTED
    assert entries_for(chama.group, "SLA0000003") == 1
    assert_books_balance(chama.group)


def test_a_callback_that_overtakes_the_saved_checkout_id_is_adopted(chama, api_client):
    txn = _pending_txn(chama, checkout="ws_CO_EARLY")
    body = stk_body(txn, receipt="SLA0000004")
    MPesaTransaction.objects.filter(pk=txn.pk).update(checkout_request_id=None, status="initiated")

    response = post_callback(api_client, body)

    assert response.status_code == 200  # acknowledged, logged as an orphan
    assert CallbackLog.objects.get().outcome == CallbackOutcome.ORPHAN
    MPesaTransaction.objects.filter(pk=txn.pk).update(checkout_request_id="ws_CO_EARLY", status="accepted")
    assert stk_orphans_adopt("ws_CO_EARLY") == 1
    txn.refresh_from_db()
    assert txn.status == TransactionStatus.SUCCEEDED and entries_for(chama.group, "SLA0000004") == 1
    assert CallbackLog.objects.get().outcome == CallbackOutcome.PROCESSED


def test_an_unknown_checkout_id_is_acknowledged_and_logged_as_an_orphan(chama, api_client):
    txn = _pending_txn(chama)
    body = stk_body(txn)
    body["Body"]["stkCallback"]["CheckoutRequestID"] = "ws_CO_NOBODY"

    response = post_callback(api_client, body)

    assert response.status_code == 200
    log = CallbackLog.objects.get()
    assert log.outcome == CallbackOutcome.ORPHAN and log.correlation_id == "ws_CO_NOBODY"
    assert JournalEntry.objects.count() == 0


def test_a_wrong_amount_goes_to_suspense_and_can_be_allocated(chama, api_client, make_client):
    txn = _pending_txn(chama, amount="500")

    post_callback(api_client, stk_body(txn, receipt="SLA0000005", amount=Decimal("450")))

    txn.refresh_from_db()
    assert txn.status == TransactionStatus.SUCCEEDED and txn.settlement == Settlement.SUSPENSE
    assert "paid KES 450" in txn.settlement_note
    assert account_balance(group_id=chama.group.id, kind=AccountKind.SUSPENSE) == Decimal("450")
    assert Contribution.objects.get(pk=txn.contribution_id).status == ContributionStatus.PENDING
    assert CallbackLog.objects.get().outcome == CallbackOutcome.SUSPENSE
    assert entries_for(chama.group, "SLA0000005") == 1

    url = f"{TRANSACTIONS}{txn.id}/allocate/"
    body = {"purpose": "contribution", "member": chama.member.id}
    assert make_client(chama.member).post(url, body).status_code == 403
    assert make_client(outsider()).post(url, {"purpose": "contribution"}).status_code == 404
    response = make_client(chama.treasurer).post(url, {"purpose": "contribution", "member": chama.member.id})

    assert response.status_code == 200, response.content
    assert response.json()["settlement"] == "allocated"
    assert account_balance(group_id=chama.group.id, kind=AccountKind.SUSPENSE) == 0
    assert account_balance(
        group_id=chama.group.id, kind=AccountKind.MEMBER_SAVINGS, member_id=chama.member.id
    ) == Decimal("450")
    again = make_client(chama.treasurer).post(url, {"purpose": "contribution", "member": chama.member.id})
    assert again.status_code == 400
    assert_books_balance(chama.group)


def test_a_wrong_phone_goes_to_suspense(chama, api_client):
    txn = _pending_txn(chama)

    post_callback(api_client, stk_body(txn, receipt="SLA0000006", phone="254711111111"))

    txn.refresh_from_db()
    assert txn.settlement == Settlement.SUSPENSE and "254711111111" in txn.settlement_note


def test_a_wrong_secret_is_a_404_and_nothing_is_logged(chama, api_client):
    txn = _pending_txn(chama)

    response = post_callback(api_client, stk_body(txn), secret="guessed-secret")

    assert response.status_code == 404
    assert CallbackLog.objects.count() == 0
    assert MPesaTransaction.objects.get().status == TransactionStatus.ACCEPTED


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"[1, 2]",
        b'{"Body": {}}',
        b'{"Body": {"stkCallback": {"MerchantRequestID": "x", "CheckoutRequestID": "y", "ResultCode": 0}}}',
        b'{"Body": {"stkCallback": {"MerchantRequestID": "x", "CheckoutRequestID": "y", "ResultCode": 0,'
        b' "ResultDesc": "ok"}}}',  # success without CallbackMetadata
        b'{"Body": {"stkCallback": {"MerchantRequestID": "x", "CheckoutRequestID": "y", "ResultCode": true,'
        b' "ResultDesc": "ok"}}}',
    ],
)
def test_a_malformed_callback_is_a_400_logged_never_a_500(chama, api_client, raw):
    response = post_callback(api_client, raw)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    log = CallbackLog.objects.get()
    assert log.outcome == CallbackOutcome.INVALID and len(log.body_sha256) == 64


def test_the_ip_allowlist_refuses_other_sources_when_enabled(chama, api_client, settings):
    settings.MPESA_IP_ALLOWLIST_ENABLED = True
    txn = _pending_txn(chama)

    refused = post_callback(api_client, stk_body(txn, receipt="SLA0000007"))
    settings.MPESA_IP_ALLOWLIST = ["127.0.0.1"]
    accepted = post_callback(api_client, stk_body(txn, receipt="SLA0000007"))

    assert refused.status_code == 403 and accepted.status_code == 200
    assert list(CallbackLog.objects.order_by("id").values_list("outcome", flat=True)) == ["forbidden", "processed"]


def test_a_lost_callback_is_settled_by_the_stk_query_sweep(daraja, chama, make_client, settings):
    settings.MPESA_CALLBACK_BASE_URL = "http://127.0.0.1:9"  # the callback never reaches us
    response = push(make_client(chama.member), chama.group, "600")
    assert response.status_code == 202
    wait_callbacks(daraja, 1)  # the simulator tried (and failed) to deliver
    txn = MPesaTransaction.objects.get()
    assert txn.status == TransactionStatus.ACCEPTED

    assert stk_pending_sweep(older_than_seconds=60) == 0  # too young to query
    assert stk_pending_sweep(older_than_seconds=0) == 1

    txn.refresh_from_db()
    assert txn.status == TransactionStatus.SUCCEEDED and txn.query_count == 1
    assert txn.receipt_number is None  # STK Query gives no receipt; the posting is keyed by the checkout id
    assert entries_for(chama.group, f"mpesa:stk:{txn.checkout_request_id}") == 1
    assert Contribution.objects.get(pk=txn.contribution_id).status == ContributionStatus.CONFIRMED
    assert stk_pending_sweep(older_than_seconds=0) == 0  # nothing left pending
    assert JournalEntry.objects.filter(group_id=chama.group.id).count() == 1


def test_query_action_asks_mpesa_for_a_pending_push(daraja, chama, make_client, settings):
    settings.MPESA_CALLBACK_BASE_URL = "http://127.0.0.1:9"
    client = make_client(chama.member)
    txn_id = push(client, chama.group, "650", phone="254708371032").json()["id"]
    wait_callbacks(daraja, 1)

    response = client.post(f"{TRANSACTIONS}{txn_id}/query/")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled" and response.json()["result_code"] == "1032"


def _active_loan(chama) -> Loan:
    from finance.services.approvals import approval_sign
    from finance.services.loans import loan_apply, loan_disburse
    from finance.tests.loan_fixtures import fresh

    give_savings(chama.group, chama.borrower, "100000")
    loan = loan_apply(
        group_id=chama.group.id, borrower=fresh(chama.borrower), principal_amount=Decimal("3000"), duration_months=3,
        purpose="Stock",
    )  # fmt: skip
    for official in (chama.chair, chama.treasurer):
        approval_sign(approval_id=loan.approval.id, approver=fresh(official), approved=True)
    return loan_disburse(loan_id=loan.id, actor=fresh(chama.treasurer))


def test_loan_repayment_by_stk_reduces_the_loan(daraja, chama, make_client):
    loan = _active_loan(chama)
    client = make_client(chama.borrower)

    response = push(client, chama.group, "1000", purpose="loan_repayment", target_id=loan.id)

    assert response.status_code == 202, response.content
    wait_callbacks(daraja, 1)
    txn = MPesaTransaction.objects.get(pk=response.json()["id"])
    assert txn.settlement == Settlement.POSTED and entries_for(chama.group, txn.receipt_number) == 1
    assert account_balance(
        group_id=chama.group.id, kind=AccountKind.LOANS_RECEIVABLE, member_id=chama.borrower.id
    ) < Decimal("3000")
    assert_books_balance(chama.group)


def test_a_repayment_the_loan_refuses_goes_to_suspense(chama, api_client):
    loan = _active_loan(chama)
    txn = _pending_txn(chama, amount="99999", purpose="loan_repayment")  # more than is owed
    MPesaTransaction.objects.filter(pk=txn.pk).update(loan=loan, member=chama.borrower)

    post_callback(api_client, stk_body(txn, receipt="SLA0000008"))

    txn.refresh_from_db()
    assert txn.settlement == Settlement.SUSPENSE and "refused" in txn.settlement_note
    assert account_balance(group_id=chama.group.id, kind=AccountKind.SUSPENSE) == Decimal("99999")
    assert entries_for(chama.group, "SLA0000008") == 1
    assert_books_balance(chama.group)


def test_fine_payment_by_stk_marks_the_fine_paid(daraja, chama, make_client):
    fine = fine_charge(actor=chama.chair, group_id=chama.group.id, member_id=chama.member.id, amount=Decimal("200"),
                       reason="Late to the meeting")  # fmt: skip

    response = push(make_client(chama.member), chama.group, "200", purpose="fine", target_id=fine.id)

    assert response.status_code == 202, response.content
    wait_callbacks(daraja, 1)
    assert Fine.objects.get(pk=fine.id).status == FineStatus.PAID
    txn = MPesaTransaction.objects.get()
    assert entries_for(chama.group, txn.receipt_number) == 1
    assert_books_balance(chama.group)


def test_paying_another_members_fine_is_refused(chama, make_client):
    fine = fine_charge(actor=chama.chair, group_id=chama.group.id, member_id=chama.borrower.id, amount=Decimal("50"),
                       reason="Absent")  # fmt: skip

    response = push(make_client(chama.member), chama.group, "50", purpose="fine", target_id=fine.id)

    assert response.status_code == 400 and "target_id" in response.json()["fields"]
    assert MPesaTransaction.objects.count() == 0


@pytest.mark.postgres
def test_simultaneous_identical_callbacks_post_once(chama, live_server, on_postgres):
    """Eight threads deliver the same success at the same moment, over HTTP, to the live server."""
    import json
    import urllib.request

    from django.conf import settings

    txn = _pending_txn(chama)
    body = json.dumps(stk_body(txn, receipt="SLA0000099")).encode()
    url = f"{live_server.url}/api/v1/mpesa/callbacks/{settings.MPESA_CALLBACK_SECRET}/stk/"
    barrier = threading.Barrier(8)
    codes: list[int] = []

    def deliver() -> None:
        barrier.wait()
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=20) as response:
            codes.append(response.status)

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert codes == [200] * 8
    wait_for(lambda: CallbackLog.objects.filter(outcome="received").count() == 0)
    assert entries_for(chama.group, "SLA0000099") == 1
    outcomes = sorted(CallbackLog.objects.values_list("outcome", flat=True))
    assert outcomes.count("processed") == 1 and outcomes.count("duplicate") == 7
    assert Contribution.objects.get(pk=txn.contribution_id).status == ContributionStatus.CONFIRMED
    assert_books_balance(chama.group)
    connection.close()


def test_a_callback_whose_processing_never_started_is_processed_by_the_sweep(chama):
    """The view stored the callback, then the process died (or the broker was down) before processing ran."""
    import json
    from datetime import timedelta

    from django.utils import timezone

    from mpesa_integration.services.callbacks import callback_log_store, callbacks_stalled_retry

    txn = _pending_txn(chama)
    body = stk_body(txn, receipt="SLA0000010")
    callback_log_store(kind="stk", raw=json.dumps(body).encode(), body=body, remote_addr="127.0.0.1",
                       correlation_id=txn.checkout_request_id)  # fmt: skip
    assert callbacks_stalled_retry() == 0  # too recent: it may still be on its way
    CallbackLog.objects.update(received_at=timezone.now() - timedelta(minutes=2))

    assert callbacks_stalled_retry() == 1

    txn.refresh_from_db()
    assert txn.status == TransactionStatus.SUCCEEDED and entries_for(chama.group, "SLA0000010") == 1
    assert CallbackLog.objects.get().outcome == CallbackOutcome.PROCESSED
    assert callbacks_stalled_retry() == 0


def test_the_simulator_replaying_a_callback_over_http_posts_once(daraja, chama, make_client):
    response = push(make_client(chama.member), chama.group, "820")
    wait_callbacks(daraja, 1)
    txn = MPesaTransaction.objects.get(pk=response.json()["id"])

    daraja.replay_callback(txn.checkout_request_id, times=2)

    wait_callbacks(daraja, 3)
    assert entries_for(chama.group, txn.receipt_number) == 1
    outcomes = list(CallbackLog.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["processed", "duplicate", "duplicate"]
