"""The delivery project: a pure state machine walking the nodes of a template version.

Status: ``running`` -> ``completed`` | ``cancelled``, and ``running`` <-> ``paused``.
Each visit of a node is a ``NodeInstance`` (entered/finished, operator, side,
deadline, outcome); a rejected node's predecessor is entered again as a new
instance with a new deadline.

Assignment nodes do not call dispatch: entering ``assign_provider`` or
``assign_order`` leaves the project *waiting for assignment*
(``pending_assignment``, event ``AssignmentRequested``). The application asks
dispatch and reports back with ``assign_provider`` / ``assign_employee`` or, when no
one can take it, ``queue_for_provider`` / ``queue_for_employee`` (reason recorded).

Operators: a provider-side node of role *r* is worked by the employee holding *r*
on this project (assigned at ``assign_order``, the claimer at ``claim_order``, or set
by ``change_operator``); when nobody holds *r* (the "provider admin delivers alone"
scenario) any user of the provider with role *r* may act. Customer-side nodes are
worked by the customer organisation. Only the current node's operator acts on it.

Time comes in as ``now``; deadlines come from a ``WorkSchedule`` (the working-day
calendar). A timeout of 0 means no time limit. A node is overdue from its deadline
on (``now >= deadline``). While paused no deadline runs; on resume every open
node's deadline keeps the working time it had left (``calendar.resume_deadline``).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from domain.shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from domain.shared.events import DomainEvent
from domain.shared.ids import new_id
from domain.workflow import events
from domain.workflow.calendar import WorkSchedule
from domain.workflow.forms import FormTemplate, validate_submission
from domain.workflow.templates import Flow, Node, Reminder, Step

ProjectStatus = Literal["running", "paused", "completed", "cancelled"]
MAX_TEXT = 500
SYSTEM = "system"


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who acts: the application builds it from the caller (``Actor.system()`` for jobs)."""

    user_id: str | None
    org_id: str | None
    roles: frozenset[str] = frozenset()
    name: str = ""
    role_label: str = ""  # the capacity shown in the log, e.g. "vendor_admin", "customer"
    department_id: str | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls(user_id=None, org_id=None, roles=frozenset({SYSTEM}), name=SYSTEM, role_label=SYSTEM)

    @property
    def is_system(self) -> bool:
        return self.user_id is None


@dataclasses.dataclass
class NodeInstance:
    id: str
    step: int
    path: str
    name: str
    type: str
    side: str  # system | provider | customer
    role: str | None
    epoch: int
    entered_at: datetime
    deadline: datetime | None = None
    operator_id: str | None = None
    finished_at: datetime | None = None
    finished_by: str | None = None
    outcome: str | None = None  # done | rejected | advanced_on_timeout | cancelled | superseded
    remark: str | None = None
    overdue: bool = False
    timeout_fired_at: datetime | None = None
    waiting_reason: str | None = None
    waiting_since: datetime | None = None
    waiting_updated_at: datetime | None = None
    requirements: dict[str, Any] | None = None
    decision: dict[str, Any] | None = None  # dispatch's explanation of the assignment

    @property
    def is_open(self) -> bool:
        return self.finished_at is None


@dataclasses.dataclass(frozen=True)
class LogEntry:
    at: datetime
    kind: str  # project_started, node_entered, node_finished, node_rejected, node_timed_out, ...
    subject: str  # node or container name, or "project"
    epoch: int
    node_instance_id: str | None = None
    actor_id: str | None = None
    actor_name: str = SYSTEM
    actor_role: str = SYSTEM
    remark: str | None = None


@dataclasses.dataclass(frozen=True)
class Post:
    """A message (visible to the customer) or a note (provider side only)."""

    id: str
    author_id: str | None
    author_name: str
    author_role: str
    text: str
    at: datetime


@dataclasses.dataclass(frozen=True)
class ProjectFile:
    id: str
    name: str
    size: int
    uploader_id: str | None
    node_instance_id: str
    uploaded_at: datetime


@dataclasses.dataclass(frozen=True)
class Evaluation:
    rating: int
    comment: str
    by: str | None
    at: datetime


