"""
M-Pesa payment reversals end to end: our API -> maker-checker -> the Daraja simulator over HTTP (Reversal) -> its
Result POSTed to our live server -> the ledger. No mocks: every call is real loopback HTTP.

One test-only arrangement, outside the code under test: a URL conf that mounts the reversal Result/QueueTimeOut
callback views (mpesa_integration.views_callbacks) in front of the project's URLs, so these tests do not depend on
the lead wiring those two routes in mpesa_integration/urls.py (duplicates are harmless: the first match wins).

On SQLite the live server shares the test's connection: each test waits for the simulator to report a Result
delivered (`daraja.wait_sent`) before it reads the database again, and the Result comes RESULT_DELAY seconds after
Daraja's reply (longer than an approval takes to finish).
"""

from __future__ import annotations

import json
import urllib.request
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import path

import chamahub.urls
from accounts.tests.factories import UserFactory
from chamahub.models import OutboxEvent
from finance.choices import AccountKind, ContributionStatus, EntryKind
from finance.models import Contribution, JournalEntry
from finance.selectors.ledger import account_balance
from finance.services.contributions import contribution_reverse
from finance.tests.loan_fixtures import events_named, make_chama, outsider
from groups.models import Membership
from mpesa_integration import gateway
from mpesa_integration import views_callbacks as cb
from mpesa_integration.choices import CallbackKind, CallbackOutcome, ReversalStatus, Settlement, TransactionStatus
from mpesa_integration.daraja.client import REVERSAL_PATH
from mpesa_integration.models import CallbackLog, MPesaTransaction, PaymentReversal
from mpesa_integration.services.c2b import c2b_urls_register
from mpesa_integration.tests.helpers import SUCCESS_PHONE, assert_books_balance, post_callback, push

urlpatterns = [
    path(
        "api/v1/mpesa/callbacks/<str:secret>/reversal/result/",
        cb.ReversalResultView.as_view(),
        name="test-mpesa-callback-reversal-result",
    ),
    path(
        "api/v1/mpesa/callbacks/<str:secret>/reversal/timeout/",
        cb.ReversalTimeoutView.as_view(),
        name="test-mpesa-callback-reversal-timeout",
    ),
    *chamahub.urls.urlpatterns,
]
handler400, handler403 = chamahub.urls.handler400, chamahub.urls.handler403
handler404, handler500 = chamahub.urls.handler404, chamahub.urls.handler500

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls(__name__)]

D = Decimal
REVERSALS = "/api/v1/mpesa/reversals/"
RESULT_DELAY = 0.4


@pytest.fixture
def chama():
    return make_chama()


@pytest.fixture
def sim(daraja):
    """The simulator, its Results delivered RESULT_DELAY seconds after Daraja's synchronous reply."""
    daraja.server.callback_delay = RESULT_DELAY
    return daraja


# --------------------------------------------------------------------------------------------------- helpers


def c2b_body(bill_ref: str, *, trans_id: str, amount: str = "1000.00") -> dict:
    from django.conf import settings

    return {
        "TransactionType": "Pay Bill",
        "TransID": trans_id,
        "TransTime": "20261125101500",
        "TransAmount": amount,
        "BusinessShortCode": settings.MPESA_C2B_SHORTCODE,
        "BillRefNumber": bill_ref,
        "InvoiceNumber": "",
        "OrgAccountBalance": "50000.00",
        "ThirdPartyTransID": "",
        "MSISDN": "25470****149",
        "FirstName": "Jane",
        "MiddleName": "",
        "LastName": "Doe",
    }


def paybill_payment(api_client, bill_ref: str, *, trans_id: str, amount: str = "1000.00") -> MPesaTransaction:
    """A paybill confirmation POSTed to our hook as Daraja would (the simulator never issued this receipt)."""
    response = post_callback(api_client, c2b_body(bill_ref, trans_id=trans_id, amount=amount), kind="c2b_confirmation")
    assert response.status_code == 200, response.content
    return MPesaTransaction.objects.get(receipt_number=trans_id)


def account_number(chama, user) -> str:
    return Membership.objects.get(group=chama.group, user=user).account_reference


