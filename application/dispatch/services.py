"""Dispatch use cases: the ``DispatchApi`` workflow calls, queue sweeps, and the admin
commands and queries behind the HTTP API.

``Dispatcher`` implements the contract of ``application.dispatch.api``: it works inside
the caller's unit of work. Capacity is taken with a conditional update and the next
candidate is tried when it fails, so no load ever passes its max, whatever number of
dispatchers run at once; sweeps lock one scope's capacity rows in a fixed order and
assign a whole chunk of the queue through ``EmployeePool`` (see
docs/adr/0003-dispatch-capacity.md). ``DispatchService`` holds the commands and queries
of the HTTP API, each in its own unit of work.
"""
from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from injector import ProviderOf, inject

from application.dispatch.api import Assignment, DispatchApi, EmployeeRequest, ProjectAdvancer, ProviderRequest
from application.dispatch.ports import (
    Decision,
    DecisionRepository,
    EmployeeCapacity,
    EmployeeCapacityRepository,
    Holding,
    HoldingRepository,
    Kind,
    LoadMismatch,
    ProductProvider,
    ProductProviderRepository,
    ProductVendors,
    QueuedProject,
    QueueFilter,
    QueueRepository,
)
from application.shared.access import Caller
from application.shared.audit import record
from application.shared.clock import Clock
from application.shared.jobs import JobQueue
from application.shared.paging import Page, PageRequest
from application.shared.uow import UnitOfWork, UnitOfWorkFactory
from domain.dispatch import (
    EmployeeCandidate,
    EmployeePool,
    ProviderCandidate,
    ProviderSetting,
    RandomSource,
    Saturation,
    check_employee_max_load,
    choose_employee,
    choose_provider,
    saturation,
    validate_provider_settings,
)
from domain.identity.ports import RelationRepository, UserRepository
from domain.shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from domain.shared.ids import new_id

log = logging.getLogger("agora.dispatch")

SWEEP_CHUNK = 5000  # queued projects per sweep transaction
SWEEP_JOB = "dispatch.sweep_queue"
PROVIDER_ADMIN_PERMISSIONS = ("dispatch.providers.manage", "dispatch.queue.manage", "dispatch.capacity.manage")
SATURATION_PERMISSIONS = ("dashboard.view", *PROVIDER_ADMIN_PERMISSIONS)


@dataclasses.dataclass(frozen=True)
class SweepReport:
    kind: Kind
    scopes: int = 0
    examined: int = 0
    assigned: int = 0
    chunks: int = 0
    failed: int = 0  # projects the advancer refused (logged, left queued)

    def __add__(self, other: SweepReport) -> SweepReport:
        return SweepReport(self.kind, self.scopes + other.scopes, self.examined + other.examined,
                           self.assigned + other.assigned, self.chunks + other.chunks, self.failed + other.failed)


@dataclasses.dataclass(frozen=True)
class DispatchOutcome:
    project_id: str
    kind: Kind
    assignee: str | None
    reason: str | None
    explanation: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class SaturationRow:
    product_id: str
    provider_org_id: str
    provider_name: str | None
    vendor_org_id: str
    weight: int
    current_load: int
    max_load: int
    percent: Any  # Decimal | None
    band: str


@dataclasses.dataclass
class _Chunk:
    """What one sweep transaction decided, written in bulk before any advancer runs."""

    assigned: list[tuple[QueuedProject, str, dict[str, Any]]] = dataclasses.field(default_factory=list)
    examined: int = 0
    last: tuple[datetime, str] | None = None
    exhausted: bool = False  # no spare capacity left in the scope, or no more rows


def _full(c: ProviderCandidate) -> ProviderCandidate:
    return ProviderCandidate(c.provider_id, c.weight, c.max_load, max(c.current_load, c.max_load))


def _full_employee(c: EmployeeCandidate) -> EmployeeCandidate:
    return dataclasses.replace(c, current_load=max(c.current_load, c.max_load))


