"""The agency overview through HTTP (wallet.md "Agency overview"; seed 002 home page,
finance and performance): spend, principals with spend and ARPU with the previous period,
the top principals, fund anomalies and performance, checked against hand-computed figures.

Charges are put on chosen Asia/Shanghai days with freezegun, several right at local
midnight (16:00 UTC). Principals and the agency use API keys while the clock is moved
(an agency's key acts as its owner), so moving the clock does not expire their tokens."""
from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from tests.e2e.wallet.conftest import World, add_user, err, money
from tests.helpers import Api, Tenant

SHANGHAI = ZoneInfo("Asia/Shanghai")
URL = "/api/v1/agency"


def local(y: int, m: int, d: int, hh: int = 12, mm: int = 0, ss: int = 0) -> datetime:
    """A moment given on the Shanghai wall clock, as UTC."""
    return datetime(y, m, d, hh, mm, ss, tzinfo=SHANGHAI).astimezone(UTC)


NOW = local(2026, 6, 10, 10)  # today 2026-06-10, yesterday 2026-06-09


def key_client(world: World, tenant: Tenant) -> Api:
    r = tenant.api.post(f"/api/v1/organizations/{tenant.org_id}/api-keys", json={"name": "overview"})
    assert r.status_code == 201, r.get_json()
    return Api(world.client, r.get_json()["key"])


@dataclasses.dataclass
class Principal:
    org_id: str
    key: Api  # the organisation's own API key (it acts as the organisation's admin)
    rel_id: str | None = None


def new_org(world: World, name: str, kind: str) -> Principal:
    """An organisation with an API key and no user: no logins (they are rate limited per address)."""
    r = world.admin.post("/api/v1/organizations", json={"name": name, "kinds": [kind]})
    assert r.status_code == 201, r.get_json()
    org_id = r.get_json()["id"]
    r = world.admin.post(f"/api/v1/organizations/{org_id}/api-keys", json={"name": "overview"})
    assert r.status_code == 201, r.get_json()
    return Principal(org_id, Api(world.client, r.get_json()["key"]))


def add_principal(world: World, agency: Api, agency_org_id: str, name: str, accept: bool = True) -> Principal:
    """A merchant invited by the agency and (unless ``accept`` is False) authorised."""
    merchant = new_org(world, name, "merchant")
    r = agency.post(f"/api/v1/organizations/{agency_org_id}/principals", json={"principal_org_id": merchant.org_id})
    assert r.status_code == 201, r.get_json()
    merchant.rel_id = r.get_json()["id"]
    if accept:
        r = merchant.key.post(f"/api/v1/relations/{merchant.rel_id}/accept")
        assert r.status_code == 200, r.get_json()
    return merchant


def ours(world: World, name: str, accept: bool = True) -> Principal:
    return add_principal(world, world.agency.api, world.agency.org_id, name, accept)


def the_merchant(world: World) -> Principal:
    return Principal(world.merchant.org_id, key_client(world, world.merchant))


def spend(p: Principal, at: datetime, amount: str, ref: str, **extra: Any) -> dict[str, Any]:
    with freeze_time(at):
        r = p.key.post(f"/api/v1/wallets/{p.org_id}/charges", json={"amount": amount, "reference": ref, **extra})
    assert r.status_code == 201, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def get(api: Api, path: str, at: datetime | None = NOW, **params: Any) -> dict[str, Any]:
    if at is None:
        r = api.get(f"{URL}/{path}", query_string=params)
    else:
        with freeze_time(at):
            r = api.get(f"{URL}/{path}", query_string=params)
    assert r.status_code == 200, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def figures(o: dict[str, Any]) -> tuple[Any, ...]:
    """(spend, principals with spend, arpu) and the same for the previous period."""
    return ((o["spend"]["value"], o["principals_with_spend"]["value"], o["arpu"]["value"]),
            (o["spend"]["previous"], o["principals_with_spend"]["previous"], o["arpu"]["previous"]))


def platform_key(world: World) -> Api:
    r = world.admin.post(f"/api/v1/organizations/{world.platform_org}/api-keys", json={"name": "ops"})
    assert r.status_code == 201, r.get_json()
    return Api(world.client, r.get_json()["key"])


