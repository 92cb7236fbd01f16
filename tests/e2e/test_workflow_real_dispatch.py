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
