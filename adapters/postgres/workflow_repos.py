"""Workflow repositories on SQLAlchemy Core: templates, products, calendars, projects.

A project is one ``projects`` row (the columns lists and the dashboard query), one
``project_nodes`` row per node instance (with ``timer_at``: the deadline while the
timeout can still fire, indexed for the timeout job), and append-only log, post, file
and evaluation rows. The repository remembers what it loaded so ``save`` writes only
what changed.
"""
from __future__ import annotations

import builtins
import dataclasses
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, false, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from adapters.postgres import tables as t
from adapters.postgres.shared_repos import for_update
from application.workflow.ports import (
    BusinessInfo,
    CalendarRepository,
    DashboardCounts,
    DueTimer,
    FlowTemplateRepository,
    FormTemplateRepository,
    MessageTemplate,
    MessageTemplateRepository,
    ProductRepository,
    ProjectFilter,
    ProjectQueries,
    ProjectRepository,
    ProjectRow,
    ProjectScope,
    ServiceProduct,
)
from domain.workflow.calendar import WorkCalendar
from domain.workflow.forms import FormField, FormTemplate
from domain.workflow.project import Evaluation, LogEntry, NodeInstance, Post, Project, ProjectFile
from domain.workflow.templates import Flow, FlowTemplate, TemplateVersion, node_to_dict, nodes_from_dicts

# published template versions never change: their flows are shared by every load
_FLOWS: dict[tuple[str, int], Flow] = {}
_VERSIONS: dict[tuple[str, int], TemplateVersion] = {}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like(column: Any, text: str) -> Any:
    return column.like(f"%{_escape_like(text)}%", escape="\\")


