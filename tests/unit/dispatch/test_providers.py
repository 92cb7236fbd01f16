"""Weighted provider choice (issue 5: "weights 20 and 30 ... chi-square ... a full provider drops out")."""
from __future__ import annotations

import random

import pytest

from domain.dispatch import (
    ALL_PROVIDERS_FULL,
    NO_PROVIDER_CONFIGURED,
    ProviderCandidate,
    ProviderSetting,
    choose_provider,
    validate_provider_settings,
)
from domain.shared.errors import ValidationFailed

SEED = 20191129  # the seed manual's document version
CHI2_CRITICAL_1DOF_5PCT = 3.841


def chi2_critical(dof: int) -> float:
    try:
        from scipy.stats import chi2
    except ImportError:
        return {1: CHI2_CRITICAL_1DOF_5PCT, 2: 5.991}[dof]
    return float(chi2.ppf(0.95, dof))


def test_weights_20_and_30_split_40_60_within_chi_square_bounds() -> None:
    rng = random.Random(SEED)
    rows = [("A", 20, 2000, 0), ("B", 30, 2000, 0)]
    counts = {"A": 0, "B": 0}
    for _ in range(10_000):
        decision = choose_provider(rows, rng)
        assert decision.chosen is not None
        counts[decision.chosen] += 1
    expected = {"A": 4_000, "B": 6_000}
    statistic = sum((counts[k] - expected[k]) ** 2 / expected[k] for k in counts)
    assert statistic < chi2_critical(1), (counts, statistic)
    assert counts["A"] + counts["B"] == 10_000


def test_a_full_provider_drops_out_of_the_draw() -> None:
    rng = random.Random(SEED)
    rows = [("A", 20, 5, 5), ("B", 30, 2000, 0)]
    assert {choose_provider(rows, rng).chosen for _ in range(500)} == {"B"}
    decision = choose_provider(rows, rng)
    assert decision.explanation.eligible == ("B",)
    assert decision.explanation.total_weight == 30
    data = decision.explanation.to_dict()
    assert data["candidates"][0] == {"provider_id": "A", "weight": 20, "max_load": 5, "current_load": 5,
                                     "eligible": False, "why": "full", "probability": "0"}
    assert data["candidates"][1]["probability"] == "1/1"


def test_weights_are_renormalised_over_the_eligible() -> None:
    rows = [ProviderCandidate("A", 20, 10, 0), ProviderCandidate("B", 30, 10, 3), ProviderCandidate("C", 50, 10, 10)]
    decision = choose_provider(rows, random.Random(SEED))
    data = decision.explanation.to_dict()
    assert [c["probability"] for c in data["candidates"]] == ["2/5", "3/5", "0"]
    assert data["ranges"] == [{"provider_id": "A", "from": 0, "to": 20}, {"provider_id": "B", "from": 20, "to": 50}]
    assert decision.explanation.draw is not None and 0 <= decision.explanation.draw < 50
    assert decision.chosen == ("A" if decision.explanation.draw < 20 else "B")


def test_the_draw_maps_onto_the_ranges_exactly() -> None:
    class Fixed:
        def __init__(self, value: int) -> None:
            self.value = value

        def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:
            assert stop is None and start == 50
            return self.value

        def random(self) -> float:
            raise AssertionError("not used")

    rows = [("B", 30, 10, 0), ("A", 20, 10, 0)]  # order of rows does not matter: A's range comes first
    assert choose_provider(rows, Fixed(0)).chosen == "A"
    assert choose_provider(rows, Fixed(19)).chosen == "A"
    assert choose_provider(rows, Fixed(20)).chosen == "B"
    assert choose_provider(rows, Fixed(49)).chosen == "B"


def test_the_choice_does_not_depend_on_row_order() -> None:
    rows = [("hebei", 10, 1000, 0), ("beijing", 10, 1000, 0), ("hangzhou", 40, 1000, 0)]
    picks = [choose_provider(rows, random.Random(s)).chosen for s in range(50)]
    picks_reversed = [choose_provider(list(reversed(rows)), random.Random(s)).chosen for s in range(50)]
    assert picks == picks_reversed


def test_nobody_eligible_gives_a_reason() -> None:
    none = choose_provider([], random.Random(SEED))
    assert (none.chosen, none.code, none.reason) == (None, NO_PROVIDER_CONFIGURED, "no provider configured")
    full = choose_provider([("A", 20, 5, 5), ("B", 30, 0, 0)], random.Random(SEED))
    assert (full.chosen, full.code, full.reason) == (None, ALL_PROVIDERS_FULL, "all providers are full")
    assert full.explanation.draw is None


def test_seed_table_equal_weights() -> None:
    # seed 001 §2.1.1.2: 河北服务商 10/1000 and 北京服务商 10/1000 -> one half each
    data = choose_provider([("hebei", 10, 1000, 0), ("beijing", 10, 1000, 0)], random.Random(1)).explanation.to_dict()
    assert [c["probability"] for c in data["candidates"]] == ["1/2", "1/2"]


@pytest.mark.parametrize(("row", "field"), [
    (ProviderSetting("A", 0, 10), "providers[1].weight"),
    (ProviderSetting("A", 101, 10), "providers[1].weight"),
    (ProviderSetting("A", 1.5, 10), "providers[1].weight"),  # type: ignore[arg-type]
    (ProviderSetting("A", True, 10), "providers[1].weight"),
    (ProviderSetting("A", 10, 2001), "providers[1].max_load"),
    (ProviderSetting("A", 10, -1), "providers[1].max_load"),
    (ProviderSetting("B", 10, 10), "providers[1].provider_org_id"),  # listed twice
    (ProviderSetting("", 10, 10), "providers[1].provider_org_id"),
])
def test_provider_settings_are_validated_with_the_row_named(row: ProviderSetting, field: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        validate_provider_settings([ProviderSetting("B", 10, 1000), row])
    assert err.value.field == field


def test_provider_settings_bounds_are_inclusive() -> None:
    rows = [ProviderSetting("A", 1, 0), ProviderSetting("B", 100, 2000)]
    assert validate_provider_settings(rows, allowed_provider_ids=["A", "B"]) == rows
    with pytest.raises(ValidationFailed) as err:
        validate_provider_settings(rows, allowed_provider_ids=["A"])
    assert err.value.field == "providers[1].provider_org_id" and err.value.code == "provider_not_linked"


def test_candidates_are_validated_too() -> None:
    with pytest.raises(ValidationFailed) as err:
        ProviderCandidate("A", 20, 2001, 0)
    assert err.value.field == "max_load"
    with pytest.raises(ValidationFailed) as err:
        ProviderCandidate("A", 20, 10, -1)
    assert err.value.field == "current_load"
