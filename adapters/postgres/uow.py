"""SQLAlchemy unit of work: one connection, one transaction, repositories on it."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, create_engine
from sqlalchemy.pool import NullPool

from application.shared.clock import Clock
from application.shared.outbox import HandlerRegistry, OutboxMessage, OutboxRepository
from application.shared.uow import UnitOfWork, UnitOfWorkFactory, current_commit_guards
from domain.shared.events import DomainEvent
from domain.shared.ids import new_id

T = TypeVar("T")
RepoFactory = Callable[[Connection], Any]
log = logging.getLogger("agora.db")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the settings both databases need."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               poolclass=NullPool, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let SQLAlchemy's BEGIN below own transactions
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # BEGIN IMMEDIATE takes the write lock up front: SQLite's answer to
            # SELECT ... FOR UPDATE, so read-check-write sequences cannot interleave.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    # no ping per checkout (a round trip per unit of work): a connection the server dropped
    # fails one unit of work, SQLAlchemy then discards the whole pool; recycling old
    # connections keeps that rare (docs/adr/0004-request-path-costs.md)
    kwargs.setdefault("pool_pre_ping", False)
    kwargs.setdefault("pool_recycle", 1800)
    return create_engine(url, **kwargs)


class SqlUnitOfWork(UnitOfWork):
    def __init__(self, engine: Engine, repos: dict[type, RepoFactory], registry: HandlerRegistry,
                 clock: Clock, after_outbox: Callable[[], None] | None, autocommit: bool = False) -> None:
        super().__init__()
        if autocommit and current_commit_guards():
            raise RuntimeError("an autocommit unit of work cannot run commit guards with its effect")
        self._conn = engine.connect()
        self.autocommit = autocommit
        self._driver_autocommit = autocommit and self._conn.dialect.name == "postgresql"
        if self._driver_autocommit:
            # psycopg commits each statement. Set on the driver, not through SQLAlchemy's
            # isolation-level option: that costs as much CPU as a fifth of the charge it
            # serves (ADR 0010); ``close`` switches it back before the pool sees it.
            self._conn.connection.dbapi_connection.autocommit = True  # type: ignore[union-attr]
        elif autocommit:
            self._conn.execution_options(isolation_level="AUTOCOMMIT")
        self._tx = self._conn.begin()
        self._repos = repos
        self._instances: dict[type, Any] = {}
        self._registry = registry
        self._clock = clock
        self._after_outbox = after_outbox

    @property
    def connection(self) -> Connection:
        return self._conn

    @property
    def dialect(self) -> str:
        return self._conn.dialect.name

    def repo(self, port: type[T]) -> T:
        inst = self._instances.get(port)
        if inst is None:
            try:
                factory = self._repos[port]
            except KeyError:
                raise LookupError(f"no adapter bound for {port.__name__}") from None
            inst = self._instances[port] = factory(self._conn)
        return inst  # type: ignore[no-any-return]

    def publish(self, *events: DomainEvent) -> None:
        if self.autocommit and any(ev.integration and self._registry.handlers_for(ev.event_name())
                                   for ev in events):
            raise RuntimeError("an autocommit unit of work cannot write the outbox with its effect")
        super().publish(*events)

    def _write_outbox(self) -> bool:
        if not self.events:  # most commits: no clock, no repository
            return False
        wrote = False
        now = self._clock.now()
        outbox = self.repo(OutboxRepository)
        for ev in self.events:
            if not ev.integration:
                continue
            for handler in self._registry.handlers_for(ev.event_name()):
                outbox.add(OutboxMessage(id=new_id("msg"), event_name=ev.event_name(), handler=handler,
                                         payload=ev.to_payload(), attempts=0, status="pending",
                                         next_attempt_at=now, created_at=now))
                wrote = True
        self.events.clear()
        return wrote

    def commit(self) -> None:
        if self.autocommit and current_commit_guards():  # they could only commit apart from the effect
            raise RuntimeError("an autocommit unit of work cannot run commit guards with its effect")
        super().commit()

    def _commit(self) -> None:
        if self._write_outbox() and self._after_outbox is not None:
            self.on_commit(self._after_outbox)
        self._tx.commit()

    def rollback(self) -> None:
        if self._tx.is_active:
            self._tx.rollback()
        self.events.clear()

    def close(self) -> None:
        if self._driver_autocommit:
            try:
                self._conn.connection.dbapi_connection.autocommit = False  # type: ignore[union-attr]
            except Exception:  # broken or mid-transaction: never back into the pool like this
                log.warning("autocommit connection discarded", exc_info=True)
                self._conn.invalidate()
        self._conn.close()


class SqlUnitOfWorkFactory(UnitOfWorkFactory):
    def __init__(self, engine: Engine, registry: HandlerRegistry, clock: Clock,
                 after_outbox: Callable[[], None] | None = None) -> None:
        self.engine = engine
        self.registry = registry
        self.clock = clock
        self.after_outbox = after_outbox
        self.repos: dict[type, RepoFactory] = {}

    def bind(self, port: type, factory: RepoFactory) -> None:
        self.repos[port] = factory

    def __call__(self, *, autocommit: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, self.repos, self.registry, self.clock, self.after_outbox, autocommit)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name
