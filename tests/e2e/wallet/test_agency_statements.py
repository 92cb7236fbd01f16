"""The agency statement view through HTTP (wallet.md "Statements": the same across all
principals, and a per-principal summary; seed 002 finance: the fund overview of all the
agency's merchants, the detail lists across merchants and their download).

Principals are platform-created organisations with API keys (no logins: they are rate
limited per address), as in test_agency_overview; the clock is moved with freezegun and
only API keys are used while it is."""
from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from freezegun import freeze_time
from openpyxl import load_workbook

from application.shared.uow import UnitOfWorkFactory
from application.wallet.agency_statements import walk_lines
from domain.wallet.ports import LineFilter
from tests.e2e.wallet.conftest import World, add_user, err, money
from tests.e2e.wallet.test_agency_overview import (
    NOW,
    Principal,
    add_principal,
    key_client,
    local,
    new_org,
    ours,
    platform_key,
    set_budget,
    set_credit,
    spend,
    the_merchant,
)
from tests.helpers import Api

URL = "/api/v1/agency/principals"
MONEY_KEYS = ("cash", "coupons", "coupons_normal", "coupons_traffic", "credit_limit", "credit_used", "held",
              "deposit_due", "deposit_paid", "available", "spent_today")


def get(api: Api, path: str, at: Any = NOW, **params: Any) -> dict[str, Any]:
    with freeze_time(at):
        r = api.get(f"{URL}/{path}", query_string=params)
    assert r.status_code == 200, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def coupon(api: Api, org_id: str, kind: str, amount: str, expires_at: Any, at: Any) -> None:
    with freeze_time(at):
        r = api.post(f"/api/v1/wallets/{org_id}/coupons",
                     json={"kind": kind, "amount": amount, "expires_at": expires_at.isoformat()})
    assert r.status_code == 201, r.get_json()


def as_wallet(row: dict[str, Any]) -> dict[str, Any]:
    """A funds row in the shape of ``GET /wallets/{org_id}``'s figures."""
    return {"cash": row["cash"], "coupons": row["coupons"],
            "coupons_by_kind": {"normal": row["coupons_normal"], "traffic": row["coupons_traffic"]},
            **{k: row[k] for k in ("credit_limit", "credit_used", "held", "deposit_due", "deposit_paid",
                                   "available", "daily_budget", "spent_today")}}


def wallet_figures(api: Api, org_id: str, at: Any = NOW) -> dict[str, Any]:
    with freeze_time(at):
        r = api.get(f"/api/v1/wallets/{org_id}")
    assert r.status_code == 200, r.get_json()
    w = r.get_json()
    return {k: w[k] for k in ("cash", "coupons", "coupons_by_kind", "credit_limit", "credit_used", "held",
                              "deposit_due", "deposit_paid", "available", "daily_budget", "spent_today")}


# -- per-principal funds ---------------------------------------------------------------------------------

