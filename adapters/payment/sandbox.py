"""The sandbox payment gateway: the embedded default, a self-contained fake of a real one.

It keeps its own books (tables ``sandbox_payments`` and ``sandbox_refunds``), issues a
payment id and a local pay URL (``{base_url}/sandbox/pay/{payment_id}``, served by
``entrypoints/http/sandbox.py``), and when the payer "pays" it POSTs a signed,
form-encoded notification to the ``notify_url`` given at ``create_payment`` — exactly
what Alipay does, so the wallet's notify endpoint is exercised for real:

    out_trade_no, trade_no, total_amount, trade_status (TRADE_SUCCESS | TRADE_CLOSED),
    notify_id, notify_time, sign_type=HMAC-SHA256, sign

``sign`` is the hex HMAC-SHA256, under a secret derived from ``settings.secret_key``,
of the canonical string: every non-empty parameter except ``sign``/``sign_type``,
sorted by name, joined as ``k=v`` with ``&``. Our endpoint must answer ``success``;
anything else (or no answer) is retried with exponential backoff.

The payer can ask for a failure (``TRADE_CLOSED``) and for a delivery ``mode``:
``normal``; ``delay`` (sent later by the ``sandbox.notify`` job); ``duplicate`` (the
same notification twice); ``lost`` (nothing sent: only ``query`` tells it was paid);
``bad_signature`` (a forged-looking notification, for tests).

Never configure this gateway in production: anyone who can reach the pay page can
"pay". The HTTP blueprint is only registered when ``AGORA_PAYMENT=sandbox``.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from adapters.postgres.tables import sandbox_payments, sandbox_refunds
from application.shared.clock import Clock
from application.shared.jobs import JobQueue
from application.shared.settings import Settings
from application.wallet.payments import (
    MAX_NOTIFY_DELAY_SECONDS,
    NOTIFY_MODES,
    PAY_OUTCOMES,
    GatewayError,
    InvalidNotification,
    PaymentGateway,
    PaymentIntent,
    PaymentNotification,
    PaymentStatus,
    RefundResult,
    SandboxConflict,
    SandboxControls,
    SandboxPayment,
    SandboxPayResult,
)
from domain.shared.ids import new_id
from domain.shared.money import CENT, fmt

log = logging.getLogger("agora.payment.sandbox")

SIGN_TYPE = "HMAC-SHA256"
NOTIFY_JOB = "sandbox.notify"
MAX_DELAY_SECONDS = MAX_NOTIFY_DELAY_SECONDS
STATUS_BY_TRADE = {"TRADE_SUCCESS": "paid", "TRADE_CLOSED": "failed"}
TRADE_BY_STATUS = {v: k for k, v in STATUS_BY_TRADE.items()}
REQUIRED = ("out_trade_no", "trade_no", "total_amount", "trade_status", "notify_id")

# (url, form fields, timeout seconds) -> the response body; raising counts as no answer.
Transport = Callable[[str, dict[str, str], float], str]


def sandbox_secret(secret_key: str) -> str:
    """The notification signing key, derived so it differs from every other use of the key."""
    return hmac.new(secret_key.encode(), b"agora/sandbox-payments/v1", hashlib.sha256).hexdigest()


def canonical(params: Mapping[str, str]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(params.items())
                    if k not in ("sign", "sign_type") and v != "")


def sign(params: Mapping[str, str], secret: str) -> str:
    return hmac.new(secret.encode(), canonical(params).encode(), hashlib.sha256).hexdigest()


def requests_transport(url: str, form: dict[str, str], timeout: float) -> str:
    response = requests.post(url, data=form, timeout=timeout)
    return response.text


def client_transport(client: Any) -> Transport:
    """Route notifications into a WSGI test client (Flask's ``app.test_client()``):
    the notify URL's path and query are posted to ``client``; scheme and host ignored."""

    def post(url: str, form: dict[str, str], timeout: float) -> str:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = client.post(path, data=form)
        return str(response.get_data(as_text=True))

    return post


class SandboxGateway(PaymentGateway, SandboxControls):
    """``SandboxGateway(engine, secret, base_url, transport=None, jobs=None, *, clock=None,
    sleep=time.sleep, timeout=5.0, retries=3, backoff=0.5)``.

    ``secret``: the signing key (``sandbox_secret(settings.secret_key)``, see
    ``from_settings``); ``transport``: how notifications travel (default
    ``requests.post``); ``jobs``: the queue for delayed notifications (without it the
    ``delay`` mode is refused); ``sleep``: how retries and delays wait (tests pass a
    recorder). ``refund_outcome`` (``None`` | ``"failed"`` | ``"pending"``) makes every
    following refund fail or stay pending, for tests of the wallet's refund paths.
    """

    channel = "sandbox"

    def __init__(self, engine: Engine, secret: str, base_url: str, transport: Transport | None = None,
                 jobs: JobQueue | None = None, *, clock: Clock | None = None,
                 sleep: Callable[[float], None] = time.sleep, timeout: float = 5.0,
                 retries: int = 3, backoff: float = 0.5) -> None:
        if not secret:
            raise ValueError("the sandbox gateway needs a signing secret")
        self.engine = engine
        self._secret = secret
        self.base_url = base_url.rstrip("/")
        self.transport: Transport = transport or requests_transport
        self.jobs = jobs
        self.clock = clock or Clock()
        self.sleep = sleep
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.refund_outcome: str | None = None

    @classmethod
    def from_settings(cls, engine: Engine, settings: Settings, transport: Transport | None = None,
                      jobs: JobQueue | None = None, **kwargs: Any) -> SandboxGateway:
        return cls(engine, sandbox_secret(settings.secret_key), settings.base_url, transport, jobs, **kwargs)

    # --- PaymentGateway ---------------------------------------------------------

    def create_payment(self, out_trade_no: str, amount: Decimal, subject: str, notify_url: str,
                       return_url: str | None = None) -> PaymentIntent:
        amount = _amount(amount)
        if not out_trade_no or len(out_trade_no) > 64:
            raise GatewayError("out_trade_no must be 1 to 64 characters")
        if not notify_url:
            raise GatewayError("notify_url is required")
        payment_id = new_id("sbx")
        try:
            with self.engine.begin() as conn:
                conn.execute(sandbox_payments.insert().values(
                    id=payment_id, out_trade_no=out_trade_no, amount=amount, subject=subject[:200],
                    notify_url=notify_url, return_url=return_url, status="pending", refunded=Decimal("0.00"),
                    created_at=self.clock.now(), settled_at=None))
        except IntegrityError:
            # the same trade asked again: like a real gateway, the same page if nothing changed
            with self.engine.connect() as conn:
                row = _row_by_trade(conn, out_trade_no)
            if row is None or Decimal(row.amount) != amount:
                raise GatewayError(f"out_trade_no {out_trade_no} already used with another amount") from None
            payment_id = row.id
        return PaymentIntent(out_trade_no=out_trade_no, payment_url=self.pay_url(payment_id),
                             gateway_trade_no=payment_id)

    def verify_notification(self, params: Mapping[str, str]) -> PaymentNotification:
        given = params.get("sign", "")
        if not given:
            raise InvalidNotification("no sign")
        if params.get("sign_type", SIGN_TYPE) != SIGN_TYPE:
            raise InvalidNotification(f"unknown sign_type {params.get('sign_type')!r}")
        if not hmac.compare_digest(sign(params, self._secret).encode(), given.encode()):
            raise InvalidNotification("bad signature")
        missing = [k for k in REQUIRED if not params.get(k)]
        if missing:
            raise InvalidNotification(f"missing {', '.join(missing)}")
        status = STATUS_BY_TRADE.get(params["trade_status"])
        if status is None:
            raise InvalidNotification(f"unknown trade_status {params['trade_status']!r}")
        return PaymentNotification(out_trade_no=params["out_trade_no"], gateway_trade_no=params["trade_no"],
                                   amount=_notified_amount(params["total_amount"]), status=status)

    def query(self, out_trade_no: str) -> PaymentStatus:
        with self.engine.connect() as conn:
            row = _row_by_trade(conn, out_trade_no)
        if row is None:
            return PaymentStatus(out_trade_no=out_trade_no, status="unknown")
        return PaymentStatus(out_trade_no=out_trade_no, status=row.status, amount=Decimal(row.amount),
                             gateway_trade_no=row.id, refunded=Decimal(row.refunded))

    def refund(self, out_trade_no: str, refund_no: str, amount: Decimal, reason: str) -> RefundResult:
        try:
            amount = _amount(amount)
        except GatewayError as exc:
            return RefundResult(refund_no, "failed", str(exc))
        forced = self.refund_outcome
        if forced == "pending":
            return RefundResult(refund_no, "pending", "sandbox: refund left pending, ask again")
        with self.engine.begin() as conn:
            payment = _row_by_trade(conn, out_trade_no, lock=True)
            previous = conn.execute(select(sandbox_refunds).where(sandbox_refunds.c.refund_no == refund_no)).first()
            if previous is not None:  # the same refund asked again: the same answer
                if payment is None or previous.payment_id != payment.id or Decimal(previous.amount) != amount:
                    return RefundResult(refund_no, "failed", "refund_no already used for another refund")
                return RefundResult(refund_no, previous.status, "already processed")
            if payment is None:
                return RefundResult(refund_no, "failed", "trade not found")
            detail, status = "", "succeeded"
            if forced == "failed":
                status, detail = "failed", "sandbox: refund told to fail"
            elif payment.status != "paid":
                status, detail = "failed", f"trade is {payment.status}"
            elif Decimal(payment.refunded) + amount > Decimal(payment.amount):
                status, detail = "failed", "refund exceeds the amount paid"
            conn.execute(sandbox_refunds.insert().values(
                refund_no=refund_no, payment_id=payment.id, amount=amount, reason=reason[:200], status=status,
                created_at=self.clock.now()))
            if status == "succeeded":
                conn.execute(update(sandbox_payments).where(sandbox_payments.c.id == payment.id)
                             .values(refunded=sandbox_payments.c.refunded + amount))
        return RefundResult(refund_no, status, detail)

    # --- SandboxControls -------------------------------------------------------

    def pay_url(self, payment_id: str) -> str:
        return f"{self.base_url}/sandbox/pay/{payment_id}"

    def payment(self, payment_id: str) -> SandboxPayment:
        with self.engine.connect() as conn:
            row = conn.execute(select(sandbox_payments).where(sandbox_payments.c.id == payment_id)).first()
        if row is None:
            raise LookupError(f"no sandbox payment {payment_id}")
        return _payment(row)

    def pay(self, payment_id: str, outcome: str, mode: str = "normal", delay_seconds: int = 0) -> SandboxPayResult:
        if outcome not in PAY_OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(PAY_OUTCOMES)}")
        if mode not in NOTIFY_MODES:
            raise ValueError(f"mode must be one of {', '.join(NOTIFY_MODES)}")
        if not 0 <= delay_seconds <= MAX_DELAY_SECONDS:
            raise ValueError(f"delay_seconds must be between 0 and {MAX_DELAY_SECONDS}")
        if mode == "delay" and self.jobs is None:
            raise ValueError("the delay mode needs a job queue")
        now = self.clock.now()
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(sandbox_payments)
                .where(sandbox_payments.c.id == payment_id, sandbox_payments.c.status == "pending")
                .values(status=outcome, settled_at=now)).rowcount
            row = conn.execute(select(sandbox_payments).where(sandbox_payments.c.id == payment_id)).first()
        if row is None:
            raise LookupError(f"no sandbox payment {payment_id}")
        if not changed and row.status != outcome:
            raise SandboxConflict(f"payment {payment_id} is already {row.status}")
        # a settled payment paid again with the same outcome just notifies again
        delivered, scheduled = 0, False
        if mode == "delay":
            assert self.jobs is not None
            not_before = (now + timedelta(seconds=delay_seconds)).isoformat()
            self.jobs.enqueue(NOTIFY_JOB, payment_id=payment_id, mode="normal", not_before=not_before)
            scheduled = True
        else:
            delivered = self._notify(row, mode)
        return SandboxPayResult(payment=_payment(row), mode=mode, delivered=delivered, scheduled=scheduled)

    def deliver(self, payment_id: str, mode: str = "normal", not_before: str | None = None) -> int:
        if mode not in NOTIFY_MODES or mode == "delay":
            raise ValueError(f"cannot deliver in mode {mode!r}")
        if not_before:
            wait = (datetime.fromisoformat(not_before) - self.clock.now()).total_seconds()
            if wait > 0:
                self.sleep(min(wait, MAX_DELAY_SECONDS))
        with self.engine.connect() as conn:
            row = conn.execute(select(sandbox_payments).where(sandbox_payments.c.id == payment_id)).first()
        if row is None:
            raise LookupError(f"no sandbox payment {payment_id}")
        return self._notify(row, mode)

    # --- notifications --------------------------------------------------------

    def notification(self, row: Any, *, bad_signature: bool = False) -> dict[str, str]:
        params = {
            "out_trade_no": row.out_trade_no,
            "trade_no": row.id,
            "total_amount": fmt(Decimal(row.amount)),
            "trade_status": TRADE_BY_STATUS[row.status],
            "notify_id": new_id("ntf"),
            "notify_time": self.clock.local(self.clock.now()).strftime("%Y-%m-%d %H:%M:%S"),
            "sign_type": SIGN_TYPE,
        }
        key = self._secret + "-not-the-key" if bad_signature else self._secret
        params["sign"] = sign(params, key)
        return params

    def _notify(self, row: Any, mode: str) -> int:
        if row.status not in TRADE_BY_STATUS:
            return 0  # still pending: nothing to tell
        if mode == "lost":
            log.info("sandbox: notification of %s lost on purpose", row.out_trade_no)
            return 0
        params = self.notification(row, bad_signature=mode == "bad_signature")
        times = 2 if mode == "duplicate" else 1
        return sum(self._send(row.notify_url, params) for _ in range(times))

    def _send(self, url: str, params: dict[str, str]) -> bool:
        """POST until the endpoint answers ``success``; False when every attempt failed."""
        for attempt in range(self.retries + 1):
            try:
                answer = self.transport(url, dict(params), self.timeout)
                if answer.strip() == "success":
                    return True
                log.warning("sandbox: %s answered %r to notification %s", url, answer[:100], params["notify_id"])
            except Exception as exc:  # noqa: BLE001 - any transport failure is "no answer"
                log.warning("sandbox: notification %s to %s failed: %s", params["notify_id"], url, exc)
            if attempt < self.retries:
                self.sleep(self.backoff * 2 ** attempt)
        return False


def _row_by_trade(conn: Connection, out_trade_no: str, *, lock: bool = False) -> Any:
    stmt = select(sandbox_payments).where(sandbox_payments.c.out_trade_no == out_trade_no)
    if lock and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return conn.execute(stmt).first()


def _payment(row: Any) -> SandboxPayment:
    return SandboxPayment(payment_id=row.id, out_trade_no=row.out_trade_no, amount=Decimal(row.amount),
                          subject=row.subject, status=row.status, refunded=Decimal(row.refunded),
                          return_url=row.return_url)


def _amount(value: Decimal) -> Decimal:
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise GatewayError(f"invalid amount {value!r}") from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(CENT):
        raise GatewayError(f"invalid amount {value!r}")
    return amount.quantize(CENT)


def _notified_amount(raw: str) -> Decimal:
    try:
        amount = Decimal(raw)
    except (InvalidOperation, ValueError):
        raise InvalidNotification(f"total_amount {raw!r} is not a decimal") from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(CENT):
        raise InvalidNotification(f"total_amount {raw!r} is not an amount")
    return amount.quantize(CENT)
