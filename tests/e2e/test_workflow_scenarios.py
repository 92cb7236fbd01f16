"""Seed 001 §3's three delivery scenarios, end to end through HTTP.

1. §3.1 the provider admin delivers alone (no assign_order node; every provider-side
   node names the provider_admin role);
2. §3.2 dispatch to employees by role (assign_order provider_first, change operator);
3. §3.3 outsourcing: plan 1 by departments with an account manager's claim
   (claim_order + department_first), plan 2 by vendor -> provider with a provider change.
"""
from __future__ import annotations

import io
from typing import Any

from adapters.notifications.console import RecordingSms
from tests.e2e import test_workflow_support as support
from tests.e2e.test_workflow_support import (
    FakeDispatch,
    World,
    add_user,
    current,
    node,
    ok,
    sms_with,
)
from tests.helpers import Api

# fixtures of the shared workflow set-up
dispatch = support.dispatch
overrides = support.overrides
world = support.world


def reminders(form_id: str) -> dict[str, Any]:
    return {"form_template_id": form_id}


def solo_nodes(form_id: str) -> list[dict[str, Any]]:
    """§3.1: no assign_order; provider-side nodes are the provider admin's."""
    return [
        {"type": "assign_provider", "name": "分配服务商节点"},
        {"type": "submit_requirements", "name": "顾客提交需求", "form_template_id": form_id, "timeout_days": "2",
         "reminders": [{"receiver": "customer", "trigger": "enter", "message_template": "提交需求节点-通知客户"}]},
        {"type": "confirm", "name": "确认需求", "side": "provider", "role": "provider_admin", "rejectable": True,
         "timeout_days": 1, "labels": {"confirm": "需求无误", "reject": "需求不清"}},
        {"type": "container", "name": "网站设计", "children": [
            {"type": "general", "name": "设计首页", "side": "provider", "role": "provider_admin", "upload": True,
             "timeout_days": "3"},
        ]},
        {"type": "complete", "name": "项目验收", "rejectable": True, "timeout_days": "3", "advance_on_timeout": True,
         "reminders": [{"receiver": "customer", "trigger": "enter", "message_template": "项目完成节点-通知客户"},
                       {"receiver": "provider_admin", "trigger": "transition",
                        "message_template": "项目完成节点-通知服务商"}]},
    ]


