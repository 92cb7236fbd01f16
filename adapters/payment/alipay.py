"""Alipay (支付宝) through python-alipay-sdk: page pay, RSA2 notifications, refund, query.

- ``create_payment``: ``alipay.trade.page.pay`` -> the gateway URL plus the signed order
  string; the payer's browser goes there.
- ``verify_notification``: the asynchronous notification is form-encoded; its ``sign``
  is RSA2 (SHA256withRSA) over the other parameters minus ``sign``/``sign_type``,
  sorted and joined as ``k=v`` with ``&``, under Alipay's public key. Only
  ``TRADE_SUCCESS``/``TRADE_FINISHED`` mean paid and ``TRADE_CLOSED`` failed; other
  states (``WAIT_BUYER_PAY``) are refused, so nothing is credited on them.
- ``refund`` (``alipay.trade.refund``, ``out_request_no`` = our refund number, so a
  retry is idempotent) and ``query`` (``alipay.trade.query``): the SDK signs the
  request and checks the response's ``sign`` with Alipay's public key; a response that
  does not verify, cannot be read or never comes raises ``GatewayError``.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from alipay import AliPay
from alipay.utils import AliPayConfig

from application.shared.settings import Settings
from application.wallet.payments import (
    GatewayError,
    InvalidNotification,
    PaymentGateway,
    PaymentIntent,
    PaymentNotification,
    PaymentStatus,
    RefundResult,
)
from domain.shared.money import CENT, fmt

log = logging.getLogger("agora.payment.alipay")

DEFAULT_GATEWAY = "https://openapi.alipay.com/gateway.do"
SUCCESS = "10000"
NOTIFIED = {"TRADE_SUCCESS": "paid", "TRADE_FINISHED": "paid", "TRADE_CLOSED": "failed"}
QUERIED = {**NOTIFIED, "WAIT_BUYER_PAY": "pending"}
RETRYABLE = {"20000", "ACQ.SYSTEM_ERROR", "aop.ACQ.SYSTEM_ERROR"}


class AlipayGateway(PaymentGateway):
    """``AlipayGateway(app_id, app_private_key, alipay_public_key, gateway_url=DEFAULT_GATEWAY,
    notify_url=None, *, timeout=15)``: keys are PEM strings (the app's private key signs
    our requests; Alipay's public key verifies what Alipay sends). ``notify_url`` is the
    default when ``create_payment`` gets none."""

    channel = "alipay"

    def __init__(self, app_id: str, app_private_key: str, alipay_public_key: str,
                 gateway_url: str = DEFAULT_GATEWAY, notify_url: str | None = None, *,
                 timeout: float = 15.0) -> None:
        if not app_id:
            raise ValueError("Alipay needs an app id")
        self.app_id = app_id
        self.gateway_url = gateway_url
        self.notify_url = notify_url
        self.client = AliPay(appid=app_id, app_notify_url=notify_url, app_private_key_string=app_private_key,
                             alipay_public_key_string=alipay_public_key, sign_type="RSA2",
                             config=AliPayConfig(timeout=timeout))
        # the SDK only knows its two hard-coded gateways (production and sandbox via debug=)
        self.client._gateway = gateway_url

    @classmethod
    def from_settings(cls, settings: Settings, notify_url: str | None = None) -> AlipayGateway:
        """Keys from ``AGORA_ALIPAY_PRIVATE_KEY_PATH`` / ``AGORA_ALIPAY_PUBLIC_KEY_PATH``; the
        notify URL defaults to ``{base_url}/api/v1/payments/alipay/notify``."""
        if not settings.alipay_private_key_path or not settings.alipay_public_key_path:
            raise ValueError("AGORA_ALIPAY_PRIVATE_KEY_PATH and AGORA_ALIPAY_PUBLIC_KEY_PATH must be set")
        return cls(settings.alipay_app_id,
                   Path(settings.alipay_private_key_path).read_text(),
                   Path(settings.alipay_public_key_path).read_text(),
                   settings.alipay_gateway,
                   notify_url or f"{settings.base_url.rstrip('/')}/api/v1/payments/alipay/notify")

    def create_payment(self, out_trade_no: str, amount: Decimal, subject: str, notify_url: str,
                       return_url: str | None = None) -> PaymentIntent:
        order = self.client.api_alipay_trade_page_pay(
            subject=subject, out_trade_no=out_trade_no, total_amount=fmt(amount),
            return_url=return_url, notify_url=notify_url or self.notify_url)
        sep = "&" if "?" in self.gateway_url else "?"
        return PaymentIntent(out_trade_no=out_trade_no, payment_url=f"{self.gateway_url}{sep}{order}")

    def verify_notification(self, params: Mapping[str, str]) -> PaymentNotification:
        data = dict(params)
        signature = data.pop("sign", "")
        sign_type = data.pop("sign_type", "RSA2")
        if not signature:
            raise InvalidNotification("no sign")
        if sign_type != "RSA2":
            raise InvalidNotification(f"unsupported sign_type {sign_type!r}")
        try:
            valid = self.client.verify(data, signature)
        except Exception as exc:  # noqa: BLE001 - undecodable signatures are just invalid
            raise InvalidNotification(f"unreadable signature: {exc}") from None
        if not valid:
            raise InvalidNotification("bad signature")
        if data.get("app_id") and data["app_id"] != self.app_id:
            raise InvalidNotification(f"notification for another app {data['app_id']!r}")
        missing = [k for k in ("out_trade_no", "trade_no", "total_amount", "trade_status") if not data.get(k)]
        if missing:
            raise InvalidNotification(f"missing {', '.join(missing)}")
        status = NOTIFIED.get(data["trade_status"])
        if status is None:
            raise InvalidNotification(f"trade_status {data['trade_status']} is not final")
        try:
            amount = _amount(data["total_amount"])
        except ValueError as exc:
            raise InvalidNotification(str(exc)) from None
        return PaymentNotification(out_trade_no=data["out_trade_no"], gateway_trade_no=data["trade_no"],
                                   amount=amount, status=status)

    def query(self, out_trade_no: str) -> PaymentStatus:
        response = self._call("alipay.trade.query", self.client.api_alipay_trade_query, out_trade_no=out_trade_no)
        code = str(response.get("code", ""))
        if code != SUCCESS:
            if response.get("sub_code") == "ACQ.TRADE_NOT_EXIST":  # never opened or never paid
                return PaymentStatus(out_trade_no=out_trade_no, status="unknown")
            raise GatewayError(f"alipay.trade.query: {_reason(response)}")
        amount = response.get("total_amount")
        try:
            parsed = _amount(amount) if amount else None
        except ValueError as exc:
            raise GatewayError(f"alipay.trade.query: {exc}") from None
        return PaymentStatus(out_trade_no=out_trade_no,
                             status=QUERIED.get(str(response.get("trade_status")), "unknown"),
                             amount=parsed, gateway_trade_no=response.get("trade_no"))

    def refund(self, out_trade_no: str, refund_no: str, amount: Decimal, reason: str) -> RefundResult:
        response = self._call("alipay.trade.refund", self.client.api_alipay_trade_refund,
                              refund_amount=fmt(amount), out_trade_no=out_trade_no,
                              out_request_no=refund_no, refund_reason=reason)
        code = str(response.get("code", ""))
        if code == SUCCESS:
            # fund_change=N: this request moved no money because the same refund already did
            return RefundResult(refund_no, "succeeded", f"fund_change={response.get('fund_change', '')}")
        if code in RETRYABLE or response.get("sub_code") in RETRYABLE:
            return RefundResult(refund_no, "pending", _reason(response))
        return RefundResult(refund_no, "failed", _reason(response))

    def _call(self, api: str, method: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            response = method(**kwargs)
        except Exception as exc:
            log.warning("%s failed: %s: %s", api, type(exc).__name__, exc)
            raise GatewayError(f"{api}: {type(exc).__name__}: {exc}") from exc
        if not isinstance(response, dict):
            raise GatewayError(f"{api}: unexpected response {response!r}")
        return response


def _amount(raw: str) -> Decimal:
    try:
        amount = Decimal(raw)
    except (InvalidOperation, ValueError, TypeError):
        raise ValueError(f"total_amount {raw!r} is not a decimal") from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(CENT):
        raise ValueError(f"total_amount {raw!r} is not an amount")
    return amount.quantize(CENT)


def _reason(response: Mapping[str, Any]) -> str:
    parts = [str(response.get(k)) for k in ("code", "msg", "sub_code", "sub_msg") if response.get(k)]
    return " ".join(parts) or "no reason given"
