"""
B2C bulk payouts end to end: our API -> maker-checker approvals -> the Daraja simulator over HTTP (B2C, Transaction
Status) -> its Results POSTed to our live server -> the ledger. No mocks: every call is real loopback HTTP.

Two test-only arrangements, both outside the code under test:
- a URL conf that mounts BulkPaymentViewSet at /api/v1/mpesa/bulk-payments/ in front of the project's URLs (the
  lead registers it in mpesa_integration/urls.py; until then this keeps the tests independent of that line);
- the simulator delivers its Results one at a time (`sim` fixture): on SQLite the live server shares the test's
  in-memory connection, so two Results processed at once would share one transaction. Daraja gives no ordering
  guarantee either way; sequential delivery is one of the orders it may choose.
"""

from __future__ import annotations

import json
import secrets
import threading
import urllib.request
from decimal import Decimal

import pytest
from django.urls import include, path

import chamahub.urls
import mpesa_integration.providers  # noqa: F401  (registers "loan.payout_pending"; the lead wires it in ready())
from chamahub.api.routers import ChamaSimpleRouter
from chamahub.extensions import call as extension_call
from chamahub.models import OutboxEvent
from finance.choices import AccountKind, LoanStatus
from finance.models import JournalEntry, LoanInstallment
from finance.selectors.ledger import account_balance, trial_balance
from finance.services.loans import loan_apply, loan_decide
from finance.tests.loan_fixtures import fresh, give_savings, make_chama, outsider
from mpesa_integration import gateway
from mpesa_integration.choices import (
    BulkItemStatus,
    BulkPaymentStatus,
    CallbackKind,
    CallbackOutcome,
    Settlement,
    TransactionStatus,
)
from mpesa_integration.models import (
    BulkPaymentApproval,
    CallbackLog,
    MPesaBulkPayment,
    MPesaBulkPaymentItem,
    MPesaTransaction,
)
from mpesa_integration.services.payouts import b2c_pending_sweep, b2c_resend
from mpesa_integration.views_bulk import BulkPaymentViewSet

_router = ChamaSimpleRouter()
_router.register("bulk-payments", BulkPaymentViewSet, basename="mpesa-bulk-payment")
urlpatterns = [path("api/v1/mpesa/", include(_router.urls)), *chamahub.urls.urlpatterns]
handler400, handler403 = chamahub.urls.handler400, chamahub.urls.handler403
handler404, handler500 = chamahub.urls.handler404, chamahub.urls.handler500

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls(__name__)]

D = Decimal
BULK = "/api/v1/mpesa/bulk-payments/"
B2C_PATH = "/mpesa/b2c/v3/paymentrequest"
NO_FUNDS_PHONE = "254708370001"  # simulator: ResultCode 1
QUEUE_TIMEOUT_PHONE = "254708371037"  # simulator: a QueueTimeOut, and Transaction Status finds nothing
RESULT_DELAY = 0.4  # seconds between Daraja's "accepted" and its Result: every send of a batch happens before it
_SIMULATOR_SUFFIXES = ("0001", "1037", "2001", "2040")


def _safe_phone() -> str:
    """A fresh valid Safaricom number whose last four digits pick no failure scenario in the simulator."""
    while True:
        phone = f"+25471{secrets.randbelow(10**7):07d}"
        if phone[-4:] not in _SIMULATOR_SUFFIXES:
            return phone


@pytest.fixture
def chama():
    """A chama (2 approvals needed) whose members have safe phones; the member and guarantor hold savings."""
    chama = make_chama()
    for user in (chama.chair, chama.treasurer, chama.secretary, chama.borrower, chama.guarantor, chama.member):
        user.phone_number = _safe_phone()
        user.save(update_fields=["phone_number"])
    give_savings(chama.group, chama.member, "5000")
    give_savings(chama.group, chama.guarantor, "5000")
    return chama


@pytest.fixture
def sim(daraja):
    """
    The simulator, its Results delivered RESULT_DELAY after each request and one at a time; `wait_delivered` waits
    until a number of them were POSTed AND answered by our server (or failed to reach it).
    """
    daraja.server.callback_delay = RESULT_DELAY
    gate = threading.Lock()
    finished = threading.Condition()
    daraja.delivered = 0
    schedule = daraja.server.schedule

    def one_at_a_time(delay, function, *args):
        def deliver(*call_args):
            try:
                with gate:
                    function(*call_args)
            finally:
                with finished:
                    daraja.delivered += 1
                    finished.notify_all()

        schedule(delay, deliver, *args)

    daraja.server.schedule = one_at_a_time
    daraja.finished = finished
    return daraja


def wait_delivered(sim, count: int, timeout: float = 10.0) -> list[dict]:
    """Wait until `count` scheduled Results were delivered (answered); then the database may be read again."""
    with sim.finished:
        assert sim.finished.wait_for(lambda: sim.delivered >= count, timeout), f"{sim.delivered} of {count} delivered"
    with sim.server.lock:
        return [dict(entry) for entry in sim.server.callbacks_sent]


