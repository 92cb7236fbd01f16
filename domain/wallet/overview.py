"""Agency overview (wallet.md "Agency overview"; seed 002 home page, finance and
performance): the figures an agency sees across its authorised principals.

Pure values and rules; the service gathers the rows (``domain.wallet.ports.SpendQueries``)
and these functions turn them into figures:

* **spend** is what principals consumed: charge and capture lines with a negative
  amount (the same definition as the consumption report), grouped by their local day
  (platform time zone);
* a **period** is a run of whole local days (``today``, ``yesterday``, ``7d`` and ``30d``
  end today, both ends included); its **previous** period is the run of the same length
  just before it;
* **ARPU** is spend / principals with spend, to the cent (ROUND_HALF_UP), 0.00 when no
  principal spent;
* a **fund anomaly** is a principal that spent yesterday and whose available balance is
  less than that day's spend (it will not last another day at that rate);
* **performance** counts the principals with spend > 0 per month and per quarter (a
  principal counts once in a quarter however many of its months it spent in).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from domain.shared.errors import ValidationFailed
from domain.shared.money import CENT
from domain.wallet.ledger import ZERO
from domain.wallet.model import Figures

PERIODS = ("today", "yesterday", "7d", "30d", "range")
PERIOD_DAYS = {"today": 1, "yesterday": 1, "7d": 7, "30d": 30}
MAX_RANGE_DAYS = 366
TOP_DEFAULT = 10
QUARTER_MONTHS = 3
MIN_YEAR, MAX_YEAR = 2000, 2100


# -- rows the queries answer ------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class PrincipalSpend:
    """One principal's spend over a run of days, with where the money came from."""

    org_id: str
    cash: Decimal = ZERO
    normal_coupon: Decimal = ZERO
    traffic_coupon: Decimal = ZERO
    post_pay: Decimal = ZERO
    count: int = 0  # charge and capture lines

    @property
    def amount(self) -> Decimal:
        return self.cash + self.normal_coupon + self.traffic_coupon + self.post_pay

    def __add__(self, other: PrincipalSpend) -> PrincipalSpend:
        return PrincipalSpend(self.org_id, self.cash + other.cash, self.normal_coupon + other.normal_coupon,
                              self.traffic_coupon + other.traffic_coupon, self.post_pay + other.post_pay,
                              self.count + other.count)


@dataclasses.dataclass(frozen=True)
class DaySpend:
    """The spend of a set of principals on one local day."""

    day: str  # YYYY-MM-DD, platform time zone
    amount: Decimal = ZERO
    principals: int = 0  # principals with spend that day


@dataclasses.dataclass(frozen=True)
class MonthSpend:
    """One principal's spend in one local month (only months with spend are answered)."""

    org_id: str
    month: str  # YYYY-MM, platform time zone
    amount: Decimal


@dataclasses.dataclass(frozen=True)
class PrincipalFunds:
    """What a principal's wallet holds now (a principal without a wallet row has nothing)."""

    org_id: str
    figures: Figures
    daily_budget: Decimal | None = None

    @property
    def available(self) -> Decimal:
        return self.figures.available

    @classmethod
    def empty(cls, org_id: str) -> PrincipalFunds:
        return cls(org_id, Figures(cash=ZERO, coupons_normal=ZERO, coupons_traffic=ZERO, credit_limit=ZERO,
                                   credit_used=ZERO, held=ZERO, deposit_due=ZERO, deposit_paid=ZERO))


