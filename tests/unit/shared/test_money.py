"""Money parsing: two places, never a float, never a negative zero."""
from __future__ import annotations

from decimal import Decimal

import pytest

from domain.shared.errors import ValidationFailed
from domain.shared.money import fmt, to_money


@pytest.mark.parametrize("raw, parsed", [("12.3", "12.30"), ("-2.10", "-2.10"), ("0", "0.00"), ("-0", "0.00"),
                                         ("-0.00", "0.00"), (Decimal("-0"), "0.00")])
def test_amounts_parse_to_two_places_and_a_zero_is_never_negative(raw: object, parsed: str) -> None:
    assert str(to_money(raw)) == parsed and fmt(to_money(raw)) == parsed


@pytest.mark.parametrize("raw", [1.5, "1.001", "NaN", "Infinity", "abc"])
def test_floats_extra_places_and_non_numbers_are_refused(raw: object) -> None:
    with pytest.raises(ValidationFailed) as refused:
        to_money(raw, "amount")
    assert refused.value.code == "invalid_amount" and "amount" in refused.value.details


def test_a_positive_amount_refuses_zero_in_any_sign() -> None:
    for raw in ("0", "-0", "-0.00"):
        with pytest.raises(ValidationFailed):
            to_money(raw, positive=True)