def paybill_contribution(api_client, chama, *, trans_id: str, amount: str = "1000.00") -> MPesaTransaction:
    txn = paybill_payment(api_client, account_number(chama, chama.member), trans_id=trans_id, amount=amount)
    assert txn.settlement == Settlement.POSTED
    assert Contribution.objects.get(pk=txn.contribution_id).status == ContributionStatus.CONFIRMED
    return txn


def stk_contribution(sim, chama, make_client, amount: str = "750") -> MPesaTransaction:
    """A real STK push the simulator completes: a confirmed contribution keyed by the simulator's receipt."""
    response = push(make_client(chama.member), chama.group, amount)
    assert response.status_code == 202, response.content
    sim.wait_sent(1, kind="stk")
    txn = MPesaTransaction.objects.get(pk=response.json()["id"])
    assert txn.status == TransactionStatus.SUCCEEDED and txn.settlement == Settlement.POSTED
    return txn


def ask(client, txn, reason: str = "Paid twice by mistake"):
    return client.post(REVERSALS, {"transaction": txn.id, "reason": reason}, format="json")


def decide(client, reversal_id: int, verb: str = "approve", comments: str = ""):
    return client.post(f"{REVERSALS}{reversal_id}/{verb}/", {"comments": comments}, format="json")


def requested(make_client, official, txn) -> int:
    response = ask(make_client(official), txn)
    assert response.status_code == 201, response.content
    return response.json()["id"]


def balance(chama, kind: str, member=None) -> Decimal:
    return account_balance(group_id=chama.group.id, kind=kind, member_id=member.id if member else None)


def reversal_entries(chama) -> int:
    return JournalEntry.objects.filter(group_id=chama.group.id, kind=EntryKind.REVERSAL).count()


def rows_snapshot() -> tuple:
    return PaymentReversal.objects.count(), JournalEntry.objects.count(), OutboxEvent.objects.count()


