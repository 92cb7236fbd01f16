"""Dispatch benchmark: a queue of 100,000 projects over 1,000 employees drained by the sweep.

    AGORA_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/agora_bench .venv/bin/python bench/dispatch.py

The database is wiped (schema ``public`` dropped) and migrated. One provider with
``AGORA_BENCH_EMPLOYEES`` (default 1,000) engineers at a max load of 50, and
``AGORA_BENCH_PROJECTS`` (default 100,000) projects waiting in the employee queue,
oldest first. 1,000 x 50 = 50,000 places, so the queue drains in two sweeps: the first
fills every employee, then every assigned project finishes (a bulk release, not timed)
and the second sweep assigns the rest.

Measured in the same run:

* the raw-SQL baseline: as many single-row ``UPDATE`` statements as projects (the
  statement the fake advancer runs, on a twin table), one round trip each, committed
  every 5,000; run in slices just before each sweep, the size of what that sweep
  assigns, so both see the same machine (other work on a shared host comes and goes);
* each sweep through ``Dispatcher.sweep`` (lock the provider's capacity rows, choose with
  ``EmployeePool``, write holdings, loads, queue, decisions, then call the advancer).

Workflow is not wired into this bench: ``ProjectAdvancer`` is a stand-in that makes the
single-row update a real continuation would make (operator and time on the project row).
Goal: the sweeps within 3x of the baseline.
"""
from __future__ import annotations

import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import injector
from sqlalchemy import insert, text
from sqlalchemy.engine import Engine

from adapters.postgres import tables as t
from adapters.postgres.migrate import upgrade
from adapters.postgres.uow import make_engine
from application.dispatch.api import ProjectAdvancer
from application.dispatch.services import SWEEP_CHUNK, Dispatcher
from application.shared.settings import Settings
from application.shared.uow import UnitOfWork
from domain.dispatch.rng import RandomSource
from entrypoints.container import build_container

URL = os.environ.get("AGORA_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/agora_bench")
EMPLOYEES = int(os.environ.get("AGORA_BENCH_EMPLOYEES", "1000"))
PROJECTS = int(os.environ.get("AGORA_BENCH_PROJECTS", "100000"))
MAX_LOAD = 50
COMMIT_EVERY = 5000
PROVIDER = "org_bench_provider"
PRODUCT = "prd_bench"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

UPDATE_PROJECT = text("UPDATE bench_projects SET operator_id = :operator, updated_at = :at WHERE id = :id")
# the baseline updates an identical table of its own, so both start from fresh rows
UPDATE_BASELINE = text("UPDATE bench_baseline SET operator_id = :operator, updated_at = :at WHERE id = :id")


class SingleRowAdvancer(ProjectAdvancer):
    """Stand-in for workflow: one single-row update of the project, in dispatch's transaction."""

    def provider_assigned(self, uow: UnitOfWork, project_id: str, provider_org_id: str) -> None:
        uow.connection.execute(UPDATE_PROJECT, {"operator": provider_org_id, "at": NOW,  # type: ignore[attr-defined]
                                                "id": project_id})

    def employee_assigned(self, uow: UnitOfWork, project_id: str, user_id: str) -> None:
        uow.connection.execute(UPDATE_PROJECT, {"operator": user_id, "at": NOW,  # type: ignore[attr-defined]
                                                "id": project_id})


class BenchBindings(injector.Module):
    def configure(self, binder: injector.Binder) -> None:
        binder.bind(ProjectAdvancer, to=SingleRowAdvancer())
        binder.bind(RandomSource, to=injector.InstanceProvider(random.Random(1)))


