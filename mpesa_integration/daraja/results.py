"""Lenient parsers for what Daraja POSTs back: STK callbacks, async Results, C2B payloads, balance strings.

Pure functions, no I/O. Sources disagree on shapes (daraja.md §1.4, §1.7-1.11): ResultParameters.ResultParameter
(official) versus ResultParameter.ResultParameters or a flat list (mpesakit); a list or a single dict; codes as
numbers or strings; Balance without a Value. Every shape seen is accepted; a body that is structurally wrong (a
required key missing, a dict where a list of Key/Value pairs belongs, an amount that is not a number) raises
DarajaValidationError(field, message). Codes come out as strings; money as Decimal (via ``Decimal(str(value))``,
never through float arithmetic); times as aware datetimes in Africa/Nairobi.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from mpesa_integration.daraja.errors import DarajaValidationError

NAIROBI = ZoneInfo("Africa/Nairobi")

#: Wrapper keys around Key/Value lists, in both spellings seen in the wild.
_WRAPPERS = ("ResultParameter", "ResultParameters", "ReferenceItem", "ReferenceItems")


# --------------------------------------------------------------------------------------------------- helpers


def _require_dict(value: Any, field_name: str) -> dict:
    if not isinstance(value, dict):
        raise DarajaValidationError(field_name, f"Expected a JSON object, got {type(value).__name__}.")
    return value


def _code(value: Any, field_name: str) -> str:
    """A result/response code as a string: 0 -> "0", 0.0 -> "0", " 17 " -> "17", "R000002" stays."""
    if isinstance(value, bool) or value is None:
        raise DarajaValidationError(field_name, "A result code is required (a number or a string).")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise DarajaValidationError(field_name, f"{value!r} is not a result code.")
        return str(int(value))
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise DarajaValidationError(field_name, f"{value!r} is not a result code.")


def _text(body: dict, key: str, *, required: bool = False, default: str = "") -> str:
    """A scalar value as a string. Numbers are accepted (Daraja sends shortcodes and phones as numbers at times)."""
    value = body.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise DarajaValidationError(key, f"{key} is required.")
        return default
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise DarajaValidationError(key, f"{key} must be a string or a number, got {type(value).__name__}.")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def to_decimal(value: Any, field_name: str) -> Decimal | None:
    """``Decimal(str(value))`` for a number or numeric string; None for None/""; DarajaValidationError otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise DarajaValidationError(field_name, f"{value!r} is not an amount.")
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise DarajaValidationError(field_name, f"{value!r} is not an amount.") from None
    if not amount.is_finite():
        raise DarajaValidationError(field_name, f"{value!r} is not an amount.")
    return amount


#: M-Pesa times outside these years are corrupt (year 1 cannot even be stored once converted to UTC).
YEAR_MIN, YEAR_MAX = 2000, 2100


def _plausible(when: datetime) -> datetime:
    if not YEAR_MIN <= when.year <= YEAR_MAX:
        raise ValueError(when.year)
    return when


def parse_compact_time(value: Any, field_name: str) -> datetime | None:
    """``YYYYMMDDHHmmss`` (number or string), Nairobi time, as an aware datetime; None for None/""."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise DarajaValidationError(field_name, f"{value!r} is not a YYYYMMDDHHmmss time.")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    try:
        return _plausible(datetime.strptime(str(value).strip(), "%Y%m%d%H%M%S").replace(tzinfo=NAIROBI))
    except ValueError:
        raise DarajaValidationError(field_name, f"{value!r} is not a YYYYMMDDHHmmss time.") from None


def parse_daraja_time(value: Any, field_name: str) -> datetime | None:
    """B2C's ``DD.MM.YYYY HH:MM:SS`` or the compact ``YYYYMMDDHHmmss``, Nairobi time; None for None/""."""
    if isinstance(value, str) and "." in value:
        try:
            return _plausible(datetime.strptime(value.strip(), "%d.%m.%Y %H:%M:%S").replace(tzinfo=NAIROBI))
        except ValueError:
            raise DarajaValidationError(field_name, f"{value!r} is not a DD.MM.YYYY HH:MM:SS time.") from None
    return parse_compact_time(value, field_name)


