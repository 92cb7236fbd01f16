"""The wallet's HTTP contract: figures, statements, recharges, charges, holds, allocation,
coupons, credit, deposits, budgets, alerts and withholding agreements — with
permissions, idempotency and tenant isolation checked on the way."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from freezegun import freeze_time

from tests.e2e.wallet.conftest import World, add_user, err, money

D = Decimal
FIGURES = ("cash", "coupons", "credit_limit", "credit_used", "held", "deposit_due", "deposit_paid", "available",
           "spent_today")


def url(org_id: str, tail: str = "") -> str:
    return f"/api/v1/wallets/{org_id}{tail}"


def soon(hours: int = 24) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def charge(api: Any, org_id: str, amount: str, reference: str, **extra: Any) -> Any:
    return api.post(url(org_id, "/charges"), json={"amount": amount, "reference": reference, **extra})


# -- figures and who sees them ------------------------------------------------------------------------

def test_figures_are_decimal_strings_and_only_fund_roles_see_them(world: World) -> None:
    c = world.customer
    world.offline(c.org_id, "100.00")
    w = world.wallet(c.api, c.org_id)
    assert {k: money(w[k]) for k in FIGURES} == {
        "cash": D("100.00"), "coupons": 0, "credit_limit": 0, "credit_used": 0, "held": 0, "deposit_due": 0,
        "deposit_paid": 0, "available": D("100.00"), "spent_today": 0}
    assert w["coupons_by_kind"] == {"normal": "0.00", "traffic": "0.00"}
    assert (w["daily_budget"], w["low_balance_threshold"], w["withholding_active"]) == (None, None, False)

    r = world.customer_user.get(url(c.org_id))
    assert r.status_code == 403 and err(r) == "permission_denied"  # employees see no funds
    r = world.other.api.get(url(c.org_id))
    assert r.status_code == 404  # another tenant's wallet does not exist for it
    assert world.wallet(world.finance, c.org_id)["cash"] == "100.00"  # platform finance views all

    m = world.merchant.org_id
    assert world.wallet(world.agency_admin, m)["cash"] == "0.00"  # agency admin views its principal's funds
    r = world.agency_employee.get(url(m), headers={"X-Act-As-Org": m})
    assert r.status_code == 403  # operates principals, no funds
    r = world.agency_admin.get(url(c.org_id))
    assert r.status_code == 404  # not its principal
    r = world.customer.api.get(url("org_does_not_exist"))
    assert r.status_code == 404


# -- recharges -------------------------------------------------------------------------------------

def test_offline_recharge_is_finance_work_and_revoked_once_while_covered(world: World) -> None:
    c = world.customer
    r = c.api.post(url(c.org_id, "/recharges"), json={"amount": "10.00", "channel": "offline", "note": "me"})
    assert r.status_code == 403
    r = world.finance.post(url(c.org_id, "/recharges"), json={"amount": "10.00", "channel": "offline"})
    assert r.status_code == 422 and err(r) == "note_required"
    rec = world.offline(c.org_id, "100.00", "bank slip 7731")
    assert (rec["status"], rec["amount"], rec["entry"]["breakdown"]["cash"]) == ("paid", "100.00", "100.00")
    assert rec["entry"]["balances_after"]["cash"] == "100.00"

    assert charge(c.api, c.org_id, "0.01", "o-1").status_code == 201
    r = world.finance.post(url(c.org_id, f"/recharges/{rec['id']}/revoke"), json={})
    assert r.status_code == 409 and err(r) == "revoke_not_covered"
    world.offline(c.org_id, "0.01", "top-up to cover the revoke")
    r = c.api.post(url(c.org_id, f"/recharges/{rec['id']}/revoke"), json={})
    assert r.status_code == 403  # the owner cannot revoke
    r = world.finance.post(url(c.org_id, f"/recharges/{rec['id']}/revoke"), json={"note": "wrong customer"})
    assert r.status_code == 201, r.get_json()
    assert (r.get_json()["type"], r.get_json()["balances_after"]["cash"]) == ("revoke", "0.00")
    r = world.finance.post(url(c.org_id, f"/recharges/{rec['id']}/revoke"), json={})
    assert r.status_code == 409 and err(r) == "already_revoked"
    got = c.api.get(url(c.org_id, f"/recharges/{rec['id']}")).get_json()
    assert got["status"] == "revoked"
    assert [e["type"] for e in world.entries(c.api, c.org_id)] == ["revoke", "recharge", "charge", "recharge"]
    assert world.ledger_total() == 0


def test_online_recharge_answers_pending_with_a_payment_url(world: World) -> None:
    c = world.customer
    r = c.api.post(url(c.org_id, "/recharges"), json={"amount": "88.00", "channel": "sandbox"})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert (body["status"], body["amount"], body["entry"]) == ("pending", "88.00", None)
    assert body["payment_url"].startswith("http") and "/sandbox/pay/" in body["payment_url"]
    assert world.wallet(c.api, c.org_id)["cash"] == "0.00"
    r = c.api.post(url(c.org_id, "/recharges"), json={"amount": "88.00", "channel": "alipay"})
    assert r.status_code == 422 and err(r) == "channel_not_configured"
    r = world.customer_user.post(url(c.org_id, "/recharges"), json={"amount": "1.00", "channel": "sandbox"})
    assert r.status_code == 403
    r = world.finance.post(url(c.org_id, "/recharges"), json={"amount": "1.00", "channel": "sandbox"})
    assert r.status_code == 403  # online recharge is the owner's


@pytest.mark.parametrize("tenant", ["customer", "agency", "supplier"])
def test_a_finance_user_runs_the_wallet_but_only_the_owner_recharges_and_withdraws(world: World,
                                                                                    tenant: str) -> None:
    """identity.md: the owner recharges and withdraws (an agency admin neither); seed 002: only
    the agency's main account recharges. A finance user runs the wallet day to day."""
    t = getattr(world, tenant)
    fin = add_user(t.api, t.org_id, f"{tenant}.fin", ["finance"])
    world.offline(t.org_id, "100.00")
    assert world.wallet(fin, t.org_id)["cash"] == "100.00"
    for path, body, permission in (("/recharges", {"amount": "1.00", "channel": "sandbox"}, "wallet.recharge"),
                                   ("/withdrawals", {"amount": "1.00"}, "wallet.withdraw")):
        r = fin.post(url(t.org_id, path), json=body)
        assert r.status_code == 403 and err(r) == "permission_denied", (path, r.get_json())
        assert r.get_json()["error"]["details"] == {"permission": permission}
    assert world.wallet(fin, t.org_id)["cash"] == "100.00"  # nothing moved
    assert [r["channel"] for r in t.api.get(url(t.org_id, "/recharges")).get_json()["items"]] == ["offline"]

    r = fin.put(url(t.org_id, "/budget"), json={"daily_budget": "50.00"})
    assert r.status_code == 200 and r.get_json()["daily_budget"] == "50.00"
    r = fin.put(url(t.org_id, "/low-balance-alert"), json={"threshold": "5.00"})
    assert r.status_code == 200, r.get_json()
    r = charge(fin, t.org_id, "10.00", "fin-1")
    assert r.status_code == 201 and r.get_json()["breakdown"]["cash"] == "10.00"
    r = fin.post(url(t.org_id, "/holds"), json={"amount": "5.00", "reference": "fin-h", "expires_at": soon()})
    assert r.status_code == 201, r.get_json()
    r = fin.post(f"/api/v1/holds/{r.get_json()['id']}/capture", json={"amount": "5.00"})
    assert r.status_code == 201, r.get_json()
    r = fin.post(url(t.org_id, "/withholding-agreements"),
                 json={"account": "pay@corp.example", "account_name": "Corp Ltd", "account_type": "enterprise"})
    assert r.status_code == 201 and r.get_json()["status"] == "pending"
    assert fin.get(url(t.org_id, "/withholding-agreements")).status_code == 200
    r = fin.post(url(t.org_id, f"/withholding-agreements/{r.get_json()['id']}/revoke"))
    assert r.status_code == 200 and r.get_json()["status"] == "revoked", r.get_json()
    assert world.wallet(fin, t.org_id)["cash"] == "85.00"

    if tenant == "supplier":
        return  # a supplier's admin only views: its money comes in as payees, out through settlement
    # the owner still does both
    r = t.api.post(url(t.org_id, "/recharges"), json={"amount": "1.00", "channel": "sandbox"})
    assert r.status_code == 201 and r.get_json()["status"] == "pending"
    r = t.api.post(url(t.org_id, "/withdrawals"), json={"amount": "1.00"})
    assert r.status_code == 409 and err(r) == "not_refundable"  # allowed; offline money goes back offline
    assert world.ledger_total() == 0


