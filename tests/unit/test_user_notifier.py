"""UserNotifier with in-memory repositories and the recording senders: no I/O."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.notifications.console import RecordingEmail, RecordingSms
from application.notifications import Delivery, UserNotifier
from application.shared.clock import Clock
from application.shared.notifications import InboxMessage, InboxRepository, NotificationError
from domain.identity.model import User
from domain.identity.ports import UserRepository

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


class FixedClock(Clock):
    def now(self) -> datetime:
        return NOW


class MemoryUsers:
    def __init__(self, *users: User) -> None:
        self.users = {u.id: u for u in users}

    def get(self, user_id: str) -> User | None:
        return self.users.get(user_id)


class MemoryInbox:
    def __init__(self) -> None:
        self.messages: list[InboxMessage] = []

    def add(self, message: InboxMessage) -> bool:
        if message.source_id is not None and any(m.source_id == message.source_id for m in self.messages):
            return False
        self.messages.append(message)
        return True


class MemoryUow:
    """Only what UserNotifier touches: repo(UserRepository), repo(InboxRepository)."""

    def __init__(self, users: MemoryUsers, inbox: MemoryInbox) -> None:
        self.repos: dict[type, Any] = {UserRepository: users, InboxRepository: inbox}

    def repo(self, port: type) -> Any:
        return self.repos[port]


def user(uid: str, phone: str | None = "13800000001", email: str | None = "u@example.com",
         status: str = "active") -> User:
    return User(id=uid, org_id="org_1", login=f"l{uid}", name="U", phone=phone, email=email, roles=(),
                password_hash="x", must_change_password=False, status=status, created_at=NOW)


@pytest.fixture
def sms() -> RecordingSms:
    return RecordingSms()


@pytest.fixture
def email() -> RecordingEmail:
    return RecordingEmail()


@pytest.fixture
def inbox() -> MemoryInbox:
    return MemoryInbox()


@pytest.fixture
def notifier(sms: RecordingSms, email: RecordingEmail) -> UserNotifier:
    return UserNotifier(sms, email, FixedClock())


def uow_with(inbox: MemoryInbox, *users: User) -> Any:
    return MemoryUow(MemoryUsers(*users), inbox)


def test_all_channels_reach_a_user_with_phone_and_email(notifier, sms, email, inbox):
    d = notifier.notify_user(uow_with(inbox, user("u1")), "u1", "工单已回复", "请查看工单 T-1", "msg_1")
    assert d.user_found and d.inbox and d.email and d.sms_id
    [m] = inbox.messages
    assert (m.user_id, m.title, m.body, m.source_id, m.created_at, m.read_at) == \
        ("u1", "工单已回复", "请查看工单 T-1", "msg_1:u1", NOW, None)
    [s] = sms.sent
    assert (s.phone, s.template, s.params) == ("13800000001", "notification",
                                               {"title": "工单已回复", "body": "请查看工单 T-1"})
    assert s.text == "工单已回复: 请查看工单 T-1"
    [e] = email.sent
    assert (e.to, e.subject, e.body) == ("u@example.com", "工单已回复", "请查看工单 T-1")


def test_missing_phone_or_email_skips_that_channel(notifier, sms, email, inbox):
    uow = uow_with(inbox, user("u1", phone=None), user("u2", email=None))
    assert notifier.notify_user(uow, "u1", "T", "B", "msg_1") == Delivery(user_found=True, inbox=True, email=True)
    d2 = notifier.notify_user(uow, "u2", "T", "B", "msg_1")
    assert d2.sms_id is not None and not d2.email
    assert [e.to for e in email.sent] == ["u@example.com"]
    assert [s.phone for s in sms.sent] == ["13800000001"]
    assert sorted(m.source_id for m in inbox.messages) == ["msg_1:u1", "msg_1:u2"]


def test_redelivery_does_not_duplicate_the_in_site_message(notifier, inbox):
    uow = uow_with(inbox, user("u1"))
    assert notifier.notify_user(uow, "u1", "T", "B", "msg_1", channels=("inbox",)).inbox is True
    assert notifier.notify_user(uow, "u1", "T", "B", "msg_1", channels=("inbox",)).inbox is False
    assert notifier.notify_user(uow, "u1", "T", "B", "msg_2", channels=("inbox",)).inbox is True
    assert [m.source_id for m in inbox.messages] == ["msg_1:u1", "msg_2:u1"]


def test_channels_limit_what_is_sent(notifier, sms, email, inbox):
    d = notifier.notify_user(uow_with(inbox, user("u1")), "u1", "T", "B", "msg_1", channels=("sms",),
                             sms_template="ticket_replied", sms_params={"ticket": "T-1"})
    assert d == Delivery(user_found=True, sms_id=d.sms_id)
    assert d.sms_id is not None
    assert inbox.messages == [] and email.sent == []
    assert [(s.template, s.params) for s in sms.sent] == [("ticket_replied", {"ticket": "T-1"})]


def test_unknown_channel_is_a_programming_error(notifier, inbox):
    with pytest.raises(ValueError, match="fax"):
        notifier.notify_user(uow_with(inbox, user("u1")), "u1", "T", "B", "msg_1", channels=("fax",))


@pytest.mark.parametrize("status", [None, "deleted"])
def test_unknown_or_deleted_user_gets_nothing(notifier, sms, email, inbox, status):
    users = [] if status is None else [user("u1", status=status)]
    assert notifier.notify_user(uow_with(inbox, *users), "u1", "T", "B", "msg_1") == Delivery(user_found=False)
    assert (inbox.messages, sms.sent, email.sent) == ([], [], [])


def test_failing_sms_still_tries_email_then_raises_for_a_retry(notifier, sms, email, inbox):
    sms.fail_next = 1
    with pytest.raises(NotificationError, match="sms: provider unavailable"):
        notifier.notify_user(uow_with(inbox, user("u1")), "u1", "T", "B", "msg_1")
    assert sms.sent == []
    assert [e.to for e in email.sent] == ["u@example.com"]