def test_principal_funds_with_totals_match_each_wallet(world: World) -> None:
    agency = key_client(world, world.agency)
    platform = platform_key(world)
    m1 = the_merchant(world)  # Corner Shop
    m2 = ours(world, "Noodle Bar")
    m3 = ours(world, "Tea House")
    m4 = ours(world, "Gone Shop")  # terminated later
    empty = ours(world, "Empty Shop")  # never touched: no wallet row
    invited = ours(world, "Invited Shop", accept=False)
    rival = new_org(world, "Rival Agency", "agency")
    foreign = add_principal(world, rival.key, rival.org_id, "Rival Shop")
    for p, cash in ((m1, "100.00"), (m2, "50.00"), (m3, "150.00"), (m4, "70.00"), (invited, "100.00"),
                    (foreign, "600.00")):
        world.offline(p.org_id, cash)
    set_budget(world, m1.org_id, "200.00")
    r = world.admin.put(f"/api/v1/wallets/{m1.org_id}/deposit", json={"deposit_due": "30.00"})
    assert r.status_code == 200, r.get_json()
    set_credit(world, m2.org_id, "100.00")
    coupon(platform, m2.org_id, "normal", "5.00", local(2027, 6, 30), local(2026, 6, 1))
    # m3: a traffic coupon that expires at 08:00 today, unspent; no lapse job has run
    coupon(platform, m3.org_id, "traffic", "8.00", local(2026, 6, 10, 8), local(2026, 6, 1))

    spend(m1, local(2026, 6, 9, 12), "30.00", "m1-y")  # yesterday: not spent today
    spend(m1, local(2026, 6, 10, 0, 0, 0), "20.00", "m1-t")  # the first second of today
    c = spend(m2, local(2026, 6, 10, 9), "60.00", "m2-t")
    assert c["breakdown"] == {"cash": "50.00", "normal_coupon": "5.00", "traffic_coupon": "0.00",
                              "post_pay": "5.00"}
    with freeze_time(local(2026, 6, 10, 9, 30)):
        r = m3.key.post(f"/api/v1/wallets/{m3.org_id}/holds", json={
            "amount": "20.00", "reference": "order-3", "expires_at": local(2026, 6, 11).isoformat()})
        assert r.status_code == 201, r.get_json()
    spend(foreign, local(2026, 6, 10, 9), "1.00", "f")

    funds = get(agency, "funds")
    assert (funds["page"], funds["per_page"], funds["total"]) == (1, 20, 5)
    assert funds["at"] == NOW.isoformat()
    rows = {i["name"]: i for i in funds["items"]}
    assert [i["name"] for i in funds["items"]] == ["Corner Shop", "Empty Shop", "Gone Shop", "Noodle Bar",
                                                   "Tea House"]  # by name
    assert rows["Corner Shop"] == {
        "org_id": m1.org_id, "name": "Corner Shop", "cash": "50.00", "coupons": "0.00", "coupons_normal": "0.00",
        "coupons_traffic": "0.00", "credit_limit": "0.00", "credit_used": "0.00", "held": "0.00",
        "deposit_due": "30.00", "deposit_paid": "0.00", "available": "50.00", "daily_budget": "200.00",
        "spent_today": "20.00"}
    assert rows["Empty Shop"] == {"org_id": empty.org_id, "name": "Empty Shop", "daily_budget": None,
                                  **dict.fromkeys(MONEY_KEYS, "0.00")}
    two = rows["Noodle Bar"]
    assert (two["cash"], two["coupons"], two["credit_limit"], two["credit_used"], two["available"],
            two["spent_today"]) == ("0.00", "0.00", "100.00", "5.00", "95.00", "60.00")
    three = rows["Tea House"]  # the expired coupon is not counted
    assert (three["cash"], three["coupons_traffic"], three["held"], three["available"]) == (
        "150.00", "0.00", "20.00", "130.00")
    assert rows["Gone Shop"]["available"] == "70.00"
    # the same figures as each wallet's own page, at the same moment
    for p in (m1, m2, m3, m4, empty):
        row = next(i for i in funds["items"] if i["org_id"] == p.org_id)
        assert as_wallet(row) == wallet_figures(p.key, p.org_id), row["name"]
    # an hour before the coupon expired it counted, on both pages (150 + 8 - the 20 held now)
    early = get(agency, "funds", at=local(2026, 6, 10, 7), q="tea")
    assert early["items"][0]["coupons_traffic"] == "8.00" and early["items"][0]["available"] == "138.00"
    assert as_wallet(early["items"][0]) == wallet_figures(m3.key, m3.org_id, local(2026, 6, 10, 7))

    # totals, hand-computed: cash 50 + 0 + 70 + 0 + 150, available 50 + 70 + 95 + 130
    totals = funds["totals"]
    assert totals == {"cash": "270.00", "coupons": "0.00", "coupons_normal": "0.00", "coupons_traffic": "0.00",
                      "credit_limit": "100.00", "credit_used": "5.00", "held": "20.00", "deposit_due": "30.00",
                      "deposit_paid": "0.00", "available": "345.00", "spent_today": "80.00"}
    for key in MONEY_KEYS:  # and the sum of the rows
        assert money(totals[key]) == sum((money(i[key]) for i in funds["items"]), Decimal(0)), key

    # paging: totals are over every principal, not the page
    page2 = get(agency, "funds", page=2, per_page=2)
    assert [i["name"] for i in page2["items"]] == ["Gone Shop", "Noodle Bar"]
    assert (page2["page"], page2["per_page"], page2["total"], page2["totals"]) == (2, 2, 5, totals)
    assert get(agency, "funds", page=4, per_page=2)["items"] == []
    # q: name contains it, any case; or the exact organisation id
    shops = get(agency, "funds", q="SHOP")
    assert [i["name"] for i in shops["items"]] == ["Corner Shop", "Empty Shop", "Gone Shop"]
    assert shops["total"] == 3 and shops["totals"]["available"] == "120.00"
    assert [i["name"] for i in get(agency, "funds", q=m2.org_id)["items"]] == ["Noodle Bar"]
    assert get(agency, "funds", q=m2.org_id[:-1])["items"] == []
    assert get(agency, "funds", q=foreign.org_id)["total"] == 0  # another agency's principal
    assert get(agency, "funds", q="Invited")["total"] == 0  # not accepted
    r = agency.get(f"{URL}/funds", query_string={"q": "x" * 101})
    assert r.status_code == 422
    r = agency.get(f"{URL}/funds", query_string={"per_page": 101})
    assert r.status_code == 422

    r = world.agency.api.post(f"/api/v1/relations/{m4.rel_id}/terminate")
    assert r.status_code == 200, r.get_json()
    after = get(agency, "funds")
    assert after["total"] == 4 and m4.org_id not in {i["org_id"] for i in after["items"]}
    assert (after["totals"]["cash"], after["totals"]["available"]) == ("200.00", "275.00")

    # the rival agency sees its own principal only
    theirs = get(rival.key, "funds")
    assert [(i["org_id"], i["available"]) for i in theirs["items"]] == [(foreign.org_id, "599.00")]


