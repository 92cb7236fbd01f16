"""Templates through HTTP: validation errors name the node and field; versions, approval,
public templates and copies; products bound to published templates; forms and messages."""
from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.e2e import test_workflow_support as support
from tests.e2e.test_workflow_scenarios import role_nodes, solo_nodes
from tests.e2e.test_workflow_support import (
    FakeDispatch,
    World,
    current,
    ok,
)

# fixtures of the shared workflow set-up
dispatch = support.dispatch
overrides = support.overrides
world = support.world


def broken(form_id: str, path: tuple[Any, ...], value: Any) -> list[dict[str, Any]]:
    nodes = copy.deepcopy(solo_nodes(form_id))
    target: Any = nodes
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return nodes


CASES = [
    # (path to change, new value, field named in the error, code)
    ((0, "type"), "confirm", "nodes[0].type", "invalid_template"),  # first node must be assign_provider
    ((4, "type"), "general", "nodes[4].type", "invalid_template"),  # last node must be complete
    ((2, "role"), KeyError, "nodes[2].role", "invalid_template"),  # provider-side node names a role
    ((2, "role"), "astronaut", "nodes[2].role", "unknown_role"),
    ((3, "children", 0, "timeout_days"), "1.25", "nodes[3].children[0].timeout_days", "invalid_timeout"),
    ((3, "children", 0, "timeout_days"), "-1", "nodes[3].children[0].timeout_days", "invalid_timeout"),
    ((2, "labels"), {"confirm": "  "}, "nodes[2].labels.confirm", "invalid_template"),
    ((1, "form_template_id"), "form_nope", "nodes[1].form_template_id", "unknown_form_template"),
    ((1, "reminders", 0, "message_template"), "无此模板-通知客户", "nodes[1].reminders[0].message_template",
     "unknown_message_template"),
    ((1, "reminders", 0, "trigger"), "sometime", "nodes[1].reminders[0].trigger", "invalid_template"),
    ((3, "children"), [], "nodes[3].children", "invalid_template"),
    ((2, "side"), "martian", "nodes[2].side", "invalid_template"),
]


@pytest.mark.parametrize(("path", "value", "field", "code"), CASES, ids=[c[2] + ":" + c[3] for c in CASES])
def test_template_validation_names_node_and_field(world: World, path: tuple[Any, ...], value: Any, field: str,
                                                   code: str) -> None:
    r = world.vendor.api.post("/api/v1/flow-templates", json={"name": "坏模板", "nodes": broken(world.form_id,
                                                                                                  path, value)})
    assert r.status_code == 422, r.get_json()
    err = r.get_json()["error"]
    assert err["code"] == code
    assert field in err["details"], err


def test_dispatch_rules_and_schema_errors_name_the_field(world: World) -> None:
    api = world.vendor.api
    nodes = role_nodes(world.form_id)
    nodes[1]["rule"] = "department_first"  # needs an earlier claim_order
    err = ok(api.post("/api/v1/flow-templates", json={"name": "t", "nodes": nodes}), 422)["error"]
    assert list(err["details"]) == ["nodes[1].rule"] and "claim_order" in err["details"]["nodes[1].rule"][0]
    # unknown fields and wrong types inside nested nodes are named the same way
    nodes = solo_nodes(world.form_id)
    nodes[3]["children"][0]["colour"] = "red"
    nodes[2]["rejectable"] = "maybe"
    err = ok(api.post("/api/v1/flow-templates", json={"name": "t", "nodes": nodes}), 422)["error"]
    assert set(err["details"]) == {"nodes[3].children[0].colour", "nodes[2].rejectable"}
    err = ok(api.post("/api/v1/flow-templates", json={"name": "t", "nodes": [], "extra": 1}), 422)["error"]
    assert "extra" in err["details"]