def post_result(kind: str, body: dict) -> int:
    """POST a Result (or QueueTimeOut) to our own callback URL over HTTP, as Daraja would."""
    request = urllib.request.Request(
        gateway.callback_url(kind),
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def result_body(reversal: PaymentReversal, *, code, desc: str) -> dict:
    return {
        "Result": {
            "ResultType": 0,
            "ResultCode": code,
            "ResultDesc": desc,
            "OriginatorConversationID": reversal.originator_conversation_id,
            "ConversationID": reversal.conversation_id or "AG_0",
            "TransactionID": "SLX0000000",
        }
    }


# --------------------------------------------------------------------------------------------------- happy paths


def test_a_reversed_stk_contribution_is_returned_and_the_savings_undone_once(sim, chama, make_client):
    txn = stk_contribution(sim, chama, make_client, "750")
    contribution = Contribution.objects.get(pk=txn.contribution_id)
    assert balance(chama, AccountKind.MEMBER_SAVINGS, chama.member) == D("750.00")

    created = ask(make_client(chama.treasurer), txn, "  Paid   twice by mistake ")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "pending_approval" and body["status_display"] == "Awaiting a second official"
    assert body["amount"] == "750.00" and body["transaction_receipt"] == txn.receipt_number
    assert body["reason"] == "Paid twice by mistake" and body["requested_by"] == chama.treasurer.id
    assert body["requested_by_name"] and body["group"] == chama.group.id and body["transaction"] == txn.id
    assert sim.count("POST", REVERSAL_PATH) == 0  # nothing goes to M-Pesa before a second official approves

    approved = decide(make_client(chama.chair), body["id"], comments="Confirmed on the statement")
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "sent" and approved.json()["decided_by"] == chama.chair.id
    assert approved.json()["originator_conversation_id"]
    assert approved.json()["decision_comments"] == "Confirmed on the statement"
    sim.wait_sent(1, kind="reversal")

    reversal = PaymentReversal.objects.get(pk=body["id"])
    assert reversal.status == ReversalStatus.SUCCEEDED and reversal.result_code == "0" and reversal.completed_at
    assert reversal.request_body["TransactionID"] == txn.receipt_number
    assert reversal.request_body["ReceiverParty"] == sim.shortcode
    assert reversal.request_body["Amount"] == 750 and reversal.request_body["Remarks"] == "Paid twice by mistake"
    assert reversal.request_body["SecurityCredential"] == "***"
    assert sim.server.ledger[txn.receipt_number].reversed
    contribution.refresh_from_db()
    assert contribution.status == ContributionStatus.REVERSED
    assert reversal.journal_entry_id == JournalEntry.objects.get(reverses_id=contribution.journal_entry_id).id
    assert reversal_entries(chama) == 1
    assert balance(chama, AccountKind.MEMBER_SAVINGS, chama.member) == 0
    assert balance(chama, AccountKind.CASH) == 0
    assert_books_balance(chama.group)
    txn.refresh_from_db()
    assert txn.status == TransactionStatus.SUCCEEDED and txn.settlement == Settlement.REVERSED
    log = CallbackLog.objects.get(kind=CallbackKind.REVERSAL_RESULT)
    assert log.outcome == CallbackOutcome.PROCESSED and log.transaction_id == txn.id
    assert log.correlation_id == reversal.originator_conversation_id
    [completed] = events_named("mpesa.reversal_completed")
    assert completed["reversal_id"] == reversal.id and completed["journal_entry_id"] == reversal.journal_entry_id
    assert len(events_named("mpesa.reversal_requested")) == 1

    detail = make_client(chama.secretary).get(f"{REVERSALS}{reversal.id}/").json()
    assert detail["status"] == "succeeded" and detail["journal_entry"] == reversal.journal_entry_id
    assert decide(make_client(chama.secretary), reversal.id).status_code == 409  # decided already
    again = ask(make_client(chama.secretary), txn)
    assert again.status_code == 409  # it was returned already


def test_a_duplicate_result_posts_once_and_a_failure_after_success_is_ignored(sim, chama, make_client):
    txn = stk_contribution(sim, chama, make_client, "600")
    reversal_id = requested(make_client, chama.treasurer, txn)
    assert decide(make_client(chama.chair), reversal_id).status_code == 200
    sim.wait_sent(1, kind="reversal")
    reversal = PaymentReversal.objects.get(pk=reversal_id)
    books = (balance(chama, AccountKind.CASH), balance(chama, AccountKind.MEMBER_SAVINGS, chama.member))

    sim.server.replay_callback(reversal.originator_conversation_id, times=2)  # Daraja sends the same Result again
    failure = result_body(reversal, code="R000002", desc="The OriginalTransactionID is invalid")
    assert post_result("reversal_result", failure) == 200

    outcomes = list(
        CallbackLog.objects.filter(kind=CallbackKind.REVERSAL_RESULT).order_by("id").values_list("outcome", flat=True)
    )
    assert outcomes == ["processed", "duplicate", "duplicate", "ignored"]
    reversal.refresh_from_db()
    assert reversal.status == ReversalStatus.SUCCEEDED and reversal.result_code == "0"
    assert reversal_entries(chama) == 1
    assert (balance(chama, AccountKind.CASH), balance(chama, AccountKind.MEMBER_SAVINGS, chama.member)) == books
    assert len(events_named("mpesa.reversal_completed")) == 1
    assert_books_balance(chama.group)


def test_money_held_in_suspense_is_returned_dr_suspense_cr_cash_from_the_paybill(sim, chama, make_client):
    c2b_urls_register()
    gateway.client_get().c2b_simulate(phone=SUCCESS_PHONE, amount=1200, bill_ref_number=f"{chama.group.code}999")
    sim.wait_sent(1, kind="c2b_confirmation")
    txn = MPesaTransaction.objects.get(kind="c2b")
    assert txn.settlement == Settlement.SUSPENSE and balance(chama, AccountKind.SUSPENSE) == D("1200.00")

    reversal_id = requested(make_client, chama.treasurer, txn)
    assert decide(make_client(chama.secretary), reversal_id).status_code == 200
    sim.wait_sent(1, kind="reversal")

    reversal = PaymentReversal.objects.get(pk=reversal_id)
    assert reversal.status == ReversalStatus.SUCCEEDED
    assert reversal.request_body["ReceiverParty"] == sim.c2b_shortcode != sim.shortcode
    entry = JournalEntry.objects.get(group_id=chama.group.id, reference=f"reversal:{txn.receipt_number}")
    assert reversal.journal_entry_id == entry.id
    legs = {p.account.kind: p.amount for p in entry.postings.select_related("account")}
    assert legs == {AccountKind.SUSPENSE: D("1200.00"), AccountKind.CASH: D("-1200.00")}
    assert balance(chama, AccountKind.SUSPENSE) == 0 and balance(chama, AccountKind.CASH) == 0
    txn.refresh_from_db()
    assert txn.settlement == Settlement.REVERSED and txn.status == TransactionStatus.SUCCEEDED
    assert_books_balance(chama.group)


# --------------------------------------------------------------------------------------------------- who may


def test_who_may_request_see_and_decide(chama, make_client, api_client):
    txn = paybill_contribution(api_client, chama, trans_id="SLP0000001")
    stranger = outsider()
    assert api_client.post(REVERSALS, {"transaction": txn.id, "reason": "Paid twice"}).status_code == 401

    assert ask(make_client(chama.member), txn).status_code == 403
    assert ask(make_client(stranger), txn).status_code == 404
    unknown = make_client(chama.treasurer).post(REVERSALS, {"transaction": 999_999, "reason": "Paid twice"})
    assert unknown.status_code == 404
    assert PaymentReversal.objects.count() == 0
    reversal_id = requested(make_client, chama.treasurer, txn)

    assert make_client(chama.member).get(REVERSALS).json()["count"] == 0
    assert make_client(stranger).get(REVERSALS).json()["count"] == 0
    assert make_client(chama.member).get(f"{REVERSALS}{reversal_id}/").status_code == 404
    assert make_client(stranger).get(f"{REVERSALS}{reversal_id}/").status_code == 404
    assert [r["id"] for r in make_client(chama.chair).get(REVERSALS).json()["results"]] == [reversal_id]

    assert decide(make_client(chama.member), reversal_id).status_code == 403
    assert decide(make_client(stranger), reversal_id).status_code == 404
    assert decide(make_client(stranger), 999_999).status_code == 404
    own = decide(make_client(chama.treasurer), reversal_id)
    assert own.status_code == 403
    assert own.json()["message"] == "The official who requested a reversal cannot approve it"
    assert decide(make_client(chama.treasurer), reversal_id, "reject").status_code == 403
    reversal = PaymentReversal.objects.get(pk=reversal_id)
    assert reversal.status == ReversalStatus.PENDING_APPROVAL and reversal.decided_by_id is None

    chair = make_client(chama.chair)
    assert chair.put(f"{REVERSALS}{reversal_id}/", {"reason": "x"}, format="json").status_code == 405
    assert chair.patch(f"{REVERSALS}{reversal_id}/", {"reason": "x"}, format="json").status_code == 405
    assert chair.delete(f"{REVERSALS}{reversal_id}/").status_code == 405


def test_ids_no_database_can_hold_are_a_404_or_400_never_a_500(chama, make_client):
    client = make_client(chama.chair)
    huge = 10**30

    assert client.get(f"{REVERSALS}{huge}/").status_code == 404
    assert decide(client, huge).status_code == 404
    assert client.post(REVERSALS, {"transaction": huge, "reason": "Paid twice"}, format="json").status_code == 400
    assert client.post(REVERSALS, {"transaction": 1e300, "reason": "Paid twice"}, format="json").status_code == 400
    assert client.get(f"{REVERSALS}?group={huge}").status_code == 400
    assert PaymentReversal.objects.count() == 0


@pytest.mark.parametrize("purpose", ["loan_repayment", "fine"])
def test_a_loan_repayment_or_fine_payment_cannot_be_reversed(chama, make_client, purpose):
    txn = MPesaTransaction.objects.create(
        kind="stk",
        group=chama.group,
        member=chama.member,
        phone=SUCCESS_PHONE,
        amount=D("500"),
        purpose=purpose,
        status=TransactionStatus.SUCCEEDED,
        receipt_number="SLR0000001",
        settlement=Settlement.POSTED,
    )
    before = rows_snapshot()

    response = ask(make_client(chama.treasurer), txn)

    assert response.status_code == 400, response.content
    assert "cannot be undone safely" in response.json()["fields"]["transaction"][0]
    assert rows_snapshot() == before


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"kind": "b2c"}, "B2C payout cannot"),
        ({"status": TransactionStatus.TIMED_OUT}, "Only a succeeded payment"),
        ({"receipt_number": None}, "no M-Pesa receipt"),
        ({"settlement": Settlement.NONE}, "cannot be reversed"),
        ({"amount": D("500.50")}, "whole shillings"),
    ],
)
def test_payments_that_are_not_reversible_are_a_400_naming_why(chama, make_client, changes, words):
    fields = {
        "kind": "c2b",
        "group": chama.group,
        "phone": SUCCESS_PHONE,
        "amount": D("500"),
        "purpose": "other",
        "status": TransactionStatus.SUCCEEDED,
        "receipt_number": "SLN0000001",
        "settlement": Settlement.SUSPENSE,
        **changes,
    }
    txn = MPesaTransaction.objects.create(**fields)
    before = rows_snapshot()

    response = ask(make_client(chama.treasurer), txn)

    assert response.status_code == 400, response.content
    assert words in response.json()["fields"]["transaction"][0]
    assert rows_snapshot() == before