# -- merged statement lines --------------------------------------------------------------------------------

def _statement_world(world: World) -> tuple[Api, Principal, Principal, Principal, Principal, Principal]:
    """Corner Shop (m1) and Noodle Bar (m2) of ours, an invited shop and a rival's principal."""
    agency = key_client(world, world.agency)
    m1 = the_merchant(world)
    m2 = ours(world, "Noodle Bar")
    invited = ours(world, "Invited Shop", accept=False)
    rival = new_org(world, "Rival Agency", "agency")
    foreign = add_principal(world, rival.key, rival.org_id, "Rival Shop")
    world.offline(world.agency.org_id, "1000.00")
    world.offline(rival.org_id, "1000.00")
    world.offline(invited.org_id, "100.00")

    def allocate(api: Api, agency_org: str, to: str, amount: str, at: Any) -> None:
        with freeze_time(at):
            r = api.post(f"/api/v1/wallets/{agency_org}/allocations", json={"to_org_id": to, "amount": amount})
        assert r.status_code == 201, r.get_json()

    allocate(agency, world.agency.org_id, m1.org_id, "100.00", local(2026, 6, 1, 10))
    allocate(agency, world.agency.org_id, m2.org_id, "50.00", local(2026, 6, 2, 0, 0, 0))  # first second of 2 June
    spend(m1, local(2026, 6, 2, 23, 59, 59), "10.00", "ord-1")  # last second of 2 June
    spend(m2, local(2026, 6, 3, 9), "5.00", "ord-1")
    spend(m2, local(2026, 6, 3, 10), "7.00", "ord-2")
    allocate(rival.key, rival.org_id, foreign.org_id, "80.00", local(2026, 6, 3, 11))
    spend(foreign, local(2026, 6, 3, 12), "3.00", "ord-1")
    spend(invited, local(2026, 6, 3, 12), "4.00", "ord-1")
    return agency, m1, m2, invited, foreign, rival


def rows(page: dict[str, Any]) -> list[tuple[str, str, str | None, str]]:
    return [(i["org_name"], i["type"], i["reference"], i["amount"]) for i in page["items"]]


