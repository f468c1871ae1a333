"""A thin Daraja client on the standard library (urllib + json): OAuth, STK Push/Query, B2C, C2B, Transaction
Status, Account Balance, Reversal.

Contract: shared/reference/daraja.md §1.2-1.11. Every argument is validated before any HTTP call; every call has
a timeout; a request that moves money (STK push, B2C, Reversal) is never resent after a timeout or a connection
error (it could pay twice). The only automatic retry of those is the one after a 404.001.03 "Invalid Access
Token", which the gateway returns before the request reaches M-Pesa. Queries (STK Query, Transaction Status,
Account Balance) are retried once on a timeout: they cannot pay.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import phonenumbers

from mpesa_integration.daraja import errors
from mpesa_integration.daraja.credentials import encrypt_security_credential, load_certificate_public_key
from mpesa_integration.daraja.errors import (
    DarajaAuthError,
    DarajaDuplicateOriginator,
    DarajaError,
    DarajaRequestError,
    DarajaTimeout,
    DarajaUnavailable,
    DarajaValidationError,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

NAIROBI = ZoneInfo("Africa/Nairobi")
OAUTH_PATH = "/oauth/v1/generate?grant_type=client_credentials"
STK_PUSH_PATH = "/mpesa/stkpush/v1/processrequest"
STK_QUERY_PATH = "/mpesa/stkpushquery/v1/query"
B2C_PATH = "/mpesa/b2c/v3/paymentrequest"
C2B_REGISTER_PATH = "/mpesa/c2b/{version}/registerurl"
C2B_SIMULATE_PATH = "/mpesa/c2b/{version}/simulate"
TRANSACTION_STATUS_PATH = "/mpesa/transactionstatus/v1/query"
ACCOUNT_BALANCE_PATH = "/mpesa/accountbalance/v1/query"
REVERSAL_PATH = "/mpesa/reversal/v1/request"

PAYBILL = "CustomerPayBillOnline"
BUY_GOODS = "CustomerBuyGoodsOnline"
TRANSACTION_TYPES = (PAYBILL, BUY_GOODS)

STK_MIN_AMOUNT = 1
STK_MAX_AMOUNT = 250_000
B2C_MIN_AMOUNT = 10
B2C_MAX_AMOUNT = 250_000
B2C_COMMAND_IDS = ("SalaryPayment", "BusinessPayment", "PromotionPayment")
C2B_VERSIONS = ("v1", "v2")
C2B_RESPONSE_TYPES = ("Completed", "Cancelled")
#: Safaricom refuses C2B URLs containing these words (daraja.md §1.8), compared case-insensitively.
C2B_FORBIDDEN_URL_WORDS = ("m-pesa", "mpesa", "safaricom", "exe", "exec", "cmd", "sql", "query")
BILL_REF_MAX = 20
ORIGINATOR_ID_MAX = 64
REMARKS_MIN, REMARKS_MAX = 2, 100
OCCASION_MAX = 100
IDENTIFIER_TYPES = ("1", "2", "4")  # MSISDN, till number, organisation shortcode
RECEIVER_IDENTIFIER_TYPE = "11"  # Reversal: organisation (sic "Reciever" in the field name)
PRODUCTION_HOST = "api.safaricom.co.ke"
ACCOUNT_REFERENCE_MAX = 12
TRANSACTION_DESC_MAX = 13
BEING_PROCESSED = "The transaction is being processed"

MSISDN_RE = re.compile(r"^254[17]\d{8}$")
SHORTCODE_RE = re.compile(r"^\d{5,7}$")
ACCOUNT_REFERENCE_RE = re.compile(r"^[A-Za-z0-9]+$")
RECEIPT_RE = re.compile(r"^[A-Za-z0-9]{1,20}$")
URL_RE = re.compile(r"^https?://[^\s/?#]+([/?#]\S*)?$")

#: Refresh the token this long before Daraja says it expires (≈ at 50 min of a 60 min token).
TOKEN_REFRESH_MARGIN = 600


class TokenCache(Protocol):
    """What the client needs from a cache; ``django.core.cache.cache`` satisfies it."""

    def get(self, key: str) -> Any: ...

    def set(self, key: str, value: Any, timeout: float | None = None) -> Any: ...


class InMemoryTokenCache:
    """Process-local default cache: a dict of key -> (value, monotonic expiry)."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[Any, float | None]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            value, expires_at = item
            if expires_at is not None and time.monotonic() >= expires_at:
                del self._data[key]
                return None
            return value

    def set(self, key: str, value: Any, timeout: float | None = None) -> None:
        with self._lock:
            self._data[key] = (value, None if timeout is None else time.monotonic() + timeout)


