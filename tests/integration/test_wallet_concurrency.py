"""Charges under real concurrency on PostgreSQL (docs/adr/0002-wallet-concurrency.md).

Sixteen client threads, each with its own unit of work (its own connection and
transaction), hit the wallet service at once. The wallet rows are locked with
``SELECT ... FOR UPDATE`` in sorted order, so:

- a wallet that can afford exactly N charges gets exactly N; every other attempt is
  refused with ``insufficient_funds``; cash ends at 0.00; no other error reaches a client;
- charges with payees across two wallets, issued in opposite directions, never deadlock;
- the ledger still sums to zero and the cached figures equal the postings.

Every test runs twice: with charges on one wallet combined into shared transactions
(ADR 0006, the default) and with combining off (each charge its own transaction).
"""
from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from application.shared.access import Caller
from application.shared.settings import Settings
from application.shared.uow import UnitOfWorkFactory
from application.wallet import RechargeService, WalletService
from domain.identity.model import Organization
from domain.identity.ports import OrganizationRepository
from domain.wallet.errors import InsufficientFunds

pytestmark = pytest.mark.postgres

CLIENTS = 16
FINANCE = Caller(org_id="org_platform", org_kinds=frozenset({"platform"}), roles=("platform_finance",),
                 user_id="usr_finance")


@pytest.fixture(params=[16, 1], ids=["combined", "one-by-one"])
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    return dataclasses.replace(settings, wallet_charge_batch=request.param)


def make_org(container: Any, name: str, kinds: tuple[str, ...] = ("customer",)) -> str:
    org = Organization.create(name, list(kinds), datetime.now(UTC))
    with container.get(UnitOfWorkFactory)() as uow:
        uow.repo(OrganizationRepository).add(org)
        uow.commit()
    return org.id


def api_key_caller(org_id: str) -> Caller:
    return Caller(org_id=org_id, org_kinds=frozenset({"customer"}), roles=("customer_admin",), api_key_id="key_1")


def run_clients(work: Any, clients: int = CLIENTS) -> list[Any]:
    """Start ``clients`` threads at the same instant; collect what each returned or raised."""
    barrier = threading.Barrier(clients)
    results: list[Any] = [None] * clients

    def client(i: int) -> None:
        barrier.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a client hung"
    return results


def outcome(call: Any) -> str:
    try:
        call()
        return "ok"
    except InsufficientFunds:
        return "insufficient_funds"
    except Exception as exc:  # any other error reaching a client fails the test
        return f"{type(exc).__name__}: {exc}"


def cached_equals_postings(container: Any) -> None:
    with container.get(UnitOfWorkFactory)() as uow:
        conn = uow.connection  # type: ignore[attr-defined]
        total = conn.execute(text("SELECT COALESCE(SUM(amount), 0) FROM ledger_postings")).scalar_one()
        assert total == 0
        rows = conn.execute(text(
            "SELECT w.org_id, w.cash, COALESCE(SUM(p.amount), 0) AS posted FROM wallets w "
            "LEFT JOIN ledger_postings p ON p.owner = w.org_id AND p.account = 'cash' GROUP BY w.org_id, w.cash"))
        for org_id, cash, posted in rows:
            assert cash == posted, org_id


def test_sixteen_clients_charging_one_wallet_get_exactly_what_it_affords(container: Any) -> None:
    org = make_org(container, "Hot Wallet Co")
    price, affordable, per_client = Decimal("10.00"), 37, 5  # 80 attempts for 37 charges
    container.get(RechargeService).recharge(FINANCE, org, price * affordable, "offline", "prepaid")
    wallets = container.get(WalletService)
    caller = api_key_caller(org)

    def work(i: int) -> list[str]:
        return [outcome(lambda k=k: wallets.charge(caller, org, price, f"order-{i}-{k}"))
                for k in range(per_client)]

    counts = Counter(o for per in run_clients(work) for o in per)
    assert counts == {"ok": affordable, "insufficient_funds": CLIENTS * per_client - affordable}, counts
    if wallets._charges.max_batch > 1:  # 16 clients on one row: charges did share transactions
        assert wallets._charges.batches > 0 and wallets._charges.combined > wallets._charges.batches
    view = wallets.wallet(Caller(org_id=org, org_kinds=frozenset({"customer"}), roles=("customer_admin",)), org)
    assert view.figures.cash == Decimal("0.00")
    assert view.figures.available == Decimal("0.00")
    cached_equals_postings(container)