def set_credit(world: World, org_id: str, limit: str) -> None:
    r = world.admin.put(f"/api/v1/wallets/{org_id}/credit-limit", json={"credit_limit": limit})
    assert r.status_code == 200, r.get_json()


def set_budget(world: World, org_id: str, budget: str) -> None:
    r = world.agency_admin.put(f"/api/v1/wallets/{org_id}/budget", json={"daily_budget": budget})
    assert r.status_code == 200, r.get_json()


# -- spend, principals with spend, ARPU --------------------------------------------------------------

def test_overview_figures_with_previous_periods_midnight_boundaries_and_tenancy(
        world: World) -> None:
    agency = key_client(world, world.agency)
    m1 = the_merchant(world)
    m2 = ours(world, "Noodle Bar")
    m3 = ours(world, "Tea House")
    m4 = ours(world, "Gone Shop")  # terminated later
    invited = ours(world, "Invited Shop", accept=False)
    rival = new_org(world, "Rival Agency", "agency")
    m5 = add_principal(world, rival.key, rival.org_id, "Rival Shop")
    for p, cash in ((m1, "70.00"), (m2, "20.00"), (m3, "150.00"), (m4, "100.00"), (m5, "600.00"),
                    (invited, "100.00")):
        world.offline(p.org_id, cash)
    set_credit(world, m2.org_id, "100.00")
    r = world.admin.post(f"/api/v1/wallets/{m2.org_id}/coupons",
                         json={"kind": "normal", "amount": "5.00", "expires_at": "2027-06-30T00:00:00+08:00"})
    assert r.status_code == 201, r.get_json()

    spend(m3, local(2026, 5, 27, 23, 59, 59), "99.00", "m3-a")  # the last second of 27 May
    spend(m3, local(2026, 5, 28, 0, 0, 0), "40.00", "m3-b")  # the first second of 28 May
    spend(m1, local(2026, 6, 3), "15.00", "m1-a")
    c = spend(m2, local(2026, 6, 5), "10.00", "m2-a")
    assert c["breakdown"] == {"cash": "5.00", "normal_coupon": "5.00", "traffic_coupon": "0.00", "post_pay": "0.00"}
    spend(m1, local(2026, 6, 9, 23, 59, 59), "30.00", "m1-b")  # yesterday, last second
    spend(m1, local(2026, 6, 10, 0, 0, 0), "20.00", "m1-c")  # today, first second
    c = spend(m2, local(2026, 6, 10, 9), "50.00", "m2-b")
    assert c["breakdown"] == {"cash": "15.00", "normal_coupon": "0.00", "traffic_coupon": "0.00",
                              "post_pay": "35.00"}
    for p, amount in ((m4, "70.00"), (m5, "500.00"), (invited, "60.00")):
        spend(p, local(2026, 6, 10, 9, 30), amount, "today")
    # the platform pays m3 from its own wallet: m3 receives on a charge entry, which is not m3's spend
    world.offline(world.platform_org, "12.00")
    with freeze_time(local(2026, 6, 10, 9, 45)):
        r = platform_key(world).post(f"/api/v1/wallets/{world.platform_org}/charges", json={
            "amount": "12.00", "reference": "supply-1", "payees": [{"org_id": m3.org_id, "amount": "12.00"}]})
        assert r.status_code == 201, r.get_json()

    # today: m1 20 + m2 50 + m4 70; the invited shop and the rival's shop do not count
    o = get(agency, "overview")
    assert figures(o) == (("140.00", 3, "46.67"), ("30.00", 1, "30.00"))
    assert o["principals"] == 4

    r = world.agency.api.post(f"/api/v1/relations/{m4.rel_id}/terminate")
    assert r.status_code == 200, r.get_json()

    o = get(agency, "overview")  # no period: today
    assert o["period"] == {"name": "today", "from": "2026-06-10", "to": "2026-06-10", "days": 1}
    assert o["previous_period"] == {"name": "previous", "from": "2026-06-09", "to": "2026-06-09", "days": 1}
    assert o["principals"] == 3
    assert figures(o) == (("70.00", 2, "35.00"), ("30.00", 1, "30.00"))
    assert o["spend"] == {"value": "70.00", "previous": "30.00", "change": "40.00", "change_percent": "133.33"}
    assert o["principals_with_spend"] == {"value": 2, "previous": 1, "change": 1, "change_percent": "100.00"}
    assert o["arpu"] == {"value": "35.00", "previous": "30.00", "change": "5.00", "change_percent": "16.67"}
    assert o["breakdown"] == {"cash": "35.00", "normal_coupon": "0.00", "traffic_coupon": "0.00",
                              "post_pay": "35.00"}
    assert o["days"] == [{"day": "2026-06-10", "spend": "70.00", "principals_with_spend": 2}]

    o = get(agency, "overview", period="yesterday")
    assert figures(o) == (("30.00", 1, "30.00"), ("0.00", 0, "0.00"))
    assert o["spend"]["change"] == "30.00" and o["spend"]["change_percent"] is None
    assert o["arpu"]["change_percent"] is None

    o = get(agency, "overview", period="7d")
    assert (o["period"]["from"], o["period"]["to"]) == ("2026-06-04", "2026-06-10")
    assert (o["previous_period"]["from"], o["previous_period"]["to"]) == ("2026-05-28", "2026-06-03")
    # m1 30 + 20, m2 10 + 50 | before: m1 15, m3 40 (at 28 May 00:00:00; its 99 a second earlier is out)
    assert figures(o) == (("110.00", 2, "55.00"), ("55.00", 2, "27.50"))
    assert o["spend"]["change_percent"] == "100.00" and o["arpu"]["change"] == "27.50"
    assert o["breakdown"] == {"cash": "70.00", "normal_coupon": "5.00", "traffic_coupon": "0.00",
                              "post_pay": "35.00"}
    assert [(d["day"], d["spend"], d["principals_with_spend"]) for d in o["days"]] == [
        ("2026-06-04", "0.00", 0), ("2026-06-05", "10.00", 1), ("2026-06-06", "0.00", 0),
        ("2026-06-07", "0.00", 0), ("2026-06-08", "0.00", 0), ("2026-06-09", "30.00", 1),
        ("2026-06-10", "70.00", 2)]

    o = get(agency, "overview", period="30d")
    assert (o["period"]["from"], o["period"]["days"]) == ("2026-05-12", 30)
    assert figures(o) == (("264.00", 3, "88.00"), ("0.00", 0, "0.00"))

    o = get(agency, "overview", period="range", **{"from": "2026-05-28", "to": "2026-05-28"})
    assert figures(o) == (("40.00", 1, "40.00"), ("99.00", 1, "99.00"))
    assert o["spend"] == {"value": "40.00", "previous": "99.00", "change": "-59.00", "change_percent": "-59.60"}
    o = get(agency, "overview", **{"from": "2026-05-27", "to": "2026-06-10"})  # dates alone: a range
    assert o["period"] == {"name": "range", "from": "2026-05-27", "to": "2026-06-10", "days": 15}
    assert figures(o)[0] == ("264.00", 3, "88.00")
    for item in (o["spend"], o["arpu"], o["breakdown"]):
        for value in item.values():
            assert value is None or money(value) is not None

    # the same moment a second earlier is still 9 June: today is then 9 June
    o = get(agency, "overview", at=local(2026, 6, 9, 23, 59, 59))
    assert figures(o) == (("30.00", 1, "30.00"), ("0.00", 0, "0.00"))

    # the rival agency sees its own principal only, and ours sees nothing of it
    o = get(rival.key, "overview")
    assert (o["principals"], figures(o)[0]) == (1, ("500.00", 1, "500.00"))
    top = get(agency, "top-principals", period="30d")
    assert m5.org_id not in {i["org_id"] for i in top["items"]}


