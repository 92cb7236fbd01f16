"""Saturation of a provider (or employee): current load / max load, in three bands.

Bands (seed 001 §2.1.1.5): below 40% green, 40% to 80% blue, above 80% red. The
boundaries belong to blue: exactly 40% is blue and exactly 80% is blue, 80.1% is red.
Ratios are compared exactly (fractions), so 2/5 is 40% and not 39.99...%. A max load
of 0 means no capacity at all: no percentage, band red (it can take nothing).
"""
from __future__ import annotations

import dataclasses
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Literal

Band = Literal["green", "blue", "red"]
BLUE_FROM = Fraction(2, 5)
RED_ABOVE = Fraction(4, 5)


@dataclasses.dataclass(frozen=True)
class Saturation:
    current_load: int
    max_load: int
    percent: Decimal | None  # one decimal, half up; None when max_load is 0
    band: Band


def band_of(ratio: Fraction) -> Band:
    if ratio < BLUE_FROM:
        return "green"
    if ratio <= RED_ABOVE:
        return "blue"
    return "red"


def saturation(current_load: int, max_load: int) -> Saturation:
    if current_load < 0 or max_load < 0:
        raise ValueError("loads are never negative")
    if max_load == 0:
        return Saturation(current_load, max_load, None, "red")
    ratio = Fraction(current_load, max_load)
    percent = (Decimal(ratio.numerator * 100) / Decimal(ratio.denominator)).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP)
    return Saturation(current_load, max_load, percent, band_of(ratio))
