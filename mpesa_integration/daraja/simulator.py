"""A Daraja-compatible simulator on the standard library's ThreadingHTTPServer (OAuth, STK Push, STK Query).

It speaks the sandbox's paths, field rules and error bodies (shared/reference/daraja.md §1.2-1.4): Basic auth
on OAuth, bearer tokens on POSTs (a new token invalidates the previous one, as the FAQ says), Password and Timestamp
checked, decimals and over-long references refused with ``{"requestId", "errorCode", "errorMessage"}``. After
``callback_delay`` seconds it POSTs the STK callback to the CallBackURL from a background thread. The outcome is
chosen by the last four digits of the phone number:

    ...1032 -> 1032 cancelled by user     ...1037 -> 1037 DS timeout, user unreachable
    ...2001 -> 2001 wrong PIN             ...0001 -> 1 insufficient balance
    anything else -> 0 success, with a receipt number and CallbackMetadata

In-process (tests)::

    with DarajaSimulator() as sim:
        client = DarajaClient(sim.base_url, sim.consumer_key, sim.consumer_secret, sim.shortcode, sim.passkey)

Standalone: ``python -m mpesa_integration.daraja.simulator --port 8089``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import logging
import random
import re
import secrets
import string
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from mpesa_integration.daraja import errors

logger = logging.getLogger(__name__)

NAIROBI = ZoneInfo("Africa/Nairobi")

# Public sandbox test values from the Daraja portal (daraja.md §1.1); not secrets.
SANDBOX_SHORTCODE = "174379"
SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
DEFAULT_CONSUMER_KEY = "simulator-consumer-key"
DEFAULT_CONSUMER_SECRET = "simulator-consumer-secret"

ACCEPTED = "Success. Request accepted for processing"
BEING_PROCESSED = "The transaction is being processed"

#: last 4 digits of the phone -> (ResultCode, ResultDesc). Anything else succeeds.
OUTCOMES: dict[str, tuple[int, str]] = {
    "1032": (1032, "Request cancelled by user"),
    "1037": (1037, "DS timeout user cannot be reached"),
    "2001": (2001, "The initiator information is invalid."),
    "0001": (1, "The balance is insufficient for the transaction."),
}
SUCCESS = (0, "The service request is processed successfully.")
ABOVE_MAXIMUM = (3, "Declined due to limit rule: greater than the maximum transaction amount.")

MSISDN_RE = re.compile(r"^254[17]\d{8}$")
SHORTCODE_RE = re.compile(r"^\d{5,7}$")


class DarajaHTTPError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def bad_request(what: str) -> DarajaHTTPError:
    return DarajaHTTPError(400, errors.BAD_REQUEST, f"Bad Request - Invalid {what}")


@dataclass
class StkTransaction:
    merchant_request_id: str
    checkout_request_id: str
    amount: int
    phone: str
    callback_url: str
    result_code: int
    result_desc: str
    receipt: str = ""
    completed: bool = False  # set when the callback is sent: STK Query answers "being processed" until then
    callback_body: dict = field(default_factory=dict)


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        consumer_key: str = DEFAULT_CONSUMER_KEY,
        consumer_secret: str = DEFAULT_CONSUMER_SECRET,
        shortcode: str = SANDBOX_SHORTCODE,
        passkey: str = SANDBOX_PASSKEY,
        callback_delay: float = 0.5,
        token_expires_in: int | str = "3599",
        timestamp_tolerance: float = 600,
        stk_push_stall: float = 0,
    ) -> None:
        super().__init__(address, SimulatorHandler)
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.shortcode = shortcode
        self.passkey = passkey
        self.callback_delay = callback_delay
        self.token_expires_in = token_expires_in
        self.timestamp_tolerance = timestamp_tolerance
        self.stk_push_stall = stk_push_stall  # seconds the STK push handler sleeps before answering (timeout tests)
        self.lock = threading.Lock()
        self.current_token: str | None = None
        self.reject_all_tokens = False
        self.transactions: dict[str, StkTransaction] = {}
        self.request_log: list[tuple[str, str]] = []  # (method, path) of every request received
        self.callbacks_sent: list[dict] = []
        self.timers: list[threading.Timer] = []
        self._receipts: set[str] = set()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout tests) is normal here: log it instead of printing a traceback."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError):
            logger.debug("client %s went away: %s", client_address, exc)
            return
        logger.exception("simulator error while serving %s", client_address)

    # ---- state helpers (used by the handler and by tests)

    def count(self, method: str, path_prefix: str) -> int:
        with self.lock:
            return sum(1 for m, p in self.request_log if m == method and p.startswith(path_prefix))

    def issue_token(self) -> str:
        with self.lock:
            self.current_token = secrets.token_urlsafe(21)
            return self.current_token

    def token_valid(self, token: str) -> bool:
        with self.lock:
            return not self.reject_all_tokens and self.current_token is not None and token == self.current_token

    def expire_tokens(self) -> None:
        with self.lock:
            self.current_token = None

    def new_ids(self) -> tuple[str, str]:
        now = datetime.now(tz=NAIROBI)
        with self.lock:
            while True:
                merchant = f"{random.randint(10000, 99999)}-{random.randint(10_000_000, 99_999_999)}-1"
                checkout = f"ws_CO_{now:%d%m%Y%H%M%S}{now.microsecond // 1000:03d}{random.randint(0, 10**9 - 1):09d}"
                if checkout not in self.transactions:
                    return merchant, checkout

    def new_receipt(self) -> str:
        alphabet = string.ascii_uppercase + string.digits
        now = datetime.now(tz=NAIROBI)
        prefix = "SL" if now.year >= 2024 else "RK"
        with self.lock:
            while True:
                receipt = prefix + "".join(secrets.choice(alphabet) for _ in range(8))
                if receipt not in self._receipts:
                    self._receipts.add(receipt)
                    return receipt

    def schedule_callback(self, txn: StkTransaction) -> None:
        timer = threading.Timer(self.callback_delay, self.deliver_callback, args=(txn.checkout_request_id,))
        timer.daemon = True
        with self.lock:
            self.timers.append(timer)
        timer.start()

    def callback_body(self, txn: StkTransaction) -> dict:
        callback: dict[str, Any] = {
            "MerchantRequestID": txn.merchant_request_id,
            "CheckoutRequestID": txn.checkout_request_id,
            "ResultCode": txn.result_code,  # a number in the callback (a string in STK Query)
            "ResultDesc": txn.result_desc,
        }
        if txn.result_code == 0:
            callback["CallbackMetadata"] = {
                "Item": [
                    {"Name": "Amount", "Value": float(txn.amount)},
                    {"Name": "MpesaReceiptNumber", "Value": txn.receipt},
                    {"Name": "Balance"},
                    {"Name": "TransactionDate", "Value": int(datetime.now(tz=NAIROBI).strftime("%Y%m%d%H%M%S"))},
                    {"Name": "PhoneNumber", "Value": int(txn.phone)},
                ]
            }
        return {"Body": {"stkCallback": callback}}

    def deliver_callback(self, checkout_request_id: str) -> dict:
        """Complete the transaction and POST its callback (again, if called twice: a duplicate callback)."""
        with self.lock:
            txn = self.transactions[checkout_request_id]
            txn.completed = True
        if txn.result_code == 0 and not txn.receipt:
            txn.receipt = self.new_receipt()
        body = txn.callback_body = self.callback_body(txn)
        request = urllib.request.Request(
            txn.callback_url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError as exc:
            logger.warning("STK callback to %s failed: %s", txn.callback_url, exc)
            status = None
        with self.lock:
            self.callbacks_sent.append({"url": txn.callback_url, "status": status, "body": body})
        return body

    def cancel_timers(self) -> None:
        with self.lock:
            timers, self.timers = self.timers, []
        for timer in timers:
            timer.cancel()


class SimulatorHandler(BaseHTTPRequestHandler):
    server: SimulatorServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)

    # ---- plumbing

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, exc: DarajaHTTPError) -> None:
        request_id = f"{random.randint(1000, 99999)}-{random.randint(1_000_000, 99_999_999)}-1"
        self._send(exc.status, {"requestId": request_id, "errorCode": exc.code, "errorMessage": exc.message})

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path
        with self.server.lock:
            self.server.request_log.append((method, path))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        routes = {
            "/oauth/v1/generate": ("GET", self._oauth),
            "/mpesa/stkpush/v1/processrequest": ("POST", self._stk_push),
            "/mpesa/stkpushquery/v1/query": ("POST", self._stk_query),
        }
        try:
            if path not in routes:
                raise DarajaHTTPError(404, errors.RESOURCE_NOT_FOUND, "Resource not found")
            allowed, handler = routes[path]
            if method != allowed:
                raise DarajaHTTPError(405, errors.METHOD_NOT_ALLOWED, "Method Not Allowed")
            status, body = handler(raw)
        except DarajaHTTPError as exc:
            self._send_error(exc)
            return
        except Exception:  # a simulator bug must still answer like a gateway would
            logger.exception("simulator error")
            self._send_error(DarajaHTTPError(500, errors.INTERNAL_ERROR, "Internal Server Error"))
            return
        self._send(status, body)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # ---- auth

    def _oauth(self, raw: bytes) -> tuple[int, dict]:
        query = parse_qs(urlsplit(self.path).query)
        if query.get("grant_type") != ["client_credentials"]:
            raise DarajaHTTPError(400, errors.OAUTH_INVALID_GRANT_TYPE, "Invalid grant type passed")
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            raise DarajaHTTPError(400, errors.OAUTH_INVALID_AUTH_TYPE, "Invalid Authentication passed")
        try:
            key, _, secret = base64.b64decode(auth[6:].strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise DarajaHTTPError(400, errors.OAUTH_INVALID_AUTH_TYPE, "Invalid Authentication passed") from None
        if not (
            secrets.compare_digest(key, self.server.consumer_key)
            and secrets.compare_digest(secret, self.server.consumer_secret)
        ):
            raise DarajaHTTPError(400, errors.OAUTH_INVALID_AUTH_TYPE, "Invalid Authentication passed")
        return 200, {"access_token": self.server.issue_token(), "expires_in": self.server.token_expires_in}

    def _json_body(self, raw: bytes) -> dict:
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not self.server.token_valid(auth[7:].strip()):
            raise DarajaHTTPError(404, errors.INVALID_ACCESS_TOKEN, "Invalid Access Token")
        if (self.headers.get("Content-Type") or "").split(";")[0].strip().lower() != "application/json":
            raise bad_request("BusinessShortCode")  # Daraja's famous answer to a missing content type
        try:
            body = json.loads(raw)
        except ValueError:
            raise bad_request("JSON") from None
        if not isinstance(body, dict):
            raise bad_request("JSON")
        return body

    def _check_credentials(self, body: dict) -> None:
        shortcode = str(body.get("BusinessShortCode", ""))
        if not SHORTCODE_RE.match(shortcode):
            raise bad_request("BusinessShortCode")
        if shortcode != self.server.shortcode:
            raise DarajaHTTPError(500, errors.MERCHANT_ERROR, "Merchant does not exist")
        timestamp = body.get("Timestamp")
        try:
            when = datetime.strptime(str(timestamp), "%Y%m%d%H%M%S").replace(tzinfo=NAIROBI)
        except ValueError:
            raise bad_request("Timestamp") from None
        if not isinstance(timestamp, str) or len(timestamp) != 14:
            raise bad_request("Timestamp")
        skew = abs(datetime.now(tz=NAIROBI) - when)
        if skew > timedelta(seconds=self.server.timestamp_tolerance):
            raise bad_request("Timestamp")
        expected = base64.b64encode(f"{shortcode}{self.server.passkey}{timestamp}".encode()).decode()
        if not secrets.compare_digest(str(body.get("Password", "")), expected):
            raise DarajaHTTPError(500, errors.MERCHANT_ERROR, "Wrong credentials")

    # ---- STK

    def _stk_push(self, raw: bytes) -> tuple[int, dict]:
        body = self._json_body(raw)
        self._check_credentials(body)
        if body.get("TransactionType") not in ("CustomerPayBillOnline", "CustomerBuyGoodsOnline"):
            raise bad_request("TransactionType")
        amount = body.get("Amount")
        if isinstance(amount, str) and re.fullmatch(r"\d+", amount):
            amount = int(amount)
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
            raise bad_request("Amount")
        for name in ("PartyA", "PhoneNumber"):
            if not MSISDN_RE.match(str(body.get(name, ""))):
                raise bad_request(name)
        if not SHORTCODE_RE.match(str(body.get("PartyB", ""))):
            raise bad_request("PartyB")
        callback_url = body.get("CallBackURL")
        if not isinstance(callback_url, str) or not re.match(r"^https?://[^\s/]+", callback_url):
            raise bad_request("CallBackURL")
        reference = body.get("AccountReference")
        if not isinstance(reference, str) or not reference or len(reference) > 12:
            raise bad_request("AccountReference")
        desc = body.get("TransactionDesc", "")
        if not isinstance(desc, str) or len(desc) > 13:
            raise bad_request("TransactionDesc")
        if self.server.stk_push_stall:
            threading.Event().wait(self.server.stk_push_stall)

        phone = str(body["PhoneNumber"])
        result_code, result_desc = OUTCOMES.get(phone[-4:], SUCCESS)
        if result_code == 0 and amount > 250_000:
            result_code, result_desc = ABOVE_MAXIMUM
        merchant_id, checkout_id = self.server.new_ids()
        txn = StkTransaction(merchant_id, checkout_id, amount, phone, callback_url, result_code, result_desc)
        with self.server.lock:
            self.server.transactions[checkout_id] = txn
        self.server.schedule_callback(txn)
        return 200, {
            "MerchantRequestID": merchant_id,
            "CheckoutRequestID": checkout_id,
            "ResponseCode": "0",
            "ResponseDescription": ACCEPTED,
            "CustomerMessage": ACCEPTED,
        }

    def _stk_query(self, raw: bytes) -> tuple[int, dict]:
        body = self._json_body(raw)
        self._check_credentials(body)
        with self.server.lock:
            txn = self.server.transactions.get(str(body.get("CheckoutRequestID", "")))
            completed = txn is not None and txn.completed
        if txn is None:
            raise bad_request("CheckoutRequestID")
        if not completed:
            raise DarajaHTTPError(500, errors.MERCHANT_ERROR, BEING_PROCESSED)
        return 200, {
            "ResponseCode": "0",
            "ResponseDescription": "The service request has been accepted successsfully",
            "MerchantRequestID": txn.merchant_request_id,
            "CheckoutRequestID": txn.checkout_request_id,
            "ResultCode": str(txn.result_code),  # a string here, a number in the callback
            "ResultDesc": txn.result_desc,
        }


class DarajaSimulator:
    """Run the simulator in a background thread on a loopback port (``port=0`` picks a free one)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
        self.server = SimulatorServer((host, port), **options)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __getattr__(self, name: str) -> Any:  # consumer_key, shortcode, passkey, expire_tokens(), count(), ...
        if name == "server":
            raise AttributeError(name)
        return getattr(self.server, name)

    def start(self) -> DarajaSimulator:
        self._thread = threading.Thread(
            target=self.server.serve_forever, args=(0.05,), name="daraja-simulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.cancel_timers()
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> DarajaSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Daraja-compatible M-Pesa simulator (OAuth, STK Push, STK Query).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--consumer-key", default=DEFAULT_CONSUMER_KEY)
    parser.add_argument("--consumer-secret", default=DEFAULT_CONSUMER_SECRET)
    parser.add_argument("--shortcode", default=SANDBOX_SHORTCODE)
    parser.add_argument("--passkey", default=SANDBOX_PASSKEY)
    parser.add_argument("--callback-delay", type=float, default=0.5, help="seconds before the STK callback")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = SimulatorServer(
        (args.host, args.port),
        consumer_key=args.consumer_key,
        consumer_secret=args.consumer_secret,
        shortcode=args.shortcode,
        passkey=args.passkey,
        callback_delay=args.callback_delay,
    )
    host, port = server.server_address[:2]
    sys.stdout.write(f"Daraja simulator listening on http://{host}:{port} (shortcode {args.shortcode})\n")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.cancel_timers()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