def _key_values(node: Any, field_name: str) -> dict[str, Any]:
    """Flatten a Key/Value structure: a list or a single ``{Key, Value}``, wrapped in any of _WRAPPERS or not.

    A pair without ``Value`` maps to None (Daraja sends ``{"Key": "TransactionReason"}``). Items without ``Key``
    are skipped (tolerated noise); anything that is neither a dict nor a list is a malformed body.
    """
    if node is None:
        return {}
    if isinstance(node, list):
        result: dict[str, Any] = {}
        for item in node:
            if not isinstance(item, dict):
                raise DarajaValidationError(field_name, f"Expected Key/Value objects, got {type(item).__name__}.")
            result.update(_key_values(item, field_name))
        return result
    if not isinstance(node, dict):
        raise DarajaValidationError(field_name, f"Expected Key/Value pairs, got {type(node).__name__}.")
    if "Key" in node:
        key = node["Key"]
        if not isinstance(key, str):
            raise DarajaValidationError(field_name, f"A Key must be a string, got {type(key).__name__}.")
        return {key: node.get("Value")}
    for wrapper in _WRAPPERS:
        if wrapper in node:
            return _key_values(node[wrapper], field_name)
    if not node:
        return {}
    raise DarajaValidationError(field_name, f"Unexpected keys {sorted(node)} where Key/Value pairs belong.")


# --------------------------------------------------------------------------------------------------- STK callback


@dataclass(frozen=True)
class StkCallback:
    """One STK callback (``Body.stkCallback``). ``metadata`` is every CallbackMetadata item as name -> value."""

    merchant_request_id: str
    checkout_request_id: str
    result_code: str
    result_desc: str
    amount: Decimal | None = None
    receipt: str | None = None
    transaction_date: datetime | None = None
    phone: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def succeeded(self) -> bool:
        return self.result_code == "0"


def parse_stk_callback(body: Any) -> StkCallback:
    """Parse ``{"Body": {"stkCallback": {...}}}`` (or the inner ``stkCallback`` object itself)."""
    body = _require_dict(body, "Body")
    callback = body
    if "Body" in body:
        callback = _require_dict(body["Body"], "Body").get("stkCallback")
        if callback is None:
            raise DarajaValidationError("stkCallback", "Body.stkCallback is required.")
    elif "stkCallback" in body:
        callback = body["stkCallback"]
    callback = _require_dict(callback, "stkCallback")
    if "ResultCode" not in callback:
        raise DarajaValidationError("ResultCode", "ResultCode is required.")
    metadata_node = callback.get("CallbackMetadata")
    metadata: dict[str, Any] = {}
    if metadata_node is not None:
        items = _require_dict(metadata_node, "CallbackMetadata").get("Item", [])
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list):
            raise DarajaValidationError("CallbackMetadata", "CallbackMetadata.Item must be a list.")
        for item in items:
            if not isinstance(item, dict):
                raise DarajaValidationError("CallbackMetadata", "Each CallbackMetadata item must be an object.")
            name = item.get("Name")
            if isinstance(name, str) and name:
                metadata[name] = item.get("Value")  # Balance often comes without a Value: None
    receipt = metadata.get("MpesaReceiptNumber")
    phone = metadata.get("PhoneNumber")
    for name, value in (("MpesaReceiptNumber", receipt), ("PhoneNumber", phone)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, str | int)):
            raise DarajaValidationError(name, f"{name} must be a string or an integer.")
    return StkCallback(
        merchant_request_id=_text(callback, "MerchantRequestID", required=True),
        checkout_request_id=_text(callback, "CheckoutRequestID", required=True),
        result_code=_code(callback.get("ResultCode"), "ResultCode"),
        result_desc=_text(callback, "ResultDesc"),
        amount=to_decimal(metadata.get("Amount"), "Amount"),
        receipt=None if receipt in (None, "") else str(receipt).strip(),
        transaction_date=parse_compact_time(metadata.get("TransactionDate"), "TransactionDate"),
        phone=None if phone in (None, "") else str(phone).strip(),
        metadata=metadata,
        raw=body,
    )


# --------------------------------------------------------------------------------------------------- async Result


@dataclass(frozen=True)
class AsyncResult:
    """A ``Result`` POSTed to a ResultURL or QueueTimeOutURL (B2C, Transaction Status, Balance, Reversal)."""

    result_type: str
    result_code: str
    result_desc: str
    originator_conversation_id: str
    conversation_id: str
    transaction_id: str
    parameters: dict[str, Any] = field(default_factory=dict)
    reference_data: dict[str, Any] = field(default_factory=dict)
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def succeeded(self) -> bool:
        return self.result_code == "0"

    @property
    def amount(self) -> Decimal | None:
        """TransactionAmount (B2C) or Amount (Status, Reversal), as Decimal."""
        for key in ("TransactionAmount", "Amount"):
            if self.parameters.get(key) not in (None, ""):
                return to_decimal(self.parameters[key], key)
        return None

    @property
    def receipt(self) -> str | None:
        """TransactionReceipt (B2C) or ReceiptNo (Transaction Status)."""
        for key in ("TransactionReceipt", "ReceiptNo"):
            value = self.parameters.get(key)
            if value not in (None, ""):
                return str(value).strip()
        return None

    @property
    def completed_at(self) -> datetime | None:
        """TransactionCompletedDateTime (``DD.MM.YYYY HH:MM:SS``), else FinalisedTime/TransCompletedTime."""
        for key in ("TransactionCompletedDateTime", "FinalisedTime", "TransCompletedTime"):
            if self.parameters.get(key) not in (None, ""):
                return parse_daraja_time(self.parameters[key], key)
        return None


