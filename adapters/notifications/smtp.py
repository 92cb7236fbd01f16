"""E-mail over SMTP (``smtplib``): optional STARTTLS and login, UTF-8 subject and body."""
from __future__ import annotations

import email.message
import email.utils
import logging
import smtplib
import ssl

from application.shared.notifications import EmailMessage, EmailSender, NotificationError
from application.shared.settings import Settings

log = logging.getLogger("agora.notifications.smtp")


class SmtpEmail(EmailSender):
    def __init__(self, host: str, port: int, sender: str, *, user: str = "", password: str = "",
                 starttls: bool = False, timeout: float = 10.0, ssl_context: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.user = user
        self.password = password
        self.starttls = starttls
        self.timeout = timeout
        self.ssl_context = ssl_context

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpEmail:
        return cls(settings.smtp_host, settings.smtp_port, settings.smtp_sender, user=settings.smtp_user,
                   password=settings.smtp_password, starttls=settings.smtp_starttls)

    def build(self, message: EmailMessage) -> email.message.EmailMessage:
        msg = email.message.EmailMessage()
        msg["From"] = self.sender
        msg["To"] = message.to
        msg["Subject"] = message.subject
        msg["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = email.utils.make_msgid(domain=self.sender.rpartition("@")[2] or None)
        msg.set_content(message.body, charset="utf-8")
        return msg

    def send(self, message: EmailMessage) -> None:
        msg = self.build(message)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=self.ssl_context or ssl.create_default_context())
                if self.user:
                    smtp.login(self.user, self.password)
                refused = smtp.send_message(msg)
        except (smtplib.SMTPException, OSError) as exc:
            raise NotificationError(f"smtp {self.host}:{self.port}: {type(exc).__name__}: {exc}") from exc
        if refused:
            raise NotificationError(f"smtp refused recipients: {refused}")
        log.info("e-mail to %s sent: %s", message.to, message.subject)
