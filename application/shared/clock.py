"""Time enters the system only through the Clock port, so tests can steer it."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

SUPPORTED_YEARS = range(1900, 9999)  # a date or moment outside is refused (422): a day or an
# offset more would leave what Python's datetime and the databases hold


OUT_OF_RANGE = f"must lie in the years {SUPPORTED_YEARS.start} to {SUPPORTED_YEARS.stop - 1}"


def supported(moment: date) -> bool:
    """Whether a date or moment (a datetime is a date) lies in ``SUPPORTED_YEARS``."""
    return moment.year in SUPPORTED_YEARS


def parse_moment(raw: str, tz: tzinfo | None, *, end: bool = False) -> datetime:
    """A moment a caller names in a filter: an ISO 8601 timestamp with its offset or, given
    the platform's ``tz``, a date — that day there, from its start (``end``: up to its end,
    the next day's start). ``ValueError`` says what is wrong with it."""
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError("must be a date (YYYY-MM-DD) or an ISO 8601 timestamp with offset" if tz is not None
                         else "must be an ISO 8601 timestamp with offset") from None
    if not supported(value):
        raise ValueError(OUT_OF_RANGE)
    if tz is not None and len(raw) == 10:  # a date, as parse_at reads it too
        start = value.replace(tzinfo=tz)
        return start + timedelta(days=1) if end else start
    if value.tzinfo is None:
        raise ValueError("needs a UTC offset")
    return value


def parse_at(raw: str, tz: tzinfo) -> datetime:
    """The moment figures are asked "at": a timestamp as given; a date means the end of that
    day, after its last entry and before the next day's first (figures count what happened
    up to and including their moment)."""
    moment = parse_moment(raw, tz, end=True)
    return moment - timedelta(microseconds=1) if len(raw) == 10 else moment


class Clock:
    """System clock in UTC plus the platform time zone for day boundaries."""

    def __init__(self, tz: str = "Asia/Shanghai") -> None:
        self.tz = ZoneInfo(tz)

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return self.now().astimezone(self.tz).date()

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz)