@pytest.mark.parametrize("reason", ["", "x", "   y   ", "r" * 101])
def test_a_reason_outside_two_to_a_hundred_characters_is_a_400_and_writes_nothing(
    chama, make_client, api_client, reason
):
    txn = paybill_contribution(api_client, chama, trans_id="SLP0000002")
    before = rows_snapshot()

    response = ask(make_client(chama.treasurer), txn, reason)

    assert response.status_code == 400, response.content
    assert "reason" in response.json()["fields"]
    assert rows_snapshot() == before


# --------------------------------------------------------------------------------------------------- one live


def test_one_live_reversal_per_payment_and_a_rejected_one_may_be_requested_again(chama, make_client, api_client):
    txn = paybill_contribution(api_client, chama, trans_id="SLP0000003")
    first = requested(make_client, chama.treasurer, txn)

    second = ask(make_client(chama.secretary), txn)
    assert second.status_code == 409, second.content
    assert second.json()["code"] == "reversal_exists"
    assert PaymentReversal.objects.count() == 1

    rejected = decide(make_client(chama.chair), first, "reject", comments="Not a duplicate")
    assert rejected.status_code == 200, rejected.content
    assert rejected.json()["status"] == "rejected" and rejected.json()["decision_comments"] == "Not a duplicate"
    assert decide(make_client(chama.secretary), first).status_code == 409
    assert len(events_named("mpesa.reversal_rejected")) == 1

    again = ask(make_client(chama.secretary), txn)
    assert again.status_code == 201, again.content
    assert PaymentReversal.objects.filter(transaction=txn, status=ReversalStatus.PENDING_APPROVAL).count() == 1
    contribution = Contribution.objects.get(pk=txn.contribution_id)
    assert contribution.status == ContributionStatus.CONFIRMED and reversal_entries(chama) == 0


