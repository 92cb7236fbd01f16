"""A scripted payment gateway for the wallet's application tests: no signatures, no I/O."""
from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from application.wallet.payments import (
    GatewayError,
    InvalidNotification,
    PaymentGateway,
    PaymentIntent,
    PaymentNotification,
    PaymentStatus,
    RefundResult,
)


class FakeGateway(PaymentGateway):
    """Notifications are plain dicts with ``sig=ok``; ``statuses`` scripts ``query``;
    ``refund_results`` scripts ``refund``; ``down`` makes every call raise GatewayError."""

    channel = "sandbox"

    def __init__(self) -> None:
        self.payments: dict[str, Decimal] = {}
        self.statuses: dict[str, PaymentStatus] = {}
        self.refund_results: list[str] = []
        self.refunds: list[tuple[str, str, Decimal]] = []
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise GatewayError("gateway unreachable (test)")

    def create_payment(self, out_trade_no: str, amount: Decimal, subject: str, notify_url: str,
                       return_url: str | None = None) -> PaymentIntent:
        self._check()
        self.payments[out_trade_no] = amount
        return PaymentIntent(out_trade_no, f"https://pay.example/{out_trade_no}", f"gw-{out_trade_no}")

    def verify_notification(self, params: Mapping[str, str]) -> PaymentNotification:
        if params.get("sig") != "ok":
            raise InvalidNotification("bad signature")
        return PaymentNotification(params["out_trade_no"], f"gw-{params['out_trade_no']}",
                                   Decimal(params["amount"]), params.get("status", "paid"))

    def query(self, out_trade_no: str) -> PaymentStatus:
        self._check()
        return self.statuses.get(out_trade_no, PaymentStatus(out_trade_no, "unknown"))

    def refund(self, out_trade_no: str, refund_no: str, amount: Decimal, reason: str) -> RefundResult:
        self._check()
        self.refunds.append((out_trade_no, refund_no, amount))
        status = self.refund_results.pop(0) if self.refund_results else "succeeded"
        return RefundResult(refund_no, status, f"fake: {status}")
