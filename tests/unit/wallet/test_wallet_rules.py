"""Each rule of spec wallet.md on the pure domain, at its boundaries."""
from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.shared.errors import ValidationFailed
from domain.wallet import errors
from domain.wallet.events import RechargeCredited, RechargeFlagged, WalletLowBalance
from domain.wallet.ledger import (
    PLATFORM,
    REVENUE,
    Account,
    Breakdown,
    JournalEntry,
    Posting,
    UnbalancedEntry,
)
from domain.wallet.model import Recharge, Wallet, WithholdingAgreement

NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
D = Decimal


def wallet(org: str = "org_a", cash: str = "0.00", limit: str = "0.00") -> Wallet:
    w = Wallet(org_id=org, created_at=NOW)
    if cash != "0.00":
        w.offline_recharge(D(cash), "seed", NOW)
    if limit != "0.00":
        w.set_credit_limit(D(limit), NOW)
    w.events.clear()
    return w


def snapshot(w: Wallet) -> tuple:
    return (w.figures(NOW), [(g.id, g.remaining) for g in w.grants], w.spent_today, w.version)


# -- ledger primitives -------------------------------------------------------------------

def test_an_unbalanced_entry_cannot_exist() -> None:
    with pytest.raises(UnbalancedEntry):
        JournalEntry(id="e", type="charge", org_id="o", created_at=NOW, amount=D("1.00"),
                     postings=(Posting(Account("o", "cash"), D("-1.00")),
                               Posting(Account.platform(REVENUE), D("0.99"))))
    with pytest.raises(UnbalancedEntry):
        JournalEntry(id="e", type="charge", org_id="o", created_at=NOW, amount=D("1.00"), postings=())
    with pytest.raises(UnbalancedEntry):
        JournalEntry(id="e", type="charge", org_id="o", created_at=NOW, amount=D("1.00"),
                     postings=(Posting(Account("o", "cash"), D("-1.001")), Posting(Account.platform(REVENUE),
                                                                                   D("1.001"))))


def test_entries_are_immutable() -> None:
    w = wallet(cash="10.00")
    entry = w.charge(D("1.00"), "r1", NOW)
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.amount = D("0.50")  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.postings[0].amount = D("0.50")  # type: ignore[misc]
    assert isinstance(entry.postings, tuple)


# -- charge: the source order and the breakdown ----------------------------------------------

def test_traffic_charge_uses_traffic_coupons_by_expiry_then_normal_then_cash_then_credit() -> None:
    w = wallet(cash="5.00", limit="100.00")
    late, _ = w.grant_coupon("traffic", D("4.00"), NOW + timedelta(days=9), NOW)
    soon, _ = w.grant_coupon("traffic", D("3.00"), NOW + timedelta(days=2), NOW)
    normal, _ = w.grant_coupon("normal", D("2.00"), NOW + timedelta(days=1), NOW)
    entry = w.charge(D("20.00"), "ad-spend-0301", NOW, coupon_kind="traffic")
    assert entry.breakdown() == Breakdown(cash=D("5.00"), normal_coupon=D("2.00"), traffic_coupon=D("7.00"),
                                          post_pay=D("6.00"))
    assert (soon.remaining, late.remaining, normal.remaining) == (0, 0, 0)
    assert (w.cash, w.credit_used, w.available(NOW)) == (0, D("6.00"), D("94.00"))
    # the soonest-expiring traffic coupon was drawn before the later one
    coupon_postings = [p for p in entry.postings if p.account.coupon_kind]
    assert [p.account.grant_id for p in coupon_postings] == [soon.id, late.id, normal.id]


def test_a_partial_draw_takes_the_soonest_expiring_coupon_first() -> None:
    w = wallet(cash="100.00")
    late, _ = w.grant_coupon("normal", D("10.00"), NOW + timedelta(days=9), NOW)
    soon, _ = w.grant_coupon("normal", D("10.00"), NOW + timedelta(days=2), NOW)
    w.charge(D("4.00"), "r", NOW)
    assert (soon.remaining, late.remaining, w.cash) == (D("6.00"), D("10.00"), D("100.00"))


