"""Workflow with the real dispatch module behind ``DispatchApi`` and ``ProjectAdvancer``:
queued projects continue their walk when capacity appears (provider and employee queues).

Skipped while the dispatch tables are not migrated (the dispatch issue adds them)."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import inspect

from tests.e2e.test_workflow_scenarios import role_nodes
from tests.e2e.test_workflow_support import World, add_user, build_world, current, ok


@pytest.fixture
def real_world(engine: Any, platform: Any, tenant_factory: Any) -> World:
    if "product_providers" not in inspect(engine).get_table_names():
        pytest.skip("the dispatch tables are not migrated yet")
    return build_world(platform, tenant_factory, calendar_years=())


def test_queued_projects_continue_when_dispatch_finds_capacity(real_world: World) -> None:
    w = real_world
    vendor, org = w.vendor.api, w.vendor.org_id
    lisi_id, _ = add_user(vendor, org, "lisi1010", "李四", ["designer"])
    product = w.product(w.template(role_nodes(w.form_id))["id"])

    # no provider configured: the project waits on assign_provider
    d = w.start(product["id"], "q-1")
    assert current(d)["type"] == "assign_provider" and current(d)["waiting_reason"]
    # the vendor configures itself as the provider: the sweep continues the walk to assign_order,
    # where no designer has capacity yet
    ok(vendor.put(f"/api/v1/products/{product['id']}/providers",
                  json=[{"provider_org_id": org, "weight": 10, "max_load": 5}]))
    d = ok(vendor.get(f"/api/v1/projects/{d['id']}"))
    assert d["provider"]["id"] == org
    assert current(d)["type"] == "assign_order" and current(d)["waiting_reason"]
    # capacity for the designer: the employee queue is swept and the project moves on
    ok(vendor.put(f"/api/v1/organizations/{org}/users/{lisi_id}/capacity", json={"max_load": 1, "accepting": True}))
    d = ok(vendor.get(f"/api/v1/projects/{d['id']}"))
    assert current(d)["name"] == "客户提交需求"
    assert d["operators"] == [{"role": "designer", "user_id": lisi_id, "name": "李四", "phone": None}]
    # a second order finds the designer full and queues; completing the first frees nothing until a sweep,
    # cancelling releases the load and a capacity change sweeps again
    d2 = w.start(product["id"], "q-2")
    assert current(d2)["type"] == "assign_order"
    ok(vendor.post(f"/api/v1/projects/{d['id']}/cancel", json={"remark": "客户退款"}))
    ok(vendor.put(f"/api/v1/organizations/{org}/users/{lisi_id}/capacity", json={"max_load": 2, "accepting": True}))
    d2 = ok(vendor.get(f"/api/v1/projects/{d2['id']}"))
    assert current(d2)["name"] == "客户提交需求"


def test_change_provider_moves_the_provider_load(real_world: World, platform: Any, tenant_factory: Any) -> None:
    """Loads follow a change of provider: the old one is released, the new one taken, and a
    full or unconfigured new provider is refused with nothing changed."""
    w = real_world
    vendor, org = w.vendor.api, w.vendor.org_id
    other = tenant_factory("北京服务商", ["provider"], "bj_admin")
    spare = tenant_factory("天津服务商", ["provider"], "tj_admin")
    for p in (other, spare):
        ok(platform.post(f"/api/v1/organizations/{org}/providers", json={"provider_org_id": p.org_id}), 201)
    product = w.product(w.template(role_nodes(w.form_id))["id"])
    ok(vendor.put(f"/api/v1/products/{product['id']}/providers",
                  json=[{"provider_org_id": org, "weight": 100, "max_load": 5},
                        {"provider_org_id": other.org_id, "weight": 1, "max_load": 0}]))

    def loads() -> dict[str, int]:
        rows = ok(vendor.get(f"/api/v1/products/{product['id']}/providers"))
        rows = rows["items"] if isinstance(rows, dict) else rows
        return {r["provider_org_id"]: r["current_load"] for r in rows}

    d = w.start(product["id"], "cp-1")
    assert d["provider"]["id"] == org and loads() == {org: 1, other.org_id: 0}
    # the new provider is full: refused, nothing moves
    r = vendor.post(f"/api/v1/projects/{d['id']}/change-provider", json={"provider_org_id": other.org_id})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "provider_full"
    r = vendor.post(f"/api/v1/projects/{d['id']}/change-provider", json={"provider_org_id": spare.org_id})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "provider_not_configured"
    assert loads() == {org: 1, other.org_id: 0}
    assert ok(vendor.get(f"/api/v1/projects/{d['id']}"))["provider"]["id"] == org
    # room appears: the change goes through and the load moves with it
    ok(vendor.put(f"/api/v1/products/{product['id']}/providers",
                  json=[{"provider_org_id": org, "weight": 100, "max_load": 5},
                        {"provider_org_id": other.org_id, "weight": 1, "max_load": 1}]))
    d = ok(vendor.post(f"/api/v1/projects/{d['id']}/change-provider", json={"provider_org_id": other.org_id}))
    assert d["provider"]["id"] == other.org_id
    assert loads() == {org: 0, other.org_id: 1}
