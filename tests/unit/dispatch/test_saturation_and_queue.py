"""Saturation bands (exact at 40% and 80%) and queue order."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.dispatch import QueueEntry, queue_order, saturation


@pytest.mark.parametrize(("current", "maximum", "percent", "band"), [
    (0, 10, "0.0", "green"),
    (399, 1000, "39.9", "green"),
    (1, 3, "33.3", "green"),
    (2, 5, "40.0", "blue"),  # exactly 40%: blue
    (400, 1000, "40.0", "blue"),
    (2, 3, "66.7", "blue"),
    (4, 5, "80.0", "blue"),  # exactly 80%: still blue
    (800, 1000, "80.0", "blue"),
    (801, 1000, "80.1", "red"),
    (1601, 2000, "80.1", "red"),  # 80.05% rounds to 80.1 and is red because it is above 80%
    (50, 50, "100.0", "red"),
    (12, 10, "120.0", "red"),  # a max load lowered below the current load
])
def test_bands(current: int, maximum: int, percent: str, band: str) -> None:
    s = saturation(current, maximum)
    assert (s.percent, s.band) == (Decimal(percent), band)


def test_just_below_the_boundaries() -> None:
    assert saturation(799, 2000).band == "green"  # 39.95%: displays 40.0 but is below 40%
    assert saturation(799, 2000).percent == Decimal("40.0")
    assert saturation(1600, 2000).band == "blue"


def test_no_capacity_at_all_is_red_without_a_percentage() -> None:
    s = saturation(0, 0)
    assert (s.percent, s.band) == (None, "red")
    with pytest.raises(ValueError, match="negative"):
        saturation(-1, 10)


def test_queue_is_oldest_first_then_by_project_id() -> None:
    t = datetime(2019, 10, 25, 6, tzinfo=UTC)
    entries = [
        QueueEntry("prj_c", "employee", t + timedelta(hours=1), "all employees of role 设计师 are full", t),
        QueueEntry("prj_b", "employee", t, "no employee with role 设计师", t),
        QueueEntry("prj_a", "employee", t, "no employee with role 设计师", t),
        QueueEntry("prj_d", "provider", t - timedelta(days=1), "all providers are full", t),
    ]
    assert [e.project_id for e in queue_order(entries)] == ["prj_d", "prj_a", "prj_b", "prj_c"]
