"""The agency overview rules (wallet.md "Agency overview") on the pure domain: periods and
their previous periods, ARPU rounding, comparisons, the top list, the fund-anomaly rule and
the month/quarter buckets of performance."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from domain.shared.errors import ValidationFailed
from domain.wallet.ledger import ZERO
from domain.wallet.model import Figures
from domain.wallet.overview import (
    MAX_RANGE_DAYS,
    Comparison,
    DaySpend,
    MonthSpend,
    Period,
    PrincipalFunds,
    PrincipalSpend,
    SpendFigures,
    arpu,
    change_percent,
    daily_series,
    days_left,
    fund_anomalies,
    is_fund_anomaly,
    performance,
    quarter_of,
    top_by_spend,
)

D = Decimal
TODAY = date(2026, 3, 1)  # the day after 28 February: periods cross a month end


def funds(org: str, cash: str, *, coupons: str = "0.00", limit: str = "0.00", used: str = "0.00",
          held: str = "0.00", budget: str | None = None) -> PrincipalFunds:
    return PrincipalFunds(org, Figures(cash=D(cash), coupons_normal=D(coupons), coupons_traffic=ZERO,
                                       credit_limit=D(limit), credit_used=D(used), held=D(held), deposit_due=ZERO,
                                       deposit_paid=ZERO), D(budget) if budget else None)


# -- periods -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "first", "last", "prev_first", "prev_last"), [
    ("today", date(2026, 3, 1), date(2026, 3, 1), date(2026, 2, 28), date(2026, 2, 28)),
    ("yesterday", date(2026, 2, 28), date(2026, 2, 28), date(2026, 2, 27), date(2026, 2, 27)),
    ("7d", date(2026, 2, 23), date(2026, 3, 1), date(2026, 2, 16), date(2026, 2, 22)),
    ("30d", date(2026, 1, 31), date(2026, 3, 1), date(2026, 1, 1), date(2026, 1, 30)),
])
def test_named_periods_end_today_and_the_previous_period_has_the_same_length(
        name: str, first: date, last: date, prev_first: date, prev_last: date) -> None:
    p = Period.resolve(name, TODAY)
    assert (p.first, p.last, p.name) == (first, last, name)
    prev = p.previous()
    assert (prev.first, prev.last, prev.name) == (prev_first, prev_last, "previous")
    assert prev.days == p.days


def test_a_range_includes_both_ends_and_its_previous_period_ends_the_day_before() -> None:
    p = Period.resolve("range", TODAY, date(2026, 1, 10), date(2026, 1, 19))
    assert p.days == 10 and p.day_list()[0] == date(2026, 1, 10) and p.day_list()[-1] == date(2026, 1, 19)
    prev = p.previous()
    assert (prev.first, prev.last) == (date(2025, 12, 31), date(2026, 1, 9))
    one = Period.resolve(None, TODAY, date(2026, 1, 10), date(2026, 1, 10))  # dates alone mean a range
    assert (one.name, one.days, one.previous().last) == ("range", 1, date(2026, 1, 9))
    assert Period.resolve(None, TODAY).name == "today"


def test_the_longest_range_is_accepted_and_one_more_day_is_refused() -> None:
    first = date(2025, 1, 1)
    longest = Period.resolve("range", TODAY, first, date.fromordinal(first.toordinal() + MAX_RANGE_DAYS - 1))
    assert longest.days == MAX_RANGE_DAYS
    with pytest.raises(ValidationFailed) as exc:
        Period.resolve("range", TODAY, first, date.fromordinal(first.toordinal() + MAX_RANGE_DAYS))
    assert exc.value.field == "to"


@pytest.mark.parametrize(("name", "first", "last", "field"), [
    ("range", None, date(2026, 1, 1), "from"),
    ("range", date(2026, 1, 1), None, "to"),
    ("range", date(2026, 1, 2), date(2026, 1, 1), "to"),
    ("today", date(2026, 1, 1), None, "from"),
    ("7d", None, date(2026, 1, 1), "to"),
    ("week", None, None, "period"),
    ("range", date(1, 1, 1), date(1, 1, 1), "from"),  # no previous period before the first day
    ("range", date(2026, 1, 1), date(9999, 12, 31), "to"),
])
def test_bad_periods_name_the_field(name: str, first: date | None, last: date | None, field: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        Period.resolve(name, TODAY, first, last)
    assert exc.value.field == field and exc.value.code == "invalid_period"


# -- figures -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("spend", "n", "expected"), [
    ("0.00", 0, "0.00"),
    ("10.00", 0, "0.00"),  # defensive: no principal, no ARPU
    ("10.00", 3, "3.33"),
    ("0.05", 2, "0.03"),  # 0.025 rounds half up
    ("0.01", 2, "0.01"),  # 0.005 rounds half up
    ("20.00", 3, "6.67"),
    ("100.00", 4, "25.00"),
])
def test_arpu_rounds_half_up_to_the_cent(spend: str, n: int, expected: str) -> None:
    assert str(arpu(D(spend), n)) == expected


def test_comparisons_give_change_and_percent_and_no_percent_from_zero() -> None:
    c = Comparison(D("120.00"), D("100.00"))
    assert (c.change, c.change_percent) == (D("20.00"), D("20.00"))
    assert Comparison(D("0.00"), D("30.00")).change_percent == D("-100.00")
    assert Comparison(D("5.00"), D("0.00")).change_percent is None
    assert Comparison(2, 3).change == -1 and Comparison(2, 3).change_percent == D("-33.33")
    assert change_percent(D("1.00"), D("3.00")) == D("-66.67")  # -66.666... half up in magnitude


def test_spend_figures_count_only_principals_with_spend_and_add_the_sources() -> None:
    rows = [PrincipalSpend("a", cash=D("10.00"), normal_coupon=D("2.50"), count=2),
            PrincipalSpend("b", post_pay=D("7.50"), traffic_coupon=D("1.00"), count=1),
            PrincipalSpend("c")]
    f = SpendFigures.of(rows)
    assert (f.spend, f.principals_with_spend, f.arpu) == (D("21.00"), 2, D("10.50"))
    assert (f.cash, f.normal_coupon, f.traffic_coupon, f.post_pay) == (D("10.00"), D("2.50"), D("1.00"), D("7.50"))
    empty = SpendFigures.of([])
    assert (empty.spend, empty.principals_with_spend, str(empty.arpu)) == (ZERO, 0, "0.00")
    assert PrincipalSpend("a", cash=D("1.00"), count=1) + PrincipalSpend("a", post_pay=D("2.00"), count=2) == \
        PrincipalSpend("a", cash=D("1.00"), post_pay=D("2.00"), count=3)


def test_the_daily_series_has_every_day_of_the_period_in_order() -> None:
    p = Period.resolve("7d", TODAY)
    series = daily_series(p, [DaySpend("2026-03-01", D("5.00"), 1), DaySpend("2026-02-24", D("3.00"), 2),
                              DaySpend("2026-02-10", D("99.00"), 1)])  # outside: ignored
    assert [d.day for d in series] == ["2026-02-23", "2026-02-24", "2026-02-25", "2026-02-26", "2026-02-27",
                                       "2026-02-28", "2026-03-01"]
    assert [(d.amount, d.principals) for d in series][:2] == [(ZERO, 0), (D("3.00"), 2)]
    assert series[-1].amount == D("5.00")


def test_the_top_list_is_by_spend_then_name_and_leaves_out_principals_without_spend() -> None:
    rows = [PrincipalSpend(f"org_{i:02d}", cash=D(i)) for i in range(0, 13)]
    rows.append(PrincipalSpend("org_tie", cash=D("12")))
    names = {r.org_id: r.org_id.upper() for r in rows} | {"org_tie": "AAA first by name"}
    top = top_by_spend(rows, names)
    assert [r.org_id for r in top] == ["org_tie", "org_12", "org_11", "org_10", "org_09", "org_08", "org_07",
                                       "org_06", "org_05", "org_04"]
    assert [r.org_id for r in top_by_spend(rows, names, 3)] == ["org_tie", "org_12", "org_11"]
    assert top_by_spend([PrincipalSpend("x")], {}) == []


# -- fund anomalies ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("available", "spend", "anomaly"), [
    ("99.99", "100.00", True),
    ("100.00", "100.00", False),  # lasts exactly a day
    ("0.00", "0.01", True),
    ("0.00", "0.00", False),  # no spend yesterday: no rate to run out at
    ("500.00", "100.00", False),
])
def test_the_fund_anomaly_rule_at_its_boundary(available: str, spend: str, anomaly: bool) -> None:
    assert is_fund_anomaly(D(available), D(spend)) is anomaly


def test_fund_anomalies_use_the_available_balance_and_put_the_most_urgent_first() -> None:
    yesterday = [PrincipalSpend("a", cash=D("100.00")), PrincipalSpend("b", cash=D("40.00")),
                 PrincipalSpend("c", cash=D("10.00")), PrincipalSpend("d", cash=D("30.00"))]
    wallets = {
        # 50 cash + 20 coupons + (100 - 60) credit - 30 held = 80 < 100
        "a": funds("a", "50.00", coupons="20.00", limit="100.00", used="60.00", held="30.00", budget="200.00"),
        "b": funds("b", "10.00"),  # 10 < 40: a quarter of a day
        "c": funds("c", "10.00"),  # exactly a day: fine
        # "d" has no wallet row: nothing available
    }
    found = fund_anomalies(yesterday, wallets)
    assert [(a.org_id, a.available, a.shortfall, a.days_left) for a in found] == [
        ("d", ZERO, D("30.00"), D("0.00")), ("b", D("10.00"), D("30.00"), D("0.25")),
        ("a", D("80.00"), D("20.00"), D("0.80"))]
    assert found[2].funds.daily_budget == D("200.00")
    assert days_left(D("10.00"), D("3.00")) == D("3.33") and days_left(D("20.00"), D("3.00")) == D("6.66")
    assert days_left(D("5.00"), ZERO) is None


# -- performance -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("month", "quarter"), [
    ("2026-01", "2026-Q1"), ("2026-03", "2026-Q1"), ("2026-04", "2026-Q2"), ("2026-06", "2026-Q2"),
    ("2026-07", "2026-Q3"), ("2026-09", "2026-Q3"), ("2026-10", "2026-Q4"), ("2026-12", "2026-Q4"),
])
def test_quarter_bucketing(month: str, quarter: str) -> None:
    assert quarter_of(month) == quarter


def test_performance_counts_each_principal_once_per_month_quarter_and_year() -> None:
    rows = [MonthSpend("a", "2026-01", D("10.00")), MonthSpend("a", "2026-02", D("5.00")),
            MonthSpend("b", "2026-03", D("1.00")), MonthSpend("a", "2026-04", D("2.00")),
            MonthSpend("c", "2026-12", D("7.00")), MonthSpend("d", "2025-12", D("9.00")),  # another year
            MonthSpend("e", "2026-05", ZERO)]  # no spend: does not count
    p = performance(2026, rows)
    assert [m.period for m in p.months] == [f"2026-{i:02d}" for i in range(1, 13)]
    assert [m.principals_with_spend for m in p.months] == [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    assert [(q.period, q.principals_with_spend, q.spend) for q in p.quarters] == [
        ("2026-Q1", 2, D("16.00")), ("2026-Q2", 1, D("2.00")), ("2026-Q3", 0, ZERO), ("2026-Q4", 1, D("7.00"))]
    assert (p.year_total.period, p.year_total.principals_with_spend, p.year_total.spend) == ("2026", 3, D("25.00"))
    assert [(x.org_id, x.spend) for x in p.year_total.principals] == [("a", D("17.00")), ("c", D("7.00")),
                                                                       ("b", D("1.00"))]
    assert [(x.org_id, x.spend) for x in p.quarters[0].principals] == [("a", D("15.00")), ("b", D("1.00"))]
    assert performance(2026, rows, {"c": "Shop C"}).months[11].principals[0].name == "Shop C"
    with pytest.raises(ValidationFailed) as exc:
        performance(1999, [])
    assert exc.value.field == "year"
