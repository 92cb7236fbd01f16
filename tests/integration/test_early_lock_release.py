"""Early lock release for plain charges on contended wallets, on PostgreSQL (ADR 0013).

A plain charge's statement, when it is its own transaction and other processes are
charging the wallet hard, commits without waiting for its WAL to reach the disk, so the
wallet's row is free for the next charge at once; the charge is answered only after a
second, synchronous commit has flushed the WAL past it. These tests watch the WAL: when
``charge`` returns, everything the statement wrote is on disk; a statement inside a longer
transaction (an Idempotency-Key guard, a person's operation-log row) never releases
early; a wallet only this process charges keeps the plain statement; the setting turns it
off. Most tests treat every wallet as contended (``wallet_early_release_rate=0``).
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

import adapters.postgres.wallet_repos as repos
from application.shared.access import Caller
from application.shared.settings import Settings
from application.shared.uow import UnitOfWorkFactory
from application.wallet import RechargeService, WalletService
from application.wallet.services import EntryResult
from domain.wallet.errors import InsufficientFunds, NotRefundable
from tests.integration.test_unlocked_charges import ADMIN, funded, plain_batch, warmed_up
from tests.integration.test_wallet_concurrency import cached_equals_postings

pytestmark = pytest.mark.postgres

EARLY = {repos._PG_ADD_UNLOCKED_EARLY: "early", repos._PG_ADD_UNLOCKED_MANY_EARLY: "early batch",
         repos._PG_ADD_UNLOCKED: "plain", repos._PG_ADD_UNLOCKED_MANY: "plain batch"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # every charge on its own; every wallet treated as contended
    return dataclasses.replace(settings, wallet_charge_batch=1, wallet_early_release_rate=0)


@pytest.fixture
def observer(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection of its own, reading the server's WAL positions."""
    url = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch, observer: psycopg.Connection[Any]) -> list[tuple[str, int]]:
    """Each unlocked statement run, by kind, with the WAL's insert position read (from
    another session) right after it returned: its commit record lies before that point."""
    seen: list[tuple[str, int]] = []
    original = psycopg.Cursor.execute

    def execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        out = original(self, query, *args, **kwargs)
        kind = EARLY.get(query) if isinstance(query, str) else None
        if kind is not None:
            seen.append((kind, lsn(observer, "pg_current_wal_insert_lsn()")))
        return out

    monkeypatch.setattr(psycopg.Cursor, "execute", execute)
    return seen


def lsn(conn: psycopg.Connection[Any], function: str) -> int:
    row = conn.execute(f"SELECT {function} - '0/0'::pg_lsn").fetchone()
    assert row is not None
    return int(row[0])


def on_disk(observer: psycopg.Connection[Any], statements: list[tuple[str, int]]) -> bool:
    return all(at <= lsn(observer, "pg_current_wal_flush_lsn()") for _, at in statements)


def test_a_plain_charge_is_answered_only_once_its_commit_is_on_disk(
        container: Any, statements: list[tuple[str, int]], observer: psycopg.Connection[Any]) -> None:
    org, wallets, caller = warmed_up(container, "Early Co")
    released: list[int] = []
    wallets.on_early_release(released.append)  # metrics: charges each early statement carried
    flushed = []
    for i in range(20):  # the WAL writer flushes now and then on its own; twenty in a row it does not
        statements.clear()
        wallets.charge(caller, org, Decimal("1.00"), f"early-{i}")
        flushed.append(on_disk(observer, statements))
        assert [kind for kind, _ in statements] == ["early"]
    assert all(flushed) and released == [1] * 20
    assert wallets.wallet(ADMIN, org).figures.cash == Decimal("70.00")
    cached_equals_postings(container)


def test_a_batch_written_on_its_own_is_flushed_before_its_callers_hear(
        container: Any, statements: list[tuple[str, int]], observer: psycopg.Connection[Any]) -> None:
    org, wallets, _ = warmed_up(container, "Early Batch Co")
    released: list[int] = []
    wallets.on_early_release(released.append)
    flushed = []
    for i in range(10):
        statements.clear()
        results = wallets._charge_batch(plain_batch(org, "1.00", "2.00", refs=[f"b{i}-1", f"b{i}-2"]))
        flushed.append(on_disk(observer, statements))
        assert [kind for kind, _ in statements] == ["early batch"] and len(results) == 2
    assert all(flushed) and released == [2] * 10
    assert wallets.wallet(ADMIN, org).figures.cash == Decimal("60.00")
    cached_equals_postings(container)


