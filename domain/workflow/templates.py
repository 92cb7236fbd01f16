"""Service-flow templates: the node model, its validation, the walk order, versions.

A template is an ordered list of nodes; a ``container`` groups child nodes into one
stage and has no behaviour of its own. Validation errors name the node and the
field the way the API sends them: ``nodes[3].role``,
``nodes[2].children[0].timeout_days``, ``nodes[4].reminders[1].trigger``.

Versions: ``draft`` (editable) -> ``published`` (immutable). Editing a template
whose latest version is published appends a new draft version; publishing that one
puts it in ``pending_approval`` until the platform approves it (a first version, and
the platform's own public templates, publish directly). Running projects keep the
version they started on.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from domain.shared.errors import Conflict, ValidationFailed
from domain.shared.events import DomainEvent
from domain.workflow import events
from domain.workflow.calendar import parse_timeout_days

NODE_TYPES = ("assign_provider", "claim_order", "assign_order", "submit_requirements", "confirm",
              "general", "container", "complete")
SIDES = ("provider", "customer")
RULES = ("provider_first", "department_first")
RECEIVERS = ("customer", "operator", "provider_admin", "vendor_admin")
TRIGGERS = ("enter", "reject", "transition", "timeout")

#: the side each node type acts on when it is not the template's choice
FIXED_SIDE = {"assign_provider": "system", "assign_order": "system", "claim_order": "provider",
              "submit_requirements": "customer", "complete": "customer"}
TIMED_TYPES = frozenset({"claim_order", "submit_requirements", "confirm", "general", "complete"})
REJECTABLE_TYPES = frozenset({"confirm", "complete"})
#: a rejected node returns to the previous acting node; these are the ones that can be redone
RETURNABLE_TYPES = frozenset({"submit_requirements", "confirm", "general"})
#: label keys per type, with the defaults the seed manual presets ("如无特殊需求，可保留预置的...")
LABELS: dict[str, dict[str, str]] = {
    "submit_requirements": {"submit": "提交需求", "view": "查看需求"},
    "confirm": {"confirm": "确认", "reject": "驳回"},
    "general": {"confirm": "确认", "upload": "上传内容", "view": "查看内容"},
    "complete": {"confirm": "确认完成", "reject": "驳回"},
}
MAX_NODES = 100
MAX_LABEL = 30
MAX_REMINDERS = 20

TemplateStatus = Literal["draft", "pending_approval", "published"]


@dataclasses.dataclass(frozen=True)
class Reminder:
    receiver: str  # customer | operator | provider_admin | vendor_admin
    trigger: str  # enter | reject | transition | timeout
    message_template: str  # platform-owned, named "<node>-<receiver>"


@dataclasses.dataclass(frozen=True)
class Node:
    type: str
    name: str
    role: str | None = None
    side: str | None = None
    timeout_days: Decimal | None = None
    advance_on_timeout: bool = False
    rejectable: bool = False
    rule: str | None = None
    form_template_id: str | None = None
    upload: bool = False
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    reminders: tuple[Reminder, ...] = ()
    children: tuple[Node, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", dict(self.labels))
        object.__setattr__(self, "reminders", tuple(self.reminders))
        object.__setattr__(self, "children", tuple(self.children))

    @property
    def acting_side(self) -> str | None:
        """``system``, ``provider`` or ``customer``; None for a container."""
        return FIXED_SIDE.get(self.type, self.side)

    @property
    def has_deadline(self) -> bool:
        """A timeout of 0 (or none) means no time limit: seed 001 §3.2.3 shows a claim
        node with "超时时间(天): 0" and no reminders."""
        return self.timeout_days is not None and self.timeout_days > 0

    def reminders_for(self, trigger: str) -> tuple[Reminder, ...]:
        return tuple(r for r in self.reminders if r.trigger == trigger)


# --------------------------------------------------------------------------- walk order
@dataclasses.dataclass(frozen=True)
class WalkItem:
    kind: Literal["enter", "node", "leave"]  # enter/leave: a container; node: an acting node
    path: str  # "3", "2.0": indexes from the top level down
    node: Node
    depth: int


def flatten(nodes: Sequence[Node]) -> list[WalkItem]:
    """Walk order: each container is entered, its children walked, then it is left."""
    out: list[WalkItem] = []

    def walk(items: Sequence[Node], prefix: str, depth: int) -> None:
        for i, node in enumerate(items):
            path = f"{prefix}{i}"
            if node.type == "container":
                out.append(WalkItem("enter", path, node, depth))
                walk(node.children, f"{path}.", depth + 1)
                out.append(WalkItem("leave", path, node, depth))
            else:
                out.append(WalkItem("node", path, node, depth))

    walk(nodes, "", 0)
    return out


@dataclasses.dataclass(frozen=True)
class Step:
    """One acting node in walk order, with the containers it sits in (outermost first)."""

    index: int
    path: str
    node: Node
    containers: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Flow:
    """The acting steps of a template version, what a project walks."""

    steps: tuple[Step, ...]
    container_names: Mapping[str, str]

    @classmethod
    def from_nodes(cls, nodes: Sequence[Node]) -> Flow:
        steps: list[Step] = []
        stack: list[str] = []
        names: dict[str, str] = {}
        for item in flatten(nodes):
            if item.kind == "enter":
                stack.append(item.path)
                names[item.path] = item.node.name
            elif item.kind == "leave":
                stack.pop()
            else:
                steps.append(Step(len(steps), item.path, item.node, tuple(stack)))
        if not steps:
            raise ValidationFailed("nodes", "a flow needs at least one node", code="invalid_template")
        return cls(tuple(steps), names)

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __getitem__(self, index: int) -> Step:
        return self.steps[index]


# --------------------------------------------------------------------------- validation
def _fail(field: str, message: str, code: str = "invalid_template") -> ValidationFailed:
    return ValidationFailed(field, message, code=code)


def _walk_with_fields(nodes: Sequence[Node], prefix: str = "nodes") -> Iterator[tuple[str, Node, bool]]:
    """(field prefix, node, is top level) in walk order, parents before children."""
    top = prefix == "nodes"
    for i, node in enumerate(nodes):
        where = f"{prefix}[{i}]"
        yield where, node, top
        if node.children:
            yield from _walk_with_fields(node.children, f"{where}.children")


def validate_template(nodes: Sequence[Node], known_roles: Collection[str], known_form_ids: Collection[str],
                      known_message_templates: Collection[str] | None = None) -> tuple[Node, ...]:
    """Check the rules of the spec; return the nodes normalised (default labels filled in,
    fixed sides set, timeouts quantised). Raises ``ValidationFailed`` naming the node
    and field, e.g. ``nodes[3].role``.

    Rules: first node ``assign_provider`` and last node ``complete``, exactly one of
    each, both top level; roles exist; every provider-side acting node names a role;
    ``department_first`` needs an earlier ``claim_order``; timeouts >= 0 with at most
    one decimal, only on nodes that can wait for a person; ``advance_on_timeout``
    needs a timeout; a rejectable node must follow a node that can be redone; labels
    non-empty; containers hold children and no behaviour; ``submit_requirements``
    names a known form template; reminders use known receivers and triggers (and a
    known message template when the list is given).
    """
    if not nodes:
        raise _fail("nodes", "a template needs at least the assign_provider and complete nodes")
    walked = list(_walk_with_fields(nodes))
    if len(walked) > MAX_NODES:
        raise _fail("nodes", f"a template has at most {MAX_NODES} nodes")
    for where, node, _top in walked:
        if node.type not in NODE_TYPES:
            raise _fail(f"{where}.type", f"must be one of {', '.join(NODE_TYPES)}")
    if nodes[0].type != "assign_provider":
        raise _fail("nodes[0].type", "the first node must be assign_provider")
    last = len(nodes) - 1
    if nodes[last].type != "complete":
        raise _fail(f"nodes[{last}].type", "the last node must be complete")
    own_place = {"assign_provider": "nodes[0]", "complete": f"nodes[{last}]"}
    for where, node, top in walked:
        if node.type not in own_place:
            continue
        if not top:
            raise _fail(f"{where}.type", f"{node.type} must be a top-level node, not inside a container")
        if where != own_place[node.type]:
            place = "first" if node.type == "assign_provider" else "last"
            raise _fail(f"{where}.type", f"a template has exactly one {node.type} node, the {place} one")

    seen_claim = False
    previous_acting: Node | None = None
    for where, node, _top in walked:
        _check_node(where, node, known_roles, known_form_ids, known_message_templates, seen_claim,
                    previous_acting)
        if node.type == "claim_order":
            seen_claim = True
        if node.type != "container":
            previous_acting = node
    return tuple(_normalise(n) for n in nodes)


def _check_node(where: str, node: Node, known_roles: Collection[str], known_form_ids: Collection[str],
                known_message_templates: Collection[str] | None, seen_claim: bool,
                previous_acting: Node | None) -> None:
    t = node.type
    if not isinstance(node.name, str) or not node.name.strip() or len(node.name.strip()) > 100:
        raise _fail(f"{where}.name", "must be 1-100 characters")

    if t == "container":
        if not node.children:
            raise _fail(f"{where}.children", "a container must hold at least one node")
        behaviour: dict[str, object] = {
            "role": node.role, "side": node.side, "timeout_days": node.timeout_days,
            "advance_on_timeout": node.advance_on_timeout or None, "rejectable": node.rejectable or None,
            "rule": node.rule, "form_template_id": node.form_template_id, "upload": node.upload or None,
            "labels": dict(node.labels) or None, "reminders": node.reminders or None,
        }
        for field, value in behaviour.items():
            if value is not None:
                raise _fail(f"{where}.{field}", "a container has no behaviour of its own")
        return
    if node.children:
        raise _fail(f"{where}.children", "only a container holds child nodes")

    # side
    if t in FIXED_SIDE:
        if node.side is not None and node.side != FIXED_SIDE[t]:
            raise _fail(f"{where}.side", f"a {t} node always acts on the {FIXED_SIDE[t]} side")
    elif node.side not in SIDES:
        raise _fail(f"{where}.side", "must be provider or customer")
    side = node.acting_side

    # role
    needs_role = t in ("claim_order", "assign_order") or side == "provider"
    if needs_role:
        if not node.role:
            raise _fail(f"{where}.role", "a provider-side node must name a role")
        if node.role not in known_roles:
            raise _fail(f"{where}.role", f"unknown role {node.role!r}", code="unknown_role")
    elif node.role is not None:
        raise _fail(f"{where}.role", f"a {side}-side node takes no role")

    # dispatch rule
    if t == "assign_order":
        if node.rule not in RULES:
            raise _fail(f"{where}.rule", "must be provider_first or department_first")
        if node.rule == "department_first" and not seen_claim:
            raise _fail(f"{where}.rule", "department_first needs an earlier claim_order node")
    elif node.rule is not None:
        raise _fail(f"{where}.rule", "only an assign_order node has a rule")

    # timeout
    if node.timeout_days is not None:
        if t not in TIMED_TYPES:
            raise _fail(f"{where}.timeout_days", f"a {t} node has no timeout")
        parse_timeout_days(node.timeout_days, f"{where}.timeout_days")
    if node.advance_on_timeout:
        if t not in REJECTABLE_TYPES:
            raise _fail(f"{where}.advance_on_timeout", "only confirm and complete nodes advance on timeout")
        if not node.has_deadline:
            raise _fail(f"{where}.advance_on_timeout", "needs a timeout greater than 0")

    # reject
    if node.rejectable:
        if t not in REJECTABLE_TYPES:
            raise _fail(f"{where}.rejectable", "only confirm and complete nodes can be rejected")
        if previous_acting is None or previous_acting.type not in RETURNABLE_TYPES:
            prev = previous_acting.type if previous_acting else "nothing"
            raise _fail(f"{where}.rejectable",
                        f"a reject returns to the previous node, and a {prev} node cannot be redone")

    # form, upload
    if t == "submit_requirements":
        if not node.form_template_id:
            raise _fail(f"{where}.form_template_id", "a submit_requirements node needs a requirement form")
        if node.form_template_id not in known_form_ids:
            raise _fail(f"{where}.form_template_id", f"unknown form template {node.form_template_id!r}",
                        code="unknown_form_template")
    elif node.form_template_id is not None:
        raise _fail(f"{where}.form_template_id", "only a submit_requirements node has a form")
    if node.upload and t != "general":
        raise _fail(f"{where}.upload", "only a general node has uploads")

    # labels
    allowed = LABELS.get(t, {})
    for key, value in node.labels.items():
        if key not in allowed:
            raise _fail(f"{where}.labels.{key}", f"a {t} node has no {key!r} label")
        if not isinstance(value, str) or not value.strip():
            raise _fail(f"{where}.labels.{key}", "must not be empty")
        if len(value.strip()) > MAX_LABEL:
            raise _fail(f"{where}.labels.{key}", f"must be at most {MAX_LABEL} characters")

    # reminders
    if len(node.reminders) > MAX_REMINDERS:
        raise _fail(f"{where}.reminders", f"at most {MAX_REMINDERS} reminders per node")
    for j, rem in enumerate(node.reminders):
        rw = f"{where}.reminders[{j}]"
        if rem.receiver not in RECEIVERS:
            raise _fail(f"{rw}.receiver", f"must be one of {', '.join(RECEIVERS)}")
        if rem.trigger not in TRIGGERS:
            raise _fail(f"{rw}.trigger", f"must be one of {', '.join(TRIGGERS)}")
        if rem.trigger == "timeout" and not node.has_deadline:
            raise _fail(f"{rw}.trigger", "a timeout reminder needs a timeout greater than 0")
        if rem.trigger == "reject" and not node.rejectable:
            raise _fail(f"{rw}.trigger", "a reject reminder needs a rejectable node")
        if not isinstance(rem.message_template, str) or not rem.message_template.strip():
            raise _fail(f"{rw}.message_template", "must name a message template")
        if known_message_templates is not None and rem.message_template not in known_message_templates:
            raise _fail(f"{rw}.message_template", f"unknown message template {rem.message_template!r}",
                        code="unknown_message_template")


def _normalise(node: Node) -> Node:
    if node.type == "container":
        return dataclasses.replace(node, name=node.name.strip(),
                                   children=tuple(_normalise(c) for c in node.children))
    labels = {k: v.strip() for k, v in node.labels.items()}
    for key, default in LABELS.get(node.type, {}).items():
        labels.setdefault(key, default)
    timeout = parse_timeout_days(node.timeout_days) if node.timeout_days is not None else None
    side = FIXED_SIDE.get(node.type, node.side)
    return dataclasses.replace(node, name=node.name.strip(), side=side, timeout_days=timeout, labels=labels)


# --------------------------------------------------------------------------- wire format
def node_to_dict(node: Node) -> dict[str, Any]:
    """Plain JSON-friendly dict (timeouts as decimal strings); the inverse of ``node_from_dict``."""
    return {
        "type": node.type, "name": node.name, "role": node.role, "side": node.side,
        "timeout_days": None if node.timeout_days is None else str(node.timeout_days),
        "advance_on_timeout": node.advance_on_timeout, "rejectable": node.rejectable, "rule": node.rule,
        "form_template_id": node.form_template_id, "upload": node.upload, "labels": dict(node.labels),
        "reminders": [dataclasses.asdict(r) for r in node.reminders],
        "children": [node_to_dict(c) for c in node.children],
    }


def node_from_dict(data: Mapping[str, Any], where: str = "nodes[0]") -> Node:
    """Build a node from the API/JSON shape; type errors name the field."""
    def text(key: str) -> str | None:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise _fail(f"{where}.{key}", "must be a string")
        return value

    def flag(key: str) -> bool:
        value = data.get(key, False)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise _fail(f"{where}.{key}", "must be true or false")
        return value

    raw_timeout = data.get("timeout_days")
    timeout = None if raw_timeout is None else parse_timeout_days(raw_timeout, f"{where}.timeout_days")
    labels = data.get("labels") or {}
    if not isinstance(labels, Mapping):
        raise _fail(f"{where}.labels", "must be an object of label texts")
    reminders_raw = data.get("reminders") or []
    children_raw = data.get("children") or []
    if not isinstance(reminders_raw, list):
        raise _fail(f"{where}.reminders", "must be a list")
    if not isinstance(children_raw, list):
        raise _fail(f"{where}.children", "must be a list")
    reminders = []
    for j, r in enumerate(reminders_raw):
        if not isinstance(r, Mapping):
            raise _fail(f"{where}.reminders[{j}]", "must be an object")
        reminders.append(Reminder(receiver=str(r.get("receiver", "")), trigger=str(r.get("trigger", "")),
                                  message_template=str(r.get("message_template") or "")))
    return Node(
        type=text("type") or "", name=text("name") or "", role=text("role"), side=text("side"),
        timeout_days=timeout, advance_on_timeout=flag("advance_on_timeout"), rejectable=flag("rejectable"),
        rule=text("rule"), form_template_id=text("form_template_id"), upload=flag("upload"),
        labels=dict(labels), reminders=tuple(reminders),
        children=tuple(node_from_dict(c, f"{where}.children[{k}]") for k, c in enumerate(children_raw)),
    )


def nodes_from_dicts(items: Sequence[Mapping[str, Any]]) -> tuple[Node, ...]:
    return tuple(node_from_dict(d, f"nodes[{i}]") for i, d in enumerate(items))


# --------------------------------------------------------------------------- versions
@dataclasses.dataclass
class TemplateVersion:
    number: int
    name: str
    description: str
    nodes: tuple[Node, ...]
    status: TemplateStatus
    created_at: datetime
    submitted_at: datetime | None = None
    published_at: datetime | None = None
    reviewed_by: str | None = None
    review_remark: str | None = None

    def flow(self) -> Flow:
        return Flow.from_nodes(self.nodes)


def _check_name(name: str, description: str) -> tuple[str, str]:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed("name", "must be 1-100 characters", code="invalid_template")
    description = (description or "").strip()
    if len(description) > 500:
        raise ValidationFailed("description", "must be at most 500 characters", code="invalid_template")
    return name, description


@dataclasses.dataclass
class FlowTemplate:
    """A vendor's (or the platform's public) template with its versions, oldest first."""

    id: str
    owner_org_id: str
    public: bool
    created_at: datetime
    versions: list[TemplateVersion]
    copied_from: str | None = None
    events: list[DomainEvent] = dataclasses.field(default_factory=list, repr=False, compare=False)

    @classmethod
    def create(cls, *, id: str, owner_org_id: str, name: str, description: str, nodes: Sequence[Node],
               now: datetime, known_roles: Collection[str], known_form_ids: Collection[str],
               known_message_templates: Collection[str] | None = None, public: bool = False,
               copied_from: str | None = None) -> FlowTemplate:
        name, description = _check_name(name, description)
        checked = validate_template(nodes, known_roles, known_form_ids, known_message_templates)
        version = TemplateVersion(1, name, description, checked, "draft", now)
        return cls(id=id, owner_org_id=owner_org_id, public=public, created_at=now, versions=[version],
                   copied_from=copied_from)

    # -- queries
    @property
    def latest(self) -> TemplateVersion:
        return self.versions[-1]

    @property
    def name(self) -> str:
        return self.latest.name

    @property
    def current(self) -> TemplateVersion | None:
        """The newest published version: what a product bound to this template uses."""
        for v in reversed(self.versions):
            if v.status == "published":
                return v
        return None

    def version(self, number: int) -> TemplateVersion:
        for v in self.versions:
            if v.number == number:
                return v
        raise ValidationFailed("version", f"no version {number}", code="unknown_template_version")

    # -- commands
    def edit(self, *, name: str, description: str, nodes: Sequence[Node], now: datetime,
             known_roles: Collection[str], known_form_ids: Collection[str],
             known_message_templates: Collection[str] | None = None) -> TemplateVersion:
        """Save changes: the draft is replaced; a published template gets a new draft version."""
        latest = self.latest
        if latest.status == "pending_approval":
            raise Conflict("the latest version is waiting for platform approval", code="template_pending_approval")
        name, description = _check_name(name, description)
        checked = validate_template(nodes, known_roles, known_form_ids, known_message_templates)
        if latest.status == "draft":
            latest.name, latest.description, latest.nodes = name, description, checked
            latest.review_remark = None
            return latest
        version = TemplateVersion(latest.number + 1, name, description, checked, "draft", now)
        self.versions.append(version)
        return version

    def publish(self, now: datetime) -> TemplateVersion:
        """Publish the draft; a new version of an already published vendor template
        goes to the platform for approval first."""
        latest = self.latest
        if latest.status != "draft":
            raise Conflict("only a draft version can be published", code="template_not_draft")
        if self.current is not None and not self.public:
            latest.status = "pending_approval"
            latest.submitted_at = now
            self.events.append(events.TemplateVersionSubmitted(
                template_id=self.id, version=latest.number, owner_org_id=self.owner_org_id))
            return latest
        self._make_published(latest, now)
        return latest

    def approve(self, reviewer_id: str, now: datetime) -> TemplateVersion:
        latest = self.latest
        if latest.status != "pending_approval":
            raise Conflict("no version is waiting for approval", code="template_not_pending")
        latest.reviewed_by = reviewer_id
        self._make_published(latest, now)
        return latest

    def reject_version(self, reviewer_id: str, remark: str, now: datetime) -> TemplateVersion:
        latest = self.latest
        if latest.status != "pending_approval":
            raise Conflict("no version is waiting for approval", code="template_not_pending")
        remark = (remark or "").strip()
        if not remark or len(remark) > 500:
            raise ValidationFailed("remark", "must be 1-500 characters", code="invalid_remark")
        latest.status = "draft"
        latest.reviewed_by = reviewer_id
        latest.review_remark = remark
        return latest

    def copy(self, *, id: str, owner_org_id: str, name: str | None, now: datetime,
             known_roles: Collection[str], known_form_ids: Collection[str]) -> FlowTemplate:
        """A new draft template from this one's current published version."""
        source = self.current
        if source is None:
            raise Conflict("only a published template can be copied", code="template_not_published")
        return FlowTemplate.create(id=id, owner_org_id=owner_org_id, name=name or source.name,
                                   description=source.description, nodes=source.nodes, now=now,
                                   known_roles=known_roles, known_form_ids=known_form_ids, copied_from=self.id)

    def _make_published(self, version: TemplateVersion, now: datetime) -> None:
        version.status = "published"
        version.published_at = now
        self.events.append(events.TemplatePublished(
            template_id=self.id, version=version.number, owner_org_id=self.owner_org_id))
