"""A hold that has expired reserves nothing, even before the hold-expiry job comes round
(it runs every minute): a spend refused for insufficient funds while expired holds still
count in the wallet's ``held`` releases them under the wallet's lock — the entries the job
would write, dated now — and decides once more (``Ledger.spending``). A spend refused
either way releases nothing: its transaction is not committed.

freezegun at the exact instant: one second before the expiry the hold still reserves its
money. Runs on SQLite and, in the PostgreSQL suite, on PostgreSQL (where a plain charge
first tries the unlocked write of ADR 0010, which counts the hold and declines).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from freezegun import freeze_time

from application.shared.access import Caller
from application.shared.paging import PageRequest
from application.wallet import RechargeService, WalletService
from application.wallet.services import _Charge
from domain.wallet.errors import InsufficientFunds, RevokeNotCovered
from domain.wallet.ports import LineFilter
from entrypoints.jobs import run_job
from tests.integration.test_wallet_concurrency import FINANCE, api_key_caller, cached_equals_postings, make_org

ADMIN = Caller(org_id="org_platform", org_kinds=frozenset({"platform"}), roles=("platform_admin",),
               user_id="usr_admin")
SECOND = timedelta(seconds=1)


def funded_with_a_hold(container: Any, held: str = "80.00") -> tuple[str, str, datetime, Any]:
    """A wallet with 100.00 cash, ``held`` of it reserved by a hold expiring in an hour."""
    org = make_org(container, "Held Co")
    container.get(RechargeService).recharge(FINANCE, org, Decimal("100.00"), "offline", "prepaid")
    expiry = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    hold = container.get(WalletService).hold(api_key_caller(org), org, Decimal(held), "order-1", expiry).hold
    return org, hold.id, expiry, container.get(WalletService)


def statement(wallets: WalletService, org: str) -> list[tuple[str, str | None]]:
    lines = wallets.entries(ADMIN, org, PageRequest(per_page=100), LineFilter()).items
    return [(ln.type, None if ln.type == "recharge" else ln.reference) for ln in sorted(lines, key=lambda ln: ln.seq)]


def test_a_charge_at_the_holds_expiry_spends_what_it_held(container: Any) -> None:
    org, hold_id, expiry, wallets = funded_with_a_hold(container)
    caller = api_key_caller(org)
    with freeze_time(expiry - SECOND):
        assert (wallets.wallet(ADMIN, org).figures.held, wallets.wallet(ADMIN, org).figures.available) == (
            Decimal("80.00"), Decimal("20.00"))
        with pytest.raises(InsufficientFunds):
            wallets.charge(caller, org, Decimal("30.00"), "order-2")
        assert wallets.get_hold(ADMIN, hold_id).status == "active"
    with freeze_time(expiry):
        # what the wallet shows before anything releases the hold: like a lapsed coupon, it counts no more
        assert (wallets.wallet(ADMIN, org).figures.held, wallets.wallet(ADMIN, org).figures.available) == (
            Decimal("0.00"), Decimal("100.00"))
        result = wallets.charge(caller, org, Decimal("30.00"), "order-2")
        assert result.entry.amount == Decimal("30.00")
        hold = wallets.get_hold(ADMIN, hold_id)
        assert (hold.status, hold.settled_at) == ("expired", expiry)
        assert run_job(container, "wallet.expire_holds", {}) == 0  # nothing left for the job
    view = wallets.wallet(ADMIN, org)
    assert (view.figures.cash, view.figures.held) == (Decimal("70.00"), Decimal("0.00"))
    assert statement(wallets, org) == [("recharge", None), ("hold", "order-1"), ("release", "order-1"),
                                       ("charge", "order-2")]
    assert wallets.ledger_total() == 0
    cached_equals_postings(container)


def test_a_spend_refused_anyway_releases_nothing(container: Any) -> None:
    org, hold_id, expiry, wallets = funded_with_a_hold(container)
    with freeze_time(expiry):
        with pytest.raises(InsufficientFunds):
            wallets.charge(api_key_caller(org), org, Decimal("100.01"), "too-much")
        assert wallets.get_hold(ADMIN, hold_id).status == "active"
        assert statement(wallets, org) == [("recharge", None), ("hold", "order-1")]
        assert run_job(container, "wallet.expire_holds", {}) == 1  # the job still does it


def test_a_combined_batch_at_the_holds_expiry_releases_it_once(container: Any) -> None:
    org, hold_id, expiry, wallets = funded_with_a_hold(container)
    with freeze_time(expiry):
        got = wallets._charge_batch([_Charge(org, Decimal(amount), ref, None, (), False, None, None)
                                     for ref, amount in (("small", "10.00"), ("a", "40.00"), ("b", "40.00"),
                                                         ("c", "40.00"))])
    assert [type(r).__name__ for r in got] == ["EntryResult", "EntryResult", "EntryResult", "InsufficientFunds"]
    assert wallets.get_hold(ADMIN, hold_id).status == "expired"
    assert statement(wallets, org) == [("recharge", None), ("hold", "order-1"), ("charge", "small"),
                                       ("release", "order-1"), ("charge", "a"), ("charge", "b")]
    assert wallets.wallet(ADMIN, org).figures.cash == Decimal("10.00")
    cached_equals_postings(container)


def _place_hold(container: Any, org: str) -> None:
    container.get(WalletService).hold(api_key_caller(org), org, Decimal("50.00"), "order-2",
                                      datetime.now(UTC) + timedelta(hours=2))


def _revoke(container: Any, org: str) -> None:
    recharges = container.get(RechargeService)
    first = recharges.recharges(ADMIN, org, PageRequest(), None).items[0]
    recharges.revoke(FINANCE, org, first.id, "sent back")


def _pay_deposit(container: Any, org: str) -> None:
    wallets = container.get(WalletService)
    wallets.set_deposit_due(ADMIN, org, Decimal("50.00"))
    wallets.pay_deposit(api_key_caller(org), org, None)


@pytest.mark.parametrize("spend", [_place_hold, _revoke, _pay_deposit], ids=["hold", "revoke", "deposit"])
def test_other_spends_at_the_holds_expiry_use_what_it_held(container: Any, spend: Callable[[Any, str], None]
                                                           ) -> None:
    org, hold_id, expiry, wallets = funded_with_a_hold(container)
    with freeze_time(expiry - SECOND), pytest.raises((InsufficientFunds, RevokeNotCovered)):
        spend(container, org)
    with freeze_time(expiry):
        spend(container, org)
    assert wallets.get_hold(ADMIN, hold_id).status == "expired"
    assert ("release", "order-1") in statement(wallets, org)
    assert wallets.ledger_total() == 0
    cached_equals_postings(container)


def test_the_low_balance_sweep_releases_expired_holds_before_it_judges(container: Any) -> None:
    org, hold_id, expiry, wallets = funded_with_a_hold(container)
    assert wallets.set_low_balance_threshold(ADMIN, org, Decimal("50.00")).low_balance_alerted  # 20 available
    with freeze_time(expiry - SECOND):
        assert wallets.sweep_low_balance() == 0
        assert wallets.get_hold(ADMIN, hold_id).status == "active"
    with freeze_time(expiry):
        assert wallets.sweep_low_balance() == 1  # the alert re-armed: the 80 are not missing
        assert wallets.get_hold(ADMIN, hold_id).status == "expired"
        view = wallets.wallet(ADMIN, org)
        assert (view.low_balance_alerted, view.figures.held, view.figures.available) == (
            False, Decimal("0.00"), Decimal("100.00"))
        assert run_job(container, "wallet.expire_holds", {}) == 0
    assert statement(wallets, org)[-1] == ("release", "order-1")
    cached_equals_postings(container)