def test_a_statement_inside_a_longer_transaction_never_releases_early(
        container: Any, statements: list[tuple[str, int]]) -> None:
    """An Idempotency-Key guard or a person's log row commits with the statement: an
    asynchronous commit there would make them asynchronous too, and nothing would wait."""
    org, wallets, _ = warmed_up(container, "Guarded Co")
    released: list[int] = []
    wallets.on_early_release(released.append)
    wallets._charge_batch(plain_batch(org, "1.00", refs=["guarded"], guards=(lambda uow: None,)))
    person = Caller(org_id=org, org_kinds=frozenset({"customer"}), roles=("customer_admin",), user_id="usr_p")
    wallets.charge(person, org, Decimal("1.00"), "by-a-person")
    assert [kind for kind, _ in statements] == ["plain", "plain"] and released == []
    assert wallets.wallet(ADMIN, org).figures.cash == Decimal("88.00")


def test_the_setting_keeps_the_row_locked_through_the_flush(
        settings: Settings, overrides: Any, statements: list[tuple[str, int]]) -> None:
    from entrypoints.container import build_container

    container = build_container(dataclasses.replace(settings, wallet_early_lock_release=False), *overrides)
    org = funded(container, "Patient Co", "100.00")
    wallets = container.get(WalletService)
    caller = Caller(org_id=org, org_kinds=frozenset({"customer"}), roles=("customer_admin",), api_key_id="key_1")
    for i in range(3):
        wallets.charge(caller, org, Decimal("1.00"), f"patient-{i}")
    assert [kind for kind, _ in statements] == ["plain", "plain"]  # the first starts the day under the lock


def test_only_a_wallet_other_processes_charge_hard_is_released_early(
        settings: Settings, overrides: Any, statements: list[tuple[str, int]],
        observer: psycopg.Connection[Any]) -> None:
    """Two containers on one database stand for two processes. This one measures, between
    two of its own landings at least 50 ms apart, how many charges others made."""
    from entrypoints.container import build_container

    busy = dataclasses.replace(settings, wallet_early_release_rate=5)  # others' charges a second
    here, there = build_container(busy, *overrides), build_container(busy, *overrides)
    org = funded(here, "Busy Co", "100.00")
    caller = Caller(org_id=org, org_kinds=frozenset({"customer"}), roles=("customer_admin",), api_key_id="key_1")
    mine, theirs = here.get(WalletService), there.get(WalletService)

    def charge(service: WalletService, ref: str) -> str:
        statements.clear()
        service.charge(caller, org, Decimal("1.00"), ref)
        return statements[0][0] if statements else "locked"

    assert charge(mine, "day-starts") == "locked"  # the day's first charge starts its spend
    assert [charge(mine, f"alone-{i}") for i in range(5)] == ["plain"] * 5  # however fast: no one else
    time.sleep(0.06)
    assert charge(mine, "alone-measured") == "plain"  # 0 charges by others over 60 ms
    for i in range(4):
        charge(theirs, f"theirs-{i}")
    time.sleep(0.06)
    assert charge(mine, "measures-them") == "plain"  # 4 by others in well under 800 ms
    assert charge(mine, "contended") == "early"
    assert on_disk(observer, statements)
    time.sleep(0.06)
    assert charge(mine, "quiet-again") == "early"  # this one measures: none by others
    assert charge(mine, "after-the-quiet") == "plain"
    assert mine.wallet(ADMIN, org).figures.cash == Decimal("85.00")
    cached_equals_postings(here)


