"""Outbox handler: a node's reminders (enter, reject, transition, timeout) to people.

A ``RemindersTriggered`` event carries the node's reminder rows (receiver, message
template). Receivers resolve to users: the customer's admins (or all its users),
the node's operator (or, with no one assigned, the provider's users of the node's
role, or the customer for a customer node), the provider's admins, the vendor's
admins. Each gets the platform message template by SMS, e-mail and in-site message
through ``UserNotifier``; the in-site copy is de-duplicated by the outbox message id.
"""
from __future__ import annotations

import logging
from typing import Any

from injector import inject

from application.notifications.services import UserNotifier
from application.shared.uow import UnitOfWork
from application.workflow.ports import MessageTemplateRepository, ProjectQueries, ProjectRow
from domain.identity.ports import UserRepository

log = logging.getLogger("agora.workflow")
MAX_RECEIVERS = 50
TRIGGER_TEXT = {"enter": "entered", "reject": "was rejected", "transition": "moved on", "timeout": "is overdue"}


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


class ReminderSender:
    @inject
    def __init__(self, notifier: UserNotifier) -> None:
        self.notifier = notifier

    def _users(self, uow: UnitOfWork, org_id: str | None, role: str | None) -> list[str]:
        if org_id is None:
            return []
        users, _ = uow.repo(UserRepository).list(org_id, status="active", role=role, department_id=None, q=None,
                                                 offset=0, limit=MAX_RECEIVERS)
        return [u.id for u in users]

    def _receivers(self, uow: UnitOfWork, row: ProjectRow, receiver: str, payload: dict[str, Any],
                   node: dict[str, Any]) -> list[str]:
        if receiver == "customer":
            return self._users(uow, row.customer_org_id, "customer_admin") or \
                self._users(uow, row.customer_org_id, None)
        if receiver == "provider_admin":
            return self._users(uow, row.provider_org_id, "provider_admin")
        if receiver == "vendor_admin":
            return self._users(uow, row.vendor_org_id, "vendor_admin")
        if receiver == "operator":
            if payload.get("operator_id"):
                return [payload["operator_id"]]
            if node.get("side") == "customer":
                return self._receivers(uow, row, "customer", payload, node)
            if node.get("side") == "provider" and node.get("role"):
                return self._users(uow, row.provider_org_id, node["role"])
        return []

    def handle(self, payload: dict[str, Any], message_id: str, *, uow: UnitOfWork) -> None:
        row = uow.repo(ProjectQueries).row(payload["project_id"])
        if row is None:
            log.warning("reminder %s for a project that is gone", message_id)
            return
        node = uow.repo(ProjectQueries).node_info(payload["node_instance_id"]) or {}
        templates = uow.repo(MessageTemplateRepository)
        values = {"project": row.id, "order_no": row.order_no, "node": payload.get("node_name", ""),
                  "product": row.product_name, "customer": row.customer_name or "", "trigger": payload["trigger"]}
        for j, rem in enumerate(payload.get("reminders", [])):
            name = rem.get("message_template", "")
            template = templates.by_name(name)
            if template is not None:
                title, body = _fill(template.title, values), _fill(template.body, values)
            else:
                title = name or "Agora reminder"
                body = (f"Order {row.order_no}: node {values['node']} "
                        f"{TRIGGER_TEXT.get(payload['trigger'], payload['trigger'])}.")
            for user_id in dict.fromkeys(self._receivers(uow, row, rem.get("receiver", ""), payload, node)):
                self.notifier.notify_user(uow, user_id, title[:200], body, f"{message_id}:{j}", sms_template=name,
                                          sms_params={"order_no": row.order_no, "node": values["node"]})
