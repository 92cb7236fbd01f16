"""Prometheus metrics shared by the HTTP app, the job runner and the outbox relay."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

http_requests = Counter("agora_http_requests_total", "HTTP requests", ["method", "route", "status"],
                        registry=REGISTRY)
http_latency = Histogram("agora_http_request_seconds", "HTTP request latency", ["method", "route"],
                         registry=REGISTRY,
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
jobs_total = Counter("agora_jobs_total", "Background jobs run", ["job", "status"], registry=REGISTRY)
job_seconds = Histogram("agora_job_seconds", "Background job duration", ["job"], registry=REGISTRY)
outbox_delivered = Counter("agora_outbox_deliveries_total", "Outbox deliveries", ["handler", "result"],
                           registry=REGISTRY)
outbox_messages = Gauge("agora_outbox_messages", "Outbox messages by status", ["status"], registry=REGISTRY)


class PrometheusOutboxMetrics:
    def delivered(self, handler: str, ok: bool) -> None:
        outbox_delivered.labels(handler=handler, result="ok" if ok else "error").inc()
charge_batches = Gauge("agora_wallet_charge_batches", "Combined charge transactions run by this process so far "
                       "(ADR 0006)", registry=REGISTRY)
charges_combined = Gauge("agora_wallet_charges_combined", "Charges that ran in combined transactions in this process "
                         "so far", registry=REGISTRY)
