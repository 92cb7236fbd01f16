"""The contract between workflow and dispatch (issues 4 and 5).

Dispatch owns capacity: product providers (weight, max load, current load), employee
capacity (max load, accepting, current load), the provider and employee queues, the
holdings that loads are counted from, and the recorded decisions. Workflow owns
projects and their node walk. Workflow calls ``DispatchApi`` inside its own unit of
work when a project reaches an assignment node; dispatch calls ``ProjectAdvancer``
(implemented by workflow, bound in the container) when a queued project gets
capacity later (hourly sweep, "dispatch now", a raised max load). Neither imports
the other's internals.
"""
from __future__ import annotations

import abc
import dataclasses
from typing import Any

from application.shared.uow import UnitOfWork


@dataclasses.dataclass(frozen=True)
class ProviderRequest:
    project_id: str
    order_no: str
    product_id: str
    vendor_org_id: str
    customer_org_id: str


@dataclasses.dataclass(frozen=True)
class EmployeeRequest:
    project_id: str
    order_no: str
    product_id: str
    customer_org_id: str
    provider_org_id: str
    role: str
    rule: str  # provider_first | department_first
    department_id: str | None = None  # the claiming account manager's, for department_first


@dataclasses.dataclass(frozen=True)
class Assignment:
    """``assignee`` is the provider org id or the employee user id; None = queued with ``reason``."""

    assignee: str | None
    reason: str | None
    explanation: dict[str, Any]


class DispatchApi(abc.ABC):
    """Called by workflow inside its unit of work; every change commits with the project."""

    @abc.abstractmethod
    def assign_provider(self, uow: UnitOfWork, request: ProviderRequest) -> Assignment:
        """Pick a provider with spare capacity and take one unit of its load, or queue the project."""

    @abc.abstractmethod
    def assign_employee(self, uow: UnitOfWork, request: EmployeeRequest) -> Assignment:
        """Pick an employee with spare capacity and take one unit of their load, or queue the project."""

    @abc.abstractmethod
    def take_provider(self, uow: UnitOfWork, request: ProviderRequest, provider_org_id: str) -> None:
        """Change provider: the vendor named the new provider; take one unit of its load for
        the product (409 ``provider_full`` / ``provider_not_configured`` otherwise)."""

    @abc.abstractmethod
    def move_employee_load(self, uow: UnitOfWork, project_id: str, from_user_id: str, to_user_id: str) -> None:
        """Change operator: the target must have spare capacity (409 otherwise); both loads move."""

    @abc.abstractmethod
    def release_project(self, uow: UnitOfWork, project_id: str) -> None:
        """Completed, cancelled or provider changed: release every load the project holds and
        drop it from the queues."""


class ProjectAdvancer(abc.ABC):
    """Implemented by workflow: continue a queued project once dispatch has assigned it."""

    @abc.abstractmethod
    def provider_assigned(self, uow: UnitOfWork, project_id: str, provider_org_id: str) -> None: ...

    @abc.abstractmethod
    def employee_assigned(self, uow: UnitOfWork, project_id: str, user_id: str) -> None: ...
