"""Agency statement view (wallet.md "Statements": "Agency view: the same across all
principals, and a per-principal summary"; seed 002 finance: the fund overview of all the
agency's merchants and the detail lists across merchants).

* **funds** — one row per authorised principal with its wallet figures now (the same
  ``Wallet.figures(now)`` as ``GET /wallets/{org_id}``: a coupon past its expiry counts
  no more, even before the lapse job has run), its daily budget and today's spend, and
  the totals of the money figures over every principal that matches (not just the page);
* **entries** — the statement lines of all principals merged, newest first, with the
  per-wallet statement's filters (type, from/to, reference) and a principal filter.

Who may ask: the same rule as the agency overview (``AgencyOverviewService``): an agency
user with ``wallet.allocate`` (agency owner and admin) or the agency's API key; figures
are always about the caller's own agency (``caller.org_id``) and its principals whose
relation is *authorised* now.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal

from injector import inject, singleton

from application.shared.access import Caller
from application.shared.clock import Clock
from application.shared.paging import Page, PageRequest
from application.shared.uow import UnitOfWork, UnitOfWorkFactory
from application.wallet.overview import AgencyOverviewService
from application.wallet.services import check_granularity, consumption_range
from domain.identity.ports import OrganizationRepository
from domain.shared.errors import ValidationFailed
from domain.wallet import errors
from domain.wallet.ledger import ENTRY_TYPES, ZERO
from domain.wallet.model import Figures, StatementLine, Wallet
from domain.wallet.ports import AgencyStatementQueries, ConsumptionRow, LineCursor, LineFilter
from domain.wallet.purpose import GENERAL, PURPOSES, org_of, wallet_key

NAMES_CHUNK = 500
MAX_QUERY = 100
WALK_PAGE = 1000


@dataclasses.dataclass(frozen=True)
class PrincipalFundsRow:
    """One principal's wallet now (zeros when it has no wallet yet)."""

    org_id: str
    name: str
    figures: Figures
    daily_budget: Decimal | None = None
    spent_today: Decimal = ZERO


@dataclasses.dataclass(frozen=True)
class FundsTotals:
    """The money figures summed over principals (no daily budget: a sum of limits means nothing)."""

    figures: Figures
    spent_today: Decimal = ZERO

    @classmethod
    def of(cls, rows: Sequence[PrincipalFundsRow]) -> FundsTotals:
        def total(name: str) -> Decimal:
            return sum((getattr(r.figures, name) for r in rows), ZERO)

        figures = Figures(**{f.name: total(f.name) for f in dataclasses.fields(Figures)})
        return cls(figures, sum((r.spent_today for r in rows), ZERO))


@dataclasses.dataclass(frozen=True)
class PrincipalFundsPage:
    at: datetime  # the moment of the figures
    page: Page[PrincipalFundsRow]
    totals: FundsTotals  # over every principal that matches, not just the page


@dataclasses.dataclass(frozen=True)
class NamedLine:
    """A statement line with the name of the principal whose wallet it is."""

    line: StatementLine
    org_name: str


def empty_figures() -> Figures:
    return Figures(cash=ZERO, coupons_normal=ZERO, coupons_traffic=ZERO, credit_limit=ZERO, credit_used=ZERO,
                   held=ZERO, deposit_due=ZERO, deposit_paid=ZERO)


def principal_names(uow: UnitOfWork, org_ids: Sequence[str]) -> dict[str, str]:
    """Organisation names by id, asked in chunks (bind-parameter limits)."""
    ids = sorted(set(org_ids))
    out: dict[str, str] = {}
    for i in range(0, len(ids), NAMES_CHUNK):
        part = ids[i:i + NAMES_CHUNK]
        orgs, _ = uow.repo(OrganizationRepository).list(kind=None, name=None, ids=part, offset=0, limit=len(part))
        out.update((o.id, o.name) for o in orgs)
    return out


def check_entry_type(kind: str | None) -> None:
    if kind is not None and kind not in ENTRY_TYPES:
        raise ValidationFailed("type", f"must be one of {', '.join(ENTRY_TYPES)}", code="invalid_entry_type")


