"""Ports of the workflow module: repositories, read queries and file storage.

The project aggregate (``domain.workflow.project.Project``) is stored by
``ProjectRepository``; lists, "my projects", the dashboard and the timeout job's
due-timer scan are read-side queries (``ProjectQueries``) that never load whole
aggregates.
"""
from __future__ import annotations

import abc
import builtins
import dataclasses
from datetime import date, datetime
from typing import BinaryIO

from domain.workflow.calendar import WorkCalendar
from domain.workflow.forms import FormTemplate
from domain.workflow.project import Project
from domain.workflow.templates import FlowTemplate, TemplateVersion

PLATFORM_CALENDAR = "platform"  # the owner key of the platform's default calendar


# --------------------------------------------------------------------------- records
@dataclasses.dataclass
class ServiceProduct:
    """The minimum a delivery needs of a service product (the trade issue extends it)."""

    id: str
    vendor_org_id: str
    code: str
    name: str
    kind: str  # service
    created_at: datetime
    template_id: str | None = None


@dataclasses.dataclass
class MessageTemplate:
    """Platform-owned reminder text named "<node>-<receiver>"; ``{project}``, ``{order_no}``,
    ``{node}`` and ``{product}`` are filled in."""

    id: str
    name: str
    title: str
    body: str
    created_at: datetime
    remark: str | None = None


@dataclasses.dataclass(frozen=True)
class BusinessInfo:
    """What the order says about the project: shown in its detail, never changed."""

    spec: str | None = None
    valid_until: date | None = None


@dataclasses.dataclass(frozen=True)
class ProjectRow:
    """A project as lists show it (names resolved)."""

    id: str
    order_no: str
    business_no: str | None
    product_id: str
    product_code: str
    product_name: str
    vendor_org_id: str
    vendor_name: str | None
    customer_org_id: str
    customer_name: str | None
    provider_org_id: str | None
    provider_name: str | None
    status: str
    current_node_id: str | None
    current_node_name: str | None
    current_node_type: str | None
    current_side: str | None
    current_role: str | None
    current_operator_id: str | None
    current_operator_name: str | None
    overdue: bool
    overdue_side: str | None
    spec: str | None
    valid_until: date | None
    created_at: datetime
    completed_at: datetime | None
    cancelled_at: datetime | None
    paused_at: datetime | None


@dataclasses.dataclass(frozen=True)
class ProjectScope:
    """Which projects a caller may list: OR of the non-empty parts; ``everything`` for the platform."""

    everything: bool = False
    vendor_org_id: str | None = None
    provider_org_id: str | None = None
    customer_org_id: str | None = None
    participant_user_id: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.everything or self.vendor_org_id or self.provider_org_id or self.customer_org_id
                    or self.participant_user_id)


@dataclasses.dataclass(frozen=True)
class ProjectFilter:
    status: str | None = None  # running | completed | paused | cancelled
    order_no: str | None = None
    provider_org_id: str | None = None
    product_id: str | None = None
    customer_org_id: str | None = None
    stage: str | None = None  # current node name (substring)
    operator_id: str | None = None
    overdue: bool | None = None
    # "my projects"
    pending_for_user: str | None = None
    pending_roles: tuple[str, ...] = ()
    pending_org_id: str | None = None
    processed_by: str | None = None


@dataclasses.dataclass(frozen=True)
class DueTimer:
    node_instance_id: str
    project_id: str
    deadline: datetime


@dataclasses.dataclass(frozen=True)
class DashboardCounts:
    total: int
    delivered: int
    running: int
    overdue: int
    paused: int
    cancelled: int


# --------------------------------------------------------------------------- repositories
class FormTemplateRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, form: FormTemplate, now: datetime) -> None: ...

    @abc.abstractmethod
    def get(self, form_id: str) -> FormTemplate | None: ...

    @abc.abstractmethod
    def ids(self) -> set[str]: ...

    @abc.abstractmethod
    def list(self, offset: int, limit: int) -> tuple[builtins.list[FormTemplate], int]: ...


class MessageTemplateRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, template: MessageTemplate) -> None: ...

    @abc.abstractmethod
    def save(self, template: MessageTemplate) -> None: ...

    @abc.abstractmethod
    def by_name(self, name: str) -> MessageTemplate | None: ...

    @abc.abstractmethod
    def get(self, template_id: str) -> MessageTemplate | None: ...

    @abc.abstractmethod
    def names(self) -> set[str]: ...

    @abc.abstractmethod
    def list(self, name: str | None, offset: int, limit: int) -> tuple[builtins.list[MessageTemplate], int]: ...


class FlowTemplateRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, template: FlowTemplate) -> None: ...

    @abc.abstractmethod
    def get(self, template_id: str, *, for_update: bool = False) -> FlowTemplate | None: ...

    @abc.abstractmethod
    def save(self, template: FlowTemplate) -> None: ...

    @abc.abstractmethod
    def version(self, template_id: str, number: int) -> TemplateVersion | None:
        """One version (published versions never change, so adapters may cache them)."""

    @abc.abstractmethod
    def list(self, *, owner_org_id: str | None, include_public: bool, public_only: bool, status: str | None,
             name: str | None, offset: int, limit: int) -> tuple[builtins.list[FlowTemplate], int]: ...


class ProductRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, product: ServiceProduct) -> None: ...

    @abc.abstractmethod
    def get(self, product_id: str) -> ServiceProduct | None: ...

    @abc.abstractmethod
    def save(self, product: ServiceProduct) -> None: ...

    @abc.abstractmethod
    def code_taken(self, vendor_org_id: str, code: str) -> bool: ...

    @abc.abstractmethod
    def list(self, *, vendor_org_id: str | None, code: str | None, name: str | None, template_id: str | None,
             template_name: str | None, offset: int, limit: int
             ) -> tuple[builtins.list[tuple[ServiceProduct, str | None]], int]:
        """Products with the name of their bound template."""


class CalendarRepository(abc.ABC):
    @abc.abstractmethod
    def get(self, owner: str) -> WorkCalendar: ...

    @abc.abstractmethod
    def replace(self, owner: str, calendar: WorkCalendar) -> None: ...

    @abc.abstractmethod
    def merge(self, owner: str, calendar: WorkCalendar) -> None:
        """Add or overwrite the listed days, keep the others."""


class ProjectRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, project: Project, business: BusinessInfo) -> None: ...

    @abc.abstractmethod
    def get(self, project_id: str, *, for_update: bool = False) -> Project | None: ...

    @abc.abstractmethod
    def id_by_order_no(self, order_no: str) -> str | None: ...

    @abc.abstractmethod
    def save(self, project: Project) -> None:
        """Write the project row, its node instances, and append new log, posts, files."""


class ProjectQueries(abc.ABC):
    @abc.abstractmethod
    def list(self, scope: ProjectScope, flt: ProjectFilter, offset: int, limit: int
             ) -> tuple[builtins.list[ProjectRow], int]: ...

    @abc.abstractmethod
    def row(self, project_id: str) -> ProjectRow | None: ...

    @abc.abstractmethod
    def node_info(self, node_instance_id: str) -> dict[str, str | None] | None:
        """``{"side", "role", "operator_id"}`` of a node instance."""

    @abc.abstractmethod
    def is_participant(self, project_id: str, user_id: str) -> bool: ...

    @abc.abstractmethod
    def file_name(self, project_id: str, file_id: str) -> str | None:
        """The name of a file uploaded to the project, None if there is none."""

    @abc.abstractmethod
    def due_timers(self, now: datetime, limit: int) -> builtins.list[DueTimer]:
        """Armed timers with ``deadline <= now``, oldest first (index range scan)."""

    @abc.abstractmethod
    def completion_cycles(self, scope: ProjectScope, since: datetime, until: datetime) -> builtins.list[float]:
        """Seconds from creation to completion of projects completed in ``[since, until)``."""

    @abc.abstractmethod
    def created_times(self, scope: ProjectScope, since: datetime, until: datetime) -> builtins.list[datetime]: ...

    @abc.abstractmethod
    def status_counts(self, scope: ProjectScope, since: datetime, until: datetime) -> DashboardCounts:
        """Projects created in ``[since, until)`` by their state."""


class FileStorage(abc.ABC):
    """Where uploaded project files live (local disk by default)."""

    @abc.abstractmethod
    def save(self, key: str, stream: BinaryIO, max_bytes: int) -> int:
        """Store the stream under ``key``; returns its size. Raises ``ValueError`` past ``max_bytes``."""

    @abc.abstractmethod
    def open(self, key: str) -> BinaryIO: ...

    @abc.abstractmethod
    def delete(self, key: str) -> None: ...
