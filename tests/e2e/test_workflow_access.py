"""Who sees and does what: notes never reach a customer, tenants are isolated, only the
current operator acts, managers pause/resume/cancel; lists filter; calendars."""
from __future__ import annotations

import io
from typing import Any

from freezegun import freeze_time

from tests.e2e import test_workflow_support as support
from tests.e2e.test_workflow_scenarios import role_nodes, solo_nodes
from tests.e2e.test_workflow_support import (
    FakeDispatch,
    World,
    add_user,
    cst,
    current,
    ok,
    parse,
)
from tests.helpers import NEW_PASSWORD, Api

# fixtures of the shared workflow set-up
dispatch = support.dispatch
overrides = support.overrides
world = support.world

SECRET = "NOTE-SECRET-7f3a 客户需求变更多次"


def test_a_customer_never_sees_a_note_in_any_response(world: World) -> None:
    vendor, customer = world.vendor.api, world.customer.api
    lisi_id, lisi = add_user(vendor, world.vendor.org_id, "lisi1010", "李四", ["designer"])
    product = world.product(world.template(role_nodes(world.form_id))["id"])
    d = world.start(product["id"], "210018")
    pid = d["id"]
    # notes from the vendor admin and the employee; a message for everyone
    assert ok(vendor.post(f"/api/v1/projects/{pid}/notes", json={"text": SECRET + " (vendor)"}), 201)["text"]
    ok(lisi.post(f"/api/v1/projects/{pid}/notes", json={"text": SECRET + " (designer)"}), 201)
    ok(lisi.post(f"/api/v1/projects/{pid}/messages", json={"text": "设计过程沟通良好"}), 201)
    notes = ok(vendor.get(f"/api/v1/projects/{pid}/notes"))["items"]
    assert [n["author_name"] for n in notes] == ["云梦DB admin", "李四"]
    assert ok(lisi.get(f"/api/v1/projects/{pid}/notes"))["items"][1]["text"] == SECRET + " (designer)"

    bodies: list[bytes] = []

    def see(r: Any, status: int = 200) -> Any:
        assert r.status_code == status, (r.status_code, r.get_json())
        bodies.append(r.data)
        return r.get_json()

    # the customer may not read or write notes
    see(customer.get(f"/api/v1/projects/{pid}/notes"), 403)
    see(customer.post(f"/api/v1/projects/{pid}/notes", json={"text": "x"}), 403)
    # every endpoint the customer uses, through the whole walk
    see(customer.get(f"/api/v1/projects/{pid}"))
    see(customer.get(f"/api/v1/projects/{pid}/log"))
    msgs = see(customer.get(f"/api/v1/projects/{pid}/messages"))
    assert [m["text"] for m in msgs["items"]] == ["设计过程沟通良好"]
    see(customer.post(f"/api/v1/projects/{pid}/messages", json={"text": "收到"}), 201)
    see(customer.get("/api/v1/purchased-services"))
    see(customer.get("/api/v1/projects"))
    see(customer.get("/api/v1/projects/mine"))
    up = see(customer.post(f"/api/v1/projects/{pid}/nodes/{current(d)['id']}/files",
                           data={"file": (io.BytesIO(b"brief"), "brief.txt")}, content_type="multipart/form-data"), 201)
    see(customer.get(f"/api/v1/projects/{pid}/files"))
    see(customer.get(f"/api/v1/projects/{pid}/files/{up['id']}"))
    d = see(customer.post(f"/api/v1/projects/{pid}/nodes/{current(d)['id']}/submit",
                          json={"values": {"site_name": "官网"}}))
    d = ok(lisi.post(f"/api/v1/projects/{pid}/nodes/{current(d)['id']}/confirm", json={}))
    ok(lisi.post(f"/api/v1/projects/{pid}/nodes/{current(d)['id']}/files",
                 data={"file": (io.BytesIO(b"png"), "home.png")}, content_type="multipart/form-data"), 201)
    d = ok(lisi.post(f"/api/v1/projects/{pid}/nodes/{current(d)['id']}/confirm", json={}))
    see(customer.post(f"/api/v1/projects/{pid}/nodes/{current(d)['id']}/reject", json={"reason": "不满意"}), 409)
    d = see(customer.post(f"/api/v1/projects/{pid}/nodes/{current(d)['id']}/confirm", json={}))
    assert d["status"] == "completed"
    see(customer.post(f"/api/v1/projects/{pid}/evaluation", json={"rating": 5, "comment": "好"}))
    see(customer.get(f"/api/v1/projects/{pid}"))
    see(customer.get(f"/api/v1/projects/{pid}/log"))
    see(customer.get("/api/v1/purchased-services?tab=completed"))
    see(customer.get("/api/v1/me/messages"))  # in-site reminders
    assert len(bodies) >= 20
    for raw in bodies:
        assert b"NOTE-SECRET" not in raw and SECRET.encode() not in raw
        assert b'"notes"' not in raw
    # while the provider side still sees them, and the customer's view is marked
    assert len(ok(vendor.get(f"/api/v1/projects/{pid}/notes"))["items"]) == 2
    assert ok(customer.get(f"/api/v1/projects/{pid}"))["viewer"] == "customer"
    assert lisi_id