# --------------------------------------------------------------------------- forms, messages
class SqlFormTemplates(FormTemplateRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @staticmethod
    def _row(r: Any) -> FormTemplate:
        fields = tuple(FormField(key=f["key"], label=f["label"], type=f["type"], required=bool(f.get("required")),
                                 choices=tuple(f.get("choices") or ())) for f in r.fields)
        return FormTemplate(id=r.id, name=r.name, fields=fields)

    def add(self, form: FormTemplate, now: datetime) -> None:
        self.conn.execute(insert(t.form_templates).values(
            id=form.id, name=form.name, created_at=now,
            fields=[{"key": f.key, "label": f.label, "type": f.type, "required": f.required,
                     "choices": list(f.choices)} for f in form.fields]))

    def get(self, form_id: str) -> FormTemplate | None:
        r = self.conn.execute(select(t.form_templates).where(t.form_templates.c.id == form_id)).first()
        return self._row(r) if r else None

    def ids(self) -> set[str]:
        return set(self.conn.execute(select(t.form_templates.c.id)).scalars())

    def list(self, offset: int, limit: int) -> tuple[list[FormTemplate], int]:
        c = t.form_templates.c
        total = self.conn.execute(select(func.count()).select_from(t.form_templates)).scalar_one()
        rows = self.conn.execute(select(t.form_templates).order_by(c.created_at, c.id).offset(offset).limit(limit))
        return [self._row(r) for r in rows], total


class SqlMessageTemplates(MessageTemplateRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, template: MessageTemplate) -> None:
        self.conn.execute(insert(t.message_templates).values(**dataclasses.asdict(template)))

    def save(self, template: MessageTemplate) -> None:
        values = dataclasses.asdict(template)
        values.pop("id")
        self.conn.execute(update(t.message_templates).where(t.message_templates.c.id == template.id)
                          .values(**values))

    def by_name(self, name: str) -> MessageTemplate | None:
        r = self.conn.execute(select(t.message_templates).where(t.message_templates.c.name == name)).first()
        return MessageTemplate(**r._mapping) if r else None

    def get(self, template_id: str) -> MessageTemplate | None:
        r = self.conn.execute(select(t.message_templates).where(t.message_templates.c.id == template_id)).first()
        return MessageTemplate(**r._mapping) if r else None

    def names(self) -> set[str]:
        return set(self.conn.execute(select(t.message_templates.c.name)).scalars())

    def list(self, name: str | None, offset: int, limit: int) -> tuple[list[MessageTemplate], int]:
        c = t.message_templates.c
        conds = [_like(c.name, name)] if name else []
        total = self.conn.execute(select(func.count()).select_from(t.message_templates).where(*conds)).scalar_one()
        rows = self.conn.execute(select(t.message_templates).where(*conds).order_by(c.name).offset(offset)
                                 .limit(limit))
        return [MessageTemplate(**r._mapping) for r in rows], total


# --------------------------------------------------------------------------- flow templates
def _version_from_row(r: Any) -> TemplateVersion:
    return TemplateVersion(number=r.number, name=r.name, description=r.description,
                           nodes=nodes_from_dicts(r.nodes), status=r.status, created_at=r.created_at,
                           submitted_at=r.submitted_at, published_at=r.published_at, reviewed_by=r.reviewed_by,
                           review_remark=r.review_remark)


def _version_values(template_id: str, v: TemplateVersion) -> dict[str, Any]:
    return dict(template_id=template_id, number=v.number, name=v.name, description=v.description,
                nodes=[node_to_dict(n) for n in v.nodes], status=v.status, created_at=v.created_at,
                submitted_at=v.submitted_at, published_at=v.published_at, reviewed_by=v.reviewed_by,
                review_remark=v.review_remark)


class SqlFlowTemplates(FlowTemplateRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _load(self, rows: list[Any]) -> list[FlowTemplate]:
        if not rows:
            return []
        ids = [r.id for r in rows]
        vc = t.flow_template_versions.c
        versions: dict[str, list[TemplateVersion]] = {i: [] for i in ids}
        for v in self.conn.execute(select(t.flow_template_versions).where(vc.template_id.in_(ids))
                                   .order_by(vc.template_id, vc.number)):
            versions[v.template_id].append(_version_from_row(v))
        return [FlowTemplate(id=r.id, owner_org_id=r.owner_org_id, public=r.public, created_at=r.created_at,
                             versions=versions[r.id], copied_from=r.copied_from) for r in rows]

    def add(self, template: FlowTemplate) -> None:
        self.conn.execute(insert(t.flow_templates).values(
            id=template.id, owner_org_id=template.owner_org_id, public=template.public, name=template.name,
            latest_status=template.latest.status, copied_from=template.copied_from,
            created_at=template.created_at))
        for v in template.versions:
            self.conn.execute(insert(t.flow_template_versions).values(**_version_values(template.id, v)))

    def get(self, template_id: str, *, for_update: bool = False) -> FlowTemplate | None:
        stmt = select(t.flow_templates).where(t.flow_templates.c.id == template_id)
        if for_update:
            stmt = _lock(stmt, self.conn)
        r = self.conn.execute(stmt).first()
        found = self._load([r] if r else [])
        return found[0] if found else None

    def save(self, template: FlowTemplate) -> None:
        self.conn.execute(update(t.flow_templates).where(t.flow_templates.c.id == template.id).values(
            name=template.name, latest_status=template.latest.status, public=template.public))
        vc = t.flow_template_versions.c
        stored = set(self.conn.execute(select(vc.number).where(vc.template_id == template.id)).scalars())
        for v in template.versions:
            values = _version_values(template.id, v)
            if v.number in stored:
                values.pop("template_id")
                values.pop("number")
                self.conn.execute(update(t.flow_template_versions)
                                  .where(vc.template_id == template.id, vc.number == v.number).values(**values))
            else:
                self.conn.execute(insert(t.flow_template_versions).values(**values))

    def version(self, template_id: str, number: int) -> TemplateVersion | None:
        key = (template_id, number)
        cached = _VERSIONS.get(key)
        if cached is not None:
            return cached
        vc = t.flow_template_versions.c
        r = self.conn.execute(select(t.flow_template_versions)
                              .where(vc.template_id == template_id, vc.number == number)).first()
        if r is None:
            return None
        version = _version_from_row(r)
        if version.status == "published":
            _VERSIONS[key] = version
        return version

    def list(self, *, owner_org_id: str | None, include_public: bool, public_only: bool, status: str | None,
             name: str | None, offset: int, limit: int) -> tuple[list[FlowTemplate], int]:
        c = t.flow_templates.c
        conds: list[Any] = []
        if public_only:
            conds.append(c.public.is_(True))
        elif owner_org_id is not None:
            conds.append(or_(c.owner_org_id == owner_org_id, c.public.is_(True)) if include_public
                         else c.owner_org_id == owner_org_id)
        if status:
            conds.append(c.latest_status == status)
        if name:
            conds.append(_like(c.name, name))
        total = self.conn.execute(select(func.count()).select_from(t.flow_templates).where(*conds)).scalar_one()
        rows = list(self.conn.execute(select(t.flow_templates).where(*conds).order_by(c.created_at.desc(), c.id)
                                      .offset(offset).limit(limit)))
        return self._load(rows), total


def _lock(stmt: Any, conn: Connection) -> Any:
    return for_update(stmt, conn)


# --------------------------------------------------------------------------- products
class SqlProducts(ProductRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @staticmethod
    def _row(r: Any) -> ServiceProduct:
        return ServiceProduct(id=r.id, vendor_org_id=r.vendor_org_id, code=r.code, name=r.name, kind=r.kind,
                              created_at=r.created_at, template_id=r.template_id)

    def add(self, product: ServiceProduct) -> None:
        self.conn.execute(insert(t.service_products).values(**dataclasses.asdict(product)))

    def get(self, product_id: str) -> ServiceProduct | None:
        r = self.conn.execute(select(t.service_products).where(t.service_products.c.id == product_id)).first()
        return self._row(r) if r else None

    def save(self, product: ServiceProduct) -> None:
        values = dataclasses.asdict(product)
        values.pop("id")
        self.conn.execute(update(t.service_products).where(t.service_products.c.id == product.id).values(**values))

    def code_taken(self, vendor_org_id: str, code: str) -> bool:
        c = t.service_products.c
        return self.conn.execute(select(c.id).where(c.vendor_org_id == vendor_org_id, c.code == code)).first() \
            is not None

    def list(self, *, vendor_org_id: str | None, code: str | None, name: str | None, template_id: str | None,
             template_name: str | None, offset: int, limit: int) -> tuple[list[tuple[ServiceProduct, str | None]], int]:
        p, ft = t.service_products, t.flow_templates
        conds: list[Any] = []
        if vendor_org_id is not None:
            conds.append(p.c.vendor_org_id == vendor_org_id)
        if code:
            conds.append(_like(p.c.code, code))
        if name:
            conds.append(_like(p.c.name, name))
        if template_id:
            conds.append(p.c.template_id == template_id)
        if template_name:
            conds.append(_like(ft.c.name, template_name))
        joined = p.outerjoin(ft, ft.c.id == p.c.template_id)
        total = self.conn.execute(select(func.count()).select_from(joined).where(*conds)).scalar_one()
        rows = self.conn.execute(select(p, ft.c.name.label("template_name")).select_from(joined).where(*conds)
                                 .order_by(p.c.created_at.desc(), p.c.id).offset(offset).limit(limit))
        return [(self._row(r), r.template_name) for r in rows], total


# --------------------------------------------------------------------------- calendars
class SqlCalendars(CalendarRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, owner: str) -> WorkCalendar:
        c = t.calendar_days.c
        rows = self.conn.execute(select(c.day, c.kind).where(c.owner == owner))
        return WorkCalendar({r.day: r.kind for r in rows})

    def replace(self, owner: str, calendar: WorkCalendar) -> None:
        self.conn.execute(delete(t.calendar_days).where(t.calendar_days.c.owner == owner))
        self._insert(owner, calendar)

    def merge(self, owner: str, calendar: WorkCalendar) -> None:
        days = [d for d, _ in calendar.entries()]
        c = t.calendar_days.c
        for i in range(0, len(days), 500):
            self.conn.execute(delete(t.calendar_days).where(c.owner == owner, c.day.in_(days[i:i + 500])))
        self._insert(owner, calendar)

    def _insert(self, owner: str, calendar: WorkCalendar) -> None:
        rows = [{"owner": owner, "day": d, "kind": k} for d, k in calendar.entries()]
        if rows:
            self.conn.execute(insert(t.calendar_days), rows)


# --------------------------------------------------------------------------- projects
def _insert(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """One statement for one row (most saves append one or two), executemany otherwise."""
    if len(rows) == 1:
        conn.execute(insert(table).values(**rows[0]))
    elif rows:
        conn.execute(insert(table), rows)


@dataclasses.dataclass
class _Snapshot:
    nodes: dict[str, dict[str, Any]]
    log_count: int
    post_ids: set[str]
    file_ids: set[str]
    evaluated: bool
    participants: set[str]


def _node_values(project: Project, inst: NodeInstance, seq: int) -> dict[str, Any]:
    armed = inst.is_open and inst.timeout_fired_at is None and project.status == "running"
    return dict(id=inst.id, project_id=project.id, seq=seq, step=inst.step, path=inst.path, name=inst.name,
                type=inst.type, side=inst.side, role=inst.role, epoch=inst.epoch, entered_at=inst.entered_at,
                deadline=inst.deadline, operator_id=inst.operator_id, finished_at=inst.finished_at,
                finished_by=inst.finished_by, outcome=inst.outcome, remark=inst.remark, overdue=inst.overdue,
                timeout_fired_at=inst.timeout_fired_at, timer_at=inst.deadline if armed else None,
                waiting_reason=inst.waiting_reason, waiting_since=inst.waiting_since,
                waiting_updated_at=inst.waiting_updated_at, requirements=inst.requirements, decision=inst.decision)


def _participants(project: Project) -> set[str]:
    users = set(project.role_operators.values())
    if project.claimed_by:
        users.add(project.claimed_by)
    for inst in project.nodes:
        if inst.finished_by:
            users.add(inst.finished_by)
        if inst.operator_id:
            users.add(inst.operator_id)
    return users


def _project_values(project: Project) -> dict[str, Any]:
    cur = project.current
    return dict(
        id=project.id, order_no=project.order_no, business_no=project.business_no, product_id=project.product_id,
        template_id=project.template_id, template_version=project.template_version,
        vendor_org_id=project.vendor_org_id, customer_org_id=project.customer_org_id,
        provider_org_id=project.provider_org_id, status=project.status,
        current_node_id=cur.id if cur else None, current_node_name=cur.name if cur else None,
        current_node_type=cur.type if cur else None, current_side=cur.side if cur else None,
        current_role=cur.role if cur else None, current_operator_id=cur.operator_id if cur else None,
        overdue_side=project.overdue_side, overdue=project.overdue_side is not None,
        claimed_by=project.claimed_by, claim_department_id=project.claim_department_id, epoch=project.epoch,
        role_operators=dict(project.role_operators), created_at=project.created_at, paused_at=project.paused_at,
        completed_at=project.completed_at, cancelled_at=project.cancelled_at)


class SqlProjects(ProjectRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._seen: dict[str, _Snapshot] = {}

    def _flow(self, template_id: str, version: int) -> Flow:
        key = (template_id, version)
        flow = _FLOWS.get(key)
        if flow is None:
            v = SqlFlowTemplates(self.conn).version(template_id, version)
            if v is None:
                raise LookupError(f"template {template_id} v{version} is gone")
            flow = v.flow()
            if v.status == "published":
                _FLOWS[key] = flow
        return flow

    def add(self, project: Project, business: BusinessInfo) -> None:
        values = _project_values(project)
        values.update(spec=business.spec, valid_until=business.valid_until)
        self.conn.execute(insert(t.projects).values(**values))
        self._seen[project.id] = _Snapshot({}, 0, set(), set(), False, set())
        self.save(project)

    def id_by_order_no(self, order_no: str) -> str | None:
        return self.conn.execute(select(t.projects.c.id).where(t.projects.c.order_no == order_no)).scalar()

    def get(self, project_id: str, *, for_update: bool = False) -> Project | None:
        stmt = select(t.projects).where(t.projects.c.id == project_id)
        if for_update:
            stmt = _lock(stmt, self.conn)
        r = self.conn.execute(stmt).first()
        if r is None:
            return None
        nc = t.project_nodes.c
        nodes = [NodeInstance(
            id=n.id, step=n.step, path=n.path, name=n.name, type=n.type, side=n.side, role=n.role, epoch=n.epoch,
            entered_at=n.entered_at, deadline=n.deadline, operator_id=n.operator_id, finished_at=n.finished_at,
            finished_by=n.finished_by, outcome=n.outcome, remark=n.remark, overdue=n.overdue,
            timeout_fired_at=n.timeout_fired_at, waiting_reason=n.waiting_reason, waiting_since=n.waiting_since,
            waiting_updated_at=n.waiting_updated_at, requirements=n.requirements, decision=n.decision)
            for n in self.conn.execute(select(t.project_nodes).where(nc.project_id == project_id).order_by(nc.seq))]
        lc = t.project_log.c
        log = [LogEntry(at=e.at, kind=e.kind, subject=e.subject, epoch=e.epoch, node_instance_id=e.node_instance_id,
                        actor_id=e.actor_id, actor_name=e.actor_name, actor_role=e.actor_role, remark=e.remark)
               for e in self.conn.execute(select(t.project_log).where(lc.project_id == project_id)
                                          .order_by(lc.seq))]
        pc = t.project_posts.c
        messages: list[Post] = []
        notes: list[Post] = []
        for p in self.conn.execute(select(t.project_posts).where(pc.project_id == project_id)
                                   .order_by(pc.at, pc.id)):
            post = Post(id=p.id, author_id=p.author_id, author_name=p.author_name, author_role=p.author_role,
                        text=p.text, at=p.at)
            (messages if p.kind == "message" else notes).append(post)
        fc = t.project_files.c
        files = [ProjectFile(id=f.id, name=f.name, size=f.size, uploader_id=f.uploader_id,
                             node_instance_id=f.node_instance_id, uploaded_at=f.uploaded_at)
                 for f in self.conn.execute(select(t.project_files).where(fc.project_id == project_id)
                                            .order_by(fc.uploaded_at, fc.id))]
        ev = None
        if r.status == "completed":  # only a completed project is evaluated
            ev = self.conn.execute(select(t.project_evaluations)
                                   .where(t.project_evaluations.c.project_id == project_id)).first()
        evaluation = Evaluation(rating=ev.rating, comment=ev.comment, by=ev.by_user_id, at=ev.at) if ev else None
        project = Project(
            id=r.id, order_no=r.order_no, product_id=r.product_id, template_id=r.template_id,
            template_version=r.template_version, vendor_org_id=r.vendor_org_id, customer_org_id=r.customer_org_id,
            flow=self._flow(r.template_id, r.template_version), created_at=r.created_at, status=r.status,
            business_no=r.business_no, provider_org_id=r.provider_org_id, nodes=nodes, log=log, messages=messages,
            notes=notes, files=files, role_operators=dict(r.role_operators or {}), claimed_by=r.claimed_by,
            claim_department_id=r.claim_department_id, overdue_side=r.overdue_side, paused_at=r.paused_at,
            completed_at=r.completed_at, cancelled_at=r.cancelled_at, evaluation=evaluation, epoch=r.epoch)
        pp = t.project_participants.c
        participants = set(self.conn.execute(select(pp.user_id).where(pp.project_id == project_id)).scalars())
        self._seen[project.id] = _Snapshot(
            nodes={n.id: _node_values(project, n, i) for i, n in enumerate(nodes)}, log_count=len(log),
            post_ids={p.id for p in messages} | {p.id for p in notes}, file_ids={f.id for f in files},
            evaluated=evaluation is not None, participants=participants)
        return project

    def save(self, project: Project) -> None:
        snap = self._seen.get(project.id)
        if snap is None:
            raise LookupError("save a project loaded or added through this unit of work")
        values = _project_values(project)
        values.pop("id")
        self.conn.execute(update(t.projects).where(t.projects.c.id == project.id).values(**values))
        nc = t.project_nodes.c
        new_nodes = []
        for seq, inst in enumerate(project.nodes):
            row = _node_values(project, inst, seq)
            old = snap.nodes.get(inst.id)
            if old is None:
                new_nodes.append(row)
            elif old != row:
                changed = {k: v for k, v in row.items() if old.get(k) != v}
                self.conn.execute(update(t.project_nodes).where(nc.id == inst.id).values(**changed))
            snap.nodes[inst.id] = row
        if new_nodes:
            _insert(self.conn, t.project_nodes, new_nodes)
        if len(project.log) > snap.log_count:
            _insert(self.conn, t.project_log, [
                dict(project_id=project.id, seq=i, at=e.at, kind=e.kind, subject=e.subject, epoch=e.epoch,
                     node_instance_id=e.node_instance_id, actor_id=e.actor_id, actor_name=e.actor_name[:100],
                     actor_role=e.actor_role[:40], remark=e.remark)
                for i, e in enumerate(project.log) if i >= snap.log_count])
            snap.log_count = len(project.log)
        posts = [("message", p) for p in project.messages] + [("note", p) for p in project.notes]
        new_posts = [dict(id=p.id, project_id=project.id, kind=kind, author_id=p.author_id,
                          author_name=p.author_name[:100], author_role=p.author_role[:40], text=p.text, at=p.at)
                     for kind, p in posts if p.id not in snap.post_ids]
        if new_posts:
            _insert(self.conn, t.project_posts, new_posts)
            snap.post_ids |= {str(p["id"]) for p in new_posts}
        new_files = [f for f in project.files if f.id not in snap.file_ids]
        for f in new_files:
            self.conn.execute(insert(t.project_files).values(
                id=f.id, project_id=project.id, node_instance_id=f.node_instance_id, name=f.name, size=f.size,
                uploader_id=f.uploader_id, uploaded_at=f.uploaded_at))
            snap.file_ids.add(f.id)
        if project.evaluation is not None and not snap.evaluated:
            ev = project.evaluation
            self.conn.execute(insert(t.project_evaluations).values(
                project_id=project.id, rating=ev.rating, comment=ev.comment, by_user_id=ev.by, at=ev.at))
            snap.evaluated = True
        people = _participants(project) - snap.participants
        if people:
            now = project.log[-1].at if project.log else project.created_at
            _insert(self.conn, t.project_participants,
                    [dict(project_id=project.id, user_id=u, since=now) for u in sorted(people)])
            snap.participants |= people


# --------------------------------------------------------------------------- read side
def _scope_condition(scope: ProjectScope) -> Any:
    p = t.projects.c
    if scope.everything:
        return None
    parts: list[Any] = []
    if scope.vendor_org_id:
        parts.append(p.vendor_org_id == scope.vendor_org_id)
    if scope.provider_org_id:
        parts.append(p.provider_org_id == scope.provider_org_id)
    if scope.customer_org_id:
        parts.append(p.customer_org_id == scope.customer_org_id)
    if scope.participant_user_id:
        pp = t.project_participants.c
        parts.append(exists().where(pp.project_id == p.id, pp.user_id == scope.participant_user_id))
    return or_(*parts) if parts else false()


class SqlProjectQueries(ProjectQueries):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _base(self) -> Any:
        p, sp = t.projects, t.service_products
        vendor = t.organizations.alias("vendor")
        customer = t.organizations.alias("customer")
        provider = t.organizations.alias("provider")
        operator = t.users.alias("operator")
        joined = (p.join(sp, sp.c.id == p.c.product_id)
                  .outerjoin(vendor, vendor.c.id == p.c.vendor_org_id)
                  .outerjoin(customer, customer.c.id == p.c.customer_org_id)
                  .outerjoin(provider, provider.c.id == p.c.provider_org_id)
                  .outerjoin(operator, operator.c.id == p.c.current_operator_id))
        cols = [p, sp.c.code.label("product_code"), sp.c.name.label("product_name"),
                vendor.c.name.label("vendor_name"), customer.c.name.label("customer_name"),
                provider.c.name.label("provider_name"), operator.c.name.label("current_operator_name")]
        return joined, cols

    @staticmethod
    def _row(r: Any) -> ProjectRow:
        m = r._mapping
        return ProjectRow(**{f.name: m[f.name] for f in dataclasses.fields(ProjectRow)})

    @staticmethod
    def _conds(scope: ProjectScope, flt: ProjectFilter) -> list[Any]:
        p = t.projects.c
        conds: list[Any] = []
        sc = _scope_condition(scope)
        if sc is not None:
            conds.append(sc)
        if flt.status:
            conds.append(p.status == flt.status)
        if flt.order_no:
            conds.append(or_(_like(p.order_no, flt.order_no), _like(p.business_no, flt.order_no)))
        if flt.provider_org_id:
            conds.append(p.provider_org_id == flt.provider_org_id)
        if flt.product_id:
            conds.append(p.product_id == flt.product_id)
        if flt.customer_org_id:
            conds.append(p.customer_org_id == flt.customer_org_id)
        if flt.stage:
            conds.append(_like(p.current_node_name, flt.stage))
        if flt.operator_id:
            conds.append(p.current_operator_id == flt.operator_id)
        if flt.overdue is not None:
            conds.append(p.overdue.is_(flt.overdue))
        if flt.pending_for_user:
            mine = p.current_operator_id == flt.pending_for_user
            if flt.pending_roles and flt.pending_org_id:
                unassigned = and_(p.current_operator_id.is_(None), p.current_side == "provider",
                                  p.provider_org_id == flt.pending_org_id, p.current_role.in_(flt.pending_roles))
                mine = or_(mine, unassigned)
            conds.append(and_(p.status.in_(("running", "paused")), mine))
        if flt.processed_by:
            nc = t.project_nodes.c
            conds.append(exists().where(nc.project_id == p.id, nc.finished_by == flt.processed_by))
        return conds

    def list(self, scope: ProjectScope, flt: ProjectFilter, offset: int, limit: int
             ) -> tuple[list[ProjectRow], int]:
        conds = self._conds(scope, flt)
        total = self.conn.execute(select(func.count()).select_from(t.projects).where(*conds)).scalar_one()
        joined, cols = self._base()
        p = t.projects.c
        rows = self.conn.execute(select(*cols).select_from(joined).where(*conds)
                                 .order_by(p.created_at.desc(), p.id.desc()).offset(offset).limit(limit))
        return [self._row(r) for r in rows], total

    def row(self, project_id: str) -> ProjectRow | None:
        joined, cols = self._base()
        r = self.conn.execute(select(*cols).select_from(joined).where(t.projects.c.id == project_id)).first()
        return self._row(r) if r else None

    def node_info(self, node_instance_id: str) -> dict[str, str | None] | None:
        nc = t.project_nodes.c
        r = self.conn.execute(select(nc.side, nc.role, nc.operator_id).where(nc.id == node_instance_id)).first()
        return {"side": r.side, "role": r.role, "operator_id": r.operator_id} if r else None

    def is_participant(self, project_id: str, user_id: str) -> bool:
        pp = t.project_participants.c
        return self.conn.execute(select(pp.user_id).where(pp.project_id == project_id, pp.user_id == user_id)
                                 ).first() is not None

    def file_name(self, project_id: str, file_id: str) -> str | None:
        fc = t.project_files.c
        return self.conn.execute(select(fc.name).where(fc.project_id == project_id, fc.id == file_id)).scalar()

    def due_timers(self, now: datetime, limit: int) -> builtins.list[DueTimer]:
        nc = t.project_nodes.c
        rows = self.conn.execute(select(nc.id, nc.project_id, nc.timer_at)
                                 .where(nc.timer_at.is_not(None), nc.timer_at <= now)
                                 .order_by(nc.timer_at).limit(limit))
        return [DueTimer(r.id, r.project_id, r.timer_at) for r in rows]

    def completion_cycles(self, scope: ProjectScope, since: datetime, until: datetime) -> builtins.list[float]:
        p = t.projects.c
        conds = [p.status == "completed", p.completed_at >= since, p.completed_at < until]
        sc = _scope_condition(scope)
        if sc is not None:
            conds.append(sc)
        rows = self.conn.execute(select(p.created_at, p.completed_at).where(*conds))
        return [(r.completed_at - r.created_at).total_seconds() for r in rows]

    def created_times(self, scope: ProjectScope, since: datetime, until: datetime) -> builtins.list[datetime]:
        p = t.projects.c
        conds = [p.created_at >= since, p.created_at < until]
        sc = _scope_condition(scope)
        if sc is not None:
            conds.append(sc)
        return [v for v in self.conn.execute(select(p.created_at).where(*conds)).scalars()]

    def status_counts(self, scope: ProjectScope, since: datetime, until: datetime) -> DashboardCounts:
        p = t.projects.c
        conds = [p.created_at >= since, p.created_at < until]
        sc = _scope_condition(scope)
        if sc is not None:
            conds.append(sc)
        counts: dict[tuple[str, bool], int] = {}
        for status, overdue, n in self.conn.execute(select(p.status, p.overdue, func.count())
                                                    .where(*conds).group_by(p.status, p.overdue)):
            counts[(status, bool(overdue))] = n

        def of(status: str, overdue: bool | None = None) -> int:
            return sum(n for (s, o), n in counts.items() if s == status and (overdue is None or o == overdue))
        return DashboardCounts(total=sum(counts.values()), delivered=of("completed"),
                               running=of("running", False), overdue=of("running", True), paused=of("paused"),
                               cancelled=of("cancelled"))


REPOSITORIES: dict[type, type] = {
    FormTemplateRepository: SqlFormTemplates,
    MessageTemplateRepository: SqlMessageTemplates,
    FlowTemplateRepository: SqlFlowTemplates,
    ProductRepository: SqlProducts,
    CalendarRepository: SqlCalendars,
    ProjectRepository: SqlProjects,
    ProjectQueries: SqlProjectQueries,
}
