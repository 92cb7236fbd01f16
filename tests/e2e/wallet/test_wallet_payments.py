"""Online recharge through the real sandbox gateway: its signed notifications reach our
notify endpoint through the test client, exactly as over HTTP. A repeated notification
credits once; a bad signature is refused (400) and credits nothing; an amount or trade
mismatch is refused and flagged; a lost notification is recovered by the reconciliation job;
refunds settle through the gateway, and a failed refund returns the money."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from freezegun import freeze_time

from adapters.payment.sandbox import SandboxGateway, sandbox_secret, sign
from application.shared.settings import Settings
from application.wallet.payments import PaymentGateways
from entrypoints.jobs import run_job
from tests.e2e.wallet.conftest import World, err


@pytest.fixture
def gateway(world: World) -> SandboxGateway:
    gw = world.container.get(PaymentGateways).get("sandbox")
    assert isinstance(gw, SandboxGateway)
    gw.sleep = lambda seconds: None  # its retry backoff, not our test's time
    return gw


def start(world: World, amount: str = "50.00") -> dict[str, Any]:
    c = world.customer
    r = c.api.post(f"/api/v1/wallets/{c.org_id}/recharges", json={"amount": amount, "channel": "sandbox"})
    assert r.status_code == 201, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def pay(world: World, recharge: dict[str, Any], outcome: str = "paid", mode: str = "normal") -> dict[str, Any]:
    payment_id = recharge["payment_url"].rstrip("/").rsplit("/", 1)[1]
    r = world.client.post(f"/sandbox/pay/{payment_id}", json={"outcome": outcome, "mode": mode})
    assert r.status_code == 200, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def recharge_of(world: World, recharge_id: str) -> dict[str, Any]:
    c = world.customer
    return c.api.get(f"/api/v1/wallets/{c.org_id}/recharges/{recharge_id}").get_json()  # type: ignore[no-any-return]


def cash(world: World) -> str:
    return str(world.wallet(world.customer.api, world.customer.org_id)["cash"])


def recharge_entries(world: World) -> list[dict[str, Any]]:
    return world.entries(world.customer.api, world.customer.org_id, type="recharge")


def reconcile(world: World) -> dict[str, Any]:
    return run_job(world.container, "wallet.reconcile_payments", {})  # type: ignore[no-any-return]


def test_paying_credits_the_wallet_through_a_signed_notification(world: World, gateway: SandboxGateway) -> None:
    rec = start(world)
    result = pay(world, rec)
    assert (result["status"], result["delivered"]) == ("paid", 1)  # our endpoint answered "success"
    got = recharge_of(world, rec["id"])
    assert (got["status"], got["entry_id"] is not None, got["flag"]) == ("paid", True, None)
    assert cash(world) == "50.00"
    assert [e["reference"] for e in recharge_entries(world)] == [rec["id"]]
    assert world.ledger_total() == 0


def test_a_repeated_notification_credits_once(world: World, gateway: SandboxGateway) -> None:
    rec = start(world)
    assert pay(world, rec, mode="duplicate")["delivered"] == 2  # both acknowledged ...
    assert cash(world) == "50.00"  # ... one credited
    gateway.deliver(rec["payment_url"].rsplit("/", 1)[1])  # and once more, later
    assert cash(world) == "50.00" and len(recharge_entries(world)) == 1


def test_a_bad_signature_is_refused_and_credits_nothing(world: World, gateway: SandboxGateway) -> None:
    rec = start(world)
    assert pay(world, rec, mode="bad_signature")["delivered"] == 0
    assert (recharge_of(world, rec["id"])["status"], cash(world)) == ("pending", "0.00")
    forged = {"out_trade_no": rec["id"], "trade_no": "sbx_x", "total_amount": "50.00",
              "trade_status": "TRADE_SUCCESS", "notify_id": "n1", "sign_type": "HMAC-SHA256", "sign": "00" * 32}
    r = world.client.post("/api/v1/payments/sandbox/notify", data=forged)
    assert r.status_code == 400 and err(r) == "invalid_notification"
    r = world.client.post("/api/v1/payments/sandbox/notify", json={k: v for k, v in forged.items() if k != "sign"})
    assert r.status_code == 400
    r = world.client.post("/api/v1/payments/paypal/notify", data=forged)
    assert r.status_code == 404 and err(r) == "payment_channel_not_found"
    r = world.client.post("/api/v1/payments/alipay/notify", data=forged)  # a channel this server is not set up for
    assert r.status_code == 404 and err(r) == "payment_channel_not_found"
    assert cash(world) == "0.00" and recharge_entries(world) == []


def test_an_amount_mismatch_is_refused_and_flagged(world: World, gateway: SandboxGateway) -> None:
    rec = start(world)
    secret = sandbox_secret(world.container.get(Settings).secret_key)
    params = {"out_trade_no": rec["id"], "trade_no": "sbx_forged", "total_amount": "5000.00",
              "trade_status": "TRADE_SUCCESS", "notify_id": "n-1", "notify_time": "2026-01-01 00:00:00",
              "sign_type": "HMAC-SHA256"}
    params["sign"] = sign(params, secret)  # a correctly signed notification with the wrong amount
    r = world.client.post("/api/v1/payments/sandbox/notify", data=params)
    assert r.status_code == 400 and err(r) == "amount_mismatch"
    assert r.get_json()["error"]["details"] == {"expected": "50.00", "notified": "5000.00"}
    got = recharge_of(world, rec["id"])
    assert got["status"] == "pending" and "amount mismatch" in got["flag"]
    assert cash(world) == "0.00"
    inbox = world.finance.get("/api/v1/me/messages").get_json()["items"]
    assert [m["title"] for m in inbox] == [f"Recharge {rec['id']} needs a look"]
    r = world.client.post("/api/v1/payments/sandbox/notify", data=params)  # again: still refused
    assert r.status_code == 400 and cash(world) == "0.00"
    assert len(world.finance.get("/api/v1/me/messages").get_json()["items"]) == 1  # flagged once


def forged(world: World, recharge_id: str, trade_no: str, amount: str) -> dict[str, str]:
    """A notification signed with the gateway's real key (a gateway mistake, or a leaked key)."""
    params = {"out_trade_no": recharge_id, "trade_no": trade_no, "total_amount": amount,
              "trade_status": "TRADE_SUCCESS", "notify_id": f"n-{trade_no}", "notify_time": "2026-01-01 00:00:00",
              "sign_type": "HMAC-SHA256"}
    params["sign"] = sign(params, sandbox_secret(world.container.get(Settings).secret_key))
    return params


