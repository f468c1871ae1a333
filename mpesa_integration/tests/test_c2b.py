"""C2B paybill payments: validation and confirmation, matched by BillRefNumber (group code + member number)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from finance.choices import AccountKind, ContributionStatus
from finance.models import Contribution
from finance.selectors.ledger import account_balance
from finance.tests.loan_fixtures import make_chama
from groups.models import Membership
from mpesa_integration.choices import CallbackOutcome, Settlement, TransactionKind
from mpesa_integration.models import CallbackLog, MPesaTransaction
from mpesa_integration.tests.helpers import assert_books_balance, entries_for, post_callback

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def chama():
    return make_chama()


def c2b_body(bill_ref: str, *, trans_id="SLC0000001", amount="1000.00", shortcode=None, msisdn="25470****149"):
    from django.conf import settings

    return {
        "TransactionType": "Pay Bill",
        "TransID": trans_id,
        "TransTime": "20261125101500",
        "TransAmount": amount,
        "BusinessShortCode": shortcode or settings.MPESA_C2B_SHORTCODE,
        "BillRefNumber": bill_ref,
        "InvoiceNumber": "",
        "OrgAccountBalance": "50000.00",
        "ThirdPartyTransID": "",
        "MSISDN": msisdn,
        "FirstName": "Jane",
        "MiddleName": "",
        "LastName": "Doe",
    }


def account_number(chama, user) -> str:
    return Membership.objects.select_related("group").get(group=chama.group, user=user).account_reference


def test_a_confirmation_with_a_members_account_number_is_a_confirmed_contribution(chama, api_client):
    ref = account_number(chama, chama.member)

    response = post_callback(api_client, c2b_body(ref.lower()), kind="c2b_confirmation")

    assert response.status_code == 200
    assert response.json() == {"ResultCode": 0, "ResultDesc": "Success"}
    txn = MPesaTransaction.objects.get()
    assert txn.kind == TransactionKind.C2B and txn.member_id == chama.member.id
    assert txn.settlement == Settlement.POSTED and txn.phone == "25470****149"
    contribution = Contribution.objects.get(pk=txn.contribution_id)
    assert contribution.status == ContributionStatus.CONFIRMED and contribution.amount == Decimal("1000.00")
    assert entries_for(chama.group, "SLC0000001") == 1
    assert_books_balance(chama.group)


def test_a_repeated_confirmation_is_a_duplicate(chama, api_client):
    body = c2b_body(account_number(chama, chama.member))

    post_callback(api_client, body, kind="c2b_confirmation")
    post_callback(api_client, body, kind="c2b_confirmation")

    assert MPesaTransaction.objects.count() == 1
    assert entries_for(chama.group, "SLC0000001") == 1
    assert list(CallbackLog.objects.order_by("id").values_list("outcome", flat=True)) == ["processed", "duplicate"]


def test_an_unknown_member_number_goes_to_the_groups_suspense(chama, api_client):
    response = post_callback(api_client, c2b_body(f"{chama.group.code}999"), kind="c2b_confirmation")

    assert response.status_code == 200
    txn = MPesaTransaction.objects.get()
    assert txn.group_id == chama.group.id and txn.settlement == Settlement.SUSPENSE
    assert account_balance(group_id=chama.group.id, kind=AccountKind.SUSPENSE) == Decimal("1000.00")
    assert CallbackLog.objects.get().outcome == CallbackOutcome.SUSPENSE
    assert_books_balance(chama.group)


def test_an_unknown_account_number_is_kept_unallocated_for_staff(chama, api_client, make_client):
    from accounts.tests.factories import UserFactory

    post_callback(api_client, c2b_body("NOSUCHGROUP1"), kind="c2b_confirmation")

    txn = MPesaTransaction.objects.get()
    assert txn.group_id is None and txn.settlement == Settlement.UNALLOCATED
    assert make_client(chama.chair).get(f"/api/v1/mpesa/transactions/{txn.id}/").status_code == 404
    staff = UserFactory(is_staff=True)
    url = f"/api/v1/mpesa/transactions/{txn.id}/allocate/"
    response = make_client(staff).post(
        url, {"purpose": "contribution", "member": chama.member.id, "group": chama.group.id}, format="json"
    )
    assert response.status_code == 200, response.content
    assert account_balance(
        group_id=chama.group.id, kind=AccountKind.MEMBER_SAVINGS, member_id=chama.member.id
    ) == Decimal("1000.00")
    assert entries_for(chama.group, "SLC0000001") == 1
    assert_books_balance(chama.group)


def test_money_paid_to_another_shortcode_goes_to_suspense(chama, api_client):
    body = c2b_body(account_number(chama, chama.member), shortcode="999999")
    post_callback(api_client, body, kind="c2b_confirmation")

    txn = MPesaTransaction.objects.get()
    assert txn.settlement == Settlement.SUSPENSE and "999999" in txn.settlement_note


def test_validation_accepts_a_known_group_and_rejects_an_unknown_account(chama, api_client):
    ok = post_callback(api_client, c2b_body(account_number(chama, chama.member)), kind="c2b_validation")
    unknown = post_callback(api_client, c2b_body("ZZZ123"), kind="c2b_validation")
    zero = post_callback(api_client, c2b_body(account_number(chama, chama.member), amount="0"), kind="c2b_validation")

    assert ok.json() == {"ResultCode": "0", "ResultDesc": "Accepted"}
    assert unknown.json() == {"ResultCode": "C2B00012", "ResultDesc": "Rejected"}
    assert zero.json() == {"ResultCode": "C2B00013", "ResultDesc": "Rejected"}
    assert MPesaTransaction.objects.count() == 0  # validation never moves money


def test_a_malformed_confirmation_is_a_400(chama, api_client):
    body = c2b_body(account_number(chama, chama.member))
    del body["TransID"]

    response = post_callback(api_client, body, kind="c2b_confirmation")

    assert response.status_code == 400 and "TransID" in response.json()["fields"]
    assert MPesaTransaction.objects.count() == 0
    assert CallbackLog.objects.get().outcome == CallbackOutcome.INVALID


def test_registered_urls_receive_a_simulated_paybill_payment_end_to_end(daraja, chama, settings):
    """Register our hooks with the simulator, make a customer pay the paybill, and find the contribution."""
    from io import StringIO

    from django.core.management import call_command

    from mpesa_integration import gateway

    out = StringIO()
    call_command("mpesa_register_c2b_urls", stdout=out)
    assert "c2b-confirm" in out.getvalue() and "mpesa" not in out.getvalue().split("confirmation_url: ")[1].split()[0]
    ref = account_number(chama, chama.member)

    gateway.client_get().c2b_simulate(phone="254708374149", amount=1500, bill_ref_number=ref)

    [sent] = daraja.wait_sent(1, kind=None, timeout=10)
    assert sent["status"] == 200
    txn = MPesaTransaction.objects.get()
    assert txn.kind == "c2b" and txn.member_id == chama.member.id and txn.amount == Decimal("1500.00")
    assert Contribution.objects.get(pk=txn.contribution_id).status == ContributionStatus.CONFIRMED
    assert entries_for(chama.group, txn.receipt_number) == 1
    assert_books_balance(chama.group)