def reset(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    upgrade(URL)
    with engine.begin() as conn:
        for name in ("bench_projects", "bench_baseline"):
            conn.execute(text(f"CREATE TABLE {name} (id varchar(40) PRIMARY KEY, operator_id varchar(40), "
                              "updated_at timestamptz NOT NULL)"))


def seed(engine: Engine) -> list[str]:
    users = [f"usr_bench_{i:05d}" for i in range(EMPLOYEES)]
    projects = [f"prj_bench_{i:07d}" for i in range(PROJECTS)]
    with engine.begin() as conn:
        conn.execute(insert(t.organizations).values(id=PROVIDER, name="Bench provider", kinds=("provider",),
                                                    require_sms_login=False, status="active", created_at=NOW))
        conn.execute(insert(t.users), [dict(
            id=u, org_id=PROVIDER, login=f"bench{i}", name=f"Engineer {i}", roles=("engineer",), password_hash="x",
            must_change_password=False, status="active", created_at=NOW) for i, u in enumerate(users)])
        conn.execute(insert(t.employee_capacity), [dict(
            user_id=u, org_id=PROVIDER, max_load=MAX_LOAD, accepting=True, current_load=0, updated_at=NOW)
            for u in users])
        for start in range(0, PROJECTS, 20_000):
            batch = projects[start:start + 20_000]
            conn.execute(insert(t.dispatch_queue), [dict(
                project_id=p, kind="employee", reason_code="all_employees_full",
                reason="all employees of role engineer are full", queued_at=NOW + timedelta(seconds=i + start),
                updated_at=NOW + timedelta(seconds=i + start), order_no=f"ORD{i + start:08d}", product_id=PRODUCT,
                vendor_org_id=None, customer_org_id="org_bench_customer", provider_org_id=PROVIDER,
                role="engineer", rule="provider_first", department_id=None) for i, p in enumerate(batch)])
            for name in ("bench_projects", "bench_baseline"):
                conn.execute(text(f"INSERT INTO {name} (id, updated_at) VALUES (:id, :at)"),
                             [{"id": p, "at": NOW} for p in batch])
        conn.execute(text("ANALYZE"))
    return projects


def baseline(engine: Engine, projects: list[str]) -> float:
    """The same number of single-row updates, one statement each, committed every 5,000."""
    rng = random.Random(len(projects))
    users = [f"usr_bench_{i:05d}" for i in range(EMPLOYEES)]
    started = time.perf_counter()
    for start in range(0, len(projects), COMMIT_EVERY):
        with engine.begin() as conn:
            for project_id in projects[start:start + COMMIT_EVERY]:
                conn.execute(UPDATE_BASELINE, {"operator": rng.choice(users), "at": NOW, "id": project_id})
    return time.perf_counter() - started


def finish_all(engine: Engine) -> None:
    """Every assigned project completes (what release_project does, in bulk; not timed)."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM dispatch_holdings"))
        conn.execute(text("UPDATE employee_capacity SET current_load = 0"))
        conn.execute(text("ANALYZE"))


def main() -> None:
    engine = make_engine(URL)
    print(f"dispatch bench on {URL.rsplit('@', 1)[-1]}: {PROJECTS:,} queued projects, {EMPLOYEES:,} employees "
          f"x max load {MAX_LOAD}")
    reset(engine)
    projects = seed(engine)

    container = build_container(Settings(database_url=URL, jobs_sync=True, run_scheduler=False), BenchBindings())
    dispatcher = container.get(Dispatcher)

    capacity = EMPLOYEES * MAX_LOAD
    sweeps: list[tuple[str, int, float, float]] = []  # label, assigned, sweep seconds, baseline seconds
    remaining = PROJECTS
    while remaining:
        expected = min(capacity, remaining)
        done = PROJECTS - remaining
        raw_slice = baseline(engine, projects[done:done + expected])
        started = time.perf_counter()
        report = dispatcher.sweep("employee")
        elapsed = time.perf_counter() - started
        assert report.assigned == expected, report
        remaining -= report.assigned
        sweeps.append((f"sweep {len(sweeps) + 1} ({report.assigned:,} assigned, {remaining:,} left)",
                       report.assigned, elapsed, raw_slice))
        mismatches = dispatcher.load_mismatches()
        assert mismatches == [], mismatches[:5]
        with engine.connect() as conn:
            over = conn.execute(text("SELECT count(*) FROM employee_capacity WHERE current_load > max_load")).scalar()
            assert over == 0
        if remaining:
            finish_all(engine)
    with engine.connect() as conn:
        advanced = conn.execute(text("SELECT count(*) FROM bench_projects WHERE operator_id IS NOT NULL")).scalar()
        queued = conn.execute(text("SELECT count(*) FROM dispatch_queue")).scalar()
    assert advanced == PROJECTS and queued == 0, (advanced, queued)

    total = sum(s[2] for s in sweeps)
    raw = sum(s[3] for s in sweeps)
    rows = [(f"raw SQL baseline: {PROJECTS:,} single-row UPDATEs", PROJECTS, raw, 1.0)]
    rows += [(label, assigned, seconds, seconds / raw_slice) for label, assigned, seconds, raw_slice in sweeps]
    rows.append((f"sweeps total ({len(sweeps)} sweeps)", PROJECTS, total, total / raw))
    print()
    print("| measure | projects | seconds | projects/s | vs raw SQL |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, count, seconds, ratio in rows:
        print(f"| {label} | {count:,} | {seconds:.2f} | {count / seconds:,.0f} | {ratio:.2f}x |")
    print()
    print(f"time per sweep: {total / len(sweeps):.2f} s ({SWEEP_CHUNK:,} projects per transaction); each sweep "
          "row is compared with the baseline slice of its size run just before it")
    print("ProjectAdvancer is a stand-in (workflow is not wired into this bench): one single-row UPDATE of the "
          "project per assignment, in the sweep's transaction.")
    print("checks: no load above its max after each sweep; every load equals its holdings; queue drained; "
          "every project advanced once.")
    verdict = "met" if total <= 3 * raw else "NOT met"
    print(f"goal (sweeps within 3x of the raw-SQL baseline): {verdict} ({total / raw:.2f}x)")
    engine.dispose()


if __name__ == "__main__":
    main()
