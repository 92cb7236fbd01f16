"""Time rules at their exact boundaries (freezegun): coupon expiry, hold expiry and the
daily budget's day, which ends at midnight Asia/Shanghai (16:00 UTC). Clients use an API
key here, so moving the clock does not expire their tokens."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from freezegun import freeze_time

from entrypoints.jobs import run_job
from tests.e2e.wallet.conftest import World, err
from tests.helpers import Api

SECOND = timedelta(seconds=1)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def key_client(world: World, tenant: Any) -> Api:
    r = tenant.api.post(f"/api/v1/organizations/{tenant.org_id}/api-keys", json={"name": "orders"})
    assert r.status_code == 201, r.get_json()
    return Api(world.client, r.get_json()["key"])


def at_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def test_coupon_expires_at_the_exact_instant_and_the_job_lapses_it_once(world: World) -> None:
    c = world.customer
    api = key_client(world, c)
    expiry = at_second(datetime.now(UTC) + timedelta(hours=2))
    r = world.admin.post(f"/api/v1/wallets/{c.org_id}/coupons",
                         json={"kind": "normal", "amount": "10.00", "expires_at": expiry.isoformat()})
    assert r.status_code == 201
    with freeze_time(expiry - SECOND):
        assert run_job(world.container, "wallet.expire_coupons", {}) == 0
        r = api.post(f"/api/v1/wallets/{c.org_id}/charges", json={"amount": "4.00", "reference": "last-second"})
        assert r.status_code == 201 and r.get_json()["breakdown"]["normal_coupon"] == "4.00"
        assert world.wallet(api, c.org_id)["coupons"] == "6.00"
    with freeze_time(expiry):
        w = world.wallet(api, c.org_id)
        assert (w["coupons"], w["available"], w["coupon_grants"]) == ("0.00", "0.00", [])
        r = api.post(f"/api/v1/wallets/{c.org_id}/charges", json={"amount": "1.00", "reference": "at-expiry"})
        assert r.status_code == 409 and err(r) == "insufficient_funds"
        assert run_job(world.container, "wallet.expire_coupons", {}) == 1
        assert run_job(world.container, "wallet.expire_coupons", {}) == 0
    lapses = world.entries(api, c.org_id, type="coupon_change")
    assert [(e["details"]["action"], e["amount"]) for e in lapses] == [("lapse", "-6.00"), ("grant", "10.00")]
    assert lapses[0]["created_at"] == expiry.isoformat()
    assert world.ledger_total() == 0


def test_hold_expires_at_the_exact_instant_and_the_job_releases_it(world: World) -> None:
    c = world.customer
    api = key_client(world, c)
    world.offline(c.org_id, "100.00")
    expiry = at_second(datetime.now(UTC) + timedelta(hours=1))
    holds = []
    for ref in ("order-a", "order-b"):
        r = api.post(f"/api/v1/wallets/{c.org_id}/holds",
                     json={"amount": "30.00", "reference": ref, "expires_at": expiry.isoformat()})
        assert r.status_code == 201
        holds.append(r.get_json()["id"])
    with freeze_time(expiry - SECOND):
        assert run_job(world.container, "wallet.expire_holds", {}) == 0
        r = api.post(f"/api/v1/holds/{holds[0]}/capture", json={})
        assert r.status_code == 201 and r.get_json()["amount"] == "30.00"
    with freeze_time(expiry):
        r = api.post(f"/api/v1/holds/{holds[1]}/capture", json={})
        assert r.status_code == 409 and err(r) == "hold_expired"
        assert run_job(world.container, "wallet.expire_holds", {}) == 1
        assert run_job(world.container, "wallet.expire_holds", {}) == 0
    got = api.get(f"/api/v1/holds/{holds[1]}").get_json()
    assert (got["status"], got["settled_at"]) == ("expired", expiry.isoformat())
    w = world.wallet(api, c.org_id)
    assert (w["held"], w["cash"], w["available"]) == ("0.00", "70.00", "70.00")
    release = world.entries(api, c.org_id, type="release")
    assert [(e["reference"], e["details"]["reason"]) for e in release] == [("order-b", "expired")]


def test_the_daily_budget_day_ends_at_shanghai_midnight(world: World) -> None:
    m = world.merchant
    api = key_client(world, m)
    world.offline(m.org_id, "1000.00")
    r = world.agency_admin.put(f"/api/v1/wallets/{m.org_id}/budget", json={"daily_budget": "100.00"})
    assert r.status_code == 200
    now = datetime.now(UTC)
    midnight = now.replace(hour=16, minute=0, second=0, microsecond=0)  # 00:00 in Shanghai
    if midnight <= now:
        midnight += timedelta(days=1)

    def spend(amount: str, ref: str) -> Any:
        return api.post(f"/api/v1/wallets/{m.org_id}/charges", json={"amount": amount, "reference": ref})

    with freeze_time(midnight - timedelta(hours=3)):
        assert spend("70.00", "evening").status_code == 201
    with freeze_time(midnight - SECOND):
        r = spend("30.01", "late")
        assert r.status_code == 409 and err(r) == "daily_budget_exceeded"
        assert r.get_json()["error"]["details"]["day"] == (midnight - SECOND).astimezone(SHANGHAI).date().isoformat()
        assert spend("30.00", "late").status_code == 201
        assert world.wallet(api, m.org_id)["spent_today"] == "100.00"
    with freeze_time(midnight):
        assert world.wallet(api, m.org_id)["spent_today"] == "0.00"
        assert spend("100.00", "new-day").status_code == 201
        assert err(spend("0.01", "new-day-2")) == "daily_budget_exceeded"
    days = api.get(f"/api/v1/wallets/{m.org_id}/consumption",
                   query_string={"from": (midnight - timedelta(days=1)).date().isoformat(),
                                 "to": (midnight + timedelta(days=1)).date().isoformat()}).get_json()["items"]
    assert [(d["period"], d["amount"]) for d in days] == [
        ((midnight - SECOND).astimezone(SHANGHAI).date().isoformat(), "100.00"),
        (midnight.astimezone(SHANGHAI).date().isoformat(), "100.00")]


def test_a_charge_that_waited_for_the_wallets_lock_is_dated_when_it_got_it(world: World, monkeypatch: Any) -> None:
    import adapters.postgres.wallet_repos as repos

    c = world.customer
    api = key_client(world, c)
    world.offline(c.org_id, "100.00")
    start = at_second(datetime.now(UTC) + timedelta(hours=1))
    original = repos.SqlWallets.lock
    with freeze_time(start) as frozen:
        def waited(self: Any, org_ids: Any) -> Any:
            frozen.tick(timedelta(seconds=30))  # another transaction held the wallet for 30 s
            return original(self, org_ids)

        monkeypatch.setattr(repos.SqlWallets, "lock", waited)
        r = api.post(f"/api/v1/wallets/{c.org_id}/charges", json={"amount": "1.00", "reference": "waited"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["created_at"] == (start + timedelta(seconds=30)).isoformat()