def test_approving_after_the_contribution_was_reversed_by_hand_is_a_409_and_sends_nothing(
    chama, make_client, api_client
):
    txn = paybill_contribution(api_client, chama, trans_id="SLP0000004")
    reversal_id = requested(make_client, chama.treasurer, txn)
    contribution_reverse(contribution_id=txn.contribution_id, actor=chama.chair, reason="Entered twice")

    response = decide(make_client(chama.chair), reversal_id)

    assert response.status_code == 409, response.content
    assert "changed since the reversal was requested" in response.json()["message"]
    reversal = PaymentReversal.objects.get(pk=reversal_id)
    assert reversal.status == ReversalStatus.PENDING_APPROVAL and reversal.originator_conversation_id is None


# --------------------------------------------------------------------------------------------------- failures


def test_a_receipt_mpesa_never_issued_fails_with_r000002_and_posts_nothing(sim, chama, make_client, api_client):
    txn = paybill_contribution(api_client, chama, trans_id="SLQ0000001")  # not a receipt of the simulator's
    reversal_id = requested(make_client, chama.treasurer, txn)
    books = (balance(chama, AccountKind.CASH), balance(chama, AccountKind.MEMBER_SAVINGS, chama.member))

    assert decide(make_client(chama.chair), reversal_id).status_code == 200
    sim.wait_sent(1, kind="reversal")

    reversal = PaymentReversal.objects.get(pk=reversal_id)
    assert reversal.status == ReversalStatus.FAILED and reversal.result_code == "R000002"
    assert reversal.result_desc == "The OriginalTransactionID is invalid" and reversal.journal_entry_id is None
    assert Contribution.objects.get(pk=txn.contribution_id).status == ContributionStatus.CONFIRMED
    assert reversal_entries(chama) == 0
    assert (balance(chama, AccountKind.CASH), balance(chama, AccountKind.MEMBER_SAVINGS, chama.member)) == books
    txn.refresh_from_db()
    assert txn.settlement == Settlement.POSTED
    assert len(events_named("mpesa.reversal_failed")) == 1
    assert ask(make_client(chama.secretary), txn).status_code == 201  # a failed reversal is not live