def test_tenants_are_isolated(world: World, tenant_factory: Any) -> None:
    vendor, customer = world.vendor.api, world.customer.api
    product = world.product(world.template(solo_nodes(world.form_id))["id"])
    d = world.start(product["id"], "iso-1")
    pid, node_id = d["id"], current(d)["id"]
    other_vendor = tenant_factory("别家厂商", ["vendor"], "othervendor")
    other_customer = tenant_factory("别家客户", ["customer"], "othercustomer")
    other_provider = tenant_factory("别家服务商", ["provider"], "otherprovider")
    for outsider in (other_vendor.api, other_customer.api, other_provider.api):
        for r in (outsider.get(f"/api/v1/projects/{pid}"), outsider.get(f"/api/v1/projects/{pid}/log"),
                  outsider.get(f"/api/v1/projects/{pid}/messages"), outsider.get(f"/api/v1/projects/{pid}/files"),
                  outsider.post(f"/api/v1/projects/{pid}/messages", json={"text": "hi"}),
                  outsider.post(f"/api/v1/projects/{pid}/nodes/{node_id}/submit",
                                json={"values": {"site_name": "x"}}),
                  outsider.post(f"/api/v1/projects/{pid}/pause", json={"remark": "x"}),
                  outsider.post(f"/api/v1/projects/{pid}/cancel", json={"remark": "x"}),
                  outsider.get(f"/api/v1/calendars/{world.vendor.org_id}"),
                  outsider.get(f"/api/v1/products/{product['id']}")):
            assert r.status_code == 404, (r.request.path, r.get_json())
        assert ok(outsider.get("/api/v1/projects"))["total"] == 0
        assert ok(outsider.get("/api/v1/purchased-services"))["total"] == 0
    r = other_vendor.api.get(f"/api/v1/flow-templates/{d['template']['id']}")
    assert r.status_code == 404
    # the right customer sees it, the vendor too
    assert ok(customer.get("/api/v1/purchased-services"))["total"] == 1
    assert ok(vendor.get("/api/v1/projects"))["total"] == 1
    # a vendor cannot start projects on another vendor's product
    r = other_vendor.api.post("/api/v1/projects", json={"order_no": "x1", "product_id": product["id"],
                                                        "customer_org_id": other_customer.org_id})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "unknown_product"
    # ... but may start its own (the order system's endpoint)
    own = ok(other_vendor.api.post("/api/v1/products", json={"code": "1", "name": "n", "vendor_org_id":
                                                             other_vendor.org_id, "kind": "service"}), 201)
    r = other_vendor.api.post("/api/v1/projects", json={"order_no": "x1", "product_id": own["id"],
                                                        "customer_org_id": other_customer.org_id})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "product_without_template"