# -- periods ------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Period:
    """A run of whole local days, both ends included."""

    first: date
    last: date
    name: str = "range"

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> Period:
        """The run of the same length that ends the day before this one starts."""
        last = self.first - timedelta(days=1)
        return Period(last - timedelta(days=self.days - 1), last, "previous")

    def day_list(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range(self.days)]

    @classmethod
    def resolve(cls, name: str | None, today: date, first: date | None = None,
                last: date | None = None) -> Period:
        """``today``, ``yesterday``, ``7d`` and ``30d`` end today (``yesterday``: the day
        before); ``range`` takes ``from`` and ``to`` (both included, at most
        ``MAX_RANGE_DAYS`` days). No name means ``range`` when dates are given, else today."""
        if name is None:
            name = "range" if first is not None or last is not None else "today"
        if name not in PERIODS:
            raise ValidationFailed("period", f"must be one of {', '.join(PERIODS)}", code="invalid_period")
        if name != "range":
            for field, value in (("from", first), ("to", last)):
                if value is not None:
                    raise ValidationFailed(field, "is allowed only with period=range", code="invalid_period")
            end = today - timedelta(days=1) if name == "yesterday" else today
            return cls(end - timedelta(days=PERIOD_DAYS[name] - 1), end, name)
        if first is None:
            raise ValidationFailed("from", "is required with period=range", code="invalid_period")
        if last is None:
            raise ValidationFailed("to", "is required with period=range", code="invalid_period")
        for field, value in (("from", first), ("to", last)):
            if not MIN_YEAR <= value.year <= MAX_YEAR:
                raise ValidationFailed(field, f"must be a date in {MIN_YEAR}-{MAX_YEAR}", code="invalid_period")
        if last < first:
            raise ValidationFailed("to", "must not be before from", code="invalid_period")
        if (last - first).days + 1 > MAX_RANGE_DAYS:
            raise ValidationFailed("to", f"the range is at most {MAX_RANGE_DAYS} days", code="invalid_period")
        return cls(first, last, "range")


# -- figures --------------------------------------------------------------------------------------

def arpu(spend: Decimal, principals: int) -> Decimal:
    """Spend per principal with spend, to the cent (half up); 0.00 when none spent."""
    if principals <= 0:
        return ZERO.quantize(CENT)
    return (spend / principals).quantize(CENT, rounding=ROUND_HALF_UP)


def change_percent(value: Decimal | int, previous: Decimal | int) -> Decimal | None:
    """(value - previous) / previous in percent, 2 places half up; None when previous is 0."""
    if previous == 0:
        return None
    return ((Decimal(value) - Decimal(previous)) * 100 / Decimal(previous)).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclasses.dataclass(frozen=True)
class Comparison:
    """A figure of a period next to the same figure of the previous period."""

    value: Decimal | int
    previous: Decimal | int

    @property
    def change(self) -> Decimal | int:
        return self.value - self.previous

    @property
    def change_percent(self) -> Decimal | None:
        return change_percent(self.value, self.previous)


@dataclasses.dataclass(frozen=True)
class SpendFigures:
    """Totals of a period: spend (and its sources), principals with spend, ARPU."""

    spend: Decimal
    principals_with_spend: int
    cash: Decimal = ZERO
    normal_coupon: Decimal = ZERO
    traffic_coupon: Decimal = ZERO
    post_pay: Decimal = ZERO

    @property
    def arpu(self) -> Decimal:
        return arpu(self.spend, self.principals_with_spend)

    @classmethod
    def of(cls, rows: Iterable[PrincipalSpend]) -> SpendFigures:
        spending = [r for r in rows if r.amount > 0]
        return cls(spend=sum((r.amount for r in spending), ZERO), principals_with_spend=len(spending),
                   cash=sum((r.cash for r in spending), ZERO),
                   normal_coupon=sum((r.normal_coupon for r in spending), ZERO),
                   traffic_coupon=sum((r.traffic_coupon for r in spending), ZERO),
                   post_pay=sum((r.post_pay for r in spending), ZERO))


@dataclasses.dataclass(frozen=True)
class Overview:
    period: Period
    previous_period: Period
    principals: int  # authorised principals now
    current: SpendFigures
    previous: SpendFigures
    days: list[DaySpend]  # one per day of the period, zero days included (the trend)

    @property
    def spend(self) -> Comparison:
        return Comparison(self.current.spend, self.previous.spend)

    @property
    def principals_with_spend(self) -> Comparison:
        return Comparison(self.current.principals_with_spend, self.previous.principals_with_spend)

    @property
    def arpu(self) -> Comparison:
        return Comparison(self.current.arpu, self.previous.arpu)


def daily_series(period: Period, rows: Iterable[DaySpend]) -> list[DaySpend]:
    """One row per day of the period, in order; days without spend are zero."""
    by_day = {r.day: r for r in rows}
    return [by_day.get(d.isoformat(), DaySpend(d.isoformat())) for d in period.day_list()]


def top_by_spend(rows: Iterable[PrincipalSpend], names: dict[str, str], limit: int = TOP_DEFAULT
                 ) -> list[PrincipalSpend]:
    """Principals with spend, the largest first (ties: by name, then id), at most ``limit``."""
    spending = [r for r in rows if r.amount > 0]
    spending.sort(key=lambda r: (-r.amount, names.get(r.org_id, ""), r.org_id))
    return spending[:limit]


