"""Column types that behave the same on PostgreSQL and SQLite."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Text
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, always returns timezone-aware UTC datetimes (SQLite keeps naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class TagList(TypeDecorator[tuple[str, ...]]):
    """A small set of names stored as ``,a,b,`` so ``LIKE '%,a,%'`` filters portably."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return "," + ",".join(sorted(value)) + "," if value else ","

    def process_result_value(self, value: str | None, dialect: Any) -> tuple[str, ...] | None:
        if value is None:
            return None
        return tuple(v for v in value.split(",") if v)


def tag_pattern(tag: str) -> str:
    return f"%,{tag},%"
