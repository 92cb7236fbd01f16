"""Template validation (each broken rule names node and field), walk order, versions."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal

import pytest

from domain.shared.errors import Conflict, ValidationFailed
from domain.workflow import events
from domain.workflow.templates import (
    Flow,
    FlowTemplate,
    Node,
    Reminder,
    flatten,
    node_from_dict,
    node_to_dict,
    nodes_from_dicts,
    validate_template,
)
from tests.unit.workflow.helpers import cst

ROLES = {"provider_admin", "account_manager", "designer", "engineer"}
FORMS = {"form_site"}
NOW = cst(2019, 10, 23, 18)


def outsourcing() -> list[Node]:
    """Seed 001 §3.2.3 (建站服务流模板1), with the stages of §2.1.2.2's project detail."""
    return [
        Node("assign_provider", "分配服务商"),
        Node("claim_order", "认领订单", role="account_manager", timeout_days=Decimal("0")),
        Node("assign_order", "分单", role="designer", rule="department_first"),
        Node("submit_requirements", "需求提交", form_template_id="form_site", timeout_days=Decimal("2"),
             reminders=(Reminder("customer", "timeout", "提交需求节点-通知客户"),)),
        Node("confirm", "需求确认", side="provider", role="designer", rejectable=True, timeout_days=Decimal("1")),
        Node("container", "网站原型制作", children=(
            Node("general", "原型搭建", side="provider", role="designer", upload=True,
                 timeout_days=Decimal("3.5")),
            Node("confirm", "客户确认原型", side="customer", rejectable=True, timeout_days=Decimal("1"),
                 advance_on_timeout=True),
        )),
        Node("complete", "项目验收", rejectable=True, timeout_days=Decimal("3"), advance_on_timeout=True,
             reminders=(Reminder("customer", "enter", "项目完成节点-通知客户"),)),
    ]


def self_service() -> list[Node]:
    """Seed 001 §3.1: no assign_order; every provider-side node is the provider admin's."""
    return [
        Node("assign_provider", "分配服务商节点"),
        Node("submit_requirements", "顾客提交需求", form_template_id="form_site"),
        Node("general", "网站首页设计", side="provider", role="provider_admin", upload=True),
        Node("complete", "项目验收", rejectable=True),
    ]


def test_valid_templates_pass_and_are_normalised() -> None:
    nodes = validate_template(outsourcing(), ROLES, FORMS)
    assert nodes[3].labels == {"submit": "提交需求", "view": "查看需求"}
    assert nodes[3].side == "customer"
    assert nodes[1].side == "provider"
    assert nodes[5].children[0].labels == {"confirm": "确认", "upload": "上传内容", "view": "查看内容"}
    assert nodes[5].children[0].timeout_days == Decimal("3.5")
    assert validate_template(self_service(), ROLES, FORMS)[2].role == "provider_admin"


def test_custom_labels_are_kept_and_trimmed() -> None:
    nodes = outsourcing()
    nodes[4] = dataclasses.replace(nodes[4], labels={"confirm": " 需求无误 ", "reject": "需求有误"})
    assert validate_template(nodes, ROLES, FORMS)[4].labels == {"confirm": "需求无误", "reject": "需求有误"}


def _set(index: int, **changes: object) -> Callable[[list[Node]], None]:
    def mutate(nodes: list[Node]) -> None:
        nodes[index] = dataclasses.replace(nodes[index], **changes)  # type: ignore[arg-type]
    return mutate


def _set_child(index: int, child: int, **changes: object) -> Callable[[list[Node]], None]:
    def mutate(nodes: list[Node]) -> None:
        children = list(nodes[index].children)
        children[child] = dataclasses.replace(children[child], **changes)  # type: ignore[arg-type]
        nodes[index] = dataclasses.replace(nodes[index], children=tuple(children))
    return mutate


def _insert(index: int, node: Node) -> Callable[[list[Node]], None]:
    return lambda nodes: nodes.insert(index, node)


def _delete(index: int) -> Callable[[list[Node]], None]:
    def mutate(nodes: list[Node]) -> None:
        nodes.pop(index)
    return mutate