def test_scenario_1_the_provider_admin_delivers_alone(world: World, dispatch: FakeDispatch,
                                                      sms: RecordingSms) -> None:
    vendor, customer = world.vendor.api, world.customer.api
    template = world.template(solo_nodes(world.form_id))
    assert template["status"] == "published" and template["current_version"] == 1
    product = world.product(template["id"])
    assert product["template_id"] == template["id"] and product["template_name"] == "网站设计"

    started = world.start(product["id"], "8000148312552", business_no="8000148315523", spec="尊贵版 (自营)",
                          valid_until="2020-06-05")
    pid = started["id"]
    # dispatch gave it to the vendor itself; the walk stopped at the customer's node
    assert started["status"] == "running" and started["provider"]["id"] == world.vendor.org_id
    cur = current(started)
    assert (cur["name"], cur["side"], cur["operator_id"]) == ("顾客提交需求", "customer", None)
    assert node(started, "分配服务商节点")["state"] == "done"
    assert node(started, "设计首页")["containers"] == ["网站设计"]
    assert started["business"] == {"product_name": "name_56", "spec": "尊贵版 (自营)", "order_no": "8000148312552",
                                   "business_no": "8000148315523", "customer_name": "客户甲乙丙",
                                   "valid_until": "2020-06-05"}
    assert len(sms_with(sms, "提交需求节点-通知客户")) == 1  # the enter reminder went to the customer admin
    assert sms.sent[-1].phone.endswith("13800138002")

    # the vendor cannot submit the customer's form; an incomplete form is refused naming the field
    r = vendor.post(f"/api/v1/projects/{pid}/nodes/{cur['id']}/submit", json={"values": {"site_name": "x"}})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_current_operator"
    r = customer.post(f"/api/v1/projects/{pid}/nodes/{cur['id']}/submit", json={"values": {"pages": "3"}})
    assert r.status_code == 422 and "values.site_name" in r.get_json()["error"]["details"]
    # the customer attaches a sketch and submits
    up = ok(customer.post(f"/api/v1/projects/{pid}/nodes/{cur['id']}/files",
                          data={"file": (io.BytesIO(b"sketch bytes"), "列表展示样式.xlsx")},
                          content_type="multipart/form-data"), 201)
    assert (up["name"], up["size"], up["node_name"]) == ("列表展示样式.xlsx", 12, "顾客提交需求")
    d = ok(customer.post(f"/api/v1/projects/{pid}/nodes/{cur['id']}/submit",
                         json={"values": {"site_name": "云梦DB官网", "pages": 5, "sketch": up["id"]}}))
    assert node(d, "顾客提交需求")["instances"][0]["requirements"] == {
        "site_name": "云梦DB官网", "pages": "5", "sketch": up["id"]}
    confirm = current(d)
    assert (confirm["name"], confirm["side"], confirm["role"]) == ("确认需求", "provider", "provider_admin")

    # the provider admin (the vendor's admin) rejects the requirements: back to the customer
    d = ok(vendor.post(f"/api/v1/projects/{pid}/nodes/{confirm['id']}/reject", json={"reason": "需求不清楚"}))
    again = current(d)
    assert again["name"] == "顾客提交需求" and again["id"] != cur["id"]
    assert node(d, "顾客提交需求")["instances"][-1]["deadline"] is not None
    d = ok(customer.post(f"/api/v1/projects/{pid}/nodes/{again['id']}/submit",
                         json={"values": {"site_name": "云梦DB官网 v2"}}))
    d = ok(vendor.post(f"/api/v1/projects/{pid}/nodes/{current(d)['id']}/confirm", json={"remark": "好"}))
    design = current(d)
    assert design["name"] == "设计首页"
    # a general node with uploads cannot be confirmed before a file is uploaded
    r = vendor.post(f"/api/v1/projects/{pid}/nodes/{design['id']}/confirm", json={})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "upload_required"
    ok(vendor.post(f"/api/v1/projects/{pid}/nodes/{design['id']}/files",
                   data={"file": (io.BytesIO(b"<html>home</html>"), "index.html")},
                   content_type="multipart/form-data"), 201)
    d = ok(vendor.post(f"/api/v1/projects/{pid}/nodes/{design['id']}/confirm", json={}))
    accept = current(d)
    assert (accept["name"], accept["side"]) == ("项目验收", "customer")
    # the customer rejects the delivery once, then accepts it
    d = ok(customer.post(f"/api/v1/projects/{pid}/nodes/{accept['id']}/reject", json={"reason": "首页颜色不对"}))
    redo = current(d)
    assert redo["name"] == "设计首页"
    d = ok(vendor.post(f"/api/v1/projects/{pid}/nodes/{redo['id']}/files",
                       data={"file": (io.BytesIO(b"v2"), "index-v2.html")}, content_type="multipart/form-data"), 201)
    d = ok(vendor.post(f"/api/v1/projects/{pid}/nodes/{redo['id']}/confirm", json={}))
    d = ok(customer.post(f"/api/v1/projects/{pid}/nodes/{current(d)['id']}/confirm", json={}))
    assert d["status"] == "completed" and d["current_node"] is None and d["completed_at"] is not None
    assert dispatch.released == [pid]
    assert len(sms_with(sms, "项目完成节点-通知服务商")) == 1, [(m.template, m.phone) for m in sms.sent]
    # files are downloadable by participants
    files = ok(customer.get(f"/api/v1/projects/{pid}/files"))["items"]
    assert [f["name"] for f in files] == ["列表展示样式.xlsx", "index.html", "index-v2.html"]
    r = customer.get(f"/api/v1/projects/{pid}/files/{files[1]['id']}")
    assert r.status_code == 200 and r.data == b"<html>home</html>"
    # messages end with the project; the customer evaluates once
    r = customer.post(f"/api/v1/projects/{pid}/messages", json={"text": "谢谢"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "project_finished"
    r = vendor.post(f"/api/v1/projects/{pid}/evaluation", json={"rating": 5, "comment": "自评"})
    assert r.status_code == 403
    d = ok(customer.post(f"/api/v1/projects/{pid}/evaluation", json={"rating": 4, "comment": "设计过程沟通良好"}))
    assert d["evaluation"]["rating"] == 4
    r = customer.post(f"/api/v1/projects/{pid}/evaluation", json={"rating": 5})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "already_evaluated"

    log = ok(vendor.get(f"/api/v1/projects/{pid}/log"))["items"]
    kinds = [(e["kind"], e["subject"]) for e in log]
    assert kinds[:4] == [("project_started", "project"), ("node_entered", "分配服务商节点"),
                         ("node_finished", "分配服务商节点"), ("node_entered", "顾客提交需求")]
    assert ("node_rejected", "确认需求") in kinds and ("node_rejected", "项目验收") in kinds
    assert ("container_entered", "网站设计") in kinds and ("completed", "project") in kinds
    assert kinds[-1] == ("evaluated", "project")
    rejected = next(e for e in log if e["kind"] == "node_rejected" and e["subject"] == "项目验收")
    assert (rejected["actor_role"], rejected["remark"]) == ("customer", "首页颜色不对")

    # lists: completed tab of the vendor, purchased services of the customer
    page = ok(vendor.get("/api/v1/projects?tab=completed"))
    assert page["total"] == 1 and page["items"][0]["order_no"] == "8000148312552"
    assert ok(vendor.get("/api/v1/projects?tab=running"))["total"] == 0
    bought = ok(customer.get("/api/v1/purchased-services"))
    assert bought["total"] == 1 and bought["items"][0]["status"] == "completed"
    # "processed by me": the vendor admin worked the provider nodes
    assert ok(vendor.get("/api/v1/projects/mine?view=processed"))["total"] == 1


def role_nodes(form_id: str) -> list[dict[str, Any]]:
    """§3.2: the designer role is dispatched to an employee."""
    return [
        {"type": "assign_provider", "name": "分配服务商节点"},
        {"type": "assign_order", "name": "分配订单", "role": "designer", "rule": "provider_first"},
        {"type": "submit_requirements", "name": "客户提交需求", "form_template_id": form_id},
        {"type": "confirm", "name": "设计师确定需求", "side": "provider", "role": "designer", "rejectable": True,
         "reminders": [{"receiver": "operator", "trigger": "enter", "message_template": "确认节点-通知操作人"}]},
        {"type": "general", "name": "设计师设计网站", "side": "provider", "role": "designer", "upload": True},
        {"type": "complete", "name": "项目验收"},
    ]


def test_scenario_2_dispatch_to_employees_by_role(world: World, dispatch: FakeDispatch, sms: RecordingSms) -> None:
    vendor, customer, org = world.vendor.api, world.customer.api, world.vendor.org_id
    lisi_id, lisi = add_user(vendor, org, "lisi1010", "李四", ["designer"], phone="13800138011")
    wangwu_id, wangwu = add_user(vendor, org, "wangwu1010", "王五", ["designer"], phone="13800138012")
    product = world.product(world.template(role_nodes(world.form_id))["id"])

    d = world.start(product["id"], "660012", business_no="660012001")
    pid = d["id"]
    assert d["operators"] == [{"role": "designer", "user_id": lisi_id, "name": "李四", "phone": "+8613800138011"}]
    assert node(d, "分配订单")["state"] == "done"
    assert node(d, "分配订单")["instances"][0]["decision"] == {"fake": True, "rule": "provider_first"}
    # a second order goes to the less loaded designer
    d2 = world.start(product["id"], "660013")
    assert d2["operators"][0]["user_id"] == wangwu_id

    # the customer never sees dispatch's explanation
    seen = ok(customer.get(f"/api/v1/projects/{pid}"))
    assert seen["viewer"] == "customer" and node(seen, "分配订单")["instances"][0]["decision"] is None
    d = ok(customer.post(f"/api/v1/projects/{pid}/nodes/{current(d)['id']}/submit",
                         json={"values": {"site_name": "官网"}}))
    cur = current(d)
    assert (cur["name"], cur["operator_id"], cur["operator_name"]) == ("设计师确定需求", lisi_id, "李四")
    assert [m.phone for m in sms_with(sms, "确认节点-通知操作人")] == ["+8613800138011"]

    # my projects: pending for 李四, not for 王五 (whose own project waits on the customer)
    pending = ok(lisi.get("/api/v1/projects/mine?view=pending"))
    assert [p["id"] for p in pending["items"]] == [pid]
    assert ok(wangwu.get("/api/v1/projects/mine?view=pending"))["total"] == 0
    # only the current operator acts; 王五 does not even see 李四's project
    r = wangwu.post(f"/api/v1/projects/{pid}/nodes/{cur['id']}/confirm", json={})
    assert r.status_code == 404
    # an employee sees only their own projects
    assert [p["id"] for p in ok(lisi.get("/api/v1/projects"))["items"]] == [pid]

    # the provider admin hands the project to 王五 (same role); loads move in dispatch
    r = vendor.post(f"/api/v1/projects/{pid}/change-operator", json={"user_id": world.customer_admin_id})
    assert r.status_code == 422
    d = ok(vendor.post(f"/api/v1/projects/{pid}/change-operator",
                       json={"user_id": wangwu_id, "remark": "李四请假"}))
    assert current(d)["operator_id"] == wangwu_id
    assert dispatch.moves == [(pid, lisi_id, wangwu_id)]
    r = lisi.post(f"/api/v1/projects/{pid}/nodes/{cur['id']}/confirm", json={})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_current_operator"
    # 李四 still sees the project he worked on (past operator), 王五 now acts
    assert ok(lisi.get(f"/api/v1/projects/{pid}"))["viewer"] == "participant"
    d = ok(wangwu.post(f"/api/v1/projects/{pid}/nodes/{cur['id']}/confirm", json={}))
    design = current(d)
    assert (design["name"], design["operator_id"]) == ("设计师设计网站", wangwu_id)
    ok(wangwu.post(f"/api/v1/projects/{pid}/nodes/{design['id']}/files",
                   data={"file": (io.BytesIO(b"png"), "home.png")}, content_type="multipart/form-data"), 201)
    d = ok(wangwu.post(f"/api/v1/projects/{pid}/nodes/{design['id']}/confirm", json={}))
    d = ok(customer.post(f"/api/v1/projects/{pid}/nodes/{current(d)['id']}/confirm", json={}))
    assert d["status"] == "completed"
    log = ok(vendor.get(f"/api/v1/projects/{pid}/log"))["items"]
    change = next(e for e in log if e["kind"] == "operator_changed")
    assert change["actor_id"] == world.vendor_admin_id and "李四请假" in change["remark"]
    assert f"{lisi_id} -> {wangwu_id}" in change["remark"]
    processed = ok(wangwu.get("/api/v1/projects/mine?view=processed"))
    assert [p["id"] for p in processed["items"]] == [pid]


def outsourcing_nodes(form_id: str) -> list[dict[str, Any]]:
    """§3.3 plan 1: each department sells and delivers; its account manager claims the order."""
    return [
        {"type": "assign_provider", "name": "分配服务商"},
        {"type": "claim_order", "name": "认领订单", "role": "account_manager", "timeout_days": "0"},
        {"type": "assign_order", "name": "分单", "role": "designer", "rule": "department_first"},
        {"type": "submit_requirements", "name": "需求提交", "form_template_id": form_id},
        {"type": "confirm", "name": "需求确认", "side": "provider", "role": "designer"},
        {"type": "complete", "name": "验收"},
    ]


def test_scenario_3_outsourcing_by_departments_with_a_claim(world: World, dispatch: FakeDispatch) -> None:
    vendor, customer, org = world.vendor.api, world.customer.api, world.vendor.org_id
    deps = [ok(vendor.post(f"/api/v1/organizations/{org}/departments", json={"name": f"外包公司{i}"}), 201)["id"]
            for i in (1, 2)]
    _, am1 = add_user(vendor, org, "am_one", "客户经理一", ["account_manager"], department_id=deps[0])
    am2_id, am2 = add_user(vendor, org, "am_two", "客户经理二", ["account_manager"], department_id=deps[1])
    add_user(vendor, org, "designer_one", "设计师一", ["designer"], department_id=deps[0])
    d2_id, designer2 = add_user(vendor, org, "designer_two", "设计师二", ["designer"], department_id=deps[1])
    product = world.product(world.template(outsourcing_nodes(world.form_id))["id"])

    d = world.start(product["id"], "1230011")
    pid = d["id"]
    cur = current(d)
    assert (cur["name"], cur["type"], cur["deadline"]) == ("认领订单", "claim_order", None)  # 0 days: no limit

    # clear codes: unknown number, wrong role
    r = am2.post("/api/v1/claims", json={"order_no": "999999"})
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "order_not_found"
    r = designer2.post("/api/v1/claims", json={"order_no": "1230011"})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "wrong_role"
    # the account manager of department 2 claims it: the order is dispatched inside department 2
    d = ok(am2.post("/api/v1/claims", json={"order_no": " 1230011 "}))
    assert d["claimed_by"] == am2_id
    assert {(o["role"], o["user_id"]) for o in d["operators"]} == {("account_manager", am2_id),
                                                                  ("designer", d2_id)}
    assert current(d)["name"] == "需求提交"
    claim_log = next(e for e in ok(vendor.get(f"/api/v1/projects/{pid}/log"))["items"]
                     if e["subject"] == "认领订单" and e["kind"] == "node_finished")
    assert (claim_log["actor_id"], claim_log["actor_role"]) == (am2_id, "account_manager")
    # already claimed, for anyone
    r = am1.post("/api/v1/claims", json={"order_no": "1230011"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "already_claimed"
    r = am2.post("/api/v1/claims", json={"order_no": "1230011"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "already_claimed"
    # the account manager of department 1 does not see department 2's project
    assert am1.get(f"/api/v1/projects/{pid}").status_code == 404
    assert ok(am2.get(f"/api/v1/projects/{pid}"))["viewer"] == "participant"

    # the rest is scenario 2
    d = ok(customer.post(f"/api/v1/projects/{pid}/nodes/{current(d)['id']}/submit",
                         json={"values": {"site_name": "外包官网"}}))
    d = ok(designer2.post(f"/api/v1/projects/{pid}/nodes/{current(d)['id']}/confirm", json={}))
    d = ok(customer.post(f"/api/v1/projects/{pid}/nodes/{current(d)['id']}/confirm", json={}))
    assert d["status"] == "completed" and dispatch.released == [pid]


def test_scenario_3_plan_2_vendor_outsources_to_a_provider_and_changes_it(
        world: World, dispatch: FakeDispatch, platform: Api, tenant_factory: Any) -> None:
    vendor, customer = world.vendor.api, world.customer.api
    hebei = tenant_factory("河北服务商", ["provider"], "hebei")
    beijing = tenant_factory("北京服务商", ["provider"], "beijing")
    for provider in (hebei, beijing):
        ok(platform.post(f"/api/v1/organizations/{world.vendor.org_id}/providers",
                         json={"provider_org_id": provider.org_id}), 201)
    _, hebei_designer = add_user(hebei.api, hebei.org_id, "hb_designer", "河北设计师", ["designer"])
    bj_designer_id, bj_designer = add_user(beijing.api, beijing.org_id, "bj_designer", "北京设计师", ["designer"])
    product = world.product(world.template(role_nodes(world.form_id))["id"])
    dispatch.provider_for[product["id"]] = hebei.org_id

    d = world.start(product["id"], "126001003")
    pid = d["id"]
    assert d["provider"] == {"id": hebei.org_id, "name": "河北服务商"}
    # the provider admin sees the provider's projects; the vendor sees its product's
    assert ok(hebei.api.get("/api/v1/projects"))["total"] == 1
    assert ok(vendor.get("/api/v1/projects"))["total"] == 1
    assert beijing.api.get(f"/api/v1/projects/{pid}").status_code == 404
    d = ok(customer.post(f"/api/v1/projects/{pid}/nodes/{current(d)['id']}/submit",
                         json={"values": {"site_name": "x"}}))
    assert current(d)["operator_name"] == "河北设计师"

    # only the vendor admin changes the provider, to a linked provider
    r = hebei.api.post(f"/api/v1/projects/{pid}/change-provider", json={"provider_org_id": beijing.org_id})
    assert r.status_code == 403
    r = vendor.post(f"/api/v1/projects/{pid}/change-provider", json={"provider_org_id": world.customer.org_id})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "unknown_provider"
    d = ok(vendor.post(f"/api/v1/projects/{pid}/change-provider",
                       json={"provider_org_id": beijing.org_id, "remark": "河北服务商产能不足"}))
    assert d["provider"]["id"] == beijing.org_id
    assert dispatch.released == [pid]  # the old provider's loads are released
    assert dispatch.taken_providers == [(pid, beijing.org_id)]  # and the new one's taken
    # the flow restarted: dispatch gave the designer role to 北京's designer; the customer submits again
    assert d["operators"] == [{"role": "designer", "user_id": bj_designer_id, "name": "北京设计师", "phone": None}]
    assert current(d)["name"] == "客户提交需求"
    assert hebei.api.get(f"/api/v1/projects/{pid}").status_code == 404
    assert hebei_designer.get(f"/api/v1/projects/{pid}").status_code == 404
    log = ok(vendor.get(f"/api/v1/projects/{pid}/log"))["items"]
    change = next(i for i, e in enumerate(log) if e["kind"] == "provider_changed")
    assert all(e["before_provider_change"] for e in log[:change])
    assert not any(e["before_provider_change"] for e in log[change:])
    assert "河北服务商产能不足" in log[change]["remark"]
    assert [e["kind"] for e in log[:3]] == ["project_started", "node_entered", "node_finished"]
    d = ok(customer.post(f"/api/v1/projects/{pid}/nodes/{current(d)['id']}/submit",
                         json={"values": {"site_name": "y"}}))
    ok(bj_designer.post(f"/api/v1/projects/{pid}/nodes/{current(d)['id']}/confirm", json={}))
