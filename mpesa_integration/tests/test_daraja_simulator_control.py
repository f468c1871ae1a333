"""The simulator's control API (replay, hold/release), STK code 17, its key pair, and how it is started."""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from mpesa_integration.daraja import DarajaClient, parse_async_result, parse_stk_callback
from mpesa_integration.daraja.credentials import (
    decrypt_security_credential,
    generate_simulator_credentials,
    load_private_key,
)
from mpesa_integration.daraja.simulator import (
    DEFAULT_UTILITY_BALANCE,
    DarajaSimulator,
    SimulatorServer,
    default_key_pair,
)
from mpesa_integration.daraja.testing import CallbackRecorder, client_for

PHONE = "254708374149"
STK = "/hooks/s3cret/stk/"
RESULT = "/hooks/s3cret/b2c/result/"
REPO_ROOT = Path(__file__).resolve().parents[2]


def control(simulator, path: str, body: dict | None = None) -> tuple[int, dict]:
    """Call the control API like a test or a demo script would: plain JSON, no auth."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        simulator.base_url + path, data, {"Content-Type": "application/json"}, method="GET" if body is None else "POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def stk_bodies(hooks: CallbackRecorder, checkout_request_id: str) -> list[dict]:
    return [b for b in hooks.bodies(STK) if b["Body"]["stkCallback"]["CheckoutRequestID"] == checkout_request_id]


def wait_until(condition, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.01)


def push(client, hooks, phone: str = PHONE, amount: int = 10):
    return client.stk_push(phone, amount, "CH1M7", "Contribution", hooks.url(STK))


# ------------------------------------------------------------------------------------------ replay


def test_replay_over_http_sends_identical_duplicate_callbacks(sim, hooks):
    result = push(client_for(sim), hooks)
    hooks.wait_count(STK, 1)
    status, reply = control(
        sim, "/simulator/v1/callbacks/replay", {"CheckoutRequestID": result.checkout_request_id, "times": 2}
    )
    assert (status, reply["ResponseCode"], reply["times"]) == (200, "0", 2)
    bodies = hooks.wait_count(STK, 3)
    assert bodies[0] == bodies[1] == bodies[2]  # same receipt, same TransactionDate: a true duplicate
    assert parse_stk_callback(bodies[2]).receipt == parse_stk_callback(bodies[0]).receipt


def test_replay_with_a_delay_is_a_late_callback(sim, hooks):
    result = push(client_for(sim), hooks)
    hooks.wait_count(STK, 1)
    body = {"CheckoutRequestID": result.checkout_request_id, "times": 1, "delay": 0.3}
    assert control(sim, "/simulator/v1/callbacks/replay", body)[0] == 200
    assert len(hooks.bodies(STK)) == 1  # not yet
    hooks.wait_count(STK, 2)


def test_replay_before_the_first_delivery_gives_an_early_and_a_scheduled_callback(hooks):
    with DarajaSimulator(callback_delay=0.3) as simulator:
        result = push(client_for(simulator), hooks)
        assert simulator.replay_callback(result.checkout_request_id) == 1  # synchronous
        assert len(stk_bodies(hooks, result.checkout_request_id)) == 1
        bodies = hooks.wait_count(STK, 2)
        assert bodies[0] == bodies[1]
        assert simulator.utility_balance == DEFAULT_UTILITY_BALANCE + 10  # credited once, not per delivery


def test_replay_of_an_async_result(sim, hooks):
    client = client_for(sim)
    client.b2c_payment(
        originator_conversation_id="payout-9",
        phone=PHONE,
        amount=100,
        remarks="Payout",
        result_url=hooks.url(RESULT),
        queue_timeout_url=hooks.url("/hooks/s3cret/b2c/timeout/"),
    )
    hooks.wait_count(RESULT, 1)
    status, _ = control(sim, "/simulator/v1/callbacks/replay", {"OriginatorConversationID": "payout-9", "times": 1})
    assert status == 200
    first, second = hooks.wait_count(RESULT, 2)
    assert first == second
    assert parse_async_result(second).receipt == parse_async_result(first).receipt


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"CheckoutRequestID": "ws_CO_unknown"}, 404),
        ({}, 400),
        ({"CheckoutRequestID": "x", "times": 0}, 400),
        ({"CheckoutRequestID": "x", "delay": -1}, 400),
    ],
)
def test_replay_refuses_bad_requests(sim, body, status):
    code, reply = control(sim, "/simulator/v1/callbacks/replay", body)
    assert code == status
    assert reply["errorMessage"]


# ------------------------------------------------------------------------------------------ hold / release


def test_held_push_stays_pending_until_released_without_a_callback(sim, hooks):
    client = client_for(sim)
    status, reply = control(sim, "/simulator/v1/stk/hold", {"phone": "0708374149"})
    assert (status, reply["phone"]) == (200, PHONE)
    result = push(client, hooks)
    time.sleep(0.15)  # several callback delays
    assert hooks.bodies(STK) == []
    assert client.stk_query(result.checkout_request_id).pending is True

    body = {"CheckoutRequestID": result.checkout_request_id, "send_callback": False}
    assert control(sim, "/simulator/v1/stk/release", body)[0] == 200
    final = client.stk_query(result.checkout_request_id)  # the lost-callback sweep finds the outcome
    assert (final.pending, final.result_code) == (False, "0")
    time.sleep(0.1)
    assert hooks.bodies(STK) == []  # the callback was lost for good


def test_release_with_callback_and_unhold(sim, hooks):
    client = client_for(sim)
    sim.hold_phone(PHONE)
    held = push(client, hooks, amount=11)
    status, _ = control(sim, "/simulator/v1/stk/release", {"CheckoutRequestID": held.checkout_request_id})
    assert status == 200
    callback = hooks.wait_for(lambda p, b: b["Body"]["stkCallback"]["CheckoutRequestID"] == held.checkout_request_id)
    assert callback["Body"]["stkCallback"]["ResultCode"] == 0
    assert control(sim, "/simulator/v1/stk/unhold", {"phone": PHONE})[0] == 200
    normal = push(client, hooks, amount=12)
    hooks.wait_for(lambda p, b: b["Body"]["stkCallback"]["CheckoutRequestID"] == normal.checkout_request_id)


def test_release_in_python_returns_the_callback_synchronously(sim, hooks):
    client = client_for(sim)
    sim.hold_phone("+254 708 371 032")  # the "cancelled by user" phone
    result = push(client, hooks, phone="254708371032")
    body = sim.release(result.checkout_request_id, send_callback=True)
    assert parse_stk_callback(body).result_code == "1032"
    assert len(stk_bodies(hooks, result.checkout_request_id)) == 1
    assert client.stk_query(result.checkout_request_id).result_code == "1032"
    with pytest.raises(KeyError):
        sim.release("ws_CO_unknown")


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/simulator/v1/stk/hold", {"phone": "12345"}, 400),
        ("/simulator/v1/stk/release", {"CheckoutRequestID": "ws_CO_unknown"}, 404),
        ("/simulator/v1/stk/release", {"CheckoutRequestID": "x", "send_callback": "yes"}, 400),
    ],
)
def test_hold_and_release_refuse_bad_requests(sim, path, body, status):
    assert control(sim, path, body)[0] == status


def test_control_api_can_be_switched_off():
    with DarajaSimulator(control_api=False) as simulator:
        status, reply = control(simulator, "/simulator/v1/stk/hold", {"phone": PHONE})
        assert (status, reply["errorCode"]) == (404, "404.001.01")
        assert control(simulator, "/simulator/v1/state")[0] == 404


def test_state_endpoint(sim, hooks):
    sim.hold_phone(PHONE)
    status, state = control(sim, "/simulator/v1/state")
    assert status == 200
    assert state["held_phones"] == [PHONE]
    assert state["utility_balance"] == f"{sim.utility_balance:.2f}"


# ------------------------------------------------------------------------------------------ code 17


def test_a_repeat_push_within_the_window_is_rule_limited(sim, hooks):
    client = client_for(sim)
    first, repeat, other_amount = push(client, hooks), push(client, hooks), push(client, hooks, amount=11)
    assert repeat.response_code == "0"  # accepted synchronously...
    codes = {}
    for result in (first, repeat, other_amount):
        body = hooks.wait_for(
            lambda p, b, cid=result.checkout_request_id: b["Body"]["stkCallback"]["CheckoutRequestID"] == cid
        )
        codes[result.checkout_request_id] = parse_stk_callback(body)
    assert codes[first.checkout_request_id].result_code == "0"
    assert codes[repeat.checkout_request_id].result_code == "17"  # ...but the callback says "Rule limited."
    assert codes[repeat.checkout_request_id].result_desc == "Rule limited."
    assert codes[other_amount.checkout_request_id].result_code == "0"


def test_the_duplicate_window_can_be_disabled(hooks):
    with DarajaSimulator(callback_delay=0.02, duplicate_window=0) as simulator:
        client = client_for(simulator)
        push(client, hooks)
        push(client, hooks)
        bodies = hooks.wait_count(STK, 2)
        assert [parse_stk_callback(b).result_code for b in bodies] == ["0", "0"]


# ------------------------------------------------------------------------------------------ key pair


def test_generate_simulator_credentials_is_idempotent(tmp_path):
    cert, key = generate_simulator_credentials(tmp_path / "creds")
    assert (Path(cert).name, Path(key).name) == ("cert.pem", "key.pem")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    contents = (Path(cert).read_bytes(), Path(key).read_bytes())
    assert generate_simulator_credentials(tmp_path / "creds") == (cert, key)
    assert (Path(cert).read_bytes(), Path(key).read_bytes()) == contents
    Path(cert).write_text("corrupt")
    generate_simulator_credentials(tmp_path / "creds")
    assert Path(key).read_bytes() != contents[1]  # a broken pair is replaced as a whole
    assert load_private_key(key)


def test_a_simulator_on_persistent_credentials(tmp_path, hooks):
    cert, key = generate_simulator_credentials(tmp_path)
    with DarajaSimulator(callback_delay=0.02, private_key_path=key, certificate_path=cert) as simulator:
        assert simulator.certificate_path == cert
        client = client_for(simulator)
        assert decrypt_security_credential(client.security_credential(), load_private_key(key))
        client.b2c_payment(
            originator_conversation_id="p-1",
            phone=PHONE,
            amount=100,
            remarks="Payout",
            result_url=hooks.url(RESULT),
            queue_timeout_url=hooks.url("/t/"),
        )
        assert parse_async_result(hooks.wait_count(RESULT, 1)[0]).result_code == "0"
        # a client still holding another simulator's certificate is refused the Daraja way
        stranger = client_for(simulator, certificate_path=default_key_pair()[1])
        stranger.b2c_payment(
            originator_conversation_id="p-2",
            phone=PHONE,
            amount=100,
            remarks="Payout",
            result_url=hooks.url(RESULT),
            queue_timeout_url=hooks.url("/t/"),
        )
        assert parse_async_result(hooks.wait_count(RESULT, 2)[1]).result_code == "2001"


def test_a_key_without_a_certificate_gets_a_matching_certificate(tmp_path):
    _, key = generate_simulator_credentials(tmp_path)
    server = SimulatorServer(("127.0.0.1", 0), private_key_path=key)
    try:
        assert server.certificate_path != str(tmp_path / "cert.pem")
        client = DarajaClient(
            "http://127.0.0.1:9",
            "key",
            "secret",
            "174379",
            "passkey",
            initiator_password=server.initiator_password,
            certificate_path=server.certificate_path,
        )
        credential = client.security_credential()
        assert decrypt_security_credential(credential, load_private_key(key)) == server.initiator_password
    finally:
        server.server_close()
    with pytest.raises(ValueError):
        SimulatorServer(("127.0.0.1", 0), certificate_path=str(tmp_path / "cert.pem")).server_close()


# ------------------------------------------------------------------------------------------ starting it


def test_management_command_defaults_come_from_settings():
    from mpesa_integration.management.commands.daraja_simulator import defaults_from_settings

    source = SimpleNamespace(
        MPESA_BASE_URL="http://127.0.0.1:8123",
        MPESA_CONSUMER_KEY="ck",
        MPESA_INITIATOR_PASSWORD="Chama#2026",
        MPESA_B2C_SHORTCODE=600111,
        MPESA_C2B_SHORTCODE="",  # empty falls back to the simulator default
        BASE_DIR=Path("/srv/chamahub"),
    )
    defaults = defaults_from_settings(source)
    assert defaults["port"] == 8123
    assert (defaults["consumer_key"], defaults["initiator_password"]) == ("ck", "Chama#2026")
    assert (defaults["b2c_shortcode"], defaults["c2b_shortcode"]) == ("600111", "600998")
    assert defaults["consumer_secret"] == "simulator-consumer-secret"  # missing setting -> default
    assert defaults["credentials_dir"] == "/srv/chamahub/var/daraja-simulator"
    remote = defaults_from_settings(SimpleNamespace(MPESA_BASE_URL="https://sandbox.safaricom.co.ke"))
    assert (remote["port"], remote["credentials_dir"]) == (8089, "var/daraja-simulator")


def test_management_command_serves_with_the_settings_credentials(settings, tmp_path, hooks):
    from django.core.management import call_command

    from mpesa_integration.management.commands.daraja_simulator import Command

    settings.MPESA_INITIATOR_NAME = "chama-api"
    settings.MPESA_INITIATOR_PASSWORD = "Chama#2026"
    settings.MPESA_B2C_SHORTCODE = "600111"
    command, out = Command(), io.StringIO()
    args = ("--port", "0", "--callback-delay", "0.02", "--credentials-dir", str(tmp_path))
    thread = threading.Thread(target=call_command, args=(command, *args), kwargs={"stdout": out}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: command.server is not None and "certificate" in out.getvalue())
        server = command.server
        assert f"Initiator certificate: {tmp_path / 'cert.pem'}" in out.getvalue()
        assert (server.initiator_name, server.initiator_password, server.b2c_shortcode) == (
            "chama-api",
            "Chama#2026",
            "600111",
        )
        base = f"http://127.0.0.1:{server.server_address[1]}"
        simulator = SimpleNamespace(base_url=base, certificate_path=str(tmp_path / "cert.pem"), **{
            name: getattr(server, name)
            for name in ("consumer_key", "consumer_secret", "shortcode", "passkey", "initiator_name",
                         "initiator_password", "b2c_shortcode", "c2b_shortcode")
        })  # fmt: skip
        client_for(simulator).b2c_payment(
            originator_conversation_id="cmd-1",
            phone=PHONE,
            amount=100,
            remarks="Payout",
            result_url=hooks.url(RESULT),
            queue_timeout_url=hooks.url("/t/"),
        )
        assert parse_async_result(hooks.wait_count(RESULT, 1)[0]).result_code == "0"
    finally:
        if command.server is not None:
            command.server.shutdown()
        thread.join(timeout=5)
    assert not thread.is_alive()


def test_python_m_main_writes_and_prints_the_credentials(tmp_path, hooks):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mpesa_integration.daraja.simulator",
            "--port",
            str(port),
            "--callback-delay",
            "0.02",
            "--credentials-dir",
            str(tmp_path),
            "--initiator-password",
            "Other#Pass9",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        banner = process.stdout.readline() + process.stdout.readline()
        assert f"http://127.0.0.1:{port}" in banner
        assert f"Initiator certificate: {tmp_path / 'cert.pem'}" in banner
        assert (tmp_path / "key.pem").exists()
        simulator = SimpleNamespace(
            base_url=f"http://127.0.0.1:{port}",
            consumer_key="simulator-consumer-key",
            consumer_secret="simulator-consumer-secret",
            shortcode="174379",
            passkey="bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919",
            initiator_name="testapi",
            initiator_password="Other#Pass9",
            certificate_path=str(tmp_path / "cert.pem"),
            b2c_shortcode="600999",
            c2b_shortcode="600998",
        )
        accepted = client_for(simulator).account_balance(
            result_url=hooks.url(RESULT), queue_timeout_url=hooks.url("/t/")
        )
        assert parse_async_result(hooks.wait_count(RESULT, 1)[0]).result_code == "0"
        assert accepted.response_code == "0"
    finally:
        process.terminate()
        process.wait(timeout=5)
        process.stdout.close()


def test_the_daraja_package_does_not_import_django():
    code = (
        "import sys, mpesa_integration.daraja, mpesa_integration.daraja.simulator, mpesa_integration.daraja.testing;"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    completed = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)
    assert completed.returncode == 0, completed.stdout + completed.stderr
