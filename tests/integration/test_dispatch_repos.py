"""Dispatch's SQL adapters against the real database (SQLite here, PostgreSQL in CI):
the product lookup in workflow's table, conditional takes, guarded bulk loads, the
queue's oldest-first claim, and the recount that proves loads never drift."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from adapters.postgres import dispatch_repos
from adapters.postgres import tables as t
from application.dispatch.ports import (
    EmployeeCapacityRepository,
    Holding,
    HoldingRepository,
    ProductVendors,
    QueuedProject,
    QueueRepository,
)
from application.shared.uow import UnitOfWorkFactory

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_the_vendor_of_a_product_comes_from_workflows_products(container: Any) -> None:
    with container.get(UnitOfWorkFactory)() as uow:
        uow.connection.execute(insert(t.metadata.tables["service_products"]).values(
            id="prd_1", vendor_org_id="org_v", code="P1", name="Install", kind="service", created_at=NOW))
        assert uow.repo(ProductVendors).vendor_of("prd_1") == "org_v"
        assert uow.repo(ProductVendors).vendor_of("prd_2") is None
    assert dispatch_repos.REPOSITORIES[ProductVendors] is dispatch_repos.SqlProductVendors


def test_takes_stop_at_the_max_and_guarded_bulk_loads_refuse_to_pass_it(container: Any) -> None:
    with container.get(UnitOfWorkFactory)() as uow:
        caps = uow.repo(EmployeeCapacityRepository)
        caps.upsert("org_p", "usr_a", 2, True, NOW)
        caps.upsert("org_p", "usr_b", 5, False, NOW)
        assert [caps.take("usr_a", NOW) for _ in range(3)] == [True, True, False]
        assert caps.take("usr_b", NOW) is False  # paused
        assert caps.take("usr_b", NOW, require_accepting=False) is True  # a change of operator may
        assert caps.add_loads({"usr_b": 4}, NOW, within_max=True) is True
        assert caps.add_loads({"usr_a": -1, "usr_b": 1}, NOW, within_max=True) is False  # b would be 6/5
        assert (caps.get("usr_a").current_load, caps.get("usr_b").current_load) == (1, 5)
        assert caps.upsert("org_p", "usr_a", 1, True, NOW).current_load == 1  # settings never touch the load
        uow.commit()


def test_holdings_are_recounted_against_the_counters(container: Any) -> None:
    with container.get(UnitOfWorkFactory)() as uow:
        caps, holdings = uow.repo(EmployeeCapacityRepository), uow.repo(HoldingRepository)
        caps.upsert("org_p", "usr_a", 5, True, NOW)
        assert caps.take("usr_a", NOW)
        assert holdings.add(Holding("prj_1", "employee", "usr_a", "prd_1", "org_p", "designer", NOW)) is True
        assert holdings.add(Holding("prj_1", "employee", "usr_a", "prd_1", "org_p", "engineer", NOW)) is False
        assert holdings.load_mismatches() == []
        inserted = holdings.add_many([Holding("prj_1", "employee", "usr_a", "prd_1", "org_p", None, NOW),
                                      Holding("prj_2", "employee", "usr_a", "prd_1", "org_p", None, NOW)])
        assert inserted == {("prj_2", "usr_a")}
        [drift] = holdings.load_mismatches()
        assert (drift.kind, drift.key, drift.counter, drift.holdings) == ("employee", "usr_a", 1, 2)
        holdings.add(Holding("prj_3", "employee", "usr_ghost", "prd_1", "org_p", None, NOW))
        assert {(m.key, m.counter, m.holdings) for m in holdings.load_mismatches()} == {
            ("usr_a", 1, 2), ("usr_ghost", 0, 1)}


def test_the_queue_is_claimed_oldest_first_after_a_cursor(container: Any) -> None:
    def entry(project_id: str, minutes: int, provider: str = "org_p") -> QueuedProject:
        at = NOW + timedelta(minutes=minutes)
        return QueuedProject(project_id=project_id, kind="employee", reason_code="all_employees_full",
                             reason="all employees of role designer are full", queued_at=at, updated_at=at,
                             order_no=project_id, product_id="prd_1", customer_org_id="org_c",
                             provider_org_id=provider, role="designer", rule="provider_first")

    with container.get(UnitOfWorkFactory)() as uow:
        queue = uow.repo(QueueRepository)
        for project_id, minutes in (("prj_c", 2), ("prj_a", 1), ("prj_b", 1), ("prj_d", 3)):
            queue.put(entry(project_id, minutes))
        queue.put(entry("prj_x", 0, provider="org_other"))
        queue.put(entry("prj_a", 9))  # still waiting: the reason may change, the place in line does not
        def claimed(after: tuple[datetime, str] | None, limit: int) -> list[str]:
            return [e.project_id for e in queue.claim("employee", scope="org_p", after=after, limit=limit)]

        assert claimed(None, 2) == ["prj_a", "prj_b"]
        assert claimed((NOW + timedelta(minutes=1), "prj_b"), 5) == ["prj_c", "prj_d"]
        assert queue.scopes("employee") == ["org_other", "org_p"]
        assert queue.get("prj_a", "employee").updated_at == NOW + timedelta(minutes=9)
        queue.delete_many([("prj_a", "employee"), ("prj_c", "employee")])
        assert claimed(None, 5) == ["prj_b", "prj_d"]