def test_a_replay_or_a_refusal_waits_for_the_charge_it_saw(
        container: Any, observer: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """A charge released early is visible before it is on disk. Its repeat, answered by the
    lock path from what it read (a transaction that rolls back, which flushes nothing), and
    a refusal that counted it, are answered only once it is on disk too."""
    org, wallets, caller = warmed_up(container, "Replay Co")  # 90.00
    barrier = repos._FLUSH_BARRIER
    flushed = []
    for i in range(6):
        # as if the first request were still between its statement and its barrier
        monkeypatch.setattr(repos, "_FLUSH_BARRIER", "SELECT 1")
        wallets.charge(caller, org, Decimal("1.00"), f"seen-{i}")
        monkeypatch.setattr(repos, "_FLUSH_BARRIER", barrier)
        seen = lsn(observer, "pg_current_wal_insert_lsn()")
        if i % 3 == 0:
            assert wallets.charge(caller, org, Decimal("1.00"), f"seen-{i}").replayed
        elif i % 3 == 1:
            with pytest.raises(InsufficientFunds):
                wallets.charge(caller, org, Decimal("1000.00"), f"too-much-{i}")
        else:  # combined with others in one process: the batch's lock path commits, which flushes
            [repeat] = wallets._charge_batch(plain_batch(org, "1.00", refs=[f"seen-{i}"]))
            assert isinstance(repeat, EntryResult) and repeat.replayed
        flushed.append(seen <= lsn(observer, "pg_current_wal_flush_lsn()"))
    assert all(flushed), flushed
    assert wallets.wallet(ADMIN, org).figures.cash == Decimal("84.00")


def test_any_refusal_on_the_wallet_waits_for_the_charge_it_saw(
        container: Any, observer: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Not only a charge's: a hold refused for the funds an unflushed charge took, and a
    withdrawal of the recharge service refused under the wallet's lock, answer only once
    that charge is on disk (``WalletBase._run``)."""
    org, wallets, caller = warmed_up(container, "Refusals Co")  # 90.00
    owner = Caller(org_id=org, org_kinds=frozenset({"customer"}), roles=("customer_admin",), user_id="usr_owner")
    barrier = repos._FLUSH_BARRIER
    refusals = [
        (InsufficientFunds, lambda i: wallets.hold(caller, org, Decimal("1000.00"), f"big-hold-{i}",
                                                   datetime.now(UTC) + timedelta(hours=1))),
        (NotRefundable, lambda i: container.get(RechargeService).withdraw(owner, org, Decimal("1.00"))),
    ]
    flushed = []
    for i, (refused, call) in enumerate(refusals * 2):
        monkeypatch.setattr(repos, "_FLUSH_BARRIER", "SELECT 1")  # the charge between statement and barrier
        wallets.charge(caller, org, Decimal("1.00"), f"unflushed-{i}")
        monkeypatch.setattr(repos, "_FLUSH_BARRIER", barrier)
        seen = lsn(observer, "pg_current_wal_insert_lsn()")
        with pytest.raises(refused):
            call(i)
        flushed.append(seen <= lsn(observer, "pg_current_wal_flush_lsn()"))
    assert all(flushed), flushed
    assert wallets.wallet(ADMIN, org).figures.cash == Decimal("86.00")


def test_a_database_that_refuses_the_barrier_gets_no_early_release(
        container: Any, statements: list[tuple[str, int]], monkeypatch: pytest.MonkeyPatch) -> None:
    asked = []

    def refused(self: Any) -> bool:
        asked.append(True)
        return False

    with container.get(UnitOfWorkFactory).engine.connect() as conn:
        assert repos.SqlLedger(conn).can_release_early()  # the test database grants it, as by default
    monkeypatch.setattr(repos.SqlLedger, "can_release_early", refused)
    org, wallets, caller = warmed_up(container, "Revoked Co")
    for i in range(3):
        wallets.charge(caller, org, Decimal("1.00"), f"revoked-{i}")
    assert [kind for kind, _ in statements] == ["plain"] * 3 and asked == [True]  # asked once per service
    # nothing was released early, so no answer waits for a barrier the role may not run:
    # refusals and replays answer as themselves, not as the barrier's permission error
    monkeypatch.setattr(repos, "_FLUSH_BARRIER", "SELECT 1 / 0")  # as a revoked privilege would fail
    owner = Caller(org_id=org, org_kinds=frozenset({"customer"}), roles=("customer_admin",), user_id="usr_owner")
    with pytest.raises(InsufficientFunds):
        wallets.charge(caller, org, Decimal("1000.00"), "too-much")
    assert wallets.charge(caller, org, Decimal("1.00"), "revoked-0").replayed
    with pytest.raises(InsufficientFunds):
        wallets.hold(caller, org, Decimal("1000.00"), "big-hold", datetime.now(UTC) + timedelta(hours=1))
    with pytest.raises(NotRefundable):
        container.get(RechargeService).withdraw(owner, org, Decimal("1.00"))
    assert asked == [True, True]  # the recharge service asks once too
