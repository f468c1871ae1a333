"""Reversal's ReceiverParty: the shortcode that received the payment (the Express shortcode, or the paybill's)."""

from __future__ import annotations

import pytest

from mpesa_integration.daraja import DarajaValidationError, parse_async_result, parse_c2b
from mpesa_integration.daraja.client import REVERSAL_PATH
from mpesa_integration.daraja.testing import CallbackRecorder, client_for

PHONE = "254708374149"
RESULT = "/hooks/s3cret/reversal/result/"
TIMEOUT = "/hooks/s3cret/reversal/timeout/"


def urls(hooks: CallbackRecorder) -> dict:
    return {"result_url": hooks.url(RESULT), "queue_timeout_url": hooks.url(TIMEOUT)}


def test_the_receiver_party_defaults_to_the_main_shortcode(sim, hooks):
    accepted = client_for(sim).reversal(transaction_id="SLX0000000", amount=10, remarks="Paid twice", **urls(hooks))

    assert accepted.request["ReceiverParty"] == sim.shortcode
    assert accepted.originator_conversation_id


def test_a_paybill_payment_is_reversed_from_the_c2b_shortcode(sim, hooks):
    client = client_for(sim)
    assert client.c2b_shortcode != client.shortcode
    client.c2b_register_urls(confirmation_url=hooks.url("/c2b/confirm/"), validation_url=hooks.url("/c2b/validate/"))
    client.c2b_simulate(phone=PHONE, amount=80, bill_ref_number="M001")
    trans_id = parse_c2b(hooks.wait_count("/c2b/confirm/", 1)[0]).trans_id

    accepted = client.reversal(
        transaction_id=trans_id,
        amount=80,
        remarks="Wrong account",
        receiver_party=client.c2b_shortcode,
        **urls(hooks),
    )

    assert accepted.request["ReceiverParty"] == sim.c2b_shortcode
    assert accepted.request["RecieverIdentifierType"] == "11"
    body = hooks.wait_for(
        lambda p, b: p == RESULT and b["Result"]["OriginatorConversationID"] == accepted.originator_conversation_id
    )
    result = parse_async_result(body)
    assert result.result_code == "0" and result.parameters["OriginalTransactionID"] == trans_id


@pytest.mark.parametrize("receiver_party", ["1234", "12345678", "60099x", ""])
def test_a_receiver_party_that_is_not_a_shortcode_is_refused_before_any_http_call(sim, hooks, receiver_party):
    with pytest.raises(DarajaValidationError) as info:
        client_for(sim).reversal(
            transaction_id="SL12ABCD34", amount=10, remarks="Refund", receiver_party=receiver_party, **urls(hooks)
        )

    assert info.value.field == "receiver_party"
    assert sim.count("POST", REVERSAL_PATH) == 0 and sim.request_log == []
