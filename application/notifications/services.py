"""Notify one user by in-site message, SMS and e-mail: the helper outbox handlers call.

Runs inside an outbox handler's unit of work. The in-site message is stored in that
transaction with ``source_id = "<message_id>:<user_id>"``, so a redelivered message
does not store it twice. SMS and e-mail leave the system and are at-least-once: when
a channel fails, the others are still tried, then ``NotificationError`` makes the
outbox retry the whole call, which may repeat the channels that had succeeded.
A module that wants each channel retried on its own subscribes one handler per
channel (``channels=("sms",)``, ``channels=("email",)``, ...).
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping

from injector import inject

from application.shared.clock import Clock
from application.shared.notifications import (
    EmailMessage,
    EmailSender,
    InboxMessage,
    InboxRepository,
    NotificationError,
    SmsMessage,
    SmsSender,
)
from application.shared.uow import UnitOfWork
from domain.identity.ports import UserRepository
from domain.shared.ids import new_id

log = logging.getLogger("agora.notifications")

CHANNELS = ("sms", "email", "inbox")
DEFAULT_SMS_TEMPLATE = "notification"


@dataclasses.dataclass(frozen=True)
class Delivery:
    """What ``notify_user`` did: ``inbox`` is False for a duplicate or a skipped channel."""

    user_found: bool
    inbox: bool = False
    sms_id: str | None = None
    email: bool = False


class UserNotifier:
    @inject
    def __init__(self, sms: SmsSender, email: EmailSender, clock: Clock) -> None:
        self.sms = sms
        self.email = email
        self.clock = clock

    def notify_user(self, uow: UnitOfWork, user_id: str, title: str, body: str, message_id: str,
                    channels: Iterable[str] = CHANNELS, *, sms_template: str = DEFAULT_SMS_TEMPLATE,
                    sms_params: Mapping[str, str] | None = None) -> Delivery:
        wanted = set(channels)
        unknown = wanted - set(CHANNELS)
        if unknown:
            raise ValueError(f"unknown notification channels: {sorted(unknown)}")
        user = uow.repo(UserRepository).get(user_id)
        if user is None or user.status == "deleted":
            log.warning("notification %s for unknown or deleted user %s dropped", message_id, user_id)
            return Delivery(user_found=False)

        stored = False
        if "inbox" in wanted:
            stored = uow.repo(InboxRepository).add(InboxMessage(
                id=new_id("inb"), user_id=user.id, title=title, body=body, created_at=self.clock.now(),
                source_id=f"{message_id}:{user.id}"))

        failures: list[str] = []
        sms_id: str | None = None
        if "sms" in wanted and user.phone:
            params = dict(sms_params) if sms_params is not None else {"title": title, "body": body}
            try:
                sms_id = self.sms.send(SmsMessage(phone=user.phone, template=sms_template, params=params,
                                                  text=f"{title}: {body}"))
            except NotificationError as exc:
                failures.append(f"sms: {exc}")
        emailed = False
        if "email" in wanted and user.email:
            try:
                self.email.send(EmailMessage(to=user.email, subject=title, body=body))
                emailed = True
            except NotificationError as exc:
                failures.append(f"email: {exc}")
        if failures:
            raise NotificationError(f"notifying user {user.id} failed: " + "; ".join(failures))
        return Delivery(user_found=True, inbox=stored, sms_id=sms_id, email=emailed)
