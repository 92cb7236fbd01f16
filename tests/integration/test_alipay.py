"""The Alipay adapter with real RSA2 signatures and no network.

The test plays Alipay: it generates two RSA key pairs (the app's and "Alipay's"),
signs notifications and API responses with Alipay's private key, and checks the
requests the adapter signs with the app's public key. ``alipay.trade.refund`` and
``alipay.trade.query`` go to a local stub HTTP server.
"""
from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import injector
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from adapters.payment.alipay import AlipayGateway
from application.shared.access import Caller
from application.shared.settings import Settings
from application.shared.uow import UnitOfWorkFactory
from application.wallet import RechargeService, WalletService
from application.wallet.payments import GatewayError, InvalidNotification, PaymentGateways
from domain.identity.model import Organization
from domain.identity.ports import OrganizationRepository

APP_ID = "2021000000000001"


@dataclass(frozen=True)
class KeyPair:
    private: rsa.RSAPrivateKey

    @property
    def private_pem(self) -> str:
        return self.private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()).decode()

    @property
    def public_pem(self) -> str:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, message: str) -> str:
        raw = self.private.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(raw).decode()

    def verifies(self, message: str, signature: str) -> bool:
        try:
            self.private.public_key().verify(base64.b64decode(signature), message.encode(),
                                             padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return False
        return True


def _key() -> KeyPair:
    return KeyPair(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def app_key() -> KeyPair:
    return _key()


@pytest.fixture(scope="module")
def alipay_key() -> KeyPair:
    return _key()


def unsigned(params: dict[str, str], *, skip_sign_type: bool) -> str:
    drop = {"sign", "sign_type"} if skip_sign_type else {"sign"}
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in drop)


def notification(key: KeyPair, **changes: str) -> dict[str, str]:
    """An asynchronous notification as Alipay posts it, signed by ``key``."""
    params = {
        "gmt_create": "2026-11-22 16:00:00", "charset": "utf-8", "seller_email": "shop@example.com",
        "subject": "账户充值 Agora", "buyer_id": "2088102177846880", "invoice_amount": "12.30",
        "notify_id": "2026112200222160000093241428",
        "fund_bill_list": '[{"amount":"12.30","fundChannel":"ALIPAYACCOUNT"}]',
        "notify_type": "trade_status_sync", "trade_status": "TRADE_SUCCESS", "receipt_amount": "12.30",
        "app_id": APP_ID, "buyer_pay_amount": "12.30", "seller_id": "2088102176762020",
        "gmt_payment": "2026-11-22 16:00:05", "notify_time": "2026-11-22 16:00:05", "version": "1.0",
        "out_trade_no": "rch_1", "total_amount": "12.30", "trade_no": "2026112222001446880500000001",
        "auth_app_id": APP_ID, "point_amount": "0.00", "sign_type": "RSA2",
    }
    params.update(changes)
    params["sign"] = key.sign(unsigned(params, skip_sign_type=True))
    return params


@pytest.fixture
def gateway(app_key: KeyPair, alipay_key: KeyPair) -> AlipayGateway:
    return AlipayGateway(APP_ID, app_key.private_pem, alipay_key.public_pem, "https://openapi.alipay.test/gateway.do",
                         "https://agora.test/api/v1/payments/alipay/notify")


# --- notifications -----------------------------------------------------------------

def test_a_notification_signed_by_alipay_verifies_as_paid(gateway: AlipayGateway, alipay_key: KeyPair) -> None:
    n = gateway.verify_notification(notification(alipay_key))
    assert (n.out_trade_no, n.gateway_trade_no, n.amount, n.status) == (
        "rch_1", "2026112222001446880500000001", Decimal("12.30"), "paid")
    assert isinstance(n.amount, Decimal)


@pytest.mark.parametrize("trade_status, status", [("TRADE_SUCCESS", "paid"), ("TRADE_FINISHED", "paid"),
                                                  ("TRADE_CLOSED", "failed")])
def test_final_trade_states(gateway: AlipayGateway, alipay_key: KeyPair, trade_status: str, status: str) -> None:
    assert gateway.verify_notification(notification(alipay_key, trade_status=trade_status)).status == status


def test_a_waiting_trade_is_not_a_payment(gateway: AlipayGateway, alipay_key: KeyPair) -> None:
    with pytest.raises(InvalidNotification, match="WAIT_BUYER_PAY is not final"):
        gateway.verify_notification(notification(alipay_key, trade_status="WAIT_BUYER_PAY"))


@pytest.mark.parametrize("change", [{"total_amount": "1230.00"}, {"out_trade_no": "rch_2"},
                                    {"trade_status": "TRADE_CLOSED"}, {"extra": "1"}])
def test_a_tampered_notification_is_refused(gateway: AlipayGateway, alipay_key: KeyPair,
                                            change: dict[str, str]) -> None:
    params = {**notification(alipay_key), **change}
    with pytest.raises(InvalidNotification, match="bad signature"):
        gateway.verify_notification(params)


def test_a_notification_signed_by_someone_else_is_refused(gateway: AlipayGateway, app_key: KeyPair) -> None:
    with pytest.raises(InvalidNotification, match="bad signature"):
        gateway.verify_notification(notification(app_key))


@pytest.mark.parametrize("change, message", [
    ({"sign": ""}, "no sign"),
    ({"sign": "not base64 at all!"}, "signature"),
    ({"sign_type": "RSA"}, "sign_type"),
])
def test_unusable_signatures_are_refused(gateway: AlipayGateway, alipay_key: KeyPair,
                                         change: dict[str, str], message: str) -> None:
    params = {**notification(alipay_key), **change}
    with pytest.raises(InvalidNotification, match=message):
        gateway.verify_notification(params)


@pytest.mark.parametrize("change, message", [
    ({"app_id": "2021999999999999"}, "another app"),
    ({"total_amount": "12.345"}, "not an amount"),
    ({"total_amount": "twelve"}, "not a decimal"),
    ({"trade_no": ""}, "missing trade_no"),
])
def test_well_signed_but_wrong_notifications_are_refused(gateway: AlipayGateway, alipay_key: KeyPair,
                                                         change: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidNotification, match=message):
        gateway.verify_notification(notification(alipay_key, **change))


# --- page pay ----------------------------------------------------------------------

def test_the_page_pay_url_is_signed_with_the_app_key(gateway: AlipayGateway, app_key: KeyPair,
                                                     alipay_key: KeyPair) -> None:
    intent = gateway.create_payment("rch_1", Decimal("12.30"), "账户充值", "https://agora.test/notify",
                                    "https://agora.test/back")
    assert intent.out_trade_no == "rch_1" and intent.gateway_trade_no is None
    url = urlsplit(intent.payment_url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://openapi.alipay.test/gateway.do"
    params = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
    assert (params["app_id"], params["method"], params["sign_type"], params["charset"]) == (
        APP_ID, "alipay.trade.page.pay", "RSA2", "utf-8")
    assert (params["notify_url"], params["return_url"]) == ("https://agora.test/notify", "https://agora.test/back")
    assert json.loads(params["biz_content"]) == {"subject": "账户充值", "out_trade_no": "rch_1",
                                                 "total_amount": "12.30", "product_code": "FAST_INSTANT_TRADE_PAY"}
    # requests are signed over every parameter but ``sign`` itself
    assert app_key.verifies(unsigned(params, skip_sign_type=False), params["sign"])
    assert not alipay_key.verifies(unsigned(params, skip_sign_type=False), params["sign"])
    params["biz_content"] = params["biz_content"].replace("12.30", "0.01")
    assert not app_key.verifies(unsigned(params, skip_sign_type=False), params["sign"])


def test_the_default_notify_url_is_used_when_none_is_given(gateway: AlipayGateway) -> None:
    intent = gateway.create_payment("rch_1", Decimal("1.00"), "x", "")
    params = parse_qs(urlsplit(intent.payment_url).query)
    assert params["notify_url"] == ["https://agora.test/api/v1/payments/alipay/notify"]
    assert "return_url" not in params


def test_from_settings_reads_the_key_files(tmp_path: Path, app_key: KeyPair, alipay_key: KeyPair) -> None:
    (tmp_path / "app.pem").write_text(app_key.private_pem)
    (tmp_path / "alipay.pem").write_text(alipay_key.public_pem)
    settings = Settings(alipay_app_id=APP_ID, alipay_private_key_path=str(tmp_path / "app.pem"),
                        alipay_public_key_path=str(tmp_path / "alipay.pem"),
                        alipay_gateway="https://gw.test/gateway.do", base_url="https://agora.example/")
    gw = AlipayGateway.from_settings(settings)
    assert (gw.channel, gw.app_id, gw.gateway_url, gw.notify_url) == (
        "alipay", APP_ID, "https://gw.test/gateway.do", "https://agora.example/api/v1/payments/alipay/notify")
    assert gw.verify_notification(notification(alipay_key)).status == "paid"
    with pytest.raises(ValueError, match="PRIVATE_KEY_PATH"):
        AlipayGateway.from_settings(Settings(alipay_app_id=APP_ID))


# --- refund and query against a stub gateway -----------------------------------------

Responder = Callable[[str, dict[str, Any]], tuple[int, str]]


@dataclass
class StubAlipay:
    """A local HTTP gateway: checks each request's signature, answers with ``respond``."""

    app_key: KeyPair
    alipay_key: KeyPair
    url: str = ""
    respond: Responder | None = None
    requests: list[dict[str, str]] = field(default_factory=list)
    request_signature_ok: list[bool] = field(default_factory=list)

    def signed(self, method: str, payload: dict[str, Any], key: KeyPair | None = None) -> str:
        """A response body as Alipay writes it: ``sign`` covers the exact JSON text of the payload."""
        inner = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        sign = (key or self.alipay_key).sign(inner)
        return '{"' + method.replace(".", "_") + '_response":' + inner + ',"sign":"' + sign + '"}'


@pytest.fixture
def stub(app_key: KeyPair, alipay_key: KeyPair) -> Iterator[StubAlipay]:
    state = StubAlipay(app_key, alipay_key)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            params = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            state.requests.append(params)
            state.request_signature_ok.append(
                state.app_key.verifies(unsigned(params, skip_sign_type=False), params.get("sign", "")))
            assert state.respond is not None
            status, text = state.respond(params["method"], json.loads(params["biz_content"]))
            payload = text.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/html;charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except BrokenPipeError:  # the client gave up (the timeout test)
                pass

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/gateway.do"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def remote(stub: StubAlipay, app_key: KeyPair, alipay_key: KeyPair) -> AlipayGateway:
    return AlipayGateway(APP_ID, app_key.private_pem, alipay_key.public_pem, stub.url, timeout=2.0)


def answer(stub: StubAlipay, payload: dict[str, Any], key: KeyPair | None = None) -> Responder:
    return lambda method, biz: (200, stub.signed(method, payload, key))


QUERY_OK = {"code": "10000", "msg": "Success", "buyer_logon_id": "csq***@sandbox.com", "buyer_pay_amount": "0.00",
            "buyer_user_id": "2088102177846880", "invoice_amount": "0.00", "out_trade_no": "rch_1",
            "point_amount": "0.00", "receipt_amount": "0.00", "send_pay_date": "2026-11-22 16:00:05",
            "total_amount": "12.30", "trade_no": "2026112222001446880500000001", "trade_status": "TRADE_SUCCESS"}


@pytest.mark.parametrize("trade_status, status", [("TRADE_SUCCESS", "paid"), ("TRADE_FINISHED", "paid"),
                                                  ("WAIT_BUYER_PAY", "pending"), ("TRADE_CLOSED", "failed")])
def test_query_maps_the_trade_status(remote: AlipayGateway, stub: StubAlipay, trade_status: str,
                                     status: str) -> None:
    stub.respond = answer(stub, {**QUERY_OK, "trade_status": trade_status})
    result = remote.query("rch_1")
    assert (result.out_trade_no, result.status, result.amount, result.gateway_trade_no) == (
        "rch_1", status, Decimal("12.30"), "2026112222001446880500000001")
    [request] = stub.requests
    assert request["method"] == "alipay.trade.query" and request["app_id"] == APP_ID
    assert json.loads(request["biz_content"]) == {"out_trade_no": "rch_1"}
    assert stub.request_signature_ok == [True]


def test_query_of_a_trade_alipay_never_saw_is_unknown(remote: AlipayGateway, stub: StubAlipay) -> None:
    stub.respond = answer(stub, {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST",
                                 "sub_msg": "交易不存在", "out_trade_no": "rch_1"})
    result = remote.query("rch_1")
    assert (result.status, result.amount, result.gateway_trade_no) == ("unknown", None, None)


def test_query_refused_for_another_reason_is_a_gateway_error(remote: AlipayGateway, stub: StubAlipay) -> None:
    stub.respond = answer(stub, {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-app-id",
                                 "sub_msg": "无效的AppID参数"})
    with pytest.raises(GatewayError, match=r"isv\.invalid-app-id"):
        remote.query("rch_1")


def test_a_response_not_signed_by_alipay_is_a_gateway_error(remote: AlipayGateway, stub: StubAlipay,
                                                            app_key: KeyPair) -> None:
    stub.respond = answer(stub, QUERY_OK, key=app_key)
    with pytest.raises(GatewayError, match="AliPayValidationError"):
        remote.query("rch_1")


def test_a_tampered_response_is_a_gateway_error(remote: AlipayGateway, stub: StubAlipay) -> None:
    good = stub.signed("alipay.trade.query", QUERY_OK)
    stub.respond = lambda method, biz: (200, good.replace('"total_amount":"12.30"', '"total_amount":"99.99"'))
    with pytest.raises(GatewayError, match="AliPayValidationError"):
        remote.query("rch_1")


def test_refund_succeeds(remote: AlipayGateway, stub: StubAlipay) -> None:
    stub.respond = answer(stub, {"code": "10000", "msg": "Success", "buyer_logon_id": "csq***@sandbox.com",
                                 "fund_change": "Y", "gmt_refund_pay": "2026-11-22 17:00:00",
                                 "out_trade_no": "rch_1", "refund_fee": "5.00",
                                 "trade_no": "2026112222001446880500000001"})
    result = remote.refund("rch_1", "rf_1", Decimal("5"), "withdrawal")
    assert (result.refund_no, result.status, result.detail) == ("rf_1", "succeeded", "fund_change=Y")
    [request] = stub.requests
    assert request["method"] == "alipay.trade.refund"
    assert json.loads(request["biz_content"]) == {"refund_amount": "5.00", "out_trade_no": "rch_1",
                                                  "out_request_no": "rf_1", "refund_reason": "withdrawal"}
    assert stub.request_signature_ok == [True]


def test_a_refused_refund_fails_with_alipays_reason(remote: AlipayGateway, stub: StubAlipay) -> None:
    stub.respond = answer(stub, {"code": "40004", "msg": "Business Failed",
                                 "sub_code": "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "sub_msg": "退款金额超限"})
    result = remote.refund("rch_1", "rf_1", Decimal("500.00"), "withdrawal")
    assert result.status == "failed"
    assert result.detail == "40004 Business Failed ACQ.REFUND_AMT_NOT_EQUAL_TOTAL 退款金额超限"


def test_a_refund_hit_by_a_system_error_stays_pending(remote: AlipayGateway, stub: StubAlipay) -> None:
    stub.respond = answer(stub, {"code": "20000", "msg": "Service Currently Unavailable",
                                 "sub_code": "aop.ACQ.SYSTEM_ERROR", "sub_msg": "系统繁忙"})
    assert remote.refund("rch_1", "rf_1", Decimal("5.00"), "x").status == "pending"
    stub.respond = answer(stub, {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.SYSTEM_ERROR",
                                 "sub_msg": "系统错误"})
    assert remote.refund("rch_1", "rf_1", Decimal("5.00"), "x").status == "pending"


@pytest.mark.parametrize("status, body", [
    (500, "Internal Server Error"),
    (502, ""),
    (200, "<html>maintenance</html>"),
    (200, '{"error_response":{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-signature"}}'),
])
def test_transport_and_protocol_errors_are_gateway_errors(remote: AlipayGateway, stub: StubAlipay,
                                                          status: int, body: str) -> None:
    stub.respond = lambda method, biz: (status, body)
    with pytest.raises(GatewayError):
        remote.query("rch_1")
    with pytest.raises(GatewayError):
        remote.refund("rch_1", "rf_1", Decimal("5.00"), "x")


def test_an_unreachable_gateway_is_a_gateway_error(app_key: KeyPair, alipay_key: KeyPair) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gw = AlipayGateway(APP_ID, app_key.private_pem, alipay_key.public_pem, f"http://127.0.0.1:{port}/gateway.do")
    with pytest.raises(GatewayError, match="URLError"):
        gw.query("rch_1")
    with pytest.raises(GatewayError, match="URLError"):
        gw.refund("rch_1", "rf_1", Decimal("1.00"), "x")


def test_a_gateway_that_does_not_answer_in_time_is_a_gateway_error(stub: StubAlipay, app_key: KeyPair,
                                                                   alipay_key: KeyPair) -> None:
    def slow(method: str, biz: dict[str, Any]) -> tuple[int, str]:
        time.sleep(1.0)
        return 200, stub.signed(method, QUERY_OK)

    stub.respond = slow
    gw = AlipayGateway(APP_ID, app_key.private_pem, alipay_key.public_pem, stub.url, timeout=0.2)
    with pytest.raises(GatewayError, match=r"(?i)timeout|timed out"):
        gw.query("rch_1")


# --- through the recharge service, on both databases ----------------------------------------

@pytest.fixture
def overrides(overrides: list[injector.Module], gateway: AlipayGateway) -> list[injector.Module]:
    def configure(binder: injector.Binder) -> None:
        binder.bind(PaymentGateways, to=PaymentGateways({"alipay": gateway}))

    return [*overrides, configure]  # type: ignore[list-item]


def test_an_alipay_recharge_keeps_its_whole_page_pay_url_and_credits_on_notification(
        container: injector.Injector, alipay_key: KeyPair) -> None:
    org = Organization.create("Acme", ["customer"], datetime.now(UTC))
    with container.get(UnitOfWorkFactory)() as uow:
        uow.repo(OrganizationRepository).add(org)
        uow.commit()
    owner = Caller(org_id=org.id, org_kinds=frozenset({"customer"}), roles=("customer_admin",), user_id="usr_1")
    svc = container.get(RechargeService)
    issued = svc.recharge(owner, org.id, Decimal("12.30"), "alipay", "a note long enough " * 10).recharge
    assert len(issued.payment_url or "") > 500  # the order and its RSA2 signature ride in the URL
    stored = svc.get_recharge(owner, org.id, issued.id)
    assert (stored.status, stored.payment_url) == ("pending", issued.payment_url)
    result = svc.handle_notification("alipay", notification(alipay_key, out_trade_no=issued.id))
    assert (result.status, result.credited) == ("paid", True)
    assert container.get(WalletService).wallet(owner, org.id).figures.cash == Decimal("12.30")