# -- fund anomalies ---------------------------------------------------------------------------------

def is_fund_anomaly(available: Decimal, yesterday_spend: Decimal) -> bool:
    """The balance will not last a day at yesterday's rate."""
    return yesterday_spend > 0 and available < yesterday_spend


def days_left(available: Decimal, daily_spend: Decimal) -> Decimal | None:
    """How many days the balance lasts at ``daily_spend`` (2 places, rounded down)."""
    if daily_spend <= 0:
        return None
    return (max(available, ZERO) / daily_spend).quantize(CENT, rounding=ROUND_DOWN)


@dataclasses.dataclass(frozen=True)
class FundAnomaly:
    org_id: str
    yesterday_spend: Decimal
    funds: PrincipalFunds

    @property
    def available(self) -> Decimal:
        return self.funds.available

    @property
    def shortfall(self) -> Decimal:
        return self.yesterday_spend - self.available

    @property
    def days_left(self) -> Decimal:
        left = days_left(self.available, self.yesterday_spend)
        assert left is not None  # an anomaly has spend
        return left


def fund_anomalies(yesterday: Iterable[PrincipalSpend], funds: dict[str, PrincipalFunds]) -> list[FundAnomaly]:
    """Principals whose balance will not last a day at yesterday's spend; the most urgent
    (fewest days left, then the largest shortfall) first."""
    out = []
    for row in yesterday:
        f = funds.get(row.org_id) or PrincipalFunds.empty(row.org_id)
        if is_fund_anomaly(f.available, row.amount):
            out.append(FundAnomaly(row.org_id, row.amount, f))
    out.sort(key=lambda a: (a.days_left, -a.shortfall, a.org_id))
    return out


# -- performance ------------------------------------------------------------------------------------

def check_year(year: int) -> int:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValidationFailed("year", f"must be between {MIN_YEAR} and {MAX_YEAR}", code="invalid_year")
    return year


def year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


def quarter_of(month: str) -> str:
    """``2026-05`` -> ``2026-Q2``."""
    year, _, mm = month.partition("-")
    return f"{year}-Q{(int(mm) - 1) // QUARTER_MONTHS + 1}"


PERFORMANCE_LISTED = 100  # principals listed per bucket (the count covers all of them)


@dataclasses.dataclass(frozen=True)
class BucketPrincipal:
    """A principal with spend in a performance bucket."""

    org_id: str
    spend: Decimal
    name: str = ""


@dataclasses.dataclass(frozen=True)
class PerformanceBucket:
    period: str  # YYYY-MM or YYYY-Qn
    principals_with_spend: int
    spend: Decimal
    principals: list[BucketPrincipal] = dataclasses.field(default_factory=list)  # most spend first


@dataclasses.dataclass(frozen=True)
class Performance:
    year: int
    months: list[PerformanceBucket]  # 12, January first
    quarters: list[PerformanceBucket]  # 4
    year_total: PerformanceBucket


def performance(year: int, rows: Sequence[MonthSpend], names: Mapping[str, str] | None = None) -> Performance:
    """Principals with spend > 0 per month, per quarter and in the year (each principal
    counted once per bucket, and listed with its spend in the bucket, most first), with
    the spend of each bucket. ``names`` labels the principals."""
    check_year(year)
    names = names or {}
    months = [f"{year}-{m:02d}" for m in range(1, 13)]
    quarters = [f"{year}-Q{q}" for q in range(1, 5)]
    who: dict[str, dict[str, Decimal]] = {p: {} for p in [*months, *quarters, str(year)]}
    for r in rows:
        if r.amount <= 0 or r.month not in who:
            continue
        for name in (r.month, quarter_of(r.month), str(year)):
            who[name][r.org_id] = who[name].get(r.org_id, ZERO) + r.amount

    def bucket(p: str) -> PerformanceBucket:
        listed = sorted((BucketPrincipal(o, a, names.get(o, "")) for o, a in who[p].items()),
                        key=lambda ps: (-ps.spend, ps.org_id))
        return PerformanceBucket(p, len(listed), sum((ps.spend for ps in listed), ZERO),
                                 listed[:PERFORMANCE_LISTED])

    return Performance(year, [bucket(m) for m in months], [bucket(q) for q in quarters], bucket(str(year)))
