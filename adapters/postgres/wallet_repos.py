"""Wallet repositories on SQLAlchemy Core: few round trips on the charge path.

On PostgreSQL a charge under the lock costs one ``SELECT ... FOR UPDATE`` of the wallet
rows (plus one select of live coupon grants when the wallet has any), one prepared
statement writing the entry (``ON CONFLICT DO NOTHING`` on its unique key: a replay costs
nothing more), its postings, its statement lines and the changed wallets' figures, and
``COMMIT``. A plain charge decided without the lock (ADR 0010) costs one unlocked select
and one statement that checks the decision's terms, applies it and commits.
"""
from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson
import psycopg
from psycopg.types.numeric import Int8
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from adapters.postgres import tables as t
from adapters.postgres.shared_repos import for_update
from domain.wallet.ledger import EXTERNAL, PLATFORM, ZERO, Account, Breakdown, JournalEntry, Posting
from domain.wallet.model import (
    CashMove,
    ChargeTerms,
    CouponGrant,
    Figures,
    Hold,
    Recharge,
    StatementLine,
    Wallet,
    Withdrawal,
    WithholdingAgreement,
)
from domain.wallet.ports import (
    AgreementRepository,
    ConsumptionRow,
    HoldRepository,
    LandedCharge,
    LedgerRepository,
    LineFilter,
    RechargeRepository,
    WalletRepository,
    WithdrawalRepository,
)

W = t.wallets.c
G = t.wallet_coupon_grants.c


def _insert_ignoring(conn: Connection, table: Any, values: dict[str, Any], key: list[str]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING on both databases; True if the row was inserted."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = (dialect.insert(table).values(**values).on_conflict_do_nothing(index_elements=key)
            .returning(table.c[key[0]]))  # rowcount of an INSERT is not reliable across drivers
    return conn.execute(stmt).first() is not None


def _grant(r: Any) -> CouponGrant:
    return CouponGrant(id=r.id, org_id=r.org_id, kind=r.kind, amount=r.amount, remaining=r.remaining,
                       expires_at=r.expires_at, granted_by=r.granted_by, created_at=r.created_at,
                       lapsed_at=r.lapsed_at)


def _figures(wallet: Wallet) -> dict[str, Any]:
    """The cached columns of a wallet row."""
    return dict(
        cash=wallet.cash, credit_limit=wallet.credit_limit, credit_used=wallet.credit_used, held=wallet.held,
        held_traffic=wallet.held_traffic, deposit_due=wallet.deposit_due, deposit_paid=wallet.deposit_paid,
        coupons_normal=sum((g.remaining for g in wallet.grants if g.kind == "normal"), ZERO),
        coupons_traffic=sum((g.remaining for g in wallet.grants if g.kind == "traffic"), ZERO),
        daily_budget=wallet.daily_budget, spent_day=wallet.spent_day, spent_today=wallet.spent_today,
        low_balance_threshold=wallet.low_balance_threshold, low_balance_alerted=wallet.low_balance_alerted,
        withholding_active=wallet.withholding_active, version=wallet.version, updated_at=datetime.now(UTC))


_LOCK_COLUMNS = [c.name for c in t.wallets.columns if c.name != "updated_at"]
_LockRow = namedtuple("_LockRow", _LOCK_COLUMNS)  # type: ignore[misc]
# one statement locks every wallet of a command, in sorted order (PostgreSQL applies row
# locks in the order the sorted rows come out: no two transactions wait in a cycle)
_PG_LOCK = f"SELECT {', '.join(_LOCK_COLUMNS)} FROM wallets WHERE org_id = ANY(%s) ORDER BY org_id FOR UPDATE"
_PG_LOCK_ONE = f"SELECT {', '.join(_LOCK_COLUMNS)} FROM wallets WHERE org_id = %s FOR UPDATE"
_PG_GET_ONE = f"SELECT {', '.join(_LOCK_COLUMNS)} FROM wallets WHERE org_id = %s"


def _driver(conn: Connection) -> Any:
    """The psycopg connection under SQLAlchemy's, in the same transaction (hot path only)."""
    return conn.connection.dbapi_connection


