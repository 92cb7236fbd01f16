"""Repositories of the shared plumbing: outbox, idempotency, rate limits, audit, inbox."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from adapters.postgres import tables as t
from application.shared.audit import AuditFilter, AuditLog, AuditRecord
from application.shared.idempotency import (
    APPLIED,
    DONE,
    IN_PROGRESS,
    LEASE,
    REPLAYING,
    IdempotencyStore,
    StoredResponse,
)
from application.shared.notifications import InboxMessage, InboxRepository
from application.shared.outbox import OutboxMessage, OutboxRepository
from application.shared.ratelimit import RateLimiter


def for_update(stmt: Any, conn: Connection, *, skip_locked: bool = False) -> Any:
    """Row locks on PostgreSQL; SQLite already holds the database lock (BEGIN IMMEDIATE)."""
    if conn.dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=skip_locked)
    return stmt


def savepoint_insert(conn: Connection, stmt: Any) -> bool:
    """Insert inside a savepoint; False (and the transaction intact) on a unique clash."""
    try:
        with conn.begin_nested():
            conn.execute(stmt)
        return True
    except IntegrityError:
        return False


class SqlOutbox(OutboxRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, message: OutboxMessage) -> None:
        self.conn.execute(insert(t.outbox).values(
            id=message.id, event_name=message.event_name, handler=message.handler, payload=message.payload,
            status=message.status, attempts=message.attempts, next_attempt_at=message.next_attempt_at,
            created_at=message.created_at, last_error=message.last_error))

    @staticmethod
    def _row(r: Any) -> OutboxMessage:
        return OutboxMessage(id=r.id, event_name=r.event_name, handler=r.handler, payload=r.payload,
                             attempts=r.attempts, status=r.status, next_attempt_at=r.next_attempt_at,
                             created_at=r.created_at, last_error=r.last_error)

    def claim_due(self, now: datetime, limit: int) -> list[OutboxMessage]:
        stmt = (select(t.outbox).where(t.outbox.c.status == "pending", t.outbox.c.next_attempt_at <= now)
                .order_by(t.outbox.c.created_at).limit(limit))
        return [self._row(r) for r in self.conn.execute(for_update(stmt, self.conn, skip_locked=True))]

    def lock(self, message_id: str) -> OutboxMessage | None:
        stmt = select(t.outbox).where(t.outbox.c.id == message_id)
        row = self.conn.execute(for_update(stmt, self.conn, skip_locked=True)).first()
        return self._row(row) if row else None

    def save(self, message: OutboxMessage) -> None:
        self.conn.execute(update(t.outbox).where(t.outbox.c.id == message.id).values(
            status=message.status, attempts=message.attempts, next_attempt_at=message.next_attempt_at,
            last_error=message.last_error, payload=message.payload))

    def counts(self) -> dict[str, int]:
        rows = self.conn.execute(select(t.outbox.c.status, func.count()).group_by(t.outbox.c.status))
        return {r[0]: r[1] for r in rows}


class SqlIdempotencyStore(IdempotencyStore):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _where(self, scope: str, key: str) -> tuple[Any, ...]:
        return t.idempotency_keys.c.scope == scope, t.idempotency_keys.c.key == key

    def reserve(self, scope: str, key: str, request_hash: str, lease: str, now: datetime) -> StoredResponse | None:
        k = t.idempotency_keys.c
        for _ in range(3):  # a holder's release may delete the row between our insert and select
            if savepoint_insert(self.conn, insert(t.idempotency_keys).values(
                    scope=scope, key=key, request_hash=request_hash, status=IN_PROGRESS, created_at=now,
                    lease=lease, locked_at=now)):
                return None
            # one statement decides a take-over: of two retries, only one can match the old lease.
            # A stale lease, or one let go after a 5xx (NULL) — but an in-progress row without a
            # lease was written by code older than leases, whose holder has no fence: never
            stale = or_(k.locked_at <= now - LEASE, and_(k.locked_at.is_(None), k.status != IN_PROGRESS))
            if self.conn.execute(update(t.idempotency_keys).where(
                    *self._where(scope, key), k.request_hash == request_hash, k.status != DONE, stale).values(
                    lease=lease, locked_at=now,
                    status=case((k.status == IN_PROGRESS, IN_PROGRESS), else_=REPLAYING))).rowcount:
                return None
            r = self.conn.execute(select(t.idempotency_keys).where(*self._where(scope, key))).one_or_none()
            if r is not None:
                return StoredResponse(scope=r.scope, key=r.key, request_hash=r.request_hash, status=r.status,
                                      created_at=r.created_at, response_status=r.response_status,
                                      response_body=r.response_body, lease=r.lease, locked_at=r.locked_at)
        raise RuntimeError("idempotency key kept vanishing")  # pragma: no cover - three races in a row

    def fence(self, scope: str, key: str, lease: str, now: datetime) -> str | None:
        k = t.idempotency_keys.c
        if self.conn.execute(update(t.idempotency_keys).where(
                *self._where(scope, key), k.lease == lease, k.status.in_((IN_PROGRESS, APPLIED))).values(
                status=APPLIED, locked_at=now)).rowcount:  # the holder is alive: its lease starts again
            return None
        row = self.conn.execute(select(k.status, k.lease).where(*self._where(scope, key))).one_or_none()
        if row is None or row.lease != lease:
            return "taken_over"
        return str(row.status)

    def complete(self, scope: str, key: str, lease: str, status: int, body: str) -> None:
        self.conn.execute(update(t.idempotency_keys).where(
            *self._where(scope, key), t.idempotency_keys.c.lease == lease).values(
            status=DONE, response_status=status, response_body=body))

    def release(self, scope: str, key: str, lease: str) -> None:
        k = t.idempotency_keys.c
        self.conn.execute(delete(t.idempotency_keys).where(
            *self._where(scope, key), k.lease == lease, k.status == IN_PROGRESS))
        self.conn.execute(update(t.idempotency_keys).where(
            *self._where(scope, key), k.lease == lease, k.status != DONE).values(locked_at=None))

    def purge(self, before: datetime) -> int:
        return self.conn.execute(delete(t.idempotency_keys).where(
            t.idempotency_keys.c.created_at < before)).rowcount


class SqlRateLimiter(RateLimiter):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def count(self, key: str, since: datetime) -> int:
        return self.conn.execute(select(func.count()).select_from(t.rate_limit_hits).where(
            t.rate_limit_hits.c.key == key, t.rate_limit_hits.c.at > since)).scalar_one()

    def oldest_since(self, key: str, since: datetime) -> datetime | None:
        return self.conn.execute(select(func.min(t.rate_limit_hits.c.at)).where(
            t.rate_limit_hits.c.key == key, t.rate_limit_hits.c.at > since)).scalar_one()

    def hit(self, key: str, at: datetime) -> None:
        self.conn.execute(insert(t.rate_limit_hits).values(key=key, at=at))

    def clear(self, key: str) -> None:
        self.conn.execute(delete(t.rate_limit_hits).where(t.rate_limit_hits.c.key == key))

    def purge(self, before: datetime) -> int:
        return self.conn.execute(delete(t.rate_limit_hits).where(t.rate_limit_hits.c.at < before)).rowcount


class SqlAuditLog(AuditLog):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, record: AuditRecord) -> None:
        self.conn.execute(insert(t.audit_log).values(
            id=record.id, org_id=record.org_id, actor_id=record.actor_id,
            acting_for_org_id=record.acting_for_org_id, operation=record.operation, target=record.target,
            summary=record.summary, at=record.at, request_id=record.request_id))

    def search(self, flt: AuditFilter, offset: int, limit: int) -> tuple[list[AuditRecord], int]:
        c = t.audit_log.c
        conds = []
        if flt.org_id is not None:
            conds.append(c.org_id == flt.org_id)
        if flt.operation:
            conds.append(c.operation == flt.operation)
        if flt.actor_id:
            conds.append(c.actor_id == flt.actor_id)
        if flt.since:
            conds.append(c.at >= flt.since)
        if flt.until:
            conds.append(c.at < flt.until)
        total = self.conn.execute(select(func.count()).select_from(t.audit_log).where(*conds)).scalar_one()
        rows = self.conn.execute(select(t.audit_log).where(*conds).order_by(c.at.desc(), c.id.desc())
                                 .offset(offset).limit(limit))
        return [AuditRecord(**r._mapping) for r in rows], total


class SqlInbox(InboxRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, message: InboxMessage) -> bool:
        return savepoint_insert(self.conn, insert(t.inbox_messages).values(
            id=message.id, user_id=message.user_id, title=message.title, body=message.body,
            created_at=message.created_at, read_at=message.read_at, source_id=message.source_id))

    def list_for(self, user_id: str, *, unread_only: bool, offset: int, limit: int
                 ) -> tuple[list[InboxMessage], int]:
        c = t.inbox_messages.c
        conds = [c.user_id == user_id]
        if unread_only:
            conds.append(c.read_at.is_(None))
        total = self.conn.execute(select(func.count()).select_from(t.inbox_messages).where(*conds)).scalar_one()
        rows = self.conn.execute(select(t.inbox_messages).where(*conds)
                                 .order_by(c.created_at.desc(), c.id.desc()).offset(offset).limit(limit))
        return [InboxMessage(**r._mapping) for r in rows], total

    def mark_read(self, user_id: str, message_id: str, at: datetime) -> bool:
        c = t.inbox_messages.c
        res = self.conn.execute(update(t.inbox_messages).where(c.id == message_id, c.user_id == user_id,
                                                               c.read_at.is_(None)).values(read_at=at))
        return res.rowcount == 1


REPOSITORIES: dict[type, type] = {
    OutboxRepository: SqlOutbox,
    IdempotencyStore: SqlIdempotencyStore,
    RateLimiter: SqlRateLimiter,
    AuditLog: SqlAuditLog,
    InboxRepository: SqlInbox,
}