def check_purpose(purpose: str) -> None:
    if purpose not in PURPOSES:
        raise ValidationFailed("purpose", f"must be one of {', '.join(PURPOSES)}", code="validation_failed")


def require_agency(caller: Caller) -> str:
    """The agency overview's rule: an agency user with ``wallet.allocate`` (or its key)."""
    return AgencyOverviewService._require_agency(caller)


def authorised_principals(uow: UnitOfWork, agency_org_id: str) -> list[str]:
    return AgencyOverviewService._principals(uow, agency_org_id)


def scope(principals: list[str], org_id: str | None) -> list[str]:
    """All principals, or the one named; another organisation answers like a wallet the
    caller cannot see."""
    if org_id is None:
        return principals
    if org_id not in principals:
        raise errors.WalletNotFound("no such wallet")
    return [org_id]


@dataclasses.dataclass(frozen=True)
class PrincipalSpendRow:
    """What one principal spent in a range, by source, and what the agency allocated to it
    (net of reclaims, ever)."""

    org_id: str
    name: str
    spend: ConsumptionRow
    allocated_net: Decimal


@dataclasses.dataclass(frozen=True)
class PrincipalSpendPage:
    page: Page[PrincipalSpendRow]
    totals: ConsumptionRow  # over every principal that matches, not just the page


def matching_principals(uow: UnitOfWork, agency: str, q: str | None) -> list[str]:
    """The authorised principals whose name contains ``q`` (case-insensitive) or whose id it is."""
    needle = (q or "").strip()
    if len(needle) > MAX_QUERY:
        raise ValidationFailed("q", f"must be at most {MAX_QUERY} characters", code="invalid_query")
    principals = authorised_principals(uow, agency)
    if not needle:
        return principals
    names = principal_names(uow, principals)
    folded = needle.casefold()
    return [p for p in principals if p == needle or folded in names.get(p, "").casefold()]


def principal_spend_rows(uow: UnitOfWork, agency: str, since: datetime, until: datetime, q: str | None,
                         purpose: str) -> list[PrincipalSpendRow]:
    """Every matching principal's spend from ``since`` to ``until`` and what the agency
    allocated to it, most spend first, then by name."""
    principals = matching_principals(uow, agency, q)
    if not principals:
        return []
    names = principal_names(uow, principals)
    keys = {p: wallet_key(p, purpose) for p in principals}
    queries = uow.repo(AgencyStatementQueries)
    spent = queries.consumption_by_wallet(list(keys.values()), since, until)
    allocated = queries.allocated_net_by_principal(wallet_key(agency, purpose))
    rows = [PrincipalSpendRow(p, names.get(p, ""), spent.get(keys[p], ConsumptionRow(p)),
                              allocated.get(keys[p], ZERO)) for p in principals]
    rows.sort(key=lambda r: (-r.spend.amount, r.name.casefold(), r.org_id))
    return rows


def walk_lines(uow: UnitOfWork, org_ids: Sequence[str], flt: LineFilter,
               page_size: int = WALK_PAGE) -> Iterator[StatementLine]:
    """Every matching line of these organisations, newest first, a page at a time."""
    queries = uow.repo(AgencyStatementQueries)
    after: LineCursor | None = None
    while org_ids:
        lines = queries.lines_after(org_ids, flt, after, page_size)
        yield from lines
        if len(lines) < page_size:
            return
        last = lines[-1]
        after = LineCursor(last.created_at, last.org_id, last.seq)


