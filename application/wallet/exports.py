"""The wallet statement as export kinds (CSV or XLSX): ``wallet_entries`` (one wallet)
and ``agency_entries`` (all the agency's authorised principals merged, wallet.md
"Statements": agency view; seed 002 "download all merchants' amount details")."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from injector import inject

from application.exports import ExportSource, filter_error, filter_moment, filter_text
from application.shared.access import Caller
from application.shared.clock import Clock
from application.shared.uow import UnitOfWork, UnitOfWorkFactory
from application.wallet.agency_statements import (
    MAX_QUERY,
    authorised_principals,
    principal_names,
    principal_spend_rows,
    require_agency,
    scope,
    walk_lines,
)
from application.wallet.services import WalletBase, consumption_range
from domain.shared.errors import ValidationFailed
from domain.wallet import errors
from domain.wallet.ledger import ENTRY_TYPES
from domain.wallet.model import MAX_REFERENCE, StatementLine
from domain.wallet.ports import AgencyStatementQueries, ConsumptionRow, LineFilter
from domain.wallet.purpose import GENERAL, PURPOSES, SEPARATOR, org_of, wallet_key

PAGE = 1000
FILTERS = {"type", "from", "to", "reference", "purpose"}
HEADER = ["created_at", "entry_id", "type", "reference", "amount", "cash", "normal_coupon", "traffic_coupon",
          "post_pay", "cash_after", "coupons_after", "coupons_normal_after", "coupons_traffic_after",
          "credit_limit_after", "credit_used_after", "held_after", "deposit_due_after", "deposit_paid_after",
          "available_after", "counterparty_org_id", "note", "details"]
AGENCY_FILTERS = {*FILTERS, "org_id"}
AGENCY_HEADER = ["created_at", "org_id", "org_name", *HEADER[1:]]


def _line_cells(ln: StatementLine) -> list[Any]:
    """The cells after ``created_at`` (from ``entry_id`` on) of a statement row: the
    figures after it as the API's ``balances_after`` has them, and its details (a coupon's
    expiry, a recharge's channel, a refund's outcome ...) as ``key=value; ...`` — without
    payee amounts, which only the platform may see (application/wallet/visibility.py)
    and a file outlives the request that asked for it."""
    a, b = ln.after, ln.breakdown
    details = "; ".join(f"{k}={v}" for k, v in sorted(ln.details) if k != "payees")
    return [ln.entry_id, ln.type, ln.reference or "", ln.amount, b.cash, b.normal_coupon, b.traffic_coupon,
            b.post_pay, a.cash, a.coupons, a.coupons_normal, a.coupons_traffic, a.credit_limit, a.credit_used, a.held,
            a.deposit_due, a.deposit_paid, a.available, ln.counterparty_org_id or "", ln.note, details]


def _purpose(filters: dict[str, Any]) -> str:
    """``general`` (default) or ``external``: which of the organisation's wallets."""
    purpose = filters.get("purpose", GENERAL)
    if purpose not in PURPOSES:
        raise ValidationFailed("filters.purpose", f"must be one of {', '.join(PURPOSES)}", code="invalid_filter")
    return str(purpose)


def _agency_itself(caller: Caller, org_id: str) -> str:
    agency = require_agency(caller)
    if org_id != agency:
        raise ValidationFailed("org_id", "must be the agency's own organisation", code="invalid_export_org")
    return agency


def _line_filter(clock: Clock, filters: dict[str, Any], allowed: set[str]) -> LineFilter:
    unknown = set(filters) - allowed
    if unknown:
        raise ValidationFailed(f"filters.{sorted(unknown)[0]}", "unknown filter", code="invalid_filter")
    kind = filters.get("type")
    if kind is not None and kind not in ENTRY_TYPES:
        raise ValidationFailed("filters.type", f"must be one of {', '.join(ENTRY_TYPES)}", code="invalid_filter")
    reference = filter_text(filters, "reference", MAX_REFERENCE)
    since = filter_moment(filters, "from", tz=clock.tz)
    until = filter_moment(filters, "to", tz=clock.tz, end=True)
    try:
        return LineFilter(type=kind, reference=reference, since=since, until=until)
    except ValidationFailed as exc:
        raise filter_error(exc) from None


