"""The sandbox payment gateway against the real database, its pay page and its job.

Notifications travel through an injected transport: a recorder, or the Flask test
client of an app with a fake notify endpoint (the wallet's real one is tested there).
"""
from __future__ import annotations

import hashlib
import hmac
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs

import injector
import pytest
from flask import request

from adapters.payment.sandbox import (
    SandboxGateway,
    client_transport,
    requests_transport,
    sandbox_secret,
)
from application.shared.clock import Clock
from application.shared.jobs import JobQueue
from application.shared.settings import Settings
from application.wallet.payments import (
    GatewayError,
    InvalidNotification,
    PaymentGateways,
    SandboxConflict,
)
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.jobs import run_job

SECRET = sandbox_secret("test-secret-key-with-at-least-32-bytes!")
NOTIFY_URL = "http://agora.test/api/v1/payments/sandbox/notify"
T0 = datetime(2026, 11, 22, 8, 0, 0, tzinfo=UTC)


class FixedClock(Clock):
    def __init__(self, now: datetime) -> None:
        super().__init__("Asia/Shanghai")
        self.at = now

    def now(self) -> datetime:
        return self.at


class Recorder:
    """A transport that records each POST and answers from a script (default ``success``)."""

    def __init__(self, *answers: str | Exception) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, dict[str, str], float]] = []

    def __call__(self, url: str, form: dict[str, str], timeout: float) -> str:
        self.calls.append((url, dict(form), timeout))
        answer = self.answers.pop(0) if self.answers else "success"
        if isinstance(answer, Exception):
            raise answer
        return answer


class RecordingJobs(JobQueue):
    def __init__(self) -> None:
        self.enqueued: list[tuple[str, dict[str, Any]]] = []

    def enqueue(self, job_name: str, **kwargs: Any) -> None:
        self.enqueued.append((job_name, kwargs))


@pytest.fixture
def transport() -> Recorder:
    return Recorder()


@pytest.fixture
def jobs() -> RecordingJobs:
    return RecordingJobs()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def gateway(engine: Any, transport: Recorder, jobs: RecordingJobs, sleeps: list[float],
            clock: FixedClock) -> SandboxGateway:
    return SandboxGateway(engine, SECRET, "http://agora.test/", transport, jobs, clock=clock,
                          sleep=sleeps.append, timeout=2.5)


def expected_sign(params: dict[str, str], secret: str = SECRET) -> str:
    """The documented canonical form, computed independently of the adapter."""
    items = sorted((k, v) for k, v in params.items() if k not in ("sign", "sign_type") and v)
    message = "&".join(f"{k}={v}" for k, v in items)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def new_payment(gateway: SandboxGateway, out_trade_no: str = "rch_1", amount: str = "12.30") -> str:
    intent = gateway.create_payment(out_trade_no, Decimal(amount), "Recharge", NOTIFY_URL)
    assert intent.gateway_trade_no is not None
    return intent.gateway_trade_no


# --- create and query ---------------------------------------------------------------

def test_create_payment_issues_an_id_and_a_local_pay_url(gateway: SandboxGateway) -> None:
    intent = gateway.create_payment("rch_1", Decimal("12.30"), "Recharge", NOTIFY_URL, "http://shop.test/back")
    assert intent.out_trade_no == "rch_1"
    assert intent.gateway_trade_no is not None and intent.gateway_trade_no.startswith("sbx_")
    assert intent.payment_url == f"http://agora.test/sandbox/pay/{intent.gateway_trade_no}"
    status = gateway.query("rch_1")
    assert (status.status, status.amount, status.gateway_trade_no, status.refunded) == (
        "pending", Decimal("12.30"), intent.gateway_trade_no, Decimal("0.00"))
    p = gateway.payment(intent.gateway_trade_no)
    assert (p.subject, p.return_url, p.status) == ("Recharge", "http://shop.test/back", "pending")


def test_create_payment_again_is_idempotent_but_not_for_another_amount(gateway: SandboxGateway) -> None:
    first = gateway.create_payment("rch_1", Decimal("5.00"), "Recharge", NOTIFY_URL)
    again = gateway.create_payment("rch_1", Decimal("5.00"), "Recharge", NOTIFY_URL)
    assert again == first
    with pytest.raises(GatewayError, match="another amount"):
        gateway.create_payment("rch_1", Decimal("6.00"), "Recharge", NOTIFY_URL)


