"""Deadlines, pause/resume and the timeout job through the application services, with
freezegun on the real 2019 and 2020 Chinese calendars (loaded by the platform's loader).

Times are Beijing wall-clock (``cst``); the services get callers built from real logins.
"""
from __future__ import annotations

import copy
from typing import Any

from freezegun import freeze_time

from adapters.notifications.console import RecordingSms
from application.identity import IdentityService
from application.shared.access import Caller
from application.shared.paging import PageRequest
from application.workflow import ProjectListService, ProjectService, TimeoutService
from entrypoints.jobs import run_job
from tests.e2e import test_workflow_support as support
from tests.e2e.test_workflow_scenarios import solo_nodes
from tests.e2e.test_workflow_support import (
    FakeDispatch,
    World,
    cst,
    node,
    sms_with,
)
from tests.helpers import Api

# fixtures of the shared workflow set-up
dispatch = support.dispatch
overrides = support.overrides
world = support.world


def caller(container: Any, api: Api) -> Caller:
    assert api.token is not None
    return container.get(IdentityService).caller_for_token(api.token)  # type: ignore[no-any-return]


class Actors:
    def __init__(self, container: Any, world: World) -> None:
        self.platform = caller(container, world.platform)
        self.vendor = caller(container, world.vendor.api)
        self.customer = caller(container, world.customer.api)


def timed_nodes(form_id: str) -> list[dict[str, Any]]:
    nodes = copy.deepcopy(solo_nodes(form_id))
    nodes[1]["timeout_days"] = "1"
    late = {"receiver": "provider_admin", "trigger": "timeout", "message_template": "超时-通知服务商"}
    nodes[1]["reminders"] = [late]
    nodes[2].update(timeout_days="0.5", advance_on_timeout=True, rejectable=False, labels={},
                    reminders=[late])
    nodes[3]["children"][0].update(timeout_days="1.5", upload=False)
    nodes[4].update(timeout_days="1", advance_on_timeout=True, reminders=[])
    return nodes


def start(container: Any, world: World, actors: Actors, nodes: list[dict[str, Any]], order_no: str) -> dict[str, Any]:
    product = world.product(world.template(nodes)["id"], code=f"p{order_no}")
    return container.get(ProjectService).start(actors.platform, order_no=order_no, product_id=product["id"],  # type: ignore[no-any-return]
                                               customer_org_id=world.customer.org_id)


def cur(detail: dict[str, Any]) -> dict[str, Any]:
    assert detail["current_node"] is not None
    return detail["current_node"]  # type: ignore[no-any-return]


def test_deadlines_on_the_2019_national_day_calendar_with_a_pause_across_it(container: Any, world: World) -> None:
    actors = Actors(container, world)
    svc = container.get(ProjectService)
    nodes = solo_nodes(world.form_id)  # submit_requirements: 2 working days
    with freeze_time(cst(2019, 9, 27, 10)) as frozen:  # Friday before the National Day week
        d = start(container, world, actors, nodes, "nd-2019")
        pid = d["id"]
        # 14 h Friday, Saturday off, Sunday 29th is a make-up working day (24 h), 10 h Monday 30th
        assert cur(d)["deadline"] == cst(2019, 9, 30, 10)
        frozen.move_to(cst(2019, 9, 29, 12))  # paused on the make-up Sunday: 26 h used, 22 h left
        svc.pause(actors.vendor, pid, "客户出差")
        frozen.move_to(cst(2019, 10, 8, 9))  # resumed after the holiday week
        d = svc.resume(actors.vendor, pid)
        # the 22 h left run from Tuesday Oct 8 09:00: 15 h that day, 7 h on Wednesday
        assert cur(d)["deadline"] == cst(2019, 10, 9, 7)
        log = svc.log(actors.vendor, pid)
        assert [e["kind"] for e in log][-2:] == ["paused", "resumed"]
        assert next(e for e in log if e["kind"] == "paused")["remark"] == "客户出差"
        # the customer submits late on Oct 8; confirm (1 day) entered Tuesday 20:00 ends Wednesday 20:00
        frozen.move_to(cst(2019, 10, 8, 20))
        d = svc.submit_requirements(actors.customer, pid, cur(d)["id"], {"site_name": "官网"})
        assert cur(d)["name"] == "确认需求" and cur(d)["deadline"] == cst(2019, 10, 9, 20)
        # make-up Saturday Oct 12 counts: confirm on Friday Oct 11 18:00, design (3 days) ends Tuesday 18:00
        frozen.move_to(cst(2019, 10, 11, 18))
        d = svc.confirm(actors.vendor, pid, cur(d)["id"])
        assert cur(d)["name"] == "设计首页"
        # 6 h Fri + 24 h Sat 12th (make-up) + Sun off + 24 h Mon 14th + 18 h Tue 15th
        assert cur(d)["deadline"] == cst(2019, 10, 15, 18)


