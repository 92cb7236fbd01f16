"""External wallets (spec wallet.md "Model"; seed 002: 通用钱包 and 外投钱包): agencies and
merchants have an ``external`` wallet for off-platform placement next to the general one,
addressed as ``/wallets/<org_id>~external``. It holds cash only, is funded, allocated and
spent on its own, and the ledger still sums to zero."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.e2e.wallet.conftest import World, err, money

EXT = "~external"


def url(key: str, tail: str = "") -> str:
    return f"/api/v1/wallets/{key}{tail}"


def cash(world: World, api: object, key: str) -> Decimal:
    return money(world.wallet(api, key)["cash"])  # type: ignore[arg-type]


def test_external_wallets_are_funded_allocated_and_spent_apart_from_the_general_ones(world: World) -> None:
    agency, merchant = world.agency, world.merchant
    world.offline(agency.org_id, "500.00")
    world.offline(agency.org_id + EXT, "300.00", note="placement float")
    assert (cash(world, agency.api, agency.org_id), cash(world, agency.api, agency.org_id + EXT)) == (
        Decimal("500.00"), Decimal("300.00"))

    # allocating from the external wallet reaches the principal's external wallet
    r = agency.api.post(url(agency.org_id + EXT, "/allocations"), json={"to_org_id": merchant.org_id,
                                                                        "amount": "120.00"})
    assert r.status_code == 201, r.get_json()
    assert cash(world, merchant.api, merchant.org_id + EXT) == Decimal("120.00")
    assert cash(world, merchant.api, merchant.org_id) == Decimal("0.00")
    assert cash(world, agency.api, agency.org_id + EXT) == Decimal("180.00")
    assert cash(world, agency.api, agency.org_id) == Decimal("500.00")

    # the principal's external spend (e.g. a day of off-platform placement)
    r = merchant.api.post(url(merchant.org_id + EXT, "/charges"), json={"amount": "20.00", "reference": "d-1"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["breakdown"]["cash"] == "20.00"
    r = merchant.api.post(url(merchant.org_id + EXT, "/charges"), json={"amount": "100.01", "reference": "d-2"})
    assert r.status_code == 409 and err(r) == "insufficient_funds"
    r = merchant.api.post(url(merchant.org_id, "/charges"), json={"amount": "1.00", "reference": "d-3"})
    assert r.status_code == 409 and err(r) == "insufficient_funds"  # the general wallet is empty

    # reclaim what is left, into the external wallet it came from
    r = agency.api.post(url(agency.org_id + EXT, "/reclaims"), json={"from_org_id": merchant.org_id,
                                                                     "amount": "100.00"})
    assert r.status_code == 201, r.get_json()
    assert cash(world, merchant.api, merchant.org_id + EXT) == Decimal("0.00")
    assert cash(world, agency.api, agency.org_id + EXT) == Decimal("280.00")

    # statements are per wallet
    types = [e["type"] for e in world.entries(merchant.api, merchant.org_id + EXT)]
    assert sorted(types) == ["allocation", "allocation", "charge"], types  # a reclaim is an allocation back
    assert world.entries(merchant.api, merchant.org_id) == []
    assert world.ledger_total() == Decimal("0.00")

    # the operation log names the organisation, not the wallet key
    ops = agency.api.get(f"/api/v1/organizations/{agency.org_id}/audit-log",
                         query_string={"per_page": "100"}).get_json()["items"]
    assert any(o["operation"] == "wallet.allocate" for o in ops)


def test_allocation_keeps_to_one_purpose(world: World) -> None:
    agency, merchant = world.agency, world.merchant
    world.offline(agency.org_id, "50.00")
    r = agency.api.post(url(agency.org_id, "/allocations"), json={"to_org_id": merchant.org_id + EXT,
                                                                  "amount": "10.00"})
    assert r.status_code == 422 and err(r) == "purpose_mismatch"
    assert "to_org_id" in r.get_json()["error"]["details"]
    r = agency.api.post(url(agency.org_id, "/allocations"), json={"to_org_id": merchant.org_id, "amount": "10.00"})
    assert r.status_code == 201
    assert cash(world, merchant.api, merchant.org_id) == Decimal("10.00")
    assert cash(world, merchant.api, merchant.org_id + EXT) == Decimal("0.00")


def test_an_external_wallet_is_cash_only(world: World) -> None:
    key = world.merchant.org_id + EXT
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    refused = [
        world.admin.post(url(key, "/coupons"), json={"kind": "normal", "amount": "5.00", "expires_at": later}),
        world.agency.api.post(url(key, "/coupons"), json={"kind": "normal", "amount": "5.00", "expires_at": later}),
        world.admin.put(url(key, "/credit-limit"), json={"credit_limit": "100.00"}),
        world.admin.put(url(key, "/deposit"), json={"deposit_due": "100.00"}),
        world.merchant.api.put(url(key, "/budget"), json={"daily_budget": "10.00"}),
    ]
    for r in refused:
        assert r.status_code == 409 and err(r) == "not_for_external_wallet", r.get_json()
    w = world.wallet(world.merchant.api, key)
    assert (w["credit_limit"], w["deposit_due"], w["coupons"]) == ("0.00", "0.00", "0.00")
    r = world.merchant.api.put(url(key, "/low-balance-alert"), json={"threshold": "5.00"})
    assert r.status_code == 200, r.get_json()  # an alert threshold is fine


def test_who_has_an_external_wallet_and_who_sees_it(world: World) -> None:
    # a customer has no external wallet; an unknown purpose names no wallet
    for api, key in ((world.customer.api, world.customer.org_id + EXT),
                     (world.merchant.api, world.merchant.org_id + "~savings"),
                     (world.merchant.api, "~external")):
        r = api.get(url(key))
        assert r.status_code == 404 and err(r) == "wallet_not_found", (key, r.get_json())
    r = world.finance.post(url(world.customer.org_id + EXT, "/recharges"),
                           json={"amount": "10.00", "channel": "offline", "note": "x"})
    assert r.status_code == 404 and err(r) == "wallet_not_found"
    # another tenant cannot reach it; the principal's agency can see it
    world.offline(world.merchant.org_id + EXT, "10.00")
    r = world.other.api.get(url(world.merchant.org_id + EXT))
    assert r.status_code == 404
    r = world.other.api.post(url(world.merchant.org_id + EXT, "/charges"), json={"amount": "1.00",
                                                                                 "reference": "x"})
    assert r.status_code == 404
    assert cash(world, world.agency.api, world.merchant.org_id + EXT) == Decimal("10.00")
    assert world.agency_employee.get(url(world.merchant.org_id + EXT)).status_code in (403, 404)


def _export(api: object, body: dict[str, object]) -> list[dict[str, str]]:
    import csv
    import io

    r = api.post("/api/v1/exports", json=body)  # type: ignore[attr-defined]
    assert r.status_code == 202, r.get_json()
    job = api.get(f"/api/v1/exports/{r.get_json()['id']}").get_json()  # type: ignore[attr-defined]
    assert job["status"] == "done", job
    got = api.get(job["download_url"])  # type: ignore[attr-defined]
    return list(csv.DictReader(io.StringIO(got.get_data(as_text=True).lstrip("\ufeff"))))


def test_the_agency_views_and_exports_take_a_purpose(world: World) -> None:
    agency, merchant = world.agency, world.merchant
    world.offline(merchant.org_id, "40.00")
    world.offline(merchant.org_id + EXT, "70.00")
    r = merchant.api.post(url(merchant.org_id + EXT, "/charges"), json={"amount": "5.00", "reference": "ext-1"})
    assert r.status_code == 201

    def funds(purpose: str | None) -> dict[str, object]:
        params = {"purpose": purpose} if purpose else {}
        r = agency.api.get("/api/v1/agency/principals/funds", query_string=params)
        assert r.status_code == 200, r.get_json()
        return r.get_json()  # type: ignore[no-any-return]

    general, external = funds(None), funds("external")
    assert [(i["org_id"], i["cash"]) for i in general["items"]] == [(merchant.org_id, "40.00")]  # type: ignore
    assert [(i["org_id"], i["cash"]) for i in external["items"]] == [(merchant.org_id, "65.00")]  # type: ignore
    assert external["totals"]["cash"] == "65.00"  # type: ignore[index]
    r = agency.api.get("/api/v1/agency/principals/funds", query_string={"purpose": "savings"})
    assert r.status_code == 422 and "purpose" in r.get_json()["error"]["details"]

    lines = agency.api.get("/api/v1/agency/principals/entries", query_string={"purpose": "external"}).get_json()
    assert [(i["org_id"], i["purpose"], i["type"], i["amount"]) for i in lines["items"]] == [
        (merchant.org_id, "external", "charge", "-5.00"), (merchant.org_id, "external", "recharge", "70.00")]
    lines = agency.api.get("/api/v1/agency/principals/entries").get_json()
    assert [(i["purpose"], i["amount"]) for i in lines["items"]] == [("general", "40.00")]

    # exports: one wallet's statement and the agency's, of the external wallets
    rows = _export(merchant.api, {"kind": "wallet_entries", "org_id": merchant.org_id, "format": "csv",
                                  "filters": {"purpose": "external"}})
    assert [(x["type"], x["amount"]) for x in rows] == [("charge", "-5.00"), ("recharge", "70.00")]
    rows = _export(agency.api, {"kind": "agency_entries", "org_id": agency.org_id, "format": "csv",
                                "filters": {"purpose": "external"}})
    assert [(x["org_id"], x["amount"]) for x in rows] == [(merchant.org_id, "-5.00"), (merchant.org_id, "70.00")]
    r = world.customer.api.post("/api/v1/exports", json={"kind": "wallet_entries", "org_id": world.customer.org_id,
                                                          "format": "csv", "filters": {"purpose": "external"}})
    assert r.status_code == 404 and err(r) == "wallet_not_found"


def test_review_findings_stay_fixed(world: World) -> None:
    merchant, agency = world.merchant, world.agency
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    # payees are general wallets: the platform cannot route an order's money into an external one
    world.offline(merchant.org_id, "50.00")
    hold = merchant.api.post(url(merchant.org_id, "/holds"), json={"amount": "50.00", "reference": "o-1",
                                                                   "expires_at": soon}).get_json()
    r = world.admin.post(f"/api/v1/holds/{hold['id']}/capture",
                         json={"payees": [{"org_id": merchant.org_id + EXT, "amount": "50.00"}]})
    assert r.status_code == 422 and err(r) == "purpose_mismatch", r.get_json()
    assert "payees.0.org_id" in r.get_json()["error"]["details"]
    assert cash(world, merchant.api, merchant.org_id + EXT) == Decimal("0.00")
    # the agency's admin, who lists its principal's holds, sees each one too
    listed = world.agency_admin.get(url(merchant.org_id, "/holds")).get_json()["items"]
    assert [h["id"] for h in listed] == [hold["id"]]
    r = world.agency_admin.get(f"/api/v1/holds/{hold['id']}")
    assert r.status_code == 200 and r.get_json()["id"] == hold["id"], r.get_json()
    r = world.agency_employee.get(f"/api/v1/holds/{hold['id']}")
    assert r.status_code == 404 and err(r) == "hold_not_found"  # no funds: as on the list
    # nor charge an external wallet with payees
    world.offline(merchant.org_id + EXT, "20.00")
    ext_hold = merchant.api.post(url(merchant.org_id + EXT, "/holds"), json={
        "amount": "20.00", "reference": "o-2", "expires_at": soon}).get_json()
    r = world.admin.post(f"/api/v1/holds/{ext_hold['id']}/capture",
                         json={"payees": [{"org_id": world.supplier.org_id, "amount": "20.00"}]})
    assert r.status_code == 409 and err(r) == "not_for_external_wallet", r.get_json()
    # a wallet that cannot exist answers 404 on every read, not an empty list
    for tail in ("/entries", "/holds", "/recharges", "/withdrawals", "/coupons",
                 "/consumption?granularity=day&from=2026-01-01&to=2026-01-02"):
        r = world.customer.api.get(url(world.customer.org_id + EXT, tail))
        assert r.status_code == 404 and err(r) == "wallet_not_found", (tail, r.get_json())
    # a reclaim names its own field
    r = agency.api.post(url(agency.org_id, "/reclaims"), json={"from_org_id": merchant.org_id + EXT,
                                                               "amount": "1.00"})
    assert r.status_code == 422 and "from_org_id" in r.get_json()["error"]["details"]
    # exports name the organisation and choose the wallet with filters.purpose
    r = merchant.api.post("/api/v1/exports", json={"kind": "wallet_entries", "org_id": merchant.org_id + EXT,
                                                   "format": "csv"})
    assert r.status_code in (404, 422), r.get_json()
    r = world.admin.post("/api/v1/exports", json={"kind": "wallet_entries", "org_id": merchant.org_id + EXT,
                                                  "format": "csv"})
    assert r.status_code == 422 and err(r) == "invalid_export_org", r.get_json()