# -- money validation --------------------------------------------------------------------------

@pytest.mark.parametrize("amount, message", [
    ("1.001", "has more than 2 decimal places"), (12.345, "has more than 2 decimal places"),
    ("abc", 'must be a decimal string such as "12.30"'), ("-5.00", "must be greater than 0"),
    ("0", "must be greater than 0"), (True, 'must be a decimal string such as "12.30"'),
    ("NaN", 'must be a decimal string such as "12.30"'),
    # Decimal() reads these too: a typo must not become an amount
    ("1_000", 'must be a decimal string such as "12.30"'), ("1e3", 'must be a decimal string such as "12.30"'),
    ("\u0661\u0662", 'must be a decimal string such as "12.30"'), ("+5", 'must be a decimal string such as "12.30"'),
    (" 5 ", 'must be a decimal string such as "12.30"'), ("5.", 'must be a decimal string such as "12.30"'),
    (".5", 'must be a decimal string such as "12.30"'), ("Infinity", 'must be a decimal string such as "12.30"'),
])
def test_money_is_refused_naming_the_field(world: World, amount: Any, message: str) -> None:
    c = world.customer
    r = charge(c.api, c.org_id, amount, "r-1")
    assert r.status_code == 422
    assert r.get_json()["error"]["details"] == {"amount": [message]}


def test_json_numbers_with_two_places_are_accepted_and_unknown_fields_refused(world: World) -> None:
    c = world.customer
    world.offline(c.org_id, "10.00")
    r = charge(c.api, c.org_id, 2.5, "r-1")
    assert r.status_code == 201 and r.get_json()["amount"] == "2.50"
    r = charge(c.api, c.org_id, "1.00", "r-2", tip="1")
    assert r.status_code == 422 and r.get_json()["error"]["details"] == {"tip": ["Unknown field."]}
    r = c.api.post(url(c.org_id, "/charges"), json={"amount": "1.00", "reference": "x",
                                                     "payees": [{"org_id": "o", "amount": "0.001"}]})
    assert r.status_code == 422 and "payees" in r.get_json()["error"]["details"]


