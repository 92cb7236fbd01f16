"""Combining concurrent commands on one key into one transaction (docs/adr/0006).

Charges on one wallet serialise on its row lock, and each holds the lock through its own
``COMMIT`` — a WAL flush. On a hot wallet that flush, not the work, caps the rate. A
:class:`Combiner` lets the threads of one process that charge the same wallet at the
same moment share a transaction: the first becomes the *leader* and runs every request
queued behind it (up to ``max_batch``) in one unit of work — one lock wait, one commit —
while the others wait for their own outcome. When it is done, the next queued thread
(if any) leads the next batch, so a thread never runs more than one batch, and a lone
request runs at once, exactly as without the combiner.

Each request keeps its own outcome: the batch function returns, per request, a result
or the exception that request alone raised. If the batch fails as a whole (a database
error, say), every request of it runs again on its own, so one bad request cannot take
the others down with it.
"""
from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

R = TypeVar("R")
Out = TypeVar("Out")

log = logging.getLogger(__name__)


class _Slot(Generic[R, Out]):
    __slots__ = ("done", "error", "lead", "request", "result", "wake")

    def __init__(self, request: R) -> None:
        self.request = request
        self.wake = threading.Event()
        self.lead = False
        self.done = False
        self.result: Out | None = None
        self.error: BaseException | None = None

    def settle(self, outcome: Out | BaseException) -> None:
        if isinstance(outcome, BaseException):
            self.error = outcome
        else:
            self.result = outcome
        self.done = True

    def outcome(self) -> Out:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


def _ignore(size: int) -> None:
    pass


class Combiner(Generic[R, Out]):
    """Run requests for the same key in batches; see the module docstring.

    ``run_batch(requests)`` returns one outcome per request, in order: its result, or the
    exception to raise to its caller. ``run_one(request)`` runs a single request (a lone
    request, or each request of a batch that failed as a whole). ``max_batch`` <= 1
    turns combining off: every request runs on its own, in its caller's thread.
    ``on_batch(size)`` is told of every batch that ran combined (metrics); it must not raise.
    """

    def __init__(self, run_batch: Callable[[Sequence[R]], Sequence[Out | BaseException]],
                 run_one: Callable[[R], Out], max_batch: int) -> None:
        self._run_batch = run_batch
        self._run_one = run_one
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._queues: dict[str, deque[_Slot[R, Out]]] = {}  # a key is here while a leader runs it
        self.batches = 0  # batches of more than one request run so far (observability, tests)
        self.combined = 0  # requests that ran in those batches
        self.on_batch: Callable[[int], None] = _ignore

    def submit(self, key: str, request: R) -> Out:
        if self.max_batch <= 1:
            return self._run_one(request)
        slot: _Slot[R, Out] = _Slot(request)
        with self._lock:
            queue = self._queues.get(key)
            if queue is None:
                queue = self._queues[key] = deque()
                slot.lead = True
            queue.append(slot)
        if not slot.lead:
            slot.wake.wait()  # settled by a leader, or promoted to lead the next batch
            if slot.done:
                return slot.outcome()
        with self._lock:  # the leader is at the head of its queue
            batch = [queue.popleft() for _ in range(min(len(queue), self.max_batch))]
        try:
            self._execute(batch)
        finally:
            for other in batch:
                if not other.done:  # only if the leader itself was interrupted
                    other.settle(RuntimeError("the combined transaction was interrupted"))
                if other is not slot:
                    other.wake.set()
            with self._lock:
                if queue:
                    queue[0].lead = True
                    queue[0].wake.set()
                else:
                    del self._queues[key]
        return slot.outcome()

    def _execute(self, batch: list[_Slot[R, Out]]) -> None:
        if len(batch) > 1:
            try:
                outcomes = self._run_batch([s.request for s in batch])
            except Exception:
                log.warning("a combined batch of %d failed; running its requests one by one", len(batch),
                            exc_info=True)
            else:
                if len(outcomes) != len(batch):  # pragma: no cover - a bug in run_batch
                    raise RuntimeError("run_batch must return one outcome per request")
                with self._lock:
                    self.batches += 1
                    self.combined += len(batch)
                self.on_batch(len(batch))
                for s, out in zip(batch, outcomes, strict=True):
                    s.settle(out)
                return
        for s in batch:
            try:
                s.settle(self._run_one(s.request))
            except Exception as exc:  # noqa: BLE001 - it is the caller's outcome, raised in its thread
                s.settle(exc)
