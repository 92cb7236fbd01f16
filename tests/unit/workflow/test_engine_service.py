"""The application's project engine with fakes: the dispatch loop and who sees a project."""
from __future__ import annotations

from typing import Any

import pytest

from application.dispatch.api import Assignment, DispatchApi, EmployeeRequest, ProviderRequest
from application.shared.access import Caller
from application.shared.clock import Clock
from application.shared.uow import UnitOfWork
from application.workflow.engine import CalendarCache, ProjectEngine, view_of
from application.workflow.ports import ProjectQueries
from domain.shared.errors import NotFound
from domain.workflow.calendar import WorkCalendar
from domain.workflow.project import Actor, Project
from domain.workflow.templates import Flow, Node, validate_template
from tests.unit.workflow.helpers import cst, schedule

S = schedule()
NODES = [
    Node("assign_provider", "分配服务商"),
    Node("assign_order", "分配订单", role="designer", rule="provider_first"),
    Node("assign_order", "分配客户经理", role="account_manager", rule="provider_first"),
    Node("confirm", "确认", side="provider", role="designer"),
    Node("complete", "验收"),
]


class ScriptedDispatch(DispatchApi):
    def __init__(self, providers: list[str | None], employees: list[str | None]) -> None:
        self.providers, self.employees = providers, employees
        self.requests: list[Any] = []

    def assign_provider(self, uow: UnitOfWork, request: ProviderRequest) -> Assignment:
        self.requests.append(request)
        chosen = self.providers.pop(0)
        return Assignment(chosen, None if chosen else "all providers are full", {"n": len(self.requests)})

    def assign_employee(self, uow: UnitOfWork, request: EmployeeRequest) -> Assignment:
        self.requests.append(request)
        chosen = self.employees.pop(0)
        return Assignment(chosen, None if chosen else f"no employee with role {request.role}", {})

    def move_employee_load(self, uow: UnitOfWork, project_id: str, from_user_id: str, to_user_id: str) -> None:
        raise AssertionError("not used")

    def release_project(self, uow: UnitOfWork, project_id: str) -> None:
        raise AssertionError("not used")

    def take_provider(self, uow: UnitOfWork, request: ProviderRequest, provider_org_id: str) -> None:
        raise AssertionError("not used")


class FakeQueries:
    def __init__(self, participants: set[str]) -> None:
        self.participants = participants

    def is_participant(self, project_id: str, user_id: str) -> bool:
        return user_id in self.participants


class FakeUow:
    def __init__(self, participants: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.queries = FakeQueries(set(participants))

    def repo(self, port: type) -> Any:
        assert port is ProjectQueries
        return self.queries


def project() -> Project:
    flow = Flow.from_nodes(validate_template(NODES, {"designer", "account_manager"}, set()))
    return Project.start(id="prj_1", order_no="660012", product_id="prd_1", template_id="tpl_1",
                         template_version=1, vendor_org_id="org_v", customer_org_id="org_c", flow=flow,
                         now=cst(2019, 10, 16, 16), schedule=S)


def engine(dispatch: DispatchApi) -> ProjectEngine:
    return ProjectEngine(dispatch, Clock(), CalendarCache())


def test_drive_resolves_every_assignment_node_in_one_go() -> None:
    p = project()
    dispatch = ScriptedDispatch(["org_p"], ["usr_designer", "usr_am"])
    engine(dispatch).drive(FakeUow(), p, cst(2019, 10, 16, 16), S)  # type: ignore[arg-type]
    assert p.provider_org_id == "org_p"
    assert p.role_operators == {"designer": "usr_designer", "account_manager": "usr_am"}
    assert p.current is not None and (p.current.name, p.current.operator_id) == ("确认", "usr_designer")
    kinds = [type(r).__name__ for r in dispatch.requests]
    assert kinds == ["ProviderRequest", "EmployeeRequest", "EmployeeRequest"]
    assert [r.role for r in dispatch.requests[1:]] == ["designer", "account_manager"]


def test_drive_stops_at_a_queue_and_resumes_on_the_next_call() -> None:
    p = project()
    dispatch = ScriptedDispatch(["org_p"], [None, "usr_designer", "usr_am"])
    eng = engine(dispatch)
    eng.drive(FakeUow(), p, cst(2019, 10, 16, 16), S)  # type: ignore[arg-type]
    assert p.current is not None and p.current.name == "分配订单"
    assert p.current.waiting_reason == "no employee with role designer"
    # capacity appears (dispatch's sweep would call the advancer; here: drive again)
    eng.drive(FakeUow(), p, cst(2019, 10, 16, 17), S)  # type: ignore[arg-type]
    assert p.current is not None and p.current.name == "确认"


def test_a_paused_project_is_not_dispatched() -> None:
    p = project()
    p.queue_for_provider("all providers are full", cst(2019, 10, 16, 16))
    p.pause(Actor("usr_v", "org_v", frozenset({"vendor_admin"}), "v", "vendor_admin"), "wait", cst(2019, 10, 16, 17))
    dispatch = ScriptedDispatch(["org_p"], [])
    engine(dispatch).drive(FakeUow(), p, cst(2019, 10, 16, 18), S)  # type: ignore[arg-type]
    assert dispatch.requests == [] and p.provider_org_id is None


def caller(org: str, *roles: str, user: str | None = "usr_x", kinds: tuple[str, ...] = ("provider",)) -> Caller:
    return Caller(org_id=org, org_kinds=frozenset(kinds), roles=roles, user_id=user)


def test_who_sees_a_project() -> None:
    p = project()
    engine(ScriptedDispatch(["org_v"], ["usr_designer", "usr_am"])).drive(
        FakeUow(), p, cst(2019, 10, 16, 16), S)  # type: ignore[arg-type]
    uow: Any = FakeUow({"usr_past"})
    assert view_of(uow, caller("org_plat", "platform_admin", kinds=("platform",)), p) == "platform"
    assert view_of(uow, caller("org_v", "vendor_project_manager", kinds=("vendor", "provider")), p) == "vendor"
    assert view_of(uow, caller("org_v", "designer", user="usr_designer"), p) == "participant"
    assert view_of(uow, caller("org_v", "designer", user="usr_past"), p) == "participant"
    assert view_of(uow, caller("org_c", "customer_user", kinds=("customer",)), p) == "customer"
    for outsider in (caller("org_v", "designer", user="usr_other"), caller("org_x", "vendor_admin"),
                     caller("org_c2", "customer_admin")):
        with pytest.raises(NotFound):
            view_of(uow, outsider, p)


def test_the_calendar_cache_expires_and_clears() -> None:
    cache = CalendarCache()
    loads: list[int] = []

    def load() -> WorkCalendar:
        loads.append(1)
        return WorkCalendar()

    cache.get("platform", load)
    cache.get("platform", load)
    assert len(loads) == 1
    cache.clear()
    cache.get("platform", load)
    assert len(loads) == 2
    cache._entries["platform"] = (cache._entries["platform"][0] - CalendarCache.TTL_SECONDS - 1,
                                  WorkCalendar())
    cache.get("platform", load)
    assert len(loads) == 3
