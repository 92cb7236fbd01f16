"""Statement exports (api.md "Long work"): a background job writes CSV or XLSX, the job
resource reports its status and a download link."""
from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.e2e.wallet.conftest import World, err


def test_wallet_entries_export_as_csv_and_xlsx(world: World) -> None:
    c = world.customer
    world.offline(c.org_id, "100.00")
    for ref, amount in (("o-1", "10.00"), ("o-2", "25.50")):
        assert c.api.post(f"/api/v1/wallets/{c.org_id}/charges",
                          json={"amount": amount, "reference": ref}).status_code == 201
    r = c.api.post("/api/v1/exports", json={"kind": "wallet_entries", "org_id": c.org_id, "format": "csv",
                                            "filters": {"type": "charge"}})
    assert r.status_code == 202, r.get_json()
    job = c.api.get(f"/api/v1/exports/{r.get_json()['id']}").get_json()  # jobs run inline in tests
    assert (job["status"], job["row_count"], job["kind"]) == ("done", 2, "wallet_entries")
    got = c.api.get(job["download_url"])
    assert got.status_code == 200 and got.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(got.get_data(as_text=True).lstrip("\ufeff"))))
    assert [(x["reference"], x["amount"], x["cash"], x["cash_after"]) for x in rows] == [
        ("o-2", "-25.50", "25.50", "64.50"), ("o-1", "-10.00", "10.00", "90.00")]

    r = c.api.post("/api/v1/exports", json={"kind": "wallet_entries", "org_id": c.org_id, "format": "xlsx",
                                            "filters": {"from": "2000-01-01"}})
    job = c.api.get(f"/api/v1/exports/{r.get_json()['id']}").get_json()
    sheet = load_workbook(io.BytesIO(c.api.get(job["download_url"]).get_data())).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][:5] == ["created_at", "entry_id", "type", "reference", "amount"]
    assert [v[2] for v in values[1:]] == ["charge", "charge", "recharge"]


def test_export_permissions_and_filters(world: World) -> None:
    c = world.customer
    body = {"kind": "wallet_entries", "org_id": c.org_id, "format": "csv", "filters": {}}
    r = world.customer_user.post("/api/v1/exports", json=body)
    assert r.status_code == 403  # no funds, no statements
    r = world.other.api.post("/api/v1/exports", json=body)
    assert r.status_code == 404 and err(r) == "organization_not_found"
    r = c.api.post("/api/v1/exports", json={**body, "filters": {"colour": "red"}})
    assert r.status_code == 422 and err(r) == "invalid_filter"
    r = c.api.post("/api/v1/exports", json={**body, "filters": {"type": "bogus"}})
    assert r.status_code == 422 and err(r) == "invalid_filter"
    r = c.api.post("/api/v1/exports", json={**body, "filters": {"from": "2026-12-31", "to": "2026-01-01"}})
    assert r.status_code == 422 and err(r) == "invalid_filter" and "filters.to" in r.get_json()["error"]["details"]
    r = world.finance.post("/api/v1/exports", json=body)
    assert r.status_code == 202  # the platform's finance reads every statement


@pytest.mark.parametrize("filters, field", [
    ({"to": "9999-12-31"}, "filters.to"),  # its end would be a day past what a datetime holds
    ({"from": "0001-01-01"}, "filters.from"),
    ({"to": "1899-12-31"}, "filters.to"),  # as the list answers it
    ({"from": "9999-12-31T23:59:59-23:59"}, "filters.from"),
    ({"from": 20260101}, "filters.from"),
    ({"reference": ["a"]}, "filters.reference"),
    ({"reference": "x" * 101}, "filters.reference"),
    ({"reference": ""}, "filters.reference"),
])
def test_export_filters_the_job_could_not_run_are_refused_when_asked(world: World, filters: dict[str, Any],
                                                                     field: str) -> None:
    """Filters arrive as JSON and the job runs later: whatever it could not run is 422 now,
    naming the filter, not an export that fails."""
    c = world.customer
    r = c.api.post("/api/v1/exports", json={"kind": "wallet_entries", "org_id": c.org_id, "format": "csv",
                                            "filters": filters})
    assert r.status_code == 422 and err(r) == "invalid_filter", r.get_json()
    assert field in r.get_json()["error"]["details"]
    r = c.api.post("/api/v1/exports", json={"kind": "wallet_entries", "org_id": c.org_id, "format": "csv",
                                            "filters": {"from": "1900-01-01", "to": "9998-12-31",
                                                        "reference": "x" * 100}})
    assert r.status_code == 202 and r.get_json()["status"] == "done"  # the edges themselves are fine


def test_a_failed_export_tells_its_requester_it_failed_not_why(world: World, monkeypatch: Any) -> None:
    from application.wallet.exports import WalletEntriesExport

    def broken(*_: Any) -> Any:
        raise RuntimeError("SELECT secret FROM internals WHERE x = 'y'")

    monkeypatch.setattr(WalletEntriesExport, "rows", broken)
    c = world.customer
    r = c.api.post("/api/v1/exports", json={"kind": "wallet_entries", "org_id": c.org_id, "format": "csv"})
    job = c.api.get(f"/api/v1/exports/{r.get_json()['id']}").get_json()
    assert job["status"] == "failed" and "SELECT" not in job["error"] and "operator" in job["error"]


