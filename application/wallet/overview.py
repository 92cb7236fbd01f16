"""Agency overview use cases (wallet.md "Agency overview"; seed 002 home page, finance and
channel cooperation): spend across the agency's principals, the top principals by spend,
fund anomalies and performance.

Who may ask: an agency user with ``wallet.allocate`` (agency owner and agency admin: the
seed shows funds and performance "only to the agency's main account and admins";
employees see no funds), or the agency's API key (which acts as its owner). The figures
are always about the caller's own organisation (``caller.org_id``, even when acting for
a principal) and cover only its principals whose relation is *authorised* now: a
principal invited but not accepted, or whose relation was terminated, is left out, and
another agency's principals are never read.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from injector import inject, singleton

from application.shared.access import Caller
from application.shared.clock import Clock
from application.shared.uow import UnitOfWork, UnitOfWorkFactory
from domain.identity.ports import OrganizationRepository, RelationRepository
from domain.shared.errors import Forbidden, ValidationFailed
from domain.wallet.overview import (
    TOP_DEFAULT,
    FundAnomaly,
    Overview,
    Performance,
    Period,
    PrincipalFunds,
    PrincipalSpend,
    SpendFigures,
    check_year,
    daily_series,
    fund_anomalies,
    performance,
    top_by_spend,
    year_bounds,
)
from domain.wallet.ports import SpendQueries

VIEW_PERMISSION = "wallet.allocate"  # agency_owner and agency_admin; not employees nor finance
MAX_TOP = 100
NAME_CHUNK = 500


@dataclasses.dataclass(frozen=True)
class TopPrincipal:
    """A row of the top list: the principal, its spend in the period and its funds now."""

    rank: int
    org_id: str
    name: str
    spend: PrincipalSpend
    funds: PrincipalFunds

    @property
    def available(self) -> Decimal:
        return self.funds.available

    @property
    def daily_budget(self) -> Decimal | None:
        return self.funds.daily_budget


@dataclasses.dataclass(frozen=True)
class TopPrincipals:
    period: Period
    at: datetime  # the moment of the balances
    items: list[TopPrincipal]


@dataclasses.dataclass(frozen=True)
class NamedAnomaly:
    anomaly: FundAnomaly
    name: str


@dataclasses.dataclass(frozen=True)
class FundAnomalies:
    day: date  # "yesterday", the day whose spend is the rate
    at: datetime  # the moment of the balances
    items: list[NamedAnomaly]


@singleton  # stateless
class AgencyOverviewService:
    @inject
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self.uow_factory = uow_factory
        self.clock = clock

    # -- access and principals --------------------------------------------------------------

    @staticmethod
    def _require_agency(caller: Caller) -> str:
        if "agency" not in caller.org_kinds:
            raise Forbidden("only agencies have an overview of principals", code="not_an_agency")
        caller.require(VIEW_PERMISSION)
        return caller.org_id

    @staticmethod
    def _principals(uow: UnitOfWork, agency_org_id: str) -> list[str]:
        rels = uow.repo(RelationRepository).list("agency_principal", from_org_id=agency_org_id, status="authorized")
        return sorted({r.to_org_id for r in rels if r.status == "authorized" and r.from_org_id == agency_org_id})

    @staticmethod
    def _names(uow: UnitOfWork, org_ids: Sequence[str]) -> dict[str, str]:
        if not org_ids:
            return {}
        names: dict[str, str] = {}
        ids = list(org_ids)
        for at in range(0, len(ids), NAME_CHUNK):  # no statement carries more ids than SQLite allows
            chunk = ids[at:at + NAME_CHUNK]
            orgs, _ = uow.repo(OrganizationRepository).list(kind=None, name=None, ids=chunk, offset=0,
                                                             limit=len(chunk))
            names.update((o.id, o.name) for o in orgs)
        return names

    def _today(self, now: datetime) -> date:
        return self.clock.local(now).date()

    # -- queries ---------------------------------------------------------------------------------

    def overview(self, caller: Caller, period: str | None = None, first: date | None = None,
                 last: date | None = None) -> Overview:
        """Spend, principals with spend and ARPU of a period next to the previous period of
        the same length, with the spend of each day of the period."""
        agency = self._require_agency(caller)
        current = Period.resolve(period, self._today(self.clock.now()), first, last)
        previous = current.previous()
        with self.uow_factory() as uow:
            principals = self._principals(uow, agency)
            spend = uow.repo(SpendQueries)
            now_rows = spend.spend_by_org(principals, current.first, current.last) if principals else []
            before_rows = spend.spend_by_org(principals, previous.first, previous.last) if principals else []
            days = spend.spend_by_day(principals, current.first, current.last) if principals else []
        return Overview(period=current, previous_period=previous, principals=len(principals),
                        current=SpendFigures.of(now_rows), previous=SpendFigures.of(before_rows),
                        days=daily_series(current, days))

    def top_principals(self, caller: Caller, period: str | None = None, first: date | None = None,
                       last: date | None = None, limit: int = TOP_DEFAULT) -> TopPrincipals:
        """The principals that spent most in the period (only those with spend), with their
        available balance and daily budget now."""
        agency = self._require_agency(caller)
        if not 1 <= limit <= MAX_TOP:
            raise ValidationFailed("limit", f"must be between 1 and {MAX_TOP}", code="invalid_limit")
        now = self.clock.now()
        current = Period.resolve(period, self._today(now), first, last)
        with self.uow_factory() as uow:
            principals = self._principals(uow, agency)
            if not principals:
                return TopPrincipals(current, now, [])
            queries = uow.repo(SpendQueries)
            rows = queries.spend_by_org(principals, current.first, current.last)
            spending = [r.org_id for r in rows if r.amount > 0]
            names = self._names(uow, spending)
            top = top_by_spend(rows, names, limit)
            funds = queries.funds([r.org_id for r in top], now)
        items = [TopPrincipal(i, r.org_id, names.get(r.org_id, ""), r,
                              funds.get(r.org_id) or PrincipalFunds.empty(r.org_id))
                 for i, r in enumerate(top, start=1)]
        return TopPrincipals(current, now, items)

    def fund_anomalies(self, caller: Caller) -> FundAnomalies:
        """Principals whose available balance now is less than what they spent yesterday."""
        agency = self._require_agency(caller)
        now = self.clock.now()
        yesterday = Period.resolve("yesterday", self._today(now))
        with self.uow_factory() as uow:
            principals = self._principals(uow, agency)
            if not principals:
                return FundAnomalies(yesterday.first, now, [])
            queries = uow.repo(SpendQueries)
            rows = [r for r in queries.spend_by_org(principals, yesterday.first, yesterday.last) if r.amount > 0]
            funds = queries.funds([r.org_id for r in rows], now) if rows else {}
            found = fund_anomalies(rows, funds)
            names = self._names(uow, [a.org_id for a in found])
        return FundAnomalies(yesterday.first, now, [NamedAnomaly(a, names.get(a.org_id, "")) for a in found])

    def performance(self, caller: Caller, year: int | None = None) -> Performance:
        """Principals with spend > 0 per month and per quarter of a year (default: this year),
        each bucket listing them by spend."""
        agency = self._require_agency(caller)
        if year is None:
            year = self._today(self.clock.now()).year
        first, last = year_bounds(check_year(year))
        with self.uow_factory() as uow:
            principals = self._principals(uow, agency)
            rows = uow.repo(SpendQueries).spend_by_month(principals, first, last) if principals else []
            names = self._names(uow, sorted({r.org_id for r in rows if r.amount > 0}))
        return performance(year, rows, names)


__all__ = ["AgencyOverviewService", "FundAnomalies", "NamedAnomaly", "TopPrincipal", "TopPrincipals"]
