"""Plain charges decided on a remembered copy of the wallet, on PostgreSQL (ADR 0010,
addendum of 2026-12-02; application/wallet/snapshots.py).

A process reuses the wallet it read for its last plain charge instead of reading it again.
The copy may be stale — another process (here: a second container on the same database)
changed the wallet meanwhile — and every answer must still be the one a fresh read gives:
the statement checks the decision's terms on the live row, and the lock path decides
whatever the copy got wrong.
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import injector
import pytest

import adapters.postgres.wallet_repos as repos
from application.shared.settings import Settings
from application.wallet import RechargeService, WalletService
from domain.wallet.errors import InsufficientFunds
from entrypoints.container import build_container
from tests.integration.test_unlocked_charges import ADMIN, funded, lines_of, owner_of
from tests.integration.test_wallet_concurrency import FINANCE, api_key_caller, cached_equals_postings

pytestmark = pytest.mark.postgres


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, wallet_charge_batch=1)  # every charge on its own


@pytest.fixture
def other(settings: Settings, overrides: list[injector.Module], container: Any) -> Any:
    """Another process on the same database: its own container, services and memory."""
    return build_container(settings, *overrides)


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Reads of a wallet for a plain charge, and how the unlocked writes went."""
    counts: Counter[str] = Counter()
    read, write = repos.SqlWallets.get, repos.SqlLedger.add_unlocked

    def reading(self: Any, org_id: str) -> Any:
        counts["read"] += 1
        return read(self, org_id)

    def writing(self: Any, *args: Any, **kwargs: Any) -> Any:
        landed = write(self, *args, **kwargs)
        counts["landed" if landed is not None else "declined"] += 1
        return landed

    monkeypatch.setattr(repos.SqlWallets, "get", reading)
    monkeypatch.setattr(repos.SqlLedger, "add_unlocked", writing)
    return counts


def started(container: Any, name: str, cash: str = "100.00") -> tuple[str, WalletService, Any]:
    """A funded wallet whose first charge of the day (1.00, under the lock) is done."""
    org = funded(container, name, cash)
    wallets = container.get(WalletService)
    caller = api_key_caller(org)
    wallets.charge(caller, org, Decimal("1.00"), "first-of-the-day")
    return org, wallets, caller


def test_the_next_plain_charge_is_decided_without_reading_the_wallet(container: Any, seen: Counter[str]) -> None:
    org, wallets, caller = started(container, "Remembered Co")
    seen.clear()
    first = wallets.charge(caller, org, Decimal("2.00"), "a")
    second = wallets.charge(caller, org, Decimal("3.00"), "b")
    third = wallets.charge(caller, org, Decimal("4.00"), "c")
    assert seen == {"read": 1, "landed": 3}
    assert [r.line.seq for r in (first, second, third)] == [3, 4, 5]
    assert [r.line.after.cash for r in (first, second, third)] == [Decimal("97.00"), Decimal("94.00"),
                                                                    Decimal("90.00")]
    # what each caller was told is what the statement says
    assert [(ln.seq, ln.after_cash) for ln in lines_of(container, org)][-3:] == [
        (3, Decimal("97.00")), (4, Decimal("94.00")), (5, Decimal("90.00"))]
    cached_equals_postings(container)


def test_charges_of_another_process_meanwhile_shift_the_line(container: Any, other: Any,
                                                             seen: Counter[str]) -> None:
    org, wallets, caller = started(container, "Shared Hot Co")
    wallets.charge(caller, org, Decimal("2.00"), "remembered")
    other.get(WalletService).charge(caller, org, Decimal("5.00"), "elsewhere-1")
    other.get(WalletService).charge(caller, org, Decimal("5.00"), "elsewhere-2")
    seen.clear()
    result = wallets.charge(caller, org, Decimal("3.00"), "on-the-copy")
    assert seen == {"landed": 1}  # no read: the copy's cash is stale, the terms still hold
    assert (result.line.seq, result.line.after.cash) == (6, Decimal("84.00"))
    assert lines_of(container, org)[-1].after_cash == Decimal("84.00")
    cached_equals_postings(container)


