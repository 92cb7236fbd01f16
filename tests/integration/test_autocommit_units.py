"""An autocommit unit of work (ADR 0010) switches psycopg's autocommit on its pooled
connection itself and must hand the connection back transactional, whatever happened
inside: the next unit of work on that connection — a charge under the lock, a recharge —
relies on its statements sharing one transaction."""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from adapters.postgres.uow import SqlUnitOfWorkFactory, make_engine
from application.shared.clock import Clock
from application.shared.outbox import HandlerRegistry
from application.shared.uow import UnitOfWork

pytestmark = pytest.mark.postgres


@pytest.fixture
def factory(db_url: str) -> Iterator[SqlUnitOfWorkFactory]:
    """One pooled connection only: every unit of work gets the one the last gave back."""
    engine = make_engine(db_url, pool_size=1, max_overflow=0)
    yield SqlUnitOfWorkFactory(engine, HandlerRegistry(), Clock())
    engine.dispose()


def backend(uow: UnitOfWork) -> int:
    return int(uow.connection.execute(text("SELECT pg_backend_pid()")).scalar_one())  # type: ignore[attr-defined]


def one_transaction(uow: UnitOfWork) -> bool:
    """Whether two statements share a transaction (its id is the same in both)."""
    conn = uow.connection  # type: ignore[attr-defined]
    first = conn.execute(text("SELECT pg_current_xact_id()")).scalar_one()
    return bool(conn.execute(text("SELECT pg_current_xact_id()")).scalar_one() == first)


def test_an_autocommit_unit_commits_each_statement_and_gives_back_a_transactional_connection(
        factory: SqlUnitOfWorkFactory) -> None:
    with factory(autocommit=True) as uow:
        pid = backend(uow)
        assert not one_transaction(uow)
    with factory() as uow:
        assert backend(uow) == pid  # the same connection
        assert one_transaction(uow)


def test_a_failure_inside_an_autocommit_unit_still_gives_back_a_transactional_connection(
        factory: SqlUnitOfWorkFactory) -> None:
    with pytest.raises(DBAPIError), factory(autocommit=True) as uow:
        pid = backend(uow)
        uow.connection.execute(text("SELECT 1/0"))  # type: ignore[attr-defined]
    with factory() as uow:
        assert backend(uow) == pid
        assert one_transaction(uow)


def test_an_autocommit_connection_that_cannot_be_switched_back_is_discarded(
        factory: SqlUnitOfWorkFactory, engine: Any) -> None:
    """psycopg refuses to switch autocommit back while the connection is in a transaction.
    A unit normally rolls back before it closes, so here the unit leaves one open (an
    explicit ``BEGIN``) and skips its rollback, as a unit that got that far would: the
    connection is dropped instead of going back into the pool."""
    with factory(autocommit=True) as uow:
        pid = backend(uow)
        uow.connection.exec_driver_sql("BEGIN")  # type: ignore[attr-defined]
        uow.committed = True  # no rollback on the way out: close() meets the open transaction
    with factory() as uow:
        assert backend(uow) != pid  # a fresh connection
        assert one_transaction(uow)
    deadline = time.monotonic() + 5
    with engine.connect() as admin:  # and the old one is gone (its backend exits), not idle in a transaction
        while admin.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                            {"pid": pid}).scalar_one():
            assert time.monotonic() < deadline, "the connection was not closed"
            admin.rollback()
            time.sleep(0.02)

