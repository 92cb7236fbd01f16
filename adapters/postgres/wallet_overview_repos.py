"""Spend aggregates for the agency overview, and the agency statement view (merged lines,
principals' wallets), on SQLAlchemy Core (PostgreSQL and SQLite).

Spend is the same as in ``SqlLedger.consumption``: ``wallet_lines`` of type charge or
capture with a negative amount; its sources are the line's breakdown columns (magnitudes)
and it is grouped on ``local_day`` (the platform-time-zone day written with the line).

The day filter is on ``local_day``; a ``created_at`` window one day wider on each side
(no time zone is more than 14 hours from UTC) lets the ``(org_id, created_at)`` index do
the work. Organisation ids are sent in chunks so that no statement carries more bind
parameters than SQLite allows; the chunks are disjoint, so their answers simply add up.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection

from adapters.postgres import tables as t
from adapters.postgres.wallet_repos import (
    SqlLedger,
    SqlWallets,
    consumption_period,
    consumption_rows,
    line_conditions,
)
from domain.wallet.ledger import ZERO
from domain.wallet.model import Figures, StatementLine, Wallet
from domain.wallet.overview import DaySpend, MonthSpend, PrincipalFunds, PrincipalSpend
from domain.wallet.ports import AgencyStatementQueries, ConsumptionRow, LineCursor, LineFilter, SpendQueries

L = t.wallet_lines.c
W = t.wallets.c
G = t.wallet_coupon_grants.c
H = t.wallet_holds.c
CHUNK = 500
SPEND_TYPES = ("charge", "capture")


def _chunks(org_ids: Sequence[str]) -> Iterator[list[str]]:
    ids = sorted(set(org_ids))
    for i in range(0, len(ids), CHUNK):
        yield ids[i:i + CHUNK]


def _spend_filter(org_ids: list[str], first_day: date, last_day: date) -> list[Any]:
    since = datetime.combine(first_day - timedelta(days=1), time(), UTC)
    until = datetime.combine(last_day + timedelta(days=2), time(), UTC)
    return [L.org_id.in_(org_ids), L.type.in_(SPEND_TYPES), L.amount < 0,
            L.created_at >= since, L.created_at < until,
            L.local_day >= first_day.isoformat(), L.local_day <= last_day.isoformat()]


def _sources() -> list[Any]:
    return [func.sum(L.cash).label("cash"), func.sum(L.normal_coupon).label("normal_coupon"),
            func.sum(L.traffic_coupon).label("traffic_coupon"), func.sum(L.post_pay).label("post_pay")]


def _amount(r: Any) -> Any:
    return (r.cash or ZERO) + (r.normal_coupon or ZERO) + (r.traffic_coupon or ZERO) + (r.post_pay or ZERO)


class SqlSpendQueries(SpendQueries):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def spend_by_org(self, org_ids: Sequence[str], first_day: date, last_day: date) -> list[PrincipalSpend]:
        out: list[PrincipalSpend] = []
        for ids in _chunks(org_ids):
            stmt = (select(L.org_id, *_sources(), func.count().label("n"))
                    .where(*_spend_filter(ids, first_day, last_day)).group_by(L.org_id))
            out.extend(PrincipalSpend(org_id=r.org_id, cash=r.cash or ZERO, normal_coupon=r.normal_coupon or ZERO,
                                      traffic_coupon=r.traffic_coupon or ZERO, post_pay=r.post_pay or ZERO,
                                      count=r.n)
                       for r in self.conn.execute(stmt))
        return sorted(out, key=lambda r: r.org_id)

    def spend_by_day(self, org_ids: Sequence[str], first_day: date, last_day: date) -> list[DaySpend]:
        days: dict[str, DaySpend] = {}
        for ids in _chunks(org_ids):
            stmt = (select(L.local_day, *_sources(), func.count(L.org_id.distinct()).label("principals"))
                    .where(*_spend_filter(ids, first_day, last_day)).group_by(L.local_day))
            for r in self.conn.execute(stmt):
                seen = days.get(r.local_day, DaySpend(r.local_day))
                days[r.local_day] = DaySpend(r.local_day, seen.amount + _amount(r), seen.principals + r.principals)
        return [days[d] for d in sorted(days)]

    def spend_by_month(self, org_ids: Sequence[str], first_day: date, last_day: date) -> list[MonthSpend]:
        month = func.substr(L.local_day, 1, 7)
        out: list[MonthSpend] = []
        for ids in _chunks(org_ids):
            stmt = (select(L.org_id, month.label("month"), *_sources())
                    .where(*_spend_filter(ids, first_day, last_day)).group_by(L.org_id, month))
            out.extend(MonthSpend(r.org_id, r.month, _amount(r)) for r in self.conn.execute(stmt))
        return sorted(out, key=lambda r: (r.month, r.org_id))

    def funds(self, org_ids: Sequence[str], now: datetime) -> dict[str, PrincipalFunds]:
        out: dict[str, PrincipalFunds] = {}
        for ids in _chunks(org_ids):
            coupons: dict[tuple[str, str], Any] = {}
            grants = (select(G.org_id, G.kind, func.sum(G.remaining).label("left"))
                      .where(G.org_id.in_(ids), G.remaining > 0, G.expires_at > now)  # usable at ``now``
                      .group_by(G.org_id, G.kind))
            for g in self.conn.execute(grants):
                coupons[(g.org_id, g.kind)] = g.left or ZERO
            # like a lapsed coupon, a hold past its expiry reserves nothing, released yet or not (ADR 0012)
            lapsed = {h.org_id: h.held or ZERO for h in self.conn.execute(
                select(H.org_id, func.sum(H.amount).label("held"))
                .where(H.org_id.in_(ids), H.status == "active", H.expires_at <= now).group_by(H.org_id))}
            rows = select(W.org_id, W.cash, W.credit_limit, W.credit_used, W.held, W.deposit_due, W.deposit_paid,
                          W.daily_budget).where(W.org_id.in_(ids))
            for r in self.conn.execute(rows):
                figures = Figures(cash=r.cash, coupons_normal=coupons.get((r.org_id, "normal"), ZERO),
                                  coupons_traffic=coupons.get((r.org_id, "traffic"), ZERO),
                                  credit_limit=r.credit_limit, credit_used=r.credit_used,
                                  held=r.held - lapsed.get(r.org_id, ZERO),
                                  deposit_due=r.deposit_due, deposit_paid=r.deposit_paid)
                out[r.org_id] = PrincipalFunds(r.org_id, figures, r.daily_budget)
        return out


def _line_key(ln: StatementLine) -> tuple[datetime, str, int]:
    return (ln.created_at, ln.org_id, ln.seq)


class SqlAgencyStatements(AgencyStatementQueries):
    """Statement lines of many wallets merged newest first (``created_at``, ``org_id``,
    ``seq`` all descending). Each chunk of organisations is asked for its own first rows
    in that order and the answers are merged here; organisation ids are compared
    byte-wise (``COLLATE "C"`` on PostgreSQL, SQLite's default) so the database and the
    merge agree on the order."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.org = L.org_id.collate("C") if conn.dialect.name == "postgresql" else L.org_id

    def consumption(self, org_ids: Sequence[str], granularity: str, since: datetime,
                    until: datetime) -> list[ConsumptionRow]:
        by_period: dict[str, list[ConsumptionRow]] = {}
        for ids in _chunks(org_ids):
            for row in consumption_rows(self.conn, L.org_id.in_(ids), consumption_period(granularity), since, until):
                by_period.setdefault(row.period, []).append(row)
        return [ConsumptionRow.total(rows, period) for period, rows in sorted(by_period.items())]

    def allocated_net_by_principal(self, agency_key: str) -> dict[str, Decimal]:
        rows = self.conn.execute(select(L.counterparty_org_id, func.sum(L.amount)).where(
            L.org_id == agency_key, L.type == "allocation", L.counterparty_org_id.is_not(None)
        ).group_by(L.counterparty_org_id))
        return {r[0]: -r[1] for r in rows}

    def consumption_by_wallet(self, org_ids: Sequence[str], since: datetime,
                              until: datetime) -> dict[str, ConsumptionRow]:
        return {row.period: row for ids in _chunks(org_ids)
                for row in consumption_rows(self.conn, L.org_id.in_(ids), L.org_id, since, until)}

    def wallets(self, org_ids: Sequence[str]) -> dict[str, Wallet]:
        reader = SqlWallets(self.conn)
        out: dict[str, Wallet] = {}
        for ids in _chunks(org_ids):
            out.update(reader._with_grants(self.conn.execute(select(t.wallets).where(W.org_id.in_(ids))).all()))
        return out

    @staticmethod
    def _conds(ids: list[str], flt: LineFilter) -> list[Any]:
        return line_conditions(L.org_id.in_(ids), flt)

    def _after(self, c: LineCursor) -> Any:
        return or_(L.created_at < c.created_at,
                   and_(L.created_at == c.created_at,
                        or_(self.org < c.org_id, and_(L.org_id == c.org_id, L.seq < c.seq))))

    def _first(self, ids: list[str], conds: list[Any], offset: int, limit: int) -> list[StatementLine]:
        stmt = (select(t.wallet_lines).where(*conds).order_by(L.created_at.desc(), self.org.desc(), L.seq.desc())
                .offset(offset).limit(limit))
        return [SqlLedger._line(r) for r in self.conn.execute(stmt)]

    def _merged(self, org_ids: Sequence[str], flt: LineFilter, after: LineCursor | None,
                limit: int) -> list[StatementLine]:
        """The first ``limit`` lines (after ``after``) of every chunk, merged: the first
        ``limit`` of the merge are the first ``limit`` of all."""
        found: list[StatementLine] = []
        for ids in _chunks(org_ids):
            conds = self._conds(ids, flt)
            if after is not None:
                conds.append(self._after(after))
            found.extend(self._first(ids, conds, 0, limit))
        found.sort(key=_line_key, reverse=True)
        return found[:limit]

    def lines(self, org_ids: Sequence[str], flt: LineFilter, offset: int,
              limit: int) -> tuple[list[StatementLine], int]:
        chunks = list(_chunks(org_ids))
        total = sum(self.conn.execute(select(func.count()).select_from(t.wallet_lines)
                                      .where(*self._conds(ids, flt))).scalar_one() for ids in chunks)
        if not total or offset >= total:
            return [], total
        if len(chunks) == 1:  # up to CHUNK principals: the database pages
            return self._first(chunks[0], self._conds(chunks[0], flt), offset, limit), total
        return self._merged(org_ids, flt, None, offset + limit)[offset:], total

    def lines_after(self, org_ids: Sequence[str], flt: LineFilter, after: LineCursor | None,
                    limit: int) -> list[StatementLine]:
        if not org_ids:
            return []
        return self._merged(org_ids, flt, after, limit)


REPOSITORIES: dict[type, type] = {SpendQueries: SqlSpendQueries, AgencyStatementQueries: SqlAgencyStatements}
