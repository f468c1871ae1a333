"""Kenyan phone numbers, normalised to E.164 with the phonenumbers library."""

from __future__ import annotations

import re

import phonenumbers

DEFAULT_REGION = "KE"
# Digits with the usual separators only: no letters (phonenumbers would read "0712abc678" as a vanity
# number, silently turning a typo into someone else's number) and no extensions.
_ALLOWED = re.compile(r"^\+?[\d\s().\-]+$")
_INVALID_MESSAGE = "Enter a valid phone number, e.g. 0712345678 or +254712345678."


class InvalidPhoneNumber(ValueError):
    pass


def normalize_phone(raw: str, *, region: str = DEFAULT_REGION) -> str:
    """
    '0712345678', '254712345678', '+254 712 345 678', '0712-345-678' -> '+254712345678'.
    Any valid E.164 number is accepted (diaspora members); invalid ones, letters and extensions raise
    InvalidPhoneNumber.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidPhoneNumber("Enter a phone number.")
    text = raw.strip()
    if not _ALLOWED.match(text):
        raise InvalidPhoneNumber(_INVALID_MESSAGE)
    digits = "".join(ch for ch in text if ch.isdigit())
    if not text.startswith("+") and digits.startswith("254") and len(digits) == 12:
        text = "+" + digits
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(_INVALID_MESSAGE) from exc
    if number.extension or not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(_INVALID_MESSAGE)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