def test_a_normal_charge_never_touches_traffic_coupons() -> None:
    w = wallet(cash="3.00")
    traffic, _ = w.grant_coupon("traffic", D("50.00"), NOW + timedelta(days=1), NOW)
    before = snapshot(w)
    with pytest.raises(errors.InsufficientFunds):
        w.charge(D("10.00"), "r", NOW)
    assert snapshot(w) == before and traffic.remaining == D("50.00")
    assert w.charge(D("3.00"), "r", NOW).breakdown() == Breakdown(cash=D("3.00"))


def test_insufficient_funds_changes_nothing() -> None:
    w = wallet(cash="10.00", limit="5.00")
    w.grant_coupon("normal", D("1.00"), NOW + timedelta(days=1), NOW)
    before = snapshot(w)
    with pytest.raises(errors.InsufficientFunds) as exc:
        w.charge(D("16.01"), "r", NOW)
    assert exc.value.code == "insufficient_funds"
    assert snapshot(w) == before and w.events == []
    assert w.charge(D("16.00"), "r", NOW).breakdown().post_pay == D("5.00")


def test_money_with_more_than_two_places_is_refused_naming_the_field() -> None:
    w = wallet(cash="10.00")
    with pytest.raises(ValidationFailed) as exc:
        w.charge(D("1.001"), "r", NOW)
    assert exc.value.details == {"amount": ["has more than 2 decimal places"]}
    with pytest.raises(ValidationFailed):
        w.charge(1.5, "r", NOW)  # type: ignore[arg-type] - floats never touch money


def test_payees_get_cost_and_the_platform_its_margin_in_the_same_entry() -> None:
    customer, supplier = wallet("org_c", cash="100.00"), wallet("org_s")
    entry = customer.charge(D("12.00"), "topup-1", NOW, payees=[(supplier, D("10.50"))])
    assert {(p.account.owner, p.account.name): p.amount for p in entry.postings} == {
        ("org_c", "cash"): D("-12.00"), ("org_s", "cash"): D("10.50"), (PLATFORM, REVENUE): D("1.50")}
    assert (customer.cash, supplier.cash) == (D("88.00"), D("10.50"))
    with pytest.raises(ValidationFailed) as exc:
        customer.charge(D("5.00"), "topup-2", NOW, payees=[(supplier, D("5.01"))])
    assert exc.value.code == "payees_exceed_charge"
    with pytest.raises(ValidationFailed):
        customer.charge(D("5.00"), "topup-3", NOW, payees=[(customer, D("1.00"))])


def test_withholding_charges_need_an_active_agreement() -> None:
    w = wallet(cash="10.00")
    with pytest.raises(errors.WithholdingAgreementRequired):
        w.charge(D("1.00"), "r", NOW, withholding=True)
    agreement = WithholdingAgreement.bind("org_a", "shop@corp", "Corp Ltd", "enterprise", NOW, "usr")
    agreement.confirm(NOW, "usr_platform")
    w.set_withholding(agreement.status == "active")
    assert w.charge(D("1.00"), "r", NOW, withholding=True).detail["withholding"] == "true"
    w.set_withholding(False)
    with pytest.raises(errors.WithholdingAgreementRequired):
        w.place_hold(D("1.00"), "order", NOW + timedelta(hours=1), NOW, withholding=True)
    with pytest.raises(ValidationFailed):
        WithholdingAgreement.bind("org_a", "me@home", "Me", "personal", NOW, "usr")
    with pytest.raises(errors.InvalidAgreementStatus):
        agreement.confirm(NOW, "usr_platform")


# -- daily budget: the Asia/Shanghai day -------------------------------------------------------

def test_daily_budget_counts_the_shanghai_day() -> None:
    w = wallet(cash="1000.00")
    w.set_daily_budget(D("100.00"))
    last_second = datetime(2026, 3, 1, 15, 59, 59, tzinfo=UTC)  # 23:59:59 in Shanghai
    midnight = datetime(2026, 3, 1, 16, 0, 0, tzinfo=UTC)  # 00:00:00 of the next day
    w.charge(D("60.00"), "a", last_second - timedelta(hours=12))
    w.charge(D("40.00"), "b", last_second)
    with pytest.raises(errors.DailyBudgetExceeded) as exc:
        w.charge(D("0.01"), "c", last_second)
    assert exc.value.details["day"] == "2026-03-01"
    assert w.charge(D("100.00"), "d", midnight).amount == D("100.00")
    with pytest.raises(errors.DailyBudgetExceeded):
        w.charge(D("0.01"), "e", midnight + timedelta(hours=7))


