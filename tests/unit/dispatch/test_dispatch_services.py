"""Dispatch use cases through the real SQL adapters (SQLite by default, PostgreSQL in CI):
the DispatchApi contract, queues with reasons, immediate and hourly sweeps, change of
operator, release, and loads that always equal the holdings they count."""
from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from freezegun import freeze_time

from application.dispatch.api import Assignment, DispatchApi, EmployeeRequest, ProviderRequest
from application.dispatch.services import Dispatcher, DispatchService
from application.shared.access import Caller
from application.shared.uow import UnitOfWorkFactory
from domain.dispatch import ProviderSetting
from domain.identity.model import Organization, OrgRelation
from domain.identity.ports import RelationRepository
from domain.shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from domain.shared.ids import new_id
from entrypoints.jobs import run_job
from tests.fakes.dispatch import RecordingAdvancer, World, dispatch_overrides, install_products, provider_request, rows

CHI2_CRITICAL_1DOF_5PCT = 3.841
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def advancer() -> RecordingAdvancer:
    return RecordingAdvancer()


@pytest.fixture
def overrides(overrides: list[Any], advancer: RecordingAdvancer) -> list[Any]:
    return [*overrides, dispatch_overrides(advancer)]


@pytest.fixture
def world(container: Any) -> World:
    return World(container, install_products(container))


@pytest.fixture
def svc(container: Any) -> DispatchService:
    return container.get(DispatchService)  # type: ignore[no-any-return]


def assign_provider(container: Any, request: ProviderRequest) -> Assignment:
    with container.get(UnitOfWorkFactory)() as uow:
        result = container.get(DispatchApi).assign_provider(uow, request)
        uow.commit()
    return result  # type: ignore[no-any-return]


def assign_employee(container: Any, request: EmployeeRequest) -> Assignment:
    with container.get(UnitOfWorkFactory)() as uow:
        result = container.get(DispatchApi).assign_employee(uow, request)
        uow.commit()
    return result  # type: ignore[no-any-return]


def release(container: Any, project_id: str) -> None:
    with container.get(UnitOfWorkFactory)() as uow:
        container.get(DispatchApi).release_project(uow, project_id)
        uow.commit()


def employee_request(provider: Organization, role: str = "designer", rule: str = "provider_first",
                     department_id: str | None = None, project_id: str | None = None) -> EmployeeRequest:
    project_id = project_id or new_id("prj")
    return EmployeeRequest(project_id=project_id, order_no=f"O-{project_id[-8:]}", product_id="prd_x",
                           customer_org_id="org_customer", provider_org_id=provider.id, role=role, rule=rule,
                           department_id=department_id)


def queued(container: Any, kind: str) -> list[tuple[str, str]]:
    return [(r.project_id, r.reason) for r in rows(
        container, "SELECT project_id, reason FROM dispatch_queue WHERE kind = :k ORDER BY queued_at, project_id",
        k=kind)]


def load_of(container: Any, user_id: str) -> int:
    return int(rows(container, "SELECT current_load FROM employee_capacity WHERE user_id = :u", u=user_id)[0][0])


def provider_loads(container: Any, product_id: str) -> dict[str, int]:
    return {r.provider_org_id: r.current_load for r in rows(
        container, "SELECT provider_org_id, current_load FROM product_providers WHERE product_id = :p", p=product_id)}


def assert_loads_counted(container: Any) -> None:
    assert container.get(Dispatcher).load_mismatches() == []


def link(container: Any, vendor: Organization, provider: Organization) -> None:
    with container.get(UnitOfWorkFactory)() as uow:
        uow.repo(RelationRepository).add(OrgRelation.link_provider(vendor, provider, datetime.now(UTC)))
        uow.commit()


@pytest.fixture
def vendor_world(world: World, svc: DispatchService) -> dict[str, Any]:
    """A vendor V (its own default provider) linked to provider P, and one product."""
    vendor, vendor_admin = world.org("Vendor V", ["vendor"])
    provider, provider_admin = world.org("Provider P", ["provider"])
    link(world.container, vendor, provider)
    product = world.product(vendor)
    return {"vendor": vendor, "admin": vendor_admin, "provider": provider, "provider_admin": provider_admin,
            "product": product}


# -- providers ----------------------------------------------------------------------------


