"""RechargeService against a scripted gateway: the paths a real gateway rarely shows —
outages, late answers, a payment the gateway never saw, a mismatch found by the
reconciliation job, refunds that stay pending and then settle."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import injector
import pytest
from freezegun import freeze_time

from application.shared.access import Caller
from application.shared.paging import PageRequest
from application.shared.uow import UnitOfWorkFactory
from application.wallet import BadNotification, GatewayUnavailable, RechargeService, WalletService
from application.wallet.payments import PaymentGateways, PaymentStatus
from domain.identity.model import Organization
from domain.identity.ports import OrganizationRepository
from domain.shared.errors import NotFound
from domain.wallet.errors import AmountMismatch
from tests.fakes.payments import FakeGateway

D = Decimal


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def overrides(overrides: list[injector.Module], gateway: FakeGateway) -> list[injector.Module]:
    def configure(binder: injector.Binder) -> None:
        binder.bind(PaymentGateways, to=PaymentGateways({"sandbox": gateway}))

    return [*overrides, configure]  # type: ignore[list-item]


@pytest.fixture
def org(container: Any) -> str:
    o = Organization.create("Acme", ["customer"], datetime.now(UTC))
    with container.get(UnitOfWorkFactory)() as uow:
        uow.repo(OrganizationRepository).add(o)
        uow.commit()
    return o.id


def owner(org_id: str) -> Caller:
    return Caller(org_id=org_id, org_kinds=frozenset({"customer"}), roles=("customer_admin",), user_id="usr_1")


def cash(container: Any, org_id: str) -> Decimal:
    return container.get(WalletService).wallet(owner(org_id), org_id).figures.cash  # type: ignore[no-any-return]


def test_an_unreachable_gateway_fails_the_recharge_and_charges_nothing(container: Any, gateway: FakeGateway,
                                                                       org: str) -> None:
    svc = container.get(RechargeService)
    gateway.down = True
    with pytest.raises(GatewayUnavailable):
        svc.recharge(owner(org), org, D("10.00"), "sandbox")
    [rec] = svc.recharges(owner(org), org, PageRequest(), None).items
    assert (rec.status, rec.failure.startswith("gateway:")) == ("failed", True)
    gateway.down = False
    with freeze_time(datetime.now(UTC) + timedelta(hours=1)):
        assert svc.reconcile().checked == 0  # a failed recharge is not pending


def test_notifications_credit_once_and_refuse_what_does_not_verify(container: Any, gateway: FakeGateway,
                                                                   org: str) -> None:
    svc = container.get(RechargeService)
    rec = svc.recharge(owner(org), org, D("25.00"), "sandbox").recharge
    assert rec.payment_url == f"https://pay.example/{rec.id}"
    with pytest.raises(BadNotification):
        svc.handle_notification("sandbox", {"out_trade_no": rec.id, "amount": "25.00", "sig": "forged"})
    with pytest.raises(BadNotification):
        svc.handle_notification("sandbox", {"out_trade_no": "rch_unknown", "amount": "25.00", "sig": "ok"})
    with pytest.raises(NotFound) as unbound:  # a channel this service has no gateway for
        svc.handle_notification("alipay", {"out_trade_no": rec.id, "amount": "25.00", "sig": "ok"})
    assert unbound.value.code == "payment_channel_not_found"
    first = svc.handle_notification("sandbox", {"out_trade_no": rec.id, "amount": "25.00", "sig": "ok"})
    again = svc.handle_notification("sandbox", {"out_trade_no": rec.id, "amount": "25.00", "sig": "ok"})
    assert (first.credited, again.credited, again.status) == (True, False, "paid")
    assert cash(container, org) == D("25.00")


def test_reconciliation_flags_a_mismatch_and_gives_up_on_unknown_trades(container: Any, gateway: FakeGateway,
                                                                        org: str) -> None:
    svc = container.get(RechargeService)
    started = datetime.now(UTC)
    wrong = svc.recharge(owner(org), org, D("30.00"), "sandbox").recharge
    never = svc.recharge(owner(org), org, D("40.00"), "sandbox").recharge
    late = svc.recharge(owner(org), org, D("50.00"), "sandbox").recharge
    gateway.statuses[wrong.id] = PaymentStatus(wrong.id, "paid", D("3.00"), f"gw-{wrong.id}")
    gateway.statuses[late.id] = PaymentStatus(late.id, "pending")
    with freeze_time(started + timedelta(minutes=11)):
        report = svc.reconcile()
    assert (report.checked, report.credited, report.flagged, report.failed) == (3, 0, 1, 0)
    assert "amount mismatch" in (svc.get_recharge(owner(org), org, wrong.id).flag or "")
    with pytest.raises(AmountMismatch):
        svc.handle_notification("sandbox", {"out_trade_no": wrong.id, "amount": "3.00", "sig": "ok"})
    gateway.statuses[late.id] = PaymentStatus(late.id, "paid", D("50.00"), f"gw-{late.id}")
    with freeze_time(started + timedelta(days=2, minutes=1)):
        report = svc.reconcile()
    assert (report.credited, report.failed) == (1, 1)  # the late one paid; the unknown one given up
    assert svc.get_recharge(owner(org), org, never.id).status == "failed"
    assert cash(container, org) == D("50.00")


def test_reconciliation_flags_a_failure_of_another_trade_and_leaves_the_recharge_pending(
        container: Any, gateway: FakeGateway, org: str) -> None:
    svc = container.get(RechargeService)
    started = datetime.now(UTC)
    rec = svc.recharge(owner(org), org, D("20.00"), "sandbox").recharge
    gateway.statuses[rec.id] = PaymentStatus(rec.id, "failed", gateway_trade_no="gw-someone-else")
    with freeze_time(started + timedelta(minutes=11)):
        report = svc.reconcile()
    assert (report.checked, report.failed, report.flagged) == (1, 0, 1)
    got = svc.get_recharge(owner(org), org, rec.id)
    assert got.status == "pending" and "gw-someone-else failed" in (got.flag or "")
    gateway.statuses[rec.id] = PaymentStatus(rec.id, "failed", gateway_trade_no=f"gw-{rec.id}")
    with freeze_time(started + timedelta(minutes=12)):
        assert svc.reconcile().failed == 1  # its own trade failing fails it
    assert svc.get_recharge(owner(org), org, rec.id).status == "failed"


def test_refunds_stay_pending_while_the_gateway_is_down_and_settle_later(container: Any, gateway: FakeGateway,
                                                                         org: str) -> None:
    svc = container.get(RechargeService)
    rec = svc.recharge(owner(org), org, D("100.00"), "sandbox").recharge
    svc.handle_notification("sandbox", {"out_trade_no": rec.id, "amount": "100.00", "sig": "ok"})
    gateway.down = True
    w = svc.withdraw(owner(org), org, D("40.00"), reason="project closed")
    assert (w.status, cash(container, org)) == ("pending", D("60.00"))
    gateway.down = False
    gateway.refund_results = ["pending"]
    with freeze_time(datetime.now(UTC) + timedelta(minutes=11)):
        assert svc.reconcile().withdrawals_settled == 0  # the gateway is still working on it
        gateway.refund_results = ["failed"]
        assert svc.reconcile().withdrawals_settled == 1
    assert svc.get_withdrawal(owner(org), org, w.id).status == "failed"
    assert cash(container, org) == D("100.00")  # the failed refund returned the money
    assert [r[1] for r in gateway.refunds] == [w.id, w.id]  # the same refund number each time
    assert container.get(WalletService).ledger_total() == 0
