"""SimulatorServer: the simulator's state (tokens, transactions, jobs, ledger, balances), ids and receipts,
callback/Result delivery on timers, and the control methods tests and the control API use (stall, hold, release,
replay, state). DarajaSimulator runs one in a background thread. Outcomes are decided in outcomes.py, requests
parsed in handler.py."""

from __future__ import annotations

import http.client
import json
import logging
import random
import secrets
import string
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from mpesa_integration.daraja import credentials
from mpesa_integration.daraja.simulator.constants import (
    CUSTOMER_FIRST_NAME,
    CUSTOMER_LAST_NAME,
    DEFAULT_B2C_SHORTCODE,
    DEFAULT_C2B_SHORTCODE,
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    DEFAULT_INITIATOR_NAME,
    DEFAULT_INITIATOR_PASSWORD,
    DEFAULT_UTILITY_BALANCE,
    DEFAULT_WORKING_BALANCE,
    NAIROBI,
    ORGANISATION_NAME,
    SANDBOX_PASSKEY,
    SANDBOX_SHORTCODE,
    STK_PUSH_PATH,
)
from mpesa_integration.daraja.simulator.handler import SimulatorHandler
from mpesa_integration.daraja.simulator.keys import default_key_pair, write_temp_certificate
from mpesa_integration.daraja.simulator.outcomes import OutcomesMixin
from mpesa_integration.daraja.simulator.state import AsyncJob, C2BJob, LedgerEntry, StkTransaction
from mpesa_integration.daraja.simulator.values import normalize_phone

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

logger = logging.getLogger(__name__)