def test_entries_of_all_principals_merged_newest_first_with_filters(world: World) -> None:
    agency, m1, m2, invited, foreign, rival = _statement_world(world)
    everything = [("Noodle Bar", "charge", "ord-2", "-7.00"), ("Noodle Bar", "charge", "ord-1", "-5.00"),
                  ("Corner Shop", "charge", "ord-1", "-10.00"), ("Noodle Bar", "allocation", None, "50.00"),
                  ("Corner Shop", "allocation", None, "100.00")]
    page = get(agency, "entries")
    assert rows(page) == everything
    assert (page["page"], page["per_page"], page["total"]) == (1, 20, 5)
    # each row is the wallet's own statement row plus the principal's id and name
    own = {i["entry_id"]: i for p in (m1, m2) for i in world.entries(p.key, p.org_id)}
    for item in page["items"]:
        assert item["org_id"] in (m1.org_id, m2.org_id)
        bare = {k: v for k, v in item.items() if k not in ("org_id", "org_name", "purpose")}
        assert bare == own[item["entry_id"]]
    first = page["items"][0]
    assert first["balances_after"]["cash"] == "38.00" and first["breakdown"]["cash"] == "7.00"

    p2 = get(agency, "entries", page=2, per_page=2)
    assert rows(p2) == everything[2:4] and p2["total"] == 5
    assert get(agency, "entries", page=3, per_page=2)["items"] == [page["items"][4]]

    assert rows(get(agency, "entries", type="charge")) == everything[:3]
    assert rows(get(agency, "entries", type="allocation")) == everything[3:]
    # Shanghai days: 2 June runs from its first second (m2's allocation) to its last (m1's charge)
    assert rows(get(agency, "entries", **{"from": "2026-06-02", "to": "2026-06-02"})) == everything[2:4]
    assert rows(get(agency, "entries", **{"from": "2026-06-03"})) == everything[:2]
    assert rows(get(agency, "entries", to="2026-06-01")) == everything[4:]
    at = local(2026, 6, 3, 9).isoformat()  # a timestamp: from inclusive, to exclusive
    assert rows(get(agency, "entries", **{"from": at})) == everything[:2]
    assert rows(get(agency, "entries", to=at)) == everything[2:]
    assert rows(get(agency, "entries", reference="ord-1")) == [everything[1], everything[2]]
    assert rows(get(agency, "entries", org_id=m1.org_id)) == [everything[2], everything[4]]
    assert rows(get(agency, "entries", org_id=m2.org_id, type="charge", reference="ord-2")) == everything[:1]

    # other organisations answer as a wallet one cannot see; filters fail as on a wallet's statement
    for org_id in (foreign.org_id, invited.org_id, world.agency.org_id, "org_nope"):
        r = agency.get(f"{URL}/entries", query_string={"org_id": org_id})
        assert r.status_code == 404 and err(r) == "wallet_not_found", org_id
    for params in ({"type": "bogus"}, {"from": "yesterday"}, {"to": "2026-06-03T10:00:00"},
                   {"reference": "x" * 101}, {"per_page": "0"}, {"colour": "red"}):
        r = agency.get(f"{URL}/entries", query_string=params)
        mine = m1.key.get(f"/api/v1/wallets/{m1.org_id}/entries", query_string=params)
        assert (r.status_code, err(r)) == (mine.status_code, err(mine)) == (422, err(mine)), params

    # the rival agency sees its own principal's lines only
    assert rows(get(rival.key, "entries")) == [("Rival Shop", "charge", "ord-1", "-3.00"),
                                               ("Rival Shop", "allocation", None, "80.00")]

    r = world.agency.api.post(f"/api/v1/relations/{m2.rel_id}/terminate")
    assert r.status_code == 200, r.get_json()
    assert rows(get(agency, "entries")) == [everything[2], everything[4]]
    r = agency.get(f"{URL}/entries", query_string={"org_id": m2.org_id})
    assert r.status_code == 404 and err(r) == "wallet_not_found"