def test_a_hold_placed_elsewhere_sends_the_charge_to_the_lock_once(container: Any, other: Any,
                                                                   seen: Counter[str]) -> None:
    org, wallets, caller = started(container, "Held Elsewhere Co")
    wallets.charge(caller, org, Decimal("2.00"), "remembered")
    expires = datetime.now(UTC) + timedelta(hours=1)
    other.get(WalletService).hold(caller, org, Decimal("90.00"), "order-1", expires)
    seen.clear()
    with pytest.raises(InsufficientFunds):  # 97.00 less 90.00 held: 7.00 available
        wallets.charge(caller, org, Decimal("8.00"), "too-much")
    # the copy knew no hold: the statement found the terms broken, the lock refused
    assert seen == {"declined": 1}
    seen.clear()
    wallets.charge(caller, org, Decimal("7.00"), "exactly")  # the copy was forgotten: read again
    assert seen["read"] == 1
    view = wallets.wallet(ADMIN, org)
    assert (view.figures.cash, view.figures.held, view.figures.available) == (
        Decimal("90.00"), Decimal("90.00"), Decimal("0.00"))
    cached_equals_postings(container)


def test_a_copy_with_more_cash_than_the_wallet_has_refuses_nothing_wrongly(container: Any, other: Any,
                                                                           seen: Counter[str]) -> None:
    org, wallets, caller = started(container, "Spent Elsewhere Co")
    wallets.charge(caller, org, Decimal("4.00"), "remembered")  # the copy: 99.00 before it
    other.get(WalletService).charge(caller, org, Decimal("90.00"), "elsewhere")  # 5.00 left
    seen.clear()
    with pytest.raises(InsufficientFunds):
        wallets.charge(caller, org, Decimal("10.00"), "on-a-rich-copy")
    assert seen == {"declined": 1}
    assert wallets.wallet(ADMIN, org).figures.cash == Decimal("5.00")
    cached_equals_postings(container)


def test_a_copy_with_less_cash_than_the_wallet_has_refuses_nothing(container: Any, other: Any,
                                                                  seen: Counter[str]) -> None:
    org, wallets, caller = started(container, "Topped Up Elsewhere Co", cash="20.00")
    wallets.charge(caller, org, Decimal("4.00"), "remembered")  # the copy: 19.00 before it
    other.get(RechargeService).recharge(FINANCE, org, Decimal("100.00"), "offline", "top-up")
    seen.clear()
    result = wallets.charge(caller, org, Decimal("50.00"), "more-than-the-copy-had")
    assert result.line.after.cash == Decimal("65.00")
    assert seen == {}  # the copy refused it: no unlocked write, the lock path charged it
    seen.clear()
    wallets.charge(caller, org, Decimal("1.00"), "after")  # forgotten, read again, lands
    assert seen == {"read": 1, "landed": 1}
    cached_equals_postings(container)


def test_a_change_this_process_makes_under_the_lock_is_read_again(container: Any, seen: Counter[str]) -> None:
    org, wallets, caller = started(container, "Budgeted Co")
    wallets.charge(caller, org, Decimal("2.00"), "remembered")
    wallets.set_daily_budget(owner_of(org), org, Decimal("50.00"))
    seen.clear()
    wallets.charge(caller, org, Decimal("3.00"), "after-the-budget")
    assert seen == {"read": 1, "landed": 1}  # no declined write on a stale copy


def test_no_memory_reads_every_time(settings: Settings, overrides: list[injector.Module], engine: Any,
                                    seen: Counter[str]) -> None:
    container = build_container(dataclasses.replace(settings, wallet_snapshot_seconds=0), *overrides)
    org, wallets, caller = started(container, "Forgetful Co")
    seen.clear()
    for ref in ("a", "b", "c"):
        wallets.charge(caller, org, Decimal("1.00"), ref)
    assert seen == {"read": 3, "landed": 3}
