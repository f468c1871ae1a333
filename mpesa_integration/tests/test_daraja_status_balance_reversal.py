"""Transaction Status, Account Balance and Reversal: client against the simulator over loopback HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from mpesa_integration.daraja import (
    DarajaClient,
    DarajaTimeout,
    DarajaValidationError,
    parse_account_balance,
    parse_async_result,
    parse_c2b,
    parse_stk_callback,
)
from mpesa_integration.daraja.client import ACCOUNT_BALANCE_PATH, NAIROBI, REVERSAL_PATH, TRANSACTION_STATUS_PATH
from mpesa_integration.daraja.testing import CallbackRecorder, client_for

PHONE = "254708374149"
RESULT = "/hooks/s3cret/result/"
TIMEOUT = "/hooks/s3cret/timeout/"
STK = "/hooks/s3cret/stk/"


def urls(hooks: CallbackRecorder) -> dict:
    return {"result_url": hooks.url(RESULT), "queue_timeout_url": hooks.url(TIMEOUT)}


def result_for(hooks: CallbackRecorder, originator: str):
    body = hooks.wait_for(lambda p, b: p == RESULT and b["Result"]["OriginatorConversationID"] == originator)
    return parse_async_result(body)


def paid_by_stk(client: DarajaClient, hooks: CallbackRecorder, amount: int = 250) -> str:
    """A successful STK payment; its receipt from the parsed callback."""
    push = client.stk_push(PHONE, amount, "CH1M7", "Contribution", hooks.url(STK))
    body = hooks.wait_for(
        lambda p, b: p == STK and b["Body"]["stkCallback"]["CheckoutRequestID"] == push.checkout_request_id
    )
    callback = parse_stk_callback(body)
    assert callback.result_code == "0" and callback.receipt
    return callback.receipt


def paid_by_b2c(client: DarajaClient, hooks: CallbackRecorder, originator: str = "payout-7") -> str:
    client.b2c_payment(
        originator_conversation_id=originator,
        phone=PHONE,
        amount=700,
        remarks="Share-out",
        result_url=hooks.url("/hooks/s3cret/b2c/"),
        queue_timeout_url=hooks.url(TIMEOUT),
    )
    body = hooks.wait_for(
        lambda p, b: p == "/hooks/s3cret/b2c/" and b["Result"]["OriginatorConversationID"] == originator
    )
    return parse_async_result(body).receipt


# ------------------------------------------------------------------------------------------ Transaction Status


def test_status_of_a_payout_by_originator_conversation_id(sim, hooks):
    client = client_for(sim)
    receipt = paid_by_b2c(client, hooks)
    accepted = client.transaction_status(
        originator_conversation_id="payout-7", party_a=client.b2c_shortcode, **urls(hooks)
    )
    assert accepted.request["CommandID"] == "TransactionStatusQuery"
    assert accepted.request["OriginalConversationID"] == "payout-7"
    assert "TransactionID" not in accepted.request
    assert (accepted.request["PartyA"], accepted.request["IdentifierType"]) == (sim.b2c_shortcode, "4")
    assert accepted.request["SecurityCredential"] == "***"
    result = result_for(hooks, accepted.originator_conversation_id)
    assert result.result_code == "0"
    assert result.receipt == receipt
    assert result.amount == Decimal("700")
    assert result.parameters["TransactionStatus"] == "Completed"
    assert result.parameters["OriginatorConversationID"] == "payout-7"
    assert result.parameters["CreditPartyName"] == f"{PHONE} - Test User"
    assert "TransactionReason" in result.parameters and result.parameters["TransactionReason"] is None
    assert abs(result.completed_at - datetime.now(tz=NAIROBI)) < timedelta(seconds=60)


def test_status_of_an_stk_payment_by_receipt(sim, hooks):
    client = client_for(sim)
    receipt = paid_by_stk(client, hooks)
    accepted = client.transaction_status(transaction_id=receipt, **urls(hooks))
    assert accepted.request["TransactionID"] == receipt
    assert accepted.request["PartyA"] == sim.shortcode
    result = result_for(hooks, accepted.originator_conversation_id)
    assert (result.result_code, result.receipt, result.amount) == ("0", receipt, Decimal("250"))
    assert result.parameters["DebitPartyName"].startswith(PHONE)


def test_status_of_an_unknown_receipt(sim, hooks):
    accepted = client_for(sim).transaction_status(transaction_id="SLX0000000", **urls(hooks))
    result = result_for(hooks, accepted.originator_conversation_id)
    assert (result.result_code, result.result_desc) == ("R000001", "The transaction is not found")
    assert result.parameters == {} and result.receipt is None


def test_status_of_a_queue_timed_out_payout_finds_nothing(sim, hooks):
    client = client_for(sim)
    client.b2c_payment(
        originator_conversation_id="lost-1",
        phone="254708371037",
        amount=100,
        remarks="Payout",
        **urls(hooks),
    )
    hooks.wait_count(TIMEOUT, 1)
    accepted = client.transaction_status(originator_conversation_id="lost-1", **urls(hooks))
    assert result_for(hooks, accepted.originator_conversation_id).result_code == "R000001"


def test_status_with_an_msisdn_party(sim, hooks):
    accepted = client_for(sim).transaction_status(
        transaction_id="SLX0000000", party_a="0708374149", identifier_type="1", **urls(hooks)
    )
    assert (accepted.request["PartyA"], accepted.request["IdentifierType"]) == (PHONE, "1")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({}, "transaction_id"),
        ({"transaction_id": "SL12ABCD34", "originator_conversation_id": "x-1"}, "transaction_id"),
        ({"transaction_id": "SL-12/34"}, "transaction_id"),
        ({"transaction_id": "SL12ABCD34", "identifier_type": "3"}, "identifier_type"),
        ({"transaction_id": "SL12ABCD34", "party_a": "12"}, "party_a"),
        ({"transaction_id": "SL12ABCD34", "remarks": "r" * 101}, "remarks"),
        ({"transaction_id": "SL12ABCD34", "result_url": "nope"}, "result_url"),
    ],
)
def test_status_arguments_are_checked_before_any_http_call(sim, hooks, overrides, field):
    with pytest.raises(DarajaValidationError) as info:
        client_for(sim).transaction_status(**{**urls(hooks), **overrides})
    assert info.value.field == field
    assert sim.request_log == []


def test_status_wrong_initiator_gives_2001(sim, hooks):
    accepted = client_for(sim, initiator_password="nope").transaction_status(transaction_id="SLX0000000", **urls(hooks))
    assert result_for(hooks, accepted.originator_conversation_id).result_code == "2001"


# ------------------------------------------------------------------------------------------ Account Balance


def test_account_balance_result_parses_and_follows_the_money(sim, hooks):
    client = client_for(sim)
    start = sim.utility_balance
    paid_by_stk(client, hooks, amount=250)
    paid_by_b2c(client, hooks)
    accepted = client.account_balance(**urls(hooks))
    assert (accepted.request["CommandID"], accepted.request["IdentifierType"]) == ("AccountBalance", "4")
    assert accepted.request["PartyA"] == sim.shortcode
    result = result_for(hooks, accepted.originator_conversation_id)
    assert result.result_code == "0"
    assert len(str(result.parameters["BOCompletedTime"])) == 14
    accounts = parse_account_balance(result.parameters["AccountBalance"])
    assert set(accounts) == {
        "Working Account",
        "Float Account",
        "Utility Account",
        "Charges Paid Account",
        "Organization Settlement Account",
    }
    utility = accounts["Utility Account"]
    assert utility == {
        "currency": "KES",
        "available": start + 250 - 700,
        "uncleared": Decimal("0.00"),
        "reserved": Decimal("0.00"),
    }
    assert isinstance(utility["available"], Decimal)


def test_account_balance_wrong_initiator_gives_2001(sim, hooks):
    accepted = client_for(sim, initiator_name="nobody").account_balance(**urls(hooks))
    result = result_for(hooks, accepted.originator_conversation_id)
    assert result.result_code == "2001"
    assert "AccountBalance" not in result.parameters


# ------------------------------------------------------------------------------------------ retries


@pytest.mark.parametrize(
    ("path", "call"),
    [
        (TRANSACTION_STATUS_PATH, lambda c, u: c.transaction_status(transaction_id="SLX0000000", **u)),
        (ACCOUNT_BALANCE_PATH, lambda c, u: c.account_balance(**u)),
    ],
)
def test_queries_are_retried_once_on_a_timeout(sim, hooks, path, call):
    client = client_for(sim, timeout=0.3)
    client.get_token()
    sim.stall(path, 1.0, times=1)
    assert call(client, urls(hooks)).response_code == "0"
    assert sim.count("POST", path) == 2


def test_a_reversal_is_not_retried_on_a_timeout(sim, hooks):
    client = client_for(sim, timeout=0.3)
    client.get_token()
    sim.stall(REVERSAL_PATH, 1.0, times=1)
    with pytest.raises(DarajaTimeout):
        client.reversal(transaction_id="SLX0000000", amount=10, remarks="Refund", **urls(hooks))
    assert sim.count("POST", REVERSAL_PATH) == 1


# ------------------------------------------------------------------------------------------ Reversal


def test_reversal_of_an_stk_payment(sim, hooks):
    client = client_for(sim)
    receipt = paid_by_stk(client, hooks, amount=250)
    balance_paid = sim.utility_balance
    accepted = client.reversal(transaction_id=receipt, amount=250, remarks="Paid twice", **urls(hooks))
    assert accepted.request["CommandID"] == "TransactionReversal"
    assert accepted.request["RecieverIdentifierType"] == "11"  # sic
    assert accepted.request["ReceiverParty"] == sim.shortcode
    result = result_for(hooks, accepted.originator_conversation_id)
    assert result.result_code == "0"
    assert result.parameters["OriginalTransactionID"] == receipt
    assert result.amount == Decimal("250")
    assert result.transaction_id and result.transaction_id != receipt
    assert result.parameters["CreditPartyPublicName"].startswith(PHONE)
    assert result.completed_at is not None
    assert sim.utility_balance == balance_paid - 250
    # reversed once only; Transaction Status now says so
    again = client.reversal(transaction_id=receipt, amount=250, remarks="Paid twice", **urls(hooks))
    assert result_for(hooks, again.originator_conversation_id).result_code == "R000002"
    status = client.transaction_status(transaction_id=receipt, **urls(hooks))
    assert result_for(hooks, status.originator_conversation_id).parameters["TransactionStatus"] == "Reversed"


def test_reversal_of_a_c2b_payment(sim, hooks):
    client = client_for(sim)
    client.c2b_register_urls(confirmation_url=hooks.url("/c2b/confirm/"), validation_url=hooks.url("/c2b/validate/"))
    client.c2b_simulate(phone=PHONE, amount=80, bill_ref_number="M001")
    trans_id = parse_c2b(hooks.wait_count("/c2b/confirm/", 1)[0]).trans_id
    accepted = client.reversal(transaction_id=trans_id, amount=80, remarks="Wrong account", **urls(hooks))
    assert result_for(hooks, accepted.originator_conversation_id).result_code == "0"


@pytest.mark.parametrize("what", ["unknown", "b2c"])
def test_reversal_of_an_unknown_or_b2c_receipt_is_r000002(sim, hooks, what):
    client = client_for(sim)
    receipt = "SLX0000000" if what == "unknown" else paid_by_b2c(client, hooks)
    accepted = client.reversal(transaction_id=receipt, amount=700, remarks="Undo", **urls(hooks))
    result = result_for(hooks, accepted.originator_conversation_id)
    assert (result.result_code, result.result_desc) == ("R000002", "The OriginalTransactionID is invalid")
    assert isinstance(result.raw["Result"]["ResultCode"], str)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"transaction_id": ""}, "transaction_id"),
        ({"amount": 0}, "amount"),
        ({"amount": Decimal("9.99")}, "amount"),
        ({"remarks": "x"}, "remarks"),
        ({"occasion": "o" * 101}, "occasion"),
        ({"queue_timeout_url": "ftp://x/y"}, "queue_timeout_url"),
    ],
)
def test_reversal_arguments_are_checked_before_any_http_call(sim, hooks, overrides, field):
    kwargs = {"transaction_id": "SL12ABCD34", "amount": 10, "remarks": "Refund", **urls(hooks), **overrides}
    with pytest.raises(DarajaValidationError) as info:
        client_for(sim).reversal(**kwargs)
    assert info.value.field == field
    assert sim.request_log == []
