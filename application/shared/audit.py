"""Operation log port: who did what, for whom, when (spec identity.md)."""
from __future__ import annotations

import abc
import dataclasses
from datetime import datetime

from application.shared.access import Caller
from application.shared.uow import UnitOfWork
from domain.shared.ids import new_id


@dataclasses.dataclass
class AuditRecord:
    id: str
    org_id: str | None
    actor_id: str | None
    acting_for_org_id: str | None
    operation: str
    target: str
    summary: str
    at: datetime
    request_id: str | None = None


@dataclasses.dataclass(frozen=True)
class AuditFilter:
    org_id: str | None = None
    operation: str | None = None
    actor_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class AuditLog(abc.ABC):
    @abc.abstractmethod
    def add(self, record: AuditRecord) -> None: ...

    @abc.abstractmethod
    def search(self, flt: AuditFilter, offset: int, limit: int) -> tuple[list[AuditRecord], int]: ...



def record(uow: UnitOfWork, caller: Caller | None, operation: str, target: str, summary: str,
           at: datetime, *, org_id: str | None = None) -> None:
    """Append one operation-log row in the caller's transaction."""
    uow.repo(AuditLog).add(AuditRecord(
        id=new_id("aud"),
        org_id=org_id or (caller.org_id if caller else None),
        actor_id=(caller.user_id or caller.api_key_id) if caller else None,
        acting_for_org_id=caller.acting_for_org_id if caller else None,
        operation=operation, target=target, summary=summary[:500], at=at,
        request_id=caller.request_id if caller else None))
