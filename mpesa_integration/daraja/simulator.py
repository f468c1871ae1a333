"""A Daraja-compatible simulator on the standard library's ThreadingHTTPServer.

It speaks the sandbox's paths, field rules and error bodies (shared/reference/daraja.md §1.2-1.11): OAuth (Basic
auth; a new token invalidates the previous one), STK Push/Query, B2C v3, C2B register/simulate (v1 and v2),
Transaction Status, Account Balance and Reversal. Bearer token and ``Content-Type: application/json`` are required
on every Daraja POST; bad fields get ``{"requestId", "errorCode", "errorMessage"}``. Callbacks and Results are
POSTed from background threads ``callback_delay`` seconds after the request.

STK outcome by the phone's last four digits (a repeat push of the same amount to the same phone within
``duplicate_window`` seconds gets ResultCode 17 "Rule limited." instead, as Daraja does)::

    ...1032 -> 1032 cancelled by user     ...1037 -> 1037 DS timeout, user unreachable
    ...2001 -> 2001 wrong PIN             ...0001 -> 1 insufficient balance
    anything else -> 0 success, with a receipt number and CallbackMetadata

B2C outcome by PartyB's last four digits (after the initiator check: a SecurityCredential that does not decrypt
to ``initiator_password`` gives Result 2001 "The initiator information is invalid.")::

    ...0001 -> 1 utility account balance low     ...2040 -> 2040 recipient not a registered customer
    ...2001 -> 2001 initiator information invalid
    ...1037 -> no Result: a QueueTimeOut body to the QueueTimeOutURL, ResultCode "SVC0403" (chosen by us: Daraja
              documents no code for it), and no transaction exists (Transaction Status finds nothing)
    anything else -> 0, with TransactionReceipt, amounts and balances; the utility balance is debited

Transaction Status on an unknown receipt/OriginatorConversationID: Result "R000001" "The transaction is not found"
(chosen by us). Reversal of an unknown, already reversed or B2C receipt: "R000002" "The OriginalTransactionID is
invalid". The utility balance starts at ``utility_balance``; B2C successes debit it, STK and C2B successes credit
it, reversals debit it.

Control API for tests and demos (not Daraja, no auth, only with ``control_api=True``)::

    POST /simulator/v1/callbacks/replay {"CheckoutRequestID" | "OriginatorConversationID", "times", "delay"}
    POST /simulator/v1/stk/hold {"phone"}          future pushes to that phone never complete by themselves
    POST /simulator/v1/stk/unhold {"phone"}
    POST /simulator/v1/stk/release {"CheckoutRequestID", "send_callback": true}
    GET  /simulator/v1/state                       balances and counters

In-process (tests)::

    with DarajaSimulator() as sim:
        client = DarajaClient(sim.base_url, sim.consumer_key, sim.consumer_secret, sim.shortcode, sim.passkey,
                              initiator_name=sim.initiator_name, initiator_password=sim.initiator_password,
                              certificate_path=sim.certificate_path, b2c_shortcode=sim.b2c_shortcode,
                              c2b_shortcode=sim.c2b_shortcode)

Standalone: ``python -m mpesa_integration.daraja.simulator --port 8089 [--credentials-dir var/daraja-simulator]``.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import binascii
import http.client
import json
import logging
import random
import re
import secrets
import shutil
import string
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from mpesa_integration.daraja import credentials, errors

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

logger = logging.getLogger(__name__)

NAIROBI = ZoneInfo("Africa/Nairobi")

# Public sandbox test values from the Daraja portal (daraja.md §1.1); not secrets.
SANDBOX_SHORTCODE = "174379"
SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
DEFAULT_CONSUMER_KEY = "simulator-consumer-key"
DEFAULT_CONSUMER_SECRET = "simulator-consumer-secret"
DEFAULT_INITIATOR_NAME = "testapi"
DEFAULT_INITIATOR_PASSWORD = "Safaricom999!*!"
DEFAULT_B2C_SHORTCODE = "600999"
DEFAULT_C2B_SHORTCODE = "600998"
DEFAULT_UTILITY_BALANCE = Decimal("1000000.00")
DEFAULT_WORKING_BALANCE = Decimal("900000.00")
ORGANISATION_NAME = "ChamaHub Sandbox"
CUSTOMER_FIRST_NAME, CUSTOMER_LAST_NAME = "Test", "User"

ACCEPTED = "Success. Request accepted for processing"
ASYNC_ACCEPTED = "Accept the service request successfully."
BEING_PROCESSED = "The transaction is being processed"

#: STK: last 4 digits of the phone -> (ResultCode, ResultDesc). Anything else succeeds.
OUTCOMES: dict[str, tuple[int, str]] = {
    "1032": (1032, "Request cancelled by user"),
    "1037": (1037, "DS timeout user cannot be reached"),
    "2001": (2001, "The initiator information is invalid."),
    "0001": (1, "The balance is insufficient for the transaction."),
}
SUCCESS = (0, "The service request is processed successfully.")
ABOVE_MAXIMUM = (3, "Declined due to limit rule: greater than the maximum transaction amount.")
RULE_LIMITED = (17, "Rule limited.")

INITIATOR_INVALID = (2001, "The initiator information is invalid.")
NOT_PERMITTED = (2028, "The request is not permitted according to product assignment.")
#: B2C: last 4 digits of PartyB -> (ResultCode, ResultDesc). "1037" is the queue timeout; anything else succeeds.
B2C_OUTCOMES: dict[str, tuple[int, str]] = {
    "0001": (1, "The balance is insufficient for the transaction."),
    "2040": (
        2040,
        "Credit Party customer type (Unregistered or Registered Customer) can't be supported by the service.",
    ),
    "2001": INITIATOR_INVALID,
}
B2C_QUEUE_TIMEOUT_SUFFIX = "1037"
QUEUE_TIMEOUT = ("SVC0403", "The request was not processed in time (queue timeout). Confirm with Transaction Status.")
STATUS_NOT_FOUND = ("R000001", "The transaction is not found")
REVERSAL_INVALID = ("R000002", "The OriginalTransactionID is invalid")

B2C_COMMAND_IDS = ("SalaryPayment", "BusinessPayment", "PromotionPayment")
C2B_COMMAND_IDS = {"CustomerPayBillOnline": "Pay Bill", "CustomerBuyGoodsOnline": "Buy Goods"}
C2B_FORBIDDEN_URL_WORDS = ("m-pesa", "mpesa", "safaricom", "exe", "exec", "cmd", "sql", "query")

MSISDN_RE = re.compile(r"^254[17]\d{8}$")
SHORTCODE_RE = re.compile(r"^\d{5,7}$")
URL_RE = re.compile(r"^https?://[^\s/?#]+([/?#]\S*)?$")

STK_PUSH_PATH = "/mpesa/stkpush/v1/processrequest"
CONTROL_PREFIX = "/simulator/"


class DarajaHTTPError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def bad_request(what: str) -> DarajaHTTPError:
    return DarajaHTTPError(400, errors.BAD_REQUEST, f"Bad Request - Invalid {what}")


def whole_amount(value: Any) -> int | None:
    """An Amount as Daraja accepts it: an integer or a string of digits. None for anything else (1.5, "1.5")."""
    if isinstance(value, str) and re.fullmatch(r"\d+", value):
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def mask_msisdn(msisdn: str) -> str:
    """``254708374149`` -> ``25470****149`` (C2B payloads are masked, daraja.md §1.8)."""
    return f"{msisdn[:5]}****{msisdn[-3:]}"


def compact_time(moment: datetime) -> str:
    return moment.astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")


def money(amount: Decimal) -> float:
    """A balance as Daraja puts it in JSON: a number with two decimals (our state stays Decimal)."""
    return float(amount.quantize(Decimal("0.01")))


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


# --------------------------------------------------------------------------------------------------- key pair

_default_pair_lock = threading.Lock()
_default_pair: tuple[RSAPrivateKey, str] | None = None


def write_temp_certificate(certificate: Any) -> str:
    """Write a PEM certificate to a fresh temporary directory (removed at exit); return the file's path."""
    directory = tempfile.mkdtemp(prefix="daraja-simulator-")
    atexit.register(shutil.rmtree, directory, True)
    path = Path(directory) / credentials.CERTIFICATE_FILENAME
    path.write_bytes(credentials.certificate_pem(certificate))
    return str(path)


