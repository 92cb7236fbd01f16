"""Concurrent dispatchers on PostgreSQL (issue 5: "8 concurrent dispatchers over one
provider never assign anyone above max load, and loads equal the count of unfinished
projects afterwards"). Each thread is a workflow process: its own unit of work per
project, a provider then an employee, committed together."""
from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from application.dispatch.api import DispatchApi, EmployeeRequest
from application.dispatch.services import Dispatcher, DispatchService
from application.shared.uow import UnitOfWorkFactory
from domain.dispatch import ProviderSetting
from domain.shared.ids import new_id
from tests.fakes.dispatch import RecordingAdvancer, World, dispatch_overrides, install_products, provider_request, rows

pytestmark = pytest.mark.postgres

THREADS = 8
PROJECTS_PER_THREAD = 15


@pytest.fixture
def advancer() -> RecordingAdvancer:
    return RecordingAdvancer()


@pytest.fixture
def overrides(overrides: list[Any], advancer: RecordingAdvancer) -> list[Any]:
    return [*overrides, dispatch_overrides(advancer)]


def run_threads(work: Callable[[int], None], threads: int = THREADS) -> None:
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def target(i: int) -> None:
        try:
            barrier.wait()
            work(i)
        except BaseException as exc:  # reported below
            errors.append(exc)

    pool = [threading.Thread(target=target, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=120)
    assert not [t for t in pool if t.is_alive()], "a dispatcher hung"
    assert errors == [], errors


def employee_loads(container: Any) -> dict[str, tuple[int, int]]:
    return {r.user_id: (r.current_load, r.max_load)
            for r in rows(container, "SELECT user_id, current_load, max_load FROM employee_capacity")}


def held_per_employee(container: Any) -> Counter[str]:
    return Counter(r.holder_id for r in rows(
        container, "SELECT holder_id FROM dispatch_holdings WHERE kind = 'employee'"))


def test_eight_dispatchers_never_pass_a_max_load(container: Any) -> None:
    world = World(container, install_products(container))
    vendor, admin = world.org("Vendor", ["vendor"])
    product = world.product(vendor)
    svc = container.get(DispatchService)
    svc.set_product_providers(admin, product, [ProviderSetting(vendor.id, 10, 60)])
    maxima = [1, 2, 3, 5, 8, 13]  # 32 employee slots, 60 provider slots, 120 projects
    employees = [world.user(vendor, f"designer{i}", ["designer"]) for i in range(len(maxima))]
    for user, max_load in zip(employees, maxima, strict=True):
        svc.set_capacity(admin, vendor.id, user.id, max_load, True)
    api = container.get(DispatchApi)
    factory = container.get(UnitOfWorkFactory)
    outcomes: list[tuple[str | None, str | None]] = []
    lock = threading.Lock()

    def dispatcher(i: int) -> None:
        for n in range(PROJECTS_PER_THREAD):
            request = provider_request(product, vendor.id, i * 1000 + n)
            with factory() as uow:
                provider = api.assign_provider(uow, request).assignee
                employee = None
                if provider is not None:
                    employee = api.assign_employee(uow, EmployeeRequest(
                        project_id=request.project_id, order_no=request.order_no, product_id=product,
                        customer_org_id=request.customer_org_id, provider_org_id=provider, role="designer",
                        rule="provider_first")).assignee
                uow.commit()
            with lock:
                outcomes.append((provider, employee))

    run_threads(dispatcher)

    assert len(outcomes) == THREADS * PROJECTS_PER_THREAD
    assert sum(1 for p, _ in outcomes if p) == 60  # every provider slot used, not one more
    assert sum(1 for _, e in outcomes if e) == sum(maxima)
    loads = employee_loads(container)
    assert all(current <= maximum for current, maximum in loads.values()), loads
    assert {u.id: loads[u.id][0] for u in employees} == {u.id: m for u, m in zip(employees, maxima, strict=True)}
    held = held_per_employee(container)
    assert {uid: load for uid, (load, _) in loads.items()} == {u.id: held[u.id] for u in employees}
    provider_row = rows(container, "SELECT current_load, max_load FROM product_providers")[0]
    assert (provider_row.current_load, provider_row.max_load) == (60, 60)
    assert container.get(Dispatcher).load_mismatches() == []
    queue = Counter(r.kind for r in rows(container, "SELECT kind FROM dispatch_queue"))
    assert queue == {"provider": THREADS * PROJECTS_PER_THREAD - 60, "employee": 60 - sum(maxima)}


def test_dispatchers_sweeps_changes_of_operator_and_releases_at_once_keep_loads_counted(container: Any) -> None:
    world = World(container, install_products(container))
    provider, admin = world.org("Provider", ["provider"])
    svc = container.get(DispatchService)
    employees = [world.user(provider, f"engineer{i}", ["engineer"]) for i in range(5)]
    for user in employees:
        svc.set_capacity(admin, provider.id, user.id, 4, True)
    ids = [u.id for u in employees]
    api = container.get(DispatchApi)
    dispatcher = container.get(Dispatcher)
    factory = container.get(UnitOfWorkFactory)
    mine: dict[int, list[tuple[str, str]]] = {i: [] for i in range(THREADS)}

    def work(i: int) -> None:
        rng = random.Random(i)
        for _ in range(25):
            roll = rng.random()
            if i == 0:  # the sweeper
                dispatcher.sweep("employee")
                continue
            if roll < 0.5 or not mine[i]:
                project_id = new_id("prj")
                with factory() as uow:
                    chosen = api.assign_employee(uow, EmployeeRequest(
                        project_id=project_id, order_no=project_id[-10:], product_id="prd_x",
                        customer_org_id="org_c", provider_org_id=provider.id, role="engineer",
                        rule="provider_first")).assignee
                    uow.commit()
                if chosen:
                    mine[i].append((project_id, chosen))
            elif roll < 0.75:
                project_id, _ = mine[i].pop(rng.randrange(len(mine[i])))
                with factory() as uow:
                    api.release_project(uow, project_id)
                    uow.commit()
            else:
                k = rng.randrange(len(mine[i]))
                project_id, current = mine[i][k]
                target = rng.choice([u for u in ids if u != current])
                try:
                    with factory() as uow:
                        api.move_employee_load(uow, project_id, current, target)
                        uow.commit()
                    mine[i][k] = (project_id, target)
                except Exception as exc:  # a full target is a normal refusal
                    assert getattr(exc, "code", None) in ("employee_full", "already_an_operator"), exc

    run_threads(work)

    loads = employee_loads(container)
    assert all(current <= maximum for current, maximum in loads.values()), loads
    assert dispatcher.load_mismatches() == []
    still_held = Counter(user for items in mine.values() for _, user in items)
    held = held_per_employee(container)
    assert all(held[user] >= n for user, n in still_held.items())  # the rest were swept from the queue
    assert sum(load for load, _ in loads.values()) == sum(held.values())