def test_weights_20_and_30_split_40_60_through_the_service(container: Any, svc: DispatchService,
                                                           vendor_world: dict[str, Any]) -> None:
    v, p, product = vendor_world["vendor"], vendor_world["provider"], vendor_world["product"]
    svc.set_product_providers(vendor_world["admin"], product,
                              [ProviderSetting(v.id, 20, 2000), ProviderSetting(p.id, 30, 2000)])
    counts: Counter[str] = Counter()
    with container.get(UnitOfWorkFactory)() as uow:
        api = container.get(DispatchApi)
        for n in range(2000):
            counts[api.assign_provider(uow, provider_request(product, v.id, n)).assignee] += 1
        uow.commit()
    expected = {v.id: 800, p.id: 1200}
    statistic = sum((counts[k] - expected[k]) ** 2 / expected[k] for k in expected)
    assert sum(counts.values()) == 2000 and set(counts) == set(expected)
    assert statistic < CHI2_CRITICAL_1DOF_5PCT, (counts, statistic)
    assert provider_loads(container, product) == {v.id: counts[v.id], p.id: counts[p.id]}
    assert_loads_counted(container)


def test_a_full_provider_drops_out_and_the_decision_explains_it(container: Any, svc: DispatchService,
                                                                vendor_world: dict[str, Any]) -> None:
    v, p, product = vendor_world["vendor"], vendor_world["provider"], vendor_world["product"]
    svc.set_product_providers(vendor_world["admin"], product,
                              [ProviderSetting(v.id, 99, 1), ProviderSetting(p.id, 1, 50)])
    first = assign_provider(container, provider_request(product, v.id))
    others = [assign_provider(container, provider_request(product, v.id, n)) for n in range(1, 20)]
    assignees = [first.assignee, *(a.assignee for a in others)]
    assert assignees.count(v.id) == 1  # weight 99 but max load 1
    assert assignees.count(p.id) == 19
    last = others[-1].explanation
    assert last["eligible"] == [p.id]
    by_id = {c["provider_id"]: c for c in last["candidates"]}
    assert by_id[v.id]["why"] == "full" and by_id[v.id]["current_load"] == 1
    assert by_id[p.id]["probability"] == "1/1"
    assert provider_loads(container, product) == {v.id: 1, p.id: 19}


def test_everyone_full_waits_with_the_reason_and_a_raised_max_load_dispatches_at_once(
        container: Any, svc: DispatchService, vendor_world: dict[str, Any], advancer: RecordingAdvancer) -> None:
    v, product, admin = vendor_world["vendor"], vendor_world["product"], vendor_world["admin"]
    first = provider_request(product, v.id, 1)
    unconfigured = assign_provider(container, first)
    assert unconfigured.assignee is None and unconfigured.reason == "no provider configured"
    assert queued(container, "provider") == [(first.project_id, "no provider configured")]
    svc.set_product_providers(admin, product, [ProviderSetting(v.id, 10, 1)])
    # the configuration gave capacity: the waiting project went at once
    assert advancer.calls == [("provider", first.project_id, v.id)]
    assert queued(container, "provider") == []

    waiting = provider_request(product, v.id, 2)
    result = assign_provider(container, waiting)
    assert result.assignee is None and result.reason == "all providers are full"
    assert queued(container, "provider") == [(waiting.project_id, "all providers are full")]
    assert advancer.calls[1:] == []

    svc.set_product_providers(admin, product, [ProviderSetting(v.id, 10, 2)])
    assert advancer.calls[1:] == [("provider", waiting.project_id, v.id)]
    assert queued(container, "provider") == []
    assert provider_loads(container, product) == {v.id: 2}
    trace = rows(container, "SELECT operation FROM audit_log WHERE target = :p", p=waiting.project_id)
    assert [r[0] for r in trace] == ["fake.provider_assigned"]  # the advancer ran in the sweep's transaction
    assert_loads_counted(container)


def test_lowering_a_max_load_or_changing_weights_sweeps_nothing(container: Any, svc: DispatchService,
                                                                vendor_world: dict[str, Any],
                                                                advancer: RecordingAdvancer) -> None:
    v, product, admin = vendor_world["vendor"], vendor_world["product"], vendor_world["admin"]
    svc.set_product_providers(admin, product, [ProviderSetting(v.id, 10, 1)])
    assign_provider(container, provider_request(product, v.id, 1))
    waiting = provider_request(product, v.id, 2)
    assign_provider(container, waiting)
    svc.set_product_providers(admin, product, [ProviderSetting(v.id, 80, 1)])
    svc.set_product_providers(admin, product, [ProviderSetting(v.id, 80, 0)])
    assert [c[1] for c in advancer.calls] == []
    assert queued(container, "provider") == [(waiting.project_id, "all providers are full")]


