"""Job queues: RQ (fakeredis, and a real Redis when AGORA_TEST_REDIS_URL is set) and in-process."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import fakeredis
import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job, JobStatus
from sqlalchemy import select
from sqlalchemy.engine import Engine

import entrypoints.jobs as jobs
from adapters.postgres import tables as t
from adapters.queue.inprocess import InProcessJobQueue
from adapters.queue.rq_queue import ENTRY_POINT, RqJobQueue
from application.shared.outbox import OutboxMessage, OutboxRepository
from application.shared.uow import UnitOfWorkFactory
from tests.conftest import REDIS_URL

# -- RQ ------------------------------------------------------------------------------


def test_rq_enqueues_to_the_single_entry_point():
    redis = fakeredis.FakeRedis()
    RqJobQueue(redis).enqueue("outbox.deliver", limit=50)
    queue = Queue("agora", connection=redis)
    [job_id] = queue.job_ids
    job = Job.fetch(job_id, connection=redis)
    assert job.func_name == ENTRY_POINT == "entrypoints.jobs.run"
    assert job.args == ("outbox.deliver", {"limit": 50})
    assert job.kwargs == {}
    assert job.origin == "agora"
    assert job.description == "outbox.deliver"
    assert (job.timeout, job.retries_left, job.retry_intervals) == (600, 3, [10, 60, 300])
    assert job.get_status() == JobStatus.QUEUED


def test_rq_queue_name_is_configurable():
    redis = fakeredis.FakeRedis()
    RqJobQueue(redis, queue_name="agora-low").enqueue("housekeeping.purge")
    assert Queue("agora", connection=redis).count == 0
    assert Queue("agora-low", connection=redis).count == 1


def pending_sms_code(container: Any, code: str = "246810") -> str:
    """An outbox row for the identity SMS handler, due now, without kicking delivery."""
    now = datetime.now(UTC)
    with container.get(UnitOfWorkFactory)() as uow:
        uow.repo(OutboxRepository).add(OutboxMessage(
            id="msg_rq_1", event_name="SmsCodeRequested", handler="identity.send_sms_code",
            payload={"challenge_id": "chl_1", "phone": "+8613800000001", "purpose": "login", "code": code},
            attempts=0, status="pending", next_attempt_at=now, created_at=now))
        uow.commit()
    return "msg_rq_1"


def outbox_status(engine: Engine, message_id: str) -> tuple[str, int]:
    with engine.connect() as conn:
        r = conn.execute(select(t.outbox.c.status, t.outbox.c.attempts).where(t.outbox.c.id == message_id)).one()
    return r.status, r.attempts


@pytest.fixture
def worker_env(monkeypatch: pytest.MonkeyPatch, db_url: str, engine: Engine) -> Iterator[None]:
    """``entrypoints.jobs.run`` builds its container from the environment: point it at the test DB."""
    monkeypatch.setenv("AGORA_DATABASE_URL", db_url)
    monkeypatch.setenv("AGORA_SMS", "console")
    monkeypatch.setenv("AGORA_EMAIL", "console")
    monkeypatch.delenv("AGORA_REDIS_URL", raising=False)
    monkeypatch.setattr(jobs, "_container", None)
    yield
    if jobs._container is not None:
        jobs._container.get(Engine).dispose()  # the worker's own connection pool


def run_outbox_job_with_worker(redis: Any, container: Any, engine: Engine, capsys: Any) -> None:
    message_id = pending_sms_code(container)
    RqJobQueue(redis).enqueue("outbox.deliver")
    queue = Queue("agora", connection=redis)
    [job_id] = queue.job_ids
    assert SimpleWorker([queue], connection=redis).work(burst=True) is True
    job = Job.fetch(job_id, connection=redis)
    assert job.get_status() == JobStatus.FINISHED, job.latest_result()
    assert job.return_value() == 1  # one outbox message delivered
    assert outbox_status(engine, message_id) == ("done", 1)
    assert "[sms] to +8613800000001: Your Agora login code is 246810." in capsys.readouterr().out
    assert jobs._container is not None and jobs._container is not container  # built from the environment


def test_rq_worker_runs_outbox_delivery_on_fakeredis(worker_env, container, engine, capsys):
    run_outbox_job_with_worker(fakeredis.FakeRedis(), container, engine, capsys)


def test_agora_worker_runs_jobs_in_its_own_process_and_serves_their_metrics(worker_env, container, engine):
    import socket
    import urllib.request

    from entrypoints.metrics import REGISTRY

    redis = fakeredis.FakeRedis()
    message_id = pending_sms_code(container)
    RqJobQueue(redis).enqueue("outbox.deliver")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ok = {"job": "outbox.deliver", "status": "ok"}
    before = REGISTRY.get_sample_value("agora_jobs_total", ok) or 0.0
    # (fakeredis runs no Lua, which RQ's scheduler needs: it stays off here)
    assert jobs.run_worker(redis, burst=True, metrics_port=port, with_scheduler=False) is True
    assert outbox_status(engine, message_id) == ("done", 1)
    assert jobs._container is not None  # built here: the job ran in this process, not in a forked child
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert f'agora_jobs_total{{job="outbox.deliver",status="ok"}} {before + 1}' in body
    assert 'agora_outbox_deliveries_total{handler=' in body


@pytest.fixture
def real_redis() -> Iterator[Redis]:
    assert REDIS_URL
    redis = Redis.from_url(REDIS_URL)
    queue = Queue("agora", connection=redis)
    queue.empty()
    yield redis
    for job_id in queue.finished_job_registry.get_job_ids() + queue.failed_job_registry.get_job_ids():
        Job.fetch(job_id, connection=redis).delete()
    queue.empty()
    redis.close()


@pytest.mark.redis
def test_rq_worker_runs_outbox_delivery_on_real_redis(worker_env, real_redis, container, engine, capsys):
    run_outbox_job_with_worker(real_redis, container, engine, capsys)


def test_failing_job_is_scheduled_for_an_rq_retry(worker_env):
    redis = fakeredis.FakeRedis()
    RqJobQueue(redis).enqueue("no.such.job")
    queue = Queue("agora", connection=redis)
    [job_id] = queue.job_ids
    SimpleWorker([queue], connection=redis).work(burst=True)
    job = Job.fetch(job_id, connection=redis)
    assert job.retries_left == 2  # one of the three retries used, the next waits 10 s
    assert job.get_status() == JobStatus.SCHEDULED


# -- in-process ------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.log: list[str] = []
        self.queue: InProcessJobQueue | None = None

    def __call__(self, name: str, kwargs: dict[str, Any]) -> None:
        assert self.queue is not None
        self.log.append(f"start {name} {kwargs}")
        if name == "parent":
            self.queue.enqueue("child", n=1)
            self.queue.enqueue("child", n=2)
        if name == "boom":
            raise RuntimeError("boom")
        self.log.append(f"end {name}")


def test_sync_mode_runs_nested_enqueues_after_the_current_job():
    rec = Recorder()
    rec.queue = InProcessJobQueue(rec, sync=True)
    rec.queue.enqueue("parent", x=1)
    assert rec.log == ["start parent {'x': 1}", "end parent",
                       "start child {'n': 1}", "end child", "start child {'n': 2}", "end child"]


def test_sync_mode_logs_a_failing_job_and_goes_on(caplog):
    rec = Recorder()
    rec.queue = InProcessJobQueue(rec, sync=True)
    rec.queue.enqueue("boom")
    rec.queue.enqueue("after")
    assert rec.log == ["start boom {}", "start after {}", "end after"]
    assert "job boom failed" in caplog.text


def test_thread_mode_runs_jobs_in_order_off_the_calling_thread():
    threads: list[str] = []
    done: list[int] = []
    gate = threading.Event()

    def runner(name: str, kwargs: dict[str, Any]) -> None:
        gate.wait(5)
        threads.append(threading.current_thread().name)
        done.append(kwargs["i"])

    q = InProcessJobQueue(runner)
    for i in range(5):
        q.enqueue("work", i=i)
    assert done == []  # enqueue returned before any job ran
    gate.set()
    q.join()
    assert done == [0, 1, 2, 3, 4]
    assert set(threads) == {"agora-jobs"}
