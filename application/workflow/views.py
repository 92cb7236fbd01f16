"""Read models of a project as the API shows it, cut to what the viewer may see.

Notes are never part of these views: they have their own query, which refuses the
customer side. Dispatch's explanations of an assignment are shown to the provider
side only.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from application.workflow.engine import CUSTOMER
from application.workflow.ports import ProjectRow
from domain.workflow.project import LogEntry, NodeInstance, Post, Project, ProjectFile

_STATE_BY_OUTCOME = {"done": "done", "advanced_on_timeout": "done", "rejected": "rejected",
                     "cancelled": "cancelled", "superseded": "superseded"}


@dataclasses.dataclass(frozen=True)
class OperatorInfo:
    role: str
    user_id: str
    name: str | None
    phone: str | None


def _org(org_id: str | None, name: str | None) -> dict[str, Any] | None:
    return None if org_id is None else {"id": org_id, "name": name}


def instance_view(inst: NodeInstance, viewer: str) -> dict[str, Any]:
    return {
        "id": inst.id, "epoch": inst.epoch, "entered_at": inst.entered_at, "finished_at": inst.finished_at,
        "deadline": inst.deadline, "side": inst.side, "role": inst.role, "operator_id": inst.operator_id,
        "finished_by": inst.finished_by, "outcome": inst.outcome, "remark": inst.remark, "overdue": inst.overdue,
        "timed_out_at": inst.timeout_fired_at, "waiting_reason": inst.waiting_reason,
        "waiting_since": inst.waiting_since, "requirements": inst.requirements,
        "decision": inst.decision if viewer != CUSTOMER else None,
    }


def project_view(project: Project, row: ProjectRow, viewer: str, operators: list[OperatorInfo]) -> dict[str, Any]:
    by_step: dict[int, list[NodeInstance]] = {}
    for inst in project.nodes:
        if inst.epoch == project.epoch:
            by_step.setdefault(inst.step, []).append(inst)
    nodes = []
    for step in project.flow:
        node = step.node
        insts = by_step.get(step.index, [])
        if not insts:
            state = "pending"
        elif insts[-1].is_open:
            state = "waiting" if insts[-1].waiting_reason else "current"
        else:
            state = _STATE_BY_OUTCOME.get(insts[-1].outcome or "", "done")
        nodes.append({
            "step": step.index, "path": step.path, "name": node.name, "type": node.type,
            "side": node.acting_side, "role": node.role,
            "containers": [project.flow.container_names[c] for c in step.containers],
            "labels": dict(node.labels), "upload": node.upload, "rejectable": node.rejectable,
            "form_template_id": node.form_template_id,
            "timeout_days": None if node.timeout_days is None else str(node.timeout_days),
            "advance_on_timeout": node.advance_on_timeout, "state": state,
            "instances": [instance_view(i, viewer) for i in insts],
        })
    cur = project.current
    current = None
    if cur is not None:
        current = {"id": cur.id, "name": cur.name, "type": cur.type, "side": cur.side, "role": cur.role,
                   "operator_id": cur.operator_id, "operator_name": row.current_operator_name,
                   "entered_at": cur.entered_at, "deadline": cur.deadline, "overdue": cur.overdue,
                   "waiting_reason": cur.waiting_reason}
    ev = project.evaluation
    return {
        "id": project.id, "order_no": project.order_no, "business_no": project.business_no,
        "status": project.status, "overdue": project.overdue_side is not None, "overdue_side": project.overdue_side,
        "viewer": viewer,
        "product": {"id": row.product_id, "code": row.product_code, "name": row.product_name},
        "vendor": _org(project.vendor_org_id, row.vendor_name),
        "customer": _org(project.customer_org_id, row.customer_name),
        "provider": _org(project.provider_org_id, row.provider_name),
        "template": {"id": project.template_id, "version": project.template_version},
        "current_node": current,
        "nodes": nodes,
        "operators": [dataclasses.asdict(o) for o in operators],
        "business": {"product_name": row.product_name, "spec": row.spec, "order_no": project.order_no,
                     "business_no": project.business_no, "customer_name": row.customer_name,
                     "valid_until": row.valid_until},
        "evaluation": None if ev is None else {"rating": ev.rating, "comment": ev.comment, "at": ev.at},
        "claimed_by": project.claimed_by if viewer != CUSTOMER else None,
        "created_at": project.created_at, "paused_at": project.paused_at,
        "completed_at": project.completed_at, "cancelled_at": project.cancelled_at,
    }


def log_view(project: Project) -> list[dict[str, Any]]:
    return [log_entry_view(project, e) for e in project.log]


def log_entry_view(project: Project, e: LogEntry) -> dict[str, Any]:
    return {"at": e.at, "kind": e.kind, "subject": e.subject, "node_instance_id": e.node_instance_id,
            "actor_id": e.actor_id, "actor_name": e.actor_name, "actor_role": e.actor_role, "remark": e.remark,
            "epoch": e.epoch, "before_provider_change": project.is_before_change(e)}


def post_view(post: Post) -> dict[str, Any]:
    return {"id": post.id, "author_id": post.author_id, "author_name": post.author_name,
            "author_role": post.author_role, "text": post.text, "at": post.at}


def file_view(project: Project, f: ProjectFile) -> dict[str, Any]:
    node_name = next((n.name for n in project.nodes if n.id == f.node_instance_id), None)
    return {"id": f.id, "name": f.name, "size": f.size, "uploader_id": f.uploader_id,
            "node_instance_id": f.node_instance_id, "node_name": node_name, "uploaded_at": f.uploaded_at}


def row_view(row: ProjectRow) -> dict[str, Any]:
    out = dataclasses.asdict(row)
    out["overdue"] = bool(row.overdue)
    return out