def default_key_pair() -> tuple[RSAPrivateKey, str]:
    """One in-memory key pair per process (key generation costs ~0.1 s), its certificate in a temp directory."""
    global _default_pair
    with _default_pair_lock:
        if _default_pair is None:
            key, certificate = credentials.generate_key_pair()
            _default_pair = (key, write_temp_certificate(certificate))
        return _default_pair


# --------------------------------------------------------------------------------------------------- state


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
    held: bool = False  # pushed to a held phone: completes only through release()
    callback_body: dict = field(default_factory=dict)


@dataclass
class LedgerEntry:
    """A completed M-Pesa transaction the simulator issued a receipt for (Transaction Status, Reversal)."""

    receipt: str
    kind: str  # "stk" | "b2c" | "c2b"
    amount: int
    msisdn: str
    debit_party: str
    credit_party: str
    initiated_at: datetime
    finalised_at: datetime
    originator_conversation_id: str = ""
    conversation_id: str = ""
    reversed: bool = False


@dataclass
class AsyncJob:
    """The Result of one async request (B2C, Status, Balance, Reversal), computed at once, delivered later."""

    kind: str
    originator_conversation_id: str
    conversation_id: str
    url: str
    body: dict
    deliveries: int = 0


@dataclass
class C2BJob:
    originator_conversation_id: str
    shortcode: str
    command_id: str
    amount: int
    msisdn: str
    bill_ref_number: str
    trans_id: str
    trans_time: str
    status: str = "pending"  # -> "confirmed" | "rejected" | "cancelled"
    validation_reply: Any = None
    confirmation_url: str = ""
    confirmation_body: dict | None = None


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

    @staticmethod
    def result_body(
        result_code: int | str,
        result_desc: str,
        originator_conversation_id: str,
        conversation_id: str,
        transaction_id: str,
        parameters: list[tuple[str, Any]] | None = None,
        reference: list[tuple[str, Any]] | None = None,
    ) -> dict:
        """The Result shape of daraja.md §1.7: ResultParameters.ResultParameter list, ReferenceData.ReferenceItem
        (a single dict when there is one item, as Daraja sends it). A None value is sent as a Key without Value."""

        def pairs(items: list[tuple[str, Any]]) -> list[dict]:
            return [{"Key": key} if value is None else {"Key": key, "Value": value} for key, value in items]

        result: dict[str, Any] = {
            "ResultType": 0,
            "ResultCode": result_code,
            "ResultDesc": result_desc,
            "OriginatorConversationID": originator_conversation_id,
            "ConversationID": conversation_id,
            "TransactionID": transaction_id,
        }
        if parameters:
            result["ResultParameters"] = {"ResultParameter": pairs(parameters)}
        if reference:
            items = pairs(reference)
            result["ReferenceData"] = {"ReferenceItem": items[0] if len(items) == 1 else items}
        return {"Result": result}

    def balance_string(self) -> str:
        """AccountBalance as Daraja formats it: sections joined by "&", name|currency|available|uncleared|reserved|x."""
        with self.lock:
            utility, working = self.utility_balance, self.working_balance
        accounts = [
            ("Working Account", working),
            ("Float Account", Decimal("0")),
            ("Utility Account", utility),
            ("Charges Paid Account", Decimal("0")),
            ("Organization Settlement Account", Decimal("0")),
        ]
        return "&".join(f"{name}|KES|{amount:.2f}|0.00|0.00|0.00" for name, amount in accounts)

    def process_b2c(self, body: dict, originator: str, conversation_id: str, amount: int, msisdn: str) -> AsyncJob:
        """Decide a B2C's outcome now (balances move now); its Result is delivered later."""
        result_url, timeout_url = body["ResultURL"], body["QueueTimeOutURL"]
        reference = [("QueueTimeoutURL", timeout_url)]

        def job(kind: str, url: str, code: int | str, desc: str, txn_id: str = "", params: Any = None) -> AsyncJob:
            result = self.result_body(code, desc, originator, conversation_id, txn_id, params, reference)
            return AsyncJob(kind, originator, conversation_id, url, result)

        if not self.initiator_valid(body.get("InitiatorName"), body.get("SecurityCredential")):
            return job("b2c_result", result_url, *INITIATOR_INVALID, txn_id=self.new_receipt())
        if str(body.get("PartyA")) != self.b2c_shortcode:
            return job("b2c_result", result_url, *NOT_PERMITTED, txn_id=self.new_receipt())
        suffix = msisdn[-4:]
        if suffix == B2C_QUEUE_TIMEOUT_SUFFIX:
            return job("b2c_timeout", timeout_url, *QUEUE_TIMEOUT)
        if suffix in B2C_OUTCOMES:
            return job("b2c_result", result_url, *B2C_OUTCOMES[suffix], txn_id=self.new_receipt())
        with self.lock:
            funded = self.utility_balance >= amount
            if funded:
                self.utility_balance -= amount
            utility, working = self.utility_balance, self.working_balance
        if not funded:
            return job("b2c_result", result_url, *B2C_OUTCOMES["0001"], txn_id=self.new_receipt())
        receipt = self.new_receipt()
        now = datetime.now(tz=NAIROBI)
        receiver = f"{msisdn} - {CUSTOMER_FIRST_NAME} {CUSTOMER_LAST_NAME}"
        with self.lock:
            self.ledger[receipt] = LedgerEntry(
                receipt=receipt,
                kind="b2c",
                amount=amount,
                msisdn=msisdn,
                debit_party=f"{self.b2c_shortcode} - {ORGANISATION_NAME}",
                credit_party=receiver,
                initiated_at=now,
                finalised_at=now,
                originator_conversation_id=originator,
                conversation_id=conversation_id,
            )
            self.ledger_by_originator[originator] = receipt
        parameters = [
            ("TransactionAmount", amount),
            ("TransactionReceipt", receipt),
            ("B2CRecipientIsRegisteredCustomer", "Y"),
            ("B2CChargesPaidAccountAvailableFunds", 0.00),
            ("ReceiverPartyPublicName", receiver),
            ("TransactionCompletedDateTime", now.strftime("%d.%m.%Y %H:%M:%S")),
            ("B2CUtilityAccountAvailableFunds", money(utility)),
            ("B2CWorkingAccountAvailableFunds", money(working)),
        ]
        return job("b2c_result", result_url, *SUCCESS, txn_id=receipt, params=parameters)

    def process_status(self, body: dict, originator: str, conversation_id: str) -> AsyncJob:
        result_url = body["ResultURL"]
        occasion = body.get("Occasion", body.get("Occassion")) or None
        reference = [("Occasion", occasion)]
        if not self.initiator_valid(body.get("Initiator"), body.get("SecurityCredential")):
            result = self.result_body(*INITIATOR_INVALID, originator, conversation_id, "", None, reference)
            return AsyncJob("status", originator, conversation_id, result_url, result)
        receipt = str(body.get("TransactionID") or "")
        with self.lock:
            entry = self.ledger.get(receipt)
            if entry is None and not receipt:
                found = self.ledger_by_originator.get(str(body.get("OriginalConversationID") or ""))
                entry = self.ledger.get(found) if found else None
        if entry is None:
            result = self.result_body(*STATUS_NOT_FOUND, originator, conversation_id, "", None, reference)
            return AsyncJob("status", originator, conversation_id, result_url, result)
        b2c = entry.kind == "b2c"
        parameters = [
            ("DebitPartyName", entry.debit_party),
            ("CreditPartyName", entry.credit_party),
            ("OriginatorConversationID", entry.originator_conversation_id or None),
            ("InitiatedTime", int(compact_time(entry.initiated_at))),
            ("DebitAccountType", "Utility Account" if b2c else "MMF Account For Customer"),
            ("DebitPartyCharges", "Fee For B2C Payment|KES|0.00" if b2c else None),
            ("TransactionReason", None),
            ("ReasonType", "Business Payment to Customer via API" if b2c else "Pay Bill Online"),
            ("TransactionStatus", "Reversed" if entry.reversed else "Completed"),
            ("FinalisedTime", int(compact_time(entry.finalised_at))),
            ("Amount", entry.amount),
            ("ConversationID", entry.conversation_id or None),
            ("ReceiptNo", entry.receipt),
        ]
        # Daraja puts a placeholder, not the receipt, in the Result's TransactionID: read ReceiptNo.
        placeholder = f"{entry.receipt[:3]}0000000"
        result = self.result_body(*SUCCESS, originator, conversation_id, placeholder, parameters, reference)
        return AsyncJob("status", originator, conversation_id, result_url, result)

    def process_balance(self, body: dict, originator: str, conversation_id: str) -> AsyncJob:
        result_url = body["ResultURL"]
        reference = [("QueueTimeoutURL", body["QueueTimeOutURL"])]
        if not self.initiator_valid(body.get("Initiator"), body.get("SecurityCredential")):
            result = self.result_body(*INITIATOR_INVALID, originator, conversation_id, "", None, reference)
            return AsyncJob("balance", originator, conversation_id, result_url, result)
        parameters = [
            ("AccountBalance", self.balance_string()),
            ("BOCompletedTime", int(compact_time(datetime.now(tz=NAIROBI)))),
        ]
        placeholder = f"{self.new_receipt()[:3]}0000000"
        result = self.result_body(*SUCCESS, originator, conversation_id, placeholder, parameters, reference)
        return AsyncJob("balance", originator, conversation_id, result_url, result)

    def process_reversal(self, body: dict, originator: str, conversation_id: str) -> AsyncJob:
        result_url = body["ResultURL"]
        reference = [("QueueTimeoutURL", body["QueueTimeOutURL"])]
        if not self.initiator_valid(body.get("Initiator"), body.get("SecurityCredential")):
            result = self.result_body(*INITIATOR_INVALID, originator, conversation_id, "", None, reference)
            return AsyncJob("reversal", originator, conversation_id, result_url, result)
        original = str(body.get("TransactionID"))
        with self.lock:
            entry = self.ledger.get(original)
            valid = entry is not None and not entry.reversed and entry.kind != "b2c"
            if valid:
                assert entry is not None
                entry.reversed = True
                self.utility_balance -= entry.amount
            utility = self.utility_balance
        if not valid or entry is None:
            result = self.result_body(*REVERSAL_INVALID, originator, conversation_id, "", None, reference)
            return AsyncJob("reversal", originator, conversation_id, result_url, result)
        parameters = [
            ("DebitAccountBalance", f"Utility Account|KES|{utility:.2f}|0.00|0.00|0.00"),
            ("Amount", entry.amount),
            ("TransCompletedTime", int(compact_time(datetime.now(tz=NAIROBI)))),
            ("OriginalTransactionID", entry.receipt),
            ("Charge", 0),
            ("CreditPartyPublicName", entry.debit_party),  # the customer who paid gets the money back
            ("DebitPartyPublicName", entry.credit_party),
        ]
        result = self.result_body(*SUCCESS, originator, conversation_id, self.new_receipt(), parameters, reference)
        return AsyncJob("reversal", originator, conversation_id, result_url, result)

    # ---- C2B

    def c2b_payload(self, job: C2BJob, *, org_balance: str = "", third_party_trans_id: str = "") -> dict:
        """The validation/confirmation body (identical keys, daraja.md §1.8); MSISDN masked, TransAmount a string."""
        return {
            "TransactionType": C2B_COMMAND_IDS[job.command_id],
            "TransID": job.trans_id,
            "TransTime": job.trans_time,
            "TransAmount": f"{job.amount}.00",
            "BusinessShortCode": job.shortcode,
            "BillRefNumber": job.bill_ref_number,
            "InvoiceNumber": "",
            "OrgAccountBalance": org_balance,
            "ThirdPartyTransID": third_party_trans_id,
            "MSISDN": mask_msisdn(job.msisdn),
            "FirstName": CUSTOMER_FIRST_NAME,
            "MiddleName": "",
            "LastName": CUSTOMER_LAST_NAME,
        }

    def process_c2b(self, originator_conversation_id: str) -> None:
        """Validation (when enabled and a ValidationURL is registered), then confirmation, like Daraja:
        accepted -> confirm; rejected -> nothing; validation URL unreachable -> follow ResponseType."""
        with self.lock:
            job = self.c2b_jobs[originator_conversation_id]
            urls = dict(self.c2b_urls[job.shortcode])
        third_party = ""
        if self.c2b_external_validation and urls.get("ValidationURL"):
            body = self.c2b_payload(job)
            status, reply = self.post("c2b_validation", urls["ValidationURL"], body, self.c2b_validation_timeout)
            job.validation_reply = reply
            reachable = status is not None and 200 <= status < 300 and isinstance(reply, dict) and "ResultCode" in reply
            if reachable:
                assert isinstance(reply, dict)
                if str(reply["ResultCode"]).strip() != "0":
                    job.status = "rejected"
                    return
                third_party = str(reply.get("ThirdPartyTransID") or "")
            elif urls["ResponseType"] != "Completed":
                job.status = "cancelled"
                return
        now = datetime.now(tz=NAIROBI)
        with self.lock:
            self.utility_balance += job.amount
            balance = self.utility_balance
            self.ledger[job.trans_id] = LedgerEntry(
                receipt=job.trans_id,
                kind="c2b",
                amount=job.amount,
                msisdn=job.msisdn,
                debit_party=f"{job.msisdn} - {CUSTOMER_FIRST_NAME} {CUSTOMER_LAST_NAME}",
                credit_party=f"{job.shortcode} - {ORGANISATION_NAME}",
                initiated_at=now,
                finalised_at=now,
            )
        job.confirmation_url = urls["ConfirmationURL"]
        job.confirmation_body = self.c2b_payload(job, org_balance=f"{balance:.2f}", third_party_trans_id=third_party)
        job.status = "confirmed"
        self.deliver_c2b_confirmation(originator_conversation_id)

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