def test_a_notification_of_another_trade_is_refused_and_flagged(world: World, gateway: SandboxGateway) -> None:
    rec = start(world)
    payment_id = rec["payment_url"].rstrip("/").rsplit("/", 1)[1]
    r = world.client.post("/api/v1/payments/sandbox/notify", data=forged(world, rec["id"], "sbx_other", "50.00"))
    assert (r.status_code, err(r)) == (400, "trade_mismatch")
    assert r.get_json()["error"]["details"] == {"expected": payment_id, "notified": "sbx_other"}
    assert recharge_of(world, rec["id"])["status"] == "pending" and "trade mismatch" in recharge_of(
        world, rec["id"])["flag"]
    assert cash(world) == "0.00"
    assert pay(world, rec)["delivered"] == 1  # the payment the recharge was created with credits it
    assert cash(world) == "50.00"
    # once credited, a notification of a second payment of the same order credits nothing and
    # is flagged for finance (who refund it); the same payment's repeat is still acknowledged
    r = world.client.post("/api/v1/payments/sandbox/notify", data=forged(world, rec["id"], "sbx_second", "50.00"))
    assert (r.status_code, err(r)) == (400, "trade_mismatch")
    got = recharge_of(world, rec["id"])
    assert got["status"] == "paid" and "sbx_second" in got["flag"] and "second payment" in got["flag"]
    r = world.client.post("/api/v1/payments/sandbox/notify", data=forged(world, rec["id"], payment_id, "50.00"))
    assert r.status_code == 200
    assert cash(world) == "50.00" and len(recharge_entries(world)) == 1
    titles = [m["title"] for m in world.finance.get("/api/v1/me/messages").get_json()["items"]]
    assert titles == [f"Recharge {rec['id']} needs a look"] * 2  # one per reason


def test_a_failure_notified_for_another_trade_fails_nothing_and_is_flagged(world: World,
                                                                           gateway: SandboxGateway) -> None:
    rec = start(world)
    payment_id = rec["payment_url"].rstrip("/").rsplit("/", 1)[1]
    closed = forged(world, rec["id"], "sbx_other", "50.00") | {"trade_status": "TRADE_CLOSED"}
    closed["sign"] = sign({k: v for k, v in closed.items() if k != "sign"},
                          sandbox_secret(world.container.get(Settings).secret_key))
    r = world.client.post("/api/v1/payments/sandbox/notify", data=closed)
    assert (r.status_code, err(r)) == (400, "trade_mismatch")
    assert r.get_json()["error"]["details"] == {"expected": payment_id, "notified": "sbx_other"}
    got = recharge_of(world, rec["id"])
    assert got["status"] == "pending" and "sbx_other failed" in got["flag"]
    assert pay(world, rec)["delivered"] == 1  # the recharge's own payment still credits it
    assert (recharge_of(world, rec["id"])["status"], cash(world)) == ("paid", "50.00")
    titles = [m["title"] for m in world.finance.get("/api/v1/me/messages").get_json()["items"]]
    assert titles == [f"Recharge {rec['id']} needs a look"]


