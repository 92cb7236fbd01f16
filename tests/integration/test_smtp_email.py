"""SMTP adapter against a local aiosmtpd server: plain, STARTTLS and login."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.notifications.smtp import SmtpEmail
from application.shared.notifications import EmailMessage, NotificationError
from application.shared.settings import Settings


class Inbox:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def parsed(envelope: Any) -> Any:
    return email.message_from_bytes(envelope.original_content, policy=email.policy.default)


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"agora", b"pa55")
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def plain_server(inbox: Inbox) -> Iterator[int]:
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port
    controller.stop()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    d = tmp_path_factory.mktemp("tls")
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return d / "cert.pem", d / "key.pem"


@pytest.fixture
def tls_server(inbox: Inbox, tls_files: tuple[Path, Path]) -> Iterator[int]:
    cert, key = tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            auth_required=True, authenticator=authenticator)
    controller.start()
    yield port
    controller.stop()


def client_context(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls_files[0]))


MESSAGE = EmailMessage(to="客户 <buyer@example.com>", subject="工单 T-1 已回复: please check",
                       body="您好，\n工单 T-1 有新的回复。\nAgora\n")


def test_message_is_delivered_with_utf8_subject_and_body(plain_server, inbox):
    settings = Settings(smtp_host="127.0.0.1", smtp_port=plain_server, smtp_sender="noreply@agora.test")
    SmtpEmail.from_settings(settings).send(MESSAGE)
    [env] = inbox.envelopes
    assert env.mail_from == "noreply@agora.test"
    assert env.rcpt_tos == ["buyer@example.com"]
    msg = parsed(env)
    assert msg["Subject"] == "工单 T-1 已回复: please check"
    assert msg["To"] == "客户 <buyer@example.com>"
    assert msg["Message-ID"].endswith("@agora.test>")
    assert msg.get_content_charset() == "utf-8"
    assert msg.get_content().replace("\r\n", "\n") == "您好，\n工单 T-1 有新的回复。\nAgora\n"
    assert b"\xe5\xb7\xa5\xe5\x8d\x95" not in env.original_content.split(b"\r\n\r\n")[0]  # header is encoded


def test_starttls_and_login(tls_server, inbox, tls_files):
    sender = SmtpEmail("127.0.0.1", tls_server, "noreply@agora.test", user="agora", password="pa55",
                       starttls=True, ssl_context=client_context(tls_files))
    sender.send(MESSAGE)
    [env] = inbox.envelopes
    assert env.rcpt_tos == ["buyer@example.com"]
    assert parsed(env)["Subject"] == MESSAGE.subject


def test_wrong_password_raises(tls_server, inbox, tls_files):
    sender = SmtpEmail("127.0.0.1", tls_server, "noreply@agora.test", user="agora", password="wrong",
                       starttls=True, ssl_context=client_context(tls_files))
    with pytest.raises(NotificationError, match="SMTPAuthenticationError"):
        sender.send(MESSAGE)
    assert inbox.envelopes == []


def test_server_requiring_starttls_refuses_plain_mail(tls_server, inbox):
    with pytest.raises(NotificationError):
        SmtpEmail("127.0.0.1", tls_server, "noreply@agora.test").send(MESSAGE)
    assert inbox.envelopes == []


def test_untrusted_certificate_raises(tls_server, inbox):
    sender = SmtpEmail("127.0.0.1", tls_server, "noreply@agora.test", user="agora", password="pa55",
                       starttls=True)
    with pytest.raises(NotificationError, match="SSLCertVerificationError"):
        sender.send(MESSAGE)
    assert inbox.envelopes == []


def test_refused_connection_raises():
    with pytest.raises(NotificationError, match="ConnectionRefusedError"):
        SmtpEmail("127.0.0.1", free_port(), "noreply@agora.test", timeout=2).send(MESSAGE)
