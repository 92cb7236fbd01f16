"""The delivery dashboard on a fixed data set, counted up to 00:00 today (today excluded).

"Today" is Wednesday 2019-11-20 (Beijing). The data set, by creation time:

    H 2018-11-01 completed 2018-11-10   outside the 365 days and the windows
    D 2019-10-01 completed 2019-10-02   cycle 1.0 day; in the 60-day window only
    F 2019-11-13 paused
    C 2019-11-14 09:00 completed 2019-11-16 21:00   cycle 2.5 days
    G 2019-11-15 running, overdue (customer side)
    E 2019-11-18 cancelled
    A 2019-11-19 running
    B 2019-11-20 08:00 running (today: excluded everywhere)
    X another vendor's project (never counted)

Average completion cycle = (1.0 + 2.5) / 2 = 1.75 -> "1.8" (one decimal, half up).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from freezegun import freeze_time

from application.identity import IdentityService
from application.shared.access import Caller
from application.workflow import ProjectService
from entrypoints.jobs import run_job
from tests.e2e import test_workflow_support as support
from tests.e2e.test_workflow_support import World, cst, ok
from tests.helpers import NEW_PASSWORD, Api

# fixtures of the shared workflow set-up
dispatch = support.dispatch
overrides = support.overrides
world = support.world


def short_nodes(form_id: str) -> list[dict[str, Any]]:
    return [
        {"type": "assign_provider", "name": "分配服务商"},
        {"type": "submit_requirements", "name": "提交需求", "form_template_id": form_id, "timeout_days": "1"},
        {"type": "complete", "name": "验收"},
    ]


def test_dashboard_figures_match_a_hand_computed_data_set(world: World, container: Any, client: Any,
                                                          tenant_factory: Any) -> None:
    other = tenant_factory("别家厂商", ["vendor"], "othervendor")
    identity = container.get(IdentityService)

    def caller(api: Api) -> Caller:
        assert api.token is not None
        return identity.caller_for_token(api.token)  # type: ignore[no-any-return]

    platform, vendor, customer = caller(world.platform), caller(world.vendor.api), caller(world.customer.api)
    svc = container.get(ProjectService)
    product = world.product(world.template(short_nodes(world.form_id))["id"])
    other_tpl = ok(other.api.post("/api/v1/flow-templates", json={"name": "t", "nodes": short_nodes(world.form_id)}),
                   201)
    ok(other.api.post(f"/api/v1/flow-templates/{other_tpl['id']}/publish"))
    other_product = ok(other.api.post("/api/v1/products", json={"code": "x", "name": "x", "kind": "service",
                                                                "vendor_org_id": other.org_id}), 201)
    ok(other.api.put(f"/api/v1/products/{other_product['id']}/flow-template", json={"template_id": other_tpl["id"]}))

    ids: dict[str, str] = {}

    def start(name: str, product_id: str = product["id"]) -> None:
        ids[name] = svc.start(platform, order_no=f"dash-{name}", product_id=product_id,
                              customer_org_id=world.customer.org_id)["id"]

    def complete(name: str) -> None:
        d = svc.detail(customer, ids[name])
        d = svc.submit_requirements(customer, ids[name], d["current_node"]["id"], {"site_name": name})
        d = svc.confirm(customer, ids[name], d["current_node"]["id"])
        assert d["status"] == "completed"

    steps: list[tuple[datetime, Callable[[], Any]]] = [
        (cst(2018, 11, 1, 10), lambda: start("H")),
        (cst(2018, 11, 10, 10), lambda: complete("H")),
        (cst(2019, 10, 1, 0), lambda: start("D")),
        (cst(2019, 10, 2, 0), lambda: complete("D")),
        (cst(2019, 11, 13, 12), lambda: start("F")),
        (cst(2019, 11, 13, 13), lambda: svc.pause(vendor, ids["F"], "等客户")),
        (cst(2019, 11, 14, 9), lambda: start("C")),
        (cst(2019, 11, 15, 9), lambda: start("G")),
        (cst(2019, 11, 16, 21), lambda: complete("C")),
        (cst(2019, 11, 18, 12), lambda: start("E")),
        (cst(2019, 11, 18, 13), lambda: svc.cancel(vendor, ids["E"], "客户退款")),
        (cst(2019, 11, 19, 10), lambda: start("A")),
        (cst(2019, 11, 19, 11), lambda: start("X", other_product["id"])),
        (cst(2019, 11, 20, 8), lambda: start("B")),
        (cst(2019, 11, 20, 9), lambda: run_job(container, "workflow.timeouts", {})),  # G is overdue since 18th
    ]
    with freeze_time(steps[0][0]) as frozen:
        for at, action in steps:
            frozen.move_to(at)
            action()
        assert svc.detail(vendor, ids["G"])["overdue_side"] == "customer"
        assert svc.detail(vendor, ids["A"])["overdue"] is False

        frozen.move_to(cst(2019, 11, 20, 9, 30))
        api = Api(client).login("vadmin", NEW_PASSWORD)
        day = ok(api.get("/api/v1/dashboards/delivery"))
        assert day["as_of"] == "2019-11-19T16:00:00+00:00"  # 00:00 today in Beijing
        assert day["average_completion_days"] == "1.8" and day["completed_last_365_days"] == 2
        assert day["new_projects"] == [
            {"period": "2019-11-13", "count": 1}, {"period": "2019-11-14", "count": 1},
            {"period": "2019-11-15", "count": 1}, {"period": "2019-11-16", "count": 0},
            {"period": "2019-11-17", "count": 0}, {"period": "2019-11-18", "count": 1},
            {"period": "2019-11-19", "count": 1}]
        assert day["status"] == {"total": 5, "delivered": 1, "running": 1, "overdue": 1, "paused": 1,
                                 "cancelled": 1}
        month = ok(api.get("/api/v1/dashboards/delivery?window=60&granularity=month"))
        assert month["new_projects"] == [
            {"period": "2019-06", "count": 0}, {"period": "2019-07", "count": 0},
            {"period": "2019-08", "count": 0}, {"period": "2019-09", "count": 0},
            {"period": "2019-10", "count": 1}, {"period": "2019-11", "count": 5}]
        assert month["status"] == {"total": 6, "delivered": 2, "running": 1, "overdue": 1, "paused": 1,
                                   "cancelled": 1}
        # the other vendor counts only its own project; customers have no dashboard
        theirs = ok(Api(client).login("othervendor", NEW_PASSWORD).get("/api/v1/dashboards/delivery"))
        assert theirs["status"]["total"] == 1 and theirs["average_completion_days"] is None
        r = Api(client).login("cadmin", NEW_PASSWORD).get("/api/v1/dashboards/delivery")
        assert r.status_code == 403
        r = api.get("/api/v1/dashboards/delivery?window=45")
        assert r.status_code == 422
        # one second before midnight the figures are those of the 19th: B is not yet counted,
        # and neither is A's day (yesterday then was the 18th)
        frozen.move_to(cst(2019, 11, 19, 23, 59, 59))
        api = Api(client).login("vadmin", NEW_PASSWORD)
        before = ok(api.get("/api/v1/dashboards/delivery"))
        assert before["new_projects"][-1] == {"period": "2019-11-18", "count": 1}
        assert before["status"]["total"] == 4  # F, C, G, E