@pytest.mark.parametrize("amount", ["0", "-1.00", "1.234", "NaN"])
def test_create_payment_refuses_bad_amounts(gateway: SandboxGateway, amount: str) -> None:
    with pytest.raises(GatewayError, match="invalid amount"):
        gateway.create_payment("rch_1", Decimal(amount), "Recharge", NOTIFY_URL)
    assert gateway.query("rch_1").status == "unknown"


def test_query_of_an_unknown_trade_is_unknown(gateway: SandboxGateway) -> None:
    status = gateway.query("nope")
    assert (status.status, status.amount, status.gateway_trade_no) == ("unknown", None, None)


# --- paying and notifications -----------------------------------------------------------

def test_paying_sends_a_signed_notification_that_verifies(gateway: SandboxGateway, transport: Recorder) -> None:
    pid = new_payment(gateway)
    result = gateway.pay(pid, "paid")
    assert (result.payment.status, result.delivered, result.scheduled, result.mode) == ("paid", 1, False, "normal")
    [(url, form, timeout)] = transport.calls
    assert url == NOTIFY_URL and timeout == 2.5
    assert set(form) == {"out_trade_no", "trade_no", "total_amount", "trade_status", "notify_id",
                         "notify_time", "sign_type", "sign"}
    assert (form["out_trade_no"], form["trade_no"], form["total_amount"], form["trade_status"]) == (
        "rch_1", pid, "12.30", "TRADE_SUCCESS")
    assert form["notify_time"] == "2026-11-22 16:00:00"  # Asia/Shanghai, as Alipay does
    assert form["sign_type"] == "HMAC-SHA256" and form["sign"] == expected_sign(form)
    notification = gateway.verify_notification(form)
    assert (notification.out_trade_no, notification.gateway_trade_no, notification.amount,
            notification.status) == ("rch_1", pid, Decimal("12.30"), "paid")
    assert isinstance(notification.amount, Decimal)
    assert gateway.query("rch_1").status == "paid"


@pytest.mark.parametrize("change", [
    {"total_amount": "1230.00"},
    {"out_trade_no": "rch_2"},
    {"trade_status": "TRADE_CLOSED"},
    {"sign": "0" * 64},
    {"sign": ""},
    {"sign_type": "RSA2"},
])
def test_tampered_notifications_are_refused(gateway: SandboxGateway, transport: Recorder,
                                            change: dict[str, str]) -> None:
    gateway.pay(new_payment(gateway), "paid")
    form = {**transport.calls[0][1], **change}
    with pytest.raises(InvalidNotification):
        gateway.verify_notification(form)


def test_a_notification_without_its_sign_is_refused(gateway: SandboxGateway, transport: Recorder) -> None:
    gateway.pay(new_payment(gateway), "paid")
    form = dict(transport.calls[0][1])
    del form["sign"]
    with pytest.raises(InvalidNotification, match="no sign"):
        gateway.verify_notification(form)


@pytest.mark.parametrize("change, message", [
    ({"trade_status": "WAIT_BUYER_PAY"}, "trade_status"),
    ({"total_amount": "abc"}, "not a decimal"),
    ({"total_amount": "1.005"}, "not an amount"),
    ({"notify_id": ""}, "missing notify_id"),
])
def test_well_signed_but_malformed_notifications_are_refused(gateway: SandboxGateway, transport: Recorder,
                                                             change: dict[str, str], message: str) -> None:
    gateway.pay(new_payment(gateway), "paid")
    form = {**transport.calls[0][1], **change}
    form["sign"] = expected_sign(form)
    with pytest.raises(InvalidNotification, match=message):
        gateway.verify_notification(form)


def test_a_notification_signed_with_another_secret_is_refused(engine: Any, gateway: SandboxGateway,
                                                              transport: Recorder) -> None:
    gateway.pay(new_payment(gateway), "paid")
    other = SandboxGateway(engine, sandbox_secret("another-secret-key-of-another-install"), "http://x")
    with pytest.raises(InvalidNotification, match="bad signature"):
        other.verify_notification(transport.calls[0][1])


