"""Console senders (embedded default) and recording fakes for tests."""
from __future__ import annotations

import logging
import threading

from application.shared.notifications import EmailMessage, EmailSender, NotificationError, SmsMessage, SmsSender
from domain.shared.ids import new_id

log = logging.getLogger("agora.notifications")


class ConsoleSms(SmsSender):
    def send(self, message: SmsMessage) -> str:
        log.info("SMS to %s [%s]: %s", message.phone, message.template, message.text)
        print(f"[sms] to {message.phone}: {message.text}", flush=True)
        return new_id("sms")


class ConsoleEmail(EmailSender):
    def send(self, message: EmailMessage) -> None:
        log.info("e-mail to %s: %s", message.to, message.subject)
        print(f"[email] to {message.to}: {message.subject}\n{message.body}", flush=True)


class RecordingSms(SmsSender):
    """Keeps what was sent; can be told to fail the next N sends."""

    def __init__(self) -> None:
        self.sent: list[SmsMessage] = []
        self.fail_next = 0
        self._lock = threading.Lock()

    def send(self, message: SmsMessage) -> str:
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                raise NotificationError("provider unavailable (test)")
            self.sent.append(message)
        return new_id("sms")


class RecordingEmail(EmailSender):
    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        self.sent.append(message)
