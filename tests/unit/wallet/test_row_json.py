"""Rows travel to PostgreSQL as JSON records (adapters/postgres/wallet_repos.py ``_json``,
orjson): money keeps its exact digits, moments their offset and microseconds, exactly as
``json.dumps`` with ``str`` and ``isoformat`` wrote them before."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from freezegun import freeze_time

from adapters.postgres.wallet_repos import _json

SHANGHAI = timezone(timedelta(hours=8))


def _stdlib(value: object) -> str:
    return json.dumps(value, separators=(",", ":"),
                      default=lambda v: v.isoformat() if isinstance(v, date) else str(v))


@pytest.mark.parametrize("row", [
    {"amount": Decimal("-0.01"), "cash": Decimal("9999999999999999.99"), "zero": Decimal("0.00")},
    {"at": datetime(2026, 12, 2, 18, 27, 24, 106437, tzinfo=UTC), "whole": datetime(2026, 1, 1, tzinfo=SHANGHAI)},
    {"day": date(2026, 12, 3), "none": None, "n": 3, "text": "订单 ord-1", "details": {"coupon_kind": "normal"}},
    [{"entry_id": "ent_1", "n": 0, "amount": Decimal("5.50")},
     {"entry_id": "ent_1", "n": 1, "amount": Decimal("-5.50")}],
])
def test_rows_are_written_as_the_standard_library_wrote_them(row: object) -> None:
    assert json.loads(_json(row)) == json.loads(_stdlib(row))
    if _stdlib(row).isascii() and "\\u" not in _stdlib(row):
        assert _json(row) == _stdlib(row)  # byte for byte
    else:
        assert "订单" in _json(row)  # as UTF-8, not escaped: PostgreSQL reads both


def test_money_keeps_every_digit_and_moments_their_offset() -> None:
    text = _json({"amount": Decimal("12345678901234.56"), "at": datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=SHANGHAI)})
    assert text == '{"amount":"12345678901234.56","at":"2026-01-01T00:00:00.000001+08:00"}'


def test_frozen_time_is_written_like_real_time() -> None:
    with freeze_time("2026-12-02 16:00:00"):
        now = datetime.now(UTC)
        assert type(now).__name__ == "FakeDatetime"  # freezegun's subclass, which orjson leaves to us
        assert _json({"at": now, "day": date.today()}) == '{"at":"2026-12-02T16:00:00+00:00","day":"2026-12-02"}'


def test_anything_else_is_refused() -> None:
    with pytest.raises(TypeError):
        _json({"x": object()})