class Dispatcher(DispatchApi):
    """The contract workflow calls inside its unit of work, and the queue sweeps."""

    @inject
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, rng: RandomSource,
                 advancer: ProviderOf[ProjectAdvancer]) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.rng = rng
        self._advancer = advancer

    @property
    def advancer(self) -> ProjectAdvancer:
        # resolved late: workflow's advancer itself needs DispatchApi
        return self._advancer.get()

    # -- the contract ---------------------------------------------------------------

    def assign_provider(self, uow: UnitOfWork, request: ProviderRequest) -> Assignment:
        return self._assign_provider(uow, request, "assign")

    def assign_employee(self, uow: UnitOfWork, request: EmployeeRequest) -> Assignment:
        return self._assign_employee(uow, request, "assign")

    def take_provider(self, uow: UnitOfWork, request: ProviderRequest, provider_org_id: str) -> None:
        now = self.clock.now()
        providers = uow.repo(ProductProviderRepository)
        rows = {r.provider_org_id: r for r in providers.list_for_product(request.product_id)}
        row = rows.get(provider_org_id)
        if row is None:
            raise Conflict(f"{provider_org_id} is not configured for product {request.product_id}",
                           code="provider_not_configured", details={"provider_org_id": ["not configured"]})
        if not providers.take(request.product_id, provider_org_id, now):
            raise Conflict(f"{provider_org_id} has no spare capacity for this product", code="provider_full",
                           details={"provider_org_id": [f"load {row.current_load}/{row.max_load}"]})
        uow.repo(HoldingRepository).add(Holding(request.project_id, "provider", provider_org_id, request.product_id,
                                                provider_org_id, None, now))
        uow.repo(QueueRepository).delete(request.project_id, "provider")
        uow.repo(DecisionRepository).add(Decision(
            id=new_id("dsp"), project_id=request.project_id, kind="provider", chosen=provider_org_id, reason=None,
            via="change_provider", product_id=request.product_id, vendor_org_id=request.vendor_org_id,
            provider_org_id=provider_org_id,
            explanation={"kind": "provider", "change_provider": provider_org_id,
                         "load_before": f"{row.current_load}/{row.max_load}"}, at=now))

    def move_employee_load(self, uow: UnitOfWork, project_id: str, from_user_id: str, to_user_id: str) -> None:
        if from_user_id == to_user_id:
            raise Conflict("the new operator is the current one", code="same_operator")
        now = self.clock.now()
        holdings = uow.repo(HoldingRepository)
        held = holdings.for_project(project_id, lock=True)
        source = next((h for h in held if h.kind == "employee" and h.holder_id == from_user_id), None)
        if source is None:
            raise Conflict(f"{from_user_id} is not an operator of project {project_id}", code="not_the_operator")
        if any(h.kind == "employee" and h.holder_id == to_user_id for h in held):
            raise Conflict(f"{to_user_id} already works on project {project_id}", code="already_an_operator")
        caps = uow.repo(EmployeeCapacityRepository)
        target = caps.get(to_user_id)
        if target is None or target.org_id != source.org_id:
            raise Conflict(f"{to_user_id} has no spare capacity (max load 0)", code="employee_full")
        # both rows in user id order, the order sweeps lock them in
        for user_id in sorted((from_user_id, to_user_id)):
            if user_id == to_user_id:
                if not caps.take(to_user_id, now, require_accepting=False):
                    raise Conflict(f"{to_user_id} has no spare capacity", code="employee_full",
                                   details={"user_id": to_user_id})
            else:
                caps.add_loads({from_user_id: -1}, now)
        holdings.move(project_id, from_user_id, to_user_id, now)
        uow.repo(DecisionRepository).add(Decision(
            id=new_id("dsp"), project_id=project_id, kind="employee", chosen=to_user_id, reason=None,
            via="change_operator", product_id=source.product_id, vendor_org_id=None, provider_org_id=source.org_id,
            explanation={"kind": "employee", "change_operator": {"from": from_user_id, "to": to_user_id},
                         "target_load_before": f"{target.current_load}/{target.max_load}"}, at=now))

    def release_project(self, uow: UnitOfWork, project_id: str) -> None:
        now = self.clock.now()
        holdings = uow.repo(HoldingRepository)
        held = holdings.for_project(project_id, lock=True)
        providers = uow.repo(ProductProviderRepository)
        # product rows before employee rows, each in key order: the order every path locks in
        for h in sorted((h for h in held if h.kind == "provider"), key=lambda h: (h.product_id, h.holder_id)):
            providers.add_load(h.product_id, h.holder_id, -1, now)
        employees = Counter(h.holder_id for h in held if h.kind == "employee")
        if employees:
            uow.repo(EmployeeCapacityRepository).add_loads({u: -n for u, n in employees.items()}, now)
        if held:
            holdings.delete_for_project(project_id)
        uow.repo(QueueRepository).delete(project_id)

    # -- single assignments -----------------------------------------------------------

    def _assign_provider(self, uow: UnitOfWork, request: ProviderRequest, via: str) -> Assignment:
        now = self.clock.now()
        holdings = uow.repo(HoldingRepository)
        current = next((h for h in holdings.for_project(request.project_id) if h.kind == "provider"), None)
        if current is not None:
            uow.repo(QueueRepository).delete(request.project_id, "provider")
            return Assignment(current.holder_id, None, {"kind": "provider", "already_assigned": current.holder_id})
        providers = uow.repo(ProductProviderRepository)
        found_full: list[str] = []
        while True:
            rows = providers.list_for_product(request.product_id)
            candidates = [ProviderCandidate(r.provider_org_id, r.weight, r.max_load, r.current_load) for r in rows]
            candidates = [_full(c) if c.provider_id in found_full else c for c in candidates]
            decision = choose_provider(candidates, self.rng)
            if decision.chosen is None or providers.take(request.product_id, decision.chosen, now):
                break
            found_full.append(decision.chosen)  # filled up since we read it: draw again without it
        explanation = decision.explanation.to_dict()
        if found_full:
            explanation["filled_while_choosing"] = found_full
        queue = uow.repo(QueueRepository)
        if decision.chosen is not None:
            holdings.add(Holding(request.project_id, "provider", decision.chosen, request.product_id,
                                 decision.chosen, None, now))
            queue.delete(request.project_id, "provider")
        else:
            assert decision.code is not None and decision.reason is not None
            queue.put(QueuedProject(
                project_id=request.project_id, kind="provider", reason_code=decision.code, reason=decision.reason,
                queued_at=now, updated_at=now, order_no=request.order_no, product_id=request.product_id,
                customer_org_id=request.customer_org_id, vendor_org_id=request.vendor_org_id))
        uow.repo(DecisionRepository).add(Decision(
            id=new_id("dsp"), project_id=request.project_id, kind="provider", chosen=decision.chosen,
            reason=decision.reason, via=via, product_id=request.product_id, vendor_org_id=request.vendor_org_id,
            provider_org_id=decision.chosen, explanation=explanation, at=now))
        return Assignment(decision.chosen, decision.reason, explanation)

    def _assign_employee(self, uow: UnitOfWork, request: EmployeeRequest, via: str) -> Assignment:
        now = self.clock.now()
        caps = uow.repo(EmployeeCapacityRepository)
        found_full: list[str] = []
        while True:
            candidates = [_full_employee(c) if c.user_id in found_full else c
                          for c in caps.candidates(request.provider_org_id, request.role)]
            decision = choose_employee(candidates, request.role, request.rule, request.department_id, self.rng)
            if decision.chosen is None or caps.take(decision.chosen, now):
                break
            found_full.append(decision.chosen)
        assert decision.explanation is not None
        explanation = decision.explanation.to_dict()
        if found_full:
            explanation["filled_while_choosing"] = found_full
        queue = uow.repo(QueueRepository)
        if decision.chosen is not None:
            added = uow.repo(HoldingRepository).add(Holding(
                request.project_id, "employee", decision.chosen, request.product_id, request.provider_org_id,
                request.role, now))
            if not added:  # already an operator of this project (another role): one project, one unit
                caps.add_loads({decision.chosen: -1}, now)
            queue.delete(request.project_id, "employee")
        else:
            assert decision.code is not None and decision.reason is not None
            queue.put(QueuedProject(
                project_id=request.project_id, kind="employee", reason_code=decision.code, reason=decision.reason,
                queued_at=now, updated_at=now, order_no=request.order_no, product_id=request.product_id,
                customer_org_id=request.customer_org_id, provider_org_id=request.provider_org_id,
                role=request.role, rule=request.rule, department_id=request.department_id))
        uow.repo(DecisionRepository).add(Decision(
            id=new_id("dsp"), project_id=request.project_id, kind="employee", chosen=decision.chosen,
            reason=decision.reason, via=via, product_id=request.product_id,
            vendor_org_id=uow.repo(ProductProviderRepository).vendor_of_product(request.product_id),
            provider_org_id=request.provider_org_id, explanation=explanation, at=now))
        return Assignment(decision.chosen, decision.reason, explanation)

    def dispatch_queued(self, uow: UnitOfWork, entry: QueuedProject, via: str) -> Assignment:
        """Try a queued project again; on success the project continues (ProjectAdvancer)."""
        if entry.kind == "provider":
            assert entry.vendor_org_id is not None
            assignment = self._assign_provider(uow, ProviderRequest(
                project_id=entry.project_id, order_no=entry.order_no, product_id=entry.product_id,
                vendor_org_id=entry.vendor_org_id, customer_org_id=entry.customer_org_id), via)
            if assignment.assignee is not None:
                self.advancer.provider_assigned(uow, entry.project_id, assignment.assignee)
            return assignment
        assert entry.provider_org_id is not None and entry.role is not None and entry.rule is not None
        assignment = self._assign_employee(uow, EmployeeRequest(
            project_id=entry.project_id, order_no=entry.order_no, product_id=entry.product_id,
            customer_org_id=entry.customer_org_id, provider_org_id=entry.provider_org_id, role=entry.role,
            rule=entry.rule, department_id=entry.department_id), via)
        if assignment.assignee is not None:
            self.advancer.employee_assigned(uow, entry.project_id, assignment.assignee)
        return assignment

    # -- sweeps -------------------------------------------------------------------------

    def sweep(self, kind: Kind, scope: str | None = None, *, chunk: int = SWEEP_CHUNK) -> SweepReport:
        """Assign whatever capacity has appeared, oldest queued first: per scope (a product
        for the provider queue, a provider for the employee queue), chunk by chunk, each
        chunk one transaction."""
        if kind not in ("provider", "employee"):
            raise ValidationFailed("kind", "must be provider or employee", code="invalid_kind")
        if scope is None:
            with self.uow_factory() as uow:
                scopes = uow.repo(QueueRepository).scopes(kind)
        else:
            scopes = [scope]
        report = SweepReport(kind)
        for s in scopes:
            report = report + self._sweep_scope(kind, s, chunk)
        return report

    def _sweep_scope(self, kind: Kind, scope: str, chunk: int) -> SweepReport:
        report = SweepReport(kind, scopes=1)
        after: tuple[datetime, str] | None = None
        while True:
            try:
                with self.uow_factory() as uow:
                    planned = self._plan_chunk(uow, kind, scope, after, chunk)
                    self._write_chunk(uow, kind, planned)
                    uow.commit()
                failed = 0
            except Exception:
                # a refusing advancer or a deadlock: redo this stretch one project per transaction
                log.exception("dispatch sweep chunk failed (%s %s); retrying one project at a time", kind, scope)
                planned, failed = self._sweep_one_by_one(kind, scope, after, chunk)
            report = report + SweepReport(kind, examined=planned.examined, assigned=len(planned.assigned),
                                          chunks=1, failed=failed)
            if planned.exhausted or planned.last is None:
                return report
            after = planned.last

    def _plan_chunk(self, uow: UnitOfWork, kind: Kind, scope: str, after: tuple[datetime, str] | None,
                    limit: int) -> _Chunk:
        if kind == "employee":
            return self._plan_employee_chunk(uow, scope, after, limit)
        return self._plan_provider_chunk(uow, scope, after, limit)

    def _plan_employee_chunk(self, uow: UnitOfWork, provider_org_id: str, after: tuple[datetime, str] | None,
                             limit: int) -> _Chunk:
        caps = uow.repo(EmployeeCapacityRepository)
        # the rows we lock cannot move until commit; an employee a dispatcher holds right
        # now sits this chunk out (the next sweep sees them)
        locked = caps.lock_org(provider_org_id)
        employees = [e for e in caps.candidates(provider_org_id) if e.user_id in locked]
        spare = sum(max(0, e.max_load - e.current_load) for e in employees if e.accepting)
        out = _Chunk()
        if spare == 0:
            out.exhausted = True
            return out
        rows = uow.repo(QueueRepository).claim("employee", scope=provider_org_id, after=after, limit=limit)
        out.exhausted = len(rows) < limit
        pool = EmployeePool(employees, self.rng)
        for row in rows:
            out.examined += 1
            out.last = (row.queued_at, row.project_id)
            assert row.role is not None and row.rule is not None
            decision = pool.take(row.role, row.rule, row.department_id)
            if decision.chosen is None:
                continue
            ratio = decision.ratio
            # short: the rule and the winner's ratio (smallest current/max among the accepting
            # employees of the role with spare capacity, ties at random); listing every
            # employee for each of thousands of projects would be the slow part of a sweep
            out.assigned.append((row, decision.chosen, {
                "kind": "employee", "via": "sweep", "role": row.role, "rule": row.rule,
                "department_id": row.department_id,
                "ratio": f"{ratio.numerator}/{ratio.denominator}" if ratio is not None else None}))
            spare -= 1
            if spare == 0:
                out.exhausted = True
                break
        return out

    def _plan_provider_chunk(self, uow: UnitOfWork, product_id: str, after: tuple[datetime, str] | None,
                             limit: int) -> _Chunk:
        # like employees: a provider row a dispatcher holds right now sits this chunk out
        rows_pp = uow.repo(ProductProviderRepository).list_for_product(product_id, skip_locked=True)
        loads = {r.provider_org_id: r.current_load for r in rows_pp}
        spare = sum(max(0, r.max_load - r.current_load) for r in rows_pp)
        out = _Chunk()
        if spare == 0:
            out.exhausted = True
            return out
        rows = uow.repo(QueueRepository).claim("provider", scope=product_id, after=after, limit=limit)
        out.exhausted = len(rows) < limit
        for row in rows:
            out.examined += 1
            out.last = (row.queued_at, row.project_id)
            decision = choose_provider([ProviderCandidate(r.provider_org_id, r.weight, r.max_load,
                                                          loads[r.provider_org_id]) for r in rows_pp], self.rng)
            if decision.chosen is None:
                out.exhausted = True
                break
            loads[decision.chosen] += 1
            explanation = decision.explanation.to_dict()
            explanation["via"] = "sweep"
            out.assigned.append((row, decision.chosen, explanation))
            spare -= 1
            if spare == 0:
                out.exhausted = True
                break
        return out

    def _write_chunk(self, uow: UnitOfWork, kind: Kind, planned: _Chunk) -> None:
        """Loads, holdings, queue and decisions for the whole chunk first; then the
        advancer, which may dispatch again (conditionally) on top of the written loads."""
        if not planned.assigned:
            return
        now = self.clock.now()
        holdings = uow.repo(HoldingRepository)

        def org_of(row: QueuedProject, chosen: str) -> str:
            org = chosen if kind == "provider" else row.provider_org_id
            assert org is not None
            return org

        # a project may already hold the chosen employee (an earlier assign_order of another
        # role): one project counts once, so loads follow the holdings actually inserted
        inserted = holdings.add_many([Holding(row.project_id, kind, chosen, row.product_id, org_of(row, chosen),
                                              row.role, now) for row, chosen, _ in planned.assigned])
        deltas: Counter[str] = Counter(holder for _, holder in inserted)
        if kind == "employee":
            if not uow.repo(EmployeeCapacityRepository).add_loads(deltas, now, within_max=True):
                raise Conflict("an employee's load moved during the sweep", code="load_moved")
        else:
            providers = uow.repo(ProductProviderRepository)
            product_id = planned.assigned[0][0].product_id
            for provider_id in sorted(deltas):
                if not providers.add_load(product_id, provider_id, deltas[provider_id], now, within_max=True):
                    raise Conflict("a provider's load moved during the sweep", code="load_moved")
        decisions: list[Decision] = []
        vendor_cache: dict[str, str | None] = {}
        for row, chosen, explanation in planned.assigned:
            vendor = row.vendor_org_id
            if vendor is None:
                if row.product_id not in vendor_cache:
                    vendor_cache[row.product_id] = uow.repo(ProductProviderRepository).vendor_of_product(
                        row.product_id)
                vendor = vendor_cache[row.product_id]
            decisions.append(Decision(
                id=new_id("dsp"), project_id=row.project_id, kind=kind, chosen=chosen, reason=None, via="sweep",
                product_id=row.product_id, vendor_org_id=vendor,
                provider_org_id=chosen if kind == "provider" else row.provider_org_id, explanation=explanation,
                at=now))
        uow.repo(QueueRepository).delete_many([(row.project_id, kind) for row, _, _ in planned.assigned])
        uow.repo(DecisionRepository).add_many(decisions)
        advancer = self.advancer
        for row, chosen, _ in planned.assigned:
            if kind == "provider":
                advancer.provider_assigned(uow, row.project_id, chosen)
            else:
                advancer.employee_assigned(uow, row.project_id, chosen)

    def _sweep_one_by_one(self, kind: Kind, scope: str, after: tuple[datetime, str] | None,
                          limit: int) -> tuple[_Chunk, int]:
        """The slow path after a failed chunk: each project in its own transaction, so one
        project the advancer refuses cannot hold back the rest of the queue."""
        with self.uow_factory() as uow:
            rows = uow.repo(QueueRepository).claim(kind, scope=scope, after=after, limit=limit)
        out = _Chunk(exhausted=len(rows) < limit)
        failed = 0
        for row in rows:
            out.examined += 1
            out.last = (row.queued_at, row.project_id)
            try:
                with self.uow_factory() as uow:
                    entry = uow.repo(QueueRepository).get(row.project_id, kind, lock=True)
                    if entry is None:
                        continue
                    assignment = self.dispatch_queued(uow, entry, "sweep")
                    uow.commit()
                if assignment.assignee is not None:
                    out.assigned.append((row, assignment.assignee, assignment.explanation))
            except Exception:
                log.exception("dispatch sweep: project %s could not be dispatched", row.project_id)
                failed += 1
        return out, failed

    # -- checks ---------------------------------------------------------------------------

    def load_mismatches(self) -> list[LoadMismatch]:
        with self.uow_factory() as uow:
            return uow.repo(HoldingRepository).load_mismatches()


