"""The operation log as an export kind (``audit_log``)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from application.exports import ExportSource
from application.shared.access import Caller
from application.shared.audit import AuditFilter, AuditLog
from application.shared.uow import UnitOfWork
from domain.shared.errors import ValidationFailed

PAGE = 1000


def _moment(filters: dict[str, Any], key: str) -> datetime | None:
    raw = filters.get(key)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(str(raw))
    except ValueError:
        raise ValidationFailed(f"filters.{key}", "must be an ISO 8601 timestamp with offset",
                               code="invalid_filter") from None
    if value.tzinfo is None:
        raise ValidationFailed(f"filters.{key}", "needs a UTC offset", code="invalid_filter")
    return value


class AuditLogExport(ExportSource):
    """Filters: ``operation``, ``actor_id``, ``from``, ``to`` (as the audit-log list)."""

    def authorize(self, caller: Caller, org_id: str, filters: dict[str, Any]) -> None:
        unknown = set(filters) - {"operation", "actor_id", "from", "to"}
        if unknown:
            raise ValidationFailed(f"filters.{sorted(unknown)[0]}", "unknown filter", code="invalid_filter")
        _moment(filters, "from")
        _moment(filters, "to")
        if not caller.is_platform_admin:
            caller.require("identity.audit.view", org_id=org_id)

    def rows(self, uow: UnitOfWork, org_id: str, filters: dict[str, Any]
             ) -> tuple[list[str], Iterable[list[Any]]]:
        flt = AuditFilter(org_id=org_id, operation=filters.get("operation"), actor_id=filters.get("actor_id"),
                          since=_moment(filters, "from"), until=_moment(filters, "to"))
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