def test_failed_payment_notifies_trade_closed(gateway: SandboxGateway, transport: Recorder) -> None:
    pid = new_payment(gateway)
    result = gateway.pay(pid, "failed")
    assert (result.payment.status, result.delivered) == ("failed", 1)
    form = transport.calls[0][1]
    assert form["trade_status"] == "TRADE_CLOSED"
    assert gateway.verify_notification(form).status == "failed"
    assert gateway.query("rch_1").status == "failed"


def test_duplicate_mode_delivers_the_same_notification_twice(gateway: SandboxGateway, transport: Recorder) -> None:
    result = gateway.pay(new_payment(gateway), "paid", "duplicate")
    assert result.delivered == 2
    assert len(transport.calls) == 2
    assert transport.calls[0][1] == transport.calls[1][1]
    assert gateway.verify_notification(transport.calls[1][1]).status == "paid"


def test_lost_mode_delivers_nothing_but_query_says_paid(gateway: SandboxGateway, transport: Recorder,
                                                        jobs: RecordingJobs) -> None:
    result = gateway.pay(new_payment(gateway), "paid", "lost")
    assert (result.delivered, result.scheduled) == (0, False)
    assert transport.calls == [] and jobs.enqueued == []
    status = gateway.query("rch_1")
    assert (status.status, status.amount) == ("paid", Decimal("12.30"))


def test_bad_signature_mode_sends_a_notification_that_does_not_verify(gateway: SandboxGateway,
                                                                      transport: Recorder) -> None:
    gateway.pay(new_payment(gateway), "paid", "bad_signature")
    [(_, form, _)] = transport.calls
    assert form["trade_status"] == "TRADE_SUCCESS" and form["sign"] != expected_sign(form)
    with pytest.raises(InvalidNotification, match="bad signature"):
        gateway.verify_notification(form)


def test_delay_mode_enqueues_the_job_and_the_job_delivers_when_due(
        gateway: SandboxGateway, transport: Recorder, jobs: RecordingJobs, sleeps: list[float],
        clock: FixedClock) -> None:
    pid = new_payment(gateway)
    result = gateway.pay(pid, "paid", "delay", delay_seconds=30)
    assert (result.delivered, result.scheduled) == (0, True)
    assert transport.calls == []
    assert jobs.enqueued == [("sandbox.notify", {"payment_id": pid, "mode": "normal",
                                                 "not_before": (T0 + timedelta(seconds=30)).isoformat()})]
    clock.at = T0 + timedelta(seconds=10)  # the worker picks it up 10 s later: waits the rest
    assert gateway.deliver(**jobs.enqueued[0][1]) == 1
    assert sleeps == [20.0]
    assert gateway.verify_notification(transport.calls[0][1]).status == "paid"


def test_a_due_delayed_notification_is_sent_without_waiting(gateway: SandboxGateway, transport: Recorder,
                                                            sleeps: list[float], clock: FixedClock) -> None:
    pid = new_payment(gateway)
    assert gateway.deliver(pid) == 0  # still pending: nothing to tell
    gateway.pay(pid, "paid", "lost")
    clock.at = T0 + timedelta(seconds=5)
    assert gateway.deliver(pid, not_before=T0.isoformat()) == 1
    assert sleeps == [] and len(transport.calls) == 1


def test_the_sandbox_notify_job_runs_through_the_job_registry(
        settings: Settings, gateway: SandboxGateway, transport: Recorder, jobs: RecordingJobs) -> None:
    def bind(binder: injector.Binder) -> None:
        binder.bind(PaymentGateways, to=PaymentGateways({"sandbox": gateway}))

    container = build_container(settings, bind)
    pid = new_payment(gateway)
    gateway.pay(pid, "failed", "delay", delay_seconds=0)
    name, kwargs = jobs.enqueued[0]
    assert run_job(container, name, kwargs) == 1
    assert transport.calls[0][1]["trade_status"] == "TRADE_CLOSED"


def test_delay_mode_needs_a_job_queue_and_a_sane_delay(engine: Any, gateway: SandboxGateway) -> None:
    pid = new_payment(gateway)
    with pytest.raises(ValueError, match="delay_seconds"):
        gateway.pay(pid, "paid", "delay", delay_seconds=301)
    bare = SandboxGateway(engine, SECRET, "http://agora.test", Recorder())
    with pytest.raises(ValueError, match="job queue"):
        bare.pay(pid, "paid", "delay", delay_seconds=1)
    assert gateway.query("rch_1").status == "pending"  # refused before anything changed


