"""The Daraja client against the Daraja simulator, over real HTTP on loopback ports. No database."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from mpesa_integration.daraja import (
    DarajaAuthError,
    DarajaClient,
    DarajaRequestError,
    DarajaTimeout,
    DarajaValidationError,
    InMemoryTokenCache,
    normalize_msisdn,
)
from mpesa_integration.daraja.client import NAIROBI, OAUTH_PATH, STK_PUSH_PATH, STK_QUERY_PATH
from mpesa_integration.daraja.simulator import DarajaSimulator
from mpesa_integration.daraja.testing import CallbackRecorder

SUCCESS_PHONE = "254708374149"


STK_HOOK = "/callbacks/s3cret/stk/"


class StkCallbacks:
    """The STK callbacks the simulator POSTs to a CallbackRecorder (daraja/testing.py), by CheckoutRequestID."""

    def __init__(self, recorder: CallbackRecorder) -> None:
        self.recorder = recorder
        self.url = recorder.url(STK_HOOK)

    def wait_for(self, checkout_request_id: str, timeout: float = 5) -> dict:
        body = self.recorder.wait_for(
            lambda path, body: (
                path == STK_HOOK and body["Body"]["stkCallback"]["CheckoutRequestID"] == checkout_request_id
            ),
            timeout,
        )
        return body["Body"]["stkCallback"]

    @property
    def bodies(self) -> list[dict]:
        return self.recorder.bodies(STK_HOOK)


@pytest.fixture
def callbacks(hooks):
    return StkCallbacks(hooks)


@pytest.fixture
def sim():
    with DarajaSimulator(callback_delay=0.05) as simulator:
        yield simulator


def make_client(simulator, **overrides) -> DarajaClient:
    kwargs = {
        "base_url": simulator.base_url,
        "consumer_key": simulator.consumer_key,
        "consumer_secret": simulator.consumer_secret,
        "shortcode": simulator.shortcode,
        "passkey": simulator.passkey,
        "timeout": 5,
    }
    kwargs.update(overrides)
    return DarajaClient(**kwargs)


def push(client, callbacks, phone=SUCCESS_PHONE, amount=10):
    return client.stk_push(phone, amount, "CH1M7", "Contribution", callbacks.url)


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


def valid_body(simulator, **overrides) -> dict:
    timestamp = datetime.now(tz=NAIROBI).strftime("%Y%m%d%H%M%S")
    password = base64.b64encode(f"{simulator.shortcode}{simulator.passkey}{timestamp}".encode()).decode()
    body = {
        "BusinessShortCode": simulator.shortcode,
        "Password": password,
        "Timestamp": timestamp,
        "TransactionType": "CustomerPayBillOnline",
        "Amount": 10,
        "PartyA": SUCCESS_PHONE,
        "PartyB": simulator.shortcode,
        "PhoneNumber": SUCCESS_PHONE,
        "CallBackURL": "http://127.0.0.1:9/cb",
        "AccountReference": "CH1M7",
        "TransactionDesc": "Contribution",
    }
    body.update(overrides)
    return body


# ------------------------------------------------------------------------------------------------- OAuth


@pytest.mark.parametrize("expires_in", ["3599", 3599])
def test_one_oauth_call_for_several_pushes(callbacks, expires_in):
    with DarajaSimulator(callback_delay=0.05, token_expires_in=expires_in) as simulator:
        client = make_client(simulator)
        for _ in range(3):
            assert push(client, callbacks).response_code == "0"
        client.stk_query(push(client, callbacks).checkout_request_id)
        assert simulator.count("GET", "/oauth/") == 1
        assert simulator.count("POST", STK_PUSH_PATH) == 4


def test_token_cached_until_shortly_before_expiry_and_shared_through_the_cache(sim, callbacks):
    class RecordingCache(InMemoryTokenCache):
        def __init__(self) -> None:
            super().__init__()
            self.timeouts: list[float | None] = []

        def set(self, key, value, timeout=None):
            self.timeouts.append(timeout)
            super().set(key, value, timeout)

    cache = RecordingCache()
    push(make_client(sim, token_cache=cache), callbacks)
    push(make_client(sim, token_cache=cache), callbacks)  # a second worker sharing the cache
    assert sim.count("GET", "/oauth/") == 1
    assert len(cache.timeouts) == 1
    assert 2900 <= cache.timeouts[0] < 3599


def test_wrong_consumer_secret_raises_auth_error_and_sends_no_push(sim, callbacks):
    client = make_client(sim, consumer_secret="nope")
    with pytest.raises(DarajaAuthError) as info:
        push(client, callbacks)
    assert info.value.error_code == "400.008.01"
    assert sim.count("POST", STK_PUSH_PATH) == 0


def test_invalid_access_token_refreshes_once_and_retries_once(sim, callbacks):
    client = make_client(sim)
    push(client, callbacks)
    sim.expire_tokens()
    result = push(client, callbacks)
    assert result.response_code == "0"
    assert sim.count("GET", "/oauth/") == 2
    assert sim.count("POST", STK_PUSH_PATH) == 3  # first push, the refused one, its single retry


def test_token_refused_again_after_refresh_raises_without_a_second_retry(sim, callbacks):
    client = make_client(sim)
    sim.server.reject_all_tokens = True
    with pytest.raises(DarajaAuthError) as info:
        push(client, callbacks)
    assert info.value.error_code == "404.001.03"
    assert info.value.http_status == 404
    assert sim.count("GET", "/oauth/") == 2
    assert sim.count("POST", STK_PUSH_PATH) == 2


# ------------------------------------------------------------------------------------------------- STK push


def test_password_and_timestamp_follow_the_contract(sim, callbacks):
    result = push(make_client(sim), callbacks)
    timestamp = result.request["Timestamp"]
    sent_at = datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=NAIROBI)
    assert abs(datetime.now(tz=NAIROBI) - sent_at) < timedelta(seconds=60)
    assert result.request["Amount"] == 10
    assert result.request["PartyA"] == result.request["PhoneNumber"] == SUCCESS_PHONE
    assert result.checkout_request_id.startswith("ws_CO_")
    assert result.merchant_request_id


def test_simulator_rejects_a_wrong_passkey(sim, callbacks):
    client = make_client(sim, passkey="0" * 64)
    with pytest.raises(DarajaRequestError) as info:
        push(client, callbacks)
    assert (info.value.error_code, info.value.error_message, info.value.http_status) == (
        "500.001.1001",
        "Wrong credentials",
        500,
    )
    assert info.value.request_id
    assert sim.transactions == {}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"Amount": 1.5}, "Bad Request - Invalid Amount"),
        ({"Amount": "1.5"}, "Bad Request - Invalid Amount"),
        ({"Amount": 0}, "Bad Request - Invalid Amount"),
        ({"AccountReference": "A" * 13}, "Bad Request - Invalid AccountReference"),
        ({"TransactionDesc": "D" * 14}, "Bad Request - Invalid TransactionDesc"),
        ({"PhoneNumber": "255712345678"}, "Bad Request - Invalid PhoneNumber"),
        ({"Timestamp": "2024-01-01"}, "Bad Request - Invalid Timestamp"),
    ],
)
def test_simulator_rejects_bad_fields_the_daraja_way(sim, overrides, message):
    token = make_client(sim).get_token()
    status, body = raw_post(sim, STK_PUSH_PATH, valid_body(sim, **overrides), token)
    assert status == 400
    assert body["errorCode"] == "400.002.02"
    assert body["errorMessage"] == message
    assert body["requestId"]


def test_simulator_rejects_a_utc_timestamp(sim):
    token = make_client(sim).get_token()
    utc_stamp = (datetime.now(tz=NAIROBI) - timedelta(hours=3)).strftime("%Y%m%d%H%M%S")
    password = base64.b64encode(f"{sim.shortcode}{sim.passkey}{utc_stamp}".encode()).decode()
    status, body = raw_post(sim, STK_PUSH_PATH, valid_body(sim, Timestamp=utc_stamp, Password=password), token)
    assert (status, body["errorMessage"]) == (400, "Bad Request - Invalid Timestamp")


def test_simulator_requires_a_bearer_token_and_known_paths(sim):
    status, body = raw_post(sim, STK_PUSH_PATH, valid_body(sim), None)
    assert (status, body["errorCode"]) == (404, "404.001.03")
    status, body = raw_post(sim, "/mpesa/nothing/v1/here", {}, None)
    assert (status, body["errorCode"]) == (404, "404.001.01")


@pytest.mark.parametrize(
    ("phone", "result_code"),
    [
        ("254708374149", "0"),
        ("254708371032", "1032"),
        ("254708371037", "1037"),
        ("254708372001", "2001"),
        ("254708370001", "1"),
    ],
)
def test_each_outcome_delivers_the_right_callback(sim, callbacks, phone, result_code):
    result = push(make_client(sim), callbacks, phone=phone, amount=Decimal("25.00"))
    callback = callbacks.wait_for(result.checkout_request_id)
    assert str(callback["ResultCode"]) == result_code
    assert callback["MerchantRequestID"] == result.merchant_request_id
    if result_code == "0":
        items = {item["Name"]: item.get("Value") for item in callback["CallbackMetadata"]["Item"]}
        assert Decimal(str(items["Amount"])) == Decimal("25")
        assert len(items["MpesaReceiptNumber"]) == 10
        assert str(items["PhoneNumber"]) == phone
        assert len(str(items["TransactionDate"])) == 14
        assert "Balance" in items
    else:
        assert "CallbackMetadata" not in callback


def test_stk_query_is_pending_then_final(callbacks):
    with DarajaSimulator(callback_delay=0.6) as simulator:
        client = make_client(simulator)
        result = push(client, callbacks, phone="254708371032")
        pending = client.stk_query(result.checkout_request_id)
        assert pending.pending is True
        assert pending.result_code is None
        assert pending.result_desc == "The transaction is being processed"
        callbacks.wait_for(result.checkout_request_id)
        final = client.stk_query(result.checkout_request_id)
        assert final.pending is False
        assert final.result_code == "1032"
        assert final.result_desc == "Request cancelled by user"
        assert final.merchant_request_id == result.merchant_request_id


def test_stk_query_success_and_unknown_id(sim, callbacks):
    client = make_client(sim)
    result = push(client, callbacks)
    callbacks.wait_for(result.checkout_request_id)
    assert client.stk_query(result.checkout_request_id).result_code == "0"
    with pytest.raises(DarajaRequestError) as info:
        client.stk_query("ws_CO_000000000000000000")
    assert info.value.error_code == "400.002.02"


def test_push_timeout_is_never_retried(callbacks):
    with DarajaSimulator(callback_delay=0.05, stk_push_stall=1.5) as simulator:
        client = make_client(simulator, timeout=0.4)
        client.get_token()
        with pytest.raises(DarajaTimeout):
            push(client, callbacks)
        assert simulator.count("POST", STK_PUSH_PATH) == 1


# ------------------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": -5}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"amount": Decimal("1.5")}, "amount"),
        ({"amount": 250_001}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": "100"}, "amount"),
        ({"phone": "0712"}, "phone"),
        ({"phone": "255712345678"}, "phone"),
        ({"phone": "254202345678"}, "phone"),
        ({"phone": "hello"}, "phone"),
        ({"account_reference": "A" * 13}, "account_reference"),
        ({"account_reference": ""}, "account_reference"),
        ({"account_reference": "CH-1/2"}, "account_reference"),
        ({"transaction_desc": "D" * 14}, "transaction_desc"),
        ({"callback_url": "ftp://x/cb"}, "callback_url"),
    ],
)
def test_bad_arguments_raise_before_any_http_call(sim, kwargs, field):
    args = {
        "phone": SUCCESS_PHONE,
        "amount": 10,
        "account_reference": "CH1M7",
        "transaction_desc": "Contribution",
        "callback_url": "https://example.com/cb",
        **kwargs,
    }
    with pytest.raises(DarajaValidationError) as info:
        make_client(sim).stk_push(**args)
    assert isinstance(info.value, ValueError)
    assert info.value.field == field
    assert sim.request_log == []


@pytest.mark.parametrize(
    ("raw", "msisdn"),
    [("0712345678", "254712345678"), ("+254 712 345 678", "254712345678"), ("0110345678", "254110345678")],
)
def test_msisdn_normalisation(raw, msisdn):
    assert normalize_msisdn(raw) == msisdn


def test_limits_are_inclusive(sim, callbacks):
    client = make_client(sim)
    assert push(client, callbacks, amount=1).response_code == "0"
    assert push(client, callbacks, amount=250_000).response_code == "0"


# ------------------------------------------------------------------------------------------------- standalone


def test_simulator_runs_as_a_module():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "mpesa_integration.daraja.simulator", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "simulator did not start"
                time.sleep(0.05)
        client = DarajaClient(
            f"http://127.0.0.1:{port}",
            "simulator-consumer-key",
            "simulator-consumer-secret",
            "174379",
            "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919",
            timeout=5,
        )
        assert client.get_token()
        with pytest.raises(DarajaRequestError):
            client.stk_query("ws_CO_unknown")
    finally:
        process.terminate()
        process.wait(timeout=5)


def test_module_paths_match_the_contract():
    assert OAUTH_PATH == "/oauth/v1/generate?grant_type=client_credentials"
    assert STK_PUSH_PATH == "/mpesa/stkpush/v1/processrequest"
    assert STK_QUERY_PATH == "/mpesa/stkpushquery/v1/query"