def test_entries_merge_across_many_principals(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """More principals than one query chunk: the merge, the paging and the export's walk hold."""
    from adapters.postgres import wallet_overview_repos  # tests may reach adapters

    agency = key_client(world, world.agency)
    shops = [ours(world, f"Shop {i}") for i in range(5)]
    world.offline(world.agency.org_id, "1000.00")
    for n, at in enumerate([local(2026, 6, 1, h) for h in range(10)]):
        shop = shops[(n * 3) % 5]
        with freeze_time(at):
            r = agency.post(f"/api/v1/wallets/{world.agency.org_id}/allocations",
                            json={"to_org_id": shop.org_id, "amount": f"{n + 1}.00"})
        assert r.status_code == 201, r.get_json()
    expected = [f"{n + 1}.00" for n in reversed(range(10))]
    one = get(agency, "entries", per_page=100)
    assert [i["amount"] for i in one["items"]] == expected
    monkeypatch.setattr(wallet_overview_repos, "CHUNK", 2)  # 5 principals in 3 chunks
    assert get(agency, "entries", per_page=100) == one
    for page in (1, 2, 3, 4):
        got = get(agency, "entries", page=page, per_page=3)
        assert [i["amount"] for i in got["items"]] == expected[(page - 1) * 3:page * 3]
        assert got["total"] == 10
    assert get(agency, "entries", type="charge")["total"] == 0
    with world.container.get(UnitOfWorkFactory)() as uow:  # the export's walk, 4 lines at a time
        walked = list(walk_lines(uow, [s.org_id for s in shops], LineFilter(), 4))
    assert [str(ln.amount) for ln in walked] == expected


# -- the task centre's download ------------------------------------------------------------------------------

def test_agency_entries_export_as_csv_and_xlsx(world: World) -> None:
    agency, m1, m2, invited, foreign, _ = _statement_world(world)
    with freeze_time(NOW):
        r = agency.post("/api/v1/exports", json={"kind": "agency_entries", "format": "csv",
                                                 "filters": {"type": "charge"}})
        assert r.status_code == 202, r.get_json()
        job = agency.get(f"/api/v1/exports/{r.get_json()['id']}").get_json()  # jobs run inline in tests
        assert (job["status"], job["row_count"], job["kind"]) == ("done", 3, "agency_entries")
        got = agency.get(job["download_url"])
    assert got.status_code == 200 and got.mimetype == "text/csv"
    table = list(csv.DictReader(io.StringIO(got.get_data(as_text=True).lstrip("\ufeff"))))
    assert [(x["org_id"], x["org_name"], x["reference"], x["amount"], x["cash"], x["cash_after"])
            for x in table] == [(m2.org_id, "Noodle Bar", "ord-2", "-7.00", "7.00", "38.00"),
                                (m2.org_id, "Noodle Bar", "ord-1", "-5.00", "5.00", "45.00"),
                                (m1.org_id, "Corner Shop", "ord-1", "-10.00", "10.00", "90.00")]

    with freeze_time(NOW):
        r = agency.post("/api/v1/exports", json={
            "kind": "agency_entries", "org_id": world.agency.org_id, "format": "xlsx",
            "filters": {"org_id": m1.org_id, "from": "2026-06-01", "to": "2026-06-02"}})
        assert r.status_code == 202, r.get_json()
        job = agency.get(f"/api/v1/exports/{r.get_json()['id']}").get_json()
        sheet = load_workbook(io.BytesIO(agency.get(job["download_url"]).get_data())).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][:6] == ["created_at", "org_id", "org_name", "entry_id", "type", "reference"]
    assert [(v[2], v[4], v[6]) for v in values[1:]] == [("Corner Shop", "charge", -10),  # money is a number
                                                        ("Corner Shop", "allocation", 100)]

    # the agency's owner and admin may ask; nobody else
    body = {"kind": "agency_entries", "format": "csv", "filters": {}}
    assert world.agency_admin.post("/api/v1/exports", json=body).status_code == 202
    r = world.agency_employee.post("/api/v1/exports", json=body)
    assert r.status_code == 403 and err(r) == "permission_denied"
    finance = add_user(world.agency.api, world.agency.org_id, "agent.fin", ["finance"])
    r = finance.post("/api/v1/exports", json=body)
    assert r.status_code == 403 and err(r) == "permission_denied"
    for api in (world.customer.api, m1.key):
        r = api.post("/api/v1/exports", json=body)
        assert r.status_code == 403 and err(r) == "not_an_agency"
    r = world.agency.api.post("/api/v1/exports", json={**body, "org_id": m1.org_id},
                              headers={"X-Act-As-Org": m1.org_id})  # for the agency, not for a principal
    assert r.status_code == 422 and err(r) == "invalid_export_org"
    for org_id in (foreign.org_id, invited.org_id):
        r = agency.post("/api/v1/exports", json={**body, "filters": {"org_id": org_id}})
        assert r.status_code == 404 and err(r) == "wallet_not_found"
    for filters in ({"colour": "red"}, {"type": "bogus"}, {"from": "soon"}, {"org_id": 7}):
        r = agency.post("/api/v1/exports", json={**body, "filters": filters})
        assert r.status_code == 422 and err(r) == "invalid_filter", filters