@dataclasses.dataclass(frozen=True)
class AssignmentRequest:
    """What the application must resolve through dispatch."""

    project_id: str
    node_instance_id: str
    kind: Literal["provider", "employee"]
    role: str | None
    rule: str | None
    department_id: str | None
    provider_org_id: str | None
    waiting_since: datetime


@dataclasses.dataclass(frozen=True)
class TimeoutOutcome:
    fired: bool  # False: already fired, not due, or not running (nothing was done)
    side: str | None = None
    reminders: tuple[Reminder, ...] = ()
    advanced: bool = False
    completed: bool = False


def _text(value: str | None, field: str, *, required: bool = True, limit: int = MAX_TEXT) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValidationFailed(field, "must not be empty", code="invalid_text")
    if len(text) > limit:
        raise ValidationFailed(field, f"must be at most {limit} characters", code="text_too_long")
    return text


@dataclasses.dataclass
class Project:
    id: str
    order_no: str
    product_id: str
    template_id: str
    template_version: int
    vendor_org_id: str
    customer_org_id: str
    flow: Flow
    created_at: datetime
    status: ProjectStatus = "running"
    business_no: str | None = None
    provider_org_id: str | None = None
    nodes: list[NodeInstance] = dataclasses.field(default_factory=list)
    log: list[LogEntry] = dataclasses.field(default_factory=list)
    messages: list[Post] = dataclasses.field(default_factory=list)
    notes: list[Post] = dataclasses.field(default_factory=list)
    files: list[ProjectFile] = dataclasses.field(default_factory=list)
    role_operators: dict[str, str] = dataclasses.field(default_factory=dict)
    claimed_by: str | None = None
    claim_department_id: str | None = None
    overdue_side: str | None = None  # provider | customer while the current node is overdue
    paused_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    evaluation: Evaluation | None = None
    epoch: int = 0  # +1 at every provider change; log entries of earlier epochs are "before the change"
    events: list[DomainEvent] = dataclasses.field(default_factory=list, repr=False, compare=False)

    # ------------------------------------------------------------------ creation
    @classmethod
    def start(cls, *, id: str, order_no: str, product_id: str, template_id: str, template_version: int,
              vendor_org_id: str, customer_org_id: str, flow: Flow, now: datetime, schedule: WorkSchedule,
              business_no: str | None = None) -> Project:
        order_no = _text(order_no, "order_no", limit=64)
        if flow[0].node.type != "assign_provider" or flow[len(flow) - 1].node.type != "complete":
            raise ValidationFailed("template", "a flow starts with assign_provider and ends with complete",
                                   code="invalid_template")
        project = cls(id=id, order_no=order_no, product_id=product_id, template_id=template_id,
                      template_version=template_version, vendor_org_id=vendor_org_id,
                      customer_org_id=customer_org_id, flow=flow, created_at=now, business_no=business_no)
        project._log(now, "project_started", "project", Actor.system())
        project.events.append(events.ProjectStarted(
            project_id=id, order_no=order_no, product_id=product_id, vendor_org_id=vendor_org_id,
            customer_org_id=customer_org_id, template_id=template_id, template_version=template_version))
        project._enter(0, None, now, schedule)
        return project

    # ------------------------------------------------------------------ queries
    @property
    def current(self) -> NodeInstance | None:
        for inst in reversed(self.nodes):
            if inst.is_open:
                return inst
        return None

    @property
    def is_finished(self) -> bool:
        return self.status in ("completed", "cancelled")

    def node(self, instance_id: str) -> NodeInstance:
        for inst in self.nodes:
            if inst.id == instance_id:
                return inst
        raise NotFound(f"no node {instance_id} in this project", code="node_not_found")

    def step_of(self, inst: NodeInstance) -> Step:
        return self.flow[inst.step]

    def holders(self) -> frozenset[str]:
        """Users holding this project (counted in their load while it is unfinished)."""
        return frozenset(self.role_operators.values())

    def is_before_change(self, entry: LogEntry) -> bool:
        """True for log entries written before the latest provider change."""
        return entry.epoch < self.epoch

    @property
    def pending_assignment(self) -> AssignmentRequest | None:
        inst = self.current
        if self.status != "running" or inst is None or inst.type not in ("assign_provider", "assign_order"):
            return None
        node = self.flow[inst.step].node
        kind: Literal["provider", "employee"] = "provider" if inst.type == "assign_provider" else "employee"
        return AssignmentRequest(
            project_id=self.id, node_instance_id=inst.id, kind=kind, role=node.role, rule=node.rule,
            department_id=self.claim_department_id if node.rule == "department_first" else None,
            provider_org_id=self.provider_org_id, waiting_since=inst.waiting_since or inst.entered_at)

    def overdue_nodes(self, now: datetime) -> list[NodeInstance]:
        """Open nodes whose deadline has come (``deadline <= now``) and whose timeout
        has not been handled yet. Nothing is overdue while paused."""
        if self.status != "running":
            return []
        return [n for n in self.nodes
                if n.is_open and n.deadline is not None and n.deadline <= now and n.timeout_fired_at is None]

    def can_act(self, actor: Actor, inst: NodeInstance) -> bool:
        if actor.is_system:
            return False
        if inst.side == "customer":
            return actor.org_id == self.customer_org_id
        if inst.side == "provider":
            if actor.org_id != self.provider_org_id:
                return False
            if inst.operator_id is not None:
                return actor.user_id == inst.operator_id
            return inst.role is not None and inst.role in actor.roles
        return False

    # ------------------------------------------------------------------ assignment
    def assign_provider(self, provider_org_id: str, now: datetime, schedule: WorkSchedule,
                        decision: Mapping[str, Any] | None = None) -> None:
        inst = self._waiting("assign_provider")
        self.provider_org_id = provider_org_id
        inst.decision = dict(decision) if decision is not None else None
        self.events.append(events.ProviderAssigned(project_id=self.id, provider_org_id=provider_org_id))
        self._advance(inst, "done", Actor.system(), now, schedule, remark=f"provider {provider_org_id}")

    def queue_for_provider(self, reason: str, now: datetime) -> None:
        self._queue(self._waiting("assign_provider"), "provider", reason, now)

    def assign_employee(self, user_id: str, now: datetime, schedule: WorkSchedule,
                        decision: Mapping[str, Any] | None = None) -> None:
        inst = self._waiting("assign_order")
        role = inst.role or ""
        acquired = user_id not in self.holders()
        self.role_operators[role] = user_id
        inst.decision = dict(decision) if decision is not None else None
        self.events.append(events.EmployeeAssigned(project_id=self.id, user_id=user_id, role=role,
                                                   holding_acquired=acquired))
        self._advance(inst, "done", Actor.system(), now, schedule, remark=f"{role}: {user_id}")

    def queue_for_employee(self, reason: str, now: datetime) -> None:
        self._queue(self._waiting("assign_order"), "employee", reason, now)

    def claim(self, actor: Actor, now: datetime, schedule: WorkSchedule) -> None:
        """An account manager claims the order for their department (``claim_order`` node)."""
        self._require_active()
        inst = self.current
        if inst is None or inst.type != "claim_order":
            if self.claimed_by is not None:
                raise Conflict("this order is already claimed", code="already_claimed")
            raise Conflict("this project is not waiting for a claim", code="not_claimable")
        if self.status == "paused":
            raise Conflict("the project is paused", code="project_paused")
        if actor.is_system or actor.org_id != self.provider_org_id:
            raise Forbidden("this order belongs to another provider", code="wrong_provider")
        role = inst.role or ""
        if role not in actor.roles:
            raise Forbidden(f"claiming this order needs the role {role}", code="wrong_role")
        acquired = actor.user_id not in self.holders()
        assert actor.user_id is not None
        self.claimed_by = actor.user_id
        self.claim_department_id = actor.department_id
        self.role_operators[role] = actor.user_id
        inst.operator_id = actor.user_id
        self.events.append(events.ProjectClaimed(project_id=self.id, user_id=actor.user_id, role=role,
                                                 department_id=actor.department_id, holding_acquired=acquired))
        self._advance(inst, "done", actor, now, schedule, remark="claimed")

    # ------------------------------------------------------------------ node actions
    def upload(self, instance_id: str, actor: Actor, *, file_id: str, name: str, size: int,
               now: datetime) -> ProjectFile:
        inst = self._actionable(instance_id, actor)
        node = self.flow[inst.step].node
        if not ((inst.type == "general" and node.upload) or inst.type == "submit_requirements"):
            raise Conflict("this node takes no uploads", code="upload_not_allowed")
        name = _text(name, "name", limit=255)
        if isinstance(size, bool) or size < 0:
            raise ValidationFailed("size", "must be >= 0", code="invalid_file")
        file = ProjectFile(id=file_id, name=name, size=size, uploader_id=actor.user_id,
                           node_instance_id=inst.id, uploaded_at=now)
        self.files.append(file)
        return file

    def submit_requirements(self, instance_id: str, actor: Actor, form: FormTemplate,
                            values: Mapping[str, Any], now: datetime, schedule: WorkSchedule) -> None:
        inst = self._actionable(instance_id, actor)
        if inst.type != "submit_requirements":
            raise Conflict("this node takes no requirements", code="wrong_node_type")
        node = self.flow[inst.step].node
        if form.id != node.form_template_id:
            raise ValidationFailed("form_template_id", "this node uses another form", code="wrong_form")
        uploaded = [f.id for f in self.files if f.node_instance_id == inst.id]
        inst.requirements = validate_submission(form, values, uploaded)
        self._advance(inst, "done", actor, now, schedule)

    def confirm(self, instance_id: str, actor: Actor, now: datetime, schedule: WorkSchedule,
                remark: str | None = None) -> None:
        inst = self._actionable(instance_id, actor)
        if inst.type not in ("confirm", "general", "complete"):
            raise Conflict(f"a {inst.type} node is not confirmed", code="wrong_node_type")
        node = self.flow[inst.step].node
        if inst.type == "general" and node.upload and not any(f.node_instance_id == inst.id for f in self.files):
            raise Conflict("upload the deliverables before confirming", code="upload_required")
        self._advance(inst, "done", actor, now, schedule, remark=_text(remark, "remark", required=False) or None)

    def reject(self, instance_id: str, actor: Actor, reason: str, now: datetime, schedule: WorkSchedule) -> None:
        """Reject with a reason: the node finishes ``rejected`` and the previous node is
        entered again with a new deadline."""
        inst = self._actionable(instance_id, actor)
        node = self.flow[inst.step].node
        if not node.rejectable:
            raise Conflict("this node cannot be rejected", code="not_rejectable")
        reason = _text(reason, "reason")
        self._finish(inst, "rejected", actor, now, remark=reason)
        self.events.append(events.NodeRejected(project_id=self.id, node_instance_id=inst.id,
                                               node_name=inst.name, reason=reason))
        self._remind(inst, node, "reject")
        self._enter(inst.step - 1, inst.step, now, schedule, actor=actor)

    # ------------------------------------------------------------------ timeouts
    def on_timeout(self, instance_id: str, now: datetime, schedule: WorkSchedule) -> TimeoutOutcome:
        """Handle a due deadline once: flag the side overdue, return the ``timeout``
        reminders (also as an event), advance when the node says so. A second call for
        the same node instance does nothing and returns ``fired=False``."""
        inst = self.node(instance_id)
        if (inst.timeout_fired_at is not None or not inst.is_open or self.status != "running"
                or inst.deadline is None or now < inst.deadline):
            return TimeoutOutcome(fired=False)
        node = self.flow[inst.step].node
        inst.timeout_fired_at = now
        inst.overdue = True
        self.overdue_side = inst.side
        self._log(now, "node_timed_out", inst.name, Actor.system(), inst, remark=f"{inst.side} side overdue")
        reminders = node.reminders_for("timeout")
        self._remind(inst, node, "timeout")
        advanced = node.advance_on_timeout
        self.events.append(events.NodeTimedOut(project_id=self.id, node_instance_id=inst.id,
                                               node_name=inst.name, side=inst.side, advanced=advanced))
        if advanced:
            self._advance(inst, "advanced_on_timeout", Actor.system(), now, schedule)
        return TimeoutOutcome(fired=True, side=inst.side, reminders=reminders, advanced=advanced,
                              completed=self.completed_at is not None)

    # ------------------------------------------------------------------ project commands
    def pause(self, actor: Actor, remark: str, now: datetime) -> None:
        if self.status != "running":
            raise Conflict(f"a {self.status} project cannot be paused", code="project_not_running")
        remark = _text(remark, "remark")
        self.status = "paused"
        self.paused_at = now
        self._log(now, "paused", "project", actor, remark=remark)
        self.events.append(events.ProjectPaused(project_id=self.id, remark=remark))

    def resume(self, actor: Actor, now: datetime, schedule: WorkSchedule, remark: str | None = None) -> None:
        if self.status != "paused" or self.paused_at is None:
            raise Conflict(f"a {self.status} project cannot be resumed", code="project_not_paused")
        for inst in self.nodes:
            if inst.is_open and inst.deadline is not None:
                # a node entered during the pause (provider change) paused from its entry
                paused_from = max(self.paused_at, inst.entered_at)
                inst.deadline = schedule.resume_deadline(inst.deadline, paused_from, now)
        self.status = "running"
        self.paused_at = None
        self._log(now, "resumed", "project", actor, remark=_text(remark, "remark", required=False) or None)
        self.events.append(events.ProjectResumed(project_id=self.id))
        self._request_assignment_if_waiting()

    def cancel(self, actor: Actor, remark: str, now: datetime) -> None:
        self._require_active()
        remark = _text(remark, "remark")
        inst = self.current
        if inst is not None:
            self._finish(inst, "cancelled", actor, now, remark=remark)
        self.status = "cancelled"
        self.cancelled_at = now
        self.paused_at = None
        self.overdue_side = None
        released = tuple(sorted(self.holders()))
        self._log(now, "cancelled", "project", actor, remark=remark)
        self.events.append(events.ProjectCancelled(project_id=self.id, provider_org_id=self.provider_org_id,
                                                   released_user_ids=released, remark=remark))

    def change_provider(self, actor: Actor, new_provider_org_id: str, remark: str, now: datetime,
                        schedule: WorkSchedule) -> None:
        """Restart the flow from the first node with another provider. Earlier log
        entries stay, marked as before the change (``is_before_change``)."""
        self._require_active()
        if new_provider_org_id == self.provider_org_id:
            raise Conflict("the project already has this provider", code="same_provider")
        remark = _text(remark, "remark", required=False)
        old = self.provider_org_id
        released = tuple(sorted(self.holders()))
        inst = self.current
        if inst is not None:
            self._finish(inst, "superseded", actor, now, remark="provider changed")
        self.epoch += 1
        self.role_operators = {}
        self.claimed_by = None
        self.claim_department_id = None
        self.overdue_side = None
        self.provider_org_id = None
        self._log(now, "provider_changed", "project", actor,
                  remark=f"{old or '-'} -> {new_provider_org_id}" + (f": {remark}" if remark else ""))
        self.events.append(events.ProviderChanged(
            project_id=self.id, old_provider_org_id=old, new_provider_org_id=new_provider_org_id,
            released_user_ids=released, remark=remark))
        self._log(now, "project_started", "project", Actor.system(), remark="restarted after provider change")
        first = self._enter(0, None, now, schedule, request_assignment=False)
        self.provider_org_id = new_provider_org_id
        self.events.append(events.ProviderAssigned(project_id=self.id, provider_org_id=new_provider_org_id))
        self._advance(first, "done", actor, now, schedule, remark=f"provider {new_provider_org_id}")

    def change_operator(self, actor: Actor, new_user_id: str, remark: str, now: datetime,
                        role: str | None = None) -> None:
        """Hand the project's role (by default the current node's) to another employee.

        Same role and spare capacity are dispatch's checks, made by the application.
        """
        self._require_active()
        inst = self.current
        if role is None:
            if inst is not None and inst.side == "provider" and inst.role:
                role = inst.role
            elif len(self.role_operators) == 1:
                role = next(iter(self.role_operators))
            else:
                raise ValidationFailed("role", "say which role's operator to change", code="role_required")
        remark = _text(remark, "remark", required=False)
        old = self.role_operators.get(role)
        if old is None and inst is not None and inst.role == role:
            old = inst.operator_id
        if old == new_user_id:
            raise Conflict("this user is already the operator", code="same_operator")
        had = self.holders()
        self.role_operators[role] = new_user_id
        now_holding = self.holders()
        for n in self.nodes:
            if n.is_open and n.side == "provider" and n.role == role:
                n.operator_id = new_user_id
        released = old if old is not None and old in had and old not in now_holding else None
        self._log(now, "operator_changed", inst.name if inst else "project", actor, inst,
                  remark=f"{role}: {old or '-'} -> {new_user_id}" + (f": {remark}" if remark else ""))
        self.events.append(events.OperatorChanged(
            project_id=self.id, role=role, old_user_id=old, new_user_id=new_user_id, released_user_id=released,
            holding_acquired=new_user_id not in had, remark=remark))

    def evaluate(self, actor: Actor, rating: int, comment: str, now: datetime) -> Evaluation:
        if self.status != "completed":
            raise Conflict("only a completed project can be evaluated", code="project_not_completed")
        if actor.org_id != self.customer_org_id:
            raise Forbidden("only the customer evaluates the service", code="not_customer")
        if self.evaluation is not None:
            raise Conflict("the project is already evaluated", code="already_evaluated")
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise ValidationFailed("rating", "must be an integer from 1 to 5", code="invalid_rating")
        comment = _text(comment, "comment", required=False)
        self.evaluation = Evaluation(rating=rating, comment=comment, by=actor.user_id, at=now)
        self._log(now, "evaluated", "project", actor, remark=f"{rating}/5")
        self.events.append(events.ProjectEvaluated(project_id=self.id, rating=rating))
        return self.evaluation

    def add_message(self, actor: Actor, text: str, now: datetime) -> Post:
        """A message, visible to the customer and all participants."""
        post = self._post(actor, text, now)
        self.messages.append(post)
        return post

    def add_note(self, actor: Actor, text: str, now: datetime) -> Post:
        """A note: provider side only, never shown to the customer."""
        if actor.org_id == self.customer_org_id and actor.org_id not in (self.provider_org_id, self.vendor_org_id):
            raise Forbidden("notes are for the provider side", code="notes_provider_only")
        post = self._post(actor, text, now)
        self.notes.append(post)
        return post

    # ------------------------------------------------------------------ internals
    def _post(self, actor: Actor, text: str, now: datetime) -> Post:
        if self.is_finished:
            raise Conflict("the project is finished", code="project_finished")
        return Post(id=new_id("post"), author_id=actor.user_id, author_name=actor.name,
                    author_role=actor.role_label, text=_text(text, "text"), at=now)

    def _require_active(self) -> None:
        if self.is_finished:
            raise Conflict(f"the project is {self.status}", code="project_finished")

    def _actionable(self, instance_id: str, actor: Actor) -> NodeInstance:
        self._require_active()
        if self.status == "paused":
            raise Conflict("the project is paused", code="project_paused")
        inst = self.node(instance_id)
        if not inst.is_open:
            raise Conflict("this node is not the current node", code="node_not_current")
        if not self.can_act(actor, inst):
            raise Forbidden("only the current operator can act on this node", code="not_current_operator")
        return inst

    def _waiting(self, node_type: str) -> NodeInstance:
        self._require_active()
        if self.status == "paused":
            raise Conflict("the project is paused", code="project_paused")
        inst = self.current
        if inst is None or inst.type != node_type:
            raise Conflict(f"the project is not waiting on {node_type}", code="not_waiting_for_assignment")
        return inst

    def _queue(self, inst: NodeInstance, kind: str, reason: str, now: datetime) -> None:
        reason = _text(reason, "reason", limit=200)
        if inst.waiting_since is None:
            inst.waiting_since = now
        changed = inst.waiting_reason != reason
        inst.waiting_reason = reason
        inst.waiting_updated_at = now
        if changed:
            self._log(now, "queued", inst.name, Actor.system(), inst, remark=reason)
            self.events.append(events.ProjectQueued(project_id=self.id, node_instance_id=inst.id,
                                                    kind=kind, reason=reason))

    def _log(self, at: datetime, kind: str, subject: str, actor: Actor, inst: NodeInstance | None = None,
             remark: str | None = None) -> None:
        self.log.append(LogEntry(at=at, kind=kind, subject=subject, epoch=self.epoch,
                                 node_instance_id=inst.id if inst else None, actor_id=actor.user_id,
                                 actor_name=actor.name or SYSTEM, actor_role=actor.role_label or SYSTEM,
                                 remark=remark))

    def _remind(self, inst: NodeInstance, node: Node, trigger: str) -> None:
        rows = node.reminders_for(trigger)
        if rows:
            self.events.append(events.RemindersTriggered(
                project_id=self.id, node_instance_id=inst.id, node_name=inst.name, trigger=trigger,
                operator_id=inst.operator_id,
                reminders=tuple({"receiver": r.receiver, "message_template": r.message_template} for r in rows)))

    def _move_containers(self, from_step: int | None, to_step: int | None, now: datetime) -> None:
        before = self.flow[from_step].containers if from_step is not None else ()
        after = self.flow[to_step].containers if to_step is not None else ()
        for path in reversed(before):
            if path not in after:
                self._log(now, "container_left", self.flow.container_names[path], Actor.system())
        for path in after:
            if path not in before:
                self._log(now, "container_entered", self.flow.container_names[path], Actor.system())

    def _enter(self, index: int, from_step: int | None, now: datetime, schedule: WorkSchedule,
               actor: Actor | None = None, request_assignment: bool = True) -> NodeInstance:
        step = self.flow[index]
        node = step.node
        side = node.acting_side or SYSTEM
        operator = self.role_operators.get(node.role) if side == "provider" and node.role else None
        deadline = schedule.deadline(now, node.timeout_days) if node.has_deadline and node.timeout_days else None
        self._move_containers(from_step, index, now)
        inst = NodeInstance(id=new_id("pnode"), step=index, path=step.path, name=node.name, type=node.type,
                            side=side, role=node.role, epoch=self.epoch, entered_at=now, deadline=deadline,
                            operator_id=operator)
        self.nodes.append(inst)
        self._log(now, "node_entered", inst.name, actor or Actor.system(), inst)
        self.events.append(events.NodeEntered(
            project_id=self.id, node_instance_id=inst.id, node_name=inst.name, node_type=inst.type, side=side,
            role=inst.role, operator_id=operator, deadline=deadline.isoformat() if deadline else None))
        self._remind(inst, node, "enter")
        if request_assignment:
            self._request_assignment_if_waiting()
        return inst

    def _request_assignment_if_waiting(self) -> None:
        req = self.pending_assignment
        if req is not None:
            self.events.append(events.AssignmentRequested(
                project_id=self.id, node_instance_id=req.node_instance_id, kind=req.kind, role=req.role,
                rule=req.rule, department_id=req.department_id, provider_org_id=req.provider_org_id))

    def _finish(self, inst: NodeInstance, outcome: str, actor: Actor, now: datetime,
                remark: str | None = None) -> None:
        inst.finished_at = now
        inst.finished_by = actor.user_id
        inst.outcome = outcome
        inst.remark = remark
        if inst.overdue and self.overdue_side == inst.side:
            self.overdue_side = None
        kind = "node_rejected" if outcome == "rejected" else "node_finished"
        log_remark = remark if outcome in ("done", "rejected") else (f"{outcome}: {remark}" if remark else outcome)
        self._log(now, kind, inst.name, actor, inst, remark=log_remark)
        self.events.append(events.NodeFinished(project_id=self.id, node_instance_id=inst.id,
                                               node_name=inst.name, outcome=outcome))

    def _advance(self, inst: NodeInstance, outcome: str, actor: Actor, now: datetime, schedule: WorkSchedule,
                 remark: str | None = None) -> None:
        node = self.flow[inst.step].node
        self._finish(inst, outcome, actor, now, remark=remark)
        self._remind(inst, node, "transition")
        nxt = inst.step + 1
        if nxt >= len(self.flow):
            self._move_containers(inst.step, None, now)
            self._complete(now, auto=outcome == "advanced_on_timeout")
            return
        self._enter(nxt, inst.step, now, schedule)

    def _complete(self, now: datetime, auto: bool) -> None:
        self.status = "completed"
        self.completed_at = now
        self.overdue_side = None
        self._log(now, "completed", "project", Actor.system(), remark="auto" if auto else None)
        self.events.append(events.ProjectCompleted(project_id=self.id, provider_org_id=self.provider_org_id,
                                                   released_user_ids=tuple(sorted(self.holders())), auto=auto))