def test_a_charge_dated_before_the_counted_day_leaves_todays_total_alone() -> None:
    w = wallet(cash="1000.00")
    w.set_daily_budget(D("100.00"))
    midnight = datetime(2026, 3, 1, 16, 0, 0, tzinfo=UTC)  # 00:00 of 2 March in Shanghai
    w.charge(D("90.00"), "today", midnight + timedelta(hours=1))
    w.charge(D("5.00"), "late", midnight - timedelta(seconds=1))  # dated on 1 March (another host's clock)
    assert (w.spent_day.isoformat(), w.spent_today) == ("2026-03-02", D("90.00"))  # type: ignore[union-attr]
    with pytest.raises(errors.DailyBudgetExceeded):
        w.charge(D("10.01"), "over", midnight + timedelta(hours=2))


# -- coupons: expiry at the exact instant ---------------------------------------------------------

def test_a_coupon_is_usable_until_one_instant_before_its_expiry() -> None:
    w = wallet()
    expiry = NOW + timedelta(hours=5)
    grant, _ = w.grant_coupon("normal", D("8.00"), expiry, NOW)
    just_before = expiry - timedelta(microseconds=1)
    assert w.coupons(just_before) == D("8.00") and w.coupons(expiry) == 0
    assert w.lapse_coupon(grant, just_before) is None
    with pytest.raises(errors.InsufficientFunds):
        w.charge(D("1.00"), "r", expiry)
    w.charge(D("1.00"), "r", just_before)
    lapse = w.lapse_coupon(grant, expiry)
    assert lapse is not None and lapse.amount == D("7.00") and lapse.detail["action"] == "lapse"
    assert grant.remaining == 0 and w.grants == []
    assert w.lapse_coupon(grant, expiry) is None  # one entry per lapse


def test_an_agency_coupon_is_funded_from_its_cash_and_lapses_back_to_it() -> None:
    agency, principal = wallet("org_agency", cash="50.00"), wallet("org_p")
    grant, _ = principal.grant_coupon("traffic", D("20.00"), NOW + timedelta(days=1), NOW, funder=agency)
    assert (agency.cash, principal.coupons(NOW, "traffic")) == (D("30.00"), D("20.00"))
    principal.charge(D("5.00"), "r", NOW, coupon_kind="traffic")
    principal.lapse_coupon(grant, NOW + timedelta(days=1), funder=agency)
    assert agency.cash == D("45.00")
    with pytest.raises(errors.InsufficientFunds):
        principal.grant_coupon("normal", D("45.01"), NOW + timedelta(days=1), NOW, funder=agency)


# -- holds -------------------------------------------------------------------------------------

def test_a_hold_reserves_available_and_capture_releases_the_rest() -> None:
    w = wallet(cash="100.00")
    hold, _ = w.place_hold(D("70.00"), "order-9", NOW + timedelta(minutes=30), NOW)
    assert (w.held, w.available(NOW), w.cash) == (D("70.00"), D("30.00"), D("100.00"))
    with pytest.raises(errors.InsufficientFunds):
        w.charge(D("30.01"), "other", NOW)  # held money is not spendable elsewhere
    entry = w.capture(hold, NOW + timedelta(minutes=29), D("45.00"))
    assert entry.detail["released"] == "25.00" and entry.breakdown() == Breakdown(cash=D("45.00"))
    assert (w.held, w.cash, w.available(NOW), hold.status) == (0, D("55.00"), D("55.00"), "captured")
    with pytest.raises(errors.HoldNotActive):
        w.release(hold, NOW)


def test_a_hold_is_placed_only_on_funds_its_capture_can_use_until_it_expires() -> None:
    w = wallet()
    expiry = NOW + timedelta(hours=2)
    w.grant_coupon("traffic", D("100.00"), NOW + timedelta(days=30), NOW)
    # traffic coupons pay traffic orders only: a normal hold on them could never be captured
    with pytest.raises(errors.InsufficientFunds) as exc:
        w.place_hold(D("100.00"), "order-n", expiry, NOW)
    assert exc.value.details["spendable"] == "0.00"
    hold, _ = w.place_hold(D("100.00"), "order-t", expiry, NOW, coupon_kind="traffic")
    assert w.capture(hold, expiry - timedelta(minutes=1)).breakdown() == Breakdown(traffic_coupon=D("100.00"))
    # a coupon that lapses before the hold expires does not back it
    w.grant_coupon("normal", D("50.00"), expiry - timedelta(seconds=1), NOW)
    with pytest.raises(errors.InsufficientFunds):
        w.place_hold(D("0.01"), "order-short", expiry, NOW)
    hold2, _ = w.place_hold(D("50.00"), "order-soon", expiry - timedelta(seconds=1), NOW)
    assert w.capture(hold2, expiry - timedelta(seconds=2)).breakdown() == Breakdown(normal_coupon=D("50.00"))