def test_a_lost_notification_is_recovered_by_the_reconciliation_job(world: World, gateway: SandboxGateway) -> None:
    rec = start(world)
    assert pay(world, rec, mode="lost")["delivered"] == 0
    assert recharge_of(world, rec["id"])["status"] == "pending"
    created = datetime.fromisoformat(rec["created_at"])
    with freeze_time(created + timedelta(minutes=9, seconds=59)):
        assert reconcile(world)["credited"] == 0  # not yet presumed lost
    assert cash(world) == "0.00"
    with freeze_time(created + timedelta(minutes=10, seconds=1)):
        report = reconcile(world)
    assert (report["checked"], report["credited"]) == (1, 1)
    assert (recharge_of(world, rec["id"])["status"], cash(world)) == ("paid", "50.00")
    with freeze_time(created + timedelta(minutes=20)):
        assert reconcile(world)["checked"] == 0  # nothing pending any more
    gateway.deliver(rec["payment_url"].rsplit("/", 1)[1])  # the notification arrives after all
    assert cash(world) == "50.00" and len(recharge_entries(world)) == 1


def test_a_failed_payment_fails_the_recharge(world: World, gateway: SandboxGateway) -> None:
    rec = start(world)
    pay(world, rec, outcome="failed")
    assert (recharge_of(world, rec["id"])["status"], cash(world)) == ("failed", "0.00")
    with freeze_time(datetime.now(UTC) + timedelta(minutes=30)):
        assert reconcile(world)["checked"] == 0


def test_refunds_go_back_through_the_gateway_and_failures_return_the_money(world: World,
                                                                           gateway: SandboxGateway) -> None:
    c = world.customer
    rec = start(world, "100.00")
    pay(world, rec)
    base = f"/api/v1/wallets/{c.org_id}/withdrawals"
    assert world.customer_user.post(base, json={"amount": "1.00"}).status_code == 403
    assert world.finance.post(base, json={"amount": "1.00"}).status_code == 403  # owner only
    r = c.api.post(base, json={"amount": "30.00", "reason": "closing a project"})
    assert r.status_code == 201, r.get_json()
    assert (r.get_json()["status"], r.get_json()["recharge_id"]) == ("succeeded", rec["id"])
    assert gateway.payment(rec["payment_url"].rsplit("/", 1)[1]).refunded == 30
    assert cash(world) == "70.00"

    gateway.refund_outcome = "failed"
    r = c.api.post(base, json={"amount": "20.00"})
    assert r.status_code == 201 and r.get_json()["status"] == "failed"
    assert cash(world) == "70.00"  # the money came back

    gateway.refund_outcome = "pending"
    r = c.api.post(base, json={"amount": "20.00"})
    pending = r.get_json()
    assert (pending["status"], cash(world)) == ("pending", "50.00")
    gateway.refund_outcome = None
    with freeze_time(datetime.now(UTC) + timedelta(minutes=11)):
        assert reconcile(world)["withdrawals_settled"] == 1
    got = c.api.get(f"{base}/{pending['id']}").get_json()
    assert (got["status"], cash(world)) == ("succeeded", "50.00")
    r = c.api.post(base, json={"amount": "50.01"})
    assert r.status_code == 409 and err(r) == "not_refundable"  # 50.00 is left of the recharge
    refunds = world.entries(c.api, c.org_id, type="refund")
    assert [e["details"]["status"] for e in refunds] == [
        "succeeded", "pending", "failed", "pending", "succeeded", "pending"]
    assert [e["amount"] for e in refunds] == ["0.00", "-20.00", "20.00", "-20.00", "0.00", "-30.00"]
    # the list filters by the withdrawals' own statuses
    listed = {status: [(w["amount"], w["status"]) for w in c.api.get(base, query_string={"status": status})
                       .get_json()["items"]] for status in ("succeeded", "failed", "pending")}
    assert listed == {"succeeded": [("20.00", "succeeded"), ("30.00", "succeeded")],
                      "failed": [("20.00", "failed")], "pending": []}
    assert c.api.get(base).get_json()["total"] == 3
    r = c.api.get(base, query_string={"status": "paid"})  # a recharge's status, not a withdrawal's
    assert r.status_code == 422 and "status" in r.get_json()["error"]["details"]
    assert world.ledger_total() == 0


def test_an_agency_pays_into_its_external_wallet_online(world: World, gateway: SandboxGateway) -> None:
    a = world.agency
    key = f"{a.org_id}~external"
    r = a.api.post(f"/api/v1/wallets/{key}/recharges", json={"amount": "80.00", "channel": "sandbox"})
    assert r.status_code == 201, r.get_json()
    assert pay(world, r.get_json())["status"] == "paid"
    assert world.wallet(a.api, key)["cash"] == "80.00"
    assert world.wallet(a.api, a.org_id)["cash"] == "0.00"
    assert world.ledger_total() == 0


def test_a_large_online_recharge_is_paid_to_the_cent(world: World, gateway: SandboxGateway) -> None:
    """The sandbox keeps exact money on SQLite too (it once kept floats and lost a cent)."""
    rec = start(world, "99999999999999.99")
    paid = pay(world, rec)
    assert paid["status"] == "paid", paid
    assert (recharge_of(world, rec["id"])["status"], cash(world)) == ("paid", "99999999999999.99")
    assert world.ledger_total() == 0