def test_provider_settings_are_checked(container: Any, svc: DispatchService, world: World,
                                       vendor_world: dict[str, Any]) -> None:
    v, product, admin = vendor_world["vendor"], vendor_world["product"], vendor_world["admin"]
    stranger, _ = world.org("Unlinked provider", ["provider"])
    with pytest.raises(ValidationFailed) as err:
        svc.set_product_providers(admin, product, [ProviderSetting(v.id, 10, 5), ProviderSetting(stranger.id, 10, 5)])
    assert err.value.code == "provider_not_linked" and err.value.field == "providers[1].provider_org_id"
    with pytest.raises(ValidationFailed) as err:
        svc.set_product_providers(admin, product, [ProviderSetting(v.id, 101, 5)])
    assert err.value.field == "providers[0].weight"
    with pytest.raises(ValidationFailed) as err:
        svc.set_product_providers(admin, product, [ProviderSetting(v.id, 1, 2001)])
    assert err.value.field == "providers[0].max_load"
    other_vendor, other_admin = world.org("Vendor W", ["vendor"])
    with pytest.raises(NotFound):
        svc.set_product_providers(other_admin, product, [ProviderSetting(other_vendor.id, 10, 5)])
    with pytest.raises(NotFound):
        svc.set_product_providers(admin, "prd_unknown", [ProviderSetting(v.id, 10, 5)])
    manager = Caller(org_id=v.id, org_kinds=v.kinds, roles=("vendor_project_manager",), user_id="usr_pm")
    with pytest.raises(Forbidden):
        svc.set_product_providers(manager, product, [ProviderSetting(v.id, 10, 5)])
    assert provider_loads(container, product) == {}


def test_a_removed_provider_keeps_its_load_until_released(container: Any, svc: DispatchService,
                                                         vendor_world: dict[str, Any]) -> None:
    v, p, product, admin = (vendor_world["vendor"], vendor_world["provider"], vendor_world["product"],
                            vendor_world["admin"])
    svc.set_product_providers(admin, product, [ProviderSetting(p.id, 10, 5)])
    held = provider_request(product, v.id)
    assert assign_provider(container, held).assignee == p.id
    svc.set_product_providers(admin, product, [ProviderSetting(v.id, 10, 5)])
    assert [r.provider_org_id for r in svc.product_providers(admin, product)] == [v.id]
    assert {r.provider_org_id for r in rows(container, "SELECT provider_org_id FROM product_providers")} == {v.id, p.id}
    assert {assign_provider(container, provider_request(product, v.id, n)).assignee for n in range(5)} == {v.id}
    release(container, held.project_id)
    assert provider_loads(container, product)[p.id] == 0
    assert_loads_counted(container)


# -- employees -------------------------------------------------------------------------------


def test_seed_table_3_of_50_against_0_of_20_and_0_of_30(container: Any, svc: DispatchService, world: World) -> None:
    provider, admin = world.org("Delivery Co", ["provider"])
    lisi = world.user(provider, "lisi", ["designer"])
    wangwu = world.user(provider, "wangwu", ["designer"])
    zhangsan = world.user(provider, "zhangsan", ["designer"])
    svc.set_capacity(admin, provider.id, lisi.id, 50, True)
    for _ in range(3):
        assert assign_employee(container, employee_request(provider)).assignee == lisi.id
    svc.set_capacity(admin, provider.id, wangwu.id, 20, True)
    svc.set_capacity(admin, provider.id, zhangsan.id, 30, True)
    result = assign_employee(container, employee_request(provider))
    explanation = result.explanation
    assert sorted(explanation["tied"]) == sorted([wangwu.id, zhangsan.id])
    assert explanation["tied"][explanation["draw"]] == result.assignee  # the seeded draw picked it
    assert explanation["best_ratio"] == "0/1"
    statuses = {c["user_id"]: (c["status"], c["ratio"]) for c in explanation["candidates"]}
    assert statuses[lisi.id] == ("eligible", "3/50")
    assert statuses[result.assignee] == ("chosen", "0/20" if result.assignee == wangwu.id else "0/30")
    # the other of the tie now has the smaller ratio: 0/x beats 1/y
    second = assign_employee(container, employee_request(provider))
    assert {result.assignee, second.assignee} == {wangwu.id, zhangsan.id}
    assert_loads_counted(container)


