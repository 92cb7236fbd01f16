"""A hold that has expired reserves nothing, even before the hold-expiry job comes round
(it runs every minute): a spend refused for insufficient funds while expired holds still
count in the wallet's ``held`` releases them under the wallet's lock — the entries the job
would write, dated now — and decides once more (``Ledger.spending``). A spend refused
either way releases nothing: its transaction is not committed (a combined batch commits its
other charges, and a release with them).

freezegun at the exact instant: one second before the expiry the hold still reserves its
money. Runs on SQLite and, in the PostgreSQL suite, on PostgreSQL (where a plain charge
first tries the unlocked write of ADR 0010, which counts the hold and declines).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import injector
import pytest
from freezegun import freeze_time
from sqlalchemy import text

from application.shared.access import Caller
from application.shared.paging import PageRequest
from application.shared.uow import UnitOfWorkFactory
from application.wallet import RechargeService, WalletService
from application.wallet.payments import PaymentGateways
from application.wallet.services import _Charge
from domain.wallet.errors import InsufficientFunds, RevokeNotCovered
from domain.wallet.ports import LineFilter, SpendQueries
from entrypoints.jobs import run_job
from tests.fakes.payments import FakeGateway
from tests.integration.test_reclaims import agency_caller, relate
from tests.integration.test_reclaims import org as new_org
from tests.integration.test_wallet_concurrency import FINANCE, api_key_caller, cached_equals_postings, make_org

ADMIN = Caller(org_id="org_platform", org_kinds=frozenset({"platform"}), roles=("platform_admin",),
               user_id="usr_admin")
SECOND = timedelta(seconds=1)


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def overrides(overrides: list[injector.Module], gateway: FakeGateway) -> list[injector.Module]:
    def configure(binder: injector.Binder) -> None:
        binder.bind(PaymentGateways, to=PaymentGateways({"sandbox": gateway}))
    return [*overrides, configure]


def freed(container: Any, hold_id: str) -> None:
    """The hold was released as expired, and every wallet's ``held`` (and ``held_traffic``)
    equals what its active holds reserve and what its ``held`` postings say."""
    with container.get(UnitOfWorkFactory)() as uow:
        conn = uow.connection  # type: ignore[attr-defined]
        assert conn.execute(text("SELECT status FROM wallet_holds WHERE id = :i"), {"i": hold_id}).scalar_one() == (
            "expired")
        rows = conn.execute(text(
            "SELECT w.org_id, w.held, w.held_traffic,"
            " COALESCE((SELECT SUM(h.amount - h.captured) FROM wallet_holds h"
            "           WHERE h.org_id = w.org_id AND h.status = 'active'), 0),"
            " COALESCE((SELECT SUM(h.amount - h.captured) FROM wallet_holds h"
            "           WHERE h.org_id = w.org_id AND h.status = 'active' AND h.coupon_kind = 'traffic'), 0),"
            " COALESCE((SELECT SUM(p.amount) FROM ledger_postings p WHERE p.owner = w.org_id AND p.account = 'held'),"
            "          0) FROM wallets w")).all()
    for org_id, held, held_traffic, active, active_traffic, posted in rows:
        assert (held, held_traffic, posted) == (active, active_traffic, active), org_id
    cached_equals_postings(container)


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


def test_a_combined_batch_refused_anyway_keeps_the_release_with_its_other_work(container: Any) -> None:
    """A batch commits what its charges wrote, refused or not (ADR 0006): a release a
    refused charge made is the job's own entry, due anyway, and lands with it."""
    org, hold_id, expiry, wallets = funded_with_a_hold(container)
    with freeze_time(expiry):
        got = wallets._charge_batch([_Charge(org, Decimal(amount), ref, None, (), False, None, None)
                                     for ref, amount in (("x", "100.01"), ("y", "100.02"))])
        assert [type(r).__name__ for r in got] == ["InsufficientFunds"] * 2
        assert run_job(container, "wallet.expire_holds", {}) == 0
    assert statement(wallets, org) == [("recharge", None), ("hold", "order-1"), ("release", "order-1")]
    freed(container, hold_id)


def test_a_repeated_hold_at_its_own_expiry_answers_what_was_committed(container: Any) -> None:
    """The retry of a hold whose deadline has passed is a repeat: answered before anything
    is decided, so not with the release its own decision would have made and rolled back."""
    org, hold_id, expiry, wallets = funded_with_a_hold(container)
    with freeze_time(expiry):
        again = wallets.hold(api_key_caller(org), org, Decimal("80.00"), "order-1", expiry + timedelta(hours=1))
    assert (again.replayed, again.hold.id, again.hold.status, again.hold.settle_entry_id) == (
        True, hold_id, "active", None)
    assert wallets.get_hold(ADMIN, hold_id).status == "active"
    assert statement(wallets, org) == [("recharge", None), ("hold", "order-1")]


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