def normalize_phone(phone: Any) -> str:
    """``0708374149`` / ``+254 708 374 149`` -> ``254708374149``; ValueError when it is not a Kenyan mobile."""
    text = re.sub(r"[\s+-]", "", str(phone))
    if text.startswith("0") and len(text) == 10:
        text = "254" + text[1:]
    if not MSISDN_RE.match(text):
        raise ValueError(f"{phone!r} is not a Kenyan mobile number")
    return text


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

    def _routes(self) -> dict[str, tuple[str, Callable[[bytes], tuple[int, dict]]]]:
        routes: dict[str, tuple[str, Callable[[bytes], tuple[int, dict]]]] = {
            "/oauth/v1/generate": ("GET", self._oauth),
            STK_PUSH_PATH: ("POST", self._stk_push),
            "/mpesa/stkpushquery/v1/query": ("POST", self._stk_query),
            "/mpesa/b2c/v3/paymentrequest": ("POST", self._b2c),
            "/mpesa/transactionstatus/v1/query": ("POST", self._transaction_status),
            "/mpesa/accountbalance/v1/query": ("POST", self._account_balance),
            "/mpesa/reversal/v1/request": ("POST", self._reversal),
        }
        for version in ("v1", "v2"):
            routes[f"/mpesa/c2b/{version}/registerurl"] = ("POST", self._c2b_register)
            routes[f"/mpesa/c2b/{version}/simulate"] = ("POST", self._c2b_simulate)
        if self.server.control_api:
            routes.update(
                {
                    "/simulator/v1/callbacks/replay": ("POST", self._control_replay),
                    "/simulator/v1/stk/hold": ("POST", self._control_hold),
                    "/simulator/v1/stk/unhold": ("POST", self._control_unhold),
                    "/simulator/v1/stk/release": ("POST", self._control_release),
                    "/simulator/v1/state": ("GET", self._control_state),
                }
            )
        return routes

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path
        with self.server.lock:
            self.server.request_log.append((method, path))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        routes = self._routes()
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
        stall = self.server.take_stall(path)
        if stall:
            self.server.sleep(stall)
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
        return self._parse_json(raw)

    @staticmethod
    def _parse_json(raw: bytes) -> dict:
        try:
            body = json.loads(raw or b"{}")
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

    # ---- field checks shared by the initiator APIs

    @staticmethod
    def _url(body: dict, name: str) -> str:
        value = body.get(name)
        if not isinstance(value, str) or not URL_RE.match(value):
            raise bad_request(name)
        return value

    @staticmethod
    def _text(body: dict, name: str, min_length: int, max_length: int, *, aliases: tuple[str, ...] = ()) -> str:
        value = body.get(name)
        for alias in aliases:
            if value is None:
                value = body.get(alias)
        if value is None and min_length == 0:
            return ""
        if not isinstance(value, str) or len(value.strip()) < min_length or len(value) > max_length:
            raise bad_request(name)
        return value

    def _initiator_fields(self, body: dict, name_key: str) -> None:
        """Presence and type only: a wrong initiator or credential is reported in the Result (2001), not here."""
        for key in (name_key, "SecurityCredential"):
            value = body.get(key)
            if not isinstance(value, str) or not value.strip():
                raise bad_request(key)

    def _accepted(self, originator: str, conversation_id: str) -> tuple[int, dict]:
        return 200, {
            "ConversationID": conversation_id,
            "OriginatorConversationID": originator,
            "ResponseCode": "0",
            "ResponseDescription": ASYNC_ACCEPTED,
        }

    # ---- STK

    def _stk_push(self, raw: bytes) -> tuple[int, dict]:
        body = self._json_body(raw)
        self._check_credentials(body)
        if body.get("TransactionType") not in ("CustomerPayBillOnline", "CustomerBuyGoodsOnline"):
            raise bad_request("TransactionType")
        amount = whole_amount(body.get("Amount"))
        if amount is None or amount < 1:
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

        server = self.server
        phone = str(body["PhoneNumber"])
        result_code, result_desc = OUTCOMES.get(phone[-4:], SUCCESS)
        if result_code == 0 and amount > 250_000:
            result_code, result_desc = ABOVE_MAXIMUM
        now = time.monotonic()
        with server.lock:
            previous = server.recent_pushes.get((phone, amount))
            server.recent_pushes[(phone, amount)] = now
            held = phone in server.held_phones
        if server.duplicate_window and previous is not None and now - previous < server.duplicate_window:
            result_code, result_desc = RULE_LIMITED
        merchant_id, checkout_id = server.new_ids()
        txn = StkTransaction(merchant_id, checkout_id, amount, phone, callback_url, result_code, result_desc, held=held)
        with server.lock:
            server.transactions[checkout_id] = txn
        if not held:
            server.schedule_callback(txn)
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

    # ---- B2C

    def _b2c(self, raw: bytes) -> tuple[int, dict]:
        body = self._json_body(raw)
        originator = body.get("OriginatorConversationID")
        if not isinstance(originator, str) or not originator.strip() or len(originator) > 64:
            raise bad_request("OriginatorConversationID")
        self._initiator_fields(body, "InitiatorName")
        if body.get("CommandID") not in B2C_COMMAND_IDS:
            raise bad_request("CommandID")
        amount = whole_amount(body.get("Amount"))
        if amount is None or not 10 <= amount <= 250_000:
            raise bad_request("Amount")
        if not SHORTCODE_RE.match(str(body.get("PartyA", ""))):
            raise bad_request("PartyA")
        msisdn = str(body.get("PartyB", ""))
        if not MSISDN_RE.match(msisdn):
            raise bad_request("PartyB")
        self._text(body, "Remarks", 2, 100)
        self._text(body, "Occassion", 0, 100, aliases=("Occasion",))
        self._url(body, "ResultURL")
        self._url(body, "QueueTimeOutURL")
        server = self.server
        with server.lock:
            if originator in server.b2c_originators:
                raise DarajaHTTPError(500, errors.DUPLICATE_ORIGINATOR, "Duplicate OriginatorConversationID")
            server.b2c_originators.add(originator)
        conversation_id = server.new_conversation_id()
        server.add_job(server.process_b2c(body, originator, conversation_id, amount, msisdn))
        return self._accepted(originator, conversation_id)

    # ---- Transaction Status, Account Balance, Reversal

    def _transaction_status(self, raw: bytes) -> tuple[int, dict]:
        body = self._json_body(raw)
        self._initiator_fields(body, "Initiator")
        if body.get("CommandID") != "TransactionStatusQuery":
            raise bad_request("CommandID")
        if not body.get("TransactionID") and not body.get("OriginalConversationID"):
            raise bad_request("TransactionID")
        identifier_type = str(body.get("IdentifierType", ""))
        if identifier_type not in ("1", "2", "4"):
            raise bad_request("IdentifierType")
        party_a = str(body.get("PartyA", ""))
        if not (MSISDN_RE.match(party_a) if identifier_type == "1" else SHORTCODE_RE.match(party_a)):
            raise bad_request("PartyA")
        self._text(body, "Remarks", 1, 100)
        self._text(body, "Occasion", 0, 100, aliases=("Occassion",))
        self._url(body, "ResultURL")
        self._url(body, "QueueTimeOutURL")
        server = self.server
        originator, conversation_id = server.new_originator_id(), server.new_conversation_id()
        server.add_job(server.process_status(body, originator, conversation_id))
        return self._accepted(originator, conversation_id)

    def _account_balance(self, raw: bytes) -> tuple[int, dict]:
        body = self._json_body(raw)
        self._initiator_fields(body, "Initiator")
        if body.get("CommandID") != "AccountBalance":
            raise bad_request("CommandID")
        if not SHORTCODE_RE.match(str(body.get("PartyA", ""))):
            raise bad_request("PartyA")
        if str(body.get("IdentifierType", "")) != "4":
            raise bad_request("IdentifierType")
        self._text(body, "Remarks", 1, 100)
        self._url(body, "ResultURL")
        self._url(body, "QueueTimeOutURL")
        server = self.server
        originator, conversation_id = server.new_originator_id(), server.new_conversation_id()
        server.add_job(server.process_balance(body, originator, conversation_id))
        return self._accepted(originator, conversation_id)

    def _reversal(self, raw: bytes) -> tuple[int, dict]:
        body = self._json_body(raw)
        self._initiator_fields(body, "Initiator")
        if body.get("CommandID") != "TransactionReversal":
            raise bad_request("CommandID")
        transaction_id = body.get("TransactionID")
        if not isinstance(transaction_id, str) or not re.fullmatch(r"[A-Za-z0-9]{1,20}", transaction_id):
            raise bad_request("TransactionID")
        amount = whole_amount(body.get("Amount"))
        if amount is None or amount < 1:
            raise bad_request("Amount")
        if not SHORTCODE_RE.match(str(body.get("ReceiverParty", ""))):
            raise bad_request("ReceiverParty")
        if str(body.get("RecieverIdentifierType", body.get("ReceiverIdentifierType", ""))) not in ("11", "4"):
            raise bad_request("RecieverIdentifierType")
        self._text(body, "Remarks", 2, 100)
        self._text(body, "Occasion", 0, 100, aliases=("Occassion",))
        self._url(body, "ResultURL")
        self._url(body, "QueueTimeOutURL")
        server = self.server
        originator, conversation_id = server.new_originator_id(), server.new_conversation_id()
        server.add_job(server.process_reversal(body, originator, conversation_id))
        return self._accepted(originator, conversation_id)

    # ---- C2B

    def _c2b_shortcode(self, body: dict) -> str:
        shortcode = str(body.get("ShortCode", ""))
        if not SHORTCODE_RE.match(shortcode):
            raise bad_request("ShortCode")
        server = self.server
        if shortcode not in (server.c2b_shortcode, server.shortcode, server.b2c_shortcode):
            raise DarajaHTTPError(500, errors.MERCHANT_ERROR, "Merchant does not exist")
        return shortcode

    def _c2b_register(self, raw: bytes) -> tuple[int, dict]:
        body = self._json_body(raw)
        shortcode = self._c2b_shortcode(body)
        response_type = body.get("ResponseType")
        if response_type not in ("Completed", "Cancelled"):
            raise bad_request("ResponseType")
        urls = {"ResponseType": response_type}
        for name in ("ConfirmationURL", "ValidationURL"):
            url = self._url(body, name)
            if any(word in url.lower() for word in C2B_FORBIDDEN_URL_WORDS):
                raise bad_request(name)
            urls[name] = url
        with self.server.lock:
            self.server.c2b_urls[shortcode] = urls
        return 200, {
            "OriginatorCoversationID": self.server.new_originator_id(),  # sic, as Daraja spells it
            "ResponseCode": "0",
            "ResponseDescription": "success",
        }

    def _c2b_simulate(self, raw: bytes) -> tuple[int, dict]:
        body = self._json_body(raw)
        shortcode = self._c2b_shortcode(body)
        command_id = body.get("CommandID")
        if command_id not in C2B_COMMAND_IDS:
            raise bad_request("CommandID")
        amount = whole_amount(body.get("Amount"))
        if amount is None or not 1 <= amount <= 250_000:
            raise bad_request("Amount")
        msisdn = str(body.get("Msisdn", ""))
        if not MSISDN_RE.match(msisdn):
            raise bad_request("Msisdn")
        bill_ref = body.get("BillRefNumber") or ""
        if not isinstance(bill_ref, str) or len(bill_ref) > 20:
            raise bad_request("BillRefNumber")
        server = self.server
        with server.lock:
            registered = shortcode in server.c2b_urls
        if not registered:
            raise DarajaHTTPError(400, errors.BAD_REQUEST, "Bad Request - Invalid ShortCode (no C2B URLs registered)")
        originator = server.new_originator_id()
        job = C2BJob(
            originator_conversation_id=originator,
            shortcode=shortcode,
            command_id=command_id,
            amount=amount,
            msisdn=msisdn,
            bill_ref_number=bill_ref,
            trans_id=server.new_receipt(),
            trans_time=compact_time(datetime.now(tz=NAIROBI)),
        )
        with server.lock:
            server.c2b_jobs[originator] = job
        server.schedule(server.callback_delay, server.process_c2b, originator)
        return 200, {
            "OriginatorCoversationID": originator,  # sic
            "ResponseCode": "0",
            "ResponseDescription": ASYNC_ACCEPTED,
        }

    # ---- control API (not Daraja)

    def _control_body(self, raw: bytes) -> dict:
        return self._parse_json(raw)

    @staticmethod
    def _control_error(message: str, status: int = 400) -> DarajaHTTPError:
        code = errors.RESOURCE_NOT_FOUND if status == 404 else errors.BAD_REQUEST
        return DarajaHTTPError(status, code, message)

    def _control_replay(self, raw: bytes) -> tuple[int, dict]:
        body = self._control_body(raw)
        identifier = body.get("CheckoutRequestID") or body.get("OriginatorConversationID")
        times, delay = body.get("times", 1), body.get("delay", 0)
        if not isinstance(identifier, str) or not identifier:
            raise self._control_error("CheckoutRequestID or OriginatorConversationID is required")
        if isinstance(times, bool) or not isinstance(times, int) or not 1 <= times <= 100:
            raise self._control_error("times must be an integer 1..100")
        if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= 3600:
            raise self._control_error("delay must be 0..3600 seconds")
        try:
            self.server.replay_callback(identifier, times, float(delay), background=True)
        except KeyError:
            raise self._control_error(f"Unknown id {identifier}", 404) from None
        return 200, {"ResponseCode": "0", "ResponseDescription": f"{times} callback(s) scheduled", "times": times}

    def _phone(self, raw: bytes) -> str:
        try:
            return normalize_phone(self._control_body(raw).get("phone", ""))
        except ValueError as exc:
            raise self._control_error(str(exc)) from None

    def _control_hold(self, raw: bytes) -> tuple[int, dict]:
        phone = self._phone(raw)
        self.server.hold_phone(phone)
        return 200, {"ResponseCode": "0", "ResponseDescription": f"Pushes to {phone} are held", "phone": phone}

    def _control_unhold(self, raw: bytes) -> tuple[int, dict]:
        phone = self._phone(raw)
        self.server.unhold_phone(phone)
        return 200, {"ResponseCode": "0", "ResponseDescription": f"Pushes to {phone} complete again", "phone": phone}

    def _control_release(self, raw: bytes) -> tuple[int, dict]:
        body = self._control_body(raw)
        checkout_id = body.get("CheckoutRequestID")
        send_callback = body.get("send_callback", True)
        if not isinstance(send_callback, bool):
            raise self._control_error("send_callback must be true or false")
        if not isinstance(checkout_id, str) or checkout_id not in self.server.transactions:
            raise self._control_error(f"Unknown CheckoutRequestID {checkout_id}", 404)
        server = self.server
        if send_callback:  # in the background: the callback receiver may be the very client calling us
            threading.Thread(target=server.release, args=(checkout_id, True), daemon=True).start()
        else:
            server.release(checkout_id, send_callback=False)
        return 200, {"ResponseCode": "0", "ResponseDescription": "released", "CheckoutRequestID": checkout_id}

    def _control_state(self, raw: bytes) -> tuple[int, dict]:
        return 200, self.server.state()


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