def test_daraja_down_is_a_503_and_the_reversal_failed(sim, chama, make_client, api_client, settings):
    txn = paybill_contribution(api_client, chama, trans_id="SLP0000005")
    reversal_id = requested(make_client, chama.treasurer, txn)
    settings.MPESA_BASE_URL = "http://127.0.0.1:9"  # nothing listens on the discard port

    response = decide(make_client(chama.chair), reversal_id)

    assert response.status_code == 503, response.content
    assert response.json()["code"] == "mpesa_unavailable"
    reversal = PaymentReversal.objects.get(pk=reversal_id)
    assert reversal.status == ReversalStatus.FAILED and reversal.decided_by_id == chama.chair.id
    assert "refused" in reversal.result_desc.lower() and reversal.completed_at is not None
    assert reversal_entries(chama) == 0
    assert Contribution.objects.get(pk=txn.contribution_id).status == ContributionStatus.CONFIRMED
    assert sim.count("POST", REVERSAL_PATH) == 0


def test_daraja_refusing_the_request_is_a_502_and_the_reversal_failed(sim, chama, make_client, api_client, settings):
    txn = paybill_contribution(api_client, chama, trans_id="SLP0000006")
    reversal_id = requested(make_client, chama.treasurer, txn)
    settings.MPESA_CONSUMER_KEY = "not-our-consumer-key"  # Daraja's OAuth refuses it: the request never goes out

    response = decide(make_client(chama.chair), reversal_id)

    assert response.status_code == 502, response.content
    assert response.json()["code"] == "mpesa_error"
    reversal = PaymentReversal.objects.get(pk=reversal_id)
    assert reversal.status == ReversalStatus.FAILED and reversal.result_code
    assert sim.count("POST", REVERSAL_PATH) == 0
    assert reversal_entries(chama) == 0


def test_no_answer_is_a_504_timed_out_never_resent_and_the_late_result_still_settles_it(
    sim, chama, make_client, settings
):
    txn = stk_contribution(sim, chama, make_client, "450")
    reversal_id = requested(make_client, chama.treasurer, txn)
    settings.MPESA_TIMEOUT = 0.5
    sim.server.callback_delay = 1.2  # the Result comes after we gave up waiting for the reply
    sim.stall(REVERSAL_PATH, 3.0, times=1)

    response = decide(make_client(chama.chair), reversal_id)

    assert response.status_code == 504, response.content
    sim.wait_sent(1, kind="reversal")
    assert sim.count("POST", REVERSAL_PATH) == 1  # never resent
    reversal = PaymentReversal.objects.get(pk=reversal_id)
    assert reversal.status == ReversalStatus.SUCCEEDED  # matched by the receipt it reversed
    assert reversal.originator_conversation_id  # learnt from the Result
    assert Contribution.objects.get(pk=txn.contribution_id).status == ContributionStatus.REVERSED
    assert reversal_entries(chama) == 1
    assert_books_balance(chama.group)