class DispatchService:
    """The admin commands and queries of the dispatch HTTP API."""

    @inject
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, dispatcher: Dispatcher,
                 jobs: JobQueue) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.dispatcher = dispatcher
        self.jobs = jobs

    # -- helpers -------------------------------------------------------------------------

    def _sweep_after_commit(self, uow: UnitOfWork, kind: Kind, scope: str) -> None:
        jobs = self.jobs
        uow.on_commit(lambda: jobs.enqueue(SWEEP_JOB, kind=kind, scope=scope))

    @staticmethod
    def _product_vendor(uow: UnitOfWork, caller: Caller, product_id: str) -> str:
        vendor = uow.repo(ProductVendors).vendor_of(product_id)
        if vendor is None or not caller.can_see_org(vendor):
            raise NotFound("no such product", code="product_not_found")
        return vendor

    @staticmethod
    def _require_vendor_admin(caller: Caller, vendor_org_id: str) -> None:
        caller.require_org(vendor_org_id)
        if caller.is_platform_admin:
            return
        if caller.acting_for_org_id == vendor_org_id and caller.org_id != vendor_org_id:
            raise Forbidden("acting for a principal does not include its products", code="permission_denied")
        caller.require("dispatch.providers.manage")

    @staticmethod
    def _require_capacity_admin(caller: Caller, org_id: str) -> None:
        caller.require_org(org_id)
        if caller.is_platform_admin:
            return
        if caller.org_id != org_id:
            raise NotFound("no such resource")
        caller.require("dispatch.capacity.manage")

    @staticmethod
    def _may_dispatch(caller: Caller, entry: QueuedProject) -> bool:
        if caller.is_platform_admin:
            return True
        owner = entry.vendor_org_id if entry.kind == "provider" else entry.provider_org_id
        if owner != caller.org_id:
            return False
        caller.require("dispatch.providers.manage" if entry.kind == "provider" else "dispatch.queue.manage")
        return True

    # -- providers of a product -------------------------------------------------------------

    def product_providers(self, caller: Caller, product_id: str) -> list[ProductProvider]:
        with self.uow_factory() as uow:
            vendor = self._product_vendor(uow, caller, product_id)
            self._require_vendor_admin(caller, vendor)
            return uow.repo(ProductProviderRepository).list_for_product(product_id)

    def set_product_providers(self, caller: Caller, product_id: str,
                              rows: Sequence[ProviderSetting]) -> list[ProductProvider]:
        now = self.clock.now()
        with self.uow_factory() as uow:
            vendor = self._product_vendor(uow, caller, product_id)
            self._require_vendor_admin(caller, vendor)
            linked = uow.repo(RelationRepository).list("vendor_provider", from_org_id=vendor, status="authorized")
            allowed = sorted({vendor, *(r.to_org_id for r in linked)})
            validate_provider_settings(rows, allowed)
            repo = uow.repo(ProductProviderRepository)
            existing = {p.provider_org_id: p for p in repo.list_for_product(product_id, active_only=False, lock=True)}
            more_capacity = False
            for row in rows:
                old = existing.get(row.provider_org_id)
                if row.max_load > 0 and (old is None or not old.active or row.max_load > old.max_load):
                    more_capacity = True
                repo.upsert(ProductProvider(product_id, row.provider_org_id, vendor, row.weight, row.max_load,
                                            old.current_load if old else 0, True, now))
            listed = {row.provider_org_id for row in rows}
            for provider_id, old in existing.items():
                if provider_id in listed or not old.active:
                    continue
                if old.current_load == 0:
                    repo.delete(product_id, provider_id)
                else:  # kept, out of the draw, until its projects release their load
                    repo.upsert(dataclasses.replace(old, active=False, updated_at=now))
            record(uow, caller, "dispatch.product_providers", product_id,
                   "; ".join(f"{r.provider_org_id} w={r.weight} max={r.max_load}" for r in rows) or "no providers",
                   now, org_id=vendor)
            if more_capacity:
                self._sweep_after_commit(uow, "provider", product_id)
            result = repo.list_for_product(product_id)
            uow.commit()
        return result

    # -- employee capacity ------------------------------------------------------------------

    def capacities(self, caller: Caller, org_id: str, page: PageRequest, *, role: str | None = None,
                   accepting: bool | None = None) -> Page[EmployeeCapacity]:
        with self.uow_factory() as uow:
            self._require_capacity_admin(caller, org_id)
            items, total = uow.repo(EmployeeCapacityRepository).search(
                org_id, role=role, accepting=accepting, offset=page.offset, limit=page.per_page)
        return Page(items, page.page, page.per_page, total)

    def set_capacity(self, caller: Caller, org_id: str, user_id: str, max_load: int,
                     accepting: bool) -> EmployeeCapacity:
        check_employee_max_load(max_load)
        now = self.clock.now()
        with self.uow_factory() as uow:
            self._require_capacity_admin(caller, org_id)
            user = uow.repo(UserRepository).get(user_id)
            if user is None or user.org_id != org_id or user.status == "deleted":
                raise NotFound("no such user", code="user_not_found")
            caps = uow.repo(EmployeeCapacityRepository)
            old = caps.get(user_id)
            cap = caps.upsert(org_id, user_id, max_load, accepting, now)
            before_max, before_accepting = (old.max_load, old.accepting) if old else (0, True)
            if accepting and max_load > 0 and (max_load > before_max or not before_accepting):
                self._sweep_after_commit(uow, "employee", org_id)
            record(uow, caller, "dispatch.capacity", user_id,
                   f"max_load {before_max}->{max_load}, accepting {before_accepting}->{accepting}", now,
                   org_id=org_id)
            uow.commit()
        return cap

    def my_capacity(self, caller: Caller) -> EmployeeCapacity:
        user_id = self._employee(caller)
        with self.uow_factory() as uow:
            cap = uow.repo(EmployeeCapacityRepository).get(user_id)
        return cap or EmployeeCapacity(user_id, caller.org_id, 0, True, 0, None)

    def set_my_accepting(self, caller: Caller, accepting: bool) -> EmployeeCapacity:
        user_id = self._employee(caller)
        now = self.clock.now()
        with self.uow_factory() as uow:
            caps = uow.repo(EmployeeCapacityRepository)
            old = caps.get(user_id)
            max_load = old.max_load if old else 0
            cap = caps.upsert(caller.org_id, user_id, max_load, accepting, now)
            if accepting and old is not None and not old.accepting and max_load > 0:
                self._sweep_after_commit(uow, "employee", caller.org_id)
            record(uow, caller, "dispatch.accepting", user_id, f"accepting -> {accepting}", now)
            uow.commit()
        return cap

    def _employee(self, caller: Caller) -> str:
        if caller.user_id is None:
            raise Forbidden("an API key is no employee", code="permission_denied")
        if "provider" not in caller.org_kinds:
            raise Forbidden("only employees of a provider take projects", code="not_a_provider")
        return caller.user_id

    # -- queue ----------------------------------------------------------------------------------

    def queue(self, caller: Caller, page: PageRequest, *, kind: Kind | None = None, order_no: str | None = None,
              product_id: str | None = None, customer_org_id: str | None = None,
              provider_org_id: str | None = None, reason_code: str | None = None) -> Page[QueuedProject]:
        filters: dict[str, Any] = dict(kind=kind, order_no=order_no, product_id=product_id,
                                       customer_org_id=customer_org_id, provider_org_id=provider_org_id,
                                       reason_code=reason_code)
        if caller.is_platform_admin:
            flt = QueueFilter(unrestricted=True, **filters)
        else:
            as_vendor = caller.org_id if caller.has("dispatch.providers.manage") and kind != "employee" else None
            as_provider = caller.org_id if caller.has("dispatch.queue.manage") and kind != "provider" else None
            if as_vendor is None and as_provider is None:
                caller.require("dispatch.providers.manage" if kind == "provider" else "dispatch.queue.manage")
            flt = QueueFilter(as_vendor=as_vendor, as_provider=as_provider, **filters)
        with self.uow_factory() as uow:
            items, total = uow.repo(QueueRepository).search(flt, page.offset, page.per_page)
        return Page(items, page.page, page.per_page, total)

    def dispatch_now(self, caller: Caller, project_id: str) -> DispatchOutcome:
        with self.uow_factory() as uow:
            queue = uow.repo(QueueRepository)
            entry = next((e for e in queue.for_project(project_id) if self._may_dispatch(caller, e)), None)
            if entry is None:
                raise NotFound("this project is not waiting in a queue you manage", code="not_queued")
            locked = queue.get(project_id, entry.kind, lock=True)
            if locked is None:  # a sweep took it meanwhile
                raise NotFound("this project is no longer queued", code="not_queued")
            assignment = self.dispatcher.dispatch_queued(uow, locked, "dispatch_now")
            record(uow, caller, "dispatch.dispatch_now", project_id,
                   f"{locked.kind}: {assignment.assignee or 'still queued: ' + str(assignment.reason)}",
                   self.clock.now(), org_id=caller.org_id)
            uow.commit()
        return DispatchOutcome(project_id, locked.kind, assignment.assignee, assignment.reason,
                               assignment.explanation)

    def sweep(self, kind: Kind | None = None, scope: str | None = None) -> list[SweepReport]:
        kinds: tuple[Kind, ...] = (kind,) if kind else ("provider", "employee")
        return [self.dispatcher.sweep(k, scope) for k in kinds]

    # -- dashboards and explanations --------------------------------------------------------

    def saturation(self, caller: Caller, page: PageRequest, *, product_id: str | None = None,
                   provider_org_id: str | None = None, vendor_org_id: str | None = None) -> Page[SaturationRow]:
        visible: str | None = None
        if not caller.is_platform:
            if not any(caller.has(p) for p in SATURATION_PERMISSIONS):
                caller.require("dashboard.view")
            visible = caller.org_id
        with self.uow_factory() as uow:
            rows, total = uow.repo(ProductProviderRepository).search(
                product_id=product_id, vendor_org_id=vendor_org_id, provider_org_id=provider_org_id,
                visible_to_org=visible, offset=page.offset, limit=page.per_page)
        return Page([self._saturation_row(r) for r in rows], page.page, page.per_page, total)

    @staticmethod
    def _saturation_row(r: ProductProvider) -> SaturationRow:
        s: Saturation = saturation(r.current_load, r.max_load)
        return SaturationRow(r.product_id, r.provider_org_id, r.provider_name, r.vendor_org_id, r.weight,
                             r.current_load, r.max_load, s.percent, s.band)

    def decisions(self, caller: Caller, page: PageRequest, *, project_id: str | None = None,
                  kind: Kind | None = None) -> Page[Decision]:
        visible: str | None = None
        if not caller.is_platform_admin:
            if not any(caller.has(p) for p in PROVIDER_ADMIN_PERMISSIONS):
                caller.require("dispatch.providers.manage")
            visible = caller.org_id
        with self.uow_factory() as uow:
            items, total = uow.repo(DecisionRepository).search(
                project_id=project_id, kind=kind, visible_to_org=visible, offset=page.offset, limit=page.per_page)
        return Page(items, page.page, page.per_page, total)