def test_spring_festival_2020_and_fractional_days(container: Any, world: World) -> None:
    actors = Actors(container, world)
    svc = container.get(ProjectService)
    with freeze_time(cst(2020, 1, 23, 12)) as frozen:  # Thursday before the (extended) Spring Festival
        d = start(container, world, actors, timed_nodes(world.form_id), "sf-2020")
        # 1 day: 12 h on Jan 23, Jan 24 - Feb 2 off, 12 h on Monday Feb 3
        assert cur(d)["deadline"] == cst(2020, 2, 3, 12)
        frozen.move_to(cst(2020, 2, 7, 10))  # Friday
        d = svc.submit_requirements(actors.customer, d["id"], cur(d)["id"], {"site_name": "x"})
        # 0.5 day = 12 h: 14 h left on Friday
        assert cur(d)["deadline"] == cst(2020, 2, 7, 22)
        d = svc.confirm(actors.vendor, d["id"], cur(d)["id"])
        # 1.5 days from Friday 10:00: 14 h Friday, weekend off, 22 h Monday -> Monday 22:00
        assert cur(d)["name"] == "设计首页" and cur(d)["deadline"] == cst(2020, 2, 10, 22)


def test_a_timeout_fires_once_and_advances_when_configured(container: Any, world: World, sms: RecordingSms,
                                                           dispatch: FakeDispatch) -> None:
    actors = Actors(container, world)
    svc = container.get(ProjectService)
    timeouts = container.get(TimeoutService)
    with freeze_time(cst(2019, 11, 4, 9)) as frozen:  # Monday
        d = start(container, world, actors, timed_nodes(world.form_id), "to-1")
        pid = d["id"]
        submit = cur(d)
        assert submit["deadline"] == cst(2019, 11, 5, 9)

        frozen.move_to(cst(2019, 11, 5, 8, 59, 59))  # one second before
        assert run_job(container, "workflow.timeouts", {})["fired"] == 0
        assert svc.detail(actors.vendor, pid)["overdue"] is False

        frozen.move_to(cst(2019, 11, 5, 9))  # at the deadline
        report = run_job(container, "workflow.timeouts", {})
        assert (report["due"], report["fired"], report["advanced"]) == (1, 1, 0)
        d = svc.detail(actors.vendor, pid)
        assert (d["overdue"], d["overdue_side"]) == (True, "customer")
        assert cur(d)["id"] == submit["id"] and cur(d)["overdue"] is True  # no advance on this node
        timeout_sms = sms_with(sms, "超时-通知服务商")
        assert [m.phone for m in timeout_sms] == ["+8613800138001"]

        frozen.move_to(cst(2019, 11, 5, 9, 0, 30))  # the job runs again: nothing more is sent
        assert run_job(container, "workflow.timeouts", {}) == {"due": 0, "fired": 0, "advanced": 0,
                                                                "completed": 0, "failed": 0}
        assert len(sms_with(sms, "超时-通知服务商")) == 1
        lists = container.get(ProjectListService)
        assert [r["id"] for r in lists.list(actors.vendor, PageRequest(), "running", overdue=True).items] == [pid]

        frozen.move_to(cst(2019, 11, 5, 9, 30))  # the customer submits: the overdue flag goes
        d = svc.submit_requirements(actors.customer, pid, submit["id"], {"site_name": "官网"})
        assert d["overdue"] is False and cur(d)["name"] == "确认需求"
        assert cur(d)["deadline"] == cst(2019, 11, 5, 21, 30)  # 0.5 day

        frozen.move_to(cst(2019, 11, 5, 21, 30))  # the confirm node advances on timeout
        report = run_job(container, "workflow.timeouts", {})
        assert (report["fired"], report["advanced"]) == (1, 1)
        assert len(sms_with(sms, "超时-通知服务商")) == 2
        d = svc.detail(actors.vendor, pid)
        assert cur(d)["name"] == "设计首页" and d["overdue"] is False
        confirm = node(d, "确认需求")["instances"][-1]
        assert (confirm["outcome"], confirm["overdue"]) == ("advanced_on_timeout", True)
        log = svc.log(actors.vendor, pid)
        assert ("node_timed_out", "确认需求") in [(e["kind"], e["subject"]) for e in log]

        frozen.move_to(cst(2019, 11, 6, 8))
        d = svc.confirm(actors.vendor, pid, cur(d)["id"])
        assert cur(d)["name"] == "项目验收" and cur(d)["deadline"] == cst(2019, 11, 7, 8)
        frozen.move_to(cst(2019, 11, 7, 8))  # the customer never answers: auto-complete
        report = timeouts.run()
        assert (report.fired, report.advanced, report.completed) == (1, 1, 1)
        d = svc.detail(actors.vendor, pid)
        assert d["status"] == "completed" and d["completed_at"] == cst(2019, 11, 7, 8)
        assert dispatch.released == [pid]
        assert svc.log(actors.vendor, pid)[-1]["kind"] == "completed"
        assert timeouts.run().due == 0


def test_a_paused_project_does_not_time_out(container: Any, world: World, sms: RecordingSms) -> None:
    actors = Actors(container, world)
    svc = container.get(ProjectService)
    with freeze_time(cst(2019, 11, 4, 9)) as frozen:
        d = start(container, world, actors, timed_nodes(world.form_id), "pause-1")
        pid = d["id"]
        frozen.move_to(cst(2019, 11, 4, 15))  # 6 h used, 18 h left
        svc.pause(actors.vendor, pid, "等待客户资料")
        frozen.move_to(cst(2019, 11, 11, 9))  # a week later, long past the old deadline
        assert run_job(container, "workflow.timeouts", {})["due"] == 0
        assert sms_with(sms, "超时-通知服务商") == []
        d = svc.resume(actors.vendor, pid, "资料已到")
        assert cur(d)["deadline"] == cst(2019, 11, 12, 3)  # 15 h Monday + 3 h Tuesday
        frozen.move_to(cst(2019, 11, 12, 3))
        assert run_job(container, "workflow.timeouts", {})["fired"] == 1