def test_manage_pause_resume_cancel_and_list_filters(world: World, dispatch: FakeDispatch) -> None:
    vendor, customer = world.vendor.api, world.customer.api
    _, lisi = add_user(vendor, world.vendor.org_id, "lisi1010", "李四", ["designer"])
    pm_id, pm = add_user(vendor, world.vendor.org_id, "pm1", "项目经理", ["vendor_project_manager"])
    product = world.product(world.template(role_nodes(world.form_id))["id"])
    a = world.start(product["id"], "1300011", business_no="B-1")
    b = world.start(product["id"], "1230015")
    c = world.start(product["id"], "126001001")
    # only managers pause; an employee or the customer cannot
    for api in (lisi, customer):
        r = api.post(f"/api/v1/projects/{a['id']}/pause", json={"remark": "x"})
        assert r.status_code in (403, 404)
    r = vendor.post(f"/api/v1/projects/{a['id']}/pause", json={})
    assert r.status_code == 422 and "remark" in r.get_json()["error"]["details"]
    d = ok(pm.post(f"/api/v1/projects/{a['id']}/pause", json={"remark": "客户要求暂停"}))
    assert d["status"] == "paused" and d["paused_at"] is not None
    r = customer.post(f"/api/v1/projects/{a['id']}/nodes/{current(d)['id']}/submit",
                      json={"values": {"site_name": "x"}})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "project_paused"
    r = pm.post(f"/api/v1/projects/{a['id']}/pause", json={"remark": "again"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "project_not_running"
    # the provider admin may pause too, but not cancel; the vendor cancels
    ok(vendor.post(f"/api/v1/projects/{b['id']}/cancel", json={"remark": "客户退款"}))
    assert dispatch.released == [b["id"]]
    r = vendor.post(f"/api/v1/projects/{b['id']}/resume", json={})
    assert r.status_code == 409

    tabs = {tab: [p["order_no"] for p in ok(vendor.get(f"/api/v1/projects?tab={tab}"))["items"]]
            for tab in ("running", "paused", "cancelled", "completed")}
    assert tabs == {"running": ["126001001"], "paused": ["1300011"], "cancelled": ["1230015"], "completed": []}
    assert ok(pm.get("/api/v1/projects?tab=paused"))["total"] == 1  # the project manager sees them all
    assert [p["order_no"] for p in ok(vendor.get("/api/v1/projects?tab=paused&order_no=B-1"))["items"]] == [
        "1300011"]
    assert ok(vendor.get("/api/v1/projects?tab=running&stage=客户提交"))["total"] == 1
    assert ok(vendor.get("/api/v1/projects?tab=running&stage=验收"))["total"] == 0
    assert ok(vendor.get(f"/api/v1/projects?tab=running&product_id={product['id']}"))["total"] == 1
    assert ok(vendor.get(f"/api/v1/projects?tab=running&customer_org_id={world.customer.org_id}"))["total"] == 1
    assert ok(vendor.get(f"/api/v1/projects?tab=running&provider_org_id={world.vendor.org_id}"))["total"] == 1
    assert ok(vendor.get("/api/v1/projects?tab=running&overdue=true"))["total"] == 0
    row = ok(vendor.get("/api/v1/projects?tab=running"))["items"][0]
    assert (row["product_name"], row["customer_name"], row["provider_name"], row["current_node_name"]) == (
        "name_56", "客户甲乙丙", "云梦DB", "客户提交需求")
    operator = row["current_operator_id"]
    assert operator is None  # the customer's node
    page = ok(vendor.get("/api/v1/projects?tab=running&per_page=1&page=2"))
    assert page["total"] == 1 and page["items"] == []
    r = vendor.get("/api/v1/projects?tab=archived")
    assert r.status_code == 422
    d = ok(pm.post(f"/api/v1/projects/{a['id']}/resume", json={"remark": "继续"}))
    assert d["status"] == "running"
    assert c["id"] and pm_id


def test_calendars_vendor_days_over_the_platform_and_warnings(world: World, client: Any) -> None:
    vendor, platform = world.vendor.api, world.platform
    org = world.vendor.org_id
    with freeze_time(cst(2020, 12, 1, 10)):
        vendor = Api(client).login("vadmin", NEW_PASSWORD)
        cal = ok(vendor.get(f"/api/v1/calendars/{org}"))
        assert cal["owner"] == org and cal["days"] == [] and cal["inherited_days"] > 30
        assert cal["missing_years"] == [2021] and "2021" in cal["warnings"][0]
        platform_cal = ok(vendor.get("/api/v1/calendars/platform"))
        assert {"date": "2019-10-01", "kind": "holiday"} in platform_cal["days"]
        assert {"date": "2019-10-12", "kind": "workday"} in platform_cal["days"]
        # the vendor's own days: a company holiday on a Tuesday, a worked Saturday
        r = vendor.put(f"/api/v1/calendars/{org}", json={"days": [{"date": "2019-11-05", "kind": "holiday"},
                                                                  {"date": "2019-11-05", "kind": "workday"}]})
        assert r.status_code == 422 and "days[1].date" in r.get_json()["error"]["details"]
        r = vendor.put(f"/api/v1/calendars/{org}", json={"days": [{"date": "2019-11-05", "kind": "party"}]})
        assert r.status_code == 422 and "days[0].kind" in r.get_json()["error"]["details"]
        cal = ok(vendor.put(f"/api/v1/calendars/{org}", json={"days": [{"date": "2019-11-05", "kind": "holiday"},
                                                                       {"date": "2019-11-09", "kind": "workday"}]}))
        assert cal["days"] == [{"date": "2019-11-05", "kind": "holiday"}, {"date": "2019-11-09", "kind": "workday"}]
        # only the platform edits the platform calendar; a customer cannot edit the vendor's
        r = vendor.put("/api/v1/calendars/platform", json={"days": []})
        assert r.status_code == 403
        customer = Api(client).login("cadmin", NEW_PASSWORD)
        assert customer.put(f"/api/v1/calendars/{org}", json={"days": []}).status_code == 404
        r = Api(client).login("root", "Admin12345").post("/api/v1/calendars/platform/official",
                                                         json={"years": [2021, 2199]})
        loaded = ok(r)
        assert loaded["loaded_years"] == [2021] and loaded["missing_years"] == [2199]
        assert ok(vendor.get(f"/api/v1/calendars/{org}"))["missing_years"] == []
    product = world.product(world.template(solo_nodes(world.form_id))["id"])
    with freeze_time(cst(2019, 11, 4, 9)):  # Monday; the vendor's holiday on Tuesday pushes the deadline
        platform_api = Api(client).login("root", "Admin12345")
        d = ok(platform_api.post("/api/v1/projects", json={"order_no": "cal-1", "product_id": product["id"],
                                                           "customer_org_id": world.customer.org_id}), 201)
        # 2 days: 15 h Monday, Tuesday off (vendor), 24 h Wednesday, 9 h Thursday
        assert parse(current(d)["deadline"]) == cst(2019, 11, 7, 9)
    assert platform


def test_export_of_a_tab_runs_as_a_background_job(world: World, tenant_factory: Any) -> None:
    vendor = world.vendor.api
    product = world.product(world.template(solo_nodes(world.form_id))["id"])
    world.start(product["id"], "exp-1", business_no="B-exp-1")
    world.start(product["id"], "exp-2")
    ok(vendor.post(f"/api/v1/projects/{world.start(product['id'], 'exp-3')['id']}/cancel", json={"remark": "退款"}))
    r = vendor.post("/api/v1/exports", json={"kind": "projects", "format": "csv",
                                             "filters": {"tab": "running", "order_no": "exp"}})
    job = ok(r, 202)
    job = ok(vendor.get(f"/api/v1/exports/{job['id']}"))
    assert (job["status"], job["row_count"]) == ("done", 2), job
    data = vendor.get(f"/api/v1/exports/{job['id']}/download").data.decode("utf-8-sig")
    lines = data.strip().splitlines()
    assert lines[0].startswith("order_no,business_no,product_code")
    assert sorted(line.split(",")[0] for line in lines[1:]) == ["exp-1", "exp-2"]
    r = vendor.post("/api/v1/exports", json={"kind": "projects", "filters": {"colour": "red"}})
    assert r.status_code == 422
    for filters, field in (({"overdue": []}, "filters.overdue"), ({"stage": 5}, "filters.stage"),
                           ({"customer_org_id": [1]}, "filters.customer_org_id"), ({"tab": "bogus"}, "filters.tab")):
        r = vendor.post("/api/v1/exports", json={"kind": "projects", "filters": filters})
        assert r.status_code == 422 and field in r.get_json()["error"]["details"], r.get_json()
    # the export holds its requester's scope: a designer (their own projects) or another
    # manager cannot read it, the platform can
    lisi_id, lisi = add_user(vendor, world.vendor.org_id, "lisi1010", "李四", ["designer"])
    _, pm = add_user(vendor, world.vendor.org_id, "pm1", "项目经理", ["vendor_project_manager"])
    for api in (lisi, pm):
        r = api.get(f"/api/v1/exports/{job['id']}/download")
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "permission_denied"
    assert world.platform.get(f"/api/v1/exports/{job['id']}/download").status_code == 200
    # the designer's own export ("my projects") stays theirs when their rights grow, and is
    # nobody else's: a manager who sees every project of the vendor still names another user
    mine = ok(lisi.post("/api/v1/exports", json={"kind": "projects", "filters": {"tab": "running"}}), 202)
    ok(vendor.patch(f"/api/v1/organizations/{world.vendor.org_id}/users/{lisi_id}",
                    json={"roles": ["designer", "vendor_project_manager"]}))
    assert lisi.get(f"/api/v1/exports/{mine['id']}/download").status_code == 200
    r = pm.get(f"/api/v1/exports/{mine['id']}/download")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "permission_denied"
    # another vendor's export of the same tab has nothing of mine
    other = tenant_factory("别家厂商", ["vendor"], "othervendor")
    job = ok(other.api.post("/api/v1/exports", json={"kind": "projects", "filters": {"tab": "running"}}), 202)
    assert ok(other.api.get(f"/api/v1/exports/{job['id']}"))["row_count"] == 0