def test_employee_queue_reasons_and_a_raised_max_load_dispatches_at_once(
        container: Any, svc: DispatchService, world: World, advancer: RecordingAdvancer) -> None:
    provider, admin = world.org("Delivery Co", ["provider"])
    engineer_request = employee_request(provider, role="engineer")
    nobody = assign_employee(container, engineer_request)
    assert nobody.assignee is None and nobody.reason == "no employee with role engineer"
    designer = world.user(provider, "designer1", ["designer"])
    world.user(provider, "gone", ["designer"], status="suspended")
    svc.set_capacity(admin, provider.id, designer.id, 1, True)
    first = employee_request(provider)
    assert assign_employee(container, first).assignee == designer.id
    waiting = employee_request(provider)
    result = assign_employee(container, waiting)
    assert result.reason == "all employees of role designer are full"
    assert sorted(queued(container, "employee")) == sorted([
        (engineer_request.project_id, "no employee with role engineer"),
        (waiting.project_id, "all employees of role designer are full")])
    svc.set_capacity(admin, provider.id, designer.id, 2, True)
    assert advancer.calls == [("employee", waiting.project_id, designer.id)]
    assert [r[1] for r in queued(container, "employee")] == ["no employee with role engineer"]
    assert load_of(container, designer.id) == 2
    assert_loads_counted(container)


def test_switching_back_to_accepting_dispatches_at_once(container: Any, svc: DispatchService, world: World,
                                                       advancer: RecordingAdvancer) -> None:
    provider, admin = world.org("Delivery Co", ["provider"])
    designer = world.user(provider, "designer1", ["designer"])
    svc.set_capacity(admin, provider.id, designer.id, 3, False)
    waiting = employee_request(provider)
    assert assign_employee(container, waiting).reason == "no employee with role designer"
    me = Caller(org_id=provider.id, org_kinds=provider.kinds, roles=("designer",), user_id=designer.id)
    assert svc.my_capacity(me).accepting is False
    cap = svc.set_my_accepting(me, True)
    assert cap.accepting is True and cap.max_load == 3
    assert advancer.calls == [("employee", waiting.project_id, designer.id)]
    assert svc.my_capacity(me).current_load == 1
    svc.set_my_accepting(me, False)
    assert assign_employee(container, employee_request(provider)).assignee is None


def test_the_hourly_job_dispatches_the_rest_oldest_first(container: Any, svc: DispatchService, world: World,
                                                         advancer: RecordingAdvancer) -> None:
    provider, admin = world.org("Delivery Co", ["provider"])
    a, b = world.user(provider, "designer_a", ["designer"]), world.user(provider, "designer_b", ["designer"])
    svc.set_capacity(admin, provider.id, a.id, 1, True)
    svc.set_capacity(admin, provider.id, b.id, 1, True)
    busy = [employee_request(provider), employee_request(provider)]
    for request in busy:
        assert assign_employee(container, request).assignee is not None
    waiting = {}
    for minute, name in ((3, "third"), (1, "first"), (2, "second")):  # queued out of id order
        with freeze_time(T0.replace(minute=minute)):
            request = employee_request(provider)
            assert assign_employee(container, request).reason == "all employees of role designer are full"
            waiting[name] = request.project_id
    for request in busy:  # work finishes; nothing is swept until the hour
        release(container, request.project_id)
    assert advancer.calls == []
    report = run_job(container, "dispatch.sweep", {})
    assert report["employee"]["assigned"] == 2 and report["provider"]["assigned"] == 0
    assert [c[1] for c in advancer.calls] == [waiting["first"], waiting["second"]]
    assert {c[2] for c in advancer.calls} == {a.id, b.id}
    assert [r[0] for r in queued(container, "employee")] == [waiting["third"]]
    sweeps = rows(container, "SELECT project_id, via, explanation FROM dispatch_decisions WHERE via = 'sweep'")
    assert sorted(r.project_id for r in sweeps) == sorted([waiting["first"], waiting["second"]])
    assert_loads_counted(container)


def test_department_first_keeps_to_the_claimers_department(container: Any, svc: DispatchService,
                                                          world: World) -> None:
    provider, admin = world.org("Delivery Co", ["provider"])
    north, south = world.department(provider, "North"), world.department(provider, "South")
    busy_north = world.user(provider, "north1", ["engineer"], department_id=north)
    idle_south = world.user(provider, "south1", ["engineer"], department_id=south)
    svc.set_capacity(admin, provider.id, busy_north.id, 10, True)
    svc.set_capacity(admin, provider.id, idle_south.id, 10, True)
    for _ in range(3):
        assign_employee(container, employee_request(provider, "engineer", "department_first", north))
    assert load_of(container, busy_north.id) == 3 and load_of(container, idle_south.id) == 0
    result = assign_employee(container, employee_request(provider, "engineer", "provider_first"))
    assert result.assignee == idle_south.id
    nobody = assign_employee(container, employee_request(provider, "engineer", "department_first", "dep_none"))
    assert nobody.reason == "no employee with role engineer"