class WalletEntriesExport(ExportSource):
    """Filters as the statement list: ``type``, ``from``, ``to``, ``reference``."""

    @inject
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self.access = WalletBase(uow_factory, clock)
        self.uow_factory = uow_factory
        self.clock = clock

    def _filter(self, filters: dict[str, Any]) -> LineFilter:
        return _line_filter(self.clock, filters, FILTERS)

    def check_filters(self, filters: dict[str, Any]) -> None:
        self._filter(filters)
        _purpose(filters)

    def authorize(self, caller: Caller, org_id: str, filters: dict[str, Any]) -> None:
        if SEPARATOR in org_id:
            raise ValidationFailed("org_id", "an organisation id; choose the wallet with filters.purpose",
                                   code="invalid_export_org")
        key = wallet_key(org_id, _purpose(filters))
        with self.uow_factory() as uow:
            self.access._require_view(uow, caller, key)
            if not self.access._may_hold(uow, key):
                raise errors.WalletNotFound("no such wallet")

    def rows(self, uow: UnitOfWork, org_id: str, filters: dict[str, Any]
             ) -> tuple[list[str], Iterable[list[Any]]]:
        flt = self._filter(filters)
        key = wallet_key(org_id, _purpose(filters))

        def generate() -> Iterator[list[Any]]:
            # keyset pages (newest first, each after the last line of the one before): a
            # charge landing meanwhile is newer than every page still to come, so no line
            # repeats or goes missing at a page's edge, and no snapshot is held for the
            # export's whole run (a long one would keep every hot wallet's dead row versions)
            for ln in walk_lines(uow, [key], flt, PAGE):
                yield [ln.created_at, *_line_cells(ln)]

        return HEADER, generate()


class AgencyEntriesExport(ExportSource):
    """The statement lines of all the agency's authorised principals, newest first, each
    with the principal's id and name. Requested for the agency itself (``org_id`` is the
    agency) by its owner, admin or API key (the agency overview's rule); filters as
    ``wallet_entries`` plus ``org_id`` (one principal). The principals are those
    authorised when the job runs."""

    @inject
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self.uow_factory = uow_factory
        self.clock = clock

    @staticmethod
    def _principal(filters: dict[str, Any]) -> str | None:
        return filter_text(filters, "org_id", 40)

    def check_filters(self, filters: dict[str, Any]) -> None:
        _line_filter(self.clock, filters, AGENCY_FILTERS)
        _purpose(filters)
        self._principal(filters)

    def authorize(self, caller: Caller, org_id: str, filters: dict[str, Any]) -> None:
        agency = _agency_itself(caller, org_id)
        with self.uow_factory() as uow:
            scope(authorised_principals(uow, agency), self._principal(filters))

    @classmethod
    def principals(cls, uow: UnitOfWork, agency: str, filters: dict[str, Any]) -> list[str]:
        """The principals an agency export covers when it runs: all authorised ones, or the
        one ``filters.org_id`` names (none if it is no longer authorised)."""
        principal = cls._principal(filters)
        principals = authorised_principals(uow, agency)
        return [p for p in principals if p == principal] if principal is not None else principals

    def rows(self, uow: UnitOfWork, org_id: str, filters: dict[str, Any]
             ) -> tuple[list[str], Iterable[list[Any]]]:
        flt = _line_filter(self.clock, filters, AGENCY_FILTERS)
        org_ids = self.principals(uow, org_id, filters)
        names = principal_names(uow, org_ids)
        keys = [wallet_key(o, _purpose(filters)) for o in org_ids]

        def generate() -> Iterator[list[Any]]:
            for ln in walk_lines(uow, keys, flt, PAGE):
                yield [ln.created_at, org_of(ln.org_id), names.get(org_of(ln.org_id), ""), *_line_cells(ln)]

        return AGENCY_HEADER, generate()


SPEND_FILTERS = {"from", "to", "q", "purpose"}
SPEND_HEADER = ["org_id", "org_name", "amount", "cash", "normal_coupon", "traffic_coupon", "post_pay", "count",
                "allocated_net"]
CONSUMPTION_FILTERS = {"granularity", "from", "to", "org_id", "purpose"}
CONSUMPTION_HEADER = ["period", "amount", "cash", "normal_coupon", "traffic_coupon", "post_pay", "count"]


