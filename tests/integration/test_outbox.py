"""Outbox plumbing on the real SQL adapters: written with the transaction, delivered
after commit, retried with exponential backoff, dead after MAX_ATTEMPTS."""
from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import injector
import pytest
from freezegun import freeze_time
from injector import inject
from sqlalchemy import create_engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from adapters.notifications.console import RecordingEmail, RecordingSms
from adapters.postgres import tables as t
from application import identity
from application.notifications import UserNotifier
from application.platform import PlatformSetup
from application.shared.jobs import JobQueue
from application.shared.notifications import InboxMessage, InboxRepository, SmsMessage
from application.shared.outbox import (
    MAX_ATTEMPTS,
    HandlerRegistry,
    OutboxMessage,
    OutboxRelay,
    OutboxRepository,
    backoff,
)
from application.shared.uow import UnitOfWork, UnitOfWorkFactory
from domain.identity.ports import UserRepository
from domain.shared.events import DomainEvent
from entrypoints.container import build_container
from entrypoints.jobs import run_job
from tests.helpers import Api

T0 = datetime(2025, 3, 3, 1, 0, 0, tzinfo=UTC)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ThingHappened(DomainEvent):
    thing_id: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class UserPinged(DomainEvent):
    user_id: str
    text: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class Unheard(DomainEvent):
    thing_id: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class LocalFact(DomainEvent):
    integration = False
    thing_id: str


class Probe:
    """What the test handlers saw; ``failures[handler]`` makes that handler fail N more times."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], str]] = []
        self.failures: dict[str, int] = {}

    def hit(self, handler: str, payload: dict[str, Any], message_id: str) -> None:
        self.calls.append((handler, payload, message_id))
        if self.failures.get(handler, 0) > 0:
            self.failures[handler] -= 1
            raise RuntimeError(f"{handler} broke")

    def count(self, handler: str) -> int:
        return sum(1 for c in self.calls if c[0] == handler)


class OkHandler:
    @inject
    def __init__(self, probe: Probe) -> None:
        self.probe = probe

    def handle(self, payload: dict[str, Any], message_id: str, *, uow: UnitOfWork) -> None:
        self.probe.hit("test.ok", payload, message_id)


class FlakyHandler:
    @inject
    def __init__(self, probe: Probe) -> None:
        self.probe = probe

    def handle(self, payload: dict[str, Any], message_id: str, *, uow: UnitOfWork) -> None:
        self.probe.hit("test.flaky", payload, message_id)


class PingHandler:
    @inject
    def __init__(self, probe: Probe, notifier: UserNotifier) -> None:
        self.probe = probe
        self.notifier = notifier

    def handle(self, payload: dict[str, Any], message_id: str, *, uow: UnitOfWork) -> None:
        self.probe.hit("test.ping", payload, message_id)
        self.notifier.notify_user(uow, payload["user_id"], "Ping", payload["text"], message_id)


class ChainHandler:
    """Publishes an event of its own: its outbox row commits with this handler's work."""

    def handle(self, payload: dict[str, Any], message_id: str, *, uow: UnitOfWork) -> None:
        uow.publish(UserPinged(user_id="usr_x", text=payload["thing_id"]))