# -- the spends of other organisations' money and of another hold --------------------------------------


def agency_and_principal(container: Any, hold_on_principal: bool) -> tuple[str, str, str, datetime]:
    """An agency with 100.00 (all of it allocated to its principal when ``hold_on_principal``)
    and an 80.00 hold on the wallet that has it, expiring in an hour."""
    wallets = container.get(WalletService)
    principal = new_org(container, "Merchant P", ["merchant", "customer"])
    agency = new_org(container, "Agency A", ["agency"])
    relate(container, agency, principal)
    container.get(RechargeService).recharge(FINANCE, agency, Decimal("100.00"), "offline", "prepaid")
    if hold_on_principal:
        wallets.allocate(agency_caller(agency), agency, principal, Decimal("100.00"))
    expiry = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    hold = wallets.hold(None, principal if hold_on_principal else agency, Decimal("80.00"), "order-1", expiry).hold
    return agency, principal, hold.id, expiry


@pytest.mark.parametrize("spend", ["allocate", "grant_coupon", "reclaim"])
def test_an_agencys_spends_at_the_holds_expiry_use_what_it_held(container: Any, spend: str) -> None:
    wallets = container.get(WalletService)
    agency, principal, hold_id, expiry = agency_and_principal(container, hold_on_principal=spend == "reclaim")
    fifty = Decimal("50.00")
    act = {
        "allocate": lambda: wallets.allocate(agency_caller(agency), agency, principal, fifty),
        "grant_coupon": lambda: wallets.grant_coupon(agency_caller(agency), principal, "normal", fifty,
                                                     expiry + timedelta(days=3)),
        "reclaim": lambda: wallets.reclaim(agency_caller(agency), agency, principal, fifty),
    }[spend]
    with freeze_time(expiry - SECOND), pytest.raises(InsufficientFunds):
        act()
    with freeze_time(expiry):
        act()
    freed(container, hold_id)
    assert wallets.ledger_total() == 0


def test_a_capture_at_another_holds_expiry_uses_what_that_one_held(container: Any) -> None:
    wallets = container.get(WalletService)
    org = make_org(container, "Capture Co")
    wallets.set_credit_limit(ADMIN, org, Decimal("100.00"))
    now = datetime.now(UTC).replace(microsecond=0)
    first = wallets.hold(None, org, Decimal("60.00"), "A", now + timedelta(hours=1)).hold
    second = wallets.hold(None, org, Decimal("40.00"), "B", now + timedelta(hours=2)).hold
    wallets.set_credit_limit(ADMIN, org, Decimal("40.00"))  # the two holds now rely on more than the line
    with freeze_time(first.expires_at - SECOND), pytest.raises(InsufficientFunds):
        wallets.capture(None, second.id, Decimal("40.00"))
    with freeze_time(first.expires_at):
        assert wallets.capture(None, second.id, Decimal("40.00")).entry.amount == Decimal("40.00")
    freed(container, first.id)


def test_a_withdrawal_at_the_holds_expiry_takes_what_it_held(container: Any) -> None:
    recharges = container.get(RechargeService)
    org = make_org(container, "Withdraw Co")
    owner = Caller(org_id=org, org_kinds=frozenset({"customer"}), roles=("customer_admin",), user_id="usr_1")
    paid = recharges.recharge(owner, org, Decimal("100.00"), "sandbox").recharge
    recharges.handle_notification("sandbox", {"out_trade_no": paid.id, "amount": "100.00", "sig": "ok"})
    expiry = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    hold_id = container.get(WalletService).hold(None, org, Decimal("80.00"), "order-1", expiry).hold.id
    with freeze_time(expiry - SECOND), pytest.raises(InsufficientFunds):
        recharges.withdraw(owner, org, Decimal("50.00"))
    with freeze_time(expiry):
        assert recharges.withdraw(owner, org, Decimal("50.00")).amount == Decimal("50.00")
    freed(container, hold_id)


def test_the_agency_pages_count_a_hold_only_until_its_expiry(container: Any) -> None:
    """The agency's view of its principals' funds (top principals, fund anomalies) reads
    the cached figures; like the wallet's own view it leaves out what expired holds reserve."""
    _, principal, _, expiry = agency_and_principal(container, hold_on_principal=True)

    def held_and_available(at: datetime) -> tuple[Decimal, Decimal]:
        with container.get(UnitOfWorkFactory)() as uow:
            figures = uow.repo(SpendQueries).funds([principal], at)[principal].figures
        return figures.held, figures.available

    assert held_and_available(expiry - SECOND) == (Decimal("80.00"), Decimal("20.00"))
    assert held_and_available(expiry) == (Decimal("0.00"), Decimal("100.00"))
