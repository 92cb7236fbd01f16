"""Workflow events: facts about templates and projects, in the past tense.

Load bookkeeping for dispatch rides on these: ``holding_acquired`` / ``released``
fields say exactly which users start or stop holding the project, so a load counter
maintained from them equals the number of unfinished projects each user holds.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from domain.shared.events import DomainEvent


@dataclasses.dataclass(frozen=True, kw_only=True)
class TemplatePublished(DomainEvent):
    template_id: str
    version: int
    owner_org_id: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class TemplateVersionSubmitted(DomainEvent):
    """A new version of a published template waits for the platform's approval."""

    template_id: str
    version: int
    owner_org_id: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProjectStarted(DomainEvent):
    project_id: str
    order_no: str
    product_id: str
    vendor_org_id: str
    customer_org_id: str
    template_id: str
    template_version: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class NodeEntered(DomainEvent):
    project_id: str
    node_instance_id: str
    node_name: str
    node_type: str
    side: str
    role: str | None
    operator_id: str | None
    deadline: str | None  # ISO timestamp


@dataclasses.dataclass(frozen=True, kw_only=True)
class NodeFinished(DomainEvent):
    project_id: str
    node_instance_id: str
    node_name: str
    outcome: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class NodeRejected(DomainEvent):
    project_id: str
    node_instance_id: str
    node_name: str
    reason: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class NodeTimedOut(DomainEvent):
    project_id: str
    node_instance_id: str
    node_name: str
    side: str
    advanced: bool


@dataclasses.dataclass(frozen=True, kw_only=True)
class RemindersTriggered(DomainEvent):
    """Reminder rows of a node whose trigger just happened; the application resolves
    receivers (customer, operator, provider admin, vendor admin) to people."""

    project_id: str
    node_instance_id: str
    node_name: str
    trigger: str  # enter | reject | transition | timeout
    operator_id: str | None
    reminders: tuple[dict[str, Any], ...]  # {receiver, message_template}


@dataclasses.dataclass(frozen=True, kw_only=True)
class AssignmentRequested(DomainEvent):
    """The project waits on an assignment node; the application asks dispatch."""

    project_id: str
    node_instance_id: str
    kind: str  # provider | employee
    role: str | None
    rule: str | None
    department_id: str | None
    provider_org_id: str | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProjectQueued(DomainEvent):
    project_id: str
    node_instance_id: str
    kind: str  # provider | employee
    reason: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProviderAssigned(DomainEvent):
    project_id: str
    provider_org_id: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class EmployeeAssigned(DomainEvent):
    project_id: str
    user_id: str
    role: str
    holding_acquired: bool  # False when the user already held the project for another role


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProjectClaimed(DomainEvent):
    project_id: str
    user_id: str
    role: str
    department_id: str | None
    holding_acquired: bool


@dataclasses.dataclass(frozen=True, kw_only=True)
class OperatorChanged(DomainEvent):
    project_id: str
    role: str
    old_user_id: str | None
    new_user_id: str
    released_user_id: str | None  # the old user no longer holds the project
    holding_acquired: bool
    remark: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProviderChanged(DomainEvent):
    project_id: str
    old_provider_org_id: str | None
    new_provider_org_id: str
    released_user_ids: tuple[str, ...]
    remark: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProjectPaused(DomainEvent):
    project_id: str
    remark: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProjectResumed(DomainEvent):
    project_id: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProjectCompleted(DomainEvent):
    project_id: str
    provider_org_id: str | None
    released_user_ids: tuple[str, ...]
    auto: bool  # completed by advance_on_timeout


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProjectCancelled(DomainEvent):
    project_id: str
    provider_org_id: str | None
    released_user_ids: tuple[str, ...]
    remark: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProjectEvaluated(DomainEvent):
    project_id: str
    rating: int
