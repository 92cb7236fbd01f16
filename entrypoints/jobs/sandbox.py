"""The sandbox payment gateway's delayed notifications (mode ``delay`` of its pay page)."""
from __future__ import annotations

import injector

from application.wallet.payments import PaymentGateways, SandboxControls
from entrypoints.jobs import job


@job("sandbox.notify")
def notify(container: injector.Injector, payment_id: str, mode: str = "normal",
           not_before: str | None = None) -> int:
    """Wait until ``not_before`` (ISO time), then send the payment's notification."""
    gateway = container.get(PaymentGateways).get("sandbox")
    if not isinstance(gateway, SandboxControls):
        raise LookupError("the sandbox channel is not the sandbox gateway")
    return gateway.deliver(payment_id, mode=mode, not_before=not_before)