BROKEN: list[tuple[str, Callable[[list[Node]], None], str, str]] = [
    ("first node is not assign_provider", _delete(0), "nodes[0].type", "first node must be assign_provider"),
    ("last node is not complete", _delete(6), "nodes[5].type", "last node must be complete"),
    ("two assign_provider", _insert(2, Node("assign_provider", "again")), "nodes[2].type", "exactly one"),
    ("two complete", _insert(3, Node("complete", "early")), "nodes[3].type", "exactly one complete"),
    ("unknown type", _set(4, type="approve"), "nodes[4].type", "must be one of"),
    ("empty name", _set(4, name="  "), "nodes[4].name", "1-100"),
    ("unknown role", _set(4, role="astronaut"), "nodes[4].role", "unknown role"),
    ("provider node without a role", _set(4, role=None), "nodes[4].role", "must name a role"),
    ("claim without a role", _set(1, role=None), "nodes[1].role", "must name a role"),
    ("assign_order without a role", _set(2, role=None), "nodes[2].role", "must name a role"),
    ("customer node with a role", _set(3, role="designer"), "nodes[3].role", "takes no role"),
    ("nested provider node without a role", _set_child(5, 0, role=None), "nodes[5].children[0].role",
     "must name a role"),
    ("confirm without a side", _set(4, side=None), "nodes[4].side", "provider or customer"),
    ("fixed side contradicted", _set(6, side="provider"), "nodes[6].side", "always acts on the customer"),
    ("department_first without a claim", _delete(1), "nodes[1].rule", "earlier claim_order"),
    ("department_first before the claim",
     lambda n: n.insert(3, n.pop(1)), "nodes[1].rule", "earlier claim_order"),
    ("assign_order without a rule", _set(2, rule=None), "nodes[2].rule", "provider_first or department_first"),
    ("rule on a confirm node", _set(4, rule="provider_first"), "nodes[4].rule", "only an assign_order"),
    ("timeout with two decimals", _set(4, timeout_days=Decimal("1.25")), "nodes[4].timeout_days",
     "more than 1 decimal"),
    ("negative timeout", _set(3, timeout_days=Decimal("-1")), "nodes[3].timeout_days", ">= 0"),
    ("nested bad timeout", _set_child(5, 0, timeout_days=Decimal("0.05")), "nodes[5].children[0].timeout_days",
     "more than 1 decimal"),
    ("timeout on a system node", _set(2, timeout_days=Decimal("1")), "nodes[2].timeout_days", "has no timeout"),
    ("advance without timeout", _set(4, advance_on_timeout=True, timeout_days=None),
     "nodes[4].advance_on_timeout", "needs a timeout"),
    ("advance with timeout 0", _set(4, advance_on_timeout=True, timeout_days=Decimal("0")),
     "nodes[4].advance_on_timeout", "needs a timeout"),
    ("advance on a general node", _set_child(5, 0, advance_on_timeout=True), "nodes[5].children[0].advance_on_timeout",
     "only confirm and complete"),
    ("rejectable general node", _set_child(5, 0, rejectable=True), "nodes[5].children[0].rejectable",
     "only confirm and complete"),
    ("reject back into a system node", _insert(3, Node("confirm", "ok?", side="customer", rejectable=True)),
     "nodes[3].rejectable", "cannot be redone"),
    ("empty label", _set(4, labels={"confirm": " "}), "nodes[4].labels.confirm", "must not be empty"),
    ("unknown label", _set(4, labels={"upload": "上传"}), "nodes[4].labels.upload", "no 'upload' label"),
    ("too long label", _set(6, labels={"confirm": "x" * 31}), "nodes[6].labels.confirm", "at most 30"),
    ("empty container", _set(5, children=()), "nodes[5].children", "at least one node"),
    ("container with a role", _set(5, role="designer"), "nodes[5].role", "no behaviour"),
    ("container with a timeout", _set(5, timeout_days=Decimal("1")), "nodes[5].timeout_days", "no behaviour"),
    ("container with reminders", _set(5, reminders=(Reminder("customer", "enter", "x"),)), "nodes[5].reminders",
     "no behaviour"),
    ("assign_provider inside a container", _set_child(5, 1, type="assign_provider", side=None, rejectable=False,
                                                      timeout_days=None, advance_on_timeout=False),
     "nodes[5].children[1].type", "top-level"),
    ("complete inside a container", _set_child(5, 1, type="complete", side=None),
     "nodes[5].children[1].type", "top-level"),
    ("children on a plain node", _set(4, children=(Node("general", "x", side="customer"),)), "nodes[4].children",
     "only a container"),
    ("requirements without a form", _set(3, form_template_id=None), "nodes[3].form_template_id",
     "needs a requirement form"),
    ("unknown form", _set(3, form_template_id="form_x"), "nodes[3].form_template_id", "unknown form template"),
    ("form on a confirm node", _set(4, form_template_id="form_site"), "nodes[4].form_template_id",
     "only a submit_requirements"),
    ("upload on a confirm node", _set(4, upload=True), "nodes[4].upload", "only a general node"),
    ("unknown receiver", _set(3, reminders=(Reminder("ceo", "enter", "x"),)), "nodes[3].reminders[0].receiver",
     "must be one of"),
    ("unknown trigger", _set(3, reminders=(Reminder("customer", "later", "x"),)), "nodes[3].reminders[0].trigger",
     "must be one of"),
    ("timeout reminder without a timeout", _set(2, reminders=(Reminder("operator", "timeout", "x"),)),
     "nodes[2].reminders[0].trigger", "needs a timeout"),
    ("reject reminder on a node that cannot be rejected",
     _set(3, reminders=(Reminder("operator", "reject", "x"),)), "nodes[3].reminders[0].trigger", "rejectable"),
    ("reminder without a message template", _set(3, reminders=(Reminder("customer", "enter", " "),)),
     "nodes[3].reminders[0].message_template", "must name"),
]