def test_an_export_is_read_under_the_rule_that_let_it_be_requested(world: World) -> None:
    """A finished export is the statement itself: a role without funds cannot poll or
    download one its organisation's owner made, another tenant cannot find it, and the
    task centre lists each caller's own requests."""
    c, a = world.customer, world.agency
    world.offline(c.org_id, "100.00")
    world.offline(a.org_id, "50.00")
    mine = c.api.post("/api/v1/exports", json={"kind": "wallet_entries", "org_id": c.org_id}).get_json()["id"]
    agency_job = a.api.post("/api/v1/exports", json={"kind": "agency_entries"}).get_json()["id"]
    for api, job in ((world.customer_user, mine), (world.agency_employee, agency_job)):
        for path in (f"/api/v1/exports/{job}", f"/api/v1/exports/{job}/download"):
            r = api.get(path)
            assert r.status_code == 403 and err(r) == "permission_denied", (path, r.get_json())
    for path in (f"/api/v1/exports/{mine}", f"/api/v1/exports/{mine}/download"):
        r = world.other.api.get(path)
        assert r.status_code == 404 and err(r) == "export_not_found"
    assert world.agency_admin.get(f"/api/v1/exports/{agency_job}/download").status_code == 200  # may export it too
    assert world.finance.get(f"/api/v1/exports/{mine}/download").status_code == 200  # reads every statement

    assert [j["id"] for j in c.api.get("/api/v1/exports").get_json()["items"]] == [mine]
    for api in (world.customer_user, world.agency_employee, world.agency_admin, world.other.api):
        assert api.get("/api/v1/exports").get_json()["items"] == []
    second = c.api.post("/api/v1/exports", json={"kind": "wallet_entries", "org_id": c.org_id,
                                                 "format": "xlsx"}).get_json()["id"]
    page = c.api.get("/api/v1/exports", query_string={"per_page": "1"}).get_json()
    assert ([j["id"] for j in page["items"]], page["total"]) == ([second], 2)


def test_an_export_row_has_every_figure_after_it_and_the_entrys_details(world: World) -> None:
    c = world.customer
    world.offline(c.org_id, "100.00", "slip 42")
    expires = "2030-01-01T00:00:00+08:00"
    r = world.admin.post(f"/api/v1/wallets/{c.org_id}/coupons", json={"kind": "traffic", "amount": "30.00",
                                                                      "expires_at": expires})
    assert r.status_code == 201, r.get_json()
    r = c.api.post("/api/v1/exports", json={"kind": "wallet_entries", "org_id": c.org_id, "format": "csv"})
    job = c.api.get(f"/api/v1/exports/{r.get_json()['id']}").get_json()
    rows = list(csv.DictReader(io.StringIO(c.api.get(job["download_url"]).get_data(as_text=True).lstrip("\ufeff"))))
    grant, recharge = rows
    assert (grant["coupons_after"], grant["coupons_normal_after"], grant["coupons_traffic_after"],
            grant["deposit_due_after"], grant["available_after"]) == ("30.00", "0.00", "30.00", "0.00", "130.00")
    details = dict(part.split("=", 1) for part in grant["details"].split("; "))
    assert (details["action"], details["kind"]) == ("grant", "traffic")
    assert details["expires_at"] == expires  # the coupon's expiry
    assert "channel=offline" in recharge["details"].split("; ")


@pytest.mark.parametrize("kind, who, denied, filters, tightened", [
    ("wallet_entries", "customer", "customer_user", {"type": "charge"}, {"type": "charge", "reference": "x" * 500}),
    ("agency_entries", "agency", "agency_employee", {}, {"from": "soon"}),
    ("agency_spend", "agency", "agency_employee", {"from": "2026-01-01", "to": "2026-01-31"},
     {"from": "2026-01-01", "to": "2026-01-31", "q": "x" * 1000}),
    ("agency_consumption", "agency", "agency_employee", {"from": "2026-01-01", "to": "2026-01-31"},
     {"from": "2026-01", "to": "2026-01-31", "colour": "red"}),
])
def test_an_export_made_under_looser_filter_rules_stays_readable(world: World, kind: str, who: str, denied: str,
                                                                 filters: dict[str, Any],
                                                                 tightened: dict[str, Any]) -> None:
    """Filters are checked when an export is asked for, not each time it is read: a file
    made before an upgrade tightened a filter's rule stays readable by whoever may read it,
    and by no one else; the same filters asked for now are refused."""
    from sqlalchemy import update

    from adapters.postgres import tables
    from application.shared.uow import UnitOfWorkFactory

    tenant = getattr(world, who)
    r = tenant.api.post("/api/v1/exports", json={"kind": kind, "format": "csv", "filters": filters})
    assert r.status_code == 202 and r.get_json()["status"] == "done", r.get_json()
    export_id = r.get_json()["id"]
    with world.container.get(UnitOfWorkFactory)() as uow:  # as if it were asked for before the upgrade
        jobs = tables.export_jobs
        uow.connection.execute(update(jobs).where(jobs.c.id == export_id).values(filters=tightened))
        uow.commit()
    r = tenant.api.get(f"/api/v1/exports/{export_id}")
    assert r.status_code == 200 and r.get_json()["status"] == "done", r.get_json()
    assert tenant.api.get(r.get_json()["download_url"]).status_code == 200
    assert world.other.api.get(f"/api/v1/exports/{export_id}").status_code == 404
    assert getattr(world, denied).get(f"/api/v1/exports/{export_id}").status_code == 403
    r = tenant.api.post("/api/v1/exports", json={"kind": kind, "format": "csv", "filters": tightened})
    assert r.status_code == 422 and err(r) == "invalid_filter", r.get_json()