@dataclass(frozen=True)
class StkPushResult:
    merchant_request_id: str
    checkout_request_id: str
    response_code: str
    response_description: str
    customer_message: str
    request: dict = field(repr=False)  # the body sent, Password masked
    raw: dict = field(repr=False)


@dataclass(frozen=True)
class AsyncAccepted:
    """Daraja's synchronous "accepted" for an async API (B2C, Status, Balance, Reversal). Not an outcome: the
    Result arrives later at the ResultURL (or a QueueTimeOut body at the QueueTimeOutURL)."""

    originator_conversation_id: str
    conversation_id: str
    response_code: str
    response_description: str
    request: dict = field(repr=False)  # the body sent, SecurityCredential masked
    raw: dict = field(repr=False)


@dataclass(frozen=True)
class StkQueryResult:
    """``pending`` is True while Daraja says "The transaction is being processed"; then result_code is None."""

    checkout_request_id: str
    pending: bool
    result_code: str | None
    result_desc: str
    merchant_request_id: str = ""
    raw: dict = field(default_factory=dict, repr=False)


# --------------------------------------------------------------------------------------------------- validation


def normalize_msisdn(value: Any) -> str:
    """Return a Safaricom-format MSISDN ``2547XXXXXXXX`` / ``2541XXXXXXXX`` or raise DarajaValidationError.

    Accepts the usual spellings (``0712 345 678``, ``+254712345678``, ``254712345678``) via phonenumbers (region KE).
    """
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise DarajaValidationError("phone", "Enter a Kenyan mobile number such as 254712345678.")
    text = str(value).strip()
    try:
        parsed = phonenumbers.parse(text, "KE")
    except phonenumbers.NumberParseException:
        raise DarajaValidationError("phone", "Enter a Kenyan mobile number such as 254712345678.") from None
    msisdn = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164).lstrip("+")
    if not MSISDN_RE.match(msisdn) or not phonenumbers.is_valid_number(parsed):
        raise DarajaValidationError("phone", "Use a Safaricom-format number: 2547XXXXXXXX or 2541XXXXXXXX.")
    return msisdn


def validate_amount(value: Any, *, minimum: int = STK_MIN_AMOUNT, maximum: int = STK_MAX_AMOUNT) -> int:
    """A whole number of shillings in minimum..maximum (STK: 1..250,000; B2C: 10..250,000).

    Accepts int or an integral Decimal (``Decimal("100.00")``); floats and strings are refused (money is Decimal).
    """
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise DarajaValidationError("amount", "Amount must be a whole number of shillings (int or Decimal).")
    try:
        if isinstance(value, Decimal) and (not value.is_finite() or value != value.to_integral_value()):
            raise DarajaValidationError("amount", "M-Pesa accepts whole shillings only, no cents.")
    except InvalidOperation:
        raise DarajaValidationError("amount", "Amount is not a number.") from None
    amount = int(value)
    if not minimum <= amount <= maximum:
        raise DarajaValidationError("amount", f"Amount must be between {minimum} and {maximum:,}.")
    return amount


