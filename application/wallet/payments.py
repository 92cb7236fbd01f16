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
    refunded: Decimal | None = None  # refunded so far, when the gateway says (sandbox does)


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


# --- the sandbox gateway's controls -------------------------------------------------
# Only the embedded sandbox has these: its pay page (entrypoints/http/sandbox.py) and its
# delayed-notification job (entrypoints/jobs/sandbox.py) reach the adapter through this
# port, since entry points never import adapters.

PAY_OUTCOMES = ("paid", "failed")
NOTIFY_MODES = ("normal", "delay", "duplicate", "lost", "bad_signature")
MAX_NOTIFY_DELAY_SECONDS = 300


@dataclasses.dataclass(frozen=True)
class SandboxPayment:
    payment_id: str
    out_trade_no: str
    amount: Decimal
    subject: str
    status: str  # pending | paid | failed
    refunded: Decimal
    return_url: str | None = None


@dataclasses.dataclass(frozen=True)
class SandboxPayResult:
    payment: SandboxPayment
    mode: str
    delivered: int  # notifications our endpoint acknowledged during this call
    scheduled: bool  # a delayed delivery was queued


class SandboxControls(abc.ABC):
    """The sandbox gateway's own pages: look at a payment, pay it (or fail it) and notify."""

    @abc.abstractmethod
    def payment(self, payment_id: str) -> SandboxPayment:
        """Raises ``LookupError`` for an unknown payment id."""

    @abc.abstractmethod
    def pay(self, payment_id: str, outcome: str, mode: str = "normal",
            delay_seconds: int = 0) -> SandboxPayResult:
        """Settle a pending payment as ``paid`` or ``failed`` and notify per ``mode``.

        Raises ``LookupError`` (unknown id), ``ValueError`` (bad outcome/mode/delay) and
        ``SandboxConflict`` (already settled the other way; the same outcome re-notifies).
        """

    @abc.abstractmethod
    def deliver(self, payment_id: str, mode: str = "normal", not_before: str | None = None) -> int:
        """Send the notification of a settled payment (the delayed job); returns acks."""


class SandboxConflict(Exception):
    """The sandbox payment was already settled with another outcome."""
