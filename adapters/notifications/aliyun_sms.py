"""Aliyun SMS (dysmsapi ``SendSms``) over its signed HTTP RPC API, with ``requests``.

Signature version 1.0 (HMAC-SHA1), as documented by Alibaba Cloud for RPC APIs:
sort the parameters, percent-encode names and values (only ``A-Za-z0-9-_.~`` stay
literal, space is ``%20``), join them into the canonical query, sign
``METHOD&%2F&percentEncode(canonical query)`` with ``secret + "&"`` and base64 it.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests

from application.shared.notifications import NotificationError, SmsMessage, SmsSender
from application.shared.settings import Settings

log = logging.getLogger("agora.notifications.aliyun")

API_VERSION = "2017-05-25"


def percent_encode(value: str) -> str:
    """RFC 3986 encoding of UTF-8 bytes: ``quote`` keeps only ``A-Za-z0-9-_.~`` literal."""
    return quote(value, safe="")


def canonical_query(params: Mapping[str, str]) -> str:
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"


def sign(params: Mapping[str, str], secret: str, method: str = "POST") -> str:
    """The ``Signature`` of ``params`` (which must not contain ``Signature`` itself)."""
    digest = hmac.new(f"{secret}&".encode(), string_to_sign(method, params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _nonce() -> str:
    return uuid.uuid4().hex


class AliyunSms(SmsSender):
    """``template_codes`` maps platform template names to Aliyun template codes;
    templates not in it use ``default_template_code``."""

    def __init__(self, access_key_id: str, access_key_secret: str, sign_name: str, default_template_code: str,
                 *, endpoint: str = "https://dysmsapi.aliyuncs.com/",
                 template_codes: Mapping[str, str] | None = None, timeout: float = 10.0,
                 session: requests.Session | None = None,
                 timestamp: Callable[[], str] = _timestamp, nonce: Callable[[], str] = _nonce) -> None:
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.sign_name = sign_name
        self.default_template_code = default_template_code
        self.endpoint = endpoint
        self.template_codes = dict(template_codes or {})
        self.timeout = timeout
        self.session = session or requests.Session()
        self._timestamp = timestamp
        self._nonce = nonce

    @classmethod
    def from_settings(cls, settings: Settings, template_codes: Mapping[str, str] | None = None) -> AliyunSms:
        return cls(settings.aliyun_access_key_id, settings.aliyun_access_key_secret, settings.aliyun_sms_sign_name,
                   settings.aliyun_sms_template_code, endpoint=settings.aliyun_sms_endpoint,
                   template_codes=template_codes)

    def template_code(self, template: str) -> str:
        return self.template_codes.get(template, self.default_template_code)

    def signed_params(self, message: SmsMessage) -> dict[str, str]:
        params = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": message.phone,
            "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": self._nonce(),
            "SignatureVersion": "1.0",
            "TemplateCode": self.template_code(message.template),
            "TemplateParam": json.dumps(message.params, ensure_ascii=False, separators=(",", ":")),
            "Timestamp": self._timestamp(),
            "Version": API_VERSION,
        }
        params["Signature"] = sign(params, self.access_key_secret, "POST")
        return params

    def send(self, message: SmsMessage) -> str:
        params = self.signed_params(message)
        # the body is encoded with the same rules as the signature (%20, not '+')
        body = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in params.items())
        try:
            resp = self.session.post(self.endpoint, data=body.encode("ascii"), timeout=self.timeout,
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        except requests.RequestException as exc:
            raise NotificationError(f"aliyun sms unreachable: {type(exc).__name__}: {exc}") from exc
        try:
            answer: Any = resp.json()
        except ValueError:
            raise NotificationError(f"aliyun sms: HTTP {resp.status_code}, not JSON: {resp.text[:200]!r}") from None
        if not isinstance(answer, dict):
            raise NotificationError(f"aliyun sms: HTTP {resp.status_code}, unexpected answer {answer!r:.200}")
        code = answer.get("Code")
        if code == "OK" and resp.ok:
            biz_id = str(answer.get("BizId") or "")
            log.info("SMS to %s [%s] accepted: %s", message.phone, message.template, biz_id)
            return biz_id
        raise NotificationError(f"aliyun sms refused ({code}): {answer.get('Message', '')} "
                                f"[HTTP {resp.status_code}, RequestId {answer.get('RequestId', '-')}]")