# --------------------------------------------------------------------------------------------------- standalone


def build_server(
    host: str = "127.0.0.1",
    port: int = 8089,
    *,
    credentials_dir: str | None = None,
    **options: Any,
) -> SimulatorServer:
    """A SimulatorServer whose key pair lives in ``credentials_dir`` (created or reused there, so the app's
    MPESA_CERTIFICATE_PATH can point at ``<dir>/cert.pem``), or a per-process temporary pair without it."""
    if credentials_dir:
        cert_path, key_path = credentials.generate_simulator_credentials(credentials_dir)
        options.setdefault("certificate_path", cert_path)
        options.setdefault("private_key_path", key_path)
    return SimulatorServer((host, port), **options)


def serve(server: SimulatorServer, write: Callable[[str], Any]) -> None:
    """Announce the server through ``write`` and serve until interrupted (or until server.shutdown())."""
    host, port = server.server_address[:2]
    write(
        f"Daraja simulator listening on http://{host}:{port} (STK shortcode {server.shortcode}, "
        f"B2C {server.b2c_shortcode}, C2B {server.c2b_shortcode}, initiator {server.initiator_name})\n"
        f"Initiator certificate: {server.certificate_path}\n"
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.cancel_timers()
        server.server_close()


def add_arguments(parser: argparse.ArgumentParser, defaults: dict[str, Any] | None = None) -> None:
    """The command-line options shared by ``python -m`` and ``manage.py daraja_simulator``."""
    d = {
        "host": "127.0.0.1",
        "port": 8089,
        "callback_delay": 0.5,
        "credentials_dir": None,
        "consumer_key": DEFAULT_CONSUMER_KEY,
        "consumer_secret": DEFAULT_CONSUMER_SECRET,
        "shortcode": SANDBOX_SHORTCODE,
        "passkey": SANDBOX_PASSKEY,
        "initiator_name": DEFAULT_INITIATOR_NAME,
        "initiator_password": DEFAULT_INITIATOR_PASSWORD,
        "b2c_shortcode": DEFAULT_B2C_SHORTCODE,
        "c2b_shortcode": DEFAULT_C2B_SHORTCODE,
        **(defaults or {}),
    }
    parser.add_argument("--host", default=d["host"])
    parser.add_argument("--port", type=int, default=d["port"])
    parser.add_argument("--callback-delay", type=float, default=d["callback_delay"], help="seconds before callbacks")
    parser.add_argument(
        "--credentials-dir",
        default=d["credentials_dir"],
        help="where cert.pem/key.pem are written or reused (default: a temporary pair per run)",
    )
    parser.add_argument("--consumer-key", default=d["consumer_key"])
    parser.add_argument("--consumer-secret", default=d["consumer_secret"])
    parser.add_argument("--shortcode", default=d["shortcode"], help="the STK (Express) shortcode")
    parser.add_argument("--passkey", default=d["passkey"])
    parser.add_argument("--initiator-name", default=d["initiator_name"])
    parser.add_argument("--initiator-password", default=d["initiator_password"])
    parser.add_argument("--b2c-shortcode", default=d["b2c_shortcode"])
    parser.add_argument("--c2b-shortcode", default=d["c2b_shortcode"])
    parser.add_argument("--c2b-external-validation", action="store_true", help="POST C2B validation requests")
    parser.add_argument("--duplicate-window", type=float, default=120, help="STK code-17 window, 0 disables")
    parser.add_argument("--no-control-api", dest="control_api", action="store_false", help="hide /simulator/")


def server_from_options(options: dict[str, Any]) -> SimulatorServer:
    """Build the server from parsed options (argparse namespace vars or a management command's options)."""
    return build_server(
        options["host"],
        options["port"],
        credentials_dir=options.get("credentials_dir"),
        consumer_key=options["consumer_key"],
        consumer_secret=options["consumer_secret"],
        shortcode=options["shortcode"],
        passkey=options["passkey"],
        callback_delay=options["callback_delay"],
        initiator_name=options["initiator_name"],
        initiator_password=options["initiator_password"],
        b2c_shortcode=options["b2c_shortcode"],
        c2b_shortcode=options["c2b_shortcode"],
        c2b_external_validation=options.get("c2b_external_validation", False),
        duplicate_window=options.get("duplicate_window", 120),
        control_api=options.get("control_api", True),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Daraja-compatible M-Pesa simulator (OAuth, STK, B2C, C2B, Status, Balance, Reversal)."
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = server_from_options(vars(args))

    def write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    serve(server, write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
