"""Idempotency-Key take-overs under real concurrency on PostgreSQL (docs/adr/0008): of
many retries that find the same dead holder at once, exactly one takes the key over; of
two holders of one key, only the current one can commit an effect."""
from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from application.shared.idempotency import LEASE, IdempotencyStore, lease_guard
from application.shared.uow import UnitOfWorkFactory, commit_guards
from application.wallet import RechargeService, WalletService
from tests.integration.test_wallet_concurrency import CLIENTS, FINANCE, make_org, run_clients

pytestmark = pytest.mark.postgres


def _now() -> datetime:
    return datetime.now(UTC)


def _reserve(container: Any, lease: str, now: datetime) -> Any:
    with container.get(UnitOfWorkFactory)() as uow:
        found = uow.repo(IdempotencyStore).reserve("wallet.charge:org_x", "k", "h" * 64, lease, now)
        uow.commit()
    return found


def test_one_of_many_concurrent_retries_takes_a_dead_holders_key_over(container: Any) -> None:
    died = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    assert _reserve(container, "dead".ljust(32, "0"), died) is None
    later = died + LEASE
    results = run_clients(lambda i: _reserve(container, f"retry{i}".ljust(32, "0"), later))
    winners = [i for i, r in enumerate(results) if r is None]
    assert len(winners) == 1, results
    losers = Counter((r.status, r.lease) for r in results if r is not None)
    assert losers == Counter({("in_progress", f"retry{winners[0]}".ljust(32, "0")): CLIENTS - 1})


def test_only_the_current_holder_commits_while_both_charge_at_once(container: Any) -> None:
    org = make_org(container, "Twice Ltd")
    container.get(RechargeService).recharge(FINANCE, org, Decimal("100.00"), "offline", "float")
    scope, now = f"wallet.charge:{org}", datetime.now(UTC)
    with container.get(UnitOfWorkFactory)() as uow:
        store = uow.repo(IdempotencyStore)
        assert store.reserve(scope, "k", "h" * 64, "old".ljust(32, "0"), now - LEASE) is None
        uow.commit()
    with container.get(UnitOfWorkFactory)() as uow:
        assert uow.repo(IdempotencyStore).reserve(scope, "k", "h" * 64, "new".ljust(32, "0"), now) is None
        uow.commit()
    wallets = container.get(WalletService)

    def charge(i: int) -> str:
        lease = ("old" if i % 2 else "new").ljust(32, "0")
        try:
            with commit_guards((lease_guard(scope, "k", lease, _now),)):
                wallets.charge(None, org, Decimal("1.00"), f"twice-{i}")
            return "ok"
        except Exception as exc:
            return getattr(exc, "code", type(exc).__name__)

    results = run_clients(charge)
    assert Counter(results) == Counter({"ok": CLIENTS // 2, "idempotency_key_taken_over": CLIENTS // 2})
    assert container.get(WalletService).ledger_total() == 0
