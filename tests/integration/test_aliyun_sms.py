"""Aliyun SMS adapter against a local stub of the RPC endpoint that checks signatures."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest
from freezegun import freeze_time

from adapters.notifications.aliyun_sms import AliyunSms, percent_encode, sign, string_to_sign
from application.shared.notifications import NotificationError, SmsMessage
from application.shared.settings import Settings

KEY_ID = "LTAI-test-key"
SECRET = "s3cr3t/with+odd=chars"

# Alibaba Cloud's documented RPC signing example (ECS DescribeRegions, secret "testsecret").
DOC_PARAMS = {
    "AccessKeyId": "testid", "Action": "DescribeRegions", "Format": "XML", "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf", "SignatureVersion": "1.0",
    "Timestamp": "2016-02-23T12:46:24Z", "Version": "2014-05-26",
}
DOC_STRING_TO_SIGN = (
    "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1"
    "%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0"
    "%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
)
DOC_SIGNATURE = "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def spec_encode(text: str) -> str:
    """The documented rule, byte by byte: only A-Z a-z 0-9 - _ . ~ stay literal."""
    keep = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
    return "".join(chr(b) if b in keep else f"%{b:02X}" for b in text.encode("utf-8"))


def spec_signature(method: str, params: dict[str, str], secret: str) -> str:
    canonical = "&".join(f"{spec_encode(k)}={spec_encode(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{spec_encode('/')}&{spec_encode(canonical)}"
    return base64.b64encode(hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()).decode()


# -- known answers ----------------------------------------------------------------

def test_signature_matches_alibaba_documented_example():
    assert string_to_sign("GET", DOC_PARAMS) == DOC_STRING_TO_SIGN
    assert sign(DOC_PARAMS, "testsecret", "GET") == DOC_SIGNATURE


def test_percent_encoding_rules():
    assert percent_encode("a b*c~d+e/f:中") == "a%20b%2Ac~d%2Be%2Ff%3A%E4%B8%AD"
    assert percent_encode("-_.~AZaz09") == "-_.~AZaz09"


def test_send_sms_signature_matches_an_independent_computation():
    params = {
        "AccessKeyId": "testId", "Action": "SendSms", "Format": "JSON", "PhoneNumbers": "13800000001",
        "SignName": "阿里云短信 测试*专用", "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "n-1~x",
        "SignatureVersion": "1.0", "TemplateCode": "SMS_71390007", "TemplateParam": '{"code":"123456"}',
        "Timestamp": "2025-01-02T03:04:05Z", "Version": "2017-05-25",
    }
    expected = spec_signature("POST", params, "testSecret")
    assert sign(params, "testSecret", "POST") == expected
    assert sign(params, "testSecret", "GET") != expected
    assert sign(params, "otherSecret", "POST") != expected


# -- against the stub --------------------------------------------------------------

class StubAliyun:
    """Verifies the signature with ``secret``, records requests, answers ``code``."""

    def __init__(self) -> None:
        self.secret = SECRET
        self.code = "OK"
        self.requests: list[dict[str, str]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"])).decode("ascii")
                params = dict(parse_qsl(raw, keep_blank_values=True, strict_parsing=True))
                stub.requests.append(params)
                status, answer = stub.answer(self.headers.get("Content-Type", ""), params)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, content_type: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        rid = {"RequestId": "REQ-1"}
        if content_type != "application/x-www-form-urlencoded":
            return 400, {"Code": "InvalidContentType", "Message": content_type, **rid}
        given = params.pop("Signature", "")
        if given != spec_signature("POST", params, self.secret):
            return 400, {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched", **rid}
        fixed = {"Action": "SendSms", "Version": "2017-05-25", "Format": "JSON", "SignatureMethod": "HMAC-SHA1",
                 "SignatureVersion": "1.0", "AccessKeyId": KEY_ID}
        for name, value in fixed.items():
            if params.get(name) != value:
                return 400, {"Code": "InvalidParameter", "Message": f"{name}={params.get(name)!r}", **rid}
        try:
            datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ")
        except (KeyError, ValueError):
            return 400, {"Code": "InvalidTimeStamp.Format", "Message": params.get("Timestamp"), **rid}
        if not params.get("SignatureNonce"):
            return 400, {"Code": "MissingSignatureNonce", "Message": "", **rid}
        if self.code != "OK":
            return 200, {"Code": self.code, "Message": "provider says no", **rid}
        return 200, {"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0", **rid}


@pytest.fixture
def stub() -> Iterator[StubAliyun]:
    s = StubAliyun()
    s.thread.start()
    yield s
    s.server.shutdown()
    s.server.server_close()


def adapter(url: str, secret: str = SECRET) -> AliyunSms:
    settings = Settings(aliyun_access_key_id=KEY_ID, aliyun_access_key_secret=secret, aliyun_sms_endpoint=url,
                        aliyun_sms_sign_name="阿戈拉", aliyun_sms_template_code="SMS_DEFAULT")
    return AliyunSms.from_settings(settings, template_codes={"login_code": "SMS_LOGIN"})


LOGIN = SmsMessage(phone="13800000001", template="login_code", params={"code": "123456"},
                   text="Your Agora login code is 123456.")


def test_sends_and_returns_the_biz_id(stub):
    assert adapter(stub.url).send(LOGIN) == "900619746936498440^0"
    [req] = stub.requests
    assert req["PhoneNumbers"] == "13800000001"
    assert req["SignName"] == "阿戈拉"
    assert req["TemplateCode"] == "SMS_LOGIN"
    assert json.loads(req["TemplateParam"]) == {"code": "123456"}


def test_unmapped_template_uses_the_default_code_and_escapes_params(stub):
    msg = SmsMessage(phone="13800000002", template="ticket_replied", params={"title": "工单 *1* 已回复 ~ ok"},
                     text="x")
    assert adapter(stub.url).send(msg)
    [req] = stub.requests
    assert req["TemplateCode"] == "SMS_DEFAULT"
    assert json.loads(req["TemplateParam"]) == {"title": "工单 *1* 已回复 ~ ok"}


def test_each_request_gets_a_fresh_nonce(stub):
    sms = adapter(stub.url)
    sms.send(LOGIN)
    sms.send(LOGIN)
    assert stub.requests[0]["SignatureNonce"] != stub.requests[1]["SignatureNonce"]


def test_wrong_secret_is_refused(stub):
    with pytest.raises(NotificationError, match=r"SignatureDoesNotMatch.*HTTP 400.*REQ-1"):
        adapter(stub.url, secret="not-the-secret").send(LOGIN)
    assert len(stub.requests) == 1


def test_provider_error_code_raises(stub):
    stub.code = "isv.BUSINESS_LIMIT_CONTROL"
    with pytest.raises(NotificationError, match=r"isv\.BUSINESS_LIMIT_CONTROL.*provider says no"):
        adapter(stub.url).send(LOGIN)


def test_unreachable_endpoint_raises():
    with socket.socket() as s:  # a port that was free a moment ago and has no listener
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(NotificationError, match="unreachable"):
        adapter(f"http://127.0.0.1:{port}/").send(LOGIN)


def test_non_json_answer_raises():
    class Html(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(502)
            self.send_header("Content-Length", "9")
            self.end_headers()
            self.wfile.write(b"<html/>\r\n")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Html)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(NotificationError, match="HTTP 502, not JSON"):
            adapter(f"http://127.0.0.1:{server.server_port}/").send(LOGIN)
    finally:
        server.shutdown()
        server.server_close()


@freeze_time("2025-06-30 16:30:05")
def test_timestamp_is_utc_iso8601():
    params = AliyunSms(KEY_ID, SECRET, "S", "SMS_1").signed_params(LOGIN)
    assert params["Timestamp"] == "2025-06-30T16:30:05Z"
    assert params["Signature"] == spec_signature("POST", {k: v for k, v in params.items() if k != "Signature"},
                                                 SECRET)
