"""A thin Daraja client on the standard library (urllib + json): OAuth, STK Push, STK Query.

Contract: shared/reference/daraja.md §1.2-1.4. Every argument is validated before any HTTP call; every call has
a timeout; an STK push is never resent after a timeout or a connection error (it could charge the customer twice).
The only automatic retry of a push is the one after a 404.001.03 "Invalid Access Token", which the gateway returns
before the request reaches M-Pesa.
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
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import phonenumbers

from mpesa_integration.daraja import errors
from mpesa_integration.daraja.errors import (
    DarajaAuthError,
    DarajaError,
    DarajaRequestError,
    DarajaTimeout,
    DarajaUnavailable,
    DarajaValidationError,
)

NAIROBI = ZoneInfo("Africa/Nairobi")
OAUTH_PATH = "/oauth/v1/generate?grant_type=client_credentials"
STK_PUSH_PATH = "/mpesa/stkpush/v1/processrequest"
STK_QUERY_PATH = "/mpesa/stkpushquery/v1/query"

PAYBILL = "CustomerPayBillOnline"
BUY_GOODS = "CustomerBuyGoodsOnline"
TRANSACTION_TYPES = (PAYBILL, BUY_GOODS)

STK_MIN_AMOUNT = 1
STK_MAX_AMOUNT = 250_000
ACCOUNT_REFERENCE_MAX = 12
TRANSACTION_DESC_MAX = 13
BEING_PROCESSED = "The transaction is being processed"

MSISDN_RE = re.compile(r"^254[17]\d{8}$")
SHORTCODE_RE = re.compile(r"^\d{5,7}$")
ACCOUNT_REFERENCE_RE = re.compile(r"^[A-Za-z0-9]+$")

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


def validate_amount(value: Any) -> int:
    """A whole number of shillings, 1..250,000. Accepts int or an integral Decimal (``Decimal("100.00")``)."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise DarajaValidationError("amount", "Amount must be a whole number of shillings (int or Decimal).")
    try:
        if isinstance(value, Decimal) and (not value.is_finite() or value != value.to_integral_value()):
            raise DarajaValidationError("amount", "M-Pesa Express accepts whole shillings only, no cents.")
    except InvalidOperation:
        raise DarajaValidationError("amount", "Amount is not a number.") from None
    amount = int(value)
    if not STK_MIN_AMOUNT <= amount <= STK_MAX_AMOUNT:
        raise DarajaValidationError("amount", f"Amount must be between {STK_MIN_AMOUNT} and {STK_MAX_AMOUNT:,}.")
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


def validate_callback_url(value: Any) -> str:
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/]+(/\S*)?$", value):
        raise DarajaValidationError("callback_url", "Callback URL must be an absolute http(s) URL.")
    return value


def nairobi_timestamp(now: datetime | None = None) -> str:
    """``YYYYMMDDHHmmss`` in Africa/Nairobi time."""
    return (now or datetime.now(tz=NAIROBI)).astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")


def stk_password(shortcode: str, passkey: str, timestamp: str) -> str:
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode("ascii")


# --------------------------------------------------------------------------------------------------- client


class DarajaClient:
    def __init__(
        self,
        base_url: str,
        consumer_key: str,
        consumer_secret: str,
        shortcode: str,
        passkey: str,
        timeout: float = 10,
        token_cache: TokenCache | None = None,
    ) -> None:
        shortcode = str(shortcode)
        if not SHORTCODE_RE.match(shortcode):
            raise DarajaValidationError("shortcode", "BusinessShortCode must be 5-7 digits.")
        if not consumer_key or not consumer_secret or not passkey:
            raise DarajaValidationError("credentials", "consumer_key, consumer_secret and passkey are required.")
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
        elif code.startswith("500.003") or (status >= 500 and not code) or status in (502, 503, 504):
            cls = DarajaUnavailable
        else:
            cls = DarajaRequestError
        return cls(request_id, code, message or f"HTTP {status}", status)
