"""Notification ports: SMS, e-mail and in-site messages.

Senders are called only from outbox handlers (background jobs), never inside the
request that caused the notification.
"""
from __future__ import annotations

import abc
import dataclasses
from datetime import datetime


class NotificationError(Exception):
    """A provider refused or could not be reached; the outbox retries."""


@dataclasses.dataclass(frozen=True)
class SmsMessage:
    phone: str
    template: str  # platform message template name, e.g. "login_code"
    params: dict[str, str]
    text: str  # rendered text, used by the console adapter and logs


class SmsSender(abc.ABC):
    @abc.abstractmethod
    def send(self, message: SmsMessage) -> str:
        """Send one SMS; returns the provider's message id. Raises NotificationError."""


@dataclasses.dataclass(frozen=True)
class EmailMessage:
    to: str
    subject: str
    body: str


class EmailSender(abc.ABC):
    @abc.abstractmethod
    def send(self, message: EmailMessage) -> None:
        """Send one e-mail. Raises NotificationError."""


@dataclasses.dataclass
class InboxMessage:
    id: str
    user_id: str
    title: str
    body: str
    created_at: datetime
    source_id: str | None = None  # outbox message id, de-duplicates redelivery
    read_at: datetime | None = None


class InboxRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, message: InboxMessage) -> bool:
        """Store unless a message with the same ``source_id`` exists; True if stored."""

    @abc.abstractmethod
    def list_for(self, user_id: str, *, unread_only: bool, offset: int, limit: int
                 ) -> tuple[list[InboxMessage], int]: ...

    @abc.abstractmethod
    def mark_read(self, user_id: str, message_id: str, at: datetime) -> bool: ...
