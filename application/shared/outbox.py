"""Outbox: integration events written in the producing transaction, delivered later.

Each (event, subscribed handler) pair becomes one outbox row, so a failing handler
is retried on its own with exponential backoff and never re-runs the others. A
handler's own database effects commit in the same transaction that marks its row
done; external effects (an SMS) are at-least-once, and handlers get the message id
to de-duplicate.
"""
from __future__ import annotations

import abc
import dataclasses
import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, Protocol

from injector import Injector, inject

from application.shared.clock import Clock
from application.shared.uow import UnitOfWorkFactory

log = logging.getLogger("agora.outbox")

MAX_ATTEMPTS = 10
BASE_BACKOFF_SECONDS = 5
MAX_BACKOFF_SECONDS = 3600


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s ... capped at an hour."""
    return timedelta(seconds=min(BASE_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS))


class EventHandler(Protocol):
    """``handler(payload, message_id, uow=uow)``: DB effects go through ``uow``."""

    def __call__(self, payload: dict[str, Any], message_id: str, *, uow: Any) -> None: ...


@dataclasses.dataclass(frozen=True)
class Subscription:
    handler_name: str
    handler_class: type
    method: str


class HandlerRegistry:
    """Which handlers react to which event name. Modules subscribe at container build."""

    def __init__(self) -> None:
        self._by_event: dict[str, list[Subscription]] = defaultdict(list)
        self._by_name: dict[str, Subscription] = {}
        self._redact: dict[str, frozenset[str]] = {}

    def subscribe(self, event_name: str, handler_name: str, handler_class: type,
                  method: str = "handle") -> None:
        sub = Subscription(handler_name, handler_class, method)
        if handler_name in self._by_name and self._by_name[handler_name] != sub:
            raise ValueError(f"handler name {handler_name!r} already used")
        if sub not in self._by_event[event_name]:
            self._by_event[event_name].append(sub)
        self._by_name[handler_name] = sub

    def redact_after_delivery(self, event_name: str, fields: list[str]) -> None:
        """Secrets (an SMS code) are blanked in the outbox row once delivered."""
        self._redact[event_name] = frozenset(fields)

    def redacted(self, event_name: str, payload: dict[str, Any]) -> dict[str, Any]:
        fields = self._redact.get(event_name)
        if not fields:
            return payload
        return {k: ("***" if k in fields else v) for k, v in payload.items()}

    def handlers_for(self, event_name: str) -> list[str]:
        return [s.handler_name for s in self._by_event.get(event_name, [])]

    def resolve(self, handler_name: str, injector: Injector) -> EventHandler:
        sub = self._by_name[handler_name]
        return getattr(injector.get(sub.handler_class), sub.method)  # type: ignore[no-any-return]


@dataclasses.dataclass
class OutboxMessage:
    id: str
    event_name: str
    handler: str
    payload: dict[str, Any]
    attempts: int
    status: str  # pending | done | dead
    next_attempt_at: datetime
    created_at: datetime
    last_error: str | None = None


class OutboxRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, message: OutboxMessage) -> None: ...

    @abc.abstractmethod
    def claim_due(self, now: datetime, limit: int) -> list[OutboxMessage]:
        """Due pending messages, locked against other relays (SKIP LOCKED)."""

    @abc.abstractmethod
    def lock(self, message_id: str) -> OutboxMessage | None:
        """Re-read one pending message under a row lock, skipping it if taken."""

    @abc.abstractmethod
    def save(self, message: OutboxMessage) -> None: ...

    @abc.abstractmethod
    def counts(self) -> dict[str, int]: ...


class OutboxMetrics(Protocol):
    def delivered(self, handler: str, ok: bool) -> None: ...


class NullMetrics:
    def delivered(self, handler: str, ok: bool) -> None:
        pass


class OutboxRelay:
    """Delivers due outbox messages, one transaction per message."""

    @inject
    def __init__(self, uow_factory: UnitOfWorkFactory, registry: HandlerRegistry,
                 injector: Injector, clock: Clock) -> None:
        self.uow_factory = uow_factory
        self.registry = registry
        self.injector = injector
        self.clock = clock
        self.metrics: OutboxMetrics = NullMetrics()

    def deliver_due(self, limit: int = 100) -> int:
        with self.uow_factory() as uow:
            ids = [m.id for m in uow.repo(OutboxRepository).claim_due(self.clock.now(), limit)]
            uow.commit()
        delivered = 0
        for message_id in ids:
            delivered += self._deliver_one(message_id)
        return delivered

    def _deliver_one(self, message_id: str) -> int:
        error: str | None = None
        with self.uow_factory() as uow:
            message = uow.repo(OutboxRepository).lock(message_id)
            if message is None or message.status != "pending" or message.next_attempt_at > self.clock.now():
                return 0
            try:
                handler = self.registry.resolve(message.handler, self.injector)
                handler(message.payload, message.id, uow=uow)
                message.status = "done"
                message.attempts += 1
                message.payload = self.registry.redacted(message.event_name, message.payload)
                uow.repo(OutboxRepository).save(message)
                uow.commit()
                self.metrics.delivered(message.handler, True)
                return 1
            except Exception as exc:
                log.exception("outbox handler %s failed for %s", message.handler, message.id)
                error = f"{type(exc).__name__}: {exc}"[:500]
        # the handler's transaction is gone; record the failure in a fresh one
        with self.uow_factory() as uow:
            repo = uow.repo(OutboxRepository)
            message = repo.lock(message_id)
            if message is None:
                return 0
            message.attempts += 1
            message.last_error = error
            if message.attempts >= MAX_ATTEMPTS:
                message.status = "dead"
                message.payload = self.registry.redacted(message.event_name, message.payload)
            else:
                message.next_attempt_at = self.clock.now() + backoff(message.attempts)
            repo.save(message)
            uow.commit()
        self.metrics.delivered(message.handler, False)
        return 0