# -- who may see it --------------------------------------------------------------------------------------------

def test_only_agency_owners_and_admins_see_the_statements(world: World) -> None:
    finance = add_user(world.agency.api, world.agency.org_id, "agent.fin", ["finance"])
    for path in ("funds", "entries"):
        for api in (world.agency.api, world.agency_admin, key_client(world, world.agency)):
            r = api.get(f"{URL}/{path}")
            assert r.status_code == 200, path
            assert r.get_json()["total"] == (1 if path == "funds" else 0)  # the world's merchant, no lines
        r = world.agency.api.get(f"{URL}/{path}", headers={"X-Act-As-Org": world.merchant.org_id})
        assert r.status_code == 200, r.get_json()  # acting for a principal: still the agency's view
        for api in (world.agency_employee, finance):
            r = api.get(f"{URL}/{path}")
            assert r.status_code == 403 and err(r) == "permission_denied", path
        for api in (world.customer.api, world.merchant.api, world.admin, world.supplier.api):
            r = api.get(f"{URL}/{path}")
            assert r.status_code == 403 and err(r) == "not_an_agency", path


# -- consumption across principals and the per-principal spend summary ------------------------------

def test_agency_consumption_and_spend_per_principal(world: World) -> None:
    agency = key_client(world, world.agency)
    p1 = the_merchant(world)
    p2, p3 = ours(world, "Second Shop"), ours(world, "Quiet Shop")
    rival = new_org(world, "Rival Agency", "agency")
    foreign = add_principal(world, rival.key, rival.org_id, "Rival Shop")
    for p in (p1, p2, foreign):
        world.offline(p.org_id, "500.00")
    for to, amount in ((p1.org_id, "40.00"), (p3.org_id, "10.00")):
        world.offline(world.agency.org_id, amount)
        r = world.agency.api.post(f"/api/v1/wallets/{world.agency.org_id}/allocations",
                                  json={"to_org_id": to, "amount": amount})
        assert r.status_code == 201, r.get_json()
    set_credit(world, p2.org_id, "50.00")

    spend(p1, local(2026, 5, 31, 23, 59, 59), "10.00", "a")  # May, on the Shanghai calendar
    spend(p1, local(2026, 6, 1, 0, 0, 0), "20.00", "b")  # June
    spend(p2, local(2026, 6, 1, 12), "5.00", "a")
    spend(p2, local(2026, 6, 2, 12), "545.00", "b")  # its 495 cash, then 50 post-pay
    spend(foreign, local(2026, 6, 1), "99.00", "a")  # another agency's principal

    def consumption(**params: Any) -> dict[str, Any]:
        r = agency.get("/api/v1/agency/consumption", query_string=params)
        assert r.status_code == 200, r.get_json()
        return r.get_json()  # type: ignore[no-any-return]

    by_day = consumption(granularity="day", **{"from": "2026-05-31", "to": "2026-06-02"})
    assert [(x["period"], x["amount"], x["cash"], x["post_pay"], x["count"]) for x in by_day["items"]] == [
        ("2026-05-31", "10.00", "10.00", "0.00", 1), ("2026-06-01", "25.00", "25.00", "0.00", 2),
        ("2026-06-02", "545.00", "495.00", "50.00", 1)]
    assert (by_day["total"]["amount"], by_day["total"]["count"]) == ("580.00", 4)
    by_month = consumption(granularity="month", **{"from": "2026-05-01", "to": "2026-06-30"})
    assert [(x["period"], x["amount"]) for x in by_month["items"]] == [("2026-05", "10.00"), ("2026-06", "570.00")]
    one = consumption(granularity="month", org_id=p1.org_id, **{"from": "2026-05-01", "to": "2026-06-30"})
    assert one["total"]["amount"] == "30.00"
    r = agency.get("/api/v1/agency/consumption", query_string={"from": "2026-06-01", "to": "2026-06-02",
                                                                "org_id": foreign.org_id})
    assert r.status_code == 404 and err(r) == "wallet_not_found"  # not its principal

    r = agency.get("/api/v1/agency/principals/spend", query_string={"from": "2026-06-01", "to": "2026-06-30"})
    assert r.status_code == 200, r.get_json()
    page = r.get_json()
    assert [(x["name"], x["amount"], x["cash"], x["post_pay"], x["count"], x["allocated_net"])
            for x in page["items"]] == [
        ("Second Shop", "550.00", "500.00", "50.00", 2, "0.00"),
        ("Corner Shop", "20.00", "20.00", "0.00", 1, "40.00"),
        ("Quiet Shop", "0.00", "0.00", "0.00", 0, "10.00")]  # no spend: listed, last
    assert page["items"][1]["org_id"] == p1.org_id and page["total"] == 3
    assert (page["totals"]["amount"], page["totals"]["count"]) == ("570.00", 3)
    r = agency.get("/api/v1/agency/principals/spend",
                   query_string={"from": "2026-06-01", "to": "2026-06-30", "q": "quiet", "per_page": 1})
    assert [x["name"] for x in r.get_json()["items"]] == ["Quiet Shop"] and r.get_json()["totals"]["amount"] == "0.00"

    def export(kind: str, **filters: Any) -> list[dict[str, str]]:
        r = agency.post("/api/v1/exports", json={"kind": kind, "format": "csv", "filters": filters})
        assert r.status_code == 202, r.get_json()
        job = agency.get(f"/api/v1/exports/{r.get_json()['id']}").get_json()  # jobs run inline in tests
        assert job["status"] == "done", job
        text = agency.get(job["download_url"]).get_data(as_text=True).lstrip("\ufeff")
        return list(csv.DictReader(io.StringIO(text)))

    spend_rows = export("agency_spend", **{"from": "2026-06-01", "to": "2026-06-30"})
    assert [(x["org_id"], x["org_name"], x["amount"], x["post_pay"], x["allocated_net"]) for x in spend_rows] == [
        (p2.org_id, "Second Shop", "550.00", "50.00", "0.00"), (p1.org_id, "Corner Shop", "20.00", "0.00", "40.00"),
        (p3.org_id, "Quiet Shop", "0.00", "0.00", "10.00")]
    months = export("agency_consumption", granularity="month", **{"from": "2026-05-01", "to": "2026-06-30"})
    assert [(x["period"], x["amount"], x["count"]) for x in months] == [
        ("2026-05", "10.00", "1"), ("2026-06", "570.00", "3"), ("total", "580.00", "4")]
    for bad, field in (({"from": "x"}, "filters.to"), ({"from": "2026-06-01", "to": "June"}, "filters.to"),
                       ({"from": "2026-06-01T10:00:00+08:00", "to": "2026-06-02"}, "filters.from"),
                       ({"from": "2026-06-01", "to": "2026-06-02", "q": 5}, "filters.q"),
                       ({"from": "2026-06-01", "to": "2026-06-02", "q": "x" * 101}, "filters.q")):
        r = agency.post("/api/v1/exports", json={"kind": "agency_spend", "format": "csv", "filters": bad})
        assert r.status_code == 422 and err(r) == "invalid_filter", (bad, r.get_json())
        assert field in r.get_json()["error"]["details"], (bad, r.get_json())
    r = agency.post("/api/v1/exports", json={"kind": "agency_consumption", "format": "csv",
                                             "filters": {"from": "2026-06-01", "to": "2026-06-02",
                                                         "org_id": foreign.org_id}})
    assert r.status_code == 404  # not its principal

    r = world.agency_employee.get("/api/v1/agency/principals/spend", query_string={"from": "2026-06-01",
                                                                                    "to": "2026-06-30"})
    assert r.status_code == 403  # funds are for the owner and admins
    r = agency.get("/api/v1/agency/consumption", query_string={"from": "2026-06-02", "to": "2026-06-01"})
    assert r.status_code == 422 and err(r) == "invalid_date"