@singleton  # stateless
class AgencyStatementService:
    @inject
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self.uow_factory = uow_factory
        self.clock = clock

    def funds(self, caller: Caller, page: PageRequest, q: str | None = None,
              purpose: str = GENERAL) -> PrincipalFundsPage:
        """Each authorised principal's figures now, by name (then id); ``q`` keeps the
        principals whose name contains it (case-insensitive) or whose id it is; ``purpose``
        picks their general or their external wallets."""
        agency = require_agency(caller)
        check_purpose(purpose)
        now = self.clock.now()
        today = self.clock.local(now).date()
        with self.uow_factory() as uow:
            principals = matching_principals(uow, agency, q)
            names = principal_names(uow, principals)
            principals.sort(key=lambda p: (names.get(p, "").casefold(), p))
            keys = [wallet_key(p, purpose) for p in principals]
            wallets = uow.repo(AgencyStatementQueries).wallets(keys) if keys else {}
        rows = [self._row(p, names.get(p, ""), wallets.get(wallet_key(p, purpose)), now, today) for p in principals]
        items = rows[page.offset:page.offset + page.per_page]
        return PrincipalFundsPage(now, Page(items, page.page, page.per_page, len(rows)), FundsTotals.of(rows))

    @staticmethod
    def _row(org_id: str, name: str, wallet: Wallet | None, now: datetime, today: date) -> PrincipalFundsRow:
        if wallet is None:
            return PrincipalFundsRow(org_id, name, empty_figures())
        return PrincipalFundsRow(org_id, name, wallet.figures(now), wallet.daily_budget, wallet.spent_on(today))

    def consumption(self, caller: Caller, granularity: str, from_day: str, to_day: str,
                    org_id: str | None = None, purpose: str = GENERAL) -> list[ConsumptionRow]:
        """Consumption by day or month (amount, cash, coupons by kind, post-pay) of all
        authorised principals together, or of the one named."""
        agency = require_agency(caller)
        check_granularity(granularity)
        check_purpose(purpose)
        since, until = consumption_range(self.clock, from_day, to_day, granularity)
        with self.uow_factory() as uow:
            keys = [wallet_key(o, purpose) for o in scope(authorised_principals(uow, agency), org_id)]
            return uow.repo(AgencyStatementQueries).consumption(keys, granularity, since, until) if keys else []

    def spend(self, caller: Caller, from_day: str, to_day: str, page: PageRequest, q: str | None = None,
              purpose: str = GENERAL) -> PrincipalSpendPage:
        """Each authorised principal's spend in the range by source (zeros included), most
        spend first (then by name), with what the agency allocated to it; ``q`` as ``funds``."""
        agency = require_agency(caller)
        check_purpose(purpose)
        since, until = consumption_range(self.clock, from_day, to_day)
        with self.uow_factory() as uow:
            rows = principal_spend_rows(uow, agency, since, until, q, purpose)
        return PrincipalSpendPage(Page(rows[page.offset:page.offset + page.per_page], page.page, page.per_page,
                                       len(rows)), ConsumptionRow.total(r.spend for r in rows))

    def entries(self, caller: Caller, page: PageRequest, flt: LineFilter,
                org_id: str | None = None, purpose: str = GENERAL) -> Page[NamedLine]:
        """The statement lines of all authorised principals (or of the one named), newest
        first, of their general or their external wallets (``purpose``)."""
        agency = require_agency(caller)
        check_entry_type(flt.type)
        check_purpose(purpose)
        with self.uow_factory() as uow:
            org_ids = [wallet_key(o, purpose) for o in scope(authorised_principals(uow, agency), org_id)]
            if not org_ids:
                return Page([], page.page, page.per_page, 0)
            lines, total = uow.repo(AgencyStatementQueries).lines(org_ids, flt, page.offset, page.per_page)
            names = principal_names(uow, sorted({org_of(ln.org_id) for ln in lines})) if lines else {}
        return Page([NamedLine(ln, names.get(org_of(ln.org_id), "")) for ln in lines], page.page, page.per_page,
                    total)


__all__ = [
    "AgencyStatementService",
    "FundsTotals",
    "NamedLine",
    "PrincipalFundsPage",
    "PrincipalFundsRow",
    "PrincipalSpendPage",
    "PrincipalSpendRow",
    "authorised_principals",
    "matching_principals",
    "principal_names",
    "principal_spend_rows",
    "require_agency",
    "scope",
    "walk_lines",
]