def approved_loan(chama, principal="3000"):
    """A loan the officials approved (no guarantors), the borrower's savings backing it."""
    give_savings(chama.group, chama.borrower, principal)
    loan = loan_apply(
        group_id=chama.group.id,
        borrower=fresh(chama.borrower),
        principal_amount=D(principal),
        duration_months=3,
        purpose="Stock",
    )
    for official in (chama.chair, chama.treasurer):
        loan_decide(loan_id=loan.id, approver=fresh(official), approved=True)
    loan.refresh_from_db()
    assert loan.status == LoanStatus.APPROVED
    return loan


def balance(chama, kind: str, member=None) -> Decimal:
    return account_balance(group_id=chama.group.id, kind=kind, member_id=member.id if member else None)


def create(client, chama, purpose: str, items: list[dict], **extra):
    body = {"group": chama.group.id, "purpose": purpose, "items": items, **extra}
    return client.post(BULK, body, format="json")


def approve_by_checkers(make_client, chama, batch_id: int):
    """Both approvals the chama needs, by the two officials who did not create the batch (the chair did)."""
    first = make_client(chama.treasurer).post(f"{BULK}{batch_id}/approve/", {"comments": "ok"}, format="json")
    assert first.status_code == 200, first.content
    assert first.json()["status"] == BulkPaymentStatus.PENDING_APPROVAL
    second = make_client(chama.secretary).post(f"{BULK}{batch_id}/approve/", {}, format="json")
    assert second.status_code == 200, second.content
    return second


def rows_snapshot() -> tuple:
    """Counts of every row a batch writes, to prove that a refusal wrote nothing."""
    return (
        MPesaBulkPayment.objects.count(),
        MPesaBulkPaymentItem.objects.count(),
        BulkPaymentApproval.objects.count(),
        MPesaTransaction.objects.count(),
        JournalEntry.objects.count(),
        OutboxEvent.objects.count(),
    )


def entries_for(chama, reference: str) -> int:
    return JournalEntry.objects.filter(group_id=chama.group.id, reference=reference).count()


