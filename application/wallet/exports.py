"""The wallet statement as an export kind (``wallet_entries``, CSV or XLSX)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from injector import inject

from application.exports import ExportSource
from application.shared.access import Caller
from application.shared.clock import Clock
from application.shared.uow import UnitOfWork, UnitOfWorkFactory
from application.wallet.services import WalletBase
from domain.shared.errors import ValidationFailed
from domain.wallet.ledger import ENTRY_TYPES
from domain.wallet.ports import LedgerRepository, LineFilter

PAGE = 1000
FILTERS = {"type", "from", "to", "reference"}
HEADER = ["created_at", "entry_id", "type", "reference", "amount", "cash", "normal_coupon", "traffic_coupon",
          "post_pay", "cash_after", "coupons_after", "credit_limit_after", "credit_used_after", "held_after",
          "deposit_paid_after", "available_after", "counterparty_org_id", "note"]


def _moment(clock: Clock, filters: dict[str, Any], key: str, *, end: bool) -> datetime | None:
    raw = filters.get(key)
    if raw is None:
        return None
    try:
        text = str(raw)
        if len(text) == 10:  # a date: that day in the platform time zone, ``to`` inclusive
            start = datetime.fromisoformat(text).replace(tzinfo=clock.tz)
            return start + timedelta(days=1) if end else start
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(f"filters.{key}", "must be a date or an ISO 8601 timestamp with offset",
                               code="invalid_filter") from None
    if value.tzinfo is None:
        raise ValidationFailed(f"filters.{key}", "needs a UTC offset", code="invalid_filter")
    return value


class WalletEntriesExport(ExportSource):
    """Filters as the statement list: ``type``, ``from``, ``to``, ``reference``."""

    @inject
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self.access = WalletBase(uow_factory, clock)
        self.uow_factory = uow_factory
        self.clock = clock

    def _filter(self, filters: dict[str, Any]) -> LineFilter:
        unknown = set(filters) - FILTERS
        if unknown:
            raise ValidationFailed(f"filters.{sorted(unknown)[0]}", "unknown filter", code="invalid_filter")
        kind = filters.get("type")
        if kind is not None and kind not in ENTRY_TYPES:
            raise ValidationFailed("filters.type", f"must be one of {', '.join(ENTRY_TYPES)}", code="invalid_filter")
        reference = filters.get("reference")
        return LineFilter(type=kind, reference=str(reference) if reference is not None else None,
                          since=_moment(self.clock, filters, "from", end=False),
                          until=_moment(self.clock, filters, "to", end=True))

    def authorize(self, caller: Caller, org_id: str, filters: dict[str, Any]) -> None:
        self._filter(filters)
        with self.uow_factory() as uow:
            self.access._require_view(uow, caller, org_id)

    def rows(self, uow: UnitOfWork, org_id: str, filters: dict[str, Any]
             ) -> tuple[list[str], Iterable[list[Any]]]:
        flt = self._filter(filters)

        def generate() -> Iterator[list[Any]]:
            offset = 0
            while True:
                lines, _ = uow.repo(LedgerRepository).lines(org_id, flt, offset, PAGE)
                for ln in lines:
                    a, b = ln.after, ln.breakdown
                    yield [ln.created_at, ln.entry_id, ln.type, ln.reference or "", ln.amount, b.cash,
                           b.normal_coupon, b.traffic_coupon, b.post_pay, a.cash, a.coupons, a.credit_limit,
                           a.credit_used, a.held, a.deposit_paid, a.available, ln.counterparty_org_id or "", ln.note]
                if len(lines) < PAGE:
                    return
                offset += PAGE

        return HEADER, generate()