def test_capacity_is_set_by_the_providers_admin_only(container: Any, svc: DispatchService, world: World) -> None:
    provider, admin = world.org("Delivery Co", ["provider"])
    other, other_admin = world.org("Other Co", ["provider"])
    designer = world.user(provider, "designer1", ["designer"])
    with pytest.raises(NotFound):
        svc.set_capacity(other_admin, provider.id, designer.id, 5, True)
    with pytest.raises(NotFound):
        svc.set_capacity(other_admin, other.id, designer.id, 5, True)  # not a user of that org
    with pytest.raises(ValidationFailed) as err:
        svc.set_capacity(admin, provider.id, designer.id, 51, True)
    assert err.value.code == "invalid_max_load"
    employee = Caller(org_id=provider.id, org_kinds=provider.kinds, roles=("designer",), user_id=designer.id)
    with pytest.raises(Forbidden):
        svc.set_capacity(employee, provider.id, designer.id, 50, True)
    cap = svc.set_capacity(admin, provider.id, designer.id, 50, True)
    assert (cap.max_load, cap.accepting, cap.current_load) == (50, True, 0)
    customer, _ = world.org("Customer", ["customer"])
    with pytest.raises(Forbidden) as forbidden:
        svc.set_my_accepting(Caller(org_id=customer.id, org_kinds=customer.kinds, roles=("customer_admin",),
                                    user_id="usr_c"), True)
    assert forbidden.value.code == "not_a_provider"


# -- change of operator and release ------------------------------------------------------------


def test_change_operator_moves_the_load_only_to_spare_capacity(container: Any, svc: DispatchService,
                                                               world: World) -> None:
    provider, admin = world.org("Delivery Co", ["provider"])
    a, b = world.user(provider, "designer_a", ["designer"]), world.user(provider, "designer_b", ["designer"])
    svc.set_capacity(admin, provider.id, a.id, 2, True)
    first, second = employee_request(provider), employee_request(provider)
    assign_employee(container, first)
    assign_employee(container, second)
    api = container.get(DispatchApi)

    def move(project_id: str, from_id: str, to_id: str) -> None:
        with container.get(UnitOfWorkFactory)() as uow:
            api.move_employee_load(uow, project_id, from_id, to_id)
            uow.commit()

    with pytest.raises(Conflict) as err:
        move(first.project_id, a.id, b.id)
    assert err.value.code == "employee_full"  # b was never given a max load
    svc.set_capacity(admin, provider.id, b.id, 1, False)  # paused still takes a change of operator
    move(first.project_id, a.id, b.id)
    assert (load_of(container, a.id), load_of(container, b.id)) == (1, 1)
    with pytest.raises(Conflict) as err:
        move(second.project_id, a.id, b.id)
    assert err.value.code == "employee_full"
    with pytest.raises(Conflict) as err:
        move(second.project_id, b.id, a.id)
    assert err.value.code == "not_the_operator"
    with pytest.raises(Conflict) as err:
        move(second.project_id, a.id, a.id)
    assert err.value.code == "same_operator"
    assert (load_of(container, a.id), load_of(container, b.id)) == (1, 1)
    holders = rows(container, "SELECT holder_id FROM dispatch_holdings WHERE project_id = :p", p=first.project_id)
    assert [r[0] for r in holders] == [b.id]
    assert_loads_counted(container)


def test_release_frees_every_load_and_drops_the_queue_entry(container: Any, svc: DispatchService, world: World,
                                                            vendor_world: dict[str, Any]) -> None:
    v, product, admin = vendor_world["vendor"], vendor_world["product"], vendor_world["admin"]
    svc.set_product_providers(admin, product, [ProviderSetting(v.id, 10, 5)])
    designer = world.user(v, "vdesigner", ["designer"])
    svc.set_capacity(admin, v.id, designer.id, 1, True)
    project = provider_request(product, v.id)
    assert assign_provider(container, project).assignee == v.id
    request = employee_request(v, project_id=project.project_id)
    assert assign_employee(container, request).assignee == designer.id
    waiting = employee_request(v)
    assign_employee(container, waiting)
    release(container, project.project_id)
    release(container, waiting.project_id)
    assert provider_loads(container, product) == {v.id: 0}
    assert load_of(container, designer.id) == 0
    assert queued(container, "employee") == []
    assert rows(container, "SELECT * FROM dispatch_holdings") == []
    assert_loads_counted(container)


