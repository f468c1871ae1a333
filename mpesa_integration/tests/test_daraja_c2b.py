"""C2B register URL, simulate, validation and confirmation: client against the simulator over loopback HTTP."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from mpesa_integration.daraja import DarajaClient, DarajaRequestError, DarajaValidationError, parse_c2b
from mpesa_integration.daraja.client import NAIROBI, normalize_c2b_reply
from mpesa_integration.daraja.simulator import DarajaSimulator
from mpesa_integration.daraja.testing import CallbackRecorder, client_for

PHONE = "254708374149"
CONFIRM = "/api/v1/payments/hooks/s3cret/c2b-confirm/"
VALIDATE = "/api/v1/payments/hooks/s3cret/c2b-validate/"


@pytest.fixture
def validating_sim():
    with DarajaSimulator(callback_delay=0.02, c2b_external_validation=True) as simulator:
        yield simulator


def register(client: DarajaClient, hooks: CallbackRecorder, response_type: str = "Completed", **urls) -> dict:
    return client.c2b_register_urls(
        confirmation_url=urls.get("confirmation_url", hooks.url(CONFIRM)),
        validation_url=urls.get("validation_url", hooks.url(VALIDATE)),
        response_type=response_type,
    )


def wait_settled(simulator, originator: str, timeout: float = 5) -> str:
    """The C2B job's final status ("confirmed", "rejected", "cancelled") once the simulator has processed it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = simulator.c2b_jobs[originator]
        if job.status != "pending":
            return job.status
        time.sleep(0.01)
    raise AssertionError("C2B payment was never processed")