def parse_async_result(body: Any) -> AsyncResult:
    """Parse ``{"Result": {...}}`` (or the inner object). Amount and completion time are checked here too."""
    body = _require_dict(body, "Result")
    result = _require_dict(body["Result"], "Result") if "Result" in body else body
    if "ResultCode" not in result:
        raise DarajaValidationError("ResultCode", "ResultCode is required.")
    parameters: dict[str, Any] = {}
    for wrapper in ("ResultParameters", "ResultParameter"):
        if wrapper in result:
            parameters.update(_key_values(result[wrapper], wrapper))
    reference_data = _key_values(result.get("ReferenceData"), "ReferenceData")
    result_type = result.get("ResultType")
    parsed = AsyncResult(
        result_type="" if result_type is None else _code(result_type, "ResultType"),
        result_code=_code(result.get("ResultCode"), "ResultCode"),
        result_desc=_text(result, "ResultDesc"),
        originator_conversation_id=_text(result, "OriginatorConversationID", required=True),
        conversation_id=_text(result, "ConversationID"),
        transaction_id=_text(result, "TransactionID"),
        parameters=parameters,
        reference_data=reference_data,
        raw=body,
    )
    _ = parsed.amount, parsed.completed_at  # malformed values fail now, not later in a property
    return parsed


# --------------------------------------------------------------------------------------------------- balances


def parse_account_balance(value: Any) -> dict[str, dict[str, Any]]:
    """Split an AccountBalance string into ``{account name: {currency, available, uncleared, reserved}}``.

    Sections are separated by ``&``; each is ``name|currency|available|uncleared|reserved|...`` (daraja.md §1.10;
    a trailing extra field is ignored). Amounts are Decimal.
    """
    if not isinstance(value, str):
        raise DarajaValidationError("AccountBalance", "AccountBalance must be a string.")
    accounts: dict[str, dict[str, Any]] = {}
    for section in value.split("&"):
        if not section.strip():
            continue
        parts = [part.strip() for part in section.split("|")]
        if len(parts) < 5 or not parts[0]:
            raise DarajaValidationError("AccountBalance", f"Malformed account section {section!r}.")
        amounts = [to_decimal(part, "AccountBalance") for part in parts[2:5]]
        accounts[parts[0]] = {
            "currency": parts[1],
            "available": amounts[0] if amounts[0] is not None else Decimal("0"),
            "uncleared": amounts[1] if amounts[1] is not None else Decimal("0"),
            "reserved": amounts[2] if amounts[2] is not None else Decimal("0"),
        }
    return accounts


# --------------------------------------------------------------------------------------------------- C2B


@dataclass(frozen=True)
class C2BPayment:
    """A C2B validation or confirmation payload (daraja.md §1.8). ``msisdn`` may be masked (``25470****149``)."""

    trans_type: str
    trans_id: str
    trans_time: datetime
    amount: Decimal
    shortcode: str
    bill_ref_number: str
    invoice_number: str
    org_account_balance: Decimal | None  # empty on validation, the new balance on confirmation
    third_party_trans_id: str
    msisdn: str
    first_name: str
    middle_name: str
    last_name: str
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.middle_name, self.last_name) if part)


def parse_c2b(body: Any) -> C2BPayment:
    """Parse a C2B validation/confirmation body. TransID, TransTime, TransAmount, BusinessShortCode are required."""
    body = _require_dict(body, "body")
    trans_time = parse_compact_time(body.get("TransTime"), "TransTime")
    if trans_time is None:
        raise DarajaValidationError("TransTime", "TransTime is required.")
    amount = to_decimal(body.get("TransAmount"), "TransAmount")
    if amount is None:
        raise DarajaValidationError("TransAmount", "TransAmount is required.")
    return C2BPayment(
        trans_type=_text(body, "TransactionType"),
        trans_id=_text(body, "TransID", required=True),
        trans_time=trans_time,
        amount=amount,
        shortcode=_text(body, "BusinessShortCode", required=True),
        bill_ref_number=_text(body, "BillRefNumber"),
        invoice_number=_text(body, "InvoiceNumber"),
        org_account_balance=to_decimal(body.get("OrgAccountBalance"), "OrgAccountBalance"),
        third_party_trans_id=_text(body, "ThirdPartyTransID"),
        msisdn=_text(body, "MSISDN"),
        first_name=_text(body, "FirstName"),
        middle_name=_text(body, "MiddleName"),
        last_name=_text(body, "LastName"),
        raw=body,
    )