# -- dispatch now and failing continuations ------------------------------------------------------


def test_dispatch_now_runs_the_advancer_in_the_same_transaction(container: Any, svc: DispatchService, world: World,
                                                               advancer: RecordingAdvancer) -> None:
    provider, admin = world.org("Delivery Co", ["provider"])
    _, other_admin = world.org("Other Co", ["provider"])
    designer = world.user(provider, "designer1", ["designer"])
    waiting = employee_request(provider)
    assign_employee(container, waiting)
    with pytest.raises(NotFound):
        svc.dispatch_now(other_admin, waiting.project_id)
    outcome = svc.dispatch_now(admin, waiting.project_id)  # still nobody
    assert outcome.assignee is None and outcome.reason == "all employees of role designer are full"
    with container.get(UnitOfWorkFactory)() as uow:  # capacity without a sweep
        from application.dispatch.ports import EmployeeCapacityRepository
        uow.repo(EmployeeCapacityRepository).upsert(provider.id, designer.id, 1, True, datetime.now(UTC))
        uow.commit()
    advancer.refuse.add(waiting.project_id)
    with pytest.raises(RuntimeError):
        svc.dispatch_now(admin, waiting.project_id)
    # the refusal rolled the assignment back with it
    assert load_of(container, designer.id) == 0
    assert [r[0] for r in queued(container, "employee")] == [waiting.project_id]
    advancer.refuse.clear()
    outcome = svc.dispatch_now(admin, waiting.project_id)
    assert outcome.assignee == designer.id and outcome.kind == "employee"
    assert advancer.calls == [("employee", waiting.project_id, designer.id)]
    with pytest.raises(NotFound):
        svc.dispatch_now(admin, waiting.project_id)
    vias = [r[0] for r in rows(container, "SELECT via FROM dispatch_decisions WHERE project_id = :p ORDER BY at, id",
                               p=waiting.project_id)]
    assert vias.count("dispatch_now") == 2 and vias[0] == "assign"
    assert_loads_counted(container)


def test_a_project_the_workflow_refuses_does_not_hold_back_the_sweep(container: Any, svc: DispatchService,
                                                                     world: World,
                                                                     advancer: RecordingAdvancer) -> None:
    provider, admin = world.org("Delivery Co", ["provider"])
    designer = world.user(provider, "designer1", ["designer"])
    requests = []
    for minute in range(4):
        with freeze_time(T0.replace(minute=minute)):
            request = employee_request(provider)
            assign_employee(container, request)
            requests.append(request.project_id)
    advancer.refuse.add(requests[1])
    svc.set_capacity(admin, provider.id, designer.id, 10, True)  # immediate sweep
    assert [c[1] for c in advancer.calls] == [requests[0], requests[2], requests[3]]
    assert [r[0] for r in queued(container, "employee")] == [requests[1]]
    assert load_of(container, designer.id) == 3
    report = container.get(Dispatcher).sweep("employee")
    assert (report.assigned, report.failed) == (0, 1)
    assert_loads_counted(container)


def test_queue_lists_only_what_the_caller_manages(container: Any, svc: DispatchService, world: World,
                                                  vendor_world: dict[str, Any]) -> None:
    from application.shared.paging import PageRequest

    v, product, admin = vendor_world["vendor"], vendor_world["product"], vendor_world["admin"]
    provider, provider_admin = vendor_world["provider"], vendor_world["provider_admin"]
    waiting_provider = provider_request(product, v.id, 7)
    assign_provider(container, waiting_provider)
    waiting_employee = employee_request(provider)
    assign_employee(container, waiting_employee)
    page = svc.queue(admin, PageRequest())
    assert [(e.project_id, e.kind) for e in page.items] == [(waiting_provider.project_id, "provider")]
    page = svc.queue(provider_admin, PageRequest(), kind="employee")
    assert [(e.project_id, e.kind, e.provider_name) for e in page.items] == [
        (waiting_employee.project_id, "employee", "Provider P")]
    with pytest.raises(Forbidden):
        svc.queue(provider_admin, PageRequest(), kind="provider")
    _, stranger = world.org("Vendor W", ["vendor"])
    assert svc.queue(stranger, PageRequest()).total == 0
