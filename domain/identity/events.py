"""Identity events."""
from __future__ import annotations

import dataclasses

from domain.shared.events import DomainEvent


@dataclasses.dataclass(frozen=True, kw_only=True)
class OrganizationCreated(DomainEvent):
    org_id: str
    name: str
    kinds: tuple[str, ...]


@dataclasses.dataclass(frozen=True, kw_only=True)
class UserCreated(DomainEvent):
    user_id: str
    org_id: str
    login: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class UserStatusChanged(DomainEvent):
    user_id: str
    org_id: str
    status: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class SmsCodeRequested(DomainEvent):
    """Delivered by the outbox: the notification handler sends the SMS."""

    challenge_id: str
    phone: str
    purpose: str
    code: str
