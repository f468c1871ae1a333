"""Small value rules shared by the server and the handler: Daraja's error answer, amounts, phone numbers, times."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from mpesa_integration.daraja import errors
from mpesa_integration.daraja.simulator.constants import MSISDN_RE, NAIROBI


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


def normalize_phone(phone: Any) -> str:
    """``0708374149`` / ``+254 708 374 149`` -> ``254708374149``; ValueError when it is not a Kenyan mobile."""
    text = re.sub(r"[\s+-]", "", str(phone))
    if text.startswith("0") and len(text) == 10:
        text = "254" + text[1:]
    if not MSISDN_RE.match(text):
        raise ValueError(f"{phone!r} is not a Kenyan mobile number")
    return text
