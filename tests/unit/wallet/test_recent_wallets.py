"""The memory of recently read wallets (application/wallet/snapshots.py)."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from application.wallet.snapshots import RecentWallets
from domain.wallet.model import CouponGrant, Wallet

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def wallet(org_id: str = "org_a", cash: str = "50.00") -> Wallet:
    return Wallet(org_id=org_id, created_at=NOW, cash=Decimal(cash), version=3)


def test_a_remembered_wallet_is_given_back_as_a_copy_of_how_it_was_read() -> None:
    memory = RecentWallets(60)
    read = wallet()
    memory.remember(read)
    read.cash = Decimal("0.00")  # the decision moves the wallet it was given
    first = memory.get("org_a")
    assert first is not None and (first.cash, first.version) == (Decimal("50.00"), 3)
    first.cash = Decimal("1.00")
    first.events.append(object())  # type: ignore[arg-type]
    again = memory.get("org_a")
    assert again is not None and again.cash == Decimal("50.00") and again.events == []
    assert memory.get("org_b") is None


def test_a_copy_is_kept_for_the_seconds_given_and_no_longer() -> None:
    ticks = Ticks()
    memory = RecentWallets(60, monotonic=ticks)
    memory.remember(wallet())
    ticks.now += 60
    assert memory.get("org_a") is not None
    ticks.now += 0.001
    assert memory.get("org_a") is None
    assert len(memory) == 0


def test_nothing_is_remembered_with_no_seconds_or_with_coupons() -> None:
    off = RecentWallets(0)
    off.remember(wallet())
    assert off.get("org_a") is None
    memory = RecentWallets(60)
    with_coupon = wallet()
    with_coupon.grants.append(CouponGrant(id="grt_1", org_id="org_a", kind="normal", amount=Decimal("5.00"),
                                          remaining=Decimal("5.00"), expires_at=NOW, granted_by="platform",
                                          created_at=NOW))
    memory.remember(with_coupon)
    assert memory.get("org_a") is None


def test_forget_and_the_bound() -> None:
    memory = RecentWallets(60, limit=3)
    for org in ("org_a", "org_b", "org_c"):
        memory.remember(wallet(org))
    memory.forget("org_b", "org_unknown")
    assert memory.get("org_b") is None and memory.get("org_a") is not None
    memory.remember(wallet("org_d"))  # 3 again
    memory.remember(wallet("org_e"))  # over the bound: start again
    assert len(memory) == 1 and memory.get("org_e") is not None
