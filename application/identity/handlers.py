"""Outbox handlers of the identity module (run by the relay job, never in a request)."""
from __future__ import annotations

from typing import Any

from injector import inject

from application.shared.notifications import SmsMessage, SmsSender
from application.shared.uow import UnitOfWork

TEMPLATES = {
    "login": ("login_code", "Your Agora login code is {code}. It is valid for 5 minutes."),
    "reset_password": ("reset_password_code", "Your Agora password reset code is {code}. Valid for 5 minutes."),
}


class SmsCodeSender:
    @inject
    def __init__(self, sms: SmsSender) -> None:
        self.sms = sms

    def handle(self, payload: dict[str, Any], message_id: str, *, uow: UnitOfWork) -> None:
        template, text = TEMPLATES[payload["purpose"]]
        self.sms.send(SmsMessage(phone=payload["phone"], template=template, params={"code": payload["code"]},
                                 text=text.format(code=payload["code"])))