def test_json_extensions_and_unpaired_surrogates_are_refused_and_nothing_is_written(world: World) -> None:
    c = world.customer
    world.offline(c.org_id, "10.00")
    before = world.wallet(c.api, c.org_id)
    for raw in (b'{"amount": NaN, "reference": "r-1"}', b'{"amount": Infinity, "reference": "r-1"}'):
        r = c.api.post(url(c.org_id, "/charges"), data=raw, headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and err(r) == "malformed_json", raw
    for raw, field in ((b'{"amount": "1.00", "reference": "\\ud800x"}', "reference"),
                       (b'{"amount": "1.00", "reference": "r-2", "note": "\\udfff"}', "note")):
        r = c.api.post(url(c.org_id, "/charges"), data=raw, headers={"Content-Type": "application/json"})
        assert r.status_code == 422, (raw, r.get_json())
        assert list(r.get_json()["error"]["details"]) == [field]
    # a surrogate pair is one character (not refused)
    r = c.api.post(url(c.org_id, "/charges"), data=b'{"amount": "1.00", "reference": "\\ud83d\\ude00"}',
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 201 and r.get_json()["reference"] == "\U0001F600"
    after = world.wallet(c.api, c.org_id)
    assert after["cash"] == "9.00" and before["cash"] == "10.00"


@pytest.mark.parametrize("path, body, field", [
    ("/holds", {"amount": "1.00", "reference": "h", "expires_at": "9999-12-31T23:59:59-12:00"}, "expires_at"),
    ("/coupons", {"kind": "normal", "amount": "1.00", "expires_at": "9999-12-31T23:59:59-12:00"}, "expires_at"),
])
def test_a_moment_beyond_the_supported_years_is_refused_naming_the_field(
        world: World, path: str, body: dict[str, str], field: str) -> None:
    c = world.customer
    world.offline(c.org_id, "10.00")
    caller = world.admin if path == "/coupons" else c.api
    r = caller.post(url(c.org_id, path), json=body)
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["error"]["details"] == {field: ["must lie in the years 1900 to 9998"]}


@pytest.mark.parametrize("path", [
    "/entries?to=9999-12-31", "/entries?from=0001-01-01", "/entries?from=9999-12-31T00:00:00%2B00:00",
    "/consumption?granularity=day&from=9999-12-31&to=9999-12-31",
    "/consumption?granularity=day&from=0001-01-01&to=0001-01-02", "?at=0001-01-01T00:00:00%2B14:00",
])
def test_query_dates_beyond_the_supported_years_are_refused(world: World, path: str) -> None:
    c = world.customer
    r = c.api.get(url(c.org_id, path))
    assert r.status_code == 422, (path, r.get_json())
    assert "1900 to 9998" in str(r.get_json()["error"]["details"]), r.get_json()


# -- charges ----------------------------------------------------------------------------------------

def test_charge_draws_sources_in_order_and_records_the_breakdown(world: World) -> None:
    c = world.customer
    world.offline(c.org_id, "5.00")
    assert world.admin.put(url(c.org_id, "/credit-limit"), json={"credit_limit": "100.00"}).status_code == 200
    for kind, amount, hours in (("traffic", "4.00", 48), ("traffic", "3.00", 24), ("normal", "2.00", 12)):
        r = world.admin.post(url(c.org_id, "/coupons"),
                             json={"kind": kind, "amount": amount, "expires_at": soon(hours)})
        assert r.status_code == 201, r.get_json()
    w = world.wallet(c.api, c.org_id)
    assert (w["coupons"], w["coupons_by_kind"], w["available"]) == (
        "9.00", {"normal": "2.00", "traffic": "7.00"}, "114.00")
    assert [(g["kind"], g["remaining"]) for g in w["coupon_grants"]] == [
        ("normal", "2.00"), ("traffic", "3.00"), ("traffic", "4.00")]  # soonest expiry first

    r = charge(c.api, c.org_id, "20.00", "ads-0301", coupon_kind="traffic")
    assert r.status_code == 201, r.get_json()
    e = r.get_json()
    assert e["breakdown"] == {"cash": "5.00", "normal_coupon": "2.00", "traffic_coupon": "7.00", "post_pay": "6.00"}
    assert (e["balances_after"]["cash"], e["balances_after"]["credit_used"], e["balances_after"]["available"]) == (
        "0.00", "6.00", "94.00")
    assert (e["type"], e["reference"], e["replayed"], e["payees"]) == ("charge", "ads-0301", False, [])

    before = world.wallet(c.api, c.org_id)
    r = charge(c.api, c.org_id, "94.01", "too-much")
    assert r.status_code == 409 and err(r) == "insufficient_funds"
    assert world.wallet(c.api, c.org_id) | {"at": ""} == before | {"at": ""}  # nothing written
    assert world.entries(c.api, c.org_id, reference="too-much") == []
    assert world.ledger_total() == 0


def test_a_reference_is_charged_once(world: World) -> None:
    c = world.customer
    world.offline(c.org_id, "50.00")
    first = charge(c.api, c.org_id, "30.00", "order-1")
    assert first.status_code == 201
    again = charge(c.api, c.org_id, "30.00", "order-1")  # a retry without an idempotency key
    assert again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"] and again.get_json()["replayed"] is True
    r = charge(c.api, c.org_id, "31.00", "order-1")
    assert r.status_code == 409 and err(r) == "duplicate_reference"
    assert world.wallet(c.api, c.org_id)["cash"] == "20.00"
    expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    for blank in ("", "   "):  # a blank reference, empty or not, has its own code (api.md)
        r = charge(c.api, c.org_id, "1.00", blank)
        assert r.status_code == 422 and err(r) == "invalid_reference"
        assert "reference" in r.get_json()["error"]["details"]
        r = c.api.post(url(c.org_id, "/holds"), json={"amount": "1.00", "reference": blank, "expires_at": expires})
        assert r.status_code == 422 and err(r) == "invalid_reference"
    r = charge(c.api, c.org_id, "1.00", "x" * 101)
    assert r.status_code == 422 and "reference" in r.get_json()["error"]["details"]
    assert world.wallet(c.api, c.org_id)["cash"] == "20.00"


def test_idempotency_key_replays_the_first_response_and_refuses_another_body(world: World) -> None:
    c = world.customer
    world.offline(c.org_id, "50.00")
    key = {"Idempotency-Key": "k-123"}
    first = c.api.post(url(c.org_id, "/charges"), json={"amount": "10.00", "reference": "i-1"}, headers=key)
    assert first.status_code == 201
    again = c.api.post(url(c.org_id, "/charges"), json={"amount": "10.00", "reference": "i-1"}, headers=key)
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json() == first.get_json()
    other = c.api.post(url(c.org_id, "/charges"), json={"amount": "11.00", "reference": "i-2"}, headers=key)
    assert other.status_code == 409 and err(other) == "idempotency_key_reused"
    assert world.wallet(c.api, c.org_id)["cash"] == "40.00"
    # a refused command is remembered too: the same key and body gets the same 409
    poor = {"Idempotency-Key": "k-poor"}
    r1 = c.api.post(url(c.org_id, "/charges"), json={"amount": "99.00", "reference": "i-3"}, headers=poor)
    world.offline(c.org_id, "100.00")
    r2 = c.api.post(url(c.org_id, "/charges"), json={"amount": "99.00", "reference": "i-3"}, headers=poor)
    assert (r1.status_code, r2.status_code, err(r2)) == (409, 409, "insufficient_funds")
    # money POSTs of other kinds honour it as well
    body = {"amount": "5.00", "channel": "offline", "note": "slip"}
    r1 = world.finance.post(url(c.org_id, "/recharges"), json=body, headers={"Idempotency-Key": "rk"})
    r2 = world.finance.post(url(c.org_id, "/recharges"), json=body, headers={"Idempotency-Key": "rk"})
    assert r1.get_json()["id"] == r2.get_json()["id"]
    assert world.wallet(c.api, c.org_id)["cash"] == "145.00"


def test_idempotency_key_matches_the_json_not_its_bytes_and_belongs_to_its_sender(world: World) -> None:
    c = world.customer
    world.offline(c.org_id, "50.00")
    key = {"Idempotency-Key": "k-json", "Content-Type": "application/json"}
    first = c.api.post(url(c.org_id, "/charges"), data='{"amount": "10.00", "reference": "j-1"}', headers=key)
    assert first.status_code == 201
    # the same JSON with its keys in another order and other spacing is the same request
    again = c.api.post(url(c.org_id, "/charges"), data='{"reference":"j-1","amount":"10.00"}', headers=key)
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json() == first.get_json()
    # another user of the same organisation with the same key and body does not get that answer
    other = world.customer_user.post(url(c.org_id, "/charges"), data='{"amount": "10.00", "reference": "j-1"}',
                                     headers=key)
    assert other.status_code == 409 and err(other) == "idempotency_key_reused"
    assert world.wallet(c.api, c.org_id)["cash"] == "40.00"


def test_an_idempotency_key_belongs_to_its_organisation_whatever_the_endpoint(world: World) -> None:
    c, o = world.customer, world.other
    world.offline(c.org_id, "50.00")
    world.offline(o.org_id, "50.00")
    key = {"Idempotency-Key": "k-once"}
    assert c.api.post(url(c.org_id, "/charges"), json={"amount": "1.00", "reference": "e-1"}, headers=key
                      ).status_code == 201
    hold = c.api.post(url(c.org_id, "/holds"), json={"amount": "2.00", "reference": "e-h", "expires_at": soon()},
                      headers=key)
    assert hold.status_code == 409 and err(hold) == "idempotency_key_reused"
    assert world.wallet(c.api, c.org_id)["held"] == "0.00"  # nothing placed
    # another organisation's keys are its own
    assert o.api.post(url(o.org_id, "/charges"), json={"amount": "1.00", "reference": "e-1"}, headers=key
                      ).status_code == 201


def test_payees_and_withholding(world: World) -> None:
    c, s = world.customer, world.supplier
    world.offline(c.org_id, "100.00")
    payees = [{"org_id": s.org_id, "amount": "8.00"}]
    r = charge(c.api, c.org_id, "10.00", "t-1", payees=payees)
    assert r.status_code == 403 and err(r) == "payees_not_allowed"  # a tenant cannot route money to another
    r = charge(world.admin, c.org_id, "10.00", "t-1", payees=payees)
    assert r.status_code == 409 and err(r) == "withholding_agreement_required"

    r = c.api.post(url(c.org_id, "/withholding-agreements"),
                   json={"account": "pay@acme.example", "account_name": "Acme Ltd", "account_type": "personal"})
    assert r.status_code == 422 and err(r) == "enterprise_account_required"
    r = c.api.post(url(c.org_id, "/withholding-agreements"),
                   json={"account": "pay@acme.example", "account_name": "Acme Ltd", "account_type": "enterprise"})
    assert r.status_code == 201 and r.get_json()["status"] == "pending"
    agreement = r.get_json()["id"]
    assert c.api.post(url(c.org_id, f"/withholding-agreements/{agreement}/confirm")).status_code == 403
    r = charge(world.admin, c.org_id, "10.00", "t-1", payees=payees)
    assert r.status_code == 409  # pending is not enough
    r = world.admin.post(url(c.org_id, f"/withholding-agreements/{agreement}/confirm"))
    assert r.status_code == 200 and r.get_json()["status"] == "active"
    assert world.wallet(c.api, c.org_id)["withholding_active"] is True
    listed = c.api.get(url(c.org_id, "/withholding-agreements")).get_json()
    assert ([a["status"] for a in listed["items"]], listed["page"], listed["total"]) == (["active"], 1, 1)
    beyond = c.api.get(url(c.org_id, "/withholding-agreements"), query_string={"page": "2", "per_page": "1"})
    assert (beyond.get_json()["items"], beyond.get_json()["total"], beyond.get_json()["per_page"]) == ([], 1, 1)
    r = c.api.get(url(c.org_id, "/withholding-agreements"), query_string={"status": "active"})
    assert r.status_code == 422 and "status" in r.get_json()["error"]["details"]  # as on every list

    r = charge(world.admin, c.org_id, "10.00", "t-1", payees=payees)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["payees"] == [{"org_id": s.org_id, "amount": "8.00"}]
    assert world.wallet(s.api, s.org_id)["cash"] == "8.00"  # supplier's cost, in the same entry
    mine = world.entries(c.api, c.org_id, type="charge")[0]
    assert "payees" not in mine["details"]  # the customer never sees the supplier's cost price
    theirs = world.entries(s.api, s.org_id)[0]
    assert (theirs["type"], theirs["amount"], theirs["counterparty_org_id"]) == ("charge", "8.00", c.org_id)
    one = s.api.get(url(s.org_id, f"/entries/{theirs['entry_id']}")).get_json()
    assert (one["amount"], one["breakdown"]["cash"]) == ("8.00", "8.00")  # not the 10.00 the customer paid
    assert c.api.get(url(c.org_id, f"/entries/{theirs['entry_id']}")).get_json()["amount"] == "10.00"
    r = charge(world.admin, c.org_id, "1.00", "t-2", payees=[{"org_id": s.org_id, "amount": "1.01"}])
    assert r.status_code == 422 and err(r) == "payees_exceed_charge"
    nobody = [{"org_id": s.org_id, "amount": "0.50"}, {"org_id": "org_nobody", "amount": "0.50"}]
    r = charge(world.admin, c.org_id, "1.00", "t-5", payees=nobody)
    assert r.status_code == 422 and err(r) == "unknown_payee" and "payees.1.org_id" in r.get_json()["error"]["details"]
    hold = c.api.post(url(c.org_id, "/holds"), json={"amount": "1.00", "reference": "t-6",
                                                      "expires_at": soon(1)}).get_json()["id"]
    r = world.admin.post(f"/api/v1/holds/{hold}/capture", json={"payees": nobody[::-1]})
    assert r.status_code == 422 and err(r) == "unknown_payee" and "payees.0.org_id" in r.get_json()["error"]["details"]
    assert c.api.post(f"/api/v1/holds/{hold}/release").status_code == 200  # the failed capture left it active
    two = [{"org_id": s.org_id, "amount": "3.00"}, {"org_id": world.agency.org_id, "amount": "1.00"}]
    first = charge(world.admin, c.org_id, "5.00", "t-4", payees=two)
    assert first.status_code == 201, first.get_json()
    again = charge(world.admin, c.org_id, "5.00", "t-4", payees=two[::-1])  # the same payees, another order
    assert again.status_code == 200 and again.get_json()["replayed"] is True
    assert again.get_json()["id"] == first.get_json()["id"]
    other = charge(world.admin, c.org_id, "5.00", "t-4", payees=[{"org_id": s.org_id, "amount": "4.00"}])
    assert other.status_code == 409 and err(other) == "duplicate_reference"

    r = c.api.post(url(c.org_id, f"/withholding-agreements/{agreement}/revoke"))
    assert r.status_code == 200 and r.get_json()["status"] == "revoked"
    r = charge(world.admin, c.org_id, "1.00", "t-3")
    assert r.status_code == 409 and err(r) == "withholding_agreement_required"
    assert charge(c.api, c.org_id, "1.00", "t-3").status_code == 201  # the owner's own payment still works
    assert world.ledger_total() == 0


# -- holds ------------------------------------------------------------------------------------------

def test_hold_capture_and_release(world: World) -> None:
    c = world.customer
    world.offline(c.org_id, "100.00")
    r = c.api.post(url(c.org_id, "/holds"), json={"amount": "70.00", "reference": "order-7", "expires_at": soon(1)})
    assert r.status_code == 201, r.get_json()
    hold = r.get_json()
    assert (hold["status"], hold["amount"]) == ("active", "70.00")
    w = world.wallet(c.api, c.org_id)
    assert (w["held"], w["available"], w["cash"]) == ("70.00", "30.00", "100.00")
    assert err(charge(c.api, c.org_id, "30.01", "other")) == "insufficient_funds"
    r = world.other.api.post(f"/api/v1/holds/{hold['id']}/capture", json={})
    assert r.status_code == 404  # another tenant's hold does not exist for it
    r = c.api.post(f"/api/v1/holds/{hold['id']}/capture", json={"amount": "70.01"})
    assert r.status_code == 422 and err(r) == "capture_exceeds_hold"
    r = c.api.post(f"/api/v1/holds/{hold['id']}/capture", json={"amount": "45.00"})
    assert r.status_code == 201, r.get_json()
    cap = r.get_json()
    assert (cap["type"], cap["breakdown"]["cash"], cap["details"]["released"]) == ("capture", "45.00", "25.00")
    assert (cap["balances_after"]["held"], cap["balances_after"]["cash"]) == ("0.00", "55.00")
    r = c.api.post(f"/api/v1/holds/{hold['id']}/release")
    assert r.status_code == 409 and err(r) == "hold_not_active"

    r = c.api.post(url(c.org_id, "/holds"), json={"amount": "20.00", "reference": "order-8", "expires_at": soon(1)})
    second = r.get_json()["id"]
    r = c.api.post(f"/api/v1/holds/{second}/release", json={"amount": "5.00"})
    assert r.status_code == 422 and err(r) == "validation_failed"  # a release takes no partial amount
    r = c.api.post(f"/api/v1/holds/{second}/release")
    assert r.status_code == 200 and r.get_json()["status"] == "released"
    assert world.wallet(c.api, c.org_id)["available"] == "55.00"
    r = c.api.post(url(c.org_id, "/holds"), json={"amount": "20.00", "reference": "order-8", "expires_at": soon(1)})
    assert r.status_code == 200 and r.get_json()["replayed"] is True  # the same order's hold again
    assert r.get_json()["status"] == "released"  # as it is: the client sees nothing is held any more
    r = c.api.post(url(c.org_id, "/holds"), json={"amount": "20.00", "reference": "order-8", "expires_at": soon(1),
                                                   "coupon_kind": "traffic"})
    assert r.status_code == 409 and err(r) == "duplicate_reference"  # it would reserve something else
    r = c.api.post(url(c.org_id, "/holds"), json={"amount": "1.00", "reference": "order-9",
                                                   "expires_at": "2020-01-01T00:00:00+00:00"})
    assert r.status_code == 422 and err(r) == "invalid_expiry"
    listed = c.api.get(url(c.org_id, "/holds")).get_json()
    assert [h["status"] for h in listed["items"]] == ["released", "captured"]
    assert c.api.get(f"/api/v1/holds/{second}").get_json()["status"] == "released"
    for api in (world.other.api, world.agency.api):  # another tenant; an agency that is not its agency
        r = api.get(f"/api/v1/holds/{second}")
        assert r.status_code == 404 and err(r) == "hold_not_found"
    # a buyer places and captures holds, so it reads one (no wallet figures), not the list
    r = world.customer_user.get(f"/api/v1/holds/{second}")
    assert r.status_code == 200 and r.get_json()["status"] == "released"
    r = world.customer_user.get(url(c.org_id, "/holds"))
    assert r.status_code == 403 and err(r) == "permission_denied"  # no funds
    r = world.agency_employee.get(f"/api/v1/holds/{second}")
    assert r.status_code == 404 and err(r) == "hold_not_found"
    support = add_user(c.api, c.org_id, "acme.support", ["support"])  # neither buys nor sees funds
    r = support.get(f"/api/v1/holds/{second}")
    assert r.status_code == 403 and err(r) == "permission_denied"
    types = [e["type"] for e in world.entries(c.api, c.org_id)]
    assert types == ["release", "hold", "capture", "hold", "recharge"]


def test_a_normal_hold_keeps_its_cash_while_only_traffic_coupons_are_free(world: World) -> None:
    c = world.customer
    world.offline(c.org_id, "100.00")
    r = world.admin.post(url(c.org_id, "/coupons"), json={"kind": "traffic", "amount": "100.00",
                                                          "expires_at": soon(24 * 30)})
    assert r.status_code == 201, r.get_json()
    r = c.api.post(url(c.org_id, "/holds"), json={"amount": "100.00", "reference": "order-n", "expires_at": soon(2)})
    assert r.status_code == 201, r.get_json()
    hold = r.get_json()["id"]
    assert world.wallet(c.api, c.org_id)["available"] == "100.00"  # the traffic coupons
    r = charge(c.api, c.org_id, "1.00", "normal-order")
    assert r.status_code == 409 and err(r) == "insufficient_funds"  # the cash is the hold's
    r = c.api.post(url(c.org_id, "/charges"), json={"amount": "100.00", "reference": "data", "coupon_kind": "traffic"})
    assert r.status_code == 201 and r.get_json()["breakdown"]["traffic_coupon"] == "100.00"
    r = c.api.post(f"/api/v1/holds/{hold}/capture", json={})
    assert r.status_code == 201 and r.get_json()["breakdown"]["cash"] == "100.00"


# -- allocation, coupons --------------------------------------------------------------------------------

def test_only_the_wallets_own_organisation_withdraws(world: World) -> None:
    m = world.merchant
    r = world.agency.api.post(url(m.org_id, "/withdrawals"), json={"amount": "1.00"},
                              headers={"X-Act-As-Org": m.org_id})
    assert r.status_code == 403 and err(r) == "permission_denied"  # an agency acting for it is not its owner
    r = world.agency.api.get(url(m.org_id), headers={"X-Act-As-Org": m.org_id})
    assert r.status_code == 200  # while it may operate and view the principal's wallet


def test_only_the_principal_binds_and_revokes_its_withholding_agreement(world: World) -> None:
    """wallet.md: the principal binds its own enterprise account; an agency acting for it
    (its owner, with every wallet permission) may not name one, nor revoke the principal's."""
    m = world.merchant
    acting = {"X-Act-As-Org": m.org_id}
    body = {"account": "agency@pay.example", "account_name": "Channel Agency", "account_type": "enterprise"}
    r = world.agency.api.post(url(m.org_id, "/withholding-agreements"), json=body, headers=acting)
    assert r.status_code == 403 and err(r) == "permission_denied", r.get_json()
    assert m.api.get(url(m.org_id, "/withholding-agreements")).get_json()["items"] == []  # nothing written
    r = m.api.post(url(m.org_id, "/withholding-agreements"), json={**body, "account": "shop@pay.example"})
    assert r.status_code == 201
    agreement = r.get_json()["id"]
    r = world.agency.api.post(url(m.org_id, f"/withholding-agreements/{agreement}/revoke"), headers=acting)
    assert r.status_code == 403 and err(r) == "permission_denied"
    listed = m.api.get(url(m.org_id, "/withholding-agreements")).get_json()["items"]
    assert [(a["account"], a["status"]) for a in listed] == [("shop@pay.example", "pending")]
    r = m.api.post(url(m.org_id, f"/withholding-agreements/{agreement}/revoke"))
    assert r.status_code == 200 and r.get_json()["status"] == "revoked"


def test_an_agency_takes_back_unspent_money_after_the_relation_ends(world: World, tenant_factory: Any) -> None:
    a = tenant_factory("Late Agency", ["agency"], "late.agent")
    m = tenant_factory("Late Shop", ["merchant"], "late.shop")
    r = a.api.post(f"/api/v1/organizations/{a.org_id}/principals", json={"principal_org_id": m.org_id})
    rel = r.get_json()["id"]
    assert m.api.post(f"/api/v1/relations/{rel}/accept").status_code == 200
    world.offline(a.org_id, "100.00")
    assert a.api.post(url(a.org_id, "/allocations"), json={"to_org_id": m.org_id, "amount": "60.00"}).status_code \
        == 201
    assert m.api.post(f"/api/v1/relations/{rel}/terminate").status_code == 200
    r = a.api.post(url(a.org_id, "/allocations"), json={"to_org_id": m.org_id, "amount": "1.00"})
    assert r.status_code == 404 and err(r) == "principal_not_found"  # no new money to a former principal
    r = a.api.post(url(a.org_id, "/reclaims"), json={"from_org_id": m.org_id, "amount": "60.01"})
    assert r.status_code == 409 and err(r) == "reclaim_exceeds_allocated"
    r = a.api.post(url(a.org_id, "/reclaims"), json={"from_org_id": m.org_id, "amount": "60.00"})
    assert r.status_code == 201, r.get_json()
    assert world.wallet(a.api, a.org_id)["cash"] == "100.00"
    r = world.agency.api.post(url(world.agency.org_id, "/reclaims"), json={"from_org_id": m.org_id, "amount": "1.00"})
    assert r.status_code == 404  # never its principal: nothing to take back


def test_agency_allocates_and_reclaims_only_with_its_principals(world: World) -> None:
    a, m = world.agency, world.merchant
    world.offline(a.org_id, "500.00")
    r = a.api.post(url(a.org_id, "/allocations"), json={"to_org_id": m.org_id, "amount": "200.00"})
    assert r.status_code == 201, r.get_json()
    assert (r.get_json()["type"], r.get_json()["balances_after"]["cash"]) == ("allocation", "300.00")
    assert world.wallet(m.api, m.org_id)["cash"] == "200.00"
    r = world.agency_admin.post(url(a.org_id, "/allocations"), json={"to_org_id": m.org_id, "amount": "50.00"})
    assert r.status_code == 201  # the agency admin allocates too
    r = world.agency_employee.post(url(a.org_id, "/allocations"), json={"to_org_id": m.org_id, "amount": "1.00"})
    assert r.status_code == 403
    r = a.api.post(url(a.org_id, "/allocations"), json={"to_org_id": world.customer.org_id, "amount": "1.00"})
    assert r.status_code == 404 and err(r) == "principal_not_found"
    r = m.api.post(url(m.org_id, "/allocations"), json={"to_org_id": a.org_id, "amount": "1.00"})
    assert r.status_code == 403  # merchants do not allocate
    r = a.api.post(url(a.org_id, "/allocations"), json={"to_org_id": m.org_id, "amount": "250.01"})
    assert r.status_code == 409 and err(r) == "insufficient_funds"

    assert charge(m.api, m.org_id, "100.00", "ads-1").status_code == 201
    r = a.api.post(url(a.org_id, "/reclaims"), json={"from_org_id": m.org_id, "amount": "150.01"})
    assert r.status_code == 409 and err(r) == "reclaim_exceeds_allocated"  # only unspent money comes back
    assert r.get_json()["error"]["details"] == {"allocated_net": "250.00", "reclaimable": "150.00"}
    r = a.api.post(url(a.org_id, "/reclaims"), json={"from_org_id": m.org_id, "amount": "150.00"})
    assert r.status_code == 201, r.get_json()
    assert world.wallet(a.api, a.org_id)["cash"] == "400.00"
    # the merchant's own money is its own: 100.00 allocated is left on the books, but it was spent
    world.offline(m.org_id, "10.00", "the merchant's own money")
    r = a.api.post(url(a.org_id, "/reclaims"), json={"from_org_id": m.org_id, "amount": "0.01"})
    assert r.status_code == 409 and err(r) == "reclaim_exceeds_allocated"
    assert r.get_json()["error"]["details"] == {"allocated_net": "100.00", "reclaimable": "0.00"}
    assert world.wallet(m.api, m.org_id)["cash"] == "10.00"
    # what is allocated after it can come back, and still not the merchant's own
    assert a.api.post(url(a.org_id, "/allocations"), json={"to_org_id": m.org_id, "amount": "30.00"}).status_code \
        == 201
    assert charge(m.api, m.org_id, "5.00", "ads-2").status_code == 201  # spends the allocated money first
    r = a.api.post(url(a.org_id, "/reclaims"), json={"from_org_id": m.org_id, "amount": "25.01"})
    assert r.status_code == 409 and r.get_json()["error"]["details"]["reclaimable"] == "25.00"
    assert a.api.post(url(a.org_id, "/reclaims"), json={"from_org_id": m.org_id, "amount": "25.00"}).status_code \
        == 201
    assert world.wallet(m.api, m.org_id)["cash"] == "10.00"
    allocations = world.entries(a.api, a.org_id, type="allocation")
    assert [(e["amount"], e["details"]["direction"]) for e in allocations] == [
        ("25.00", "reclaim"), ("-30.00", "allocate"), ("150.00", "reclaim"), ("-50.00", "allocate"),
        ("-200.00", "allocate")]
    assert world.ledger_total() == 0


def test_coupons_are_granted_by_the_platform_or_an_agency_to_its_principal(world: World) -> None:
    a, m, c = world.agency, world.merchant, world.customer
    body = {"kind": "traffic", "amount": "30.00", "expires_at": soon()}
    r = world.admin.post(url(c.org_id, "/coupons"), json=body)
    assert r.status_code == 201 and r.get_json()["granted_by"] == "platform"
    assert r.get_json()["entry"]["type"] == "coupon_change"
    r = c.api.post(url(c.org_id, "/coupons"), json=body)
    # a customer grants nothing, not even to itself: its own wallet exists, so 403, not 404
    assert (r.status_code, err(r), r.get_json()["error"]["details"]) == (
        403, "permission_denied", {"permission": "wallet.coupons.grant"})
    r = a.api.post(url(a.org_id, "/coupons"), json=body)
    assert (r.status_code, err(r)) == (403, "permission_denied")  # nor an agency to itself
    r = a.api.post(url(m.org_id, "/coupons"), json=body)
    assert r.status_code == 409 and err(r) == "insufficient_funds"  # the agency pays for its red packets
    world.offline(a.org_id, "100.00")
    r = a.api.post(url(m.org_id, "/coupons"), json=body)
    assert r.status_code == 201 and r.get_json()["granted_by"] == a.org_id
    assert world.wallet(a.api, a.org_id)["cash"] == "70.00"
    assert world.wallet(m.api, m.org_id)["coupons_by_kind"]["traffic"] == "30.00"
    r = a.api.post(url(c.org_id, "/coupons"), json=body)
    assert r.status_code == 404  # not its principal
    r = world.admin.post(url(c.org_id, "/coupons"), json={**body, "expires_at": "2020-01-01T00:00:00+00:00"})
    assert r.status_code == 422 and err(r) == "invalid_expiry"
    listed = m.api.get(url(m.org_id, "/coupons")).get_json()["items"]
    assert [(g["kind"], g["remaining"]) for g in listed] == [("traffic", "30.00")]
    for amount in ("1.00", "2.00"):
        assert a.api.post(url(m.org_id, "/coupons"), json={**body, "amount": amount}).status_code == 201
    pages = [m.api.get(url(m.org_id, f"/coupons?per_page=2&page={n}")).get_json() for n in (1, 2)]
    assert [(p["page"], p["per_page"], p["total"], len(p["items"])) for p in pages] == [(1, 2, 3, 2), (2, 2, 3, 1)]
    assert sorted(g["remaining"] for p in pages for g in p["items"]) == ["1.00", "2.00", "30.00"]


# -- credit, deposit, budget, alert -----------------------------------------------------------------------

def test_credit_limit_and_deposit(world: World) -> None:
    c = world.customer
    r = c.api.put(url(c.org_id, "/credit-limit"), json={"credit_limit": "100.00"})
    assert r.status_code == 403
    r = world.admin.put(url(c.org_id, "/credit-limit"), json={"credit_limit": "100.00", "note": "signed 2026"})
    assert r.status_code == 200 and (r.get_json()["credit_limit"], r.get_json()["available"]) == ("100.00", "100.00")
    assert charge(c.api, c.org_id, "60.00", "on-credit").get_json()["breakdown"]["post_pay"] == "60.00"
    r = world.admin.put(url(c.org_id, "/credit-limit"), json={"credit_limit": "59.99"})
    assert r.status_code == 409 and err(r) == "credit_limit_below_used"
    world.offline(c.org_id, "100.00")  # repays the post-pay first
    w = world.wallet(c.api, c.org_id)
    assert (w["credit_used"], w["cash"]) == ("0.00", "40.00")

    r = c.api.put(url(c.org_id, "/deposit"), json={"deposit_due": "30.00"})
    assert r.status_code == 403
    assert world.admin.put(url(c.org_id, "/deposit"), json={"deposit_due": "30.00"}).get_json()["deposit_due"] \
        == "30.00"
    r = world.customer_user.post(url(c.org_id, "/deposit/payments"), json={})
    assert r.status_code == 403
    r = c.api.post(url(c.org_id, "/deposit/payments"), json={"amount": "30.01"})
    assert r.status_code == 409 and err(r) == "deposit_exceeds_due"
    r = c.api.post(url(c.org_id, "/deposit/payments"), json={})
    assert r.status_code == 201 and r.get_json()["balances_after"]["deposit_paid"] == "30.00"
    w = world.wallet(c.api, c.org_id)
    assert (w["cash"], w["deposit_paid"], w["available"]) == ("10.00", "30.00", "110.00")
    assert c.api.post(url(c.org_id, "/deposit/refunds"), json={}).status_code == 403
    r = world.admin.post(url(c.org_id, "/deposit/refunds"), json={"note": "relation ended"})
    assert r.status_code == 201 and r.get_json()["balances_after"]["cash"] == "40.00"
    assert [e["type"] for e in world.entries(world.admin, c.org_id, type="adjustment")] == ["adjustment"] * 2
    # every owner role pays its own deposit: a merchant's admin too
    m = world.merchant
    world.offline(m.org_id, "20.00")
    assert world.admin.put(url(m.org_id, "/deposit"), json={"deposit_due": "15.00"}).status_code == 200
    r = m.api.post(url(m.org_id, "/deposit/payments"), json={})
    assert r.status_code == 201 and r.get_json()["balances_after"]["deposit_paid"] == "15.00", r.get_json()
    assert world.ledger_total() == 0


def test_agency_sets_its_principals_budget_and_the_day_total_is_enforced(world: World) -> None:
    m = world.merchant
    world.offline(m.org_id, "500.00")
    r = world.agency_admin.put(url(m.org_id, "/budget"), json={"daily_budget": "100.00"})
    assert r.status_code == 200 and r.get_json()["daily_budget"] == "100.00"
    r = world.agency_employee.put(url(m.org_id, "/budget"), json={"daily_budget": "1.00"},
                                  headers={"X-Act-As-Org": m.org_id})
    assert r.status_code == 403
    r = world.other.api.put(url(m.org_id, "/budget"), json={"daily_budget": "1.00"})
    assert r.status_code == 404
    assert charge(m.api, m.org_id, "60.00", "d-1").status_code == 201
    r = charge(m.api, m.org_id, "40.01", "d-2")
    assert r.status_code == 409 and err(r) == "daily_budget_exceeded"
    assert r.get_json()["error"]["details"]["spent_today"] == "60.00"
    assert charge(m.api, m.org_id, "40.00", "d-2").status_code == 201
    assert world.wallet(m.api, m.org_id)["spent_today"] == "100.00"
    r = m.api.put(url(m.org_id, "/budget"), json={"daily_budget": None})
    assert r.status_code == 200 and r.get_json()["daily_budget"] is None
    assert charge(m.api, m.org_id, "1.00", "d-3").status_code == 201


def test_low_balance_alert_notifies_once_per_crossing(world: World, sms: Any) -> None:
    c = world.customer
    world.offline(c.org_id, "100.00")
    r = c.api.put(url(c.org_id, "/low-balance-alert"), json={"threshold": "50.00"})
    assert r.status_code == 200 and r.get_json()["low_balance_threshold"] == "50.00"
    assert r.get_json()["low_balance_alerted"] is False

    def alerts() -> list[str]:
        items = c.api.get("/api/v1/me/messages").get_json()["items"]
        return [m["body"] for m in items if m["title"] == "Wallet balance is low"]

    charge(c.api, c.org_id, "40.00", "a")
    assert alerts() == []
    charge(c.api, c.org_id, "15.00", "b")  # 45 < 50: one alert
    charge(c.api, c.org_id, "5.00", "c")  # still below: none more
    assert len(alerts()) == 1 and "45.00" in alerts()[0]
    assert world.customer_user.get("/api/v1/me/messages").get_json()["items"] == []  # no funds, no alert
    world.offline(c.org_id, "20.00")  # back to 60: re-armed
    charge(c.api, c.org_id, "10.01", "d")  # 49.99: the second alert
    assert len(alerts()) == 2


def test_a_principals_low_balance_alert_reaches_its_agencys_admins_in_site(world: World, sms: Any) -> None:
    m = world.merchant
    world.offline(m.org_id, "100.00")
    assert m.api.put(url(m.org_id, "/low-balance-alert"), json={"threshold": "50.00"}).status_code == 200

    def alerts(api: Any) -> list[dict[str, Any]]:
        return [x for x in api.get("/api/v1/me/messages").get_json()["items"] if "balance is low" in x["title"]]

    charge(m.api, m.org_id, "55.00", "low-1")  # 45 < 50
    assert len(alerts(m.api)) == 1  # the merchant itself
    for agency_side in (world.agency.api, world.agency_admin):  # owner and admin: they allocate its funds
        got = alerts(agency_side)
        assert [x["title"] for x in got] == ["Corner Shop: wallet balance is low"]
        assert "45.00" in got[0]["body"] and "50.00" in got[0]["body"]
    assert alerts(world.agency_employee) == []  # operates principals, sees no funds

    rels = world.agency.api.get(f"/api/v1/organizations/{world.agency.org_id}/principals").get_json()["items"]
    rel = next(x["id"] for x in rels if x["to_org_id"] == m.org_id)
    assert world.agency.api.post(f"/api/v1/relations/{rel}/terminate").status_code == 200
    world.offline(m.org_id, "20.00")  # 65: re-armed
    charge(m.api, m.org_id, "20.00", "low-2")  # 45 again: a second alert
    assert len(alerts(m.api)) == 2
    assert len(alerts(world.agency.api)) == 1  # the relation ended: the agency hears no more


def test_entries_filters_consumption_and_the_past(world: World) -> None:
    c = world.customer
    world.offline(c.org_id, "100.00")
    world.admin.post(url(c.org_id, "/coupons"), json={"kind": "traffic", "amount": "5.00", "expires_at": soon()})
    charge(c.api, c.org_id, "10.00", "ord-1", coupon_kind="traffic")
    moment = datetime.now(UTC).isoformat()
    charge(c.api, c.org_id, "20.00", "ord-2")
    rows = world.entries(c.api, c.org_id)
    assert [r["type"] for r in rows] == ["charge", "charge", "coupon_change", "recharge"]
    assert [r["seq"] for r in rows] == [4, 3, 2, 1]
    assert rows[0]["balances_after"]["cash"] == "75.00" and rows[0]["amount"] == "-20.00"
    assert [r["reference"] for r in world.entries(c.api, c.org_id, type="charge")] == ["ord-2", "ord-1"]
    assert [r["reference"] for r in world.entries(c.api, c.org_id, reference="ord-1")] == ["ord-1"]
    assert world.entries(c.api, c.org_id, to="2000-01-01") == []
    assert len(world.entries(c.api, c.org_id, **{"from": "2000-01-01", "to": "2100-01-01"})) == 4
    r = c.api.get(url(c.org_id, "/entries"), query_string={"type": "bogus"})
    assert r.status_code == 422
    r = c.api.get(url(c.org_id, "/entries"), query_string={"from": "yesterday"})
    assert r.status_code == 422 and "from" in r.get_json()["error"]["details"]
    r = c.api.get(url(c.org_id, "/entries"), query_string={"from": "2026-12-31", "to": "2026-01-01"})
    assert r.status_code == 422 and err(r) == "invalid_date" and "to" in r.get_json()["error"]["details"]
    assert world.entries(c.api, c.org_id, **{"from": "2026-01-01", "to": "2026-01-01"}) == []  # one day
    blank = {"type": "", "from": "", "to": "", "reference": ""}  # as a form sends unset fields
    assert [r["seq"] for r in world.entries(c.api, c.org_id, **blank)] == [4, 3, 2, 1]
    paged = c.api.get(url(c.org_id, "/entries"), query_string={"per_page": "1", "page": "2"}).get_json()
    assert (paged["total"], len(paged["items"]), paged["items"][0]["reference"]) == (4, 1, "ord-1")

    r = c.api.get(url(c.org_id, "/consumption"), query_string={"granularity": "month", "from": "2000-01-01",
                                                               "to": "2100-01-01"})
    assert r.status_code == 422 and err(r) == "invalid_date"  # more than 36 months
    for first, last, status in (("2024-01", "2026-12", 200), ("2023-12", "2026-12", 422),  # 36 months, 37
                                ("2025-01-01", "2026-12-31", 200)):  # 730 days, by month
        r = c.api.get(url(c.org_id, "/consumption"), query_string={"granularity": "month", "from": first,
                                                                   "to": last})
        assert r.status_code == status, (first, last, r.get_json())
    r = c.api.get(url(c.org_id, "/consumption"), query_string={"from": "2026-01", "to": "2026-02"})
    assert r.status_code == 422 and err(r) == "invalid_date"  # by day, days only
    r = c.api.get(url(c.org_id, "/consumption"), query_string={"granularity": "month", "from": "2026-13",
                                                               "to": "2026-12"})
    assert r.status_code == 422 and err(r) == "invalid_date" and "from" in r.get_json()["error"]["details"]
    for last, status in (("2001-02-03", 200), ("2001-02-04", 422)):  # 400 days from 2000-01-01 inclusive, 401
        r = c.api.get(url(c.org_id, "/consumption"), query_string={"from": "2000-01-01", "to": last})
        assert r.status_code == status, (last, r.get_json())
    first_day = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
    last_day = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    r = c.api.get(url(c.org_id, "/consumption"), query_string={"from": first_day, "to": last_day})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["total"] == {"period": "total", "amount": "30.00", "cash": "25.00", "normal_coupon": "0.00",
                             "traffic_coupon": "5.00", "post_pay": "0.00", "count": 2}
    assert len(body["items"]) == 1 and body["items"][0]["amount"] == "30.00"
    r = c.api.get(url(c.org_id, "/consumption"), query_string={"granularity": "month", "from": first_day,
                                                               "to": last_day})
    assert [i["period"] for i in r.get_json()["items"]] == [body["items"][0]["period"][:7]]
    this_month = body["items"][0]["period"][:7]
    r = c.api.get(url(c.org_id, "/consumption"), query_string={"granularity": "month", "from": this_month,
                                                               "to": this_month})
    assert r.get_json()["total"]["amount"] == "30.00"  # the month's first day to its last

    past = c.api.get(url(c.org_id), query_string={"at": moment}).get_json()
    assert (past["historical"], past["cash"], past["coupons"], past["available"]) == (True, "95.00", "0.00", "95.00")
    before_all = c.api.get(url(c.org_id), query_string={"at": "2000-01-01T00:00:00+00:00"}).get_json()
    assert before_all["cash"] == "0.00"
    r = c.api.get(url(c.org_id), query_string={"at": "2026-01-01T00:00:00"})
    assert r.status_code == 422 and "at" in r.get_json()["error"]["details"]  # a timestamp needs its offset
    for bad in ("yesterday", "2026-13-01"):
        assert c.api.get(url(c.org_id), query_string={"at": bad}).status_code == 422


def test_figures_at_a_date_are_those_at_the_end_of_that_day(world: World) -> None:
    c = world.customer
    with freeze_time("2026-06-01T15:59:59+00:00"):  # 23:59:59 in Shanghai
        world.offline(c.org_id, "10.00")
    with freeze_time("2026-06-01T16:00:00+00:00"):  # the next day's first moment
        world.offline(c.org_id, "5.00")
    day = c.api.get(url(c.org_id), query_string={"at": "2026-06-01"}).get_json()
    assert (day["cash"], day["at"]) == ("10.00", "2026-06-01T23:59:59.999999+08:00")
    assert c.api.get(url(c.org_id), query_string={"at": "2026-06-02"}).get_json()["cash"] == "15.00"
    assert c.api.get(url(c.org_id), query_string={"at": "2026-05-31"}).get_json()["cash"] == "0.00"


# -- isolation --------------------------------------------------------------------------------------

def test_every_wallet_route_hides_another_tenants_wallet(world: World) -> None:
    c, o = world.customer, world.other
    world.offline(c.org_id, "100.00")
    hold = c.api.post(url(c.org_id, "/holds"), json={"amount": "1.00", "reference": "h", "expires_at": soon(1)})
    rec = world.offline(c.org_id, "1.00")
    calls = [
        ("get", url(c.org_id), None), ("get", url(c.org_id, "/entries"), None),
        ("get", url(c.org_id, "/consumption?from=2026-01-01&to=2026-01-02"), None),
        ("get", url(c.org_id, "/recharges"), None), ("get", url(c.org_id, f"/recharges/{rec['id']}"), None),
        ("get", url(c.org_id, "/holds"), None), ("get", url(c.org_id, "/coupons"), None),
        ("get", url(c.org_id, "/withdrawals"), None), ("get", url(c.org_id, "/withholding-agreements"), None),
        ("get", f"/api/v1/holds/{hold.get_json()['id']}", None),
        ("post", url(c.org_id, "/charges"), {"amount": "1.00", "reference": "x"}),
        ("post", url(c.org_id, "/holds"), {"amount": "1.00", "reference": "x", "expires_at": soon(1)}),
        ("post", f"/api/v1/holds/{hold.get_json()['id']}/capture", {}),
        ("post", f"/api/v1/holds/{hold.get_json()['id']}/release", None),
        ("post", url(c.org_id, "/recharges"), {"amount": "1.00", "channel": "sandbox"}),
        ("post", url(c.org_id, "/recharges"), {"amount": "1.00", "channel": "offline", "note": "x"}),
        ("post", url(c.org_id, f"/recharges/{rec['id']}/revoke"), {}),
        ("post", url(c.org_id, "/withdrawals"), {"amount": "1.00"}),
        ("post", url(c.org_id, "/allocations"), {"to_org_id": o.org_id, "amount": "1.00"}),
        ("post", url(c.org_id, "/deposit/payments"), {}),
        ("put", url(c.org_id, "/budget"), {"daily_budget": "1.00"}),
        ("put", url(c.org_id, "/low-balance-alert"), {"threshold": "1.00"}),
        ("post", url(c.org_id, "/withholding-agreements"),
         {"account": "a", "account_name": "b", "account_type": "enterprise"}),
    ]
    for method, path, body in calls:
        r = getattr(o.api, method)(path, json=body) if body is not None else getattr(o.api, method)(path)
        # the module's own code, one per kind of thing (a wallet's routes never say the generic not_found)
        expected = "hold_not_found" if path.startswith("/api/v1/holds/") else "wallet_not_found"
        assert (r.status_code, err(r)) == (404, expected), (method, path, r.status_code, r.get_json())
    w = world.wallet(c.api, c.org_id)
    assert (w["cash"], w["held"]) == ("101.00", "1.00")


def test_a_buyer_who_may_not_see_funds_charges_without_learning_the_figures(world: World) -> None:
    c = world.customer
    world.offline(c.org_id, "30.00")
    assert world.customer.api.put(url(c.org_id, "/budget"), json={"daily_budget": "25.00"}).status_code == 200
    r = world.customer_user.post(url(c.org_id, "/charges"), json={"amount": "20.00", "reference": "b-1"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["balances_after"] is None and r.get_json()["breakdown"]["cash"] == "20.00"
    for amount, code in (("6.00", "daily_budget_exceeded"), ("11.00", "insufficient_funds")):
        if code == "insufficient_funds":
            assert world.customer.api.put(url(c.org_id, "/budget"), json={"daily_budget": None}).status_code == 200
        r = world.customer_user.post(url(c.org_id, "/charges"), json={"amount": amount, "reference": f"b-{code}"})
        assert r.status_code == 409 and err(r) == code
        body = r.get_json()["error"]
        assert set(body["details"]) <= {"amount", "day"}, body
        assert "10.00" not in body["message"] and "25.00" not in body["message"], body
    # the organisation's admin sees them
    r = world.customer.api.post(url(c.org_id, "/charges"), json={"amount": "11.00", "reference": "b-admin"})
    assert r.status_code == 409 and r.get_json()["error"]["details"]["available"] == "10.00"
    r = world.customer.api.post(url(c.org_id, "/charges"), json={"amount": "1.00", "reference": "b-2"})
    assert r.get_json()["balances_after"]["cash"] == "9.00"


def test_a_figure_beyond_what_the_database_holds_is_409_and_nothing_is_written(world: World) -> None:
    c = world.customer
    top = "9999999999999999.99"  # the largest amount, and the largest figure NUMERIC(18, 2) holds
    r = world.finance.post(url(c.org_id, "/recharges"),
                           json={"amount": top, "channel": "offline", "note": "float"})
    assert r.status_code == 201, r.get_json()
    r = world.finance.post(url(c.org_id, "/recharges"),
                           json={"amount": "0.01", "channel": "offline", "note": "one cent more"})
    assert r.status_code == 409 and err(r) == "figure_out_of_range", r.get_json()
    assert world.wallet(c.api, c.org_id)["cash"] == top
    assert world.entries(c.api, c.org_id, type="recharge")[0]["amount"] == top  # only the first
    assert world.ledger_total() == 0


def test_a_persons_spends_are_in_the_operation_log_with_whom_they_acted_for(world: World) -> None:
    """identity.md: every write an organisation's users make is logged, and an agency user
    acting for a principal as "agency user X acting for principal Y". A charge, hold, capture
    or release by a person (a user's token) is logged with its entry, in its transaction;
    one by an API key (server to server, the high-volume path) is recorded by its entry."""
    from tests.e2e.wallet.test_agency_overview import key_client

    m, acting = world.merchant, {"X-Act-As-Org": world.merchant.org_id}
    world.offline(m.org_id, "50.00")
    me = world.agency.api.get("/api/v1/me").get_json()["user"]["id"]
    charged = world.agency.api.post(url(m.org_id, "/charges"), json={"amount": "5.00", "reference": "acted-1"},
                                    headers=acting)
    assert charged.status_code == 201, charged.get_json()
    hold = world.agency.api.post(url(m.org_id, "/holds"), json={"amount": "4.00", "reference": "acted-2",
                                                                "expires_at": soon(1)}, headers=acting).get_json()
    captured = world.agency.api.post(f"/api/v1/holds/{hold['id']}/capture", json={"amount": "3.00"}, headers=acting)
    assert captured.status_code == 201, captured.get_json()
    second = m.api.post(url(m.org_id, "/holds"), json={"amount": "1.00", "reference": "own-1",
                                                       "expires_at": soon(1)}).get_json()
    assert m.api.post(f"/api/v1/holds/{second['id']}/release").status_code == 200
    assert charge(key_client(world, m), m.org_id, "2.00", "by-key").status_code == 201
    assert charge(m.api, m.org_id, "2.00", "by-key").get_json()["replayed"] is True  # a repeat writes nothing

    ops = m.api.get(f"/api/v1/organizations/{m.org_id}/audit-log", query_string={"per_page": "100"}).get_json()
    spends = {(o["operation"], o["target"], o["acting_for_org_id"], o["actor_id"] == me) for o in ops["items"]
              if o["operation"] in ("wallet.charge", "wallet.hold", "wallet.capture", "wallet.release")}
    release = [e["entry_id"] for e in world.entries(m.api, m.org_id, type="release")]
    assert spends == {
        ("wallet.release", *release, None, False),
        ("wallet.hold", second["entry_id"], None, False),
        ("wallet.capture", captured.get_json()["id"], m.org_id, True),
        ("wallet.hold", hold["entry_id"], m.org_id, True),
        ("wallet.charge", charged.get_json()["id"], m.org_id, True),
    }
