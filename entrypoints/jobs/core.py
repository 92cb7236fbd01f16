"""Platform jobs: outbox delivery and housekeeping."""
from __future__ import annotations

from datetime import timedelta

import injector

from application.shared.clock import Clock
from application.shared.idempotency import KEEP_FOR, IdempotencyStore
from application.shared.outbox import OutboxRelay
from application.shared.ratelimit import RateLimiter
from application.shared.uow import UnitOfWorkFactory
from entrypoints.jobs import job, periodic


@job("outbox.deliver")
def deliver_outbox(container: injector.Injector, limit: int = 200) -> int:
    relay = container.get(OutboxRelay)
    total = 0
    while True:
        n = relay.deliver_due(limit)
        total += n
        if n < limit:
            return total


@periodic("outbox.sweep", every_seconds=30)
def sweep_outbox(container: injector.Injector) -> int:
    """Retries whose backoff has passed and messages whose first kick was lost."""
    return deliver_outbox(container)


@periodic("housekeeping.purge", every_seconds=3600)
def purge(container: injector.Injector) -> dict[str, int]:
    now = container.get(Clock).now()
    with container.get(UnitOfWorkFactory)() as uow:
        keys = uow.repo(IdempotencyStore).purge(now - KEEP_FOR)
        hits = uow.repo(RateLimiter).purge(now - timedelta(days=2))
        uow.commit()
    return {"idempotency_keys": keys, "rate_limit_hits": hits}
