"""Shared bits of the workflow unit tests."""
from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo

from domain.workflow.calendar import WorkCalendar, WorkSchedule, calendar_from_chinesecalendar

CST = ZoneInfo("Asia/Shanghai")


def cst(y: int, m: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    """A Beijing wall-clock time as the aware UTC datetime the domain takes."""
    return datetime(y, m, d, h, mi, s, tzinfo=CST).astimezone(UTC)


@cache
def china_2019_2020() -> WorkCalendar:
    return calendar_from_chinesecalendar([2019, 2020])


def schedule() -> WorkSchedule:
    return WorkSchedule(china_2019_2020())