def test_versions_approval_and_running_projects_keep_their_version(world: World, platform: Any) -> None:
    api = world.vendor.api
    t = ok(api.post("/api/v1/flow-templates", json={"name": "网站设计", "nodes": solo_nodes(world.form_id)}), 201)
    tid = t["id"]
    assert (t["status"], t["latest_version"], t["current_version"], t["public"]) == ("draft", 1, None, False)
    # a draft cannot be bound; it can be edited
    p = ok(api.post("/api/v1/products", json={"code": "113001", "name": "name_113", "vendor_org_id":
                                              world.vendor.org_id, "kind": "service"}), 201)
    r = api.put(f"/api/v1/products/{p['id']}/flow-template", json={"template_id": tid})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "template_not_published"
    edited = solo_nodes(world.form_id)
    edited[2]["name"] = "确认需求(改)"
    t = ok(api.put(f"/api/v1/flow-templates/{tid}", json={"name": "网站设计", "nodes": edited}))
    assert t["versions"][0]["nodes"][2]["name"] == "确认需求(改)"
    t = ok(api.post(f"/api/v1/flow-templates/{tid}/publish"))
    assert (t["status"], t["current_version"]) == ("published", 1)
    # published versions are immutable
    r = api.put(f"/api/v1/flow-templates/{tid}", json={"name": "x", "nodes": edited})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "template_not_draft"
    ok(api.put(f"/api/v1/products/{p['id']}/flow-template", json={"template_id": tid}))
    first = world.start(p["id"], "v1-order")

    # a new version: draft -> publish -> waits for the platform -> approved
    v2 = solo_nodes(world.form_id)
    v2[2]["name"] = "确认需求 v2"
    t = ok(api.post(f"/api/v1/flow-templates/{tid}/versions", json={"name": "网站设计", "nodes": v2}), 201)
    assert (t["status"], t["latest_version"], t["current_version"]) == ("draft", 2, 1)
    t = ok(api.post(f"/api/v1/flow-templates/{tid}/publish"))
    assert (t["status"], t["current_version"]) == ("pending_approval", 1)
    r = api.post(f"/api/v1/flow-templates/{tid}/approve")  # the vendor cannot approve itself
    assert r.status_code == 404
    still_v1 = world.start(p["id"], "v1-again")
    assert still_v1["template"] == {"id": tid, "version": 1}
    t = ok(platform.post(f"/api/v1/flow-templates/{tid}/reject", json={"remark": "节点名称不规范"}))
    assert t["status"] == "draft" and t["versions"][1]["review_remark"] == "节点名称不规范"
    ok(api.post(f"/api/v1/flow-templates/{tid}/publish"))
    t = ok(platform.post(f"/api/v1/flow-templates/{tid}/approve"))
    assert (t["status"], t["current_version"]) == ("published", 2)
    second = world.start(p["id"], "v2-order")
    assert second["template"]["version"] == 2
    assert any(n["name"] == "确认需求 v2" for n in second["nodes"])
    # the running project stays on its version
    again = ok(api.get(f"/api/v1/projects/{first['id']}"))
    assert again["template"]["version"] == 1 and any(n["name"] == "确认需求(改)" for n in again["nodes"])


def test_public_templates_are_bound_or_copied(world: World, platform: Any, tenant_factory: Any) -> None:
    public = ok(platform.post("/api/v1/flow-templates", json={"name": "建站服务流模板1",
                                                              "nodes": solo_nodes(world.form_id)}), 201)
    assert public["public"] is True
    ok(platform.post(f"/api/v1/flow-templates/{public['id']}/publish"))
    vendor = world.vendor.api
    listed = ok(vendor.get("/api/v1/flow-templates?scope=public"))
    assert [t["id"] for t in listed["items"]] == [public["id"]]
    # bind directly
    p = ok(vendor.post("/api/v1/products", json={"code": "39001", "name": "name_39",
                                                 "vendor_org_id": world.vendor.org_id, "kind": "service"}), 201)
    ok(vendor.put(f"/api/v1/products/{p['id']}/flow-template", json={"template_id": public["id"]}))
    # vendors cannot change a public template, they copy it
    r = vendor.put(f"/api/v1/flow-templates/{public['id']}", json={"name": "x", "nodes": solo_nodes(world.form_id)})
    assert r.status_code == 403
    mine = ok(vendor.post(f"/api/v1/flow-templates/{public['id']}/copy", json={"name": "我的建站模板"}), 201)
    assert (mine["public"], mine["owner_org_id"], mine["copied_from"], mine["status"]) == (
        False, world.vendor.org_id, public["id"], "draft")
    assert ok(vendor.get("/api/v1/flow-templates?scope=mine"))["total"] == 1
    # another vendor sees the public template but not my copy, and cannot bind my template
    other = tenant_factory("别家厂商", ["vendor"], "othervendor")
    assert other.api.get(f"/api/v1/flow-templates/{mine['id']}").status_code == 404
    ok(vendor.post(f"/api/v1/flow-templates/{mine['id']}/publish"))
    q = ok(other.api.post("/api/v1/products", json={"code": "1", "name": "n", "vendor_org_id": other.org_id,
                                                    "kind": "service"}), 201)
    r = other.api.put(f"/api/v1/products/{q['id']}/flow-template", json={"template_id": mine["id"]})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "unknown_template"