def closed_port_url(path: str) -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def raw_post(simulator, path: str, body: dict, token: str) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    request = urllib.request.Request(simulator.base_url + path, json.dumps(body).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


# ------------------------------------------------------------------------------------------ register


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_register_urls_normalises_the_misspelt_reply(sim, hooks, version):
    reply = register(client_for(sim, c2b_version=version), hooks, response_type="Cancelled")
    assert "OriginatorCoversationID" in reply["raw"]  # sic, as Daraja sends it
    assert reply["originator_conversation_id"] == reply["raw"]["OriginatorCoversationID"] != ""
    assert (reply["response_code"], reply["response_description"]) == ("0", "success")
    assert sim.count("POST", f"/mpesa/c2b/{version}/registerurl") == 1
    assert sim.c2b_urls[sim.c2b_shortcode] == {
        "ResponseType": "Cancelled",
        "ConfirmationURL": hooks.url(CONFIRM),
        "ValidationURL": hooks.url(VALIDATE),
    }


def test_both_spellings_of_the_originator_id_are_accepted():
    correct = normalize_c2b_reply(
        {"OriginatorConversationID": "1-2-3", "ResponseCode": "0", "ResponseDescription": "ok"}
    )
    misspelt = normalize_c2b_reply({"OriginatorCoversationID": "1-2-3", "ResponseCode": 0, "ResponseDescription": "ok"})
    assert correct["originator_conversation_id"] == misspelt["originator_conversation_id"] == "1-2-3"
    assert misspelt["response_code"] == "0"
    with pytest.raises(DarajaRequestError):
        normalize_c2b_reply({"OriginatorCoversationID": "1-2-3", "ResponseCode": "1", "ResponseDescription": "no"})


@pytest.mark.parametrize(
    "path",
    [
        "/mpesa/confirm/",
        "/M-PESA/confirm/",
        "/hooks/Safaricom/",
        "/hooks/run.exe",
        "/hooks/cmd/",
        "/hooks/SQL/",
        "/hooks/confirm?query=1",
        "/hooks/exec/",
    ],
)
@pytest.mark.parametrize("which", ["confirmation_url", "validation_url"])
def test_forbidden_words_are_refused_before_any_http_call(sim, hooks, path, which):
    with pytest.raises(DarajaValidationError) as info:
        register(client_for(sim), hooks, **{which: hooks.url(path)})
    assert info.value.field == which
    assert sim.request_log == []


@pytest.mark.parametrize(
    ("overrides", "what"),
    [
        ({"ConfirmationURL": "http://127.0.0.1:9/mpesa/confirm"}, "ConfirmationURL"),
        ({"ValidationURL": "http://127.0.0.1:9/SAFARICOM/validate"}, "ValidationURL"),
        ({"ValidationURL": "http://127.0.0.1:9/x.exe"}, "ValidationURL"),
        ({"ConfirmationURL": "not-a-url"}, "ConfirmationURL"),
        ({"ResponseType": "completed"}, "ResponseType"),
        ({"ShortCode": "60"}, "ShortCode"),
    ],
)
def test_simulator_refuses_bad_registrations(sim, overrides, what):
    body = {
        "ShortCode": sim.c2b_shortcode,
        "ResponseType": "Completed",
        "ConfirmationURL": "http://127.0.0.1:9/hooks/confirm",
        "ValidationURL": "http://127.0.0.1:9/hooks/validate",
        **overrides,
    }
    status, reply = raw_post(sim, "/mpesa/c2b/v1/registerurl", body, client_for(sim).get_token())
    assert (status, reply["errorCode"], reply["errorMessage"]) == (400, "400.002.02", f"Bad Request - Invalid {what}")
    assert sim.c2b_urls == {}


def test_response_type_is_checked_client_side(sim, hooks):
    with pytest.raises(DarajaValidationError) as info:
        register(client_for(sim), hooks, response_type="completed")
    assert info.value.field == "response_type"


# ------------------------------------------------------------------------------------------ simulate + confirm


def test_simulate_needs_registered_urls(sim):
    with pytest.raises(DarajaRequestError) as info:
        client_for(sim).c2b_simulate(phone=PHONE, amount=100, bill_ref_number="M001")
    assert (info.value.error_code, info.value.http_status) == ("400.002.02", 400)


def test_simulate_delivers_a_confirmation_that_parses(sim, hooks):
    client = client_for(sim)
    register(client, hooks)
    balance_before = sim.utility_balance
    reply = client.c2b_simulate(phone="0708374149", amount=Decimal("150.00"), bill_ref_number="CH1-M007")
    assert reply["response_code"] == "0"
    raw = hooks.wait_count(CONFIRM, 1)[0]
    assert isinstance(raw["TransAmount"], str)
    payment = parse_c2b(raw)
    assert payment.amount == Decimal("150.00")
    assert payment.msisdn == "25470****149"
    assert payment.bill_ref_number == "CH1-M007"
    assert payment.shortcode == sim.c2b_shortcode
    assert payment.trans_type == "Pay Bill"
    assert len(payment.trans_id) == 10
    assert abs(payment.trans_time - datetime.now(tz=NAIROBI)) < timedelta(seconds=60)
    assert payment.org_account_balance == balance_before + 150
    assert payment.name == "Test User"
    assert hooks.bodies(VALIDATE) == []  # external validation is off by default
    assert wait_settled(sim, reply["originator_conversation_id"]) == "confirmed"


def test_buy_goods_without_an_account_number(sim, hooks):
    client = client_for(sim)
    register(client, hooks)
    client.c2b_simulate(phone=PHONE, amount=20, bill_ref_number="", command_id="CustomerBuyGoodsOnline")
    payment = parse_c2b(hooks.wait_count(CONFIRM, 1)[0])
    assert (payment.trans_type, payment.bill_ref_number) == ("Buy Goods", "")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"bill_ref_number": "B" * 21}, "bill_ref_number"),
        ({"bill_ref_number": ""}, "bill_ref_number"),
        ({"amount": 0}, "amount"),
        ({"amount": Decimal("1.50")}, "amount"),
        ({"phone": "12345"}, "phone"),
        ({"command_id": "BusinessPayment"}, "command_id"),
    ],
)
def test_simulate_arguments_are_checked_before_any_http_call(sim, overrides, field):
    kwargs = {"phone": PHONE, "amount": 100, "bill_ref_number": "M001", **overrides}
    with pytest.raises(DarajaValidationError) as info:
        client_for(sim).c2b_simulate(**kwargs)
    assert info.value.field == field
    assert sim.request_log == []