class HeldJobs(JobQueue):
    """Records enqueues instead of running them, and what was committed at that moment."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.enqueued: list[tuple[str, dict[str, Any], int]] = []

    def enqueue(self, job_name: str, **kwargs: Any) -> None:
        self.enqueued.append((job_name, kwargs, len(committed_outbox(self.engine))))


def committed_outbox(reader: Any) -> list[Any]:
    """Outbox rows as another connection sees them (committed data only)."""
    with reader.connect() as conn:
        return list(conn.execute(select(t.outbox).order_by(t.outbox.c.handler)))


@pytest.fixture
def reader(db_url: str, engine: Any) -> Any:
    """A plain engine: unlike the app's SQLite engine it does not BEGIN IMMEDIATE, so it can
    read committed rows while a unit of work holds the write lock."""
    eng = create_engine(db_url, poolclass=NullPool)
    yield eng
    eng.dispose()


@pytest.fixture
def probe() -> Probe:
    return Probe()


@pytest.fixture
def overrides(overrides: list[injector.Module], probe: Probe) -> list[injector.Module]:
    registry = HandlerRegistry()
    identity.subscribe(registry)
    registry.subscribe("ThingHappened", "test.ok", OkHandler)
    registry.subscribe("ThingHappened", "test.flaky", FlakyHandler)
    registry.subscribe("UserPinged", "test.ping", PingHandler)
    registry.subscribe("LocalFact", "test.ok", OkHandler)

    def configure(binder: injector.Binder) -> None:
        binder.bind(HandlerRegistry, to=registry)
        binder.bind(Probe, to=probe)

    return [*overrides, configure]  # type: ignore[list-item]


@pytest.fixture
def held(reader: Any) -> HeldJobs:
    return HeldJobs(reader)


@pytest.fixture
def held_container(settings: Any, overrides: list[injector.Module], held: HeldJobs) -> injector.Injector:
    def configure(binder: injector.Binder) -> None:
        binder.bind(JobQueue, to=held)

    return build_container(settings, *overrides, configure)  # type: ignore[arg-type]


def publish(container: injector.Injector, *events: DomainEvent, commit: bool = True) -> None:
    with container.get(UnitOfWorkFactory)() as uow:
        uow.publish(*events)
        if commit:
            uow.commit()


def row(reader: Any, handler: str) -> Any:
    [r] = [r for r in committed_outbox(reader) if r.handler == handler]
    return r


def as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# -- writing ----------------------------------------------------------------------

def test_rolled_back_transaction_writes_no_outbox_row(held_container, held, reader):
    publish(held_container, ThingHappened(thing_id="t1"), commit=False)
    assert committed_outbox(reader) == []
    assert held.enqueued == []


def test_one_row_per_subscribed_handler_committed_before_delivery_is_asked(held_container, held, reader, probe):
    with freeze_time(T0):
        publish(held_container, ThingHappened(thing_id="t1"), LocalFact(thing_id="t1"))
    rows = committed_outbox(reader)
    assert [(r.event_name, r.handler, r.payload, r.status, r.attempts) for r in rows] == [
        ("ThingHappened", "test.flaky", {"thing_id": "t1"}, "pending", 0),
        ("ThingHappened", "test.ok", {"thing_id": "t1"}, "pending", 0),
    ]  # LocalFact is not an integration event: no row although test.ok subscribes to it
    assert {as_utc(r.next_attempt_at) for r in rows} == {T0}
    # the relay is kicked once, after the commit made both rows visible
    assert held.enqueued == [("outbox.deliver", {}, 2)]
    assert probe.calls == []  # nothing delivered inside the producing transaction


def test_outbox_rows_and_business_rows_commit_together(held_container, reader):
    with held_container.get(UnitOfWorkFactory)() as uow:
        added = uow.repo(InboxRepository).add(InboxMessage(id="inb_t2", user_id="usr_x", title="T", body="B",
                                                           created_at=T0, source_id="t2"))
        assert added
        uow.publish(ThingHappened(thing_id="t2"))
        uow.commit()
        assert [r.payload["thing_id"] for r in committed_outbox(reader)] == ["t2", "t2"]
        assert read_inbox_ids(reader) == ["inb_t2"]


def test_failed_commit_writes_neither_business_rows_nor_outbox_rows(held_container, held, reader):
    with held_container.get(UnitOfWorkFactory)() as uow:
        inbox = uow.repo(InboxRepository)
        inbox.add(InboxMessage(id="inb_1", user_id="usr_x", title="T", body="B", created_at=T0))
        uow.publish(ThingHappened(thing_id="t3"))
        # the outbox id clashes at commit time: the whole transaction must go
        uow.repo(OutboxRepository).add(OutboxMessage(id="msg_fixed", event_name="X", handler="test.ok",
                                                     payload={}, attempts=0, status="done",
                                                     next_attempt_at=T0, created_at=T0))
        with mock.patch("adapters.postgres.uow.new_id", return_value="msg_fixed"), \
                pytest.raises(IntegrityError):
            uow.commit()
    assert committed_outbox(reader) == []
    assert read_inbox_ids(reader) == []
    assert held.enqueued == []


def read_inbox_ids(reader: Any) -> list[str]:
    with reader.connect() as conn:
        return [r.id for r in conn.execute(select(t.inbox_messages.c.id))]


def test_event_without_subscribers_writes_nothing_and_asks_no_delivery(held_container, held, reader):
    publish(held_container, Unheard(thing_id="t1"))
    assert committed_outbox(reader) == []
    assert held.enqueued == []


# -- delivering -------------------------------------------------------------------

def test_delivered_after_commit_with_the_message_id(container, probe, reader):
    with freeze_time(T0):
        publish(container, ThingHappened(thing_id="t1"))
    ok = row(reader, "test.ok")
    assert (ok.status, ok.attempts, ok.last_error) == ("done", 1, None)
    assert [(h, p, m) for h, p, m in probe.calls if h == "test.ok"] == [("test.ok", {"thing_id": "t1"}, ok.id)]


def test_failing_handler_is_retried_with_backoff_alone(container, probe, reader):
    probe.failures["test.flaky"] = 2
    relay = container.get(OutboxRelay)
    with freeze_time(T0) as frozen:
        publish(container, ThingHappened(thing_id="t1"))
        flaky = row(reader, "test.flaky")
        assert (flaky.status, flaky.attempts) == ("pending", 1)
        assert flaky.last_error == "RuntimeError: test.flaky broke"
        assert as_utc(flaky.next_attempt_at) == T0 + timedelta(seconds=5) == T0 + backoff(1)
        assert row(reader, "test.ok").status == "done"

        frozen.move_to(T0 + timedelta(seconds=4, microseconds=999_999))
        assert relay.deliver_due() == 0
        assert probe.count("test.flaky") == 1

        frozen.move_to(T0 + timedelta(seconds=5))  # at the backoff: second attempt, fails again
        assert relay.deliver_due() == 0
        assert probe.count("test.flaky") == 2
        flaky = row(reader, "test.flaky")
        assert flaky.attempts == 2
        assert as_utc(flaky.next_attempt_at) == T0 + timedelta(seconds=5 + 10)

        frozen.move_to(T0 + timedelta(seconds=14))
        assert relay.deliver_due() == 0
        frozen.move_to(T0 + timedelta(seconds=15))
        assert run_job(container, "outbox.sweep", {}) == 1  # the periodic sweep delivers it
        flaky = row(reader, "test.flaky")
        assert (flaky.status, flaky.attempts) == ("done", 3)

    assert probe.count("test.flaky") == 3
    assert probe.count("test.ok") == 1  # the other handler of the event never re-ran
    assert {m for h, _, m in probe.calls if h == "test.flaky"} == {flaky.id}


def test_message_is_dead_after_max_attempts(container, probe, reader):
    probe.failures["test.flaky"] = 10_000
    relay = container.get(OutboxRelay)
    with freeze_time(T0) as frozen:
        publish(container, ThingHappened(thing_id="t1"))
        due = T0
        for attempt in range(1, MAX_ATTEMPTS):
            flaky = row(reader, "test.flaky")
            assert (flaky.status, flaky.attempts) == ("pending", attempt)
            due += backoff(attempt)
            assert as_utc(flaky.next_attempt_at) == due
            frozen.move_to(due)
            relay.deliver_due()
        flaky = row(reader, "test.flaky")
        assert (flaky.status, flaky.attempts) == ("dead", MAX_ATTEMPTS)
        assert flaky.last_error == "RuntimeError: test.flaky broke"

        frozen.move_to(due + timedelta(days=30))
        assert relay.deliver_due() == 0
    assert probe.count("test.flaky") == MAX_ATTEMPTS
    assert probe.count("test.ok") == 1
    assert backoff(MAX_ATTEMPTS - 1) == timedelta(seconds=1280)


def test_backoff_is_capped_at_an_hour():
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert backoff(11) == backoff(50) == timedelta(hours=1)


# -- notifications through the outbox ---------------------------------------------

def platform_user(container: injector.Injector) -> str:
    user = container.get(PlatformSetup).create_platform_admin("root", "Admin12345", phone="+8613800000001")
    with container.get(UnitOfWorkFactory)() as uow:
        u = uow.repo(UserRepository).get(user.id)
        assert u is not None
        u.email = "root@example.com"
        uow.repo(UserRepository).save(u)
        uow.commit()
    return user.id


def inbox_of(container: injector.Injector, user_id: str) -> list[Any]:
    with container.get(UnitOfWorkFactory)() as uow:
        items, total = uow.repo(InboxRepository).list_for(user_id, unread_only=False, offset=0, limit=50)
    assert total == len(items)
    return items


def test_notification_fails_then_is_stored_once(container, probe, reader, sms: RecordingSms,
                                                email: RecordingEmail):
    user_id = platform_user(container)
    sms.fail_next = 1
    with freeze_time(T0) as frozen:
        publish(container, UserPinged(user_id=user_id, text="您有一条新消息"))
        ping = row(reader, "test.ping")
        assert (ping.status, ping.attempts) == ("pending", 1)
        assert "provider unavailable" in ping.last_error
        assert inbox_of(container, user_id) == []  # the failed attempt rolled back its in-site message
        frozen.move_to(T0 + backoff(1))
        container.get(OutboxRelay).deliver_due()
    assert row(reader, "test.ping").status == "done"
    [msg] = inbox_of(container, user_id)
    assert (msg.title, msg.body, msg.source_id) == ("Ping", "您有一条新消息", f"{ping.id}:{user_id}")
    assert [(s.phone, s.params["body"]) for s in sms.sent] == [("+8613800000001", "您有一条新消息")]
    assert [e.to for e in email.sent] == ["root@example.com", "root@example.com"]  # at-least-once


def test_redelivered_message_does_not_duplicate_the_in_site_message(container, probe, reader, sms):
    user_id = platform_user(container)
    publish(container, UserPinged(user_id=user_id, text="hello"))
    ping = row(reader, "test.ping")
    assert ping.status == "done"
    with reader.begin() as conn:  # e.g. a relay that crashed after the handler, before its own bookkeeping
        conn.execute(update(t.outbox).where(t.outbox.c.id == ping.id).values(status="pending"))
    assert container.get(OutboxRelay).deliver_due() == 1
    assert probe.count("test.ping") == 2
    assert [m.source_id for m in inbox_of(container, user_id)] == [f"{ping.id}:{user_id}"]
    assert len(sms.sent) == 2  # SMS is at-least-once; the in-site message is exactly-once


# -- the SMS login code flow, end to end ------------------------------------------

class CommitCheckingSms(RecordingSms):
    """Notes, at each send, whether the challenge is already committed (seen from another connection)."""

    def __init__(self, reader: Any) -> None:
        super().__init__()
        self.reader = reader
        self.committed_phones_at_send: list[set[str]] = []

    def send(self, message: SmsMessage) -> str:
        with self.reader.connect() as conn:
            phones = {r.phone for r in conn.execute(select(t.sms_challenges.c.phone))}
            conn.rollback()
        self.committed_phones_at_send.append(phones)
        return super().send(message)


@pytest.fixture
def sms(reader: Any) -> CommitCheckingSms:
    return CommitCheckingSms(reader)


def test_sms_login_sends_the_code_after_the_request_committed(tenant_factory, client, sms, probe):
    tenant = tenant_factory("SMS Vendor", ["vendor"], "smsadmin")
    r = tenant.api.patch(f"/api/v1/organizations/{tenant.org_id}", json={"require_sms_login": True})
    assert r.status_code == 200 and r.get_json()["require_sms_login"] is True
    r = tenant.api.post(f"/api/v1/organizations/{tenant.org_id}/users",
                        json={"login": "smsuser", "name": "SMS user", "phone": "13900000009"})
    assert r.status_code == 201, r.get_json()
    otp = r.get_json()["one_time_password"]
    assert sms.sent == []

    r = client.post("/api/v1/auth/token", json={"login": "smsuser", "password": otp})
    assert r.status_code == 202, r.get_json()
    challenge = r.get_json()
    assert challenge["challenge_id"] and "access_token" not in challenge
    assert challenge["phone_hint"].endswith("0009") and "13900000009" not in challenge["phone_hint"]

    [message] = sms.sent
    assert message.phone == "+8613900000009"
    assert message.template == "login_code"
    assert re.fullmatch(r"\d{6}", message.params["code"])
    assert message.params["code"] in message.text
    assert sms.committed_phones_at_send == [{"+8613900000009"}]  # the challenge row was committed first

    r = client.post("/api/v1/auth/token", json={"login": "smsuser", "password": otp,
                                                 "challenge_id": challenge["challenge_id"],
                                                 "sms_code": message.params["code"]})
    assert r.status_code == 200, r.get_json()
    assert Api(client, r.get_json()["access_token"]).get("/api/v1/me").get_json()["user"]["login"] == "smsuser"


class BrokenJobs(JobQueue):
    def enqueue(self, job_name: str, **kwargs: Any) -> None:
        raise ConnectionError("redis is down")


def test_lost_delivery_kick_does_not_fail_the_committed_work(settings, overrides, reader, probe):
    """After the commit nothing can be undone: a failed kick is logged, the sweep delivers later."""
    def configure(binder: injector.Binder) -> None:
        binder.bind(JobQueue, to=BrokenJobs())

    broken = build_container(settings, *overrides, configure)  # type: ignore[arg-type]
    publish(broken, ThingHappened(thing_id="t1"))  # no exception reaches the caller
    assert {r.status for r in committed_outbox(reader)} == {"pending"}
    assert probe.calls == []
    assert run_job(broken, "outbox.sweep", {}) == 2
    assert {(r.handler, r.status) for r in committed_outbox(reader)} == {("test.ok", "done"), ("test.flaky", "done")}


def test_handler_whose_own_events_cannot_be_kicked_stays_delivered(settings, overrides, reader, probe):
    """A handler publishing an event commits it with its own row marked done; a failing
    after-commit kick must not count as a failure of the handler."""
    registry = HandlerRegistry()
    registry.subscribe("ThingHappened", "test.chain", ChainHandler)
    registry.subscribe("UserPinged", "test.ok", OkHandler)

    def configure(binder: injector.Binder) -> None:
        binder.bind(JobQueue, to=BrokenJobs())
        binder.bind(HandlerRegistry, to=registry)

    broken = build_container(settings, *overrides, configure)  # type: ignore[arg-type]
    publish(broken, ThingHappened(thing_id="t1"))
    assert broken.get(OutboxRelay).deliver_due() == 1
    rows = {r.handler: r for r in committed_outbox(reader)}
    assert (rows["test.chain"].status, rows["test.chain"].attempts, rows["test.chain"].last_error) == ("done", 1, None)
    assert rows["test.ok"].status == "pending"


def test_sms_code_is_blanked_in_the_outbox_once_delivered(platform, tenant_factory, client, sms, engine):
    """The plain login code lives in the outbox only until the SMS went out."""
    from sqlalchemy import select

    from adapters.postgres.tables import outbox

    t = tenant_factory("Secretive", ["customer"], "secretadmin")
    t.api.patch(f"/api/v1/organizations/{t.org_id}", json={"require_sms_login": True})
    t.api.patch("/api/v1/me", json={"phone": "13900139000"})
    r = client.post("/api/v1/auth/token", json={"login": "secretadmin", "password": "Changed12345"})
    assert r.status_code == 202, r.get_json()
    code = sms.sent[-1].params["code"]
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.payload, outbox.c.status)
                            .where(outbox.c.event_name == "SmsCodeRequested")).all()
    assert rows and all(row.status == "done" for row in rows)
    assert all(row.payload["code"] == "***" for row in rows)
    assert all(code not in str(row.payload) for row in rows)