def test_bad_outcome_or_mode_is_refused(gateway: SandboxGateway) -> None:
    pid = new_payment(gateway)
    with pytest.raises(ValueError, match="outcome"):
        gateway.pay(pid, "maybe")
    with pytest.raises(ValueError, match="mode"):
        gateway.pay(pid, "paid", "loud")
    with pytest.raises(LookupError):
        gateway.pay("sbx_nope", "paid")


def test_a_settled_payment_cannot_change_outcome_but_can_notify_again(gateway: SandboxGateway,
                                                                      transport: Recorder) -> None:
    pid = new_payment(gateway)
    gateway.pay(pid, "paid", "lost")
    with pytest.raises(SandboxConflict, match="already paid"):
        gateway.pay(pid, "failed")
    again = gateway.pay(pid, "paid")  # like a gateway re-sending a notification
    assert (again.payment.status, again.delivered) == ("paid", 1)
    assert transport.calls[0][1]["trade_status"] == "TRADE_SUCCESS"


def test_notifications_are_retried_with_backoff_until_success(engine: Any, jobs: RecordingJobs,
                                                              sleeps: list[float]) -> None:
    flaky = Recorder("FAIL", ConnectionError("refused"), "success")
    gw = SandboxGateway(engine, SECRET, "http://agora.test", flaky, jobs, sleep=sleeps.append, backoff=0.5)
    assert gw.pay(new_payment(gw), "paid").delivered == 1
    assert len(flaky.calls) == 3 and sleeps == [0.5, 1.0]
    assert flaky.calls[0][1] == flaky.calls[2][1]  # the same notification each time


def test_a_notification_nobody_acknowledges_is_given_up_after_the_retries(
        engine: Any, jobs: RecordingJobs, sleeps: list[float]) -> None:
    dead = Recorder(*(["error"] * 10))
    gw = SandboxGateway(engine, SECRET, "http://agora.test", dead, jobs, sleep=sleeps.append, retries=3)
    assert gw.pay(new_payment(gw), "paid").delivered == 0
    assert len(dead.calls) == 4 and sleeps == [0.5, 1.0, 2.0]
    assert gw.query("rch_1").status == "paid"  # the reconciliation job will find it


# --- refunds ------------------------------------------------------------------

def test_refunds_succeed_up_to_the_amount_paid_and_query_reflects_them(gateway: SandboxGateway) -> None:
    gateway.pay(new_payment(gateway, amount="100.00"), "paid", "lost")
    first = gateway.refund("rch_1", "rf_1", Decimal("30.00"), "withdrawal")
    assert (first.refund_no, first.status) == ("rf_1", "succeeded")
    assert gateway.query("rch_1").refunded == Decimal("30.00")
    too_much = gateway.refund("rch_1", "rf_2", Decimal("70.01"), "withdrawal")
    assert (too_much.status, too_much.detail) == ("failed", "refund exceeds the amount paid")
    rest = gateway.refund("rch_1", "rf_3", Decimal("70.00"), "withdrawal")
    assert rest.status == "succeeded"
    status = gateway.query("rch_1")
    assert (status.status, status.refunded) == ("paid", Decimal("100.00"))


def test_a_refund_asked_again_gets_the_same_answer_and_moves_nothing(gateway: SandboxGateway) -> None:
    gateway.pay(new_payment(gateway), "paid", "lost")
    assert gateway.refund("rch_1", "rf_1", Decimal("10.00"), "x").status == "succeeded"
    again = gateway.refund("rch_1", "rf_1", Decimal("10.00"), "x")
    assert (again.status, again.detail) == ("succeeded", "already processed")
    assert gateway.query("rch_1").refunded == Decimal("10.00")
    reused = gateway.refund("rch_1", "rf_1", Decimal("1.00"), "x")
    assert (reused.status, reused.detail) == ("failed", "refund_no already used for another refund")


def test_refunds_of_unpaid_or_unknown_trades_fail(gateway: SandboxGateway) -> None:
    new_payment(gateway)
    assert gateway.refund("rch_1", "rf_1", Decimal("1.00"), "x").detail == "trade is pending"
    assert gateway.refund("nope", "rf_2", Decimal("1.00"), "x").detail == "trade not found"
    assert gateway.refund("rch_1", "rf_3", Decimal("0"), "x").status == "failed"
    assert gateway.query("rch_1").refunded == Decimal("0.00")