def test_nothing_spends_what_a_normal_hold_relies_on_while_traffic_coupons_remain() -> None:
    w = wallet(cash="100.00")
    expiry = NOW + timedelta(hours=2)
    w.grant_coupon("traffic", D("100.00"), NOW + timedelta(days=30), NOW)
    hold, _ = w.place_hold(D("100.00"), "order-n", expiry, NOW)  # backed by the cash only
    assert (w.available(NOW), w.normal_room(NOW)) == (D("100.00"), D("0.00"))
    with pytest.raises(errors.InsufficientFunds) as exc:
        w.charge(D("1.00"), "normal-order", NOW)  # available says 100, but only traffic coupons are free
    assert exc.value.details["spendable"] == "0.00"
    with pytest.raises(errors.InsufficientFunds):
        w._check_cash_out(D("1.00"), NOW, "withdrawal")
    assert w.charge(D("100.00"), "data-order", NOW, coupon_kind="traffic").breakdown() == Breakdown(
        traffic_coupon=D("100.00"))
    assert w.capture(hold, NOW + timedelta(minutes=5)).breakdown() == Breakdown(cash=D("100.00"))
    assert (w.held, w.held_traffic, w.cash) == (0, 0, 0)


def test_a_hold_cannot_be_captured_at_or_after_its_expiry() -> None:
    w = wallet(cash="100.00")
    expiry = NOW + timedelta(minutes=30)
    hold, _ = w.place_hold(D("10.00"), "order-1", expiry, NOW)
    with pytest.raises(errors.HoldExpired):
        w.capture(hold, expiry)
    with pytest.raises(errors.HoldNotActive):
        w.release(hold, expiry - timedelta(microseconds=1), expired=True)  # the job waits for expiry
    w.release(hold, expiry, expired=True)
    assert (hold.status, w.held) == ("expired", 0)
    hold2, _ = w.place_hold(D("10.00"), "order-2", expiry, NOW)
    assert w.capture(hold2, expiry - timedelta(microseconds=1)).amount == D("10.00")
    with pytest.raises(ValidationFailed):
        w.place_hold(D("1.00"), "order-3", NOW, NOW)  # expiry must be in the future


def test_capture_more_than_held_is_refused() -> None:
    w = wallet(cash="100.00")
    hold, _ = w.place_hold(D("10.00"), "o", NOW + timedelta(hours=1), NOW)
    with pytest.raises(ValidationFailed) as exc:
        w.capture(hold, NOW, D("10.01"))
    assert exc.value.code == "capture_exceeds_hold"


# -- recharge, revoke, refund ------------------------------------------------------------------

def test_recharge_repays_outstanding_credit_first() -> None:
    w = wallet(limit="50.00")
    w.charge(D("30.00"), "r", NOW)
    assert w.credit_used == D("30.00")
    recharge = Recharge.online_intent("org_a", "sandbox", D("100.00"), None, NOW, "usr")
    entry = w.credit_recharge(recharge, D("100.00"), "gw-1", NOW)
    assert entry is not None and entry.breakdown() == Breakdown(cash=D("70.00"), post_pay=D("30.00"))
    assert (w.credit_used, w.cash, recharge.credit_repaid) == (0, D("70.00"), D("30.00"))
    assert any(isinstance(e, RechargeCredited) for e in w.events)
    assert w.credit_recharge(recharge, D("100.00"), "gw-1", NOW) is None  # the repeat credits nothing