def test_products_list_filters_and_rules(world: World, tenant_factory: Any) -> None:
    vendor = world.vendor.api
    t = world.template(solo_nodes(world.form_id), name="信息类网站建设模板")
    for code, name in (("56001", "name_56"), ("113001", "name_113"), ("39001", "name_39")):
        p = ok(vendor.post("/api/v1/products", json={"code": code, "name": name,
                                                     "vendor_org_id": world.vendor.org_id, "kind": "service"}), 201)
        if code != "39001":
            ok(vendor.put(f"/api/v1/products/{p['id']}/flow-template", json={"template_id": t["id"]}))
    r = vendor.post("/api/v1/products", json={"code": "56001", "name": "dup", "vendor_org_id": world.vendor.org_id,
                                              "kind": "service"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "product_code_taken"
    r = vendor.post("/api/v1/products", json={"code": "x", "name": "n", "vendor_org_id": world.vendor.org_id,
                                              "kind": "goods"})
    assert r.status_code == 422
    assert ok(vendor.get("/api/v1/products"))["total"] == 3
    assert [p["code"] for p in ok(vendor.get("/api/v1/products?code=113"))["items"]] == ["113001"]
    assert [p["name"] for p in ok(vendor.get("/api/v1/products?name=name_39"))["items"]] == ["name_39"]
    by_template = ok(vendor.get("/api/v1/products?template_name=信息类"))
    assert sorted(p["code"] for p in by_template["items"]) == ["113001", "56001"]
    assert ok(vendor.get(f"/api/v1/products?template_id={t['id']}"))["total"] == 2
    # tenant isolation: another vendor sees none and cannot create products for me
    other = tenant_factory("别家厂商", ["vendor"], "othervendor")
    assert ok(other.api.get("/api/v1/products"))["total"] == 0
    r = other.api.post("/api/v1/products", json={"code": "z", "name": "n", "vendor_org_id": world.vendor.org_id,
                                                 "kind": "service"})
    assert r.status_code == 404
    # a product without a template cannot start a project
    no_tpl = next(p for p in ok(vendor.get("/api/v1/products?code=39001"))["items"])
    r = world.platform.post("/api/v1/projects", json={"order_no": "o1", "product_id": no_tpl["id"],
                                                      "customer_org_id": world.customer.org_id})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "product_without_template"


def test_forms_and_message_templates_are_the_platforms(world: World) -> None:
    vendor, platform = world.vendor.api, world.platform
    r = vendor.post("/api/v1/form-templates", json={"name": "f", "fields": [{"key": "a", "label": "A",
                                                                             "type": "text"}]})
    assert r.status_code == 403
    r = vendor.post("/api/v1/message-templates", json={"name": "a-b", "title": "t", "body": "b"})
    assert r.status_code == 403
    r = platform.post("/api/v1/message-templates", json={"name": "没有接收者", "title": "t", "body": "b"})
    assert r.status_code == 422 and "name" in r.get_json()["error"]["details"]
    r = platform.post("/api/v1/message-templates", json={"name": "超时-通知服务商", "title": "t", "body": "b"})
    assert r.status_code == 409
    r = platform.post("/api/v1/form-templates", json={"name": "f", "fields": [
        {"key": "a", "label": "A", "type": "choice"}]})
    assert r.status_code == 422 and "fields[0].choices" in r.get_json()["error"]["details"]
    names = [m["name"] for m in ok(vendor.get("/api/v1/message-templates?name=项目完成"))["items"]]
    assert names == ["项目完成节点-通知客户", "项目完成节点-通知服务商"]
    forms = ok(vendor.get("/api/v1/form-templates"))["items"]
    assert [f["id"] for f in forms] == [world.form_id] and forms[0]["fields"][0]["required"] is True


def test_queued_for_a_provider_the_project_waits_on_the_first_node(world: World, dispatch: FakeDispatch) -> None:
    dispatch.provider_full = True
    product = world.product(world.template(solo_nodes(world.form_id))["id"])
    d = world.start(product["id"], "201901080")
    cur = current(d)
    assert (cur["type"], cur["waiting_reason"]) == ("assign_provider", "all providers are full")
    assert d["provider"] is None and d["nodes"][0]["state"] == "waiting"
    r = world.platform.post("/api/v1/projects", json={"order_no": "201901080", "product_id": product["id"],
                                                      "customer_org_id": world.customer.org_id})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "project_exists"