def test_refunds_can_be_told_to_fail_or_stay_pending(gateway: SandboxGateway) -> None:
    gateway.pay(new_payment(gateway), "paid", "lost")
    gateway.refund_outcome = "pending"
    assert gateway.refund("rch_1", "rf_1", Decimal("5.00"), "x").status == "pending"
    gateway.refund_outcome = "failed"
    assert gateway.refund("rch_1", "rf_2", Decimal("5.00"), "x").status == "failed"
    gateway.refund_outcome = None
    assert gateway.refund("rch_1", "rf_1", Decimal("5.00"), "x").status == "succeeded"  # the pending one, retried
    assert gateway.query("rch_1").refunded == Decimal("5.00")


# --- the default transport against a local HTTP server ---------------------------------

@pytest.fixture
def endpoint() -> Iterator[tuple[str, list[dict[str, list[str]]]]]:
    received: list[dict[str, list[str]]] = []
    answers = ["busy", "success"]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            assert self.headers["Content-Type"] == "application/x-www-form-urlencoded"
            received.append(parse_qs(self.rfile.read(length).decode()))
            payload = (answers.pop(0) if answers else "success").encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/notify", received
    server.shutdown()
    server.server_close()


def test_the_default_transport_posts_the_form_over_http(engine: Any, endpoint: Any, sleeps: list[float]) -> None:
    url, received = endpoint
    assert requests_transport(url, {"a": "1"}, 5.0) == "busy"
    gw = SandboxGateway(engine, SECRET, "http://agora.test", sleep=sleeps.append)
    gw.create_payment("rch_http", Decimal("8.00"), "Recharge", url)
    assert gw.pay(gw.query("rch_http").gateway_trade_no or "", "paid").delivered == 1
    assert len(received) == 2 and sleeps == []
    form = {k: v[0] for k, v in received[1].items()}
    assert gw.verify_notification(form).amount == Decimal("8.00")


# --- the pay page ---------------------------------------------------------------

@pytest.fixture
def web(engine: Any, settings: Settings, overrides: list[Any], jobs: RecordingJobs,
        sleeps: list[float]) -> Any:
    """An app whose sandbox gateway notifies a fake endpoint of the same app."""
    holder: dict[str, Any] = {}
    received: list[dict[str, str]] = []

    def via_client(url: str, form: dict[str, str], timeout: float) -> str:
        return client_transport(holder["client"])(url, form, timeout)

    gw = SandboxGateway(engine, SECRET, "http://agora.test", via_client, jobs, sleep=sleeps.append)

    def bind(binder: injector.Binder) -> None:
        binder.bind(PaymentGateways, to=PaymentGateways({"sandbox": gw}))

    app = create_app(settings, container=build_container(settings, *overrides, bind))
    app.testing = True

    def fake_notify() -> Any:
        assert request.args.get("x") == "1"  # the notify URL's query string survives
        received.append(dict(request.form))
        return "success"

    app.add_url_rule("/test/notify", "fake_notify", fake_notify, methods=["POST"])
    holder["client"] = app.test_client()
    return holder["client"], gw, received


def _pay_page_payment(gw: SandboxGateway, subject: str = "Recharge <b>now</b>") -> str:
    intent = gw.create_payment("rch_web", Decimal("12.30"), subject, "http://agora.test/test/notify?x=1")
    assert intent.gateway_trade_no is not None
    return intent.gateway_trade_no


def test_the_pay_page_renders_offline_with_the_amount(web: Any) -> None:
    client, gw, _ = web
    pid = _pay_page_payment(gw)
    r = client.get(f"/sandbox/pay/{pid}")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert '<div class="amount" id="amount">&#165; 12.30</div>' in html
    assert "rch_web" in html and '<dd id="status">pending</dd>' in html
    assert "Recharge &lt;b&gt;now&lt;/b&gt;" in html and "<b>now</b>" not in html  # escaped
    assert 'value="paid"' in html and 'value="failed"' in html
    for mode in ("normal", "delay", "duplicate", "lost", "bad_signature"):
        assert f'<option value="{mode}">' in html
    assert "://" not in html and "//" not in re.sub(r"<!doctype html>", "", html, flags=re.I)
    assert not re.search(r"<(script|link|img|iframe)\b", html, re.I)


