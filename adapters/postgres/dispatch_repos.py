"""Dispatch repositories on SQLAlchemy Core (PostgreSQL and SQLite).

Capacity is taken with conditional updates (``... WHERE current_load < max_load``,
checked by rowcount); sweeps lock a scope's rows with FOR UPDATE in key order first.
SQLite has no row locks: its BEGIN IMMEDIATE transactions are already serial.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    Boolean,
    Integer,
    Table,
    Text,
    and_,
    case,
    delete,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from adapters.postgres import tables as t
from adapters.postgres.shared_repos import for_update, savepoint_insert
from adapters.postgres.types import UTCDateTime, tag_pattern
from application.dispatch.ports import (
    Decision,
    DecisionRepository,
    EmployeeCapacity,
    EmployeeCapacityRepository,
    Holding,
    HoldingRepository,
    Kind,
    LoadMismatch,
    ProductProvider,
    ProductProviderRepository,
    ProductVendors,
    QueuedProject,
    QueueFilter,
    QueueRepository,
)
from domain.dispatch import EmployeeCandidate

BATCH = 500  # ids per IN list / CASE
T = TypeVar("T")


def _batches(items: Sequence[T], size: int = BATCH) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _unnest_insert(conn: Connection, table: Table, values: list[dict[str, Any]], *, skip_conflicts: bool = False,
                   returning: tuple[str, ...] = ()) -> list[Any]:
    """PostgreSQL: many rows in one ``INSERT ... SELECT FROM unnest(arrays)`` statement (a
    sweep writes thousands of holdings and decisions per transaction; row-by-row VALUES
    batches cost several times more)."""
    cols = list(values[0])
    params: dict[str, Any] = {}
    arrays: list[str] = []
    selected: list[str] = []
    for name in cols:
        col_type = table.c[name].type
        column = [v[name] for v in values]
        if isinstance(col_type, JSON):
            params[name], array_type, select_as = [json.dumps(x) for x in column], "text[]", f"{name}::json"
        elif isinstance(col_type, UTCDateTime):
            params[name], array_type, select_as = column, "timestamptz[]", name
        elif isinstance(col_type, Boolean):
            params[name], array_type, select_as = column, "boolean[]", name
        elif isinstance(col_type, Integer):
            params[name], array_type, select_as = column, "integer[]", name
        else:
            params[name], array_type, select_as = column, "text[]", name
        arrays.append(f"CAST(:{name} AS {array_type})")
        selected.append(select_as)
    sql = (f"INSERT INTO {table.name} ({', '.join(cols)}) SELECT {', '.join(selected)} "
           f"FROM unnest({', '.join(arrays)}) AS u({', '.join(cols)})")
    if skip_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    result = conn.execute(text(sql), params)
    return list(result) if returning else []


def _upsert(conn: Connection, table: Any, values: dict[str, Any], keys: list[str], update_cols: list[str]) -> None:
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = dialect_insert(table).values(**values)
    stmt = stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in update_cols})
    conn.execute(stmt)


def _conditional_update(conn: Connection, stmt: Any) -> bool:
    """One row changed, or none and no lock kept: in PostgreSQL a conditional UPDATE that
    waited for a concurrent writer and then failed its re-check keeps that row locked to
    the end of the transaction; rolling back to a savepoint lets it go, so a dispatcher
    that moves on to the next candidate never holds two rows in an arbitrary order."""
    with conn.begin_nested() as savepoint:
        if conn.execute(stmt).rowcount == 1:
            return True
        savepoint.rollback()
        return False


def _has_role(roles_column: Any, role: str) -> Any:
    # compared as text: TagList would otherwise process the LIKE pattern as a list of tags
    return type_coerce(roles_column, Text).like(tag_pattern(role))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlProductVendors(ProductVendors):
    """Reads workflow's product table (``service_products``: id, vendor_org_id). Looked up
    by name, so this module does not depend on workflow's section of ``tables``."""

    TABLE = "service_products"

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def vendor_of(self, product_id: str) -> str | None:
        products = t.metadata.tables.get(self.TABLE)
        if products is None or "vendor_org_id" not in products.c:
            return None
        return self.conn.execute(select(products.c.vendor_org_id).where(
            products.c.id == product_id)).scalar_one_or_none()


