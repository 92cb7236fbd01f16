"""Prometheus metrics shared by the HTTP app, the job runner and the outbox relay.

Under gunicorn with several workers a scrape reaches one worker: ``agora serve`` then sets
``PROMETHEUS_MULTIPROC_DIR`` (before this module is imported), every process writes its
values there and ``exposition()`` answers the sum over all workers (prometheus_client's
multiprocess mode)."""
from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

REGISTRY = CollectorRegistry(auto_describe=True)
# prometheus_client picks where values live when it is imported; decide the same way, once
MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None

http_requests = Counter("agora_http_requests_total", "HTTP requests", ["method", "route", "status"],
                        registry=REGISTRY)
http_latency = Histogram("agora_http_request_seconds", "HTTP request latency", ["method", "route"],
                         registry=REGISTRY,
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
jobs_total = Counter("agora_jobs_total", "Background jobs run", ["job", "status"], registry=REGISTRY)
job_seconds = Histogram("agora_job_seconds", "Background job duration", ["job"], registry=REGISTRY)
outbox_delivered = Counter("agora_outbox_deliveries_total", "Outbox deliveries", ["handler", "result"],
                           registry=REGISTRY)
# set from the database at each scrape: the most recent reading, whichever worker took it
outbox_messages = Gauge("agora_outbox_messages", "Outbox messages by status", ["status"], registry=REGISTRY,
                        multiprocess_mode="mostrecent")
charge_batches = Counter("agora_wallet_charge_batches", "Transactions in which several charges on one wallet ran "
                         "together (ADR 0006)", registry=REGISTRY)
charges_combined = Counter("agora_wallet_charges_combined", "Charges that ran in such shared transactions",
                           registry=REGISTRY)


unlocked_charges = Counter("agora_wallet_unlocked_charges", "Plain-charge attempts without the wallet's lock "
                           "(ADR 0010): landed, declined by the write (sent to the lock) or not plain",
                           ["outcome"], registry=REGISTRY)

early_released_charges = Counter("agora_wallet_early_released_charges", "Plain charges whose statement freed the "
                                 "wallet's row before its commit reached the disk; each answered after the "
                                 "flush barrier (ADR 0013)", registry=REGISTRY)


# a labelled child per label values, looked up once: ``labels()`` validates and locks on
# every call, and these are counted on every request and every charge (a few routes,
# methods, statuses and outcomes: the dictionaries stay small)
_request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
_unlocked_children: dict[str, Any] = {}


def record_request(method: str, route: str, status: int, seconds: float) -> None:
    children = _request_children.get((method, route, status))
    if children is None:
        children = _request_children[(method, route, status)] = (
            http_requests.labels(method=method, route=route, status=str(status)),
            http_latency.labels(method=method, route=route))
    children[0].inc()
    children[1].observe(seconds)


def record_unlocked_charge(outcome: str) -> None:
    child = _unlocked_children.get(outcome)
    if child is None:
        child = _unlocked_children[outcome] = unlocked_charges.labels(outcome=outcome)
    child.inc()


def record_early_release(charges: int) -> None:
    early_released_charges.inc(charges)


def record_charge_batch(size: int) -> None:
    charge_batches.inc()
    charges_combined.inc(size)


def exposition() -> bytes:
    """The text a scrape gets: every worker's values when they share a multiprocess
    directory, else this process's."""
    if MULTIPROCESS_DIR:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=MULTIPROCESS_DIR)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


class PrometheusOutboxMetrics:
    def delivered(self, handler: str, ok: bool) -> None:
        outbox_delivered.labels(handler=handler, result="ok" if ok else "error").inc()
