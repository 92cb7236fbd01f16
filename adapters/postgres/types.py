"""Column types that behave the same on PostgreSQL and SQLite."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Numeric, Text
from sqlalchemy.types import TypeDecorator

from domain.shared.errors import FigureOutOfRange


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
        if isinstance(value, str):  # a LIKE pattern compared with the column (tag_pattern), not a list
            return value
        return "," + ",".join(sorted(value)) + "," if value else ","

    def process_result_value(self, value: str | None, dialect: Any) -> tuple[str, ...] | None:
        if value is None:
            return None
        return tuple(v for v in value.split(",") if v)


def tag_pattern(tag: str) -> str:
    return f"%,{tag},%"


MAX_MONEY = Decimal("9999999999999999.99")  # NUMERIC(18, 2)


class Money(TypeDecorator[Decimal]):
    """Exact money on both databases: NUMERIC(18, 2) on PostgreSQL, integer cents on SQLite
    (whose NUMERIC is a float). Sums and comparisons in SQL stay exact either way."""

    impl = Numeric(18, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(18, 2))

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        amount = Decimal(value)
        if dialect.name == "sqlite":
            if abs(amount) > MAX_MONEY:  # what PostgreSQL's NUMERIC(18, 2) refuses, refused here too
                raise FigureOutOfRange(f"{amount} is beyond what a money column holds ({MAX_MONEY})")
            return int((amount * 100).to_integral_value())
        return amount

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / 100).quantize(_CENT)
        return Decimal(value).quantize(_CENT)


_CENT = Decimal("0.01")
