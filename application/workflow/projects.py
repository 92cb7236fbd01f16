"""Delivery projects: start for a paid order, the node walk, and every project command.

Each command runs in one unit of work: load the project under a row lock, check
who the caller is to it (``view_of``), call the domain, let dispatch resolve any
assignment node it reached, release dispatch's loads when it finished, save,
publish the events (reminders go out through the outbox), commit.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, BinaryIO

from injector import inject

from application.dispatch.api import DispatchApi, ProjectAdvancer, ProviderRequest
from application.shared.access import Caller
from application.shared.audit import record
from application.shared.clock import Clock
from application.shared.uow import UnitOfWork, UnitOfWorkFactory
from application.workflow.engine import (
    CUSTOMER,
    PLATFORM,
    ProjectEngine,
    actor_for,
    require_provider_side,
    view_of,
)
from application.workflow.ports import (
    BusinessInfo,
    FileStorage,
    FlowTemplateRepository,
    FormTemplateRepository,
    ProductRepository,
    ProjectQueries,
    ProjectRepository,
)
from application.workflow.views import (
    OperatorInfo,
    file_view,
    log_view,
    post_view,
    project_view,
)
from domain.identity.ports import OrganizationRepository, RelationRepository, UserRepository
from domain.shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from domain.shared.ids import new_id
from domain.workflow import events
from domain.workflow.calendar import WorkSchedule
from domain.workflow.project import Project

MAX_FILE_BYTES = 2 * 1024 * 1024  # the HTTP app's request limit
Command = Callable[[UnitOfWork, Project, str, datetime, WorkSchedule], None]


@dataclasses.dataclass(frozen=True)
class Download:
    name: str
    size: int
    stream: BinaryIO


class ProjectService:
    @inject
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, engine: ProjectEngine,
                 storage: FileStorage) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.engine = engine
        self.storage = storage

    # ------------------------------------------------------------------ start
    def start_for_order(self, uow: UnitOfWork, *, order_no: str, product_id: str, customer_org_id: str,
                        business_no: str | None = None, spec: str | None = None,
                        valid_until: date | None = None) -> tuple[Project, bool]:
        """Start the project of a paid order inside the caller's unit of work (the trade
        module calls this from its order-paid handler). An order starts one project:
        a second call returns the existing one and ``False``."""
        repo = uow.repo(ProjectRepository)
        order_no = (order_no or "").strip()
        existing = repo.id_by_order_no(order_no) if order_no else None
        if existing is not None:
            return self.engine.load(uow, existing), False
        product = uow.repo(ProductRepository).get(product_id)
        if product is None:
            raise ValidationFailed("product_id", "unknown product", code="unknown_product")
        if product.template_id is None:
            raise Conflict("the product has no service-flow template", code="product_without_template")
        template = uow.repo(FlowTemplateRepository).get(product.template_id)
        version = template.current if template is not None else None
        if template is None or version is None:
            raise Conflict("the product's template has no published version", code="template_not_published")
        if uow.repo(OrganizationRepository).get(customer_org_id) is None:
            raise ValidationFailed("customer_org_id", "unknown organisation", code="unknown_customer")
        now = self.clock.now()
        schedule = self.engine.schedule(uow, product.vendor_org_id)
        project = Project.start(id=new_id("prj"), order_no=order_no, product_id=product.id,
                                template_id=template.id, template_version=version.number,
                                vendor_org_id=product.vendor_org_id, customer_org_id=customer_org_id,
                                flow=version.flow(), now=now, schedule=schedule,
                                business_no=(business_no or "").strip() or None)
        repo.add(project, BusinessInfo(spec=(spec or "").strip() or None, valid_until=valid_until))
        self.engine.drive(uow, project, now, schedule)
        self.engine.store(uow, project, was_finished=False)
        return project, True

    def start(self, caller: Caller, *, order_no: str, product_id: str, customer_org_id: str,
              business_no: str | None = None, spec: str | None = None, valid_until: date | None = None
              ) -> dict[str, Any]:
        """The marketplace/order system's endpoint: the platform or the product's vendor."""
        with self.uow_factory() as uow:
            product = uow.repo(ProductRepository).get(product_id)
            if product is None or not caller.can_see_org(product.vendor_org_id):
                raise ValidationFailed("product_id", "unknown product", code="unknown_product")
            if not caller.is_platform_admin:
                caller.require("workflow.projects.manage", org_id=product.vendor_org_id)
            project, created = self.start_for_order(
                uow, order_no=order_no, product_id=product_id, customer_org_id=customer_org_id,
                business_no=business_no, spec=spec, valid_until=valid_until)
            if not created:
                raise Conflict(f"order {order_no} already has a project", code="project_exists",
                               details={"project_id": project.id})
            record(uow, caller, "workflow.project_start", project.id, f"order {project.order_no}", self.clock.now(),
                   org_id=project.vendor_org_id)
            detail = self._detail(uow, caller, project)
            uow.commit()
        return detail

    # ------------------------------------------------------------------ queries
    def _operators(self, uow: UnitOfWork, project: Project) -> list[OperatorInfo]:
        users = uow.repo(UserRepository)
        out = []
        for role, user_id in sorted(project.role_operators.items()):
            user = users.get(user_id)
            out.append(OperatorInfo(role=role, user_id=user_id, name=user.name if user else None,
                                    phone=user.phone if user else None))
        return out

    def _detail(self, uow: UnitOfWork, caller: Caller, project: Project, view: str | None = None
                ) -> dict[str, Any]:
        view = view or view_of(uow, caller, project)
        row = uow.repo(ProjectQueries).row(project.id)
        assert row is not None
        return project_view(project, row, view, self._operators(uow, project))

    def detail(self, caller: Caller, project_id: str) -> dict[str, Any]:
        with self.uow_factory() as uow:
            project = self.engine.load(uow, project_id, lock=False)
            return self._detail(uow, caller, project)

    def log(self, caller: Caller, project_id: str) -> list[dict[str, Any]]:
        with self.uow_factory() as uow:
            project = self.engine.load(uow, project_id, lock=False)
            view_of(uow, caller, project)
        return log_view(project)

    def messages(self, caller: Caller, project_id: str) -> list[dict[str, Any]]:
        with self.uow_factory() as uow:
            project = self.engine.load(uow, project_id, lock=False)
            view_of(uow, caller, project)
        return [post_view(p) for p in project.messages]

    def notes(self, caller: Caller, project_id: str) -> list[dict[str, Any]]:
        with self.uow_factory() as uow:
            project = self.engine.load(uow, project_id, lock=False)
            require_provider_side(view_of(uow, caller, project))
        return [post_view(p) for p in project.notes]

    def files(self, caller: Caller, project_id: str) -> list[dict[str, Any]]:
        with self.uow_factory() as uow:
            project = self.engine.load(uow, project_id, lock=False)
            view_of(uow, caller, project)
        return [file_view(project, f) for f in project.files]

    def download(self, caller: Caller, project_id: str, file_id: str) -> Download:
        with self.uow_factory() as uow:
            project = self.engine.load(uow, project_id, lock=False)
            view_of(uow, caller, project)
        for f in project.files:
            if f.id == file_id:
                return Download(name=f.name, size=f.size, stream=self.storage.open(f"{project.id}/{f.id}"))
        raise NotFound("no such file", code="file_not_found")

    # ------------------------------------------------------------------ commands
    def _command(self, caller: Caller, project_id: str, command: Command, *, audit: str | None = None
                 ) -> dict[str, Any]:
        now = self.clock.now()
        with self.uow_factory() as uow:
            project = self.engine.load(uow, project_id)
            view = view_of(uow, caller, project)
            was_finished = project.is_finished
            schedule = self.engine.schedule(uow, project.vendor_org_id)
            command(uow, project, view, now, schedule)
            self.engine.drive(uow, project, now, schedule)
            self.engine.store(uow, project, was_finished=was_finished)
            if audit:
                record(uow, caller, f"workflow.{audit}", project.id, f"order {project.order_no}", now,
                       org_id=project.vendor_org_id)
            detail = self._detail(uow, caller, project, view)
            uow.commit()
        return detail

    def submit_requirements(self, caller: Caller, project_id: str, node_id: str, values: Mapping[str, Any]
                            ) -> dict[str, Any]:
        def run(uow: UnitOfWork, project: Project, view: str, now: datetime, schedule: WorkSchedule) -> None:
            inst = project.node(node_id)
            node = project.step_of(inst).node
            form = uow.repo(FormTemplateRepository).get(node.form_template_id or "")
            if form is None:
                raise Conflict("this node has no requirement form", code="wrong_node_type")
            project.submit_requirements(node_id, actor_for(uow, caller, project, inst), form, values, now, schedule)
        return self._command(caller, project_id, run)

    def confirm(self, caller: Caller, project_id: str, node_id: str, remark: str | None = None) -> dict[str, Any]:
        def run(uow: UnitOfWork, project: Project, view: str, now: datetime, schedule: WorkSchedule) -> None:
            inst = project.node(node_id)
            project.confirm(node_id, actor_for(uow, caller, project, inst), now, schedule, remark=remark)
        return self._command(caller, project_id, run)

    def reject(self, caller: Caller, project_id: str, node_id: str, reason: str) -> dict[str, Any]:
        def run(uow: UnitOfWork, project: Project, view: str, now: datetime, schedule: WorkSchedule) -> None:
            inst = project.node(node_id)
            project.reject(node_id, actor_for(uow, caller, project, inst), reason, now, schedule)
        return self._command(caller, project_id, run)

    def upload(self, caller: Caller, project_id: str, node_id: str, filename: str, stream: BinaryIO
               ) -> dict[str, Any]:
        file_id = new_id("file")
        key = f"{project_id}/{file_id}"
        now = self.clock.now()
        with self.uow_factory() as uow:
            project = self.engine.load(uow, project_id)
            view_of(uow, caller, project)
            inst = project.node(node_id)
            actor = actor_for(uow, caller, project, inst)
            # the domain checks the node and the operator before anything reaches the disk
            project.upload(node_id, actor, file_id=file_id, name=filename or "file", size=0, now=now)
            try:
                size = self.storage.save(key, stream, MAX_FILE_BYTES)
            except ValueError as exc:
                raise ValidationFailed("file", f"must be at most {MAX_FILE_BYTES} bytes", code="file_too_large") \
                    from exc
            try:
                file = dataclasses.replace(project.files[-1], size=size)
                project.files[-1] = file
                self.engine.store(uow, project, was_finished=project.is_finished)
                uow.commit()
            except BaseException:
                self.storage.delete(key)
                raise
        return file_view(project, file)

    def pause(self, caller: Caller, project_id: str, remark: str) -> dict[str, Any]:
        def run(uow: UnitOfWork, project: Project, view: str, now: datetime, schedule: WorkSchedule) -> None:
            self._require_manager(caller, project, view, provider_admin_too=True)
            project.pause(actor_for(uow, caller, project), remark, now)
        return self._command(caller, project_id, run, audit="project_pause")

    def resume(self, caller: Caller, project_id: str, remark: str | None = None) -> dict[str, Any]:
        def run(uow: UnitOfWork, project: Project, view: str, now: datetime, schedule: WorkSchedule) -> None:
            self._require_manager(caller, project, view, provider_admin_too=True)
            project.resume(actor_for(uow, caller, project), now, schedule, remark=remark)
        return self._command(caller, project_id, run, audit="project_resume")

    def cancel(self, caller: Caller, project_id: str, remark: str) -> dict[str, Any]:
        def run(uow: UnitOfWork, project: Project, view: str, now: datetime, schedule: WorkSchedule) -> None:
            self._require_manager(caller, project, view, provider_admin_too=False)
            project.cancel(actor_for(uow, caller, project), remark, now)
        return self._command(caller, project_id, run, audit="project_cancel")

    def change_provider(self, caller: Caller, project_id: str, provider_org_id: str, remark: str | None
                        ) -> dict[str, Any]:
        def run(uow: UnitOfWork, project: Project, view: str, now: datetime, schedule: WorkSchedule) -> None:
            if not (caller.is_platform_admin or (caller.org_id == project.vendor_org_id
                                                 and caller.has("dispatch.providers.manage"))):
                raise Forbidden("the vendor admin changes the provider", code="permission_denied")
            if project.is_finished:
                raise Conflict(f"the project is {project.status}", code="project_finished")
            provider = uow.repo(OrganizationRepository).get(provider_org_id)
            linked = provider is not None and "provider" in provider.kinds and (
                provider_org_id == project.vendor_org_id or self._linked(uow, project.vendor_org_id, provider_org_id))
            if not linked:
                raise ValidationFailed("provider_org_id", "not a provider of this vendor", code="unknown_provider")
            self.engine.dispatch.release_project(uow, project.id)
            self.engine.dispatch.take_provider(uow, ProviderRequest(
                project_id=project.id, order_no=project.order_no, product_id=project.product_id,
                vendor_org_id=project.vendor_org_id, customer_org_id=project.customer_org_id), provider_org_id)
            project.change_provider(actor_for(uow, caller, project), provider_org_id, remark or "", now, schedule)
        return self._command(caller, project_id, run, audit="project_change_provider")

    @staticmethod
    def _linked(uow: UnitOfWork, vendor_org_id: str, provider_org_id: str) -> bool:
        rel = uow.repo(RelationRepository).find("vendor_provider", vendor_org_id, provider_org_id)
        return rel is not None and rel.status == "authorized"

    def change_operator(self, caller: Caller, project_id: str, user_id: str, remark: str | None,
                        role: str | None = None) -> dict[str, Any]:
        """Provider admin: hand the project's role to another employee of the same role."""
        def run(uow: UnitOfWork, project: Project, view: str, now: datetime, schedule: WorkSchedule) -> None:
            if not (caller.is_platform_admin or (caller.org_id == project.provider_org_id
                                                 and caller.has("dispatch.reassign"))):
                raise Forbidden("the provider admin changes operators", code="permission_denied")
            target = uow.repo(UserRepository).get(user_id)
            if target is None or target.org_id != project.provider_org_id or target.status != "active":
                raise ValidationFailed("user_id", "not an active employee of the provider", code="unknown_user")
            before = len(project.events)
            project.change_operator(actor_for(uow, caller, project), user_id, remark or "", now, role=role)
            changed = [e for e in project.events[before:] if isinstance(e, events.OperatorChanged)]
            ev = changed[-1]
            if ev.role not in target.roles:
                raise Conflict(f"the new operator must have the role {ev.role}", code="wrong_role",
                               details={"user_id": [f"lacks the role {ev.role}"]})
            if ev.old_user_id is not None:
                self.engine.dispatch.move_employee_load(uow, project.id, ev.old_user_id, user_id)
        return self._command(caller, project_id, run, audit="project_change_operator")

    @staticmethod
    def _require_manager(caller: Caller, project: Project, view: str, *, provider_admin_too: bool) -> None:
        if view == PLATFORM and caller.is_platform_admin:
            return
        if caller.org_id == project.vendor_org_id and caller.has("workflow.projects.manage"):
            return
        if provider_admin_too and caller.org_id == project.provider_org_id and caller.has("dispatch.reassign"):
            return
        raise Forbidden("you cannot manage this project", code="permission_denied")

    def add_message(self, caller: Caller, project_id: str, text: str) -> dict[str, Any]:
        return self._post(caller, project_id, text, note=False)

    def add_note(self, caller: Caller, project_id: str, text: str) -> dict[str, Any]:
        return self._post(caller, project_id, text, note=True)

    def _post(self, caller: Caller, project_id: str, text: str, *, note: bool) -> dict[str, Any]:
        now = self.clock.now()
        with self.uow_factory() as uow:
            project = self.engine.load(uow, project_id)
            view = view_of(uow, caller, project)
            if note:
                require_provider_side(view)
            actor = actor_for(uow, caller, project)
            post = project.add_note(actor, text, now) if note else project.add_message(actor, text, now)
            self.engine.store(uow, project, was_finished=project.is_finished)
            uow.commit()
        return post_view(post)

    def evaluate(self, caller: Caller, project_id: str, rating: int, comment: str | None) -> dict[str, Any]:
        def run(uow: UnitOfWork, project: Project, view: str, now: datetime, schedule: WorkSchedule) -> None:
            if view != CUSTOMER and caller.org_id != project.customer_org_id:
                raise Forbidden("only the customer evaluates the service", code="not_customer")
            project.evaluate(actor_for(uow, caller, project), rating, comment or "", now)
        return self._command(caller, project_id, run)

    # ------------------------------------------------------------------ claims
    def claim(self, caller: Caller, order_no: str) -> dict[str, Any]:
        """An account manager claims a marketplace order for their department.

        Codes: ``order_not_found`` (no such order for the caller's organisation),
        ``wrong_role`` (not an account manager, or not the node's role),
        ``already_claimed``, ``not_claimable`` (the project is not on a claim node).
        """
        if not caller.has("dispatch.claim"):
            raise Forbidden("claiming orders needs the account_manager role", code="wrong_role")
        order_no = (order_no or "").strip()
        now = self.clock.now()
        with self.uow_factory() as uow:
            repo = uow.repo(ProjectRepository)
            project_id = repo.id_by_order_no(order_no) if order_no else None
            project = repo.get(project_id, for_update=True) if project_id else None
            if project is None or project.provider_org_id != caller.org_id:
                raise NotFound(f"no project for order {order_no}", code="order_not_found")
            schedule = self.engine.schedule(uow, project.vendor_org_id)
            project.claim(actor_for(uow, caller, project, project.current), now, schedule)
            self.engine.drive(uow, project, now, schedule)
            self.engine.store(uow, project, was_finished=False)
            record(uow, caller, "workflow.project_claim", project.id, f"order {project.order_no}", now,
                   org_id=project.vendor_org_id)
            detail = self._detail(uow, caller, project)
            uow.commit()
        return detail


class WorkflowProjectAdvancer(ProjectAdvancer):
    """Dispatch found capacity for a queued project: continue its walk in dispatch's unit of work."""

    @inject
    def __init__(self, clock: Clock, engine: ProjectEngine) -> None:
        self.clock = clock
        self.engine = engine

    def _continue(self, uow: UnitOfWork, project_id: str, assign: Callable[[Project, datetime, WorkSchedule], None]
                  ) -> None:
        project = self.engine.load(uow, project_id)
        now = self.clock.now()
        schedule = self.engine.schedule(uow, project.vendor_org_id)
        was_finished = project.is_finished
        assign(project, now, schedule)
        self.engine.drive(uow, project, now, schedule)
        self.engine.store(uow, project, was_finished=was_finished)

    def provider_assigned(self, uow: UnitOfWork, project_id: str, provider_org_id: str) -> None:
        self._continue(uow, project_id, lambda p, now, s: p.assign_provider(provider_org_id, now, s))

    def employee_assigned(self, uow: UnitOfWork, project_id: str, user_id: str) -> None:
        self._continue(uow, project_id, lambda p, now, s: p.assign_employee(user_id, now, s))


__all__ = ["DispatchApi", "Download", "ProjectService", "WorkflowProjectAdvancer"]