def validate_account_reference(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise DarajaValidationError("account_reference", "Account reference is required.")
    if len(value) > ACCOUNT_REFERENCE_MAX:
        raise DarajaValidationError("account_reference", f"At most {ACCOUNT_REFERENCE_MAX} characters.")
    if not ACCOUNT_REFERENCE_RE.match(value):
        raise DarajaValidationError("account_reference", "Letters and digits only.")
    return value


def validate_transaction_desc(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DarajaValidationError("transaction_desc", "Transaction description is required.")
    if len(value) > TRANSACTION_DESC_MAX:
        raise DarajaValidationError("transaction_desc", f"At most {TRANSACTION_DESC_MAX} characters.")
    return value


def validate_callback_url(value: Any, field_name: str = "callback_url") -> str:
    """An absolute http(s) URL (Daraja needs HTTPS in production; the sandbox and the simulator take HTTP)."""
    if not isinstance(value, str) or not URL_RE.match(value):
        raise DarajaValidationError(field_name, "Must be an absolute http(s) URL.")
    return value


def validate_c2b_url(value: Any, field_name: str) -> str:
    """A C2B URL: absolute http(s) and free of the words Safaricom refuses to register (daraja.md §1.8)."""
    url = validate_callback_url(value, field_name)
    lowered = url.lower()
    for word in C2B_FORBIDDEN_URL_WORDS:
        if word in lowered:
            raise DarajaValidationError(field_name, f"Safaricom refuses C2B URLs containing {word!r}.")
    return url


def validate_text(value: Any, field_name: str, *, min_length: int = 0, max_length: int) -> str:
    """A string of min_length..max_length characters (min_length 0: optional, may be empty)."""
    if not isinstance(value, str):
        raise DarajaValidationError(field_name, "Must be a string.")
    if min_length and len(value.strip()) < min_length:
        raise DarajaValidationError(field_name, f"At least {min_length} characters.")
    if len(value) > max_length:
        raise DarajaValidationError(field_name, f"At most {max_length} characters.")
    return value


def validate_receipt(value: Any, field_name: str = "transaction_id") -> str:
    """An M-Pesa receipt / TransactionID: letters and digits (10 in practice)."""
    if not isinstance(value, str) or not RECEIPT_RE.match(value):
        raise DarajaValidationError(field_name, "An M-Pesa receipt number: letters and digits, e.g. SL12ABCD34.")
    return value


def normalize_c2b_reply(data: dict) -> dict:
    """A C2B register/simulate reply as ``{"originator_conversation_id", "response_code", "response_description",
    "raw"}``. Daraja's sample spells the id "OriginatorCoversationID"; both spellings are accepted. A reply whose
    ResponseCode is not "0" is raised as DarajaRequestError."""
    originator = data.get("OriginatorConversationID") or data.get("OriginatorCoversationID") or ""
    response_code = str(data.get("ResponseCode", ""))
    if response_code != "0":
        raise DarajaRequestError(
            error_code=response_code, error_message=str(data.get("ResponseDescription", "")), http_status=200
        )
    return {
        "originator_conversation_id": str(originator),
        "response_code": response_code,
        "response_description": str(data.get("ResponseDescription", "")),
        "raw": data,
    }


def nairobi_timestamp(now: datetime | None = None) -> str:
    """``YYYYMMDDHHmmss`` in Africa/Nairobi time."""
    return (now or datetime.now(tz=NAIROBI)).astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")


def stk_password(shortcode: str, passkey: str, timestamp: str) -> str:
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode("ascii")


# --------------------------------------------------------------------------------------------------- client


class DarajaClient:
    """One Daraja merchant: the Express (STK) shortcode and passkey, optionally an initiator for the async APIs.

    ``initiator_password`` is the API operator's plaintext password (from the environment); ``certificate_path``
    is Safaricom's (or the simulator's) PEM or DER X.509 certificate used to encrypt it. ``b2c_shortcode`` and
    ``c2b_shortcode`` default to ``shortcode``; ``c2b_version`` picks ``/mpesa/c2b/v1`` or ``/v2``.
    """

    def __init__(
        self,
        base_url: str,
        consumer_key: str,
        consumer_secret: str,
        shortcode: str,
        passkey: str,
        timeout: float = 10,
        token_cache: TokenCache | None = None,
        *,
        initiator_name: str = "",
        initiator_password: str = "",
        certificate_path: str = "",
        b2c_shortcode: str = "",
        c2b_shortcode: str = "",
        c2b_version: str = "v1",
    ) -> None:
        shortcode = str(shortcode)
        if not SHORTCODE_RE.match(shortcode):
            raise DarajaValidationError("shortcode", "BusinessShortCode must be 5-7 digits.")
        if not consumer_key or not consumer_secret or not passkey:
            raise DarajaValidationError("credentials", "consumer_key, consumer_secret and passkey are required.")
        b2c_shortcode = str(b2c_shortcode or shortcode)
        c2b_shortcode = str(c2b_shortcode or shortcode)
        for name, value in (("b2c_shortcode", b2c_shortcode), ("c2b_shortcode", c2b_shortcode)):
            if not SHORTCODE_RE.match(value):
                raise DarajaValidationError(name, "A shortcode is 5-7 digits.")
        if c2b_version not in C2B_VERSIONS:
            raise DarajaValidationError("c2b_version", f"One of {', '.join(C2B_VERSIONS)}.")
        self.initiator_name = initiator_name or ""
        self.initiator_password = initiator_password or ""
        self.certificate_path = str(certificate_path or "")
        self.b2c_shortcode = b2c_shortcode
        self.c2b_shortcode = c2b_shortcode
        self.c2b_version = c2b_version
        self._public_key: RSAPublicKey | None = None
        self._public_key_lock = threading.Lock()
        self.base_url = base_url.rstrip("/")
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.shortcode = shortcode
        self.passkey = passkey
        self.timeout = timeout
        self.token_cache: TokenCache = token_cache if token_cache is not None else InMemoryTokenCache()
        digest = hashlib.sha256(f"{self.base_url}|{consumer_key}".encode()).hexdigest()[:16]
        self.token_cache_key = f"daraja:token:{digest}"
        self._token_lock = threading.Lock()

    # ---- OAuth

    def get_token(self, *, force_refresh: bool = False, stale_token: str | None = None) -> str:
        """The cached bearer token, fetched (once, under a lock) when missing or forced.

        ``stale_token`` is the token a call was refused with: if another thread already replaced it, use theirs
        instead of fetching again (a new token invalidates the previous one).
        """
        if not force_refresh:
            token = self.token_cache.get(self.token_cache_key)
            if token:
                return token
        with self._token_lock:
            token = self.token_cache.get(self.token_cache_key)
            if token and (not force_refresh or (stale_token is not None and token != stale_token)):
                return token
            token, expires_in = self._fetch_token()
            ttl = max(1, expires_in - min(TOKEN_REFRESH_MARGIN, expires_in // 5))
            self.token_cache.set(self.token_cache_key, token, ttl)
            return token

    def _fetch_token(self) -> tuple[str, int]:
        basic = base64.b64encode(f"{self.consumer_key}:{self.consumer_secret}".encode()).decode("ascii")
        headers = {"Authorization": f"Basic {basic}", "Accept": "application/json"}
        try:
            body = self._request("GET", OAUTH_PATH, headers=headers, retry_on_timeout=True)
        except DarajaRequestError as exc:
            raise DarajaAuthError(exc.request_id, exc.error_code, exc.error_message, exc.http_status) from exc
        token = body.get("access_token")
        try:
            expires_in = int(float(body.get("expires_in", 3599)))
        except (TypeError, ValueError):
            expires_in = 3599
        if not token or not isinstance(token, str):
            raise DarajaAuthError(error_message="OAuth response carries no access_token", http_status=200)
        return token, expires_in

    # ---- STK Push / Query

    def stk_push(
        self,
        phone: Any,
        amount: int | Decimal,
        account_reference: str,
        transaction_desc: str,
        callback_url: str,
        *,
        transaction_type: str = PAYBILL,
        party_b: str | None = None,
    ) -> StkPushResult:
        """Send an M-Pesa Express prompt. Validates everything first (DarajaValidationError, no HTTP call).

        Raises DarajaTimeout when the outcome is unknown: do not resend; query it or wait for the callback.
        """
        msisdn = normalize_msisdn(phone)
        amount_int = validate_amount(amount)
        account_reference = validate_account_reference(account_reference)
        transaction_desc = validate_transaction_desc(transaction_desc)
        callback_url = validate_callback_url(callback_url)
        if transaction_type not in TRANSACTION_TYPES:
            raise DarajaValidationError("transaction_type", f"One of {', '.join(TRANSACTION_TYPES)}.")
        party_b = str(party_b) if party_b is not None else self.shortcode
        if not SHORTCODE_RE.match(party_b):
            raise DarajaValidationError("party_b", "PartyB must be the 5-7 digit paybill or till number.")

        timestamp = nairobi_timestamp(self._now())
        body = {
            "BusinessShortCode": self.shortcode,
            "Password": stk_password(self.shortcode, self.passkey, timestamp),
            "Timestamp": timestamp,
            "TransactionType": transaction_type,
            "Amount": amount_int,
            "PartyA": msisdn,
            "PartyB": party_b,
            "PhoneNumber": msisdn,
            "CallBackURL": callback_url,
            "AccountReference": account_reference,
            "TransactionDesc": transaction_desc,
        }
        data = self._post(STK_PUSH_PATH, body, retry_on_timeout=False)
        return StkPushResult(
            merchant_request_id=str(data.get("MerchantRequestID", "")),
            checkout_request_id=str(data.get("CheckoutRequestID", "")),
            response_code=str(data.get("ResponseCode", "")),
            response_description=str(data.get("ResponseDescription", "")),
            customer_message=str(data.get("CustomerMessage", "")),
            request={**body, "Password": "***"},
            raw=data,
        )

    def stk_query(self, checkout_request_id: str) -> StkQueryResult:
        """Ask for an STK push's outcome. "The transaction is being processed" comes back as ``pending=True``."""
        if not isinstance(checkout_request_id, str) or not checkout_request_id.strip():
            raise DarajaValidationError("checkout_request_id", "CheckoutRequestID is required.")
        timestamp = nairobi_timestamp(self._now())
        body = {
            "BusinessShortCode": self.shortcode,
            "Password": stk_password(self.shortcode, self.passkey, timestamp),
            "Timestamp": timestamp,
            "CheckoutRequestID": checkout_request_id,
        }
        try:
            data = self._post(STK_QUERY_PATH, body, retry_on_timeout=True)  # a query cannot pay twice
        except DarajaError as exc:
            if BEING_PROCESSED.lower() in exc.error_message.lower():
                return StkQueryResult(checkout_request_id, True, None, exc.error_message)
            raise
        result_code = data.get("ResultCode")
        return StkQueryResult(
            checkout_request_id=str(data.get("CheckoutRequestID", checkout_request_id)),
            pending=result_code is None,
            result_code=None if result_code is None else str(result_code),
            result_desc=str(data.get("ResultDesc", data.get("ResponseDescription", ""))),
            merchant_request_id=str(data.get("MerchantRequestID", "")),
            raw=data,
        )

    # ---- initiator APIs (B2C, Transaction Status, Account Balance, Reversal)

    def security_credential(self) -> str:
        """The initiator password RSA-encrypted (PKCS#1 v1.5) with the certificate's public key, base64.

        The public key is loaded once and cached. Raises DarajaValidationError("initiator_password") without a
        password and DarajaValidationError("certificate_path") when the certificate is missing or unreadable.
        """
        if not self.initiator_password:
            raise DarajaValidationError("initiator_password", "The initiator password is required.")
        if self._public_key is None:
            with self._public_key_lock:
                if self._public_key is None:
                    self._public_key = load_certificate_public_key(self.certificate_path)
        return encrypt_security_credential(self.initiator_password, self._public_key)

    def _initiator(self) -> tuple[str, str]:
        if not self.initiator_name:
            raise DarajaValidationError("initiator_name", "The initiator (API operator) name is required.")
        return self.initiator_name, self.security_credential()

    def b2c_payment(
        self,
        *,
        originator_conversation_id: str,
        phone: Any,
        amount: int | Decimal,
        remarks: str,
        result_url: str,
        queue_timeout_url: str,
        command_id: str = "BusinessPayment",
        occasion: str = "",
    ) -> AsyncAccepted:
        """Pay ``amount`` from the B2C shortcode's utility account to ``phone`` (daraja.md §1.7).

        ``originator_conversation_id`` is the idempotency key: on a timeout (DarajaTimeout, outcome unknown) the
        caller may resend with the SAME id; Daraja then answers 500.002.1001, raised as DarajaDuplicateOriginator,
        meaning "already accepted". This method itself never resends after a timeout.
        """
        originator_conversation_id = self._originator_id(originator_conversation_id)
        msisdn = normalize_msisdn(phone)
        amount_int = validate_amount(amount, minimum=B2C_MIN_AMOUNT, maximum=B2C_MAX_AMOUNT)
        remarks = validate_text(remarks, "remarks", min_length=REMARKS_MIN, max_length=REMARKS_MAX)
        occasion = validate_text(occasion, "occasion", max_length=OCCASION_MAX)
        if command_id not in B2C_COMMAND_IDS:
            raise DarajaValidationError("command_id", f"One of {', '.join(B2C_COMMAND_IDS)}.")
        result_url = validate_callback_url(result_url, "result_url")
        queue_timeout_url = validate_callback_url(queue_timeout_url, "queue_timeout_url")
        initiator, credential = self._initiator()
        body = {
            "OriginatorConversationID": originator_conversation_id,
            "InitiatorName": initiator,
            "SecurityCredential": credential,
            "CommandID": command_id,
            "Amount": amount_int,
            "PartyA": self.b2c_shortcode,
            "PartyB": msisdn,
            "Remarks": remarks,
            "QueueTimeOutURL": queue_timeout_url,
            "ResultURL": result_url,
            "Occassion": occasion,  # sic: two s
        }
        return self._async_call(B2C_PATH, body, retry_on_timeout=False)

    def transaction_status(
        self,
        *,
        result_url: str,
        queue_timeout_url: str,
        transaction_id: str = "",
        originator_conversation_id: str = "",
        party_a: str | None = None,
        identifier_type: str = "4",
        remarks: str = "Status check",
        occasion: str = "",
    ) -> AsyncAccepted:
        """Ask for a transaction's outcome by receipt (TransactionID) or by OriginatorConversationID, not both.

        The answer arrives as a Result at ``result_url`` (daraja.md §1.9). ``party_a`` defaults to the main
        shortcode; pass ``client.b2c_shortcode`` for a payout. Retried once on a timeout: a query cannot pay.
        """
        if bool(transaction_id) == bool(originator_conversation_id):
            raise DarajaValidationError(
                "transaction_id", "Give exactly one of transaction_id and originator_conversation_id."
            )
        if transaction_id:
            transaction_id = validate_receipt(transaction_id)
        else:
            originator_conversation_id = self._originator_id(originator_conversation_id)
        party_a = str(party_a) if party_a is not None else self.shortcode
        identifier_type = str(identifier_type)
        if identifier_type not in IDENTIFIER_TYPES:
            raise DarajaValidationError("identifier_type", "1 (MSISDN), 2 (till number) or 4 (shortcode).")
        if identifier_type == "1":
            party_a = normalize_msisdn(party_a)
        elif not SHORTCODE_RE.match(party_a):
            raise DarajaValidationError("party_a", "PartyA must be a 5-7 digit shortcode.")
        remarks = validate_text(remarks, "remarks", min_length=REMARKS_MIN, max_length=REMARKS_MAX)
        occasion = validate_text(occasion, "occasion", max_length=OCCASION_MAX)
        result_url = validate_callback_url(result_url, "result_url")
        queue_timeout_url = validate_callback_url(queue_timeout_url, "queue_timeout_url")
        initiator, credential = self._initiator()
        body: dict[str, Any] = {
            "Initiator": initiator,
            "SecurityCredential": credential,
            "CommandID": "TransactionStatusQuery",
        }
        if transaction_id:
            body["TransactionID"] = transaction_id
        else:
            body["OriginalConversationID"] = originator_conversation_id
        body.update(
            {
                "PartyA": party_a,
                "IdentifierType": identifier_type,
                "ResultURL": result_url,
                "QueueTimeOutURL": queue_timeout_url,
                "Remarks": remarks,
                "Occasion": occasion,
            }
        )
        return self._async_call(TRANSACTION_STATUS_PATH, body, retry_on_timeout=True)

    def account_balance(
        self,
        *,
        result_url: str,
        queue_timeout_url: str,
        remarks: str = "Balance check",
        party_a: str | None = None,
    ) -> AsyncAccepted:
        """Ask for the shortcode's account balances; the Result's AccountBalance goes to parse_account_balance.

        ``party_a`` defaults to the main shortcode. Retried once on a timeout: a query cannot pay.
        """
        party_a = str(party_a) if party_a is not None else self.shortcode
        if not SHORTCODE_RE.match(party_a):
            raise DarajaValidationError("party_a", "PartyA must be a 5-7 digit shortcode.")
        remarks = validate_text(remarks, "remarks", min_length=REMARKS_MIN, max_length=REMARKS_MAX)
        result_url = validate_callback_url(result_url, "result_url")
        queue_timeout_url = validate_callback_url(queue_timeout_url, "queue_timeout_url")
        initiator, credential = self._initiator()
        body = {
            "Initiator": initiator,
            "SecurityCredential": credential,
            "CommandID": "AccountBalance",
            "PartyA": party_a,
            "IdentifierType": "4",
            "Remarks": remarks,
            "QueueTimeOutURL": queue_timeout_url,
            "ResultURL": result_url,
        }
        return self._async_call(ACCOUNT_BALANCE_PATH, body, retry_on_timeout=True)

    def reversal(
        self,
        *,
        transaction_id: str,
        amount: int | Decimal,
        result_url: str,
        queue_timeout_url: str,
        remarks: str,
        occasion: str = "",
        receiver_party: str | None = None,
    ) -> AsyncAccepted:
        """Reverse a C2B/STK payment (daraja.md §1.11). Never resent on a timeout.

        ``receiver_party`` is the shortcode that received the payment: the main (Express) shortcode by default;
        pass ``client.c2b_shortcode`` for a paybill (C2B) payment.
        """
        receiver_party = str(receiver_party) if receiver_party is not None else self.shortcode
        if not SHORTCODE_RE.match(receiver_party):
            raise DarajaValidationError("receiver_party", "ReceiverParty must be a 5-7 digit shortcode.")
        transaction_id = validate_receipt(transaction_id)
        amount_int = validate_amount(amount)
        remarks = validate_text(remarks, "remarks", min_length=REMARKS_MIN, max_length=REMARKS_MAX)
        occasion = validate_text(occasion, "occasion", max_length=OCCASION_MAX)
        result_url = validate_callback_url(result_url, "result_url")
        queue_timeout_url = validate_callback_url(queue_timeout_url, "queue_timeout_url")
        initiator, credential = self._initiator()
        body = {
            "Initiator": initiator,
            "SecurityCredential": credential,
            "CommandID": "TransactionReversal",
            "TransactionID": transaction_id,
            "Amount": amount_int,
            "ReceiverParty": receiver_party,
            "RecieverIdentifierType": RECEIVER_IDENTIFIER_TYPE,  # sic
            "ResultURL": result_url,
            "QueueTimeOutURL": queue_timeout_url,
            "Remarks": remarks,
            "Occasion": occasion,
        }
        return self._async_call(REVERSAL_PATH, body, retry_on_timeout=False)

    @staticmethod
    def _originator_id(value: Any) -> str:
        if not isinstance(value, str) or not value.strip() or len(value) > ORIGINATOR_ID_MAX:
            raise DarajaValidationError(
                "originator_conversation_id", f"A non-empty id of at most {ORIGINATOR_ID_MAX} characters."
            )
        return value

    def _async_call(self, path: str, body: dict, *, retry_on_timeout: bool) -> AsyncAccepted:
        """POST an initiator request; a 200 whose ResponseCode is not "0" is raised as DarajaRequestError."""
        data = self._post(path, body, retry_on_timeout=retry_on_timeout)
        response_code = str(data.get("ResponseCode", ""))
        if response_code != "0":
            raise DarajaRequestError(
                error_code=response_code, error_message=str(data.get("ResponseDescription", "")), http_status=200
            )
        return AsyncAccepted(
            originator_conversation_id=str(data.get("OriginatorConversationID", "")),
            conversation_id=str(data.get("ConversationID", "")),
            response_code=response_code,
            response_description=str(data.get("ResponseDescription", "")),
            request={**body, "SecurityCredential": "***"},
            raw=data,
        )

    # ---- C2B

    def c2b_register_urls(
        self, *, confirmation_url: str, validation_url: str, response_type: str = "Completed"
    ) -> dict:
        """Register the C2B URLs for ``c2b_shortcode`` (daraja.md §1.8). ``response_type`` is what Daraja does
        when the validation URL cannot be reached: ``Completed`` (accept) or ``Cancelled``.

        Returns ``{"originator_conversation_id", "response_code", "response_description", "raw"}``; the reply's
        misspelt "OriginatorCoversationID" and the correct spelling are both accepted.
        """
        confirmation_url = validate_c2b_url(confirmation_url, "confirmation_url")
        validation_url = validate_c2b_url(validation_url, "validation_url")
        if response_type not in C2B_RESPONSE_TYPES:
            raise DarajaValidationError("response_type", "Exactly Completed or Cancelled.")
        body = {
            "ShortCode": self.c2b_shortcode,
            "ResponseType": response_type,
            "ConfirmationURL": confirmation_url,
            "ValidationURL": validation_url,
        }
        data = self._post(C2B_REGISTER_PATH.format(version=self.c2b_version), body, retry_on_timeout=True)
        return normalize_c2b_reply(data)

    def c2b_simulate(
        self, *, phone: Any, amount: int | Decimal, bill_ref_number: str, command_id: str = PAYBILL
    ) -> dict:
        """Sandbox (and simulator) only: make a customer pay ``c2b_shortcode``. Returns the same dict shape as
        c2b_register_urls; the payment itself arrives at the registered confirmation URL."""
        if urlsplit(self.base_url).hostname == PRODUCTION_HOST:
            raise DarajaValidationError("base_url", "C2B simulate exists only on the sandbox.")
        msisdn = normalize_msisdn(phone)
        amount_int = validate_amount(amount)
        if command_id not in TRANSACTION_TYPES:
            raise DarajaValidationError("command_id", f"One of {', '.join(TRANSACTION_TYPES)}.")
        bill_ref_number = validate_text(bill_ref_number, "bill_ref_number", max_length=BILL_REF_MAX)
        if command_id == PAYBILL and not bill_ref_number.strip():
            raise DarajaValidationError("bill_ref_number", "A paybill payment needs an account number.")
        body = {
            "ShortCode": self.c2b_shortcode,
            "CommandID": command_id,
            "Amount": amount_int,
            "Msisdn": msisdn,
            "BillRefNumber": bill_ref_number,
        }
        data = self._post(C2B_SIMULATE_PATH.format(version=self.c2b_version), body, retry_on_timeout=False)
        return normalize_c2b_reply(data)

    # ---- transport

    def _now(self) -> datetime:
        return datetime.now(tz=NAIROBI)

    def _post(self, path: str, body: dict, *, retry_on_timeout: bool) -> dict:
        """POST with the bearer token; on 404.001.03 refresh the token once and retry once."""
        token = self.get_token()
        try:
            return self._request("POST", path, body=body, token=token, retry_on_timeout=retry_on_timeout)
        except DarajaAuthError as exc:
            if exc.error_code != errors.INVALID_ACCESS_TOKEN:
                raise
        token = self.get_token(force_refresh=True, stale_token=token)
        return self._request("POST", path, body=body, token=token, retry_on_timeout=retry_on_timeout)

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: dict | None = None,
        token: str | None = None,
        headers: dict | None = None,
        retry_on_timeout: bool,
    ) -> dict:
        attempts = 2 if retry_on_timeout else 1
        for attempt in range(attempts):
            try:
                return self._request_once(method, path, body=body, token=token, headers=headers)
            except DarajaUnavailable:
                if attempt + 1 >= attempts:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _request_once(
        self, method: str, path: str, *, body: dict | None, token: str | None, headers: dict | None
    ) -> dict:
        all_headers = {"Accept": "application/json", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.base_url + path, data=data, headers=all_headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read() if exc.fp is not None else b""
            raise self._error_from_response(exc.code, raw) from None
        except TimeoutError as exc:
            raise DarajaTimeout(error_message=f"No answer from Daraja within {self.timeout}s ({exc})") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise DarajaTimeout(error_message=f"No answer from Daraja within {self.timeout}s") from None
            raise DarajaUnavailable(error_message=f"Cannot reach Daraja: {exc.reason}") from None
        except (ConnectionError, OSError) as exc:
            raise DarajaUnavailable(error_message=f"Connection to Daraja failed: {exc}") from None
        try:
            parsed = json.loads(raw or b"{}")
        except ValueError:
            raise DarajaUnavailable(error_message="Daraja answered with a body that is not JSON", http_status=status)
        if not isinstance(parsed, dict):
            raise DarajaUnavailable(error_message="Daraja answered with an unexpected JSON shape", http_status=status)
        return parsed

    @staticmethod
    def _error_from_response(status: int, raw: bytes) -> DarajaError:
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        request_id = str(body.get("requestId", ""))
        code = str(body.get("errorCode", body.get("resultCode", "")))
        message = str(body.get("errorMessage", body.get("resultDesc", "")))
        if code == errors.INVALID_ACCESS_TOKEN or code.startswith("400.008") or status in (401, 403):
            cls: type[DarajaError] = DarajaAuthError
        elif code == errors.DUPLICATE_ORIGINATOR:
            cls = DarajaDuplicateOriginator
        elif code.startswith("500.003") or (status >= 500 and not code) or status in (502, 503, 504):
            cls = DarajaUnavailable
        else:
            cls = DarajaRequestError
        return cls(request_id, code, message or f"HTTP {status}", status)
