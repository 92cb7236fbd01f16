"""Working-day calendar and working-time arithmetic for node deadlines.

A calendar is data: a map of dates to ``"holiday"`` or ``"workday"``. A date that is
not listed follows the weekly rule (Monday-Friday work, Saturday/Sunday rest); a
listed ``holiday`` never works and a listed ``workday`` always works (the make-up
working days the Chinese official calendar puts on weekends).

Working time accrues only during whole calendar days (00:00-24:00 in the platform
time zone, Asia/Shanghai) that are working days. A deadline is the *first* moment at
which the working time accrued since entry equals ``timeout_days x 24 h``:

* 1.5 days entered on a Friday 10:00 before a normal weekend -> Monday 22:00
  (14 h on Friday, 22 h on Monday);
* entered on a Sunday at 10:00 -> accrual starts Monday 00:00;
* 1 day entered on a Friday 00:00 -> Saturday 00:00 (Friday 24:00 is the first moment
  at which 24 h have accrued, not Monday 00:00);
* timeout 0 -> the entry time itself.

Timestamps go in and come out as aware UTC datetimes; naive datetimes are refused.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Literal
from zoneinfo import ZoneInfo

from domain.shared.errors import ValidationFailed

DayKind = Literal["holiday", "workday"]
DAY_KINDS: tuple[str, ...] = ("holiday", "workday")
PLATFORM_TZ = ZoneInfo("Asia/Shanghai")
ONE_DECIMAL = Decimal("0.1")
MAX_TIMEOUT_DAYS = Decimal("999.9")
_DAY = timedelta(days=1)


# --------------------------------------------------------------------------- calendar
@dataclasses.dataclass(frozen=True)
class WorkCalendar:
    """Listed days override the Monday-Friday rule. Immutable; edit by building a new one."""

    days: Mapping[date, DayKind] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        for i, (day, kind) in enumerate(self.days.items()):
            if not isinstance(day, date) or isinstance(day, datetime):
                raise ValidationFailed(f"days[{i}].date", "must be a date", code="invalid_calendar")
            if kind not in DAY_KINDS:
                raise ValidationFailed(f"days[{i}].kind", "must be holiday or workday", code="invalid_calendar")
        object.__setattr__(self, "days", dict(self.days))  # a private copy: callers cannot edit it

    @classmethod
    def from_entries(cls, entries: Iterable[tuple[date | str, str]]) -> WorkCalendar:
        """Build from ``(date or ISO string, kind)`` rows as the API sends them.

        Errors name the row: ``days[3].date`` / ``days[3].kind``; a date listed twice
        is refused so an edit cannot silently drop one of two contradicting rows.
        """
        days: dict[date, DayKind] = {}
        for i, (raw_day, kind) in enumerate(entries):
            if isinstance(raw_day, datetime):
                raise ValidationFailed(f"days[{i}].date", "must be a date", code="invalid_calendar")
            if isinstance(raw_day, date):
                day = raw_day
            else:
                try:
                    day = date.fromisoformat(str(raw_day))
                except ValueError as exc:
                    raise ValidationFailed(f"days[{i}].date", "must be an ISO date (YYYY-MM-DD)",
                                           code="invalid_calendar") from exc
            if kind == "holiday":
                checked: DayKind = "holiday"
            elif kind == "workday":
                checked = "workday"
            else:
                raise ValidationFailed(f"days[{i}].kind", "must be holiday or workday", code="invalid_calendar")
            if day in days:
                raise ValidationFailed(f"days[{i}].date", f"{day.isoformat()} is listed twice",
                                       code="invalid_calendar")
            days[day] = checked
        return cls(days)

    def is_working_day(self, day: date) -> bool:
        kind = self.days.get(day)
        if kind == "holiday":
            return False
        if kind == "workday":
            return True
        return day.weekday() < 5

    def years(self) -> frozenset[int]:
        """Years for which the calendar holds at least one listed day."""
        return frozenset(d.year for d in self.days)

    def overlay(self, overrides: WorkCalendar | None) -> WorkCalendar:
        """This calendar (the platform default) with a vendor's listed days winning."""
        if overrides is None or not overrides.days:
            return self
        merged: dict[date, DayKind] = dict(self.days)
        merged.update(overrides.days)
        return WorkCalendar(merged)

    def entries(self) -> list[tuple[date, DayKind]]:
        return sorted(self.days.items())


def calendar_from_chinesecalendar(years: Iterable[int]) -> WorkCalendar:
    """The official Chinese calendar (public holidays and make-up working days).

    Data comes from the ``chinesecalendar`` package (``import chinese_calendar``),
    which holds each year once the State Council has announced it. Years it has no
    data for are skipped, not guessed: ``missing_years`` then reports them so the
    platform can warn. The import is local so the rest of the domain does not
    depend on the package.
    """
    from chinese_calendar import constants

    wanted = set(years)
    days: dict[date, DayKind] = {}
    for day in constants.holidays:
        if day.year in wanted:
            days[day] = "holiday"
    for day in constants.workdays:
        if day.year in wanted:
            days[day] = "workday"
    return WorkCalendar(days)


def chinesecalendar_years() -> frozenset[int]:
    """Years the installed ``chinesecalendar`` package has official data for."""
    from chinese_calendar import constants

    return frozenset(d.year for d in constants.holidays)


def missing_years(calendar: WorkCalendar, today: date) -> list[int]:
    """Years of {this year, the coming year} for which the calendar lists no day.

    A year "has data" once any day of it is listed (every official year has public
    holidays). The coming year is what the warning is for; the current year is
    included too because a missing current year is the same problem, only worse.
    """
    have = calendar.years()
    return [y for y in (today.year, today.year + 1) if y not in have]