def test_paying_on_the_page_notifies_our_endpoint(web: Any) -> None:
    client, gw, received = web
    pid = _pay_page_payment(gw)
    r = client.post(f"/sandbox/pay/{pid}", json={"outcome": "paid"})
    assert r.status_code == 200
    assert r.get_json() == {"payment_id": pid, "out_trade_no": "rch_web", "amount": "12.30", "status": "paid",
                            "mode": "normal", "delivered": 1, "scheduled": False}
    [form] = received
    n = gw.verify_notification(form)
    assert (n.out_trade_no, n.amount, n.status) == ("rch_web", Decimal("12.30"), "paid")


def test_the_page_form_pays_and_shows_the_result(web: Any) -> None:
    client, gw, received = web
    pid = _pay_page_payment(gw)
    r = client.post(f"/sandbox/pay/{pid}", data={"outcome": "failed", "mode": "duplicate", "delay_seconds": ""})
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert '<dd id="status">failed</dd>' in html
    assert "2 notification(s) acknowledged (duplicate)" in html
    assert [f["trade_status"] for f in received] == ["TRADE_CLOSED", "TRADE_CLOSED"]


def test_the_page_schedules_a_delayed_notification(web: Any, jobs: RecordingJobs) -> None:
    client, gw, received = web
    pid = _pay_page_payment(gw)
    r = client.post(f"/sandbox/pay/{pid}", json={"outcome": "paid", "mode": "delay", "delay_seconds": 15})
    assert r.get_json()["scheduled"] is True and r.get_json()["delivered"] == 0
    assert received == [] and jobs.enqueued[0][0] == "sandbox.notify"


def test_the_pay_page_errors(web: Any) -> None:
    client, gw, _ = web
    assert client.get("/sandbox/pay/sbx_nope").get_json()["error"]["code"] == "not_found"
    r = client.post("/sandbox/pay/sbx_nope", json={"outcome": "paid"})
    assert (r.status_code, r.get_json()["error"]["code"]) == (404, "not_found")
    pid = _pay_page_payment(gw)
    r = client.post(f"/sandbox/pay/{pid}", json={"outcome": "maybe"})
    assert r.status_code == 422 and "outcome" in r.get_json()["error"]["details"]
    r = client.post(f"/sandbox/pay/{pid}", json={"outcome": "paid", "delay_seconds": 301, "mode": "delay"})
    assert r.status_code == 422 and "delay_seconds" in r.get_json()["error"]["details"]
    assert client.post(f"/sandbox/pay/{pid}", json={"outcome": "paid", "mode": "lost"}).status_code == 200
    r = client.post(f"/sandbox/pay/{pid}", json={"outcome": "failed"})
    assert (r.status_code, r.get_json()["error"]["code"]) == (409, "payment_already_settled")
    assert gw.query("rch_web").status == "paid"


def test_the_pay_page_is_404_when_no_sandbox_gateway_is_bound(engine: Any, settings: Settings) -> None:
    def bind(binder: injector.Binder) -> None:
        binder.bind(PaymentGateways, to=PaymentGateways({}))

    # the container always binds PaymentGateways (sandbox included); this override has none
    for modules in ([bind],):
        bare = create_app(settings, container=build_container(settings, *modules)).test_client()
        r = bare.get("/sandbox/pay/sbx_x")
        assert (r.status_code, r.get_json()["error"]["code"]) == (404, "not_found")
        assert "sandbox payment gateway is not configured" in r.get_json()["error"]["message"]


def test_the_pay_page_does_not_exist_with_a_real_gateway(engine: Any, settings: Settings) -> None:
    prod = Settings(**{**settings.__dict__, "payment": "alipay"})
    app = create_app(prod, container=build_container(prod))
    assert not any(rule.rule.startswith("/sandbox") for rule in app.url_map.iter_rules())
    assert app.test_client().post("/sandbox/pay/sbx_x", json={"outcome": "paid"}).status_code == 404
    sandbox_app = create_app(settings, container=build_container(settings))
    assert {r.rule for r in sandbox_app.url_map.iter_rules() if r.rule.startswith("/sandbox")} == {
        "/sandbox/pay/<payment_id>"}
