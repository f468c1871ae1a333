"""Money helpers. Money is always Decimal, in KES, with 2 decimal places; never float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CURRENCY = "KES"
MONEY_MAX_DIGITS = 14
MONEY_DECIMAL_PLACES = 2
RATE_MAX_DIGITS = 7
RATE_DECIMAL_PLACES = 4
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def to_money(value: Decimal | int | str) -> Decimal:
    """Quantize to cents with ROUND_HALF_UP. Refuses floats so binary rounding never reaches money."""
    if isinstance(value, float):
        raise TypeError("Money must not be a float; pass Decimal, int or str.")
    try:
        return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:
        raise ValueError(f"Not an amount: {value!r}") from exc


def money_require(amount, field: str = "amount") -> Decimal:
    """
    A positive amount in whole cents, as services accept it: anything else raises ValidationFailed (400)
    naming `field` — never silently rounded.
    """
    from chamahub.exceptions import ValidationFailed

    if isinstance(amount, float):
        raise ValidationFailed("Amounts are decimals, not floats.", fields={field: ["Send the amount as a string."]})
    try:
        amount = Decimal(amount)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise ValidationFailed("Not an amount.", fields={field: ["A valid amount is required."]}) from exc
    if not amount.is_finite() or amount <= 0:
        raise ValidationFailed(
            "Amount must be greater than zero.", fields={field: ["Amount must be greater than zero."]}
        )
    if amount != amount.quantize(CENT):
        raise ValidationFailed("At most 2 decimal places.", fields={field: ["At most 2 decimal places."]})
    return amount.quantize(CENT)


def money_str(value: Decimal) -> str:
    return str(to_money(value))


def split_pro_rata(total: Decimal, weights: dict, *, order: list | None = None) -> dict:
    """
    Split `total` across keys pro rata to `weights`, in cents, so the parts always sum to `total`.
    Largest-remainder method: each part is floored to the cent, and the leftover cents go to the
    largest remainders (ties broken by `order`, or by key order).
    """
    total = to_money(total)
    keys = order or list(weights)
    weight_sum = sum((Decimal(weights[k]) for k in keys), Decimal(0))
    if weight_sum <= 0 or total == 0:
        return {k: ZERO for k in keys}
    cents_total = int(total / CENT)
    raw = {k: Decimal(cents_total) * Decimal(weights[k]) / weight_sum for k in keys}
    floors = {k: int(raw[k]) for k in keys}
    leftover = cents_total - sum(floors.values())
    by_remainder = sorted(keys, key=lambda k: (-(raw[k] - floors[k]), keys.index(k)))
    for k in by_remainder[:leftover]:
        floors[k] += 1
    return {k: (Decimal(floors[k]) * CENT).quantize(CENT) for k in keys}