def test_a_notification_with_another_amount_is_refused_and_flagged() -> None:
    w = wallet()
    recharge = Recharge.online_intent("org_a", "sandbox", D("100.00"), None, NOW, "usr")
    with pytest.raises(errors.AmountMismatch):
        w.credit_recharge(recharge, D("1.00"), "gw-1", NOW)
    assert recharge.status == "pending" and "amount mismatch" in (recharge.flag or "")
    assert w.cash == 0 and [type(e) for e in w.events] == [RechargeFlagged]


def test_a_notification_of_another_gateway_trade_is_refused_and_flagged() -> None:
    w = wallet()
    recharge = Recharge.online_intent("org_a", "sandbox", D("100.00"), None, NOW, "usr")
    with pytest.raises(errors.AmountMismatch):  # no trade bound yet: only the amount is checked
        w.credit_recharge(recharge, D("1.00"), "gw-9", NOW)
    recharge.gateway_trade_no = "gw-1"  # the gateway named its payment when it was created
    with pytest.raises(errors.TradeMismatch) as refused:
        w.credit_recharge(recharge, D("100.00"), "gw-2", NOW)
    assert refused.value.details == {"expected": "gw-1", "notified": "gw-2"}
    assert recharge.status == "pending" and "trade mismatch" in (recharge.flag or "") and w.cash == 0
    assert w.credit_recharge(recharge, D("100.00"), None, NOW) is not None  # a query without a trade no
    assert w.cash == D("100.00") and recharge.gateway_trade_no == "gw-1"
    with pytest.raises(errors.TradeMismatch):  # a second payment of a credited order
        w.credit_recharge(recharge, D("100.00"), "gw-3", NOW)
    assert w.credit_recharge(recharge, D("100.00"), "gw-1", NOW) is None and w.cash == D("100.00")
    assert [type(e) for e in w.events].count(RechargeFlagged) == 3


def test_a_failure_of_another_gateway_trade_is_refused_and_flagged() -> None:
    w = wallet()
    recharge = Recharge.online_intent("org_a", "sandbox", D("100.00"), None, NOW, "usr")
    recharge.gateway_trade_no = "gw-1"
    with pytest.raises(errors.TradeMismatch) as refused:
        w.fail_recharge(recharge, "gw-2", "closed")
    assert refused.value.details == {"expected": "gw-1", "notified": "gw-2"}
    assert recharge.status == "pending" and "gw-2 failed" in (recharge.flag or "")
    assert [type(e) for e in w.events] == [RechargeFlagged]
    assert w.fail_recharge(recharge, None, "query: failed") is True  # a query naming no trade
    assert recharge.status == "failed" and w.fail_recharge(recharge, "gw-1", "again") is False
    other = Recharge.online_intent("org_a", "sandbox", D("5.00"), None, NOW, "usr")
    assert w.fail_recharge(other, "gw-7", "closed") is True  # no trade bound yet: nothing to compare


def test_offline_recharge_is_revoked_once_and_only_while_covered() -> None:
    w = wallet()
    recharge, _ = w.offline_recharge(D("100.00"), "bank slip 42", NOW)
    w.charge(D("0.01"), "r", NOW)
    with pytest.raises(errors.RevokeNotCovered):
        w.revoke_recharge(recharge, NOW)
    again, _ = w.offline_recharge(D("10.00"), "bank slip 43", NOW)
    entry = w.revoke_recharge(recharge, NOW)
    assert entry.type == "revoke" and w.cash == D("9.99") and recharge.status == "revoked"
    with pytest.raises(errors.NotRevocable) as exc:
        w.revoke_recharge(recharge, NOW)
    assert exc.value.code == "already_revoked"
    with pytest.raises(ValidationFailed):
        w.offline_recharge(D("1.00"), "  ", NOW)  # a note is required
    assert again.status == "paid"


def test_revoke_reverses_the_credit_it_repaid() -> None:
    w = wallet(limit="50.00")
    w.charge(D("20.00"), "r", NOW)
    recharge, _ = w.offline_recharge(D("100.00"), "slip", NOW)
    assert (w.cash, w.credit_used) == (D("80.00"), 0)
    w.revoke_recharge(recharge, NOW)
    assert (w.cash, w.credit_used) == (0, D("20.00"))


