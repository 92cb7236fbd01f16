"""Payment port: online recharge and refund through a payment gateway (spec wallet.md).

Adapters: ``sandbox`` (embedded default, a self-contained gateway that sends signed
notifications like a real one) and ``alipay`` (python-alipay-sdk). The wallet's
application services only ever see this port.
"""
from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping
from decimal import Decimal


class InvalidNotification(Exception):
    """A notification whose signature (or shape) does not verify: refuse it, credit nothing."""


class GatewayError(Exception):
    """The gateway could not be reached or refused the call; callers retry later."""


@dataclasses.dataclass(frozen=True)
class PaymentIntent:
    out_trade_no: str  # our recharge id, the idempotency key of the notification
    payment_url: str  # where the payer goes to pay
    gateway_trade_no: str | None = None


@dataclasses.dataclass(frozen=True)
class PaymentNotification:
    """A verified notification: what the gateway says happened to ``out_trade_no``."""

    out_trade_no: str
    gateway_trade_no: str
    amount: Decimal
    status: str  # paid | failed


@dataclasses.dataclass(frozen=True)
class PaymentStatus:
    out_trade_no: str
    status: str  # paid | pending | failed | unknown
    amount: Decimal | None = None
    gateway_trade_no: str | None = None


@dataclasses.dataclass(frozen=True)
class RefundResult:
    refund_no: str
    status: str  # succeeded | pending | failed
    detail: str = ""


class PaymentGateway(abc.ABC):
    channel: str

    @abc.abstractmethod
    def create_payment(self, out_trade_no: str, amount: Decimal, subject: str, notify_url: str,
                       return_url: str | None = None) -> PaymentIntent: ...

    @abc.abstractmethod
    def verify_notification(self, params: Mapping[str, str]) -> PaymentNotification:
        """Verify a notification's signature and parse it. Raises InvalidNotification."""

    @abc.abstractmethod
    def query(self, out_trade_no: str) -> PaymentStatus:
        """Ask the gateway what became of a payment (used by the reconciliation job)."""

    @abc.abstractmethod
    def refund(self, out_trade_no: str, refund_no: str, amount: Decimal, reason: str) -> RefundResult: ...

    def ack(self) -> tuple[str, str]:
        """Body and content type the gateway expects when a notification was accepted."""
        return "success", "text/plain"


class PaymentGateways:
    """The gateways configured, by channel (``sandbox``, ``alipay``)."""

    def __init__(self, gateways: Mapping[str, PaymentGateway]) -> None:
        self._by_channel = dict(gateways)

    def get(self, channel: str) -> PaymentGateway:
        try:
            return self._by_channel[channel]
        except KeyError:
            raise LookupError(f"payment channel {channel!r} is not configured") from None

    def channels(self) -> list[str]:
        return sorted(self._by_channel)