class SqlWallets(WalletRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"

    @staticmethod
    def _wallet(r: Any) -> Wallet:
        return Wallet(org_id=r.org_id, created_at=r.created_at.astimezone(UTC), cash=r.cash,
                      credit_limit=r.credit_limit, credit_used=r.credit_used, held=r.held,
                      held_traffic=r.held_traffic, deposit_due=r.deposit_due,
                      deposit_paid=r.deposit_paid, daily_budget=r.daily_budget, spent_day=r.spent_day,
                      spent_today=r.spent_today, low_balance_threshold=r.low_balance_threshold,
                      low_balance_alerted=r.low_balance_alerted, withholding_active=r.withholding_active,
                      version=r.version)

    def _with_grants(self, rows: Sequence[Any]) -> dict[str, Wallet]:
        wallets = {r.org_id: self._wallet(r) for r in rows}
        with_coupons = [r.org_id for r in rows if r.coupons_normal > 0 or r.coupons_traffic > 0]
        if with_coupons:
            grants = self.conn.execute(select(t.wallet_coupon_grants).where(
                G.org_id.in_(with_coupons), G.remaining > 0))
            for g in grants:
                wallets[g.org_id].grants.append(_grant(g))
        return wallets

    def lock(self, org_ids: Sequence[str]) -> dict[str, Wallet]:
        ids = sorted(set(org_ids))
        if self.pg:  # the hot path: one prepared statement on the driver, no statement building
            with _driver(self.conn).cursor() as cur:
                cur.execute(_PG_LOCK_ONE if len(ids) == 1 else _PG_LOCK, (ids[0] if len(ids) == 1 else ids,))
                rows = [_LockRow(*r) for r in cur.fetchall()]
            return self._with_grants(rows)
        stmt = select(t.wallets).where(W.org_id.in_(ids)).order_by(W.org_id)
        return self._with_grants(self.conn.execute(for_update(stmt, self.conn)).all())

    def get(self, org_id: str) -> Wallet | None:
        if self.pg:  # the unlocked charge reads this way (ADR 0010): prepared, on the driver
            with _driver(self.conn).cursor() as cur:
                cur.execute(_PG_GET_ONE, (org_id,))
                rows = [_LockRow(*r) for r in cur.fetchall()]
        else:
            rows = self.conn.execute(select(t.wallets).where(W.org_id == org_id)).all()
        return self._with_grants(rows).get(org_id)

    def create(self, org_id: str, now: datetime) -> None:
        _insert_ignoring(self.conn, t.wallets, dict(
            org_id=org_id, cash=ZERO, credit_limit=ZERO, credit_used=ZERO, held=ZERO, held_traffic=ZERO,
            deposit_due=ZERO,
            deposit_paid=ZERO, coupons_normal=ZERO, coupons_traffic=ZERO, daily_budget=None, spent_day=None,
            spent_today=ZERO, low_balance_threshold=None, low_balance_alerted=False, withholding_active=False,
            version=0, created_at=now, updated_at=now), ["org_id"])

    def save(self, wallet: Wallet) -> None:
        self.conn.execute(update(t.wallets).where(W.org_id == wallet.org_id).values(**_figures(wallet)))
        self.save_grants(wallet)

    def save_grants(self, wallet: Wallet) -> None:
        for grant in wallet.dirty_grants.values():
            done = self.conn.execute(update(t.wallet_coupon_grants).where(G.id == grant.id).values(
                remaining=grant.remaining, lapsed_at=grant.lapsed_at)).rowcount
            if not done:
                self.conn.execute(insert(t.wallet_coupon_grants).values(
                    id=grant.id, org_id=grant.org_id, kind=grant.kind, amount=grant.amount,
                    remaining=grant.remaining, expires_at=grant.expires_at, granted_by=grant.granted_by,
                    created_at=grant.created_at, lapsed_at=grant.lapsed_at))

    @staticmethod
    def _grant_conditions(org_id: str, include_spent: bool) -> list[Any]:
        return [G.org_id == org_id] if include_spent else [G.org_id == org_id, G.remaining > 0]

    def grants(self, org_id: str, *, include_spent: bool, offset: int, limit: int) -> list[CouponGrant]:
        rows = self.conn.execute(select(t.wallet_coupon_grants).where(*self._grant_conditions(org_id, include_spent))
                                 .order_by(G.expires_at, G.created_at, G.id).offset(offset).limit(limit))
        return [_grant(r) for r in rows]

    def count_grants(self, org_id: str, *, include_spent: bool) -> int:
        return int(self.conn.execute(select(func.count()).select_from(t.wallet_coupon_grants).where(
            *self._grant_conditions(org_id, include_spent))).scalar_one())

    def expired_grants(self, now: datetime, limit: int) -> list[CouponGrant]:
        rows = self.conn.execute(select(t.wallet_coupon_grants).where(G.remaining > 0, G.expires_at <= now)
                                 .order_by(G.expires_at, G.id).limit(limit))
        return [_grant(r) for r in rows]

    def with_threshold(self, after_org_id: str | None, limit: int) -> list[str]:
        conds = [W.low_balance_threshold.is_not(None)]
        if after_org_id is not None:
            conds.append(W.org_id > after_org_id)
        return list(self.conn.execute(select(W.org_id).where(*conds).order_by(W.org_id).limit(limit)).scalars())


L = t.wallet_lines.c
E = t.ledger_entries.c
P = t.ledger_postings.c


def _json_default(value: Any) -> str:
    """What orjson leaves to us: money (``Decimal``, as its exact digits), and subclasses
    of datetime and date (freezegun's). Datetimes and dates it writes itself, as
    ``isoformat`` would (with the offset, microseconds when there are any)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__}")


def _json(value: Any) -> str:
    """Rows travel to PostgreSQL as JSON records (``json_populate_record``): orjson writes
    a charge's three in a third of the time the standard library takes (bench/README.md)."""
    return orjson.dumps(value, default=_json_default).decode()


_POSTING_COLS = ", ".join(c.name for c in t.ledger_postings.columns)
_WALLET_SETS = ", ".join(f"{c.name} = r.{c.name}" for c in t.wallets.columns
                         if c.name not in ("org_id", "created_at"))
_PG_ADD_TEMPLATE = f"""WITH e AS (
  INSERT INTO ledger_entries SELECT * FROM json_populate_record(NULL::ledger_entries, %s::json)
  ON CONFLICT (unique_key) DO NOTHING RETURNING id
), p AS (
  INSERT INTO ledger_postings ({_POSTING_COLS})
  SELECT {", ".join("r." + c for c in _POSTING_COLS.split(", "))}
  FROM e, json_populate_recordset(NULL::ledger_postings, %s::json) AS r
), l AS (
  INSERT INTO wallet_lines SELECT r.* FROM e, json_populate_recordset(NULL::wallet_lines, %s::json) AS r
), w AS (
  UPDATE wallets SET {_WALLET_SETS}
  FROM e, json_populate_recordset(NULL::wallets, %s::json) AS r
  WHERE wallets.org_id {{wallets}} AND wallets.org_id = r.org_id  -- the primary key, not a scan
)
SELECT id FROM e"""
# Two shapes, both prepared by the driver. The usual entry changes one wallet: with "= %s"
# the generic plan costs what a custom one does, so PostgreSQL stops re-planning the
# statement on every execution (it does with "= ANY(%s)", whose generic estimate is 10
# rows: planning then cost more than executing).
_PG_ADD_ONE = _PG_ADD_TEMPLATE.replace("{wallets}", "= %s")
_PG_ADD = _PG_ADD_TEMPLATE.replace("{wallets}", "= ANY(%s)")
# Several entries at once (a combined batch of charges, ADR 0006): all rows of all entries
# in one statement; the figures are written only if every entry was.
_PG_ADD_MANY = f"""WITH e AS (
  INSERT INTO ledger_entries SELECT * FROM json_populate_recordset(NULL::ledger_entries, %s::json)
  ON CONFLICT (unique_key) DO NOTHING RETURNING id
), p AS (
  INSERT INTO ledger_postings ({_POSTING_COLS})
  SELECT {", ".join("r." + c for c in _POSTING_COLS.split(", "))}
  FROM json_populate_recordset(NULL::ledger_postings, %s::json) AS r JOIN e ON e.id = r.entry_id
), l AS (
  INSERT INTO wallet_lines SELECT r.* FROM json_populate_recordset(NULL::wallet_lines, %s::json) AS r
  JOIN e ON e.id = r.entry_id
), w AS (
  UPDATE wallets SET {_WALLET_SETS}
  FROM json_populate_recordset(NULL::wallets, %s::json) AS r
  WHERE wallets.org_id = ANY(%s) AND wallets.org_id = r.org_id AND (SELECT count(*) FROM e) = %s
)
SELECT count(*) FROM e"""


def consumption_period(granularity: str) -> Any:
    """A statement line's local day (``YYYY-MM-DD``) or month (``YYYY-MM``)."""
    return L.local_day if granularity == "day" else func.substr(L.local_day, 1, 7)


def consumption_rows(conn: Connection, whose: Any, group: Any, since: datetime, until: datetime
                     ) -> list[ConsumptionRow]:
    """Charges and captures (what a wallet spent) of the lines ``whose`` selects, from
    ``since`` to ``until``, summed by ``group`` (a period, or the wallet), in its order."""
    stmt = (select(group.label("period"), func.sum(L.cash).label("cash"),
                   func.sum(L.normal_coupon).label("normal_coupon"),
                   func.sum(L.traffic_coupon).label("traffic_coupon"), func.sum(L.post_pay).label("post_pay"),
                   func.count().label("n"))
            .where(whose, L.type.in_(("charge", "capture")), L.amount < 0, L.created_at >= since,
                   L.created_at < until)
            .group_by(group).order_by(group))
    out = []
    for r in conn.execute(stmt):
        cash, normal, traffic, post = (r.cash or ZERO, r.normal_coupon or ZERO, r.traffic_coupon or ZERO,
                                       r.post_pay or ZERO)
        out.append(ConsumptionRow(period=r.period, amount=cash + normal + traffic + post, cash=cash,
                                  normal_coupon=normal, traffic_coupon=traffic, post_pay=post, count=r.n))
    return out


def line_conditions(whose: Any, flt: LineFilter) -> list[Any]:
    """The WHERE clauses of a statement-line query: ``whose`` (which wallets) and the filter."""
    conds: list[Any] = [whose]
    if flt.type:
        conds.append(L.type == flt.type)
    if flt.since:
        conds.append(L.created_at >= flt.since)
    if flt.until:
        conds.append(L.created_at < flt.until)
    if flt.reference:
        conds.append(L.reference == flt.reference)
    return conds


# Charges decided without the wallet's lock (ADR 0010): one statement applies them only if
# the wallet still meets the decision's terms once the statement holds the row (PostgreSQL
# re-checks the WHERE clause on the newest row version when it had to wait), and writes the
# entries, their postings and their statement lines only if it did. The entry is dated no earlier
# than the wallet's last change, so a wallet's entries stay in date order. A repeated
# reference matches no row (the lock path answers it); one written between the read and
# the write fails the whole statement on the unique key (no ON CONFLICT), same answer.
_ENTRY_KEY = "uq_ledger_entries_unique_key"


def _insert_from(table: Any, overrides: dict[str, str]) -> str:
    """``INSERT INTO table (its columns) SELECT`` the record ``r``'s, some taken from ``w``."""
    names = [c.name for c in table.columns]
    return (f"INSERT INTO {table.name} ({', '.join(names)}) "
            f"SELECT {', '.join(overrides.get(n, 'r.' + n) for n in names)}")


# ADR 0010: the terms a charge (or a batch of them: terms for their total) was decided
# under, checked on the row the statement holds; the figures it moves are its own
_UNLOCKED_TERMS = """org_id = %(org_id)s AND cash >= %(cash_floor)s AND coupons_normal = 0 AND coupons_traffic = 0
    AND credit_limit = %(credit_limit)s AND credit_used = %(credit_used)s AND held = %(held)s
    AND held_traffic = %(held_traffic)s AND daily_budget IS NOT DISTINCT FROM %(daily_budget)s::numeric
    AND spent_day = %(day)s::date
    AND (%(spent_ceiling)s::numeric IS NULL OR spent_today <= %(spent_ceiling)s::numeric)
    AND low_balance_threshold IS NOT DISTINCT FROM %(low_balance_threshold)s::numeric AND NOT low_balance_alerted
    AND (withholding_active OR NOT %(needs_withholding)s::boolean)
    AND updated_at <= %(now)s::timestamptz + interval '1 second' AND updated_at < %(day_ends)s::timestamptz"""
_FROM_WALLET = {"created_at": "w.at", "seq": "w.version", "after_cash": "w.cash",
                "after_deposit_due": "w.deposit_due", "after_deposit_paid": "w.deposit_paid"}


def _unlocked_statement(*, batch: bool, early_release: bool = False) -> str:
    """The unlocked write for one charge, or for a batch of them on one wallet (ADR 0006
    meets ADR 0010). A batch's lines, as decided on the read, are shifted by how far the
    wallet moved meanwhile (seq by the versions, cash by the cash); one charge's line takes
    them from the row directly. Two statements from one text: the single charge, the common
    case, keeps the leaner one (records rather than arrays of them, no shift).

    ``early_release`` (ADR 0013): the statement's own transaction commits without waiting
    for its WAL to reach the disk (``set_config`` local to it), so the wallet's row is free
    for the next charge at once; the caller must run ``_FLUSH_BARRIER`` before it tells
    anyone the charge landed. Only for a statement that is its own transaction
    (autocommit): in a longer one it would make everything else in it asynchronous too."""
    if batch:
        bump, key, rows, on_e = "%(count)s", "unique_key = ANY(%(unique_keys)s::text[])", "recordset", (
            "", " JOIN e ON e.id = r.entry_id")
        entry, line = "%(entries)s", "%(lines)s"
        line_cols = {**_FROM_WALLET, "seq": "r.seq + (w.version - %(last_seq)s)",
                     "after_cash": "r.after_cash + (w.cash - %(last_cash)s)"}
    else:
        bump, key, rows, on_e = "1", "unique_key = %(unique_key)s", "record", ("e, ", "")
        entry, line, line_cols = "%(entry)s", "%(line)s", _FROM_WALLET
    early = _EARLY_RELEASE if early_release else ""
    return f"""WITH w AS (
  UPDATE wallets SET cash = cash - %(amount)s, spent_today = spent_today + %(amount)s,
    version = version + {bump}, updated_at = GREATEST(updated_at, %(now)s)
  WHERE {_UNLOCKED_TERMS}
    AND NOT EXISTS (SELECT 1 FROM ledger_entries WHERE {key})  -- a repeat: no lock taken
  RETURNING version, cash, deposit_due, deposit_paid, updated_at AS at
), e AS (
  {_insert_from(t.ledger_entries, {"created_at": "w.at"})}
  FROM w, json_populate_{rows}(NULL::ledger_entries, {entry}::json) AS r
  RETURNING id
), p AS (
  {_insert_from(t.ledger_postings, {"created_at": "w.at"})}
  FROM w, {on_e[0]}json_populate_recordset(NULL::ledger_postings, %(postings)s::json) AS r{on_e[1]}
), l AS (
  {_insert_from(t.wallet_lines, line_cols)}
  FROM w, {on_e[0]}json_populate_{rows}(NULL::wallet_lines, {line}::json) AS r{on_e[1]}
)
SELECT version, cash, deposit_due, deposit_paid, at FROM w{early}"""


_EARLY_RELEASE = ", (SELECT set_config('synchronous_commit', 'off', true)) AS early_release"
_PG_ADD_UNLOCKED = _unlocked_statement(batch=False)
_PG_ADD_UNLOCKED_MANY = _unlocked_statement(batch=True)
_PG_ADD_UNLOCKED_EARLY = _unlocked_statement(batch=False, early_release=True)
_PG_ADD_UNLOCKED_MANY_EARLY = _unlocked_statement(batch=True, early_release=True)
# ADR 0013: a transaction of its own that writes a WAL record (a logical-decoding message,
# a no-op outside logical decoding) and commits synchronously, so it returns only once the
# WAL is on disk up to its commit — which comes after the charge's asynchronous commit, in
# the same session. A transaction that only took an xid would not do: PostgreSQL skips the
# flush for a commit that wrote no WAL before its commit record.
_FLUSH_BARRIER = "SELECT pg_logical_emit_message(true, 'agora.wallet', '')"


class SqlLedger(LedgerRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, entry: JournalEntry, lines: Sequence[StatementLine], wallets: Sequence[Wallet] = ()) -> bool:
        if self.conn.dialect.name == "postgresql":
            return self._add_pg(entry, lines, wallets)
        values = self._entry_values(entry)
        if entry.unique_key is not None:
            if not _insert_ignoring(self.conn, t.ledger_entries, values, ["unique_key"]):
                return False
        else:
            self.conn.execute(insert(t.ledger_entries).values(**values))
        self.conn.execute(insert(t.ledger_postings), self._posting_values(entry))
        if lines:
            self.conn.execute(insert(t.wallet_lines), [self._line_values(ln) for ln in lines])
        for wallet in wallets:
            self.conn.execute(update(t.wallets).where(W.org_id == wallet.org_id).values(**_figures(wallet)))
        return True

    def add_many(self, entries: Sequence[JournalEntry], lines: Sequence[StatementLine],
                 wallets: Sequence[Wallet] = ()) -> bool:
        if len(entries) == 1:
            return self.add(entries[0], lines, wallets)
        if self.conn.dialect.name != "postgresql":
            by_entry: dict[str, list[StatementLine]] = {}
            for ln in lines:
                by_entry.setdefault(ln.entry_id, []).append(ln)
            if not all([self.add(e, by_entry.get(e.id, [])) for e in entries]):
                return False
            for wallet in wallets:
                self.conn.execute(update(t.wallets).where(W.org_id == wallet.org_id).values(**_figures(wallet)))
            return True
        params = (_json([self._entry_values(e) for e in entries]),
                  _json([p for e in entries for p in self._posting_values(e)]),
                  _json([self._line_values(ln) for ln in lines]),
                  _json([{"org_id": w.org_id, **_figures(w)} for w in wallets]),
                  [w.org_id for w in wallets], len(entries))
        with _driver(self.conn).cursor() as cur:
            cur.execute(_PG_ADD_MANY, params)
            row = cur.fetchone()
        return row is not None and row[0] == len(entries)

    def add_unlocked(self, entries: Sequence[JournalEntry], lines: Sequence[StatementLine],
                     terms: ChargeTerms, *, release_early: bool = False) -> LandedCharge | None:
        if self.conn.dialect.name != "postgresql":
            return None  # SQLite serialises writers (BEGIN IMMEDIATE): the lock path is the path
        params: dict[str, Any] = dict(
            amount=terms.amount, org_id=terms.org_id, cash_floor=terms.cash_floor, credit_limit=terms.credit_limit,
            credit_used=terms.credit_used, held=terms.held, held_traffic=terms.held_traffic,
            daily_budget=terms.daily_budget, day=terms.day, spent_ceiling=terms.spent_ceiling,
            low_balance_threshold=terms.low_balance_threshold, needs_withholding=terms.needs_withholding,
            now=entries[0].created_at, day_ends=terms.day_ends)
        driver = _driver(self.conn)
        # only a statement that is its own transaction may release the row early (ADR 0013)
        early = release_early and driver.autocommit
        if len(entries) == 1:
            statement = _PG_ADD_UNLOCKED_EARLY if early else _PG_ADD_UNLOCKED
            params.update(unique_key=entries[0].unique_key, entry=_json(self._entry_values(entries[0])),
                          postings=_json(self._posting_values(entries[0])), line=_json(self._line_values(lines[0])))
        else:
            statement = _PG_ADD_UNLOCKED_MANY_EARLY if early else _PG_ADD_UNLOCKED_MANY
            # counts as int8 whatever their size: psycopg types an int by its value, and a
            # new parameter type would be a new prepared statement
            params.update(count=Int8(len(entries)), unique_keys=[e.unique_key for e in entries if e.unique_key],
                          entries=_json([self._entry_values(e) for e in entries]),
                          postings=_json([p for e in entries for p in self._posting_values(e)]),
                          lines=_json([self._line_values(ln) for ln in lines]),
                          last_seq=Int8(lines[-1].seq), last_cash=lines[-1].after.cash)
        try:
            with driver.cursor() as cur:
                cur.execute(statement, params)
                row = cur.fetchone()
                if row is not None and early:
                    # committed, visible, not yet durable: no one hears of it before the
                    # barrier returns (if it fails, the outcome is unknown, as when a
                    # COMMIT's answer is lost: a retry with the reference tells)
                    cur.execute(_FLUSH_BARRIER)
        except psycopg.errors.UniqueViolation as clash:
            if clash.diag.constraint_name != _ENTRY_KEY:
                raise  # (org_id, seq) and the like are ADR 0002's tripwires, never a repeat
            return None  # the reference was charged meanwhile: nothing was written
        if row is None:
            return None
        return LandedCharge(version=row[0], cash=row[1], deposit_due=row[2], deposit_paid=row[3],
                            at=row[4].astimezone(UTC))

    def can_release_early(self) -> bool:
        if self.conn.dialect.name != "postgresql":
            return False
        return bool(self.conn.exec_driver_sql(
            "SELECT has_function_privilege('pg_logical_emit_message(boolean, text, text)', 'EXECUTE')").scalar())

    def make_durable(self) -> None:
        if self.conn.dialect.name == "postgresql":
            with _driver(self.conn).cursor() as cur:
                cur.execute(_FLUSH_BARRIER)

    @staticmethod
    def _posting_values(entry: JournalEntry) -> list[dict[str, Any]]:
        return [dict(entry_id=entry.id, n=n, owner=p.account.owner, account=p.account.name,
                     grant_id=p.account.grant_id or None, amount=p.amount, created_at=entry.created_at)
                for n, p in enumerate(entry.postings)]

    @staticmethod
    def _entry_values(entry: JournalEntry) -> dict[str, Any]:
        return dict(id=entry.id, type=entry.type, org_id=entry.org_id, created_at=entry.created_at,
                    amount=entry.amount, reference=entry.reference, unique_key=entry.unique_key, note=entry.note,
                    actor_id=entry.actor_id, counterparty_org_id=entry.counterparty_org_id,
                    details=dict(entry.details))

    def _add_pg(self, entry: JournalEntry, lines: Sequence[StatementLine], wallets: Sequence[Wallet]) -> bool:
        """One prepared statement whatever the entry's shape: the entry (``ON CONFLICT DO
        NOTHING`` on its unique key), then its postings, lines and wallet figures — each
        written only if the entry was. Rows travel as JSON records."""
        postings = self._posting_values(entry)
        figures = [{"org_id": w.org_id, **_figures(w)} for w in wallets]
        one = len(wallets) == 1
        params = (_json(self._entry_values(entry)), _json(postings), _json([self._line_values(ln) for ln in lines]),
                  _json(figures), wallets[0].org_id if one else [w.org_id for w in wallets])
        with _driver(self.conn).cursor() as cur:
            cur.execute(_PG_ADD_ONE if one else _PG_ADD, params)
            return cur.fetchone() is not None

    @staticmethod
    def _line_values(ln: StatementLine) -> dict[str, Any]:
        a, b = ln.after, ln.breakdown
        return dict(org_id=ln.org_id, seq=ln.seq, entry_id=ln.entry_id, type=ln.type, created_at=ln.created_at,
                    local_day=ln.local_day, amount=ln.amount, cash=b.cash, normal_coupon=b.normal_coupon,
                    traffic_coupon=b.traffic_coupon, post_pay=b.post_pay, after_cash=a.cash,
                    after_coupons_normal=a.coupons_normal, after_coupons_traffic=a.coupons_traffic,
                    after_credit_limit=a.credit_limit, after_credit_used=a.credit_used, after_held=a.held,
                    after_deposit_due=a.deposit_due, after_deposit_paid=a.deposit_paid, reference=ln.reference,
                    counterparty_org_id=ln.counterparty_org_id, note=ln.note, details=dict(ln.details))

    @staticmethod
    def _line(r: Any) -> StatementLine:
        return StatementLine(
            entry_id=r.entry_id, org_id=r.org_id, seq=r.seq, type=r.type, created_at=r.created_at,
            local_day=r.local_day, amount=r.amount,
            breakdown=Breakdown(cash=r.cash, normal_coupon=r.normal_coupon, traffic_coupon=r.traffic_coupon,
                                post_pay=r.post_pay),
            after=Figures(cash=r.after_cash, coupons_normal=r.after_coupons_normal,
                          coupons_traffic=r.after_coupons_traffic, credit_limit=r.after_credit_limit,
                          credit_used=r.after_credit_used, held=r.after_held, deposit_due=r.after_deposit_due,
                          deposit_paid=r.after_deposit_paid),
            reference=r.reference, counterparty_org_id=r.counterparty_org_id, note=r.note,
            details=tuple(sorted((r.details or {}).items())))

    def _entry(self, r: Any) -> JournalEntry:
        postings = self.conn.execute(select(t.ledger_postings).where(P.entry_id == r.id).order_by(P.n))
        return JournalEntry(
            id=r.id, type=r.type, org_id=r.org_id, created_at=r.created_at,
            postings=tuple(Posting(Account(p.owner, p.account, p.grant_id or ""), p.amount) for p in postings),
            amount=r.amount, reference=r.reference, unique_key=r.unique_key, note=r.note, actor_id=r.actor_id,
            counterparty_org_id=r.counterparty_org_id, details=tuple(sorted((r.details or {}).items())))

    def get(self, entry_id: str) -> JournalEntry | None:
        r = self.conn.execute(select(t.ledger_entries).where(E.id == entry_id)).first()
        return self._entry(r) if r else None

    def by_unique_key(self, key: str) -> JournalEntry | None:
        r = self.conn.execute(select(t.ledger_entries).where(E.unique_key == key)).first()
        return self._entry(r) if r else None

    def existing_keys(self, keys: set[str]) -> set[str]:
        if not keys:
            return set()
        if self.conn.dialect.name == "postgresql":  # the combined-charge path: one prepared statement
            with _driver(self.conn).cursor() as cur:
                cur.execute("SELECT unique_key FROM ledger_entries WHERE unique_key = ANY(%s)", (sorted(keys),))
                return {r[0] for r in cur.fetchall()}
        return set(self.conn.execute(select(E.unique_key).where(E.unique_key.in_(sorted(keys)))).scalars())

    def line(self, org_id: str, entry_id: str) -> StatementLine | None:
        # a line has its entry's moment: (org_id, created_at) finds it without an entry_id index
        moment = select(E.created_at).where(E.id == entry_id).scalar_subquery()
        r = self.conn.execute(select(t.wallet_lines).where(
            L.org_id == org_id, L.created_at == moment, L.entry_id == entry_id)).first()
        return self._line(r) if r else None

    def lines(self, org_id: str, flt: LineFilter, offset: int, limit: int) -> tuple[list[StatementLine], int]:
        conds = line_conditions(L.org_id == org_id, flt)
        total = self.conn.execute(select(func.count()).select_from(t.wallet_lines).where(*conds)).scalar_one()
        rows = self.conn.execute(select(t.wallet_lines).where(*conds).order_by(L.seq.desc())
                                 .offset(offset).limit(limit))
        return [self._line(r) for r in rows], total

    def consumption(self, org_id: str, granularity: str, since: datetime, until: datetime) -> list[ConsumptionRow]:
        return consumption_rows(self.conn, L.org_id == org_id, consumption_period(granularity), since, until)

    def balances_at(self, org_id: str, at: datetime) -> dict[Account, Decimal]:
        # the counter-account clauses let the planner use the partial index
        rows = self.conn.execute(select(P.account, P.grant_id, func.sum(P.amount).label("total"))
                                 .where(P.owner == org_id, P.owner != PLATFORM, P.owner != EXTERNAL,
                                        P.created_at <= at).group_by(P.account, P.grant_id))
        return {Account(org_id, r.account, r.grant_id or ""): r.total for r in rows}

    def total(self) -> Decimal:
        value = self.conn.execute(select(func.sum(P.amount))).scalar_one()
        return value if value is not None else ZERO

    def unbalanced_entries(self, limit: int) -> list[str]:
        rows = self.conn.execute(select(P.entry_id).group_by(P.entry_id)
                                 .having(func.sum(P.amount) != 0).limit(limit))
        return list(rows.scalars())

    def allocated_net(self, agency_org_id: str, principal_org_id: str) -> Decimal:
        value = self.conn.execute(select(func.sum(L.amount)).where(
            L.org_id == agency_org_id, L.type == "allocation", L.counterparty_org_id == principal_org_id)
        ).scalar_one()
        return -value if value is not None else ZERO

    def allocation_moves(self, principal_org_id: str) -> list[CashMove]:
        first = self.conn.execute(select(func.min(L.seq)).where(
            L.org_id == principal_org_id, L.type == "allocation")).scalar_one()
        if first is None:
            return []
        before = self.conn.execute(select(L.after_cash).where(  # the cash the first one found
            L.org_id == principal_org_id, L.seq < first).order_by(L.seq.desc()).limit(1)).scalar_one_or_none()
        rows = self.conn.execute(select(L.after_cash, L.type, L.counterparty_org_id).where(
            L.org_id == principal_org_id, L.seq >= first).order_by(L.seq))
        moves, cash = [], before if before is not None else ZERO
        for r in rows:
            moves.append(CashMove(change=r.after_cash - cash, cash_after=r.after_cash, type=r.type,
                                  counterparty=r.counterparty_org_id))
            cash = r.after_cash
        return moves


H = t.wallet_holds.c


class SqlHolds(HoldRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @staticmethod
    def _hold(r: Any) -> Hold:
        return Hold(id=r.id, org_id=r.org_id, reference=r.reference, amount=r.amount, expires_at=r.expires_at,
                    created_at=r.created_at, status=r.status, coupon_kind=r.coupon_kind, captured=r.captured,
                    settled_at=r.settled_at, entry_id=r.entry_id, settle_entry_id=r.settle_entry_id)

    def add(self, hold: Hold) -> None:
        self.conn.execute(insert(t.wallet_holds).values(
            id=hold.id, org_id=hold.org_id, reference=hold.reference, amount=hold.amount,
            coupon_kind=hold.coupon_kind, expires_at=hold.expires_at, created_at=hold.created_at,
            status=hold.status, captured=hold.captured, settled_at=hold.settled_at, entry_id=hold.entry_id,
            settle_entry_id=hold.settle_entry_id))

    def get(self, hold_id: str) -> Hold | None:
        r = self.conn.execute(select(t.wallet_holds).where(H.id == hold_id)).first()
        return self._hold(r) if r else None

    def by_reference(self, org_id: str, reference: str) -> Hold | None:
        r = self.conn.execute(select(t.wallet_holds).where(H.org_id == org_id, H.reference == reference)).first()
        return self._hold(r) if r else None

    def save(self, hold: Hold) -> None:
        self.conn.execute(update(t.wallet_holds).where(H.id == hold.id).values(
            status=hold.status, captured=hold.captured, settled_at=hold.settled_at,
            settle_entry_id=hold.settle_entry_id))

    def expired(self, now: datetime, limit: int) -> list[Hold]:
        rows = self.conn.execute(select(t.wallet_holds).where(H.status == "active", H.expires_at <= now)
                                 .order_by(H.expires_at, H.id).limit(limit))
        return [self._hold(r) for r in rows]

    def expired_of(self, org_id: str, now: datetime) -> list[Hold]:
        rows = self.conn.execute(select(t.wallet_holds).where(H.org_id == org_id, H.status == "active",
                                                              H.expires_at <= now).order_by(H.expires_at, H.id))
        return [self._hold(r) for r in rows]

    def expired_amount_of(self, org_id: str, now: datetime) -> Decimal:
        total = self.conn.execute(select(func.sum(H.amount)).where(H.org_id == org_id, H.status == "active",
                                                                   H.expires_at <= now)).scalar_one()
        return ZERO if total is None else Decimal(total)

    def list(self, org_id: str, status: str | None, offset: int, limit: int) -> tuple[list[Hold], int]:
        conds: list[Any] = [H.org_id == org_id]
        if status:
            conds.append(H.status == status)
        total = self.conn.execute(select(func.count()).select_from(t.wallet_holds).where(*conds)).scalar_one()
        rows = self.conn.execute(select(t.wallet_holds).where(*conds).order_by(H.created_at.desc(), H.id.desc())
                                 .offset(offset).limit(limit))
        return [self._hold(r) for r in rows], total


R = t.wallet_recharges.c


class SqlRecharges(RechargeRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @staticmethod
    def _recharge(r: Any) -> Recharge:
        return Recharge(**r._mapping)

    def add(self, recharge: Recharge) -> None:
        self.conn.execute(insert(t.wallet_recharges).values(**recharge.__dict__))

    def get(self, recharge_id: str) -> Recharge | None:
        r = self.conn.execute(select(t.wallet_recharges).where(R.id == recharge_id)).first()
        return self._recharge(r) if r else None

    def save(self, recharge: Recharge) -> None:
        values = dict(recharge.__dict__)
        values.pop("id")
        self.conn.execute(update(t.wallet_recharges).where(R.id == recharge.id).values(**values))

    def pending_before(self, cutoff: datetime, limit: int) -> list[Recharge]:
        rows = self.conn.execute(select(t.wallet_recharges).where(
            R.status == "pending", R.channel != "offline", R.created_at < cutoff)
            .order_by(R.created_at, R.id).limit(limit))
        return [self._recharge(r) for r in rows]

    def refundable(self, org_id: str, amount: Decimal) -> Recharge | None:
        r = self.conn.execute(select(t.wallet_recharges).where(
            R.org_id == org_id, R.status == "paid", R.channel != "offline", R.amount - R.refunded >= amount)
            .order_by(R.created_at.desc(), R.id.desc()).limit(1)).first()
        return self._recharge(r) if r else None

    def list(self, org_id: str, status: str | None, offset: int, limit: int) -> tuple[list[Recharge], int]:
        conds: list[Any] = [R.org_id == org_id]
        if status:
            conds.append(R.status == status)
        total = self.conn.execute(select(func.count()).select_from(t.wallet_recharges).where(*conds)).scalar_one()
        rows = self.conn.execute(select(t.wallet_recharges).where(*conds)
                                 .order_by(R.created_at.desc(), R.id.desc()).offset(offset).limit(limit))
        return [self._recharge(r) for r in rows], total


D = t.wallet_withdrawals.c


class SqlWithdrawals(WithdrawalRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, withdrawal: Withdrawal) -> None:
        self.conn.execute(insert(t.wallet_withdrawals).values(**withdrawal.__dict__))

    def get(self, withdrawal_id: str) -> Withdrawal | None:
        r = self.conn.execute(select(t.wallet_withdrawals).where(D.id == withdrawal_id)).first()
        return Withdrawal(**r._mapping) if r else None

    def save(self, withdrawal: Withdrawal) -> None:
        values = dict(withdrawal.__dict__)
        values.pop("id")
        self.conn.execute(update(t.wallet_withdrawals).where(D.id == withdrawal.id).values(**values))

    def pending_before(self, cutoff: datetime, limit: int) -> list[Withdrawal]:
        rows = self.conn.execute(select(t.wallet_withdrawals).where(D.status == "pending", D.created_at < cutoff)
                                 .order_by(D.created_at, D.id).limit(limit))
        return [Withdrawal(**r._mapping) for r in rows]

    def list(self, org_id: str, offset: int, limit: int,
             status: str | None = None) -> tuple[list[Withdrawal], int]:
        conds = [D.org_id == org_id] if status is None else [D.org_id == org_id, D.status == status]
        total = self.conn.execute(select(func.count()).select_from(t.wallet_withdrawals).where(*conds)).scalar_one()
        rows = self.conn.execute(select(t.wallet_withdrawals).where(*conds)
                                 .order_by(D.created_at.desc(), D.id.desc()).offset(offset).limit(limit))
        return [Withdrawal(**r._mapping) for r in rows], total


A = t.withholding_agreements.c


class SqlAgreements(AgreementRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, agreement: WithholdingAgreement) -> None:
        self.conn.execute(insert(t.withholding_agreements).values(**agreement.__dict__))

    def get(self, agreement_id: str) -> WithholdingAgreement | None:
        r = self.conn.execute(select(t.withholding_agreements).where(A.id == agreement_id)).first()
        return WithholdingAgreement(**r._mapping) if r else None

    def save(self, agreement: WithholdingAgreement) -> None:
        values = dict(agreement.__dict__)
        values.pop("id")
        self.conn.execute(update(t.withholding_agreements).where(A.id == agreement.id).values(**values))

    def current(self, org_id: str) -> WithholdingAgreement | None:
        r = self.conn.execute(select(t.withholding_agreements).where(
            A.org_id == org_id, or_(A.status == "pending", A.status == "active"))
            .order_by(A.created_at.desc()).limit(1)).first()
        return WithholdingAgreement(**r._mapping) if r else None

    def list(self, org_id: str) -> list[WithholdingAgreement]:
        rows = self.conn.execute(select(t.withholding_agreements).where(A.org_id == org_id)
                                 .order_by(A.created_at.desc(), A.id.desc()))
        return [WithholdingAgreement(**r._mapping) for r in rows]


REPOSITORIES: dict[type, type] = {
    WalletRepository: SqlWallets,
    LedgerRepository: SqlLedger,
    HoldRepository: SqlHolds,
    RechargeRepository: SqlRecharges,
    WithdrawalRepository: SqlWithdrawals,
    AgreementRepository: SqlAgreements,
}