# --------------------------------------------------------------------------- timeouts
def parse_timeout_days(value: object, field: str = "timeout_days") -> Decimal:
    """A timeout in working days: a decimal >= 0 with at most one decimal place.

    Floats are refused (as for money) so 0.1 is never 0.1000000000000000055.
    ``1.50`` is accepted as 1.5; ``1.55`` is refused.
    """
    if isinstance(value, (bool, float)):
        raise ValidationFailed(field, "must be a decimal string or integer, not a float", code="invalid_timeout")
    try:
        days = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationFailed(field, "is not a decimal number", code="invalid_timeout") from exc
    if not days.is_finite():
        raise ValidationFailed(field, "must be finite", code="invalid_timeout")
    if days < 0:
        raise ValidationFailed(field, "must be >= 0", code="invalid_timeout")
    if days != days.quantize(ONE_DECIMAL):
        raise ValidationFailed(field, "has more than 1 decimal place", code="invalid_timeout")
    if days > MAX_TIMEOUT_DAYS:
        raise ValidationFailed(field, f"must be at most {MAX_TIMEOUT_DAYS}", code="invalid_timeout")
    return days.quantize(ONE_DECIMAL)


def timeout_duration(timeout_days: Decimal, field: str = "timeout_days") -> timedelta:
    """``timeout_days x 24 h`` exactly (0.1 day = 2 h 24 min = 8,640 s)."""
    days = parse_timeout_days(timeout_days, field)
    return timedelta(seconds=int(days * 86400))


def _check_aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (UTC), got a naive one")
    return value.astimezone(UTC)


def _day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[local 00:00, next local 00:00) of ``day`` as UTC instants."""
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + _DAY, time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def add_working_time(start: datetime, duration: timedelta, calendar: WorkCalendar,
                     tz: ZoneInfo = PLATFORM_TZ) -> datetime:
    """The first moment ``t >= start`` with ``working_time_between(start, t) == duration``."""
    at = _check_aware(start, "start")
    if duration < timedelta(0):
        raise ValueError("duration must be >= 0")
    if duration == timedelta(0):
        return at
    remaining = duration
    day = at.astimezone(tz).date()
    while True:
        day_start, day_end = _day_bounds(day, tz)
        if calendar.is_working_day(day):
            seg_start = max(at, day_start)
            available = day_end - seg_start
            if remaining <= available:
                return seg_start + remaining
            remaining -= available
        day += _DAY


def deadline(entered_at: datetime, timeout_days: Decimal, calendar: WorkCalendar,
             tz: ZoneInfo = PLATFORM_TZ) -> datetime:
    """Deadline of a node entered at ``entered_at`` with ``timeout_days`` working days.

    ``timeout_days`` must be >= 0 with at most one decimal (``ValidationFailed`` on
    the field ``timeout_days`` otherwise). See the module docstring for the rule.
    """
    return add_working_time(entered_at, timeout_duration(timeout_days), calendar, tz)


def working_time_between(a: datetime, b: datetime, calendar: WorkCalendar,
                         tz: ZoneInfo = PLATFORM_TZ) -> timedelta:
    """Working time accrued in ``[a, b]``; ``b`` must not be before ``a``."""
    start = _check_aware(a, "a")
    end = _check_aware(b, "b")
    if end < start:
        raise ValueError("b must not be before a")
    total = timedelta(0)
    day = start.astimezone(tz).date()
    while True:
        day_start, day_end = _day_bounds(day, tz)
        if day_start >= end:
            return total
        if calendar.is_working_day(day):
            lo = max(start, day_start)
            hi = min(end, day_end)
            if hi > lo:
                total += hi - lo
        day += _DAY


def resume_deadline(old_deadline: datetime, paused_at: datetime, resumed_at: datetime,
                    calendar: WorkCalendar, tz: ZoneInfo = PLATFORM_TZ) -> datetime:
    """A running deadline after a pause from ``paused_at`` to ``resumed_at``.

    Rule: the working time that remained at the pause is preserved. With
    ``R = working_time_between(paused_at, old_deadline)`` the new deadline is the
    first moment ``d >= resumed_at`` with ``working_time_between(resumed_at, d) == R``.
    This equals pushing the deadline back by the paused working time
    ``P = working_time_between(paused_at, resumed_at)``: ``working_time_between(
    old_deadline, d) == P``; a pause that lies wholly on non-working days moves
    nothing. A deadline already passed when the pause began (the node was overdue)
    stays where it is: pausing does not erase an overrun.
    """
    old = _check_aware(old_deadline, "old_deadline")
    paused = _check_aware(paused_at, "paused_at")
    resumed = _check_aware(resumed_at, "resumed_at")
    if resumed < paused:
        raise ValueError("resumed_at must not be before paused_at")
    if old <= paused:
        return old
    remaining = working_time_between(paused, old, calendar, tz)
    return add_working_time(resumed, remaining, calendar, tz)


@dataclasses.dataclass(frozen=True)
class WorkSchedule:
    """A calendar bound to a time zone: what the project state machine needs."""

    calendar: WorkCalendar = dataclasses.field(default_factory=WorkCalendar)
    tz: ZoneInfo = PLATFORM_TZ

    def deadline(self, entered_at: datetime, timeout_days: Decimal) -> datetime:
        return deadline(entered_at, timeout_days, self.calendar, self.tz)

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        return working_time_between(a, b, self.calendar, self.tz)

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        return add_working_time(start, duration, self.calendar, self.tz)

    def resume_deadline(self, old_deadline: datetime, paused_at: datetime, resumed_at: datetime) -> datetime:
        return resume_deadline(old_deadline, paused_at, resumed_at, self.calendar, self.tz)
