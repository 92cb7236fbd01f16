"""The operation log as an export kind (``audit_log``)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from application.exports import ExportSource, filter_moment, filter_text
from application.shared.access import Caller
from application.shared.audit import AuditFilter, AuditLog
from application.shared.uow import UnitOfWork
from domain.shared.errors import ValidationFailed

PAGE = 1000


def _filters(filters: dict[str, Any], org_id: str = "") -> AuditFilter:
    return AuditFilter(org_id=org_id, operation=filter_text(filters, "operation", 100),
                       actor_id=filter_text(filters, "actor_id", 40),
                       since=filter_moment(filters, "from"), until=filter_moment(filters, "to"))


class AuditLogExport(ExportSource):
    """Filters: ``operation``, ``actor_id``, ``from``, ``to`` (as the audit-log list)."""

    def check_filters(self, filters: dict[str, Any]) -> None:
        unknown = set(filters) - {"operation", "actor_id", "from", "to"}
        if unknown:
            raise ValidationFailed(f"filters.{sorted(unknown)[0]}", "unknown filter", code="invalid_filter")
        _filters(filters)

    def authorize(self, caller: Caller, org_id: str, filters: dict[str, Any]) -> None:
        if not caller.is_platform_admin:
            caller.require("identity.audit.view", org_id=org_id)

    def rows(self, uow: UnitOfWork, org_id: str, filters: dict[str, Any]
             ) -> tuple[list[str], Iterable[list[Any]]]:
        flt = _filters(filters, org_id)
        header = ["at", "operation", "actor_id", "acting_for_org_id", "target", "summary", "request_id"]

        def generate() -> Iterator[list[Any]]:
            offset = 0
            while True:
                items, _ = uow.repo(AuditLog).search(flt, offset, PAGE)
                for r in items:
                    yield [r.at, r.operation, r.actor_id, r.acting_for_org_id, r.target, r.summary, r.request_id]
                if len(items) < PAGE:
                    return
                offset += PAGE

        return header, generate()