@pytest.mark.parametrize("known_receipt", [True, False], ids=["success", "failure"])
def test_a_result_that_overtakes_darajas_reply_is_applied_once_the_reply_is_saved(
    sim, chama, make_client, api_client, known_receipt, caplog
):
    if known_receipt:
        txn = stk_contribution(sim, chama, make_client, "350")
    else:
        txn = paybill_contribution(api_client, chama, trans_id="SLQ0000002")
    reversal_id = requested(make_client, chama.treasurer, txn)
    sim.server.callback_delay = 0.05
    sim.stall(REVERSAL_PATH, 0.8, times=1)  # the reply comes after the Result was delivered and processed

    response = decide(make_client(chama.chair), reversal_id)

    assert response.status_code == 200, response.content
    sent = sim.wait_sent(1, kind="reversal")
    assert sent[0]["status"] == 200
    reversal = PaymentReversal.objects.get(pk=reversal_id)
    log = CallbackLog.objects.get(kind=CallbackKind.REVERSAL_RESULT)
    assert log.outcome == CallbackOutcome.PROCESSED and log.transaction_id == txn.id
    assert reversal.originator_conversation_id == log.correlation_id
    assert reversal.response_body["OriginatorConversationID"] == log.correlation_id
    if known_receipt:
        assert reversal.status == ReversalStatus.SUCCEEDED and reversal_entries(chama) == 1
        assert response.json()["status"] == "succeeded"
    else:  # a failure names no receipt: logged as an orphan first, adopted when the reply gave us its id
        assert reversal.status == ReversalStatus.FAILED and reversal.result_code == "R000002"
        assert reversal_entries(chama) == 0
        assert "mpesa.reversal orphan result" in caplog.text
    assert_books_balance(chama.group)


def test_a_queue_timeout_marks_a_sent_reversal_timed_out_and_its_result_still_settles_it(sim, chama, make_client):
    txn = stk_contribution(sim, chama, make_client, "250")
    reversal_id = requested(make_client, chama.treasurer, txn)
    sim.server.callback_delay = 60  # the Result waits for the test to deliver it
    assert decide(make_client(chama.chair), reversal_id).status_code == 200
    reversal = PaymentReversal.objects.get(pk=reversal_id)
    queue_timeout = result_body(reversal, code="SVC0403", desc="Request timed out in the queue")

    assert post_result("reversal_timeout", queue_timeout) == 200
    reversal.refresh_from_db()
    assert reversal.status == ReversalStatus.TIMED_OUT and reversal_entries(chama) == 0

    sim.server.deliver_result(reversal.originator_conversation_id)  # synchronous: answered when it returns
    assert post_result("reversal_timeout", queue_timeout) == 200  # a timeout after the outcome changes nothing

    reversal.refresh_from_db()
    assert reversal.status == ReversalStatus.SUCCEEDED and reversal_entries(chama) == 1
    outcomes = list(CallbackLog.objects.order_by("id").filter(kind__startswith="reversal").values_list("outcome"))
    assert [o for (o,) in outcomes] == ["processed", "processed", "ignored"]
    assert_books_balance(chama.group)


def test_a_success_after_the_contribution_was_reversed_by_hand_is_recorded_and_posts_nothing_more(
    sim, chama, make_client, caplog
):
    txn = stk_contribution(sim, chama, make_client, "550")
    reversal_id = requested(make_client, chama.treasurer, txn)
    sim.server.callback_delay = 60  # the Result waits for the test to deliver it
    assert decide(make_client(chama.chair), reversal_id).status_code == 200
    contribution_reverse(contribution_id=txn.contribution_id, actor=chama.chair, reason="Entered twice")
    assert reversal_entries(chama) == 1

    sim.server.deliver_result(PaymentReversal.objects.get(pk=reversal_id).originator_conversation_id)

    reversal = PaymentReversal.objects.get(pk=reversal_id)
    assert reversal.status == ReversalStatus.SUCCEEDED and reversal.journal_entry_id is None
    log = CallbackLog.objects.get(kind=CallbackKind.REVERSAL_RESULT)
    assert log.outcome == CallbackOutcome.PROCESSED and "NOT POSTED" in log.detail
    assert "mpesa.reversal_unposted" in caplog.text
    assert reversal_entries(chama) == 1  # only the one posted by hand
    txn.refresh_from_db()
    assert txn.settlement == Settlement.REVERSED
    assert_books_balance(chama.group)


