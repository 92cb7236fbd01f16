"""Unit of work port: one transaction, its repositories, its events."""
from __future__ import annotations

import abc
import contextlib
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

from domain.shared.events import DomainEvent

T = TypeVar("T")
log = logging.getLogger("agora.uow")

CommitGuard = Callable[["UnitOfWork"], None]
_guards: ContextVar[tuple[CommitGuard, ...]] = ContextVar("agora_commit_guards", default=())


@contextlib.contextmanager
def commit_guards(guards: tuple[CommitGuard, ...]) -> Iterator[None]:
    """Every unit of work committed inside (in this thread or context) first runs these
    guards in its own transaction; a guard that raises makes the commit fail, so the work
    is rolled back. An Idempotency-Key's lease is checked this way (the key is marked
    applied in the same transaction as the effect). ``()`` exempts technical commits."""
    token = _guards.set(guards)
    try:
        yield
    finally:
        _guards.reset(token)


def current_commit_guards() -> tuple[CommitGuard, ...]:
    """The guards of the current context: a service that runs a caller's work in another
    thread (charge combining) takes them along."""
    return _guards.get()


class UnitOfWork(abc.ABC):
    """Use as ``with uow_factory() as uow: ...; uow.commit()``.

    Leaving the block without ``commit`` rolls back. Integration events published
    inside are written to the outbox in the same transaction; ``on_commit`` callbacks
    (e.g. "deliver the outbox now") run only after a successful commit.
    """

    autocommit = False  # every statement commits on its own (``UnitOfWorkFactory(autocommit=True)``)

    def __init__(self) -> None:
        self.events: list[DomainEvent] = []
        self._after_commit: list[Callable[[], None]] = []
        self.committed = False

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if not self.committed:
                self.rollback()
        finally:  # belt and braces: SQLAlchemy already hands back a connection it found dropped
            self.close()

    def publish(self, *events: DomainEvent) -> None:
        self.events.extend(events)

    def on_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)

    def commit(self) -> None:
        for guard in _guards.get():
            guard(self)
        self._commit()
        self.committed = True
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            # the work is committed and cannot be undone: a failing callback (e.g. the
            # outbox kick while Redis is down) is logged, and the periodic sweep catches up
            try:
                callback()
            except Exception:
                log.exception("after-commit callback %r failed", callback)

    @abc.abstractmethod
    def repo(self, port: type[T]) -> T:
        """The adapter bound to a repository port, sharing this transaction."""

    @abc.abstractmethod
    def _commit(self) -> None: ...

    @abc.abstractmethod
    def rollback(self) -> None: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    @property
    @abc.abstractmethod
    def dialect(self) -> str:
        """``postgresql`` or ``sqlite``: lets services pick a locking strategy."""


class UnitOfWorkFactory(abc.ABC):
    @abc.abstractmethod
    def __call__(self, *, autocommit: bool = False) -> UnitOfWork:
        """``autocommit``: every statement commits on its own — for work that is a single
        write whose statement must not keep a transaction open behind it (ADR 0010). Such
        a unit must have no commit guards and publish no event that has handlers: neither
        could commit with the write (the adapter refuses)."""

    @property
    @abc.abstractmethod
    def dialect(self) -> str:
        """``postgresql`` or ``sqlite``, known before a unit of work is opened."""


def payload_of(event: DomainEvent) -> dict[str, Any]:
    return event.to_payload()