class SqlProductProviders(ProductProviderRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @staticmethod
    def _row(r: Any) -> ProductProvider:
        m = r._mapping
        return ProductProvider(product_id=m["product_id"], provider_org_id=m["provider_org_id"],
                               vendor_org_id=m["vendor_org_id"], weight=m["weight"], max_load=m["max_load"],
                               current_load=m["current_load"], active=bool(m["active"]), updated_at=m["updated_at"],
                               provider_name=m.get("provider_name"))

    def _named(self) -> Any:
        pp, o = t.product_providers, t.organizations
        return (select(pp, o.c.name.label("provider_name"))
                .select_from(pp.outerjoin(o, o.c.id == pp.c.provider_org_id)))

    def list_for_product(self, product_id: str, *, active_only: bool = True, lock: bool = False,
                         skip_locked: bool = False) -> list[ProductProvider]:
        pp = t.product_providers.c
        stmt = (for_update(select(t.product_providers), self.conn, skip_locked=skip_locked) if lock or skip_locked
                else self._named())
        stmt = stmt.where(pp.product_id == product_id)
        if active_only:
            stmt = stmt.where(pp.active.is_(True))
        return [self._row(r) for r in self.conn.execute(stmt.order_by(pp.provider_org_id))]

    def upsert(self, row: ProductProvider) -> None:
        _upsert(self.conn, t.product_providers, dict(
            product_id=row.product_id, provider_org_id=row.provider_org_id, vendor_org_id=row.vendor_org_id,
            weight=row.weight, max_load=row.max_load, current_load=row.current_load, active=row.active,
            updated_at=row.updated_at), ["product_id", "provider_org_id"],
            ["vendor_org_id", "weight", "max_load", "active", "updated_at"])  # never the load: it is counted

    def delete(self, product_id: str, provider_org_id: str) -> None:
        pp = t.product_providers.c
        self.conn.execute(delete(t.product_providers).where(pp.product_id == product_id,
                                                            pp.provider_org_id == provider_org_id,
                                                            pp.current_load == 0))

    def take(self, product_id: str, provider_org_id: str, now: datetime) -> bool:
        pp = t.product_providers.c
        return _conditional_update(self.conn, update(t.product_providers).where(
            pp.product_id == product_id, pp.provider_org_id == provider_org_id, pp.active.is_(True),
            pp.current_load < pp.max_load).values(current_load=pp.current_load + 1, updated_at=now))

    def add_load(self, product_id: str, provider_org_id: str, delta: int, now: datetime, *,
                 within_max: bool = False) -> bool:
        pp = t.product_providers.c
        stmt = update(t.product_providers).where(pp.product_id == product_id, pp.provider_org_id == provider_org_id)
        if within_max:
            stmt = stmt.where(pp.current_load + delta <= pp.max_load)
        return self.conn.execute(stmt.values(current_load=pp.current_load + delta, updated_at=now)).rowcount == 1

    def vendor_of_product(self, product_id: str) -> str | None:
        pp = t.product_providers.c
        return self.conn.execute(select(pp.vendor_org_id).where(pp.product_id == product_id).limit(1)).scalar()

    def search(self, *, product_id: str | None, vendor_org_id: str | None, provider_org_id: str | None,
               visible_to_org: str | None, offset: int, limit: int) -> tuple[list[ProductProvider], int]:
        pp = t.product_providers.c
        conds: list[Any] = [pp.active.is_(True)]
        if product_id:
            conds.append(pp.product_id == product_id)
        if vendor_org_id:
            conds.append(pp.vendor_org_id == vendor_org_id)
        if provider_org_id:
            conds.append(pp.provider_org_id == provider_org_id)
        if visible_to_org:
            conds.append(or_(pp.vendor_org_id == visible_to_org, pp.provider_org_id == visible_to_org))
        total = self.conn.execute(select(func.count()).select_from(t.product_providers).where(*conds)).scalar_one()
        rows = self.conn.execute(self._named().where(*conds).order_by(pp.product_id, pp.provider_org_id)
                                 .offset(offset).limit(limit))
        return [self._row(r) for r in rows], total


class SqlEmployeeCapacity(EmployeeCapacityRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, user_id: str) -> EmployeeCapacity | None:
        c = t.employee_capacity.c
        r = self.conn.execute(select(t.employee_capacity).where(c.user_id == user_id)).first()
        if r is None:
            return None
        return EmployeeCapacity(user_id=r.user_id, org_id=r.org_id, max_load=r.max_load, accepting=bool(r.accepting),
                                current_load=r.current_load, updated_at=r.updated_at)

    def upsert(self, org_id: str, user_id: str, max_load: int, accepting: bool, now: datetime) -> EmployeeCapacity:
        _upsert(self.conn, t.employee_capacity, dict(user_id=user_id, org_id=org_id, max_load=max_load,
                                                     accepting=accepting, current_load=0, updated_at=now),
                ["user_id"], ["max_load", "accepting", "updated_at"])
        cap = self.get(user_id)
        assert cap is not None
        return cap

    def _joined(self) -> Any:
        u, c = t.users.c, t.employee_capacity.c
        return (select(u.id, u.name, u.roles, u.department_id, u.org_id,
                       func.coalesce(c.accepting, literal(True)).label("accepting"),
                       func.coalesce(c.max_load, 0).label("max_load"),
                       func.coalesce(c.current_load, 0).label("current_load"), c.updated_at)
                .select_from(t.users.outerjoin(t.employee_capacity, c.user_id == u.id)))

    def candidates(self, org_id: str, role: str | None = None) -> list[EmployeeCandidate]:
        u = t.users.c
        stmt = self._joined().where(u.org_id == org_id, u.status == "active")
        if role is not None:
            stmt = stmt.where(_has_role(u.roles, role))
        return [EmployeeCandidate(r.id, frozenset(r.roles), bool(r.accepting), r.max_load, r.current_load,
                                  r.department_id)
                for r in self.conn.execute(stmt.order_by(u.id))]

    def lock_org(self, org_id: str) -> set[str]:
        c = t.employee_capacity.c
        stmt = select(c.user_id).where(c.org_id == org_id).order_by(c.user_id)
        return set(self.conn.execute(for_update(stmt, self.conn, skip_locked=True)).scalars())

    def take(self, user_id: str, now: datetime, *, require_accepting: bool = True) -> bool:
        c = t.employee_capacity.c
        stmt = update(t.employee_capacity).where(c.user_id == user_id, c.current_load < c.max_load)
        if require_accepting:
            stmt = stmt.where(c.accepting.is_(True))
        return _conditional_update(self.conn, stmt.values(current_load=c.current_load + 1, updated_at=now))

    def add_loads(self, deltas: Mapping[str, int], now: datetime, *, within_max: bool = False) -> bool:
        c = t.employee_capacity.c
        items = sorted((u, d) for u, d in deltas.items() if d)
        if not items:
            return True
        if self.conn.dialect.name == "postgresql":  # one statement for a whole sweep chunk
            guard = " AND c.current_load + u.delta <= c.max_load" if within_max else ""
            changed = self.conn.execute(text(
                "UPDATE employee_capacity AS c SET current_load = c.current_load + u.delta, updated_at = :now "
                "FROM unnest(CAST(:ids AS text[]), CAST(:deltas AS integer[])) AS u(user_id, delta) "
                "WHERE c.user_id = u.user_id" + guard),
                {"ids": [u for u, _ in items], "deltas": [d for _, d in items], "now": now}).rowcount
            return changed == len(items)
        changed = 0
        for batch in _batches(items):
            delta = case(dict(batch), value=c.user_id)
            stmt = update(t.employee_capacity).where(c.user_id.in_([u for u, _ in batch]))
            if within_max:
                stmt = stmt.where(c.current_load + delta <= c.max_load)
            changed += self.conn.execute(stmt.values(current_load=c.current_load + delta, updated_at=now)).rowcount
        return changed == len(items)

    def search(self, org_id: str, *, role: str | None, accepting: bool | None, offset: int,
               limit: int) -> tuple[list[EmployeeCapacity], int]:
        u, c = t.users.c, t.employee_capacity.c
        conds: list[Any] = [u.org_id == org_id, u.status != "deleted"]
        if role:
            conds.append(_has_role(u.roles, role))
        if accepting is not None:
            conds.append(func.coalesce(c.accepting, literal(True)).is_(accepting))
        base = t.users.outerjoin(t.employee_capacity, c.user_id == u.id)
        total = self.conn.execute(select(func.count()).select_from(base).where(*conds)).scalar_one()
        rows = self.conn.execute(self._joined().where(*conds).order_by(u.name, u.id).offset(offset).limit(limit))
        return [EmployeeCapacity(user_id=r.id, org_id=r.org_id, max_load=r.max_load, accepting=bool(r.accepting),
                                 current_load=r.current_load, updated_at=r.updated_at, name=r.name,
                                 roles=tuple(r.roles), department_id=r.department_id) for r in rows], total


class SqlHoldings(HoldingRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @staticmethod
    def _values(h: Holding) -> dict[str, Any]:
        return dict(project_id=h.project_id, kind=h.kind, holder_id=h.holder_id, product_id=h.product_id,
                    org_id=h.org_id, role=h.role, at=h.at)

    def add(self, holding: Holding) -> bool:
        return savepoint_insert(self.conn, insert(t.dispatch_holdings).values(**self._values(holding)))

    def add_many(self, holdings: Sequence[Holding]) -> set[tuple[str, str]]:
        if not holdings:
            return set()
        values = [self._values(x) for x in holdings]
        if self.conn.dialect.name == "postgresql":
            found = _unnest_insert(self.conn, t.dispatch_holdings, values, skip_conflicts=True,
                                   returning=("project_id", "holder_id"))
            return {(r.project_id, r.holder_id) for r in found}
        h = t.dispatch_holdings.c
        stmt = sqlite.insert(t.dispatch_holdings).on_conflict_do_nothing().returning(h.project_id, h.holder_id)
        return {(r.project_id, r.holder_id) for r in self.conn.execute(stmt, values)}

    def for_project(self, project_id: str, *, lock: bool = False) -> list[Holding]:
        h = t.dispatch_holdings.c
        stmt = select(t.dispatch_holdings).where(h.project_id == project_id).order_by(h.kind, h.holder_id)
        if lock:
            stmt = for_update(stmt, self.conn)
        return [Holding(r.project_id, r.kind, r.holder_id, r.product_id, r.org_id, r.role, r.at)
                for r in self.conn.execute(stmt)]

    def delete_for_project(self, project_id: str) -> None:
        self.conn.execute(delete(t.dispatch_holdings).where(t.dispatch_holdings.c.project_id == project_id))

    def move(self, project_id: str, from_user_id: str, to_user_id: str, at: datetime) -> None:
        h = t.dispatch_holdings.c
        self.conn.execute(update(t.dispatch_holdings).where(
            h.project_id == project_id, h.kind == "employee", h.holder_id == from_user_id).values(
            holder_id=to_user_id, at=at))

    def load_mismatches(self) -> list[LoadMismatch]:
        h, c, pp = t.dispatch_holdings.c, t.employee_capacity.c, t.product_providers.c
        out: list[LoadMismatch] = []
        counted = (select(h.holder_id, func.count().label("n")).where(h.kind == "employee")
                   .group_by(h.holder_id).subquery())
        rows = self.conn.execute(
            select(c.user_id, c.current_load, func.coalesce(counted.c.n, 0).label("n"))
            .select_from(t.employee_capacity.outerjoin(counted, counted.c.holder_id == c.user_id))
            .where(c.current_load != func.coalesce(counted.c.n, 0)))
        out += [LoadMismatch("employee", r.user_id, r.current_load, r.n) for r in rows]
        orphans = self.conn.execute(
            select(counted.c.holder_id, counted.c.n).where(~counted.c.holder_id.in_(select(c.user_id))))
        out += [LoadMismatch("employee", r.holder_id, 0, r.n) for r in orphans]
        by_product = (select(h.product_id, h.holder_id, func.count().label("n")).where(h.kind == "provider")
                      .group_by(h.product_id, h.holder_id).subquery())
        rows = self.conn.execute(
            select(pp.product_id, pp.provider_org_id, pp.current_load, func.coalesce(by_product.c.n, 0).label("n"))
            .select_from(t.product_providers.outerjoin(by_product, and_(
                by_product.c.product_id == pp.product_id, by_product.c.holder_id == pp.provider_org_id)))
            .where(pp.current_load != func.coalesce(by_product.c.n, 0)))
        out += [LoadMismatch("provider", f"{r.product_id}/{r.provider_org_id}", r.current_load, r.n) for r in rows]
        return out


class SqlQueue(QueueRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @staticmethod
    def _row(r: Any) -> QueuedProject:
        m = r._mapping
        return QueuedProject(
            project_id=m["project_id"], kind=m["kind"], reason_code=m["reason_code"], reason=m["reason"],
            queued_at=m["queued_at"], updated_at=m["updated_at"], order_no=m["order_no"], product_id=m["product_id"],
            customer_org_id=m["customer_org_id"], vendor_org_id=m["vendor_org_id"],
            provider_org_id=m["provider_org_id"], role=m["role"], rule=m["rule"], department_id=m["department_id"],
            customer_name=m.get("customer_name"), provider_name=m.get("provider_name"))

    def get(self, project_id: str, kind: Kind, *, lock: bool = False) -> QueuedProject | None:
        q = t.dispatch_queue.c
        stmt = select(t.dispatch_queue).where(q.project_id == project_id, q.kind == kind)
        if lock:
            stmt = for_update(stmt, self.conn)
        r = self.conn.execute(stmt).first()
        return self._row(r) if r else None

    def for_project(self, project_id: str) -> list[QueuedProject]:
        q = t.dispatch_queue.c
        rows = self.conn.execute(select(t.dispatch_queue).where(q.project_id == project_id).order_by(q.kind))
        return [self._row(r) for r in rows]

    def put(self, entry: QueuedProject) -> None:
        _upsert(self.conn, t.dispatch_queue, dict(
            project_id=entry.project_id, kind=entry.kind, reason_code=entry.reason_code, reason=entry.reason[:200],
            queued_at=entry.queued_at, updated_at=entry.updated_at, order_no=entry.order_no,
            product_id=entry.product_id, vendor_org_id=entry.vendor_org_id, customer_org_id=entry.customer_org_id,
            provider_org_id=entry.provider_org_id, role=entry.role, rule=entry.rule,
            department_id=entry.department_id), ["project_id", "kind"],
            ["reason_code", "reason", "updated_at", "order_no", "product_id", "vendor_org_id", "customer_org_id",
             "provider_org_id", "role", "rule", "department_id"])  # queued_at stays: the wait goes on

    def delete(self, project_id: str, kind: Kind | None = None) -> None:
        q = t.dispatch_queue.c
        stmt = delete(t.dispatch_queue).where(q.project_id == project_id)
        if kind is not None:
            stmt = stmt.where(q.kind == kind)
        self.conn.execute(stmt)

    def delete_many(self, keys: Iterable[tuple[str, Kind]]) -> None:
        q = t.dispatch_queue.c
        by_kind: dict[str, list[str]] = {}
        for project_id, kind in keys:
            by_kind.setdefault(kind, []).append(project_id)
        for kind_name, ids in by_kind.items():
            if self.conn.dialect.name == "postgresql":
                self.conn.execute(text("DELETE FROM dispatch_queue WHERE kind = :kind "
                                       "AND project_id = ANY(CAST(:ids AS text[]))"), {"kind": kind_name, "ids": ids})
                continue
            for batch in _batches(ids, 1000):
                self.conn.execute(delete(t.dispatch_queue).where(q.kind == kind_name, q.project_id.in_(batch)))

    @staticmethod
    def _scope_column(kind: Kind) -> Any:
        q = t.dispatch_queue.c
        return q.product_id if kind == "provider" else q.provider_org_id

    def claim(self, kind: Kind, *, scope: str, after: tuple[datetime, str] | None,
              limit: int) -> list[QueuedProject]:
        q = t.dispatch_queue.c
        stmt = select(t.dispatch_queue).where(q.kind == kind, self._scope_column(kind) == scope)
        if after is not None:
            at, project_id = after
            stmt = stmt.where(or_(q.queued_at > at, and_(q.queued_at == at, q.project_id > project_id)))
        stmt = stmt.order_by(q.queued_at, q.project_id).limit(limit)
        return [self._row(r) for r in self.conn.execute(for_update(stmt, self.conn, skip_locked=True))]

    def scopes(self, kind: Kind) -> list[str]:
        q = t.dispatch_queue.c
        col = self._scope_column(kind)
        rows = self.conn.execute(select(col, func.min(q.queued_at).label("oldest")).where(
            q.kind == kind, col.is_not(None)).group_by(col).order_by("oldest", col))
        return [r[0] for r in rows]

    def search(self, flt: QueueFilter, offset: int, limit: int) -> tuple[list[QueuedProject], int]:
        q = t.dispatch_queue.c
        customer = t.organizations.alias("customer")
        provider = t.organizations.alias("provider")
        conds: list[Any] = []
        if not flt.unrestricted:
            visible: list[Any] = []
            if flt.as_vendor:
                visible.append(and_(q.kind == "provider", q.vendor_org_id == flt.as_vendor))
            if flt.as_provider:
                visible.append(and_(q.kind == "employee", q.provider_org_id == flt.as_provider))
            conds.append(or_(*visible) if visible else false())
        if flt.kind:
            conds.append(q.kind == flt.kind)
        if flt.order_no:
            conds.append(q.order_no.like(f"%{_escape_like(flt.order_no)}%", escape="\\"))
        if flt.product_id:
            conds.append(q.product_id == flt.product_id)
        if flt.customer_org_id:
            conds.append(q.customer_org_id == flt.customer_org_id)
        if flt.provider_org_id:
            conds.append(q.provider_org_id == flt.provider_org_id)
        if flt.reason_code:
            conds.append(q.reason_code == flt.reason_code)
        total = self.conn.execute(select(func.count()).select_from(t.dispatch_queue).where(*conds)).scalar_one()
        stmt = (select(t.dispatch_queue, customer.c.name.label("customer_name"),
                       provider.c.name.label("provider_name"))
                .select_from(t.dispatch_queue.outerjoin(customer, customer.c.id == q.customer_org_id)
                             .outerjoin(provider, provider.c.id == q.provider_org_id))
                .where(*conds).order_by(q.queued_at, q.project_id).offset(offset).limit(limit))
        return [self._row(r) for r in self.conn.execute(stmt)], total


class SqlDecisions(DecisionRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @staticmethod
    def _values(d: Decision) -> dict[str, Any]:
        return dict(id=d.id, project_id=d.project_id, kind=d.kind, chosen=d.chosen,
                    reason=d.reason[:200] if d.reason else None, via=d.via, product_id=d.product_id,
                    vendor_org_id=d.vendor_org_id, provider_org_id=d.provider_org_id, explanation=d.explanation,
                    at=d.at)

    def add(self, decision: Decision) -> None:
        self.conn.execute(insert(t.dispatch_decisions).values(**self._values(decision)))

    def add_many(self, decisions: Sequence[Decision]) -> None:
        if not decisions:
            return
        values = [self._values(d) for d in decisions]
        if self.conn.dialect.name == "postgresql":
            for batch in _batches(values, 10_000):
                _unnest_insert(self.conn, t.dispatch_decisions, list(batch))
        else:
            self.conn.execute(insert(t.dispatch_decisions), values)

    def search(self, *, project_id: str | None, kind: Kind | None, visible_to_org: str | None, offset: int,
               limit: int) -> tuple[list[Decision], int]:
        d = t.dispatch_decisions.c
        conds: list[Any] = []
        if project_id:
            conds.append(d.project_id == project_id)
        if kind:
            conds.append(d.kind == kind)
        if visible_to_org:
            conds.append(or_(d.vendor_org_id == visible_to_org, d.provider_org_id == visible_to_org))
        total = self.conn.execute(select(func.count()).select_from(t.dispatch_decisions).where(*conds)).scalar_one()
        rows = self.conn.execute(select(t.dispatch_decisions).where(*conds).order_by(d.at.desc(), d.id.desc())
                                 .offset(offset).limit(limit))
        return [Decision(**r._mapping) for r in rows], total


REPOSITORIES: dict[type, type] = {
    ProductVendors: SqlProductVendors,
    ProductProviderRepository: SqlProductProviders,
    EmployeeCapacityRepository: SqlEmployeeCapacity,
    HoldingRepository: SqlHoldings,
    QueueRepository: SqlQueue,
    DecisionRepository: SqlDecisions,
}
