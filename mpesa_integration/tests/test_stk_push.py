"""STK push end to end: our API -> the Daraja simulator over HTTP -> its callback over HTTP -> the ledger."""

from __future__ import annotations

import pytest

from finance.choices import AccountKind, ContributionStatus
from finance.models import Contribution, JournalEntry
from finance.selectors.ledger import account_balance
from finance.tests.loan_fixtures import make_chama, outsider
from mpesa_integration.choices import CallbackOutcome, Settlement, TransactionStatus
from mpesa_integration.models import CallbackLog, MPesaTransaction
from mpesa_integration.tests.conftest import wait_callbacks
from mpesa_integration.tests.helpers import (
    CANCEL_PHONE,
    NO_FUNDS_PHONE,
    SUCCESS_PHONE,
    TRANSACTIONS,
    UNREACHABLE_PHONE,
    WRONG_PIN_PHONE,
    D,
    assert_books_balance,
    entries_for,
    push,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def chama():
    return make_chama()


def test_a_successful_push_confirms_the_contribution_and_posts_once_keyed_by_the_receipt(daraja, chama, make_client):
    client = make_client(chama.member)

    response = push(client, chama.group, "750")

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "accepted"
    assert body["checkout_request_id"].startswith("ws_CO_")
    assert body["purpose"] == "contribution" and body["phone"] == SUCCESS_PHONE
    [callback] = wait_callbacks(daraja, 1)
    assert callback["status"] == 200
    txn = MPesaTransaction.objects.get(pk=body["id"])
    assert txn.status == TransactionStatus.SUCCEEDED and txn.settlement == Settlement.POSTED
    assert txn.receipt_number and len(txn.receipt_number) == 10
    contribution = Contribution.objects.get(pk=txn.contribution_id)
    assert contribution.status == ContributionStatus.CONFIRMED and contribution.amount == D("750.00")
    assert contribution.member_id == chama.member.id and contribution.payment_method == "MPESA"
    assert entries_for(chama.group, txn.receipt_number) == 1
    assert txn.journal_entry_id == contribution.journal_entry_id
    assert account_balance(group_id=chama.group.id, kind=AccountKind.MEMBER_SAVINGS, member_id=chama.member.id) == 750
    assert_books_balance(chama.group)
    log = CallbackLog.objects.get(correlation_id=txn.checkout_request_id)
    assert log.outcome == CallbackOutcome.PROCESSED and len(log.body_sha256) == 64

    detail = client.get(f"{TRANSACTIONS}{txn.id}/").json()
    assert detail["status"] == "succeeded" and detail["legacy_status"] == "SUCCESS"
    assert detail["mpesa_receipt_number"] == txn.receipt_number


@pytest.mark.parametrize(
    ("phone", "status", "code"),
    [
        (CANCEL_PHONE, TransactionStatus.CANCELLED, "1032"),
        (UNREACHABLE_PHONE, TransactionStatus.FAILED, "1037"),
        (WRONG_PIN_PHONE, TransactionStatus.FAILED, "2001"),
        (NO_FUNDS_PHONE, TransactionStatus.FAILED, "1"),
    ],
)
def test_a_failed_push_fails_the_contribution_and_posts_nothing(daraja, chama, make_client, phone, status, code):
    response = push(make_client(chama.member), chama.group, "300", phone=phone)

    assert response.status_code == 202, response.content
    wait_callbacks(daraja, 1)
    txn = MPesaTransaction.objects.get(pk=response.json()["id"])
    assert txn.status == status and txn.result_code == code and txn.receipt_number is None
    assert Contribution.objects.get(pk=txn.contribution_id).status == ContributionStatus.FAILED
    assert JournalEntry.objects.filter(group_id=chama.group.id).count() == 0
    assert txn.settlement == Settlement.NONE


def test_a_push_the_gateway_rejects_is_a_502_with_darajas_words(daraja, chama, make_client, settings):
    settings.MPESA_PASSKEY = "not-the-passkey"  # Daraja answers 500.001.1001 "Wrong credentials"

    response = push(make_client(chama.member), chama.group, "300")

    assert response.status_code == 502, response.content
    assert response.json()["code"] == "mpesa_error"
    assert "Wrong credentials" in response.json()["message"]
    txn = MPesaTransaction.objects.get()
    assert txn.status == TransactionStatus.FAILED and txn.result_code == "500.001.1001"
    assert Contribution.objects.get(pk=txn.contribution_id).status == ContributionStatus.FAILED


def test_daraja_down_is_a_503_and_nothing_is_posted(chama, make_client, settings):
    settings.MPESA_BASE_URL = "http://127.0.0.1:9"  # nothing listens on the discard port

    response = push(make_client(chama.member), chama.group, "300")

    assert response.status_code == 503, response.content
    assert MPesaTransaction.objects.get().status == TransactionStatus.FAILED
    assert JournalEntry.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "10.50"}, "amount"),
        ({"amount": "250001"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"phone": "0733"}, "phone"),
        ({"phone": "+255712345678"}, "phone"),  # Tanzania
        ({"phone": "0201234567"}, "phone"),  # a Kenyan landline
        ({"purpose": "lottery"}, "purpose"),
        ({"purpose": "loan_repayment"}, "target_id"),
    ],
)
def test_bad_input_is_a_400_on_the_field_and_writes_nothing(chama, make_client, body, field):
    response = push(make_client(chama.member), chama.group, **{"amount": "100", **body})

    assert response.status_code == 400 or response.status_code == 404, response.content
    assert field in response.json()["fields"], response.json()
    assert MPesaTransaction.objects.count() == 0
    assert Contribution.objects.count() == 0


