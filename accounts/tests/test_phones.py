"""normalize_phone: every common Kenyan form becomes E.164; anything else is refused."""

import pytest

from accounts.phones import InvalidPhoneNumber, normalize_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0712345678", "+254712345678"),
        ("254712345678", "+254712345678"),
        ("+254712345678", "+254712345678"),
        ("+254 712 345 678", "+254712345678"),
        ("254 712 345 678", "+254712345678"),
        ("0712-345-678", "+254712345678"),
        ("+254-712-345-678", "+254712345678"),
        ("(0712) 345 678", "+254712345678"),
        ("0712.345.678", "+254712345678"),
        ("  0712345678  ", "+254712345678"),
        ("712345678", "+254712345678"),
        ("0112345678", "+254112345678"),
        ("+254112345678", "+254112345678"),
        ("020 2222222", "+254202222222"),
        ("+44 7911 123456", "+447911123456"),
        ("+1 650 253 0000", "+16502530000"),
    ],
)
def test_valid_numbers_are_normalised_to_e164(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        None,
        12345,
        "abc",
        "12345",
        "07123",
        "071234567890",
        "+2547123456789",
        "0000000000",
        "+254012345678",
        "0812345678",
        "+999 123",
        "0712abc678",  # phonenumbers would read letters as a vanity number
        "0712345678x",
        "+254712345678;ext=2",
        "254712345678 ext 1",
        "tel:+254712345678",
        "0712345678 0712345678",
    ],
)
def test_invalid_numbers_are_refused(raw):
    with pytest.raises(InvalidPhoneNumber):
        normalize_phone(raw)