def post_result(kind: str, body: dict) -> int:
    """POST a Result to our own callback URL over HTTP, as Daraja would."""
    request = urllib.request.Request(
        gateway.callback_url(kind),
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


# --------------------------------------------------------------------------------------------------- loans


def test_a_loan_disbursement_batch_pays_the_borrower_and_activates_the_loan(sim, chama, make_client):
    loan = approved_loan(chama)
    cash_before = balance(chama, AccountKind.CASH)
    maker = make_client(chama.chair)

    created = create(
        maker, chama, "loan_disbursement", [{"member": chama.borrower.id, "amount": "3000", "loan": loan.id}]
    )

    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "pending_approval" and body["required_approvals"] == 2
    assert body["batch_id"].startswith(f"BP-{chama.group.id}-") and body["group_name"] == chama.group.name
    assert body["total_amount"] == "3000.00" and body["total_recipients"] == 1
    [item] = body["items"]
    assert item["phone"] == chama.borrower.phone_number.lstrip("+")  # defaults to the member's phone
    assert item["status"] == "pending" and item["loan"] == loan.id and item["attempts"] == 0
    assert extension_call("loan.payout_pending", loan_id=loan.id) is True
    assert sim.count("POST", B2C_PATH) == 0  # nothing is sent before the approvals

    approved = approve_by_checkers(make_client, chama, body["id"])

    assert approved.json()["status"] in ("processing", "completed")
    assert sim.count("POST", B2C_PATH) == 1
    [result] = wait_delivered(sim, 1)
    assert result["kind"] == "b2c_result" and result["status"] == 200
    batch = make_client(chama.treasurer).get(f"{BULK}{body['id']}/").json()
    assert batch["status"] == "completed" and batch["status_display"] == "Completed"
    assert batch["successful_count"] == 1 and batch["failed_count"] == 0 and batch["paid_amount"] == "3000.00"
    assert batch["approved_at"] and batch["executed_at"] and batch["completed_at"]
    assert [a["approver"] for a in batch["approvals"]] == [chama.treasurer.id, chama.secretary.id]
    assert batch["approvals"][0]["comments"] == "ok" and batch["approvals"][0]["approved"] is True
    [paid] = batch["items"]
    assert paid["status"] == "succeeded" and paid["attempts"] == 1 and len(paid["receipt_number"]) == 10

    loan.refresh_from_db()
    assert loan.status == LoanStatus.ACTIVE
    assert LoanInstallment.objects.filter(loan=loan).count() == 3
    assert balance(chama, AccountKind.LOANS_RECEIVABLE, chama.borrower) == D("3000.00")
    assert balance(chama, AccountKind.CASH) == cash_before - D("3000.00")
    assert balance(chama, AccountKind.MPESA_CLEARING) == 0
    assert trial_balance(group_id=chama.group.id) == 0
    assert entries_for(chama, paid["receipt_number"]) == 1
    txn = MPesaTransaction.objects.get(receipt_number=paid["receipt_number"])
    assert txn.kind == "b2c" and txn.status == TransactionStatus.SUCCEEDED and txn.settlement == Settlement.POSTED
    assert txn.loan_id == loan.id and txn.purpose == "loan_disbursement" and txn.conversation_id.startswith("AG_")
    assert txn.request_body["SecurityCredential"] == "***" and txn.request_body["Amount"] == 3000
    log = CallbackLog.objects.get(kind=CallbackKind.B2C_RESULT)
    assert log.outcome == CallbackOutcome.PROCESSED and log.transaction_id == txn.id and log.processed_at
    assert extension_call("loan.payout_pending", loan_id=loan.id) is False


def test_a_loan_with_a_live_payout_cannot_be_paid_by_cash_or_in_a_second_batch(chama, make_client):
    loan = approved_loan(chama)
    maker = make_client(chama.chair)
    item = {"member": chama.borrower.id, "amount": "3000", "loan": loan.id}
    first = create(maker, chama, "loan_disbursement", [item])
    assert first.status_code == 201, first.content

    by_cash = maker.post(f"/api/v1/finance/loans/{loan.id}/disburse/", {}, format="json")
    assert by_cash.status_code == 409 and by_cash.json()["code"] == "payout_pending"
    before = rows_snapshot()
    second = create(make_client(chama.treasurer), chama, "loan_disbursement", [item])
    assert second.status_code == 409, second.content
    assert second.json()["code"] == "payout_exists" and "items[0].loan" in second.json()["fields"]
    assert rows_snapshot() == before

    # Rejecting the batch frees the loan: an official may pay it by cash after all.
    rejected = make_client(chama.treasurer).post(
        f"{BULK}{first.json()['id']}/reject/", {"comments": "no"}, format="json"
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert rejected.json()["items"][0]["status"] == "failed"
    assert maker.post(f"/api/v1/finance/loans/{loan.id}/disburse/", {}, format="json").status_code == 200
    assert trial_balance(group_id=chama.group.id) == 0


# --------------------------------------------------------------------------------------------------- share-out


def test_a_share_out_with_one_failing_recipient_is_partial_and_its_reservation_released(sim, chama, make_client):
    give_savings(chama.group, chama.borrower, "2000")
    cash_before = balance(chama, AccountKind.CASH)
    items = [
        {"member": chama.member.id, "amount": "1500"},
        {"member": chama.guarantor.id, "amount": "1000", "phone": NO_FUNDS_PHONE},
        {"member": chama.borrower.id, "amount": "700", "phone": "0" + chama.borrower.phone_number[4:]},
    ]
    created = create(make_client(chama.chair), chama, "share_out", items, description="December share-out")
    assert created.status_code == 201, created.content
    batch_id = created.json()["id"]

    approve_by_checkers(make_client, chama, batch_id)
    wait_delivered(sim, 3)

    batch = make_client(chama.chair).get(f"{BULK}{batch_id}/").json()
    assert batch["status"] == "partial" and batch["successful_count"] == 2 and batch["failed_count"] == 1
    assert batch["paid_amount"] == "2200.00" and batch["completed_at"]
    failed = next(i for i in batch["items"] if i["member"] == chama.guarantor.id)
    assert failed["status"] == "failed" and failed["result_code"] == "1" and "insufficient" in failed["result_desc"]
    assert balance(chama, AccountKind.MPESA_CLEARING) == 0  # the failed payout's reservation came back
    assert balance(chama, AccountKind.CASH) == cash_before - D("2200.00")
    assert balance(chama, AccountKind.MEMBER_SAVINGS, chama.member) == D("3500.00")
    assert balance(chama, AccountKind.MEMBER_SAVINGS, chama.borrower) == D("1300.00")
    assert balance(chama, AccountKind.MEMBER_SAVINGS, chama.guarantor) == D("5000.00")
    assert trial_balance(group_id=chama.group.id) == 0
    for item in batch["items"]:
        if item["receipt_number"]:
            assert entries_for(chama, item["receipt_number"]) == 1
    first_txn = MPesaTransaction.objects.get(pk=MPesaBulkPaymentItem.objects.get(pk=failed["id"]).transaction_id)
    assert first_txn.status == TransactionStatus.FAILED and first_txn.settlement == Settlement.RELEASED
    assert entries_for(chama, f"b2c-release:{first_txn.id}") == 1

    # A retry is a new attempt: a new OriginatorConversationID and a new reservation. The phone still fails.
    retry = make_client(chama.treasurer).post(f"{BULK}{batch_id}/retry-item/", {"item": failed["id"]}, format="json")
    assert retry.status_code == 200, retry.content
    wait_delivered(sim, 4)
    item = MPesaBulkPaymentItem.objects.get(pk=failed["id"])
    assert item.status == BulkItemStatus.FAILED and item.attempts == 2 and item.transaction_id != first_txn.id
    attempts = MPesaTransaction.objects.filter(phone=NO_FUNDS_PHONE).order_by("id")
    assert [t.status for t in attempts] == [TransactionStatus.FAILED, TransactionStatus.FAILED]
    assert attempts[0].originator_conversation_id != attempts[1].originator_conversation_id
    assert (
        entries_for(chama, f"b2c-reserve:{item.id}:2") == 1
        and entries_for(chama, f"b2c-release:{item.transaction_id}") == 1
    )
    assert balance(chama, AccountKind.MPESA_CLEARING) == 0
    batch = MPesaBulkPayment.objects.get(pk=batch_id)
    assert batch.status == BulkPaymentStatus.PARTIAL and batch.failed_count == 1 and batch.paid_amount == D("2200.00")
    assert trial_balance(group_id=chama.group.id) == 0


def test_retrying_after_the_utility_account_is_topped_up_pays_the_member(sim, chama, make_client):
    with sim.server.lock:
        sim.server.utility_balance = D("100")  # M-Pesa answers ResultCode 1: the utility account is low
    created = create(make_client(chama.chair), chama, "refund", [{"member": chama.member.id, "amount": "800"}])
    batch_id = created.json()["id"]
    approve_by_checkers(make_client, chama, batch_id)
    wait_delivered(sim, 1)
    batch = MPesaBulkPayment.objects.get(pk=batch_id)
    assert batch.status == BulkPaymentStatus.FAILED and batch.failed_count == 1 and batch.completed_at
    assert make_client(chama.member).post(f"{BULK}{batch_id}/retry_failed/").status_code == 403

    with sim.server.lock:
        sim.server.utility_balance = D("100000")
    retried = make_client(chama.secretary).post(f"{BULK}{batch_id}/retry_failed/")
    assert retried.status_code == 200, retried.content
    wait_delivered(sim, 2)

    batch = MPesaBulkPayment.objects.get(pk=batch_id)
    assert batch.status == BulkPaymentStatus.COMPLETED and batch.successful_count == 1 and batch.failed_count == 0
    assert batch.paid_amount == D("800.00")
    item = MPesaBulkPaymentItem.objects.get(bulk_payment=batch)
    assert item.attempts == 2 and item.status == BulkItemStatus.SUCCEEDED
    assert MPesaTransaction.objects.filter(member=chama.member, kind="b2c").count() == 2
    assert balance(chama, AccountKind.MEMBER_SAVINGS, chama.member) == D("4200.00")
    assert balance(chama, AccountKind.MPESA_CLEARING) == 0 and trial_balance(group_id=chama.group.id) == 0
    assert entries_for(chama, item.receipt_number) == 1
    nothing_left = make_client(chama.secretary).post(f"{BULK}{batch_id}/retry_failed/")
    assert nothing_left.status_code == 409


# --------------------------------------------------------------------------------------------------- timeouts


def test_a_queue_timeout_is_checked_with_transaction_status_and_released_when_mpesa_has_no_record(
    sim, chama, make_client
):
    cash_before = balance(chama, AccountKind.CASH)
    items = [{"member": chama.member.id, "amount": "600", "phone": QUEUE_TIMEOUT_PHONE}]
    batch_id = create(make_client(chama.chair), chama, "share_out", items).json()["id"]

    approve_by_checkers(make_client, chama, batch_id)
    delivered = wait_delivered(sim, 2)  # the QueueTimeOut, then the answer to our Transaction Status query

    assert [d["kind"] for d in delivered] == ["b2c_timeout", "status"]
    assert sim.count("POST", "/mpesa/transactionstatus/v1/query") == 1
    txn = MPesaTransaction.objects.get(phone=QUEUE_TIMEOUT_PHONE)
    assert txn.status == TransactionStatus.FAILED and txn.settlement == Settlement.RELEASED and txn.query_count == 1
    timeout_log = CallbackLog.objects.get(kind=CallbackKind.B2C_TIMEOUT)
    status_log = CallbackLog.objects.get(kind=CallbackKind.STATUS_RESULT)
    assert timeout_log.outcome == status_log.outcome == CallbackOutcome.PROCESSED
    assert timeout_log.transaction_id == status_log.transaction_id == txn.id
    item = MPesaBulkPaymentItem.objects.get(transaction=txn)
    assert item.status == BulkItemStatus.FAILED and item.result_code == "R000001"
    assert MPesaBulkPayment.objects.get(pk=batch_id).status == BulkPaymentStatus.FAILED
    assert balance(chama, AccountKind.CASH) == cash_before and balance(chama, AccountKind.MPESA_CLEARING) == 0
    assert balance(chama, AccountKind.MEMBER_SAVINGS, chama.member) == D("5000.00")
    assert trial_balance(group_id=chama.group.id) == 0


def test_a_send_that_times_out_keeps_its_reservation_and_a_late_success_still_settles(
    sim, chama, make_client, settings
):
    settings.MPESA_TIMEOUT = 0.3
    sim.server.callback_delay = 1.5  # the Result comes well after we gave up waiting for "accepted"
    sim.server.stall(B2C_PATH, 1.0, times=1)
    batch_id = create(make_client(chama.chair), chama, "refund", [{"member": chama.member.id, "amount": "250"}]).json()[
        "id"
    ]

    approve_by_checkers(make_client, chama, batch_id)

    item = MPesaBulkPaymentItem.objects.get(bulk_payment_id=batch_id)
    txn = item.transaction
    assert item.status == BulkItemStatus.TIMED_OUT and txn.status == TransactionStatus.TIMED_OUT
    assert txn.settlement == Settlement.RESERVED and balance(chama, AccountKind.MPESA_CLEARING) == D("250.00")
    assert MPesaBulkPayment.objects.get(pk=batch_id).status == BulkPaymentStatus.PROCESSING
    # The sweep resends with the SAME OriginatorConversationID: Daraja answers "duplicate", i.e. it has it.
    assert b2c_resend(transaction_id=txn.id) is True
    assert sim.count("POST", B2C_PATH) == 2
    txn.refresh_from_db()
    assert txn.status == TransactionStatus.ACCEPTED
    assert MPesaBulkPaymentItem.objects.get(pk=item.id).status == BulkItemStatus.SENT

    wait_delivered(sim, 1, timeout=15)
    txn.refresh_from_db()
    assert txn.status == TransactionStatus.SUCCEEDED and txn.settlement == Settlement.POSTED
    assert entries_for(chama, txn.receipt_number) == 1
    assert balance(chama, AccountKind.MPESA_CLEARING) == 0
    assert balance(chama, AccountKind.MEMBER_SAVINGS, chama.member) == D("4750.00")
    assert MPesaBulkPayment.objects.get(pk=batch_id).status == BulkPaymentStatus.COMPLETED
    assert trial_balance(group_id=chama.group.id) == 0


def test_a_lost_result_is_settled_once_by_the_sweeps_transaction_status_query(sim, chama, make_client, settings):
    live = settings.MPESA_CALLBACK_BASE_URL
    settings.MPESA_CALLBACK_BASE_URL = "http://127.0.0.1:9"  # the Result goes nowhere: lost
    batch_id = create(
        make_client(chama.chair), chama, "share_out", [{"member": chama.member.id, "amount": "400"}]
    ).json()["id"]
    approve_by_checkers(make_client, chama, batch_id)
    [lost] = wait_delivered(sim, 1)
    assert lost["status"] is None
    txn = MPesaTransaction.objects.get(member=chama.member, kind="b2c")
    assert txn.status == TransactionStatus.ACCEPTED

    settings.MPESA_CALLBACK_BASE_URL = live
    assert b2c_pending_sweep(older_than_seconds=0) == {"resent": 0, "queried": 1}
    [_, status] = wait_delivered(sim, 2)
    assert status["kind"] == "status" and status["status"] == 200

    txn.refresh_from_db()
    assert txn.status == TransactionStatus.SUCCEEDED and txn.settlement == Settlement.POSTED
    assert len(txn.receipt_number) == 10 and entries_for(chama, txn.receipt_number) == 1
    assert CallbackLog.objects.get(kind=CallbackKind.STATUS_RESULT).outcome == CallbackOutcome.PROCESSED
    assert MPesaBulkPayment.objects.get(pk=batch_id).status == BulkPaymentStatus.COMPLETED
    assert balance(chama, AccountKind.MEMBER_SAVINGS, chama.member) == D("4600.00")
    assert balance(chama, AccountKind.MPESA_CLEARING) == 0 and trial_balance(group_id=chama.group.id) == 0
    # Settled: the next sweep has nothing to ask.
    assert b2c_pending_sweep(older_than_seconds=0) == {"resent": 0, "queried": 0}


# --------------------------------------------------------------------------------------------------- idempotency


def test_a_duplicate_result_posts_once_and_a_failure_after_success_is_ignored(sim, chama, make_client):
    batch_id = create(
        make_client(chama.chair), chama, "share_out", [{"member": chama.member.id, "amount": "1000"}]
    ).json()["id"]
    approve_by_checkers(make_client, chama, batch_id)
    wait_delivered(sim, 1)
    txn = MPesaTransaction.objects.get(member=chama.member, kind="b2c")
    receipt = txn.receipt_number
    books = (balance(chama, AccountKind.CASH), balance(chama, AccountKind.MEMBER_SAVINGS, chama.member))

    sim.server.replay_callback(txn.originator_conversation_id, times=2)  # Daraja sends the same Result again
    failure = {
        "Result": {
            "ResultType": 0,
            "ResultCode": 2001,
            "ResultDesc": "The initiator information is invalid.",
            "OriginatorConversationID": txn.originator_conversation_id,
            "ConversationID": txn.conversation_id,
            "TransactionID": "SLX0000000",
        }
    }
    assert post_result("b2c_result", failure) == 200
    orphan = {
        "Result": {
            **failure["Result"],
            "OriginatorConversationID": "nobody-knows-this-id",
            "ConversationID": "AG_0",
            "ResultCode": 0,
        }
    }
    assert post_result("b2c_result", orphan) == 200

    outcomes = list(
        CallbackLog.objects.filter(kind=CallbackKind.B2C_RESULT).order_by("id").values_list("outcome", "detail")
    )
    assert [o for o, _ in outcomes] == ["processed", "duplicate", "duplicate", "ignored", "orphan"]
    txn.refresh_from_db()
    assert txn.status == TransactionStatus.SUCCEEDED and txn.receipt_number == receipt
    assert entries_for(chama, receipt) == 1
    assert (balance(chama, AccountKind.CASH), balance(chama, AccountKind.MEMBER_SAVINGS, chama.member)) == books
    batch = MPesaBulkPayment.objects.get(pk=batch_id)
    assert batch.status == BulkPaymentStatus.COMPLETED and batch.successful_count == 1 and batch.failed_count == 0
    assert trial_balance(group_id=chama.group.id) == 0


def test_a_merry_go_round_pot_is_taken_from_every_members_savings(sim, chama, make_client):
    created = create(make_client(chama.chair), chama, "merry_go_round", [{"member": chama.member.id, "amount": "600"}])
    assert created.status_code == 201, created.content
    approve_by_checkers(make_client, chama, created.json()["id"])
    wait_delivered(sim, 1)

    txn = MPesaTransaction.objects.get(member=chama.member, kind="b2c")
    assert txn.settlement == Settlement.POSTED and entries_for(chama, txn.receipt_number) == 1
    # Six active members each contribute 100 to the pot.
    assert balance(chama, AccountKind.MEMBER_SAVINGS, chama.guarantor) == D("4900.00")
    assert balance(chama, AccountKind.MEMBER_SAVINGS, chama.chair) == D("-100.00")
    assert balance(chama, AccountKind.MPESA_CLEARING) == 0 and trial_balance(group_id=chama.group.id) == 0


def test_not_enough_group_cash_fails_the_item_without_calling_mpesa(sim, chama, make_client):
    cash = balance(chama, AccountKind.CASH)
    items = [{"member": chama.member.id, "amount": str(int(cash) + 100)}]
    batch_id = create(make_client(chama.chair), chama, "merry_go_round", items).json()["id"]

    approve_by_checkers(make_client, chama, batch_id)

    item = MPesaBulkPaymentItem.objects.get(bulk_payment_id=batch_id)
    assert item.status == BulkItemStatus.FAILED and item.result_desc == "Not enough cash in the group"
    assert item.transaction_id is None and sim.count("POST", B2C_PATH) == 0
    assert MPesaBulkPayment.objects.get(pk=batch_id).status == BulkPaymentStatus.FAILED
    assert balance(chama, AccountKind.CASH) == cash and trial_balance(group_id=chama.group.id) == 0


@pytest.mark.parametrize(
    ("setting", "value", "code"),
    [
        ("MPESA_CONSUMER_SECRET", "not-the-secret", "400.008.01"),  # OAuth refused: nothing reached M-Pesa
        ("MPESA_BASE_URL", "http://127.0.0.1:9", "unavailable"),  # Daraja cannot be reached
    ],
)
def test_a_request_daraja_refuses_fails_the_item_and_releases_its_reservation(
    sim, chama, make_client, settings, setting, value, code
):
    batch_id = create(make_client(chama.chair), chama, "refund", [{"member": chama.member.id, "amount": "300"}]).json()[
        "id"
    ]
    setattr(settings, setting, value)

    approve_by_checkers(make_client, chama, batch_id)

    item = MPesaBulkPaymentItem.objects.select_related("transaction").get(bulk_payment_id=batch_id)
    assert item.status == BulkItemStatus.FAILED and item.result_code == code and item.attempts == 1
    assert item.transaction.status == TransactionStatus.FAILED and item.transaction.settlement == Settlement.RELEASED
    assert sim.count("POST", B2C_PATH) == 0
    assert MPesaBulkPayment.objects.get(pk=batch_id).status == BulkPaymentStatus.FAILED
    assert (
        entries_for(chama, f"b2c-reserve:{item.id}:1") == entries_for(chama, f"b2c-release:{item.transaction_id}") == 1
    )
    assert balance(chama, AccountKind.MPESA_CLEARING) == 0 and trial_balance(group_id=chama.group.id) == 0


# --------------------------------------------------------------------------------------------------- maker-checker


def test_maker_checker_rules(chama, make_client):
    batch_id = create(make_client(chama.chair), chama, "refund", [{"member": chama.member.id, "amount": "100"}]).json()[
        "id"
    ]
    url = f"{BULK}{batch_id}/approve/"

    by_maker = make_client(chama.chair).post(url, {}, format="json")
    assert by_maker.status_code == 403
    assert by_maker.json()["fields"]["approver"] == ["The official who created a batch cannot approve it"]
    assert make_client(chama.member).post(url, {}, format="json").status_code == 403
    assert make_client(outsider()).post(url, {}, format="json").status_code == 404
    assert make_client(chama.treasurer).post(url, {}, format="json").status_code == 200
    twice = make_client(chama.treasurer).post(url, {}, format="json")
    assert twice.status_code == 409 and twice.json()["code"] == "already_decided"
    assert BulkPaymentApproval.objects.filter(bulk_payment_id=batch_id).count() == 1
    assert MPesaBulkPayment.objects.get(pk=batch_id).status == BulkPaymentStatus.PENDING_APPROVAL

    # An approved batch that has not started (its task lost) is started by process_batch; anything else is a 409.
    assert make_client(chama.chair).post(f"{BULK}{batch_id}/process_batch/").status_code == 409
    rejected = make_client(chama.secretary).post(
        f"{BULK}{batch_id}/reject/", {"comments": "wrong amount"}, format="json"
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert make_client(chama.secretary).post(url, {}, format="json").status_code == 409
    assert make_client(chama.chair).post(f"{BULK}{batch_id}/retry_failed/").status_code == 409
    assert make_client(chama.chair).post(f"{BULK}{batch_id}/process_batch/").status_code == 409


def test_process_batch_starts_an_approved_batch_whose_task_was_lost(sim, chama, make_client):
    from django.utils import timezone

    batch_id = create(make_client(chama.chair), chama, "refund", [{"member": chama.member.id, "amount": "100"}]).json()[
        "id"
    ]
    MPesaBulkPayment.objects.filter(pk=batch_id).update(status=BulkPaymentStatus.APPROVED, approved_at=timezone.now())

    started = make_client(chama.treasurer).post(f"{BULK}{batch_id}/process_batch/")

    assert started.status_code == 200, started.content
    assert sim.count("POST", B2C_PATH) == 1
    wait_delivered(sim, 1)
    assert MPesaBulkPayment.objects.get(pk=batch_id).status == BulkPaymentStatus.COMPLETED
    again = make_client(chama.treasurer).post(f"{BULK}{batch_id}/process_batch/")
    assert again.status_code == 409 and sim.count("POST", B2C_PATH) == 1


def test_who_may_create_and_see_batches(chama, make_client):
    item = {"member": chama.member.id, "amount": "100"}
    assert create(make_client(chama.member), chama, "refund", [item]).status_code == 403
    assert create(make_client(outsider()), chama, "refund", [item]).status_code == 404
    created = create(make_client(chama.treasurer), chama, "refund", [item])
    assert created.status_code == 201
    batch_id = created.json()["id"]

    assert make_client(chama.secretary).get(BULK).json()["count"] == 1
    assert make_client(chama.member).get(BULK).json()["count"] == 0
    assert make_client(chama.member).get(f"{BULK}{batch_id}/").status_code == 404
    assert make_client(outsider()).get(f"{BULK}{batch_id}/").status_code == 404
    assert make_client(chama.chair).patch(f"{BULK}{batch_id}/", {}, format="json").status_code == 405
    assert make_client(chama.chair).delete(f"{BULK}{batch_id}/").status_code == 405
    chair = make_client(chama.chair)
    assert chair.get(BULK, {"status": "pending_approval", "purpose": "refund"}).json()["count"] == 1
    assert chair.get(BULK, {"purpose": "share_out"}).json()["count"] == 0
    assert chair.get(BULK, {"group": chama.group.id + 1000}).json()["count"] == 0


# --------------------------------------------------------------------------------------------------- validation


def _other_group_member():
    from groups.tests.factories import add_member, make_group

    return add_member(make_group()).user


@pytest.mark.parametrize(
    ("purpose", "item", "field", "message"),
    [
        ("refund", {"amount": "9"}, "items[0].amount", "between KES 10 and KES 250,000"),
        ("merry_go_round", {"amount": "250001"}, "items[0].amount", "between KES 10 and KES 250,000"),
        ("refund", {"amount": "10.5"}, "items[0].amount", "whole shillings"),
        ("refund", {"amount": "0"}, "items[0].amount", "greater than zero"),
        ("refund", {"amount": "-5"}, "items[0].amount", "greater than zero"),
        ("refund", {"amount": "10.555"}, "items[0].amount", "decimal places"),
        ("refund", {"phone": "12345"}, "items[0].phone", "number"),
        ("refund", {"phone": "+255712345678"}, "items[0].phone", "Safaricom-format"),
        ("refund", {"member": "other-group"}, "items[0].member", "Not an active member"),
        ("refund", {"amount": "6000"}, "items[0].amount", "holds only KES 5000.00 in savings"),
        ("share_out", {"loan": "pending"}, "items[0].loan", "Only a loan disbursement names a loan"),
        ("loan_disbursement", {"loan": "pending", "amount": "3000"}, "items[0].loan", "only an APPROVED loan"),
        ("loan_disbursement", {}, "items[0].loan", "Name the loan"),
    ],
)
def test_invalid_items_are_400_on_the_field_and_write_nothing(chama, make_client, purpose, item, field, message):
    loan = None
    if item.get("loan") == "pending" or purpose == "loan_disbursement":
        give_savings(chama.group, chama.member, "3000")
        loan = loan_apply(
            group_id=chama.group.id,
            borrower=fresh(chama.member),
            principal_amount=D("3000"),
            duration_months=3,
            purpose="x",
        )
    payload = {"member": chama.member.id, "amount": "100", **item}
    if payload["member"] == "other-group":
        payload["member"] = _other_group_member().id
    if payload.get("loan") == "pending":
        payload["loan"] = loan.id
    before = rows_snapshot()

    response = create(make_client(chama.chair), chama, purpose, [payload])

    assert response.status_code == 400, response.content
    fields = response.json()["fields"]
    assert field in fields, fields
    assert any(message in text for text in fields[field]), fields[field]
    assert rows_snapshot() == before


def test_batch_level_rules(chama, make_client):
    chair = make_client(chama.chair)
    before = rows_snapshot()
    twice = create(
        chair,
        chama,
        "refund",
        [{"member": chama.member.id, "amount": "100"}, {"member": chama.member.id, "amount": "50"}],
    )
    assert twice.status_code == 400 and "listed twice" in twice.json()["fields"]["items[1].member"][0]
    pot = create(
        chair,
        chama,
        "merry_go_round",
        [{"member": chama.member.id, "amount": "100"}, {"member": chama.guarantor.id, "amount": "100"}],
    )
    assert pot.status_code == 400 and "exactly one member" in pot.json()["fields"]["items"][0]
    empty = create(chair, chama, "refund", [])
    assert empty.status_code == 400 and any(key.startswith("items") for key in empty.json()["fields"])
    purpose = create(chair, chama, "contribution", [{"member": chama.member.id, "amount": "100"}])
    assert purpose.status_code == 400 and "purpose" in purpose.json()["fields"]
    several = create(
        chair,
        chama,
        "refund",
        [{"member": chama.member.id, "amount": "9"}, {"member": chama.guarantor.id, "amount": "100", "phone": "1"}],
    )
    assert set(several.json()["fields"]) == {"items[0].amount", "items[1].phone"}  # every error at once
    assert rows_snapshot() == before


def test_a_loan_payout_must_match_the_loan(chama, make_client):
    loan = approved_loan(chama)
    chair = make_client(chama.chair)
    wrong_amount = create(
        chair, chama, "loan_disbursement", [{"member": chama.borrower.id, "amount": "2000", "loan": loan.id}]
    )
    assert "KES 3000.00" in wrong_amount.json()["fields"]["items[0].amount"][0]
    wrong_member = create(
        chair, chama, "loan_disbursement", [{"member": chama.member.id, "amount": "3000", "loan": loan.id}]
    )
    assert "borrower" in wrong_member.json()["fields"]["items[0].loan"][0]
    assert MPesaBulkPayment.objects.count() == 0


# --------------------------------------------------------------------------------------------------- reads


def test_the_list_costs_the_same_number_of_queries_for_more_batches_and_items(chama, make_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    give_savings(chama.group, chama.borrower, "1000")
    members = [chama.member, chama.guarantor, chama.borrower]
    maker = make_client(chama.chair)
    create(maker, chama, "refund", [{"member": chama.member.id, "amount": "100"}])
    make_client(chama.treasurer).post(f"{BULK}{MPesaBulkPayment.objects.get().id}/reject/", {}, format="json")
    reader = make_client(chama.secretary)

    with CaptureQueriesContext(connection) as few:
        assert reader.get(BULK).json()["count"] == 1
    for _ in range(3):
        batch = create(maker, chama, "refund", [{"member": m.id, "amount": "100"} for m in members]).json()
        make_client(chama.treasurer).post(f"{BULK}{batch['id']}/approve/", {}, format="json")
    with CaptureQueriesContext(connection) as more:
        body = reader.get(BULK).json()
    assert body["count"] == 4 and sum(len(b["items"]) for b in body["results"]) == 10
    assert len(more.captured_queries) == len(few.captured_queries)


def test_a_success_after_a_recorded_failure_is_posted_because_the_money_left(sim, chama, make_client):
    cash_before = balance(chama, AccountKind.CASH)
    batch_id = create(
        make_client(chama.chair),
        chama,
        "refund",
        [{"member": chama.member.id, "amount": "400", "phone": NO_FUNDS_PHONE}],
    ).json()["id"]
    approve_by_checkers(make_client, chama, batch_id)
    wait_delivered(sim, 1)
    txn = MPesaTransaction.objects.get(kind="b2c")
    assert txn.status == TransactionStatus.FAILED and balance(chama, AccountKind.CASH) == cash_before

    late_success = {
        "Result": {
            "ResultType": 0,
            "ResultCode": 0,
            "ResultDesc": "The service request is processed successfully.",
            "OriginatorConversationID": txn.originator_conversation_id,
            "ConversationID": txn.conversation_id,
            "TransactionID": "SLZ0000001",
            "ResultParameters": {
                "ResultParameter": [
                    {"Key": "TransactionAmount", "Value": 400},
                    {"Key": "TransactionReceipt", "Value": "SLZ0000001"},
                    {"Key": "TransactionCompletedDateTime", "Value": "25.11.2026 10:00:00"},
                ]
            },
        }
    }
    assert post_result("b2c_result", late_success) == 200
    assert post_result("b2c_result", late_success) == 200  # and again: still once

    txn.refresh_from_db()
    assert txn.status == TransactionStatus.SUCCEEDED and txn.receipt_number == "SLZ0000001"
    assert entries_for(chama, "SLZ0000001") == 1 and entries_for(chama, f"b2c-rereserve:{txn.id}") == 1
    assert balance(chama, AccountKind.CASH) == cash_before - D("400")
    assert balance(chama, AccountKind.MPESA_CLEARING) == 0
    item = MPesaBulkPaymentItem.objects.get(bulk_payment_id=batch_id)
    assert item.status == BulkItemStatus.SUCCEEDED
    assert MPesaBulkPayment.objects.get(pk=batch_id).status == BulkPaymentStatus.COMPLETED
    assert trial_balance(group_id=chama.group.id) == 0
