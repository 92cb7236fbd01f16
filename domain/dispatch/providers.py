"""Weighted random choice of the provider that delivers a project (``assign_provider``).

Among the product's providers whose current load is below their max load, one is
drawn with probability ``weight / sum of the eligible weights`` (A=20, B=30 -> 40% /
60%). The draw is an integer ``rng.randrange(total)`` mapped onto the eligible
providers' cumulative weight ranges, in provider-id order, so a seeded source gives
the same choice whatever order the rows came in. Nothing eligible: no choice and a
reason, and the project waits in the provider queue.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

from domain.dispatch.rng import RandomSource
from domain.dispatch.validation import check_current_load, check_provider_max_load, check_weight

NO_PROVIDER_CONFIGURED = "no_provider_configured"
ALL_PROVIDERS_FULL = "all_providers_full"
REASONS = {NO_PROVIDER_CONFIGURED: "no provider configured", ALL_PROVIDERS_FULL: "all providers are full"}


@dataclasses.dataclass(frozen=True)
class ProviderCandidate:
    provider_id: str
    weight: int
    max_load: int
    current_load: int

    def __post_init__(self) -> None:
        check_weight(self.weight)
        check_provider_max_load(self.max_load)
        check_current_load(self.current_load)

    @property
    def has_capacity(self) -> bool:
        return self.current_load < self.max_load


@dataclasses.dataclass(frozen=True)
class ProviderExplanation:
    """Why the winner won: every candidate, the eligible ones with their ranges, the draw."""

    candidates: tuple[ProviderCandidate, ...]
    eligible: tuple[str, ...]
    total_weight: int
    ranges: tuple[tuple[str, int, int], ...]  # (provider, low inclusive, high exclusive)
    draw: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "provider",
            "candidates": [
                {"provider_id": c.provider_id, "weight": c.weight, "max_load": c.max_load,
                 "current_load": c.current_load, "eligible": c.provider_id in self.eligible,
                 "why": "eligible" if c.provider_id in self.eligible else "full",
                 "probability": _prob(c.weight, self.total_weight) if c.provider_id in self.eligible else "0"}
                for c in self.candidates],
            "eligible": list(self.eligible),
            "total_weight": self.total_weight,
            "ranges": [{"provider_id": p, "from": lo, "to": hi} for p, lo, hi in self.ranges],
            "draw": self.draw,
        }


def _prob(weight: int, total: int) -> str:
    frac = Fraction(weight, total)
    return f"{frac.numerator}/{frac.denominator}"


@dataclasses.dataclass(frozen=True)
class ProviderDecision:
    chosen: str | None
    code: str | None  # None when chosen; else no_provider_configured | all_providers_full
    explanation: ProviderExplanation

    @property
    def reason(self) -> str | None:
        return REASONS[self.code] if self.code else None


def _candidate(row: ProviderCandidate | tuple[str, int, int, int]) -> ProviderCandidate:
    return row if isinstance(row, ProviderCandidate) else ProviderCandidate(*row)


def choose_provider(candidates: Iterable[ProviderCandidate | tuple[str, int, int, int]],
                    rng: RandomSource) -> ProviderDecision:
    """Weighted random choice among providers with spare capacity, renormalised."""
    rows = tuple(sorted((_candidate(r) for r in candidates), key=lambda c: c.provider_id))
    eligible = tuple(c for c in rows if c.has_capacity)
    total = sum(c.weight for c in eligible)
    ranges: list[tuple[str, int, int]] = []
    low = 0
    for c in eligible:
        ranges.append((c.provider_id, low, low + c.weight))
        low += c.weight
    if not eligible:
        code = NO_PROVIDER_CONFIGURED if not rows else ALL_PROVIDERS_FULL
        return ProviderDecision(None, code, ProviderExplanation(rows, (), 0, (), None))
    draw = rng.randrange(total)
    chosen = next(p for p, lo, hi in ranges if lo <= draw < hi)
    return ProviderDecision(chosen, None, ProviderExplanation(
        rows, tuple(c.provider_id for c in eligible), total, tuple(ranges), draw))
