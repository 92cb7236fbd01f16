"""The gunicorn worker class of ``agora serve``: gthread, with a fast path for keep-alive.

gunicorn's threaded worker hands a keep-alive connection back to its main thread after
every answer: the socket goes back into the poller, and when the client's next request
arrives the main thread wakes, takes it out again and queues it for a pool thread. Each
request so crosses threads twice (two GIL hand-offs, a pipe wake-up, selector calls).
API clients keep their connections and send the next request at once, so that path is
the common one, and on the charge endpoint it cost about a tenth of the worker's CPU
(``bench/wallet.py``; docs/adr/0004-request-path-costs.md).

:class:`KeepAliveThreadWorker` lets the thread that answered keep the connection for a
moment: if the next request is readable within ``AGORA_HTTP_KEEPALIVE_LINGER_MS`` it
serves it itself. It never holds a connection while another one waits for a thread (it
looks at the pool's queue before and after each wait), nor for more than
``AGORA_HTTP_KEEPALIVE_TURN`` requests in a row, so connections take turns as before;
otherwise every request goes through gunicorn's own code (parsing, limits, timeouts,
graceful stop). A linger of 0 turns the fast path off.
"""
from __future__ import annotations

import math
import os
import select
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

LINGER_ENV = "AGORA_HTTP_KEEPALIVE_LINGER_MS"
TURN_ENV = "AGORA_HTTP_KEEPALIVE_TURN"


def _setting(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number, not negative")
    return value


class KeepAliveThreadWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn is untyped
    def init_process(self) -> None:
        self.linger_ms = _setting(LINGER_ENV, 2.0)
        self.turn = max(1, int(_setting(TURN_ENV, 32)))
        super().init_process()

    def accept(self, listener: Any) -> None:
        """A worker that already has a connection per thread lets the others take a new one
        first: every worker is woken for a pending connection, and the one that runs first
        would take them all — a burst of keep-alive clients then lands on one worker (one
        GIL) while the others idle (measured: all 8 bench clients on one of 2 workers in 1
        run of 10, at 60% of the throughput). If no other worker takes it, this one does."""
        if self.nr_conns >= self.cfg.threads:
            os.sched_yield()
        super().accept(listener)

    def _others_wait(self) -> bool:
        """Is a connection queued for a thread? (Without a way to tell: assume so.)"""
        pending = getattr(self.tpool, "_work_queue", None)
        return pending is None or not pending.empty()

    def handle(self, conn: Any) -> Any:
        served = 0
        while True:
            result = super().handle(conn)
            served += 1
            if result is not True or not self.alive or served >= self.turn or self.linger_ms <= 0 \
                    or self._others_wait():
                return result
            pending = getattr(conn.sock, "pending", None)  # TLS: bytes decrypted already
            if conn.parser.unreader.buf.getvalue() or (pending is not None and pending()):
                continue  # the next request is read ahead already
            poll = select.poll()
            try:
                poll.register(conn.sock, select.POLLIN)
                readable = poll.poll(self.linger_ms)
            except (OSError, ValueError):  # closed under us: let gunicorn's path find out
                return result
            if not readable or self._others_wait():  # idle, or someone came meanwhile:
                return result  # back to the poller, as gunicorn does
