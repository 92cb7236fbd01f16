"""Idempotency keys (spec api.md): same key + same body -> first response.

A key is *held* by one request at a time, under a lease (a random token and the time it
was taken). The request's effect and the record's move to ``applied`` commit in the same
transaction (a commit guard, see ``application.shared.uow.commit_guards``), and only
while the request still holds the lease. So:

- a request that died before its effect committed leaves an ``in_progress`` record; once
  its lease is stale (``LEASE`` since it took the key or last committed) a retry takes the
  key over and runs — a slow holder that wakes up later cannot commit any more (the unit
  of work whose guard fails rolls back; what it committed before stays);
- a request whose effect committed but whose answer was lost (it died, or failed with a
  5xx afterwards) leaves an ``applied`` record: a retry runs the request again
  (``replaying``) but may not commit anything, so a command that knows its own repeats
  (a charge's reference, a capture's hold) answers them as usual, and any other command
  gets 409 ``idempotency_key_applied`` instead of taking effect twice.
"""
from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from domain.shared.errors import Conflict

if TYPE_CHECKING:
    from application.shared.uow import UnitOfWork

KEEP_FOR = timedelta(hours=48)  # spec: at least 24 hours
LEASE = timedelta(seconds=60)  # a holder silent for this long is presumed dead

IN_PROGRESS, APPLIED, REPLAYING, DONE = "in_progress", "applied", "replaying", "done"


@dataclasses.dataclass
class StoredResponse:
    scope: str
    key: str
    request_hash: str
    status: str  # in_progress | applied | replaying | done
    created_at: datetime
    response_status: int | None = None
    response_body: str | None = None
    lease: str | None = None
    locked_at: datetime | None = None


class IdempotencyStore(abc.ABC):
    @abc.abstractmethod
    def reserve(self, scope: str, key: str, request_hash: str, lease: str, now: datetime) -> StoredResponse | None:
        """Hold the key with ``lease``: a new ``in_progress`` record, or a record of the same
        request whose holder's lease is older than ``LEASE`` (or was let go) and which is not
        ``done`` — an ``in_progress`` one stays so, an ``applied`` one becomes ``replaying``.
        None when ``lease`` now holds it; otherwise the record as it stands."""

    @abc.abstractmethod
    def fence(self, scope: str, key: str, lease: str, now: datetime) -> str | None:
        """In the transaction of the request's effect: mark the record ``applied`` (and its
        lease renewed at ``now``) if ``lease`` holds it and it is ``in_progress`` or
        ``applied``. Returns None when it did, else the record's status (``replaying``, or
        ``taken_over`` when another request holds it)."""

    @abc.abstractmethod
    def complete(self, scope: str, key: str, lease: str, status: int, body: str) -> None:
        """Remember the answer, if ``lease`` still holds the key."""

    @abc.abstractmethod
    def release(self, scope: str, key: str, lease: str) -> None:
        """The request failed (5xx): forget an ``in_progress`` record ``lease`` holds (no
        effect was committed, a retry runs for real); an ``applied`` or ``replaying`` one is
        kept and its lease let go, so a retry can take it over at once."""

    @abc.abstractmethod
    def purge(self, before: datetime) -> int: ...


class IdempotencyKeyApplied(Conflict):
    code = "idempotency_key_applied"


class IdempotencyKeyTakenOver(Conflict):
    code = "idempotency_key_taken_over"


def lease_guard(scope: str, key: str, lease: str, now: Callable[[], datetime]) -> Callable[[UnitOfWork], None]:
    """The commit guard of a request holding an Idempotency-Key (see the module doc);
    ``now`` is the clock the leases are taken by."""

    def guard(uow: UnitOfWork) -> None:
        status = uow.repo(IdempotencyStore).fence(scope, key, lease, now())
        if status is None:
            return
        if status == REPLAYING:
            raise IdempotencyKeyApplied(
                "a request with this Idempotency-Key already took effect, but its answer was lost: "
                "look the effect up (e.g. the entries by reference) instead of repeating it")
        raise IdempotencyKeyTakenOver("this request held its Idempotency-Key too long: a retry took it over")

    return guard