def test_simulate_is_refused_against_production():
    client = DarajaClient("https://api.safaricom.co.ke", "key", "secret", "600998", "passkey")
    with pytest.raises(DarajaValidationError) as info:
        client.c2b_simulate(phone=PHONE, amount=100, bill_ref_number="M001")
    assert info.value.field == "base_url"


# ------------------------------------------------------------------------------------------ external validation


@pytest.mark.parametrize("result_code", ["0", 0])
def test_accepted_validation_is_followed_by_the_confirmation(validating_sim, hooks, result_code):
    hooks.reply(VALIDATE, {"ResultCode": result_code, "ResultDesc": "Accepted", "ThirdPartyTransID": "CH-42"})
    client = client_for(validating_sim)
    register(client, hooks)
    client.c2b_simulate(phone=PHONE, amount=300, bill_ref_number="M001")
    confirmation = parse_c2b(hooks.wait_count(CONFIRM, 1)[0])
    validation = parse_c2b(hooks.bodies(VALIDATE)[0])
    assert validation.trans_id == confirmation.trans_id
    assert validation.org_account_balance is None  # empty on validation
    assert confirmation.org_account_balance is not None
    assert confirmation.third_party_trans_id == "CH-42"  # echoed from the validation reply
    assert [item["kind"] for item in validating_sim.wait_sent(2)] == ["c2b_validation", "c2b_confirmation"]


def test_rejected_validation_means_no_confirmation(validating_sim, hooks):
    hooks.reply(VALIDATE, {"ResultCode": "C2B00012", "ResultDesc": "Rejected"})
    client = client_for(validating_sim)
    register(client, hooks)
    balance_before = validating_sim.utility_balance
    reply = client.c2b_simulate(phone=PHONE, amount=300, bill_ref_number="NOSUCH")
    assert wait_settled(validating_sim, reply["originator_conversation_id"]) == "rejected"
    assert len(hooks.bodies(VALIDATE)) == 1
    assert hooks.bodies(CONFIRM) == []
    assert validating_sim.utility_balance == balance_before


@pytest.mark.parametrize(
    ("response_type", "outcome"),
    [("Completed", "confirmed"), ("Cancelled", "cancelled")],
)
@pytest.mark.parametrize("failure", ["refused", "http-500"])
def test_unreachable_validation_follows_the_response_type(validating_sim, hooks, response_type, outcome, failure):
    client = client_for(validating_sim)
    if failure == "refused":
        register(client, hooks, response_type, validation_url=closed_port_url(VALIDATE))
    else:
        hooks.reply(VALIDATE, {"error": "boom"}, status=500)
        register(client, hooks, response_type)
    reply = client.c2b_simulate(phone=PHONE, amount=300, bill_ref_number="M001")
    assert wait_settled(validating_sim, reply["originator_conversation_id"]) == outcome
    sent = validating_sim.sent()
    assert sent[0]["kind"] == "c2b_validation"
    assert sent[0]["status"] == (None if failure == "refused" else 500)
    if outcome == "confirmed":
        assert parse_c2b(hooks.wait_count(CONFIRM, 1)[0]).amount == Decimal("300")
    else:
        assert hooks.bodies(CONFIRM) == []


def test_without_a_validation_url_confirmation_is_direct_even_when_validation_is_on(validating_sim, hooks):
    validating_sim.c2b_urls[validating_sim.c2b_shortcode] = {
        "ResponseType": "Cancelled",
        "ConfirmationURL": hooks.url(CONFIRM),
        "ValidationURL": "",
    }
    client_for(validating_sim).c2b_simulate(phone=PHONE, amount=300, bill_ref_number="M001")
    assert parse_c2b(hooks.wait_count(CONFIRM, 1)[0]).amount == Decimal("300")
    assert hooks.bodies(VALIDATE) == []
