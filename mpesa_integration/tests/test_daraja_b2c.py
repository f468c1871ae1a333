"""B2C v3 and the initiator SecurityCredential: the client against the simulator over loopback HTTP. No database."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mpesa_integration.daraja import (
    DarajaClient,
    DarajaDuplicateOriginator,
    DarajaRequestError,
    DarajaTimeout,
    DarajaValidationError,
    parse_async_result,
)
from mpesa_integration.daraja.client import B2C_PATH, NAIROBI
from mpesa_integration.daraja.credentials import decrypt_security_credential
from mpesa_integration.daraja.simulator import DarajaSimulator
from mpesa_integration.daraja.testing import CallbackRecorder, client_for

SUCCESS_PHONE = "254708374149"
RESULT = "/hooks/s3cret/b2c/result/"
TIMEOUT = "/hooks/s3cret/b2c/timeout/"


def pay(client: DarajaClient, hooks: CallbackRecorder, **overrides):
    kwargs = {
        "originator_conversation_id": "payout-1",
        "phone": SUCCESS_PHONE,
        "amount": 500,
        "remarks": "Loan disbursement",
        "result_url": hooks.url(RESULT),
        "queue_timeout_url": hooks.url(TIMEOUT),
        **overrides,
    }
    return client.b2c_payment(**kwargs)


def result_for(hooks: CallbackRecorder, originator: str, path: str = RESULT):
    body = hooks.wait_for(lambda p, b: p == path and b["Result"]["OriginatorConversationID"] == originator)
    return parse_async_result(body)


def raw_post(simulator, path: str, body: dict, token: str | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(simulator.base_url + path, json.dumps(body).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


# ------------------------------------------------------------------------------------------ security credential


def test_security_credential_is_rsa_pkcs1_that_the_simulator_decrypts(sim):
    client = client_for(sim)
    first, second = client.security_credential(), client.security_credential()
    assert len(first) == 344  # base64 of a 2048-bit RSA block
    assert first != second  # PKCS#1 v1.5 padding is random
    for credential in (first, second):
        assert decrypt_security_credential(credential, sim.server.private_key()) == sim.initiator_password


def test_a_der_certificate_works_too(sim, tmp_path):
    pem = Path(sim.certificate_path).read_bytes()
    der_path = tmp_path / "sandbox.cer"
    der_path.write_bytes(x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER))
    credential = client_for(sim, certificate_path=str(der_path)).security_credential()
    assert decrypt_security_credential(credential, sim.server.private_key()) == sim.initiator_password


def test_the_public_key_is_loaded_once_and_cached(sim, tmp_path):
    cert = tmp_path / "cert.pem"
    cert.write_bytes(Path(sim.certificate_path).read_bytes())
    client = client_for(sim, certificate_path=str(cert))
    client.security_credential()
    cert.unlink()
    assert decrypt_security_credential(client.security_credential(), sim.server.private_key())


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"certificate_path": "/nonexistent/cert.cer"}, "certificate_path"),
        ({"certificate_path": ""}, "certificate_path"),
        ({"certificate_path": "GARBAGE"}, "certificate_path"),
        ({"initiator_password": ""}, "initiator_password"),
        ({"initiator_name": ""}, "initiator_name"),
    ],
)
def test_missing_initiator_material_fails_before_any_http_call(sim, hooks, tmp_path, overrides, field):
    if overrides.get("certificate_path") == "GARBAGE":
        garbage = tmp_path / "garbage.cer"
        garbage.write_bytes(b"not a certificate")
        overrides = {"certificate_path": str(garbage)}
    with pytest.raises(DarajaValidationError) as info:
        pay(client_for(sim, **overrides), hooks)
    assert info.value.field == field
    assert sim.request_log == []


# ------------------------------------------------------------------------------------------ outcomes


def test_b2c_success_is_accepted_then_its_result_parses(sim, hooks):
    balance_before = sim.utility_balance
    accepted = pay(client_for(sim), hooks, amount=Decimal("500.00"), occasion="March loan")
    assert accepted.response_code == "0"
    assert accepted.response_description == "Accept the service request successfully."
    assert accepted.originator_conversation_id == "payout-1"
    assert accepted.conversation_id.startswith("AG_")
    assert accepted.request["SecurityCredential"] == "***"
    assert accepted.request["PartyA"] == sim.b2c_shortcode
    assert accepted.request["PartyB"] == SUCCESS_PHONE
    assert accepted.request["Amount"] == 500
    assert accepted.request["Occassion"] == "March loan"  # sic
    assert accepted.request["CommandID"] == "BusinessPayment"

    result = result_for(hooks, "payout-1")
    assert (result.result_code, result.result_type) == ("0", "0")
    assert result.conversation_id == accepted.conversation_id
    assert result.amount == Decimal("500")
    assert result.receipt == result.transaction_id
    assert len(result.receipt) == 10
    assert result.parameters["ReceiverPartyPublicName"] == f"{SUCCESS_PHONE} - Test User"
    assert result.parameters["B2CRecipientIsRegisteredCustomer"] == "Y"
    assert Decimal(str(result.parameters["B2CUtilityAccountAvailableFunds"])) == balance_before - 500
    assert abs(result.completed_at - datetime.now(tz=NAIROBI)) < timedelta(seconds=60)
    assert result.completed_at.tzinfo is not None
    assert result.reference_data == {"QueueTimeoutURL": hooks.url(TIMEOUT)}
    assert sim.utility_balance == balance_before - 500


@pytest.mark.parametrize(
    ("overrides", "why"),
    [({"initiator_password": "Wrong#Pass1"}, "password"), ({"initiator_name": "someone-else"}, "initiator")],
)
def test_wrong_initiator_gives_a_2001_result_not_a_sync_error(sim, hooks, overrides, why):
    balance_before = sim.utility_balance
    accepted = pay(client_for(sim, **overrides), hooks)
    assert accepted.response_code == "0"
    result = result_for(hooks, "payout-1")
    assert (result.result_code, result.result_desc) == ("2001", "The initiator information is invalid.")
    assert result.parameters == {}
    assert result.receipt is None
    assert sim.utility_balance == balance_before


@pytest.mark.parametrize(
    ("phone", "code"),
    [("254708370001", "1"), ("254708372040", "2040"), ("254708372001", "2001")],
)
def test_failure_outcomes_by_phone_suffix(sim, hooks, phone, code):
    balance_before = sim.utility_balance
    pay(client_for(sim), hooks, phone=phone)
    result = result_for(hooks, "payout-1")
    assert result.result_code == code
    assert result.amount is None and result.receipt is None
    assert sim.utility_balance == balance_before


def test_an_empty_utility_account_gives_result_code_1():
    with DarajaSimulator(callback_delay=0.02, utility_balance=Decimal("100")) as simulator, CallbackRecorder() as hooks:
        pay(client_for(simulator), hooks, amount=101)
        assert result_for(hooks, "payout-1").result_code == "1"
        pay(client_for(simulator), hooks, originator_conversation_id="payout-2", amount=100)
        assert result_for(hooks, "payout-2").result_code == "0"
        assert simulator.utility_balance == Decimal("0")


def test_a_b2c_from_a_shortcode_without_b2c_gives_2028(sim, hooks):
    pay(client_for(sim, b2c_shortcode="600000"), hooks)
    assert result_for(hooks, "payout-1").result_code == "2028"


def test_queue_timeout_goes_to_the_queue_timeout_url_only(sim, hooks):
    pay(client_for(sim), hooks, phone="254708371037")
    timeout = result_for(hooks, "payout-1", path=TIMEOUT)
    assert timeout.result_code == "SVC0403"
    assert timeout.receipt is None
    assert hooks.bodies(RESULT) == []
    assert [item["kind"] for item in sim.wait_sent(1)] == ["b2c_timeout"]


def test_duplicate_originator_conversation_id_is_a_typed_error(sim, hooks):
    client = client_for(sim)
    pay(client, hooks)
    with pytest.raises(DarajaDuplicateOriginator) as info:
        pay(client, hooks, amount=900)
    assert isinstance(info.value, DarajaRequestError)
    assert (info.value.error_code, info.value.http_status) == ("500.002.1001", 500)
    assert info.value.error_message == "Duplicate OriginatorConversationID"
    result_for(hooks, "payout-1")
    assert len(sim.wait_sent(1, "b2c_result")) == 1  # the duplicate paid nothing


# ------------------------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": 9}, "amount"),
        ({"amount": 250_001}, "amount"),
        ({"amount": Decimal("10.5")}, "amount"),
        ({"amount": 10.5}, "amount"),
        ({"amount": "100"}, "amount"),
        ({"phone": "0712"}, "phone"),
        ({"phone": "255712345678"}, "phone"),
        ({"remarks": "x"}, "remarks"),
        ({"remarks": "r" * 101}, "remarks"),
        ({"occasion": "o" * 101}, "occasion"),
        ({"command_id": "CustomerPayBillOnline"}, "command_id"),
        ({"originator_conversation_id": ""}, "originator_conversation_id"),
        ({"originator_conversation_id": "x" * 65}, "originator_conversation_id"),
        ({"result_url": "ftp://example.com/r"}, "result_url"),
        ({"queue_timeout_url": "/relative/timeout"}, "queue_timeout_url"),
    ],
)
def test_bad_arguments_raise_before_any_http_call(sim, hooks, overrides, field):
    with pytest.raises(DarajaValidationError) as info:
        pay(client_for(sim), hooks, **overrides)
    assert info.value.field == field
    assert sim.request_log == []


@pytest.mark.parametrize(
    ("amount", "command_id"),
    [(10, "SalaryPayment"), (250_000, "PromotionPayment"), (Decimal("10.00"), "BusinessPayment")],
)
def test_limits_are_inclusive_and_every_command_id_works(sim, hooks, amount, command_id):
    pay(client_for(sim), hooks, amount=amount, command_id=command_id)
    result = result_for(hooks, "payout-1")
    assert result.result_code == "0"
    assert result.amount == Decimal(amount)


def test_simulator_checks_b2c_fields_itself(sim):
    token = client_for(sim).get_token()
    base = {
        "OriginatorConversationID": "raw-1",
        "InitiatorName": "testapi",
        "SecurityCredential": client_for(sim).security_credential(),
        "CommandID": "BusinessPayment",
        "Amount": 100,
        "PartyA": sim.b2c_shortcode,
        "PartyB": SUCCESS_PHONE,
        "Remarks": "Payout",
        "QueueTimeOutURL": "http://127.0.0.1:9/t",
        "ResultURL": "http://127.0.0.1:9/r",
        "Occassion": "",
    }
    cases = [
        ({"Amount": 9}, "Amount"),
        ({"Amount": 250_001}, "Amount"),
        ({"Amount": 10.5}, "Amount"),
        ({"Amount": "10.5"}, "Amount"),
        ({"PartyB": "0708374149"}, "PartyB"),
        ({"Remarks": "x"}, "Remarks"),
        ({"CommandID": "Payout"}, "CommandID"),
        ({"SecurityCredential": ""}, "SecurityCredential"),
        ({"ResultURL": "not a url"}, "ResultURL"),
    ]
    for overrides, what in cases:
        status, body = raw_post(sim, B2C_PATH, {**base, **overrides}, token)
        assert (status, body["errorCode"], body["errorMessage"]) == (400, "400.002.02", f"Bad Request - Invalid {what}")
    status, body = raw_post(sim, B2C_PATH, base, None)
    assert (status, body["errorCode"]) == (404, "404.001.03")
    assert sim.b2c_originators == set()  # nothing was accepted
    status, body = raw_post(sim, B2C_PATH, {**base, "Amount": "100"}, token)
    assert (status, body["ResponseCode"], body["OriginatorConversationID"]) == (200, "0", "raw-1")


def test_b2c_content_type_is_required(sim):
    token = client_for(sim).get_token()
    request = urllib.request.Request(
        sim.base_url + B2C_PATH, b"{}", {"Authorization": f"Bearer {token}"}, method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    assert json.loads(info.value.read())["errorMessage"] == "Bad Request - Invalid BusinessShortCode"


# ------------------------------------------------------------------------------------------ timeouts


def test_b2c_is_never_resent_after_a_timeout_and_the_same_id_then_reads_as_duplicate(sim, hooks):
    client = client_for(sim, timeout=0.3)
    client.get_token()
    sim.stall(B2C_PATH, 1.0, times=1)
    with pytest.raises(DarajaTimeout):
        pay(client, hooks)
    assert sim.count("POST", B2C_PATH) == 1
    # The request did reach "M-Pesa": its Result arrives, and resending with the same id is refused as a duplicate.
    assert result_for(hooks, "payout-1").result_code == "0"
    with pytest.raises(DarajaDuplicateOriginator):
        pay(client, hooks)
    assert len(sim.wait_sent(1, "b2c_result")) == 1


def test_an_expired_token_is_refreshed_once_for_a_b2c(sim, hooks):
    client = client_for(sim)
    client.get_token()
    sim.expire_tokens()
    assert pay(client, hooks).response_code == "0"
    assert sim.count("POST", B2C_PATH) == 2
    assert sim.count("GET", "/oauth/") == 2


def test_credential_in_the_body_is_base64(sim, hooks):
    accepted = pay(client_for(sim), hooks)
    assert accepted.raw["ResponseCode"] == "0"
    # what went over the wire was a real credential (the simulator decrypted it and paid)
    assert result_for(hooks, "payout-1").result_code == "0"
    assert base64.b64decode(client_for(sim).security_credential(), validate=True)