# --------------------------------------------------------------------------------------------------- unallocated


def test_an_official_cannot_reverse_money_no_group_was_found_for(chama, make_client, api_client):
    txn = paybill_payment(api_client, "NOSUCHGROUP", trans_id="SLU0000001")
    assert txn.settlement == Settlement.UNALLOCATED and txn.group_id is None

    assert ask(make_client(chama.chair), txn).status_code == 404
    assert PaymentReversal.objects.count() == 0


def test_staff_reverse_unallocated_money_with_no_ledger_entry(sim, make_client):
    c2b_urls_register()
    gateway.client_get().c2b_simulate(phone=SUCCESS_PHONE, amount=900, bill_ref_number="NOSUCHGROUP")
    sim.wait_sent(1, kind="c2b_confirmation")
    txn = MPesaTransaction.objects.get(kind="c2b")
    assert txn.settlement == Settlement.UNALLOCATED
    maker, checker = UserFactory(is_staff=True), UserFactory(is_staff=True)

    created = ask(make_client(maker), txn)
    assert created.status_code == 201, created.content
    assert created.json()["group"] is None
    assert decide(make_client(maker), created.json()["id"]).status_code == 403
    assert decide(make_client(checker), created.json()["id"]).status_code == 200
    sim.wait_sent(1, kind="reversal")

    reversal = PaymentReversal.objects.get()
    assert reversal.status == ReversalStatus.SUCCEEDED and reversal.journal_entry_id is None
    assert reversal.request_body["ReceiverParty"] == sim.c2b_shortcode
    assert JournalEntry.objects.count() == 0
    txn.refresh_from_db()
    assert txn.settlement == Settlement.REVERSED


# --------------------------------------------------------------------------------------------------- reads


def test_filters_and_the_list_costs_the_same_number_of_queries_for_more_reversals(chama, make_client, api_client):
    reader = make_client(chama.secretary)
    first = paybill_contribution(api_client, chama, trans_id="SLL0000000")
    requested(make_client, chama.treasurer, first)

    with CaptureQueriesContext(connection) as few:
        assert reader.get(REVERSALS).json()["count"] == 1
    for n in range(1, 4):
        txn = paybill_contribution(api_client, chama, trans_id=f"SLL000000{n}")
        reversal_id = requested(make_client, chama.treasurer, txn)
        if n == 3:
            decide(make_client(chama.chair), reversal_id, "reject")
    with CaptureQueriesContext(connection) as more:
        body = reader.get(REVERSALS).json()

    assert body["count"] == 4 and {r["requested_by_name"] for r in body["results"]} != {""}
    assert len(more.captured_queries) == len(few.captured_queries)
    assert reader.get(f"{REVERSALS}?status=rejected").json()["count"] == 1
    assert reader.get(f"{REVERSALS}?status=pending_approval").json()["count"] == 3
    assert reader.get(f"{REVERSALS}?group={chama.group.id}").json()["count"] == 4
    assert reader.get(f"{REVERSALS}?group={chama.group.id + 1000}").json()["count"] == 0


def test_suspense_money_being_returned_cannot_be_allocated(chama, make_client, api_client):
    txn = paybill_payment(api_client, f"{chama.group.code}999", trans_id="SLU0000077")  # group known, member not
    assert txn.settlement == Settlement.SUSPENSE
    assert ask(make_client(chama.treasurer), txn).status_code == 201

    response = make_client(chama.chair).post(
        f"/api/v1/mpesa/transactions/{txn.id}/allocate/",
        {"purpose": "contribution", "member": chama.member.id},
        format="json",
    )

    assert response.status_code == 409 and response.json()["code"] == "reversal_pending"
    txn.refresh_from_db()
    assert txn.settlement == Settlement.SUSPENSE