@pytest.mark.parametrize(("mutate", "field", "message"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_each_broken_rule_names_the_node_and_field(mutate: Callable[[list[Node]], None], field: str,
                                                   message: str) -> None:
    nodes = outsourcing()
    mutate(nodes)
    with pytest.raises(ValidationFailed) as err:
        validate_template(nodes, ROLES, FORMS)
    assert err.value.field == field
    assert message in err.value.details[field][0]


def test_no_nodes_at_all() -> None:
    with pytest.raises(ValidationFailed) as err:
        validate_template([], ROLES, FORMS)
    assert err.value.field == "nodes"


def test_message_templates_are_checked_when_the_list_is_given() -> None:
    known = {"提交需求节点-通知客户", "项目完成节点-通知客户"}
    validate_template(outsourcing(), ROLES, FORMS, known)
    nodes = outsourcing()
    nodes[6] = dataclasses.replace(nodes[6], reminders=(Reminder("customer", "enter", "不存在-通知客户"),))
    with pytest.raises(ValidationFailed) as err:
        validate_template(nodes, ROLES, FORMS, known)
    assert err.value.field == "nodes[6].reminders[0].message_template"
    assert err.value.code == "unknown_message_template"


def test_codes_for_unknown_references() -> None:
    nodes = outsourcing()
    nodes[4] = dataclasses.replace(nodes[4], role="astronaut")
    with pytest.raises(ValidationFailed) as err:
        validate_template(nodes, ROLES, FORMS)
    assert err.value.code == "unknown_role"


# ---------------------------------------------------------------- walk order
def test_flatten_enters_and_leaves_containers_around_children() -> None:
    walk = [(w.kind, w.path, w.node.name) for w in flatten(outsourcing())]
    assert walk == [
        ("node", "0", "分配服务商"), ("node", "1", "认领订单"), ("node", "2", "分单"), ("node", "3", "需求提交"),
        ("node", "4", "需求确认"), ("enter", "5", "网站原型制作"), ("node", "5.0", "原型搭建"),
        ("node", "5.1", "客户确认原型"), ("leave", "5", "网站原型制作"), ("node", "6", "项目验收"),
    ]
    flow = Flow.from_nodes(outsourcing())
    assert [s.path for s in flow] == ["0", "1", "2", "3", "4", "5.0", "5.1", "6"]
    assert flow[5].containers == ("5",)
    assert flow[7].containers == ()
    assert flow.container_names["5"] == "网站原型制作"


def test_nested_containers_walk_depth_first() -> None:
    inner = Node("container", "inner", children=(Node("general", "g", side="customer"),))
    outer = Node("container", "outer", children=(inner, Node("general", "h", side="customer")))
    nodes = [Node("assign_provider", "a"), outer, Node("complete", "c")]
    validate_template(nodes, ROLES, FORMS)
    assert [(w.kind, w.path) for w in flatten(nodes)] == [
        ("node", "0"), ("enter", "1"), ("enter", "1.0"), ("node", "1.0.0"), ("leave", "1.0"), ("node", "1.1"),
        ("leave", "1"), ("node", "2")]
    assert Flow.from_nodes(nodes)[1].containers == ("1", "1.0")


# ---------------------------------------------------------------- wire format
def test_dict_round_trip() -> None:
    nodes = validate_template(outsourcing(), ROLES, FORMS)
    assert nodes_from_dicts([node_to_dict(n) for n in nodes]) == nodes


def test_dict_errors_name_the_field() -> None:
    with pytest.raises(ValidationFailed) as err:
        nodes_from_dicts([{"type": "assign_provider", "name": "a"},
                          {"type": "confirm", "name": "b", "timeout_days": 1.5}])
    assert err.value.field == "nodes[1].timeout_days"
    with pytest.raises(ValidationFailed) as err:
        node_from_dict({"type": "general", "name": "g", "upload": "yes"}, "nodes[2]")
    assert err.value.field == "nodes[2].upload"
    with pytest.raises(ValidationFailed) as err:
        node_from_dict({"type": "container", "name": "c", "children": [{"type": "general", "role": 3}]}, "nodes[4]")
    assert err.value.field == "nodes[4].children[0].role"


# ---------------------------------------------------------------- versions
def _create(public: bool = False) -> FlowTemplate:
    return FlowTemplate.create(id="tpl_1", owner_org_id="org_v", name=" 网站设计 ", description="", public=public,
                               nodes=outsourcing(), now=NOW, known_roles=ROLES, known_form_ids=FORMS)


def _edit(t: FlowTemplate, name: str = "网站设计 v2") -> None:
    t.edit(name=name, description="d", nodes=self_service(), now=NOW, known_roles=ROLES, known_form_ids=FORMS)


def test_a_draft_is_edited_in_place_then_published() -> None:
    t = _create()
    assert (t.latest.number, t.latest.status, t.name) == (1, "draft", "网站设计")
    assert t.current is None
    _edit(t)
    assert len(t.versions) == 1 and t.latest.name == "网站设计 v2"
    t.publish(NOW)
    assert t.latest.status == "published" and t.current is t.versions[0]
    assert isinstance(t.events[-1], events.TemplatePublished)


def test_editing_a_published_template_makes_a_new_version_needing_approval() -> None:
    t = _create()
    t.publish(NOW)
    published_nodes = t.versions[0].nodes
    _edit(t)
    assert [(v.number, v.status) for v in t.versions] == [(1, "published"), (2, "draft")]
    assert t.versions[0].nodes == published_nodes  # immutable
    t.publish(NOW)
    assert t.latest.status == "pending_approval"
    assert t.current is not None and t.current.number == 1  # products still get v1
    assert isinstance(t.events[-1], events.TemplateVersionSubmitted)
    with pytest.raises(Conflict) as err:
        _edit(t)
    assert err.value.code == "template_pending_approval"
    with pytest.raises(Conflict):
        t.publish(NOW)
    t.reject_version("usr_platform", "请补充验收节点的说明", NOW)
    assert str(t.latest.status) == "draft" and t.latest.review_remark == "请补充验收节点的说明"
    t.publish(NOW)
    t.approve("usr_platform", NOW)
    assert t.current is not None and t.current.number == 2 and t.current.reviewed_by == "usr_platform"
    assert t.version(1).status == "published"  # running projects keep their version


def test_public_templates_publish_new_versions_directly() -> None:
    t = _create(public=True)
    t.publish(NOW)
    _edit(t)
    t.publish(NOW)
    assert t.latest.status == "published" and t.latest.number == 2


def test_approval_needs_a_pending_version() -> None:
    t = _create()
    with pytest.raises(Conflict) as err:
        t.approve("usr_platform", NOW)
    assert err.value.code == "template_not_pending"


def test_copy_starts_a_draft_from_the_published_version() -> None:
    source = _create(public=True)
    with pytest.raises(Conflict) as err:
        source.copy(id="tpl_2", owner_org_id="org_w", name=None, now=NOW, known_roles=ROLES, known_form_ids=FORMS)
    assert err.value.code == "template_not_published"
    source.publish(NOW)
    copy = source.copy(id="tpl_2", owner_org_id="org_w", name=None, now=NOW, known_roles=ROLES,
                       known_form_ids=FORMS)
    assert (copy.owner_org_id, copy.copied_from, copy.latest.status) == ("org_w", "tpl_1", "draft")
    assert copy.name == "网站设计"
    assert copy.latest.nodes == source.latest.nodes


def test_invalid_nodes_are_refused_on_save() -> None:
    t = _create()
    nodes = outsourcing()
    nodes[4] = dataclasses.replace(nodes[4], role=None)
    with pytest.raises(ValidationFailed) as err:
        t.edit(name="x", description="", nodes=nodes, now=NOW, known_roles=ROLES, known_form_ids=FORMS)
    assert err.value.field == "nodes[4].role"
    with pytest.raises(ValidationFailed) as err:
        _edit(t, name="")
    assert err.value.field == "name"


def test_nodes_and_projects_convert_to_plain_data() -> None:
    nodes = validate_template(outsourcing(), ROLES, FORMS)
    data = dataclasses.asdict(nodes[5])
    assert data["children"][0]["labels"]["upload"] == "上传内容"
    assert Flow.from_nodes(nodes) == Flow.from_nodes(validate_template(outsourcing(), ROLES, FORMS))