def test_a_failed_refund_returns_the_money() -> None:
    w = wallet()
    recharge = Recharge.online_intent("org_a", "sandbox", D("100.00"), None, NOW, "usr")
    w.credit_recharge(recharge, D("100.00"), "gw", NOW)
    withdrawal, _ = w.request_withdrawal(recharge, D("60.00"), NOW)
    assert (w.cash, recharge.refunded, withdrawal.status) == (D("40.00"), D("60.00"), "pending")
    with pytest.raises(errors.NotRefundable):
        w.request_withdrawal(recharge, D("40.01"), NOW)
    w.settle_withdrawal(withdrawal, recharge, False, "bank said no", NOW)
    assert (w.cash, recharge.refunded, withdrawal.status) == (D("100.00"), 0, "failed")
    assert w.settle_withdrawal(withdrawal, recharge, True, "late", NOW) is None


# -- allocation, credit, deposit ------------------------------------------------------------------

def test_reclaim_takes_back_at_most_what_was_allocated_and_still_unspent() -> None:
    agency, principal = wallet("org_agency", cash="100.00"), wallet("org_p")
    agency.allocate_to(principal, D("60.00"), NOW)
    principal.charge(D("50.00"), "ads", NOW)
    with pytest.raises(errors.InsufficientFunds):  # the cash is not there
        agency.reclaim_from(principal, D("10.01"), D("60.00"), NOW, unspent=D("60.00"))
    with pytest.raises(errors.ReclaimExceedsAllocated):
        agency.reclaim_from(principal, D("60.01"), D("60.00"), NOW, unspent=D("60.00"))
    with pytest.raises(errors.ReclaimExceedsAllocated) as spent:  # allocated, but spent
        agency.reclaim_from(principal, D("5.01"), D("60.00"), NOW, unspent=D("5.00"))
    assert spent.value.details == {"allocated_net": "60.00", "reclaimable": "5.00"}
    agency.reclaim_from(principal, D("5.00"), D("60.00"), NOW, unspent=D("5.00"))
    assert (agency.cash, principal.cash) == (D("45.00"), D("5.00"))


def test_credit_limit_never_below_what_is_used() -> None:
    w = wallet(limit="100.00")
    w.charge(D("70.00"), "r", NOW)
    with pytest.raises(errors.CreditLimitBelowUsed):
        w.set_credit_limit(D("69.99"), NOW)
    assert w.set_credit_limit(D("70.00"), NOW) is not None and w.available(NOW) == 0
    assert w.set_credit_limit(D("70.00"), NOW) is None  # unchanged: no entry


def test_deposit_is_paid_from_cash_up_to_what_is_due_and_refunded_by_the_platform() -> None:
    w = wallet(cash="100.00")
    w.set_deposit_due(D("30.00"), NOW)
    with pytest.raises(errors.DepositExceedsDue):
        w.pay_deposit(D("30.01"), NOW)
    w.pay_deposit(None, NOW)
    assert (w.cash, w.deposit_paid, w.available(NOW)) == (D("70.00"), D("30.00"), D("70.00"))
    with pytest.raises(errors.DepositExceedsDue):
        w.pay_deposit(None, NOW)
    w.refund_deposit(None, NOW)
    assert (w.cash, w.deposit_paid) == (D("100.00"), 0)


# -- low-balance alert -----------------------------------------------------------------------------

def test_low_balance_alerts_once_per_downward_crossing_and_rearms() -> None:
    w = wallet(cash="100.00")
    w.set_low_balance_threshold(D("50.00"), NOW)
    w.charge(D("40.00"), "a", NOW)  # 60: above
    w.charge(D("15.00"), "b", NOW)  # 45: crossed
    w.charge(D("5.00"), "c", NOW)  # 40: still below, no second alert
    alerts = [e for e in w.events if isinstance(e, WalletLowBalance)]
    assert [(a.available, a.threshold) for a in alerts] == [(D("45.00"), D("50.00"))]
    w.offline_recharge(D("10.00"), "slip", NOW)  # 50: back to the threshold re-arms
    assert not w.low_balance_alerted
    w.charge(D("0.01"), "d", NOW)
    assert len([e for e in w.events if isinstance(e, WalletLowBalance)]) == 2


def test_setting_a_threshold_above_the_balance_alerts_at_once() -> None:
    w = wallet(cash="10.00")
    w.set_low_balance_threshold(D("20.00"), NOW)
    assert w.low_balance_alerted and len(w.events) == 1
    w.set_low_balance_threshold(None, NOW)
    assert not w.low_balance_alerted
