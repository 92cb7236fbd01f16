"""Money is Decimal with two places, never float."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from domain.shared.errors import ValidationFailed

CENT = Decimal("0.01")
ZERO_MONEY = Decimal("0.00")
Money = Decimal  # an alias that says "two places, CNY" in signatures


def to_money(value: object, field: str = "amount", *, positive: bool = False,
             allow_zero: bool = True) -> Decimal:
    """Parse and check an amount: a finite Decimal with at most two places."""
    if isinstance(value, float):
        raise ValidationFailed(field, "must be a decimal string, not a float", code="invalid_amount")
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationFailed(field, "is not a decimal number", code="invalid_amount") from exc
    if not amount.is_finite():
        raise ValidationFailed(field, "must be finite", code="invalid_amount")
    if amount != amount.quantize(CENT):
        raise ValidationFailed(field, "has more than 2 decimal places", code="invalid_amount")
    if positive and amount <= 0:
        raise ValidationFailed(field, "must be greater than 0", code="invalid_amount")
    if not allow_zero and amount == 0:
        raise ValidationFailed(field, "must not be 0", code="invalid_amount")
    if not amount:
        return ZERO_MONEY  # "-0" too: no negative zero reaches a figure or an entry
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def fmt(amount: Decimal) -> str:
    """The wire format: a decimal string with exactly two places."""
    return str(Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP))
