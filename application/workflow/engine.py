"""What every project command shares: the working-day schedule, the dispatch loop,
saving and publishing, and who the caller is to a project.

``ProjectEngine.drive`` resolves assignment nodes through ``DispatchApi`` inside the
caller's unit of work until the project waits for a person or sits in a queue;
``ProjectEngine.store`` releases dispatch's loads when the project has just finished,
saves it and publishes its events to the outbox.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime

from injector import inject, singleton

from application.dispatch.api import DispatchApi, EmployeeRequest, ProviderRequest
from application.shared.access import Caller
from application.shared.clock import Clock
from application.shared.uow import UnitOfWork
from application.workflow.ports import PLATFORM_CALENDAR, CalendarRepository, ProjectQueries, ProjectRepository
from domain.identity.ports import UserRepository
from domain.shared.errors import Forbidden, NotFound
from domain.workflow.calendar import WorkCalendar, WorkSchedule
from domain.workflow.project import Actor, NodeInstance, Project

# how a caller sees a project; everything but "customer" is the provider side
PLATFORM, VENDOR, PROVIDER, PARTICIPANT, CUSTOMER = "platform", "vendor", "provider", "participant", "customer"
PROVIDER_SIDE = frozenset({PLATFORM, VENDOR, PROVIDER, PARTICIPANT})


@singleton
class CalendarCache:
    """Calendars change rarely and every command needs one: keep each for ``TTL_SECONDS``.

    ``CalendarService`` clears the cache on every edit, so this process sees an edit at
    once; other processes within ``TTL_SECONDS``.
    """

    TTL_SECONDS = 60.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, WorkCalendar]] = {}

    def get(self, owner: str, load: Callable[[], WorkCalendar]) -> WorkCalendar:
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(owner)
        if hit is not None and 0 <= now - hit[0] < self.TTL_SECONDS:
            return hit[1]
        calendar = load()
        with self._lock:
            self._entries[owner] = (now, calendar)
        return calendar

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class ProjectEngine:
    @inject
    def __init__(self, dispatch: DispatchApi, clock: Clock, calendars: CalendarCache) -> None:
        self.dispatch = dispatch
        self.clock = clock
        self.calendars = calendars

    # -- calendar ------------------------------------------------------------------
    def schedule(self, uow: UnitOfWork, vendor_org_id: str) -> WorkSchedule:
        """The platform calendar with the vendor's own days winning, in the platform time zone."""
        repo = uow.repo(CalendarRepository)
        platform = self.calendars.get(PLATFORM_CALENDAR, lambda: repo.get(PLATFORM_CALENDAR))
        own = self.calendars.get(vendor_org_id, lambda: repo.get(vendor_org_id))
        return WorkSchedule(platform.overlay(own), self.clock.tz)

    # -- loading ---------------------------------------------------------------------
    @staticmethod
    def load(uow: UnitOfWork, project_id: str, *, lock: bool = True) -> Project:
        project = uow.repo(ProjectRepository).get(project_id, for_update=lock)
        if project is None:
            raise NotFound("no such project", code="project_not_found")
        return project

    # -- the dispatch loop -------------------------------------------------------------
    def drive(self, uow: UnitOfWork, project: Project, now: datetime, schedule: WorkSchedule) -> None:
        for _ in range(len(project.flow) + 1):
            req = project.pending_assignment
            if req is None:
                return
            if req.kind == "provider":
                got = self.dispatch.assign_provider(uow, ProviderRequest(
                    project_id=project.id, order_no=project.order_no, product_id=project.product_id,
                    vendor_org_id=project.vendor_org_id, customer_org_id=project.customer_org_id))
                if got.assignee is None:
                    project.queue_for_provider(got.reason or "no provider can take the project", now)
                    return
                project.assign_provider(got.assignee, now, schedule, decision=got.explanation)
            else:
                assert project.provider_org_id is not None
                got = self.dispatch.assign_employee(uow, EmployeeRequest(
                    project_id=project.id, order_no=project.order_no, product_id=project.product_id,
                    customer_org_id=project.customer_org_id, provider_org_id=project.provider_org_id,
                    role=req.role or "", rule=req.rule or "provider_first", department_id=req.department_id))
                if got.assignee is None:
                    project.queue_for_employee(got.reason or f"no employee with role {req.role}", now)
                    return
                project.assign_employee(got.assignee, now, schedule, decision=got.explanation)

    def store(self, uow: UnitOfWork, project: Project, *, was_finished: bool) -> None:
        if project.is_finished and not was_finished:
            self.dispatch.release_project(uow, project.id)
        uow.repo(ProjectRepository).save(project)
        uow.publish(*project.events)
        project.events.clear()


# --------------------------------------------------------------------------- access
def view_of(uow: UnitOfWork, caller: Caller, project: Project) -> str:
    """How the caller sees the project; another tenant's project does not exist (404)."""
    if caller.is_platform:
        return PLATFORM
    org = caller.org_id
    if org == project.vendor_org_id and caller.has("workflow.projects.view_all"):
        return VENDOR
    if project.provider_org_id is not None and org == project.provider_org_id:
        if caller.has("workflow.projects.view_provider"):
            return PROVIDER
        if caller.user_id is not None:
            if caller.user_id in project.holders() or uow.repo(ProjectQueries).is_participant(
                    project.id, caller.user_id):
                return PARTICIPANT
            inst = project.current
            if inst is not None and inst.side == "provider" and inst.operator_id is None \
                    and inst.role in caller.roles:
                return PARTICIPANT
    if org == project.customer_org_id:
        return CUSTOMER
    raise NotFound("no such project", code="project_not_found")


def require_provider_side(view: str) -> None:
    if view not in PROVIDER_SIDE:
        raise Forbidden("notes are for the provider side only", code="notes_provider_only")


def actor_for(uow: UnitOfWork, caller: Caller, project: Project, inst: NodeInstance | None = None) -> Actor:
    """The domain's view of the caller: a user, with the capacity the log shows."""
    if caller.user_id is None:
        raise Forbidden("an API key is no person: log in as a user to work on a project", code="user_required")
    user = uow.repo(UserRepository).get(caller.user_id)
    if user is None:
        raise Forbidden("unknown user", code="user_required")
    roles = frozenset(caller.roles)
    if inst is not None and inst.side == "customer" and caller.org_id == project.customer_org_id:
        label = "customer"
    elif inst is not None and inst.role and inst.role in roles:
        label = inst.role
    elif caller.org_id == project.customer_org_id and caller.org_id not in (
            project.vendor_org_id, project.provider_org_id):
        label = "customer"
    elif caller.is_platform:
        label = "platform"
    else:
        label = caller.roles[0] if caller.roles else "user"
    return Actor(user_id=user.id, org_id=caller.org_id, roles=roles, name=user.name, role_label=label,
                 department_id=user.department_id)