def _range(clock: Clock, filters: dict[str, Any], allowed: set[str]) -> tuple[datetime, datetime]:
    """``filters.from`` and ``filters.to`` (dates, both required; months too with
    ``filters.granularity`` month) as a consumption range."""
    unknown = set(filters) - allowed
    if unknown:
        raise ValidationFailed(f"filters.{sorted(unknown)[0]}", "unknown filter", code="invalid_filter")
    for key in ("from", "to"):
        if not isinstance(filters.get(key), str):
            raise ValidationFailed(f"filters.{key}", "a date (YYYY-MM-DD; by month also YYYY-MM) is required",
                                   code="invalid_filter")
    try:
        return consumption_range(clock, filters["from"], filters["to"],
                                 "month" if filters.get("granularity") == "month" else "day")
    except ValidationFailed as exc:
        raise filter_error(exc) from None


def _query(filters: dict[str, Any]) -> str | None:
    q = filters.get("q")
    if q is not None and (not isinstance(q, str) or len(q) > MAX_QUERY):
        raise ValidationFailed("filters.q", f"must be text of at most {MAX_QUERY} characters", code="invalid_filter")
    return q


class AgencySpendExport(ExportSource):
    """Each authorised principal's spend in a range by source and what the agency allocated
    to it (``GET /agency/principals/spend``, every row); filters ``from``, ``to``, ``q``,
    ``purpose``. For the agency itself, by its owner, admin or API key."""

    @inject
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self.uow_factory = uow_factory
        self.clock = clock

    def check_filters(self, filters: dict[str, Any]) -> None:
        _range(self.clock, filters, SPEND_FILTERS)
        _purpose(filters)
        _query(filters)

    def authorize(self, caller: Caller, org_id: str, filters: dict[str, Any]) -> None:
        _agency_itself(caller, org_id)

    def rows(self, uow: UnitOfWork, org_id: str, filters: dict[str, Any]
             ) -> tuple[list[str], Iterable[list[Any]]]:
        since, until = _range(self.clock, filters, SPEND_FILTERS)
        found = principal_spend_rows(uow, org_id, since, until, _query(filters), _purpose(filters))
        return SPEND_HEADER, ([r.org_id, r.name, r.spend.amount, r.spend.cash, r.spend.normal_coupon,
                               r.spend.traffic_coupon, r.spend.post_pay, r.spend.count, r.allocated_net]
                              for r in found)


class AgencyConsumptionExport(ExportSource):
    """Consumption by day or month over all authorised principals (or ``org_id``), as
    ``GET /agency/consumption``, with a total row; filters ``granularity`` (default day),
    ``from``, ``to``, ``org_id``, ``purpose``. For the agency itself."""

    @inject
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self.uow_factory = uow_factory
        self.clock = clock

    @staticmethod
    def _granularity(filters: dict[str, Any]) -> str:
        granularity = filters.get("granularity", "day")
        if granularity not in ("day", "month"):
            raise ValidationFailed("filters.granularity", "must be day or month", code="invalid_filter")
        return str(granularity)

    def check_filters(self, filters: dict[str, Any]) -> None:
        _range(self.clock, filters, CONSUMPTION_FILTERS)
        self._granularity(filters)
        _purpose(filters)
        AgencyEntriesExport._principal(filters)

    def authorize(self, caller: Caller, org_id: str, filters: dict[str, Any]) -> None:
        agency = _agency_itself(caller, org_id)
        with self.uow_factory() as uow:
            scope(authorised_principals(uow, agency), AgencyEntriesExport._principal(filters))

    def rows(self, uow: UnitOfWork, org_id: str, filters: dict[str, Any]
             ) -> tuple[list[str], Iterable[list[Any]]]:
        since, until = _range(self.clock, filters, CONSUMPTION_FILTERS)
        keys = [wallet_key(o, _purpose(filters)) for o in AgencyEntriesExport.principals(uow, org_id, filters)]
        found = uow.repo(AgencyStatementQueries).consumption(keys, self._granularity(filters), since, until) \
            if keys else []
        return CONSUMPTION_HEADER, ([r.period, r.amount, r.cash, r.normal_coupon, r.traffic_coupon, r.post_pay,
                                     r.count] for r in [*found, ConsumptionRow.total(found)])