def post_json(url: str, body: dict, timeout: float) -> tuple[int | None, Any]:
    """POST ``body``; ``(status, parsed JSON reply or None)``, status None when the URL could not be reached."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, (exc.read() if exc.fp is not None else b"")
    except (OSError, http.client.HTTPException, ValueError) as exc:  # unreachable, cut off, or a bad URL
        logger.warning("POST to %s failed: %s", url, exc)
        return None, None
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


class SimulatorServer(OutcomesMixin, ThreadingHTTPServer):
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
        initiator_name: str = DEFAULT_INITIATOR_NAME,
        initiator_password: str = DEFAULT_INITIATOR_PASSWORD,
        b2c_shortcode: str = DEFAULT_B2C_SHORTCODE,
        c2b_shortcode: str = DEFAULT_C2B_SHORTCODE,
        private_key_path: str | None = None,
        certificate_path: str | None = None,
        c2b_external_validation: bool = False,
        c2b_validation_timeout: float = 8,
        control_api: bool = True,
        duplicate_window: float = 120,
        utility_balance: Decimal = DEFAULT_UTILITY_BALANCE,
    ) -> None:
        if certificate_path and not private_key_path:
            raise ValueError("certificate_path needs the matching private_key_path")
        super().__init__(address, SimulatorHandler)
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.shortcode = shortcode
        self.passkey = passkey
        self.callback_delay = callback_delay
        self.token_expires_in = token_expires_in
        self.timestamp_tolerance = timestamp_tolerance
        self.initiator_name = initiator_name
        self.initiator_password = initiator_password
        self.b2c_shortcode = b2c_shortcode
        self.c2b_shortcode = c2b_shortcode
        self.c2b_external_validation = c2b_external_validation
        self.c2b_validation_timeout = c2b_validation_timeout
        self.control_api = control_api
        self.duplicate_window = duplicate_window
        self.utility_balance = Decimal(utility_balance)
        self.working_balance = DEFAULT_WORKING_BALANCE
        self._private_key_path = private_key_path
        self._certificate_path = certificate_path
        self._private_key: RSAPrivateKey | None = None
        self._key_lock = threading.Lock()

        self.lock = threading.Lock()
        self.sent_changed = threading.Condition(self.lock)  # notified whenever callbacks_sent grows
        self._complete_lock = threading.Lock()  # serialises STK completion (receipt, ledger, balance happen once)
        self._stopping = threading.Event()
        self.current_token: str | None = None
        self.reject_all_tokens = False
        self.transactions: dict[str, StkTransaction] = {}
        self.async_jobs: dict[str, AsyncJob] = {}
        self.b2c_originators: set[str] = set()
        self.ledger: dict[str, LedgerEntry] = {}
        self.ledger_by_originator: dict[str, str] = {}
        self.c2b_urls: dict[str, dict[str, str]] = {}
        self.c2b_jobs: dict[str, C2BJob] = {}
        self.held_phones: set[str] = set()
        self.recent_pushes: dict[tuple[str, int], float] = {}
        self.request_log: list[tuple[str, str]] = []  # (method, path) of every request received
        self.callbacks_sent: list[dict] = []  # {"kind", "url", "status", "body"} of every POST we made
        self.timers: list[threading.Timer] = []
        self.stalls: dict[str, list] = {}  # path -> [seconds, remaining times or None]
        if stk_push_stall:
            self.stall(STK_PUSH_PATH, stk_push_stall)
        self._receipts: set[str] = set()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout tests) is normal here: log it instead of printing a traceback."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError):
            logger.debug("client %s went away: %s", client_address, exc)
            return
        logger.exception("simulator error while serving %s", client_address)

    # ---- keys

    @property
    def certificate_path(self) -> str:
        """The PEM certificate whose public key clients must encrypt the initiator password with."""
        self.private_key()
        assert self._certificate_path is not None
        return self._certificate_path

    def private_key(self) -> RSAPrivateKey:
        with self._key_lock:
            if self._private_key is None:
                if self._private_key_path:
                    self._private_key = credentials.load_private_key(self._private_key_path)
                    if not self._certificate_path:
                        self._certificate_path = self._self_signed_certificate(self._private_key)
                else:
                    self._private_key, self._certificate_path = default_key_pair()
            return self._private_key

    @staticmethod
    def _self_signed_certificate(key: RSAPrivateKey) -> str:
        """Write a certificate for a key given without one to a temp directory; return its path."""
        return write_temp_certificate(credentials.self_signed_certificate(key))

    def initiator_valid(self, name: Any, credential: Any) -> bool:
        """Daraja's initiator check: the name matches and the credential decrypts to the initiator password."""
        if not isinstance(name, str) or not isinstance(credential, str) or name != self.initiator_name:
            return False
        try:
            password = credentials.decrypt_security_credential(credential, self.private_key())
        except ValueError:
            return False
        return secrets.compare_digest(password.encode(), self.initiator_password.encode())

    # ---- state helpers (used by the handler and by tests)

    def count(self, method: str, path_prefix: str) -> int:
        with self.lock:
            return sum(1 for m, p in self.request_log if m == method and p.startswith(path_prefix))

    def sent(self, kind: str | None = None) -> list[dict]:
        """Copies of the callbacks/results POSTed so far, optionally of one kind (stk, b2c_result, ...)."""
        with self.lock:
            return [dict(item) for item in self.callbacks_sent if kind is None or item["kind"] == kind]

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

    def stall(self, path: str, seconds: float, times: int | None = None) -> None:
        """Answer requests to ``path`` ``seconds`` late (after processing them: the outcome exists, the caller
        just does not hear about it in time). ``times`` limits it to the next N requests; None means always."""
        with self.lock:
            self.stalls[path] = [seconds, times]

    def take_stall(self, path: str) -> float:
        with self.lock:
            entry = self.stalls.get(path)
            if not entry:
                return 0
            seconds, remaining = entry
            if remaining is not None:
                if remaining <= 0:
                    return 0
                entry[1] = remaining - 1
            return seconds

    def sleep(self, seconds: float) -> None:
        """Wait, but wake up at once when the server stops."""
        self._stopping.wait(seconds)

    def new_ids(self) -> tuple[str, str]:
        now = datetime.now(tz=NAIROBI)
        with self.lock:
            while True:
                merchant = f"{random.randint(10000, 99999)}-{random.randint(10_000_000, 99_999_999)}-1"
                checkout = f"ws_CO_{now:%d%m%Y%H%M%S}{now.microsecond // 1000:03d}{random.randint(0, 10**9 - 1):09d}"
                if checkout not in self.transactions:
                    return merchant, checkout

    def new_originator_id(self) -> str:
        with self.lock:
            while True:
                value = f"{random.randint(1000, 99999)}-{random.randint(1_000_000, 99_999_999)}-1"
                if value not in self.async_jobs and value not in self.c2b_jobs:
                    return value

    @staticmethod
    def new_conversation_id() -> str:
        return f"AG_{datetime.now(tz=NAIROBI):%Y%m%d}_{secrets.token_hex(10)}"

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

    def schedule(self, delay: float, function: Callable[..., Any], *args: Any) -> None:
        timer = threading.Timer(delay, function, args=args)
        timer.daemon = True
        with self.lock:
            self.timers = [t for t in self.timers if t.is_alive()]
            self.timers.append(timer)
        timer.start()

    def post(self, kind: str, url: str, body: dict, timeout: float = 5) -> tuple[int | None, Any]:
        """POST a callback/Result, then log it in ``callbacks_sent``: an entry there means the receiver has
        answered (``status``) or could not be reached (``status`` None), so its processing is over."""
        status, reply = post_json(url, body, timeout=timeout)
        with self.sent_changed:
            self.callbacks_sent.append({"kind": kind, "url": url, "status": status, "body": body})
            self.sent_changed.notify_all()
        return status, reply

    def wait_sent(self, count: int, kind: str | None = None, timeout: float = 5) -> list[dict]:
        """Wait until ``count`` callbacks (of ``kind``, if given) were delivered and answered; return them.
        AssertionError after ``timeout``."""

        def matching() -> list[dict]:
            return [dict(item) for item in self.callbacks_sent if kind is None or item["kind"] == kind]

        with self.sent_changed:
            self.sent_changed.wait_for(lambda: len(matching()) >= count, timeout=timeout)
            delivered = matching()
        assert len(delivered) >= count, f"{len(delivered)} of {count} callbacks delivered"
        return delivered

    # ---- STK

    def schedule_callback(self, txn: StkTransaction) -> None:
        self.schedule(self.callback_delay, self.deliver_callback, txn.checkout_request_id)

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

    def complete_stk(self, checkout_request_id: str) -> dict:
        """Complete an STK transaction once (receipt, ledger, balance) and return its callback body; later calls
        return the same body (a duplicate callback is byte-for-byte the first one)."""
        with self._complete_lock:
            with self.lock:
                txn = self.transactions[checkout_request_id]
            if txn.completed and txn.callback_body:
                return txn.callback_body
            if txn.result_code == 0 and not txn.receipt:
                txn.receipt = self.new_receipt()
            body = self.callback_body(txn)
            now = datetime.now(tz=NAIROBI)
            with self.lock:
                txn.callback_body = body
                txn.completed = True
                if txn.result_code == 0:
                    self.utility_balance += txn.amount
                    self.ledger[txn.receipt] = LedgerEntry(
                        receipt=txn.receipt,
                        kind="stk",
                        amount=txn.amount,
                        msisdn=txn.phone,
                        debit_party=f"{txn.phone} - {CUSTOMER_FIRST_NAME} {CUSTOMER_LAST_NAME}",
                        credit_party=f"{self.shortcode} - {ORGANISATION_NAME}",
                        initiated_at=now,
                        finalised_at=now,
                    )
            return body

    def deliver_callback(self, checkout_request_id: str) -> dict:
        """Complete the transaction and POST its callback (again, if called twice: an identical duplicate)."""
        body = self.complete_stk(checkout_request_id)
        txn = self.transactions[checkout_request_id]
        self.post("stk", txn.callback_url, body)
        return body

    def hold_phone(self, phone: str) -> None:
        """Future pushes to ``phone`` stay "being processed" (no callback) until release()."""
        with self.lock:
            self.held_phones.add(normalize_phone(phone))

    def unhold_phone(self, phone: str) -> None:
        with self.lock:
            self.held_phones.discard(normalize_phone(phone))

    def release(self, checkout_request_id: str, send_callback: bool = True) -> dict:
        """Complete a held (or any pending) push: STK Query then gives its final result. With ``send_callback``
        the callback is POSTed now (synchronously); without it the callback is lost, as happens in the sandbox.
        Raises KeyError for an unknown CheckoutRequestID."""
        if checkout_request_id not in self.transactions:
            raise KeyError(checkout_request_id)
        if send_callback:
            return self.deliver_callback(checkout_request_id)
        return self.complete_stk(checkout_request_id)

    # ---- async results

    def add_job(self, job: AsyncJob) -> None:
        with self.lock:
            self.async_jobs[job.originator_conversation_id] = job
        self.schedule(self.callback_delay, self.deliver_result, job.originator_conversation_id)

    def deliver_result(self, originator_conversation_id: str) -> dict:
        """POST a job's Result (again, if called twice: an identical duplicate)."""
        with self.lock:
            job = self.async_jobs[originator_conversation_id]
            job.deliveries += 1
        self.post(job.kind, job.url, job.body)
        return job.body

    def deliver_c2b_confirmation(self, originator_conversation_id: str) -> dict:
        job = self.c2b_jobs[originator_conversation_id]
        if job.confirmation_body is None:
            raise KeyError(originator_conversation_id)
        self.post("c2b_confirmation", job.confirmation_url, job.confirmation_body)
        return job.confirmation_body

    # ---- replay

    def replay_callback(self, identifier: str, times: int = 1, delay: float = 0, *, background: bool = False) -> int:
        """Send again the callback/Result of a CheckoutRequestID or OriginatorConversationID, ``times`` times after
        ``delay`` seconds (a duplicate or a late callback). Works before the first delivery too (then the scheduled
        one still follows). Synchronous unless ``delay`` > 0 or ``background``. KeyError for an unknown id."""
        with self.lock:
            if identifier in self.transactions:
                send: Callable[[str], dict] = self.deliver_callback
            elif identifier in self.async_jobs:
                send = self.deliver_result
            elif identifier in self.c2b_jobs and self.c2b_jobs[identifier].confirmation_body is not None:
                send = self.deliver_c2b_confirmation
            else:
                raise KeyError(identifier)

        def run() -> None:
            if delay > 0:
                self.sleep(delay)
            for _ in range(times):
                if self._stopping.is_set():
                    return
                send(identifier)

        if delay > 0 or background:
            threading.Thread(target=run, name="daraja-simulator-replay", daemon=True).start()
        else:
            run()
        return times

    def state(self) -> dict:
        with self.lock:
            return {
                "utility_balance": f"{self.utility_balance:.2f}",
                "working_balance": f"{self.working_balance:.2f}",
                "held_phones": sorted(self.held_phones),
                "stk_transactions": len(self.transactions),
                "async_jobs": len(self.async_jobs),
                "c2b_payments": len(self.c2b_jobs),
                "c2b_urls": {code: dict(urls) for code, urls in self.c2b_urls.items()},
                "callbacks_sent": len(self.callbacks_sent),
            }

    def cancel_timers(self) -> None:
        self._stopping.set()
        with self.lock:
            timers, self.timers = self.timers, []
        for timer in timers:
            timer.cancel()


class DarajaSimulator:
    """Run the simulator in a background thread on a loopback port (``port=0`` picks a free one)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
        self.server = SimulatorServer((host, port), **options)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __getattr__(self, name: str) -> Any:  # consumer_key, shortcode, certificate_path, expire_tokens(), ...
        if name == "server":
            raise AttributeError(name)
        return getattr(self.server, name)

    def start(self) -> DarajaSimulator:
        self._thread = threading.Thread(
            target=self.server.serve_forever, args=(0.01,), name="daraja-simulator", daemon=True
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
