"""Serializer fields shared by every app."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from chamahub.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS


class MoneyField(serializers.DecimalField):
    """
    A KES amount: Decimal with at most 2 decimal places, positive unless `allow_zero`/`allow_negative`.
    Rejects JSON floats with more precision than cents instead of rounding them silently.
    """

    def __init__(self, *, allow_zero: bool = False, allow_negative: bool = False, **kwargs):
        kwargs.setdefault("max_digits", MONEY_MAX_DIGITS)
        kwargs.setdefault("decimal_places", MONEY_DECIMAL_PLACES)
        self.allow_zero = allow_zero
        self.allow_negative = allow_negative
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value: Decimal = super().to_internal_value(data)
        if not self.allow_negative and value < 0:
            self.fail_custom("Amount must not be negative.")
        if not self.allow_zero and not self.allow_negative and value == 0:
            self.fail_custom("Amount must be greater than zero.")
        return value

    def fail_custom(self, message: str):
        raise serializers.ValidationError(message, code="invalid_amount")


ID_MAX = 2**63 - 1


class IdField(serializers.IntegerField):
    """A row id in a request body: a whole number 1..2^63-1 (larger ones cannot be looked up, so they are a 400)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", ID_MAX)
        super().__init__(**kwargs)
