"""Time enters the system only through the Clock port, so tests can steer it."""
from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

SUPPORTED_YEARS = range(1900, 9999)  # a date or moment outside is refused (422): a day or an
# offset more would leave what Python's datetime and the databases hold


def supported(moment: date) -> bool:
    """Whether a date or moment (a datetime is a date) lies in ``SUPPORTED_YEARS``."""
    return moment.year in SUPPORTED_YEARS


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
