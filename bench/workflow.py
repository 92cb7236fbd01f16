"""Workflow benchmark: the timeout job over 100,000 running projects, and project walks.

    AGORA_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/agora_bench .venv/bin/python bench/workflow.py

The database is wiped (schema ``public`` dropped) and migrated. One project is started
through the application services, then cloned with bulk inserts into
``AGORA_BENCH_PROJECTS`` (default 100,000) running projects waiting on a customer node;
1% have a deadline in the past. Measured in the same run:

* the raw-SQL baseline: the bare indexed select of the overdue node instances;
* the same select through the repository port (``ProjectQueries.due_timers``);
* the timeout job finding and processing the overdue 1% through ``TimeoutService``
  (row lock, load, fire once, flag overdue, timeout reminders to the outbox, save);
* full project walks through the application services (start -> submit requirements
  -> provider confirms -> customer completes), as walks per second.

Dispatch is a stand-in (the vendor delivers itself) and background jobs are not run,
so the figures are workflow's own.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import injector
from sqlalchemy import insert, select, text
from sqlalchemy.engine import Engine

from adapters.postgres import tables as t
from adapters.postgres.migrate import upgrade
from adapters.postgres.uow import make_engine
from adapters.security.passwords import FastHasher
from adapters.storage.local import InMemoryFileStorage
from application.dispatch.api import Assignment, DispatchApi, EmployeeRequest, ProviderRequest
from application.identity import IdentityService
from application.platform import PlatformSetup
from application.shared.access import Caller
from application.shared.jobs import JobQueue
from application.shared.settings import Settings
from application.shared.uow import UnitOfWork, UnitOfWorkFactory
from application.workflow import (
    CalendarService,
    FileStorage,
    ProductService,
    ProjectService,
    TemplateService,
    TimeoutService,
)
from application.workflow.ports import ProjectQueries
from domain.identity.ports import PasswordHasher
from entrypoints.container import build_container

URL = os.environ.get("AGORA_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/agora_bench")
PROJECTS = int(os.environ.get("AGORA_BENCH_PROJECTS", "100000"))
OVERDUE_EVERY = 100  # 1%
WALKS = int(os.environ.get("AGORA_BENCH_WALKS", "300"))
CHUNK = 5000


class VendorDelivers(DispatchApi):
    def assign_provider(self, uow: UnitOfWork, request: ProviderRequest) -> Assignment:
        return Assignment(request.vendor_org_id, None, {"bench": True})

    def assign_employee(self, uow: UnitOfWork, request: EmployeeRequest) -> Assignment:
        return Assignment(None, "no employees in the benchmark", {})

    def move_employee_load(self, uow: UnitOfWork, project_id: str, from_user_id: str, to_user_id: str) -> None:
        pass

    def release_project(self, uow: UnitOfWork, project_id: str) -> None:
        pass


class NoJobs(JobQueue):
    def enqueue(self, job_name: str, **kwargs: Any) -> None:
        pass


def configure(binder: injector.Binder) -> None:
    binder.bind(DispatchApi, to=VendorDelivers())
    binder.bind(JobQueue, to=NoJobs())
    binder.bind(FileStorage, to=InMemoryFileStorage())
    binder.bind(PasswordHasher, to=FastHasher())


NODES: list[dict[str, Any]] = [
    {"type": "assign_provider", "name": "分配服务商"},
    {"type": "submit_requirements", "name": "提交需求", "form_template_id": "", "timeout_days": "1",
     "reminders": [{"receiver": "provider_admin", "trigger": "timeout", "message_template": "超时-通知服务商"}]},
    {"type": "confirm", "name": "确认需求", "side": "provider", "role": "provider_admin", "timeout_days": "1"},
    {"type": "complete", "name": "验收", "timeout_days": "2", "advance_on_timeout": True},
]


def wipe_and_migrate() -> None:
    engine = make_engine(URL)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade(URL)


def world(container: injector.Injector) -> dict[str, Any]:
    root = container.get(PlatformSetup).create_platform_admin("benchroot", "Bench12345")
    identity = container.get(IdentityService)
    platform = Caller(org_id=root.org_id, org_kinds=frozenset({"platform"}), roles=("platform_admin",),
                      user_id=root.id)
    vendor_org = identity.create_organization(platform, "Bench Vendor", ["vendor"])
    customer_org = identity.create_organization(platform, "Bench Customer", ["customer"])
    vadmin = identity.create_user(platform, vendor_org.id, "benchvendor", "Vendor admin", None, []).user
    cadmin = identity.create_user(platform, customer_org.id, "benchcustomer", "Customer admin", None, []).user
    vendor = Caller(org_id=vendor_org.id, org_kinds=vendor_org.kinds, roles=vadmin.roles, user_id=vadmin.id)
    customer = Caller(org_id=customer_org.id, org_kinds=customer_org.kinds, roles=cadmin.roles, user_id=cadmin.id)
    templates = container.get(TemplateService)
    templates.create_message_template(platform, "超时-通知服务商", "超时", "订单 {order_no} 的 {node} 已超时")
    form = templates.create_form(platform, "需求", [{"key": "site_name", "label": "网站名称", "type": "text",
                                                     "required": True}])
    nodes = [dict(n) for n in NODES]
    nodes[1]["form_template_id"] = form.id
    template = templates.create(vendor, "Bench flow", "", nodes)
    templates.publish(vendor, template.id)
    products = container.get(ProductService)
    product = products.create(vendor, "BENCH-1", "Bench product", vendor_org.id, "service")
    products.bind_template(vendor, product.id, template.id)
    container.get(CalendarService).load_official(range(2019, datetime.now(UTC).year + 2))
    return {"platform": platform, "vendor": vendor, "customer": customer, "product_id": product.id}


def clone_projects(engine: Any, seed_id: str, now: datetime) -> int:
    """``PROJECTS`` copies of the seed project; every 100th is overdue."""
    with engine.connect() as conn:
        p = dict(conn.execute(select(t.projects).where(t.projects.c.id == seed_id)).one()._mapping)
        nodes = [dict(r._mapping) for r in conn.execute(select(t.project_nodes)
                                                        .where(t.project_nodes.c.project_id == seed_id)
                                                        .order_by(t.project_nodes.c.seq))]
        log = [dict(r._mapping) for r in conn.execute(select(t.project_log)
                                                      .where(t.project_log.c.project_id == seed_id))]
    overdue = 0
    with engine.begin() as conn:
        for start in range(0, PROJECTS, CHUNK):
            prows, nrows, lrows = [], [], []
            for i in range(start, min(start + CHUNK, PROJECTS)):
                pid = f"prj_bench{i:07d}"
                late = i % OVERDUE_EVERY == 0
                overdue += late
                created = now - timedelta(days=3, seconds=i)
                deadline = now - timedelta(minutes=5, seconds=i) if late else now + timedelta(days=1, seconds=i)
                ids = {n["id"]: f"pn_b{i:07d}_{n['seq']}" for n in nodes}
                prows.append({**p, "id": pid, "order_no": f"B{i:07d}", "created_at": created,
                              "current_node_id": ids[p["current_node_id"]]})
                for n in nodes:
                    row = {**n, "id": ids[n["id"]], "project_id": pid, "entered_at": created}
                    if n["finished_at"] is None:
                        row.update(deadline=deadline, timer_at=deadline)
                    else:
                        row["finished_at"] = created
                    nrows.append(row)
                for e in log:
                    lrows.append({**e, "project_id": pid, "at": created,
                                  "node_instance_id": ids.get(e["node_instance_id"], e["node_instance_id"])})
            conn.execute(insert(t.projects), prows)
            conn.execute(insert(t.project_nodes), nrows)
            conn.execute(insert(t.project_log), lrows)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    return overdue


def time_it(fn: Any, repeat: int = 5) -> tuple[float, Any]:
    runs, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), result


def main() -> None:
    print(f"database: {URL.split('@')[-1]}  projects: {PROJECTS:,}  overdue: 1%  walks: {WALKS}")
    wipe_and_migrate()
    settings = Settings(database_url=URL, redis_url=None, jobs_sync=False, run_scheduler=False,
                        secret_key="bench-secret-key-with-at-least-32-bytes!!")
    container = build_container(settings, configure)  # type: ignore[arg-type]
    engine = container.get(Engine)
    w = world(container)
    projects = container.get(ProjectService)
    seed = projects.start(w["platform"], order_no="SEED", product_id=w["product_id"],
                          customer_org_id=w["customer"].org_id)

    now = datetime.now(UTC)
    started = time.perf_counter()
    overdue = clone_projects(engine, seed["id"], now)
    load_s = time.perf_counter() - started
    print(f"loaded {PROJECTS:,} projects ({overdue:,} overdue) in {load_s:.1f} s")

    sql = text("SELECT id, project_id FROM project_nodes WHERE timer_at IS NOT NULL AND timer_at <= :now "
               "ORDER BY timer_at LIMIT :n")
    with engine.connect() as conn:
        raw_s, rows = time_it(lambda: conn.execute(sql, {"now": now, "n": overdue + 10}).fetchall())
        assert len(rows) == overdue, (len(rows), overdue)
        plan = ""
        if engine.dialect.name == "postgresql":
            explained = conn.execute(text("EXPLAIN " + str(sql)), {"now": now, "n": overdue + 10}).fetchall()
            plan = " / ".join(str(r[0]).strip() for r in explained[:3])
    uowf = container.get(UnitOfWorkFactory)

    def port_select() -> int:
        with uowf() as uow:
            return len(uow.repo(ProjectQueries).due_timers(now, overdue + 10))

    port_s, found = time_it(port_select)
    assert found == overdue

    timeouts = container.get(TimeoutService)
    started = time.perf_counter()
    report = timeouts.run(now)
    job_s = time.perf_counter() - started
    assert report.fired == overdue and report.failed == 0, report
    again_s, again = time_it(lambda: timeouts.run(now), repeat=1)
    assert again.fired == 0

    vendor, customer = w["vendor"], w["customer"]
    started = time.perf_counter()
    for i in range(WALKS):
        d = projects.start(w["platform"], order_no=f"W{i:06d}", product_id=w["product_id"],
                           customer_org_id=customer.org_id)
        d = projects.submit_requirements(customer, d["id"], d["current_node"]["id"], {"site_name": f"site {i}"})
        d = projects.confirm(vendor, d["id"], d["current_node"]["id"])
        d = projects.confirm(customer, d["id"], d["current_node"]["id"])
        assert d["status"] == "completed"
    walk_s = time.perf_counter() - started

    rows_out = [
        ("raw SQL: indexed select of the overdue node instances", f"{raw_s * 1000:.2f} ms",
         f"{overdue:,} rows of {PROJECTS:,}"),
        ("same select through ProjectQueries.due_timers", f"{port_s * 1000:.2f} ms", "one unit of work"),
        ("timeout job: find + process the overdue (fire, flag, remind)", f"{job_s:.2f} s",
         f"{job_s / overdue * 1000:.2f} ms/project, {overdue / job_s:.0f} projects/s"),
        ("timeout job again (nothing left to fire)", f"{again_s * 1000:.2f} ms", "fires once"),
        ("full project walks through the services", f"{WALKS / walk_s:.1f} walks/s",
         f"{WALKS} walks, 4 commands each, {walk_s / WALKS / 4 * 1000:.1f} ms/command"),
    ]
    width = max(len(r[0]) for r in rows_out)
    print()
    print(f"| {'measure':<{width}} | {'result':>14} | notes")
    print(f"|{'-' * (width + 2)}|{'-' * 16}|{'-' * 40}")
    for name, value, note in rows_out:
        print(f"| {name:<{width}} | {value:>14} | {note}")
    if plan:
        print(f"\nplan of the raw select: {plan}")


if __name__ == "__main__":
    main()
