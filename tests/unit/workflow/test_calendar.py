"""Working-day deadlines on the real 2019 and 2020 Chinese calendars (issue 4 item 4)."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.shared.errors import ValidationFailed
from domain.workflow.calendar import (
    WorkCalendar,
    add_working_time,
    calendar_from_chinesecalendar,
    chinesecalendar_years,
    deadline,
    missing_years,
    parse_timeout_days,
    resume_deadline,
    working_time_between,
)
from tests.unit.workflow.helpers import china_2019_2020, cst

PLAIN = WorkCalendar()  # weekends only
D = Decimal


def test_the_spec_example_friday_plus_one_and_a_half_days_is_monday_22h() -> None:
    # 2019-11-08 is a Friday with an ordinary weekend after it
    assert deadline(cst(2019, 11, 8, 10), D("1.5"), PLAIN) == cst(2019, 11, 11, 22)
    assert deadline(cst(2019, 11, 8, 10), D("1.5"), china_2019_2020()) == cst(2019, 11, 11, 22)


def test_entered_on_sunday_starts_accruing_monday_midnight() -> None:
    assert deadline(cst(2019, 11, 10, 10), D("0.5"), PLAIN) == cst(2019, 11, 11, 12)
    assert deadline(cst(2019, 11, 10, 10), D("1"), PLAIN) == cst(2019, 11, 12, 0)


def test_result_is_aware_utc() -> None:
    result = deadline(cst(2019, 11, 8, 10), D("1.5"), PLAIN)
    assert result.tzinfo is UTC
    assert result == datetime(2019, 11, 11, 14, tzinfo=UTC)  # 22:00 Beijing = 14:00 UTC


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        deadline(datetime(2019, 11, 8, 10), D("1"), PLAIN)


# ---------------------------------------------------------------- National Day 2019
def test_national_day_week_is_skipped() -> None:
    cal = china_2019_2020()
    # Monday 2019-09-30 12:00 + 1 day: 12 h on Monday, Oct 1-7 off, 12 h on Tuesday Oct 8
    assert deadline(cst(2019, 9, 30, 12), D("1"), cal) == cst(2019, 10, 8, 12)
    for day in range(1, 8):
        assert not cal.is_working_day(date(2019, 10, day))


def test_make_up_sunday_2019_09_29_counts() -> None:
    cal = china_2019_2020()
    assert cal.is_working_day(date(2019, 9, 29))  # a Sunday worked for National Day
    assert not cal.is_working_day(date(2019, 9, 28))
    # Friday 10:00 + 1.5 days: 14 h on Friday, Saturday off, 22 h on the make-up Sunday
    assert deadline(cst(2019, 9, 27, 10), D("1.5"), cal) == cst(2019, 9, 29, 22)
    # the same on a weekends-only calendar would end on Monday
    assert deadline(cst(2019, 9, 27, 10), D("1.5"), PLAIN) == cst(2019, 9, 30, 22)


def test_make_up_saturday_2019_10_12_counts() -> None:
    cal = china_2019_2020()
    assert cal.is_working_day(date(2019, 10, 12))
    assert deadline(cst(2019, 10, 11, 18), D("1"), cal) == cst(2019, 10, 12, 18)
    assert deadline(cst(2019, 10, 11, 18), D("1"), PLAIN) == cst(2019, 10, 14, 18)


# ---------------------------------------------------------------- Spring Festival 2020
def test_spring_festival_2020_extension() -> None:
    cal = china_2019_2020()
    # the extended holiday ran to Sunday Feb 2; Saturday Feb 1 stopped being a make-up day
    assert not cal.is_working_day(date(2020, 1, 31))
    assert not cal.is_working_day(date(2020, 2, 1))
    assert cal.is_working_day(date(2020, 1, 19))  # make-up Sunday before the festival
    assert deadline(cst(2020, 1, 23, 12), D("1"), cal) == cst(2020, 2, 3, 12)
    assert deadline(cst(2020, 1, 17, 12), D("1"), cal) == cst(2020, 1, 19, 12)


# ---------------------------------------------------------------- boundaries
def test_entered_exactly_at_midnight() -> None:
    assert deadline(cst(2019, 11, 11), D("1"), PLAIN) == cst(2019, 11, 12)  # Monday -> Tuesday 00:00


def test_a_full_friday_ends_at_friday_24h_not_monday() -> None:
    assert deadline(cst(2019, 11, 8), D("1"), PLAIN) == cst(2019, 11, 9)
    assert deadline(cst(2019, 11, 8), D("1.1"), PLAIN) == cst(2019, 11, 11, 2, 24)


def test_timeout_zero_is_the_entry_time_even_on_a_holiday() -> None:
    assert deadline(cst(2019, 11, 8, 10), D("0"), PLAIN) == cst(2019, 11, 8, 10)
    assert deadline(cst(2019, 10, 3, 10), D("0"), china_2019_2020()) == cst(2019, 10, 3, 10)


def test_one_tenth_of_a_day_is_two_hours_twenty_four() -> None:
    assert deadline(cst(2019, 11, 8, 10), D("0.1"), PLAIN) == cst(2019, 11, 8, 12, 24)
    # and it spills over a weekend: Friday 23:00 + 2.4 h = Monday 01:24
    assert deadline(cst(2019, 11, 8, 23), D("0.1"), PLAIN) == cst(2019, 11, 11, 1, 24)


@pytest.mark.parametrize("bad", ["1.55", "-1", "-0.1", "abc", "NaN", "Infinity", 1.5, True, "1000"])
def test_bad_timeouts_name_the_field(bad: object) -> None:
    with pytest.raises(ValidationFailed) as err:
        deadline(cst(2019, 11, 8, 10), bad, PLAIN)  # type: ignore[arg-type]
    assert err.value.field == "timeout_days"
    assert err.value.code == "invalid_timeout"


def test_timeout_parsing_accepts_one_decimal_and_trailing_zero() -> None:
    assert parse_timeout_days("1.50") == D("1.5")
    assert parse_timeout_days(3) == D("3.0")
    assert parse_timeout_days(D("999.9")) == D("999.9")
    with pytest.raises(ValidationFailed) as err:
        parse_timeout_days("2.25", "nodes[3].timeout_days")
    assert err.value.field == "nodes[3].timeout_days"


# ---------------------------------------------------------------- working time
def test_working_time_between() -> None:
    cal = china_2019_2020()
    assert working_time_between(cst(2019, 11, 8, 10), cst(2019, 11, 11, 22), PLAIN) == timedelta(hours=36)
    assert working_time_between(cst(2019, 9, 30, 12), cst(2019, 10, 8, 12), cal) == timedelta(hours=24)
    assert working_time_between(cst(2019, 10, 2), cst(2019, 10, 6), cal) == timedelta(0)
    assert working_time_between(cst(2019, 11, 8, 10), cst(2019, 11, 8, 10), PLAIN) == timedelta(0)
    with pytest.raises(ValueError, match="before"):
        working_time_between(cst(2019, 11, 8, 11), cst(2019, 11, 8, 10), PLAIN)


def test_pause_across_national_day_keeps_the_remaining_working_time() -> None:
    cal = china_2019_2020()
    entered = cst(2019, 9, 27, 10)  # Friday; 3 days: 14 h Fri + 24 h Sun 29 + 24 h Mon 30 + 10 h Oct 8
    old = deadline(entered, D("3"), cal)
    assert old == cst(2019, 10, 8, 10)
    paused, resumed = cst(2019, 9, 30, 12), cst(2019, 10, 9, 9)
    new = resume_deadline(old, paused, resumed, cal)
    # 22 h were left at the pause (12 h Monday + 10 h Oct 8): Wednesday 09:00 + 22 h
    assert new == cst(2019, 10, 10, 7)
    # the same thing said the other way: pushed back by the paused working time (45 h)
    assert working_time_between(paused, resumed, cal) == timedelta(hours=45)
    assert working_time_between(old, new, cal) == timedelta(hours=45)


def test_a_pause_wholly_inside_a_holiday_moves_nothing() -> None:
    cal = china_2019_2020()
    old = cst(2019, 10, 9, 15)
    assert resume_deadline(old, cst(2019, 10, 2, 9), cst(2019, 10, 6, 18), cal) == old


def test_a_deadline_passed_before_the_pause_stays() -> None:
    old = cst(2019, 11, 8, 10)
    assert resume_deadline(old, cst(2019, 11, 8, 11), cst(2019, 11, 12, 9), PLAIN) == old


def test_time_zone_days_follow_the_wall_clock() -> None:
    # Europe/Berlin lost an hour on Sunday 2019-03-31; make that day a working day
    berlin = ZoneInfo("Europe/Berlin")
    cal = WorkCalendar({date(2019, 3, 31): "workday"})
    start = datetime(2019, 3, 31, tzinfo=berlin).astimezone(UTC)
    end = datetime(2019, 4, 1, tzinfo=berlin).astimezone(UTC)
    assert working_time_between(start, end, cal, berlin) == timedelta(hours=23)
    assert add_working_time(start, timedelta(hours=23), cal, berlin) == end


# ---------------------------------------------------------------- properties
ENTRY = st.datetimes(min_value=datetime(2019, 1, 1), max_value=datetime(2020, 12, 20),
                     timezones=st.just(UTC)).map(lambda d: d.replace(microsecond=0))
TIMEOUT = st.integers(min_value=0, max_value=300).map(lambda n: Decimal(n) / 10)


@settings(max_examples=200, deadline=None)
@given(entered=ENTRY, t=TIMEOUT)
def test_working_time_to_the_deadline_is_the_timeout(entered: datetime, t: Decimal) -> None:
    cal = china_2019_2020()
    due = deadline(entered, t, cal)
    wanted = timedelta(seconds=8640) * int(t * 10)  # t x 24 h, exactly
    assert working_time_between(entered, due, cal) == wanted
    if t > 0:  # and it is the first such moment
        assert working_time_between(entered, due - timedelta(seconds=1), cal) < wanted


@settings(max_examples=200, deadline=None)
@given(entered=ENTRY, t1=TIMEOUT, t2=TIMEOUT)
def test_deadline_is_monotone_in_the_timeout(entered: datetime, t1: Decimal, t2: Decimal) -> None:
    cal = china_2019_2020()
    lo, hi = sorted((t1, t2))
    assert deadline(entered, lo, cal) <= deadline(entered, hi, cal)


@settings(max_examples=200, deadline=None)
@given(e1=ENTRY, e2=ENTRY, t=TIMEOUT)
def test_deadline_is_monotone_in_the_entry_time(e1: datetime, e2: datetime, t: Decimal) -> None:
    cal = china_2019_2020()
    first, second = sorted((e1, e2))
    assert deadline(first, t, cal) <= deadline(second, t, cal)


@settings(max_examples=150, deadline=None)
@given(entered=ENTRY, t=TIMEOUT.filter(lambda x: x > 0), pause_h=st.integers(0, 400), pause_len_h=st.integers(0, 400))
def test_resume_preserves_the_remaining_working_time(entered: datetime, t: Decimal, pause_h: int,
                                                     pause_len_h: int) -> None:
    cal = china_2019_2020()
    old = deadline(entered, t, cal)
    paused = entered + timedelta(hours=pause_h)
    resumed = paused + timedelta(hours=pause_len_h)
    new = resume_deadline(old, paused, resumed, cal)
    if old <= paused:
        assert new == old
    else:
        assert working_time_between(resumed, new, cal) == working_time_between(paused, old, cal)
        assert working_time_between(old, new, cal) == working_time_between(paused, resumed, cal)


# ---------------------------------------------------------------- data and loader
def test_loader_uses_the_official_data_for_the_years_asked() -> None:
    cal = calendar_from_chinesecalendar([2019])
    assert cal.days[date(2019, 10, 1)] == "holiday"
    assert cal.days[date(2019, 9, 29)] == "workday"
    assert cal.days[date(2019, 10, 12)] == "workday"
    assert cal.years() == frozenset({2019})
    assert {2019, 2020}.issubset(chinesecalendar_years())


def test_missing_years_warns_about_the_coming_year() -> None:
    cal = china_2019_2020()
    assert missing_years(cal, date(2019, 6, 1)) == []
    assert missing_years(cal, date(2020, 6, 1)) == [2021]
    assert missing_years(WorkCalendar(), date(2020, 6, 1)) == [2020, 2021]
    # a year the package has no data for yields nothing, so the warning stays on
    assert calendar_from_chinesecalendar([2100]).days == {}


def test_calendar_rows_are_validated_with_the_row_named() -> None:
    cal = WorkCalendar.from_entries([("2019-10-08", "holiday"), (date(2019, 10, 13), "workday")])
    assert not cal.is_working_day(date(2019, 10, 8))
    assert cal.is_working_day(date(2019, 10, 13))
    with pytest.raises(ValidationFailed) as err:
        WorkCalendar.from_entries([("2019-10-08", "holiday"), ("2019-10-09", "vacation")])
    assert err.value.field == "days[1].kind"
    with pytest.raises(ValidationFailed) as err:
        WorkCalendar.from_entries([("2019-13-01", "holiday")])
    assert err.value.field == "days[0].date"
    with pytest.raises(ValidationFailed) as err:
        WorkCalendar.from_entries([("2019-10-08", "holiday"), ("2019-10-08", "workday")])
    assert err.value.field == "days[1].date"


def test_a_vendor_calendar_overrides_the_platform_default() -> None:
    platform = china_2019_2020()
    vendor = WorkCalendar({date(2019, 10, 8): "holiday", date(2019, 10, 5): "workday"})
    cal = platform.overlay(vendor)
    assert not cal.is_working_day(date(2019, 10, 8))
    assert cal.is_working_day(date(2019, 10, 5))
    assert not cal.is_working_day(date(2019, 10, 4))  # still the platform's holiday
    assert platform.overlay(None) is platform
    # Monday Sep 30 12:00 + 1 day: 12 h on Monday, then 12 h on the vendor's working Saturday Oct 5
    assert deadline(cst(2019, 9, 30, 12), D("1"), cal) == cst(2019, 10, 5, 12)
