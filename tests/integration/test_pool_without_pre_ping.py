"""Without a pre-ping (docs/adr/0004-request-path-costs.md) a connection the server
dropped fails exactly one unit of work; SQLAlchemy recognises the disconnect, discards
the pool, and the next unit of work connects afresh."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from application.shared.uow import UnitOfWorkFactory

pytestmark = pytest.mark.postgres


def test_a_dropped_connection_fails_one_unit_of_work_and_the_next_reconnects(container: Any, engine: Any) -> None:
    factory = container.get(UnitOfWorkFactory)
    assert factory.engine.pool._pre_ping is False  # what the ADR decided
    with factory() as uow:  # one pooled connection, then back into the pool
        pid = uow.connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with engine.connect() as admin:  # the server drops it (a restart, a proxy timeout ...)
        assert admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one() is True
        admin.commit()
    with pytest.raises(DBAPIError) as failed:
        with factory() as uow:
            uow.connection.execute(text("SELECT 1"))
    assert failed.value.connection_invalidated
    with factory() as uow:
        assert uow.connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
