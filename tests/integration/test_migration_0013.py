"""Migration 0013 moves stored idempotency keys from per-endpoint scopes to their
organisation's (or, for an unauthenticated callback, its address's): a retry after the
upgrade still finds the key its first attempt stored. On SQLite and on PostgreSQL (in a
schema of its own), since the statement names each database's own string function."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, select, text

from adapters.postgres import tables as t
from adapters.postgres.migrate import downgrade, upgrade
from tests.conftest import DB_URL, IS_POSTGRES

SCHEMA = "migration_0013"


@pytest.fixture(params=["sqlite", "postgresql"])
def old_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    if not IS_POSTGRES:
        pytest.skip("PostgreSQL-only: runs in .ci/run's PostgreSQL pass")
    admin = create_engine(DB_URL)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    sep = "&" if "?" in DB_URL else "?"
    yield f"{DB_URL}{sep}options={quote(f'-csearch_path={SCHEMA}')}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {SCHEMA} CASCADE"))
    admin.dispose()


def test_stored_keys_move_to_their_organisation_and_the_newest_use_keeps_a_shared_key(old_url: str) -> None:
    upgrade(old_url, "0012")
    engine = create_engine(old_url)
    with engine.begin() as conn:
        for scope, key, at in (("wallet.charge:org_1", "k", "2026-12-01 10:00:00+00"),
                               ("wallet.hold:org_1", "k", "2026-12-01 11:00:00+00"),  # the same key, later
                               ("wallet.charge:org_2", "k", "2026-12-01 09:00:00+00"),
                               ("wallet.charge:org_1", "other", "2026-12-01 09:00:00+00"),
                               ("wallet.notify:::1", "rch_1", "2026-12-01 09:00:00+00"),  # an IPv6 address
                               ("wallet.charge:org_1", "k2", "2026-12-01 12:00:00+00"),
                               ("org_1", "k2", "2026-12-01 08:00:00+00")):  # new code wrote it first (a rolling
            # deploy): it wins, however old
            conn.execute(text("INSERT INTO idempotency_keys (scope, key, request_hash, status, created_at) "
                              "VALUES (:scope, :key, :hash, 'done', :at)"),
                         {"scope": scope, "key": key, "hash": scope.ljust(64, "0")[:64], "at": at})
    upgrade(old_url)
    with engine.begin() as conn:
        rows = {(r.scope, r.key): r.request_hash for r in conn.execute(select(t.idempotency_keys))}
    assert set(rows) == {("org_1", "k"), ("org_1", "other"), ("org_2", "k"), ("::1", "rch_1"), ("org_1", "k2")}
    assert rows[("org_1", "k")].startswith("wallet.hold:org_1")  # the newest use
    assert rows[("org_1", "k2")].startswith("org_1")

    # and back: every key under every endpoint's scope, so the old code finds a retry's key
    # wherever it comes (its digest replays it only on the endpoint it was used on)
    downgrade(old_url, "0012")
    with engine.begin() as conn:
        back = {(r.scope, r.key): r.request_hash for r in conn.execute(select(t.idempotency_keys))}
    assert len(back) == 13 * 5 and all(scope.startswith("wallet.") for scope, _ in back)
    assert back[("wallet.hold:org_1", "k")] == back[("wallet.charge:org_1", "k")] == rows[("org_1", "k")]
    assert back[("wallet.notify:::1", "rch_1")] == rows[("::1", "rch_1")]
    engine.dispose()
