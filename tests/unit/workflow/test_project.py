"""The project state machine: node walk, reject, timeouts, pause/resume, changes, posts."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.shared.errors import Conflict, DomainError, Forbidden, ValidationFailed
from domain.workflow import events
from domain.workflow.forms import FormField, FormTemplate
from domain.workflow.project import Actor, Project
from domain.workflow.templates import Flow, Node, Reminder, validate_template
from tests.unit.workflow.helpers import cst, schedule

ROLES = {"provider_admin", "account_manager", "designer"}
FORM = FormTemplate("form_site", "网站需求", (
    FormField("site_name", "网站名称", "text", required=True),
    FormField("pages", "页数", "number"),
    FormField("launch", "上线日期", "date"),
    FormField("style", "风格", "choice", choices=("简约", "商务")),
    FormField("sketch", "草图", "file"),
))
S = schedule()

VENDOR, PROVIDER, OTHER_PROVIDER, CUSTOMER = "org_vendor", "org_hebei", "org_beijing", "org_customer"
customer = Actor("usr_c", CUSTOMER, frozenset({"customer_admin"}), "客户甲乙丙", "customer")
lisi = Actor("usr_lisi", PROVIDER, frozenset({"designer"}), "李四", "designer", "dep_design1")
wangwu = Actor("usr_wangwu", PROVIDER, frozenset({"designer"}), "王五", "designer", "dep_design1")
admin = Actor("usr_padmin", PROVIDER, frozenset({"provider_admin"}), "河北服务商", "provider_admin")
vendor_admin = Actor("usr_vadmin", VENDOR, frozenset({"vendor_admin"}), "小二", "vendor_admin")
manager = Actor("usr_am", PROVIDER, frozenset({"account_manager"}), "张经理", "account_manager", "dep_out1")


def by_role() -> list[Node]:
    """Seed 001 §3.2: dispatch to employees by role."""
    return [
        Node("assign_provider", "分配服务商节点"),
        Node("assign_order", "分配订单", role="designer", rule="provider_first"),
        Node("submit_requirements", "顾客提交需求", form_template_id="form_site", timeout_days=Decimal("2"),
             reminders=(Reminder("customer", "timeout", "提交需求节点-通知客户"),
                        Reminder("operator", "enter", "提交需求节点-通知操作人"))),
        Node("confirm", "设计师确定需求", side="provider", role="designer", rejectable=True,
             timeout_days=Decimal("1"), reminders=(Reminder("customer", "reject", "确认节点-通知客户"),)),
        Node("container", "网站设计", children=(
            Node("general", "设计师设计网站", side="provider", role="designer", upload=True,
                 timeout_days=Decimal("3")),
        )),
        Node("complete", "项目验收", rejectable=True, timeout_days=Decimal("3"), advance_on_timeout=True,
             reminders=(Reminder("provider_admin", "transition", "项目完成节点-通知服务商"),)),
    ]


def start(nodes: list[Node] | None = None, now: datetime | None = None) -> Project:
    checked = validate_template(nodes or by_role(), ROLES, {"form_site"})
    return Project.start(id="prj_1", order_no="8000148312552", product_id="prd_80", template_id="tpl_1",
                         template_version=1, vendor_org_id=VENDOR, customer_org_id=CUSTOMER,
                         flow=Flow.from_nodes(checked), now=now or cst(2019, 10, 17, 9), schedule=S)


def current_id(p: Project) -> str:
    assert p.current is not None
    return p.current.id


def of(p: Project, kind: type[Any]) -> list[Any]:
    return [e for e in p.events if isinstance(e, kind)]


def to_submit(now: datetime = cst(2019, 10, 17, 9)) -> Project:
    p = start(now=now)
    p.assign_provider(PROVIDER, now, S, decision={"draw": 7})
    p.assign_employee(lisi.user_id or "", now, S)
    return p


def to_confirm(now: datetime = cst(2019, 10, 17, 9)) -> Project:
    p = to_submit(now)
    p.submit_requirements(current_id(p), customer, FORM, {"site_name": "云梦DB"}, now, S)
    return p


# ---------------------------------------------------------------- start and assignment
def test_a_started_project_waits_for_a_provider() -> None:
    p = start()
    assert p.status == "running"
    assert p.current is not None and p.current.type == "assign_provider" and p.current.side == "system"
    req = p.pending_assignment
    assert req is not None and (req.kind, req.role, req.rule) == ("provider", None, None)
    assert [e.kind for e in p.log] == ["project_started", "node_entered"]
    assert len(of(p, events.AssignmentRequested)) == 1


def test_the_walk_of_seed_scenario_two() -> None:
    t0 = cst(2019, 10, 18, 9)  # Friday
    p = start(now=t0)
    p.queue_for_provider("all providers are full", t0)
    p.queue_for_provider("all providers are full", t0 + timedelta(hours=1))  # same reason: no new log line
    assert p.current is not None and p.current.waiting_reason == "all providers are full"
    assert p.pending_assignment is not None and p.pending_assignment.waiting_since == t0
    p.assign_provider(PROVIDER, t0 + timedelta(hours=2), S, decision={"draw": 7})
    req = p.pending_assignment
    assert req is not None and (req.kind, req.role, req.rule, req.provider_org_id) == (
        "employee", "designer", "provider_first", PROVIDER)
    p.queue_for_employee("all employees of role designer are full", t0 + timedelta(hours=2))
    p.assign_employee("usr_lisi", cst(2019, 10, 18, 15, 25, 23), S)
    assert p.role_operators == {"designer": "usr_lisi"}
    submit = p.current
    assert submit is not None and submit.type == "submit_requirements"
    # 2 working days from Friday 15:25:23: 8h34m37s Friday, Monday, 15h25m23s Tuesday
    assert submit.deadline == cst(2019, 10, 22, 15, 25, 23)
    assert [r["message_template"] for e in of(p, events.RemindersTriggered) for r in e.reminders] == [
        "提交需求节点-通知操作人"]

    # only the customer submits; the form is checked
    with pytest.raises(Forbidden) as err:
        p.submit_requirements(submit.id, lisi, FORM, {"site_name": "x"}, cst(2019, 10, 18, 15, 30), S)
    assert err.value.code == "not_current_operator"
    with pytest.raises(ValidationFailed) as verr:
        p.submit_requirements(submit.id, customer, FORM, {"pages": "3"}, cst(2019, 10, 18, 15, 30), S)
    assert verr.value.field == "values.site_name"
    p.upload(submit.id, customer, file_id="fil_1", name="列表展示样式.xlsx", size=12_000, now=cst(2019, 10, 18, 15, 29))
    p.submit_requirements(submit.id, customer, FORM,
                          {"site_name": "云梦DB", "pages": "12", "launch": "2019-11-01", "style": "简约",
                           "sketch": "fil_1"}, cst(2019, 10, 18, 15, 30, 5), S)
    assert submit.requirements == {"site_name": "云梦DB", "pages": "12", "launch": "2019-11-01", "style": "简约",
                                   "sketch": "fil_1"}

    confirm = p.current
    assert confirm is not None and confirm.operator_id == "usr_lisi"
    with pytest.raises(Forbidden):
        p.confirm(confirm.id, wangwu, cst(2019, 10, 18, 15, 31), S)  # same role, not the operator
    p.reject(confirm.id, lisi, "需求不完整", cst(2019, 10, 18, 15, 25, 23) + timedelta(minutes=10), S)
    assert confirm.outcome == "rejected" and confirm.remark == "需求不完整"
    again = p.current
    assert again is not None and again.type == "submit_requirements" and again.id != submit.id
    assert again.deadline == S.deadline(again.entered_at, Decimal("2"))
    assert [r["message_template"] for e in of(p, events.RemindersTriggered) if e.trigger == "reject"
            for r in e.reminders] == ["确认节点-通知客户"]
    p.submit_requirements(again.id, customer, FORM, {"site_name": "云梦DB 2"}, cst(2019, 10, 18, 16), S)
    p.confirm(current_id(p), lisi, cst(2019, 10, 18, 16, 5), S)

    design = p.current
    assert design is not None and design.type == "general"
    with pytest.raises(Conflict) as cerr:
        p.confirm(design.id, lisi, cst(2019, 10, 18, 17), S)
    assert cerr.value.code == "upload_required"
    p.upload(design.id, lisi, file_id="fil_2", name="首页.psd", size=1_000, now=cst(2019, 10, 18, 17))
    p.confirm(design.id, lisi, cst(2019, 10, 18, 17, 1), S)

    final = p.current
    assert final is not None and final.type == "complete" and final.side == "customer"
    with pytest.raises(Forbidden):
        p.confirm(final.id, lisi, cst(2019, 10, 18, 18), S)
    p.confirm(final.id, customer, cst(2019, 10, 18, 18), S)
    assert p.status == "completed" and p.completed_at == cst(2019, 10, 18, 18) and p.current is None
    done = of(p, events.ProjectCompleted)
    assert len(done) == 1 and done[0].released_user_ids == ("usr_lisi",) and done[0].auto is False
    assert [e.trigger for e in of(p, events.RemindersTriggered)][-1] == "transition"

    assert [(e.kind, e.subject) for e in p.log] == [
        ("project_started", "project"),
        ("node_entered", "分配服务商节点"), ("queued", "分配服务商节点"), ("node_finished", "分配服务商节点"),
        ("node_entered", "分配订单"), ("queued", "分配订单"), ("node_finished", "分配订单"),
        ("node_entered", "顾客提交需求"), ("node_finished", "顾客提交需求"),
        ("node_entered", "设计师确定需求"), ("node_rejected", "设计师确定需求"),
        ("node_entered", "顾客提交需求"), ("node_finished", "顾客提交需求"),
        ("node_entered", "设计师确定需求"), ("node_finished", "设计师确定需求"),
        ("container_entered", "网站设计"), ("node_entered", "设计师设计网站"), ("node_finished", "设计师设计网站"),
        ("container_left", "网站设计"), ("node_entered", "项目验收"), ("node_finished", "项目验收"),
        ("completed", "project"),
    ]
    rejected = next(e for e in p.log if e.kind == "node_rejected")
    assert (rejected.actor_name, rejected.actor_role, rejected.remark) == ("李四", "designer", "需求不完整")


def test_assignment_is_refused_when_not_waiting() -> None:
    p = to_submit()
    with pytest.raises(Conflict) as err:
        p.assign_provider(PROVIDER, cst(2019, 10, 17, 10), S)
    assert err.value.code == "not_waiting_for_assignment"
    assert p.pending_assignment is None


def test_the_same_employee_for_two_roles_holds_the_project_once() -> None:
    nodes = by_role()
    nodes.insert(2, Node("assign_order", "分配客户经理", role="account_manager", rule="provider_first"))
    p = start(nodes)
    now = cst(2019, 10, 17, 9)
    p.assign_provider(PROVIDER, now, S)
    p.assign_employee("usr_x", now, S)
    p.assign_employee("usr_x", now, S)
    assert [e.holding_acquired for e in of(p, events.EmployeeAssigned)] == [True, False]
    assert p.holders() == {"usr_x"}


# ---------------------------------------------------------------- scenario one and three
def test_seed_scenario_one_the_provider_admin_delivers_alone() -> None:
    nodes = [
        Node("assign_provider", "分配服务商节点"),
        Node("submit_requirements", "顾客提交需求", form_template_id="form_site"),
        Node("general", "网站首页设计", side="provider", role="provider_admin"),
        Node("complete", "项目验收"),
    ]
    now = cst(2019, 10, 23, 18, 16, 16)
    p = start(nodes, now)
    p.assign_provider(PROVIDER, now, S)
    p.submit_requirements(current_id(p), customer, FORM, {"site_name": "x"}, now, S)
    work = p.current
    assert work is not None and work.operator_id is None and work.role == "provider_admin"
    assert work.deadline is None  # no timeout set
    outsider = Actor("usr_o", OTHER_PROVIDER, frozenset({"provider_admin"}), "北京服务商", "provider_admin")
    assert not p.can_act(outsider, work)
    assert not p.can_act(lisi, work)
    p.confirm(work.id, admin, now, S)
    p.confirm(current_id(p), customer, now, S)
    assert p.status == "completed"
    assert of(p, events.ProjectCompleted)[0].released_user_ids == ()


def claim_flow() -> list[Node]:
    """Seed 001 §3.2.3 (outsourcing by departments)."""
    return [
        Node("assign_provider", "分配服务商"),
        Node("claim_order", "认领订单", role="account_manager", timeout_days=Decimal("0")),
        Node("assign_order", "分单", role="designer", rule="department_first"),
        Node("general", "原型搭建", side="provider", role="designer"),
        Node("complete", "项目验收"),
    ]


def test_seed_scenario_three_a_claim_sends_the_order_to_the_department() -> None:
    now = cst(2019, 10, 23, 18, 16, 16)
    p = start(claim_flow(), now)
    p.assign_provider(PROVIDER, now, S)
    claim = p.current
    assert claim is not None and claim.type == "claim_order" and claim.deadline is None  # timeout 0: no limit
    assert p.pending_assignment is None
    with pytest.raises(Forbidden) as err:
        p.claim(lisi, now, S)
    assert err.value.code == "wrong_role"
    with pytest.raises(Forbidden) as err:
        p.claim(Actor("usr_bj", OTHER_PROVIDER, frozenset({"account_manager"})), now, S)
    assert err.value.code == "wrong_provider"
    p.claim(manager, cst(2019, 10, 23, 18, 17, 14), S)
    assert (p.claimed_by, p.claim_department_id) == ("usr_am", "dep_out1")
    req = p.pending_assignment
    assert req is not None and (req.rule, req.department_id) == ("department_first", "dep_out1")
    claimed = of(p, events.ProjectClaimed)
    assert claimed[0].department_id == "dep_out1" and claimed[0].holding_acquired
    with pytest.raises(Conflict) as cerr:
        p.claim(manager, now, S)
    assert cerr.value.code == "already_claimed"


def test_a_project_not_on_a_claim_node_cannot_be_claimed() -> None:
    p = start()
    with pytest.raises(Conflict) as err:
        p.claim(manager, cst(2019, 10, 17, 9), S)
    assert err.value.code == "not_claimable"


# ---------------------------------------------------------------- timeouts
def test_a_timeout_fires_once_at_the_deadline() -> None:
    p = to_submit(cst(2019, 10, 17, 9))  # Thursday; 2 days -> Monday 09:00
    node = p.current
    assert node is not None and node.deadline == cst(2019, 10, 21, 9)
    assert p.overdue_nodes(cst(2019, 10, 21, 8, 59, 59)) == []
    assert p.overdue_nodes(cst(2019, 10, 21, 9)) == [node]
    assert p.on_timeout(node.id, cst(2019, 10, 21, 8, 59, 59), S).fired is False  # not yet due
    outcome = p.on_timeout(node.id, cst(2019, 10, 21, 9), S)
    assert outcome.fired and outcome.side == "customer" and not outcome.advanced
    assert [r.message_template for r in outcome.reminders] == ["提交需求节点-通知客户"]
    assert p.overdue_side == "customer" and node.overdue
    assert p.overdue_nodes(cst(2019, 10, 21, 10)) == []
    second = p.on_timeout(node.id, cst(2019, 10, 21, 10), S)
    assert second.fired is False and second.reminders == ()
    assert len([e for e in of(p, events.RemindersTriggered) if e.trigger == "timeout"]) == 1
    assert [e.kind for e in p.log].count("node_timed_out") == 1
    # finishing the overdue node clears the flag
    p.submit_requirements(node.id, customer, FORM, {"site_name": "x"}, cst(2019, 10, 21, 11), S)
    assert p.overdue_side is None


def test_a_provider_side_timeout_flags_the_provider() -> None:
    p = to_confirm(cst(2019, 10, 17, 9))
    node = p.current
    assert node is not None and node.deadline == cst(2019, 10, 18, 9)
    outcome = p.on_timeout(node.id, cst(2019, 10, 18, 9), S)
    assert outcome.side == "provider" and p.overdue_side == "provider"


def test_advance_on_timeout_completes_the_project() -> None:
    p = to_confirm(cst(2019, 10, 17, 9))
    p.confirm(current_id(p), lisi, cst(2019, 10, 17, 9), S)
    design = p.current
    assert design is not None
    p.upload(design.id, lisi, file_id="fil_1", name="a.png", size=1, now=cst(2019, 10, 17, 9))
    p.confirm(design.id, lisi, cst(2019, 10, 17, 9), S)
    final = p.current
    assert final is not None and final.deadline == cst(2019, 10, 22, 9)  # Thu + 3 working days
    outcome = p.on_timeout(final.id, cst(2019, 10, 22, 9), S)
    assert outcome.fired and outcome.advanced and outcome.completed
    assert p.status == "completed" and final.outcome == "advanced_on_timeout"
    assert of(p, events.ProjectCompleted)[0].auto is True
    assert p.on_timeout(final.id, cst(2019, 10, 22, 10), S).fired is False


# ---------------------------------------------------------------- pause and resume
def test_pause_across_national_day_pushes_the_deadline_back() -> None:
    p = to_confirm(cst(2019, 9, 27, 10))  # confirm: 1 working day -> the make-up Sunday 10:00
    node = p.current
    assert node is not None and node.deadline == cst(2019, 9, 29, 10)
    p.pause(admin, "客户出差", cst(2019, 9, 29, 8))  # 2 working hours left
    assert p.status == "paused"
    assert p.overdue_nodes(cst(2019, 10, 9)) == []
    assert p.on_timeout(node.id, cst(2019, 10, 9), S).fired is False
    with pytest.raises(Conflict) as err:
        p.confirm(node.id, lisi, cst(2019, 10, 1), S)
    assert err.value.code == "project_paused"
    with pytest.raises(Conflict):
        p.pause(admin, "again", cst(2019, 10, 1))
    p.resume(admin, cst(2019, 10, 3, 12), S)  # resumed in the holiday: the 2 h run from Oct 8 00:00
    assert node.deadline == cst(2019, 10, 8, 2)
    assert str(p.status) == "running" and p.paused_at is None  # str(): mypy narrowed status to "paused"
    assert [e.kind for e in p.log][-2:] == ["paused", "resumed"]
    assert p.log[-2].remark == "客户出差"
    with pytest.raises(Conflict) as err:
        p.resume(admin, cst(2019, 10, 8), S)
    assert err.value.code == "project_not_paused"


def test_pause_needs_a_remark() -> None:
    p = to_confirm()
    with pytest.raises(ValidationFailed) as err:
        p.pause(admin, "  ", cst(2019, 10, 17, 10))
    assert err.value.field == "remark"


def test_an_overdue_deadline_is_not_erased_by_a_pause() -> None:
    p = to_confirm(cst(2019, 10, 17, 9))
    node = p.current
    assert node is not None
    p.pause(admin, "wait", cst(2019, 10, 18, 10))  # an hour after the deadline
    p.resume(admin, cst(2019, 10, 25, 10), S)
    assert node.deadline == cst(2019, 10, 18, 9)
    assert p.overdue_nodes(cst(2019, 10, 25, 10)) == [node]


# ---------------------------------------------------------------- cancel and changes
def test_cancel_closes_the_current_node_and_releases_holders() -> None:
    p = to_confirm()
    node = p.current
    p.cancel(vendor_admin, "客户退款", cst(2019, 10, 18))
    assert p.status == "cancelled" and node is not None and node.outcome == "cancelled"
    assert of(p, events.ProjectCancelled)[0].released_user_ids == ("usr_lisi",)
    for action in (lambda: p.cancel(vendor_admin, "x", cst(2019, 10, 19)),
                   lambda: p.add_message(customer, "hello", cst(2019, 10, 19)),
                   lambda: p.change_provider(vendor_admin, OTHER_PROVIDER, "", cst(2019, 10, 19), S)):
        with pytest.raises(Conflict) as err:
            action()
        assert err.value.code == "project_finished"


def test_change_provider_restarts_and_marks_earlier_log_entries() -> None:
    p = to_confirm(cst(2019, 10, 17, 1, 41, 38))
    before = len(p.log)
    old_node = p.current
    p.change_provider(vendor_admin, OTHER_PROVIDER, "河北服务商产能不足", cst(2019, 10, 17, 1, 43, 43), S)
    assert old_node is not None and old_node.outcome == "superseded"
    assert p.provider_org_id == OTHER_PROVIDER and p.epoch == 1 and p.role_operators == {}
    assert all(p.is_before_change(e) for e in p.log[:before + 1])  # including the superseded node's finish
    after = [e for e in p.log if not p.is_before_change(e)]
    assert [(e.kind, e.subject) for e in after] == [
        ("provider_changed", "project"), ("project_started", "project"),
        ("node_entered", "分配服务商节点"), ("node_finished", "分配服务商节点"), ("node_entered", "分配订单")]
    assert after[0].remark is not None and "org_beijing" in after[0].remark
    changed = of(p, events.ProviderChanged)[0]
    assert (changed.old_provider_org_id, changed.new_provider_org_id, changed.released_user_ids) == (
        PROVIDER, OTHER_PROVIDER, ("usr_lisi",))
    req = p.pending_assignment
    assert req is not None and req.kind == "employee" and req.provider_org_id == OTHER_PROVIDER
    with pytest.raises(Conflict) as err:
        p.change_provider(vendor_admin, OTHER_PROVIDER, "", cst(2019, 10, 17, 2), S)
    assert err.value.code == "same_provider"


def test_change_provider_while_paused_waits_for_the_resume_to_dispatch() -> None:
    p = to_confirm(cst(2019, 10, 17, 9))
    p.pause(admin, "hold", cst(2019, 10, 17, 10))
    p.change_provider(vendor_admin, OTHER_PROVIDER, "", cst(2019, 10, 17, 11), S)
    assert p.status == "paused" and p.pending_assignment is None
    requested = len(of(p, events.AssignmentRequested))
    p.resume(admin, cst(2019, 10, 18, 9), S)
    assert len(of(p, events.AssignmentRequested)) == requested + 1
    assert p.pending_assignment is not None


def test_change_operator_moves_the_role_and_the_current_node() -> None:
    p = to_confirm()
    node = p.current
    assert node is not None
    p.change_operator(admin, "usr_wangwu", "李四休假", cst(2019, 10, 17, 14, 39, 3))
    assert node.operator_id == "usr_wangwu" and p.role_operators == {"designer": "usr_wangwu"}
    changed = of(p, events.OperatorChanged)[0]
    assert (changed.old_user_id, changed.new_user_id, changed.released_user_id, changed.holding_acquired) == (
        "usr_lisi", "usr_wangwu", "usr_lisi", True)
    assert not p.can_act(lisi, node) and p.can_act(wangwu, node)
    assert p.log[-1].kind == "operator_changed" and p.log[-1].actor_role == "provider_admin"
    with pytest.raises(Conflict) as err:
        p.change_operator(admin, "usr_wangwu", "", cst(2019, 10, 17, 15))
    assert err.value.code == "same_operator"


def test_change_operator_on_a_customer_node_uses_the_only_held_role() -> None:
    p = to_submit()
    p.change_operator(admin, "usr_wangwu", "", cst(2019, 10, 17, 10))
    assert p.role_operators == {"designer": "usr_wangwu"}
    p.submit_requirements(current_id(p), customer, FORM, {"site_name": "x"}, cst(2019, 10, 17, 11), S)
    assert p.current is not None and p.current.operator_id == "usr_wangwu"


# ---------------------------------------------------------------- posts and evaluation
def test_messages_and_notes() -> None:
    p = to_confirm()
    msg = p.add_message(customer, "设计过程沟通良好", cst(2019, 10, 23, 10, 23, 33))
    assert p.messages == [msg] and msg.author_name == "客户甲乙丙"
    note = p.add_note(lisi, "客户需求变更多次，影响设计进度", cst(2019, 10, 23, 10, 27, 15))
    assert p.notes == [note]
    with pytest.raises(Forbidden) as ferr:
        p.add_note(customer, "我也想写备注", cst(2019, 10, 23, 11))
    assert ferr.value.code == "notes_provider_only"
    p.add_message(lisi, "x" * 500, cst(2019, 10, 23, 11))
    with pytest.raises(ValidationFailed) as verr:
        p.add_message(lisi, "x" * 501, cst(2019, 10, 23, 11))
    assert verr.value.field == "text" and verr.value.code == "text_too_long"
    with pytest.raises(ValidationFailed):
        p.add_note(lisi, "   ", cst(2019, 10, 23, 11))
    p.pause(admin, "hold", cst(2019, 10, 23, 12))
    p.add_note(admin, "paused projects still take notes", cst(2019, 10, 23, 13))
    assert len(p.notes) == 2


def test_evaluation_after_completion() -> None:
    p = to_confirm()
    with pytest.raises(Conflict) as err:
        p.evaluate(customer, 5, "", cst(2019, 10, 18))
    assert err.value.code == "project_not_completed"
    p.confirm(current_id(p), lisi, cst(2019, 10, 17, 10), S)
    p.upload(current_id(p), lisi, file_id="f", name="n", size=1, now=cst(2019, 10, 17, 10))
    p.confirm(current_id(p), lisi, cst(2019, 10, 17, 10), S)
    p.confirm(current_id(p), customer, cst(2019, 10, 17, 11), S)
    for bad in (0, 6, True):
        with pytest.raises(ValidationFailed) as verr:
            p.evaluate(customer, bad, "", cst(2019, 10, 18))
        assert verr.value.field == "rating"
    with pytest.raises(ValidationFailed) as verr:
        p.evaluate(customer, 5, "好" * 501, cst(2019, 10, 18))
    assert verr.value.field == "comment"
    with pytest.raises(Forbidden):
        p.evaluate(lisi, 5, "", cst(2019, 10, 18))
    ev = p.evaluate(customer, 5, "好" * 500, cst(2019, 10, 18))
    assert ev.rating == 5 and p.evaluation == ev
    with pytest.raises(Conflict) as err:
        p.evaluate(customer, 4, "", cst(2019, 10, 19))
    assert err.value.code == "already_evaluated"
    with pytest.raises(Conflict):
        p.add_message(customer, "after the end", cst(2019, 10, 19))


def test_uploads_only_where_the_node_takes_them() -> None:
    p = to_confirm()
    with pytest.raises(Conflict) as err:
        p.upload(current_id(p), lisi, file_id="f", name="x", size=1, now=cst(2019, 10, 17, 10))
    assert err.value.code == "upload_not_allowed"


def test_a_file_field_must_point_at_a_file_of_this_node() -> None:
    p = to_submit()
    with pytest.raises(ValidationFailed) as err:
        p.submit_requirements(current_id(p), customer, FORM, {"site_name": "x", "sketch": "fil_elsewhere"},
                              cst(2019, 10, 17, 10), S)
    assert err.value.field == "values.sketch"


def test_rejecting_a_node_that_is_not_rejectable() -> None:
    p = to_submit()
    with pytest.raises(Conflict) as err:
        p.reject(current_id(p), customer, "no", cst(2019, 10, 17, 10), S)
    assert err.value.code == "not_rejectable"


def test_acting_on_an_old_node_instance() -> None:
    p = to_confirm()
    first = p.nodes[2]
    with pytest.raises(Conflict) as err:
        p.submit_requirements(first.id, customer, FORM, {"site_name": "x"}, cst(2019, 10, 17, 10), S)
    assert err.value.code == "node_not_current"


# ---------------------------------------------------------------- invariants under random commands
def test_random_command_sequences_keep_the_invariants() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    commands = st.lists(st.sampled_from(
        ["provider", "employee", "submit", "confirm", "reject", "upload", "pause", "resume", "timeout",
         "change_provider", "change_operator", "cancel", "note"]), max_size=40)

    @settings(max_examples=150, deadline=None)
    @given(commands)
    def run(cmds: list[str]) -> None:
        now = cst(2019, 9, 27, 10)
        p = start(now=now)
        providers = iter(f"org_p{i}" for i in range(100))
        for i, cmd in enumerate(cmds):
            now += timedelta(hours=7)
            cur = p.current
            cid = cur.id if cur else "none"
            op = Actor(cur.operator_id, p.provider_org_id, frozenset({"designer"})) if cur and cur.operator_id \
                else customer
            try:
                if cmd == "provider":
                    p.assign_provider(next(providers), now, S)
                elif cmd == "employee":
                    p.assign_employee(f"usr_{i % 3}", now, S)
                elif cmd == "submit":
                    p.submit_requirements(cid, customer, FORM, {"site_name": "x"}, now, S)
                elif cmd == "confirm":
                    p.confirm(cid, op, now, S)
                elif cmd == "reject":
                    p.reject(cid, op, "no", now, S)
                elif cmd == "upload":
                    p.upload(cid, op, file_id=f"f{i}", name="n", size=1, now=now)
                elif cmd == "pause":
                    p.pause(admin, "r", now)
                elif cmd == "resume":
                    p.resume(admin, now, S)
                elif cmd == "timeout":
                    now += timedelta(days=30)
                    for n in p.overdue_nodes(now):
                        p.on_timeout(n.id, now, S)
                elif cmd == "change_provider":
                    p.change_provider(vendor_admin, next(providers), "", now, S)
                elif cmd == "change_operator":
                    p.change_operator(admin, f"usr_{i % 4}", "", now)
                elif cmd == "cancel":
                    p.cancel(vendor_admin, "r", now)
                elif cmd == "note":
                    p.add_note(admin, "n", now)
            except DomainError:
                pass
            open_nodes = [n for n in p.nodes if n.is_open]
            if p.is_finished:
                assert open_nodes == [] and p.overdue_side is None and p.pending_assignment is None
            else:
                assert len(open_nodes) == 1
            assert (p.paused_at is not None) == (p.status == "paused")
            assert all(a.epoch <= b.epoch and a.at <= b.at for a, b in zip(p.log, p.log[1:], strict=False))
            assert all(n.finished_at is None or n.finished_at >= n.entered_at for n in p.nodes)
            assert all(n.deadline is None or n.deadline >= n.entered_at for n in p.nodes)
            if p.overdue_side is not None:
                assert open_nodes and open_nodes[0].overdue

    run()