# -- top principals ------------------------------------------------------------------------------------

def test_top_ten_principals_by_spend_with_available_balance_and_daily_budget(
        world: World) -> None:
    agency = key_client(world, world.agency)
    shops = [the_merchant(world)] + [ours(world, f"Shop {i:02d}") for i in range(1, 12)]
    rival = new_org(world, "Rival Agency", "agency")
    foreign = add_principal(world, rival.key, rival.org_id, "Big Spender")
    for p in [*shops, foreign]:
        world.offline(p.org_id, "1000.00")
    set_budget(world, shops[10].org_id, "200.00")
    platform = platform_key(world)
    with freeze_time(local(2026, 6, 1)):  # shop 09: a coupon that lapses before NOW, one that does not
        for kind, amount, expiry in (("normal", "8.00", local(2026, 6, 10, 8)), ("traffic", "3.00", NOW.replace(
                year=2027))):
            r = platform.post(f"/api/v1/wallets/{shops[9].org_id}/coupons",
                                  json={"kind": kind, "amount": amount, "expires_at": expiry.isoformat()})
            assert r.status_code == 201, r.get_json()

    spend(shops[1], local(2026, 6, 3, 23, 59, 59), "900.00", "old")  # a second before the 7 days
    spend(shops[0], local(2026, 6, 4, 0, 0, 0), "500.00", "first-second")  # the first second of the 7 days
    for i in range(1, 12):
        amount = "50.00" if i == 11 else f"{i * 10}.00"  # shop 11 ties with shop 05
        if i != 8:
            spend(shops[i], local(2026, 6, 10, 9, i), amount, "today")
    with freeze_time(local(2026, 6, 10, 9, 8)):  # shop 08 spends by a hold of 100 captured for 80
        s8 = shops[8]
        r = s8.key.post(f"/api/v1/wallets/{s8.org_id}/holds", json={
            "amount": "100.00", "reference": "order-8", "expires_at": local(2026, 6, 11).isoformat()})
        assert r.status_code == 201, r.get_json()
        r = s8.key.post(f"/api/v1/holds/{r.get_json()['id']}/capture", json={"amount": "80.00"})
        assert r.status_code == 201, r.get_json()
    spend(foreign, local(2026, 6, 10, 9), "999.00", "today")

    def rows(top: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [(i["rank"], i["name"], i["spend"]) for i in top["items"]]

    top = get(agency, "top-principals")  # today by default
    assert top["period"]["name"] == "today" and top["at"] == NOW.isoformat()
    assert rows(top) == [(1, "Shop 10", "100.00"), (2, "Shop 09", "90.00"), (3, "Shop 08", "80.00"),
                         (4, "Shop 07", "70.00"), (5, "Shop 06", "60.00"), (6, "Shop 05", "50.00"),
                         (7, "Shop 11", "50.00"), (8, "Shop 04", "40.00"), (9, "Shop 03", "30.00"),
                         (10, "Shop 02", "20.00")]
    first = top["items"][0]
    assert first == {"rank": 1, "org_id": shops[10].org_id, "name": "Shop 10", "spend": "100.00",
                     "breakdown": {"cash": "100.00", "normal_coupon": "0.00", "traffic_coupon": "0.00",
                                   "post_pay": "0.00"},
                     "available": "900.00", "daily_budget": "200.00"}
    # shop 09: 1000 - 90 cash and the traffic coupon; the normal one expired at 08:00 unspent
    nine = top["items"][1]
    assert (nine["available"], nine["daily_budget"]) == ("913.00", None)
    with freeze_time(NOW):
        assert world.wallet(shops[9].key, shops[9].org_id)["available"] == nine["available"]

    assert rows(get(agency, "top-principals", limit=3)) == [(1, "Shop 10", "100.00"), (2, "Shop 09", "90.00"),
                                                            (3, "Shop 08", "80.00")]
    week = get(agency, "top-principals", period="7d")
    assert [n for _, n, _ in rows(week)] == ["Corner Shop", "Shop 10", "Shop 09", "Shop 08", "Shop 07", "Shop 06",
                                             "Shop 05", "Shop 11", "Shop 04", "Shop 03"]
    assert week["items"][0]["spend"] == "500.00" and week["items"][0]["available"] == "500.00"
    month = get(agency, "top-principals", period="30d")
    assert rows(month)[0] == (1, "Shop 01", "910.00") and len(month["items"]) == 10
    assert get(agency, "top-principals", period="yesterday")["items"] == []
    assert foreign.org_id not in {i["org_id"] for t in (top, week, month) for i in t["items"]}


# -- fund anomalies ------------------------------------------------------------------------------------

def test_fund_anomalies_are_principals_whose_balance_will_not_last_a_day(world: World) -> None:
    agency = key_client(world, world.agency)
    a = the_merchant(world)
    b, c, d, e, f = (ours(world, name) for name in
                     ("Exact Shop", "Quiet Shop", "Credit Shop", "Idle Shop", "Rich Shop"))
    rival = new_org(world, "Rival Agency", "agency")
    foreign = add_principal(world, rival.key, rival.org_id, "Rival Shop")
    for p, cash in ((a, "100.00"), (b, "100.00"), (c, "100.00"), (d, "30.00"), (f, "5000.00"),
                    (foreign, "10.00")):
        world.offline(p.org_id, cash)
    set_credit(world, d.org_id, "50.00")
    set_budget(world, d.org_id, "100.00")

    spend(c, local(2026, 6, 8, 23, 59, 59), "95.00", "day-before")  # 5 left, but nothing spent yesterday
    spend(b, local(2026, 6, 9, 0, 0, 0), "50.00", "y")  # 50 left = yesterday's 50: lasts exactly a day
    spend(f, local(2026, 6, 9, 12), "10.00", "y")
    spend(d, local(2026, 6, 9, 18), "45.00", "y")  # 30 cash + 15 post-pay: 35 of credit left < 45
    spend(foreign, local(2026, 6, 9, 18), "9.00", "y")  # 1 left < 9, but another agency's
    spend(a, local(2026, 6, 9, 23, 59, 59), "60.00", "y")  # 40 left < 60
    spend(b, local(2026, 6, 10, 0, 0, 0), "1.00", "today")  # today's spend is not the rate; b now has 49

    found = get(agency, "fund-anomalies")
    assert found["day"] == "2026-06-09" and found["at"] == NOW.isoformat()
    # the most urgent first: a lasts 0.66 of a day, d 0.77, b 0.98
    assert found["items"] == [
        {"org_id": a.org_id, "name": "Corner Shop", "yesterday_spend": "60.00", "available": "40.00",
         "shortfall": "20.00", "days_left": "0.66", "daily_budget": None},
        {"org_id": d.org_id, "name": "Credit Shop", "yesterday_spend": "45.00", "available": "35.00",
         "shortfall": "10.00", "days_left": "0.77", "daily_budget": "100.00"},
        {"org_id": b.org_id, "name": "Exact Shop", "yesterday_spend": "50.00", "available": "49.00",
         "shortfall": "1.00", "days_left": "0.98", "daily_budget": None},
    ]
    listed = {i["org_id"] for i in found["items"]}
    assert not listed & {c.org_id, e.org_id, f.org_id, foreign.org_id}

    world.offline(b.org_id, "1.00")  # back to exactly yesterday's spend: no longer an anomaly
    assert [i["name"] for i in get(agency, "fund-anomalies")["items"]] == ["Corner Shop", "Credit Shop"]

    # a second before midnight, "yesterday" is 8 June: only the quiet shop ran low on that day's rate
    early = get(agency, "fund-anomalies", at=local(2026, 6, 9, 23, 59, 59))
    assert early["day"] == "2026-06-08"
    assert [(i["name"], i["yesterday_spend"], i["available"]) for i in early["items"]] == [
        ("Quiet Shop", "95.00", "5.00")]
    assert get(rival.key, "fund-anomalies")["items"][0]["org_id"] == foreign.org_id


# -- performance ---------------------------------------------------------------------------------------

def test_performance_counts_principals_with_spend_per_month_and_quarter(world: World) -> None:
    agency = key_client(world, world.agency)
    p1 = the_merchant(world)
    p2, p3, p4 = (ours(world, name) for name in ("Second Shop", "Third Shop", "Gone Shop"))
    rival = new_org(world, "Rival Agency", "agency")
    foreign = add_principal(world, rival.key, rival.org_id, "Rival Shop")
    for p in (p1, p2, p3, p4, foreign):
        world.offline(p.org_id, "500.00")

    spend(p1, local(2025, 12, 31, 23, 59, 59), "10.00", "a")  # 2025-12
    spend(p1, local(2026, 1, 1, 0, 0, 0), "20.00", "b")  # 2026-01 (still 2025 in UTC)
    spend(p1, local(2026, 2, 15), "5.00", "c")
    spend(p3, local(2026, 2, 10), "3.00", "a")
    spend(p2, local(2026, 3, 31, 23, 59, 59), "7.00", "a")  # Q1
    spend(p2, local(2026, 4, 1, 0, 0, 0), "8.00", "b")  # Q2
    spend(p4, local(2026, 5, 1), "100.00", "a")
    spend(foreign, local(2026, 5, 1), "200.00", "a")
    spend(p3, local(2026, 10, 1, 0, 0, 0), "4.00", "b")  # Q4

    def table(p: dict[str, Any], key: str) -> list[tuple[str, int, str]]:
        return [(b["period"], b["principals_with_spend"], b["spend"]) for b in p[key]]

    perf = get(agency, "performance", at=None, year=2026)
    assert perf["year"] == 2026
    assert [(m, n) for m, n, _ in table(perf, "months")][3:5] == [("2026-04", 1), ("2026-05", 1)]

    r = world.agency.api.post(f"/api/v1/relations/{p4.rel_id}/terminate")
    assert r.status_code == 200, r.get_json()
    perf = get(agency, "performance", at=None, year=2026)
    assert table(perf, "months") == [
        ("2026-01", 1, "20.00"), ("2026-02", 2, "8.00"), ("2026-03", 1, "7.00"), ("2026-04", 1, "8.00"),
        ("2026-05", 0, "0.00"), ("2026-06", 0, "0.00"), ("2026-07", 0, "0.00"), ("2026-08", 0, "0.00"),
        ("2026-09", 0, "0.00"), ("2026-10", 1, "4.00"), ("2026-11", 0, "0.00"), ("2026-12", 0, "0.00")]
    assert table(perf, "quarters") == [("2026-Q1", 3, "35.00"), ("2026-Q2", 1, "8.00"), ("2026-Q3", 0, "0.00"),
                                       ("2026-Q4", 1, "4.00")]
    assert perf["year_total"] == {"period": "2026", "principals_with_spend": 3, "spend": "47.00", "principals": [
        {"org_id": p1.org_id, "name": "Corner Shop", "spend": "25.00"},
        {"org_id": p2.org_id, "name": "Second Shop", "spend": "15.00"},
        {"org_id": p3.org_id, "name": "Third Shop", "spend": "7.00"}]}  # which principals, most spend first
    assert [(x["org_id"], x["spend"]) for x in perf["quarters"][0]["principals"]] == [
        (p1.org_id, "25.00"), (p2.org_id, "7.00"), (p3.org_id, "3.00")]
    assert perf["months"][4]["principals"] == []  # the terminated principal is not listed any more

    last_year = get(agency, "performance", at=None, year=2025)
    assert [(q, n) for q, n, _ in table(last_year, "quarters")] == [
        ("2025-Q1", 0), ("2025-Q2", 0), ("2025-Q3", 0), ("2025-Q4", 1)]
    assert table(last_year, "months")[11] == ("2025-12", 1, "10.00")
    # no year: the current one on the Shanghai calendar
    assert get(agency, "performance", at=local(2026, 12, 31, 23, 59, 59))["year"] == 2026
    assert get(agency, "performance", at=local(2027, 1, 1, 0, 0, 0))["year_total"] == {
        "period": "2027", "principals_with_spend": 0, "spend": "0.00", "principals": []}
    rival_perf = get(rival.key, "performance", at=None, year=2026)
    assert rival_perf["year_total"] == {"period": "2026", "principals_with_spend": 1, "spend": "200.00",
                                        "principals": [{"org_id": foreign.org_id, "name": "Rival Shop",
                                                        "spend": "200.00"}]}


# -- who may see it ------------------------------------------------------------------------------------

PATHS = ["overview", "top-principals", "fund-anomalies", "performance"]


def test_only_agency_owners_and_admins_see_the_overview(world: World) -> None:
    finance = add_user(world.agency.api, world.agency.org_id, "agent.fin", ["finance"])
    for path in PATHS:
        for api in (world.agency.api, world.agency_admin, key_client(world, world.agency)):
            assert api.get(f"{URL}/{path}").status_code == 200, path
        # acting for a principal: still the agency's own figures
        r = world.agency.api.get(f"{URL}/{path}", headers={"X-Act-As-Org": world.merchant.org_id})
        assert r.status_code == 200, r.get_json()
        for api in (world.agency_employee, finance):  # employees see no funds
            r = api.get(f"{URL}/{path}")
            assert r.status_code == 403 and err(r) == "permission_denied", (path, r.get_json())
        for api in (world.customer.api, world.merchant.api, world.admin, world.supplier.api):
            r = api.get(f"{URL}/{path}")
            assert r.status_code == 403 and err(r) == "not_an_agency", (path, r.get_json())
        r = world.client.get(f"{URL}/{path}")
        assert r.status_code == 401
    empty = world.agency_admin.get(f"{URL}/overview").get_json()
    assert empty["principals"] == 1 and empty["spend"]["value"] == "0.00" and empty["arpu"]["value"] == "0.00"
    acting = world.agency.api.get(f"{URL}/overview", headers={"X-Act-As-Org": world.merchant.org_id})
    assert acting.get_json()["principals"] == 1  # the agency's principals, not the merchant's (none)


# -- validation ----------------------------------------------------------------------------------------

# validation_failed: one value of the wrong type, outside its list or range, or unknown;
# invalid_period: period, from and to that do not make a period together (or leave 2000-2100)
V, P = "validation_failed", "invalid_period"


@pytest.mark.parametrize(("path", "params", "field", "code"), [
    ("overview", {"period": "week"}, "period", V),
    ("overview", {"period": "range"}, "from", P),
    ("overview", {"period": "range", "from": "2026-06-01"}, "to", P),
    ("overview", {"to": "2026-06-01"}, "from", P),
    ("overview", {"from": "2026-06-10", "to": "2026-06-01"}, "to", P),
    ("overview", {"period": "today", "from": "2026-06-01"}, "from", P),
    ("overview", {"period": "7d", "to": "2026-06-01"}, "to", P),
    ("overview", {"from": "2026-13-01", "to": "2026-12-31"}, "from", V),
    ("overview", {"from": "2025-01-01", "to": "2026-01-02"}, "to", P),  # 367 days
    ("overview", {"foo": "1"}, "foo", V),
    ("overview", {"from": "0001-01-01", "to": "0001-01-01"}, "from", P),
    ("top-principals", {"from": "2026-01-01", "to": "9999-12-31"}, "to", P),
    ("top-principals", {"limit": "0"}, "limit", V),
    ("top-principals", {"limit": "101"}, "limit", V),
    ("top-principals", {"limit": "ten"}, "limit", V),
    ("top-principals", {"period": "90d"}, "period", V),
    ("fund-anomalies", {"period": "today"}, "period", V),
    ("performance", {"year": "1999"}, "year", V),
    ("performance", {"year": "twenty"}, "year", V),
])
def test_bad_parameters_are_422_naming_the_field(world: World, path: str, params: dict[str, str],
                                                 field: str, code: str) -> None:
    r = world.agency.api.get(f"{URL}/{path}", query_string=params)
    assert r.status_code == 422, r.get_json()
    body = r.get_json()["error"]
    assert body["code"] == code and field in body["details"], body


def test_the_longest_range_is_accepted(world: World) -> None:
    o = world.agency.api.get(f"{URL}/overview", query_string={"from": "2025-01-01", "to": "2026-01-01"})
    assert o.status_code == 200 and o.get_json()["period"]["days"] == 366
    assert o.get_json()["previous_period"] == {"name": "previous", "from": "2024-01-01", "to": "2024-12-31",
                                               "days": 366}