def test_concurrent_charges_with_credit_never_pass_the_limit(container: Any) -> None:
    org = make_org(container, "Credit Co")
    admin = Caller(org_id="org_platform", org_kinds=frozenset({"platform"}), roles=("platform_admin",))
    container.get(RechargeService).recharge(FINANCE, org, Decimal("55.00"), "offline", "prepaid")
    container.get(WalletService).set_credit_limit(admin, org, Decimal("45.00"))
    wallets = container.get(WalletService)
    caller = api_key_caller(org)
    results = run_clients(lambda i: outcome(lambda: wallets.charge(caller, org, Decimal("10.00"), f"c-{i}")))
    assert Counter(results) == {"ok": 10, "insufficient_funds": CLIENTS - 10}, results
    view = wallets.wallet(admin, org)
    assert (view.figures.cash, view.figures.credit_used, view.figures.available) == (
        Decimal("0.00"), Decimal("45.00"), Decimal("0.00"))
    cached_equals_postings(container)


def test_payees_across_two_wallets_in_opposite_orders_never_deadlock(container: Any) -> None:
    a, b = make_org(container, "Wallet A"), make_org(container, "Wallet B")
    recharges = container.get(RechargeService)
    for org in (a, b):
        recharges.recharge(FINANCE, org, Decimal("1000.00"), "offline", "prepaid")
    wallets = container.get(WalletService)
    rounds = 8

    def work(i: int) -> list[str]:
        # half the clients charge A paying B, the other half B paying A: opposite lock orders
        payer, payee = (a, b) if i % 2 == 0 else (b, a)
        return [outcome(lambda k=k: wallets.charge(None, payer, Decimal("3.00"), f"x-{i}-{k}",
                                                   payees=[(payee, Decimal("2.00"))]))
                for k in range(rounds)]

    results = [o for per in run_clients(work) for o in per]
    assert Counter(results) == {"ok": CLIENTS * rounds}, Counter(results)
    admin = Caller(org_id="org_platform", org_kinds=frozenset({"platform"}), roles=("platform_admin",))
    cash = {org: wallets.wallet(admin, org).figures.cash for org in (a, b)}
    # each side paid 8 clients x 8 rounds x 3.00 and received the same count x 2.00
    expected = Decimal("1000.00") - (CLIENTS // 2) * rounds * Decimal("1.00")
    assert cash == {a: expected, b: expected}
    assert wallets.ledger_total() == 0
    cached_equals_postings(container)


def test_sixteen_clients_repeating_one_reference_write_one_entry(container: Any) -> None:
    org = make_org(container, "Retry Co")
    container.get(RechargeService).recharge(FINANCE, org, Decimal("100.00"), "offline", "prepaid")
    wallets = container.get(WalletService)
    caller = api_key_caller(org)
    results = run_clients(lambda i: wallets.charge(caller, org, Decimal("30.00"), "the-one-order"))
    assert len({r.entry.id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    admin = Caller(org_id="org_platform", org_kinds=frozenset({"platform"}), roles=("platform_admin",))
    assert wallets.wallet(admin, org).figures.cash == Decimal("70.00")
    cached_equals_postings(container)


def test_two_processes_combining_charges_over_shared_wallets_never_deadlock(
        container: Any, settings: Settings, overrides: list[Any]) -> None:
    """Two web processes (two containers: their own pool and combiner) charge the same four
    wallets, each charge paying another of them. A combined batch locks its payer and
    every payee of its charges in one sorted select, like every transaction: no lock cycle
    is possible between the processes' batches and single charges."""
    from entrypoints.container import build_container

    orgs = [make_org(container, f"Shared {i}") for i in range(4)]
    recharges = container.get(RechargeService)
    for org in orgs:
        recharges.recharge(FINANCE, org, Decimal("1000.00"), "offline", "prepaid")
    other = build_container(settings, *overrides)
    services = [container.get(WalletService), other.get(WalletService)]
    rounds = 8

    def work(i: int) -> list[str]:
        wallets = services[i % 2]
        out = []
        for k in range(rounds):
            payer, payee = orgs[(i + k) % 4], orgs[(i + k + 1 + i % 3) % 4]
            if payee == payer:
                payee = orgs[(i + k + 2) % 4]
            out.append(outcome(lambda p=payer, q=payee, k=k: wallets.charge(
                None, p, Decimal("3.00"), f"s-{i}-{k}", payees=[(q, Decimal("2.00"))])))
        return out

    results = [o for per in run_clients(work) for o in per]
    assert Counter(results) == {"ok": CLIENTS * rounds}, Counter(results)
    admin = Caller(org_id="org_platform", org_kinds=frozenset({"platform"}), roles=("platform_admin",))
    total = sum(services[0].wallet(admin, org).figures.cash for org in orgs)
    assert total == Decimal("4000.00") - CLIENTS * rounds * Decimal("1.00")  # 1.00 of each charge is margin
    assert services[0].ledger_total() == 0
    cached_equals_postings(container)