def test_a_push_to_a_group_the_user_is_not_in_is_a_404(chama, make_client):
    response = push(make_client(outsider()), chama.group, "100")

    assert response.status_code == 404
    assert MPesaTransaction.objects.count() == 0


def test_the_same_amount_from_the_same_phone_within_two_minutes_is_refused(daraja, chama, make_client):
    client = make_client(chama.member)
    assert push(client, chama.group, "400").status_code == 202

    again = push(client, chama.group, "400")

    assert again.status_code == 409
    assert again.json()["code"] == "duplicate_push"
    assert push(client, chama.group, "401").status_code == 202  # a different amount is a different request
    wait_callbacks(daraja, 2)
    assert MPesaTransaction.objects.count() == 2


def test_stk_push_is_throttled_per_user(daraja, chama, make_client, settings):
    settings.MPESA_STK_PUSH_RATE = "2/min"
    client = make_client(chama.member)

    codes = [push(client, chama.group, str(100 + i)).status_code for i in range(3)]

    assert codes == [202, 202, 429]
    wait_callbacks(daraja, 2)


def test_members_see_their_own_transactions_officials_the_groups_outsiders_nothing(daraja, chama, make_client):
    mine = push(make_client(chama.member), chama.group, "100").json()["id"]
    theirs = push(make_client(chama.borrower), chama.group, "200").json()["id"]
    wait_callbacks(daraja, 2)

    member_view = make_client(chama.member).get(TRANSACTIONS).json()
    official_view = make_client(chama.treasurer).get(TRANSACTIONS).json()

    assert [row["id"] for row in member_view["results"]] == [mine]
    assert {row["id"] for row in official_view["results"]} == {mine, theirs}
    assert make_client(chama.member).get(f"{TRANSACTIONS}{theirs}/").status_code == 404
    assert make_client(outsider()).get(f"{TRANSACTIONS}{mine}/").status_code == 404
    assert make_client(outsider()).get(TRANSACTIONS).json()["count"] == 0


def test_transactions_are_not_writable_through_the_api(chama, make_client):
    client = make_client(chama.chair)
    assert client.post(TRANSACTIONS, {"amount": "5"}, format="json").status_code == 405


def test_legacy_initiate_check_and_query_keep_the_first_clients_fields(daraja, chama, make_client):
    client = make_client(chama.member)

    response = client.post(
        TRANSACTIONS + "initiate_stk_push/",
        {
            "phone_number": "0708374149",
            "amount": "250",
            "account_reference": "MPESA-1764070000",  # the old client's default, longer than 12
            "transaction_desc": "ChamaHub Payment",
            "group_id": chama.group.id,
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {
        "message", "transaction_uuid", "transaction_id", "checkout_request_id", "status", "amount", "phone_number"
    }  # fmt: skip
    assert body["status"] == "PENDING" and body["phone_number"] == SUCCESS_PHONE and body["amount"] == "250.00"
    txn = MPesaTransaction.objects.get(pk=body["transaction_id"])
    assert txn.account_reference == "MPESA1764070" and len(txn.transaction_desc) <= 13
    wait_callbacks(daraja, 1)
    status = client.get(f"{TRANSACTIONS}{txn.id}/check_status/").json()
    assert status["status"] == "SUCCESS" and status["mpesa_receipt_number"]
    queried = client.post(f"{TRANSACTIONS}{txn.id}/query_payment_status/").json()
    assert queried["status"] == "SUCCESS"
    legacy_list = client.get(TRANSACTIONS, {"status": "SUCCESS", "transaction_type": "STK_PUSH"}).json()
    assert [row["id"] for row in legacy_list["results"]] == [txn.id]
    assert client.get(TRANSACTIONS, {"status": "FAILED"}).json()["count"] == 0


def test_legacy_initiate_checks_membership_and_input(chama, make_client):
    client = make_client(outsider())
    body = {"phone_number": SUCCESS_PHONE, "amount": "10", "group_id": chama.group.id}
    assert client.post(TRANSACTIONS + "initiate_stk_push/", body, format="json").status_code == 404
    member = make_client(chama.member)
    bad = member.post(TRANSACTIONS + "initiate_stk_push/", {**body, "amount": "0.5"}, format="json")
    assert bad.status_code == 400 and "amount" in bad.json()["fields"]
    assert MPesaTransaction.objects.count() == 0


def test_list_query_count_does_not_grow_with_rows(daraja, chama, make_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = make_client(chama.treasurer)
    for i in range(2):
        push(make_client(chama.member), chama.group, str(10 + i))
    wait_callbacks(daraja, 2)
    with CaptureQueriesContext(connection) as few:
        assert client.get(TRANSACTIONS).status_code == 200
    for i in range(4):
        push(make_client(chama.borrower), chama.group, str(20 + i))
    wait_callbacks(daraja, 6)
    with CaptureQueriesContext(connection) as more:
        assert client.get(TRANSACTIONS).json()["count"] == 6
    assert len(more.captured_queries) == len(few.captured_queries)
