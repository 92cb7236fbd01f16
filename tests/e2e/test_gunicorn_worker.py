"""``agora serve``'s worker class (entrypoints/gunicorn_worker.py): a thread serves the next
request of its keep-alive connection itself, but never while another connection waits."""
from __future__ import annotations

import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.workers.gthread import ThreadWorker

from application.shared.settings import Settings
from entrypoints.cli import gunicorn_args
from entrypoints.container import migrate_database
from entrypoints.gunicorn_worker import LINGER_ENV, TURN_ENV, KeepAliveThreadWorker, _setting

ROOT = Path(__file__).resolve().parents[2]


# -- the loop, with gunicorn's own request handling replaced by one byte per "request" -------

class _Conn:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.parser = SimpleNamespace(unreader=SimpleNamespace(buf=SimpleNamespace(getvalue=lambda: b"")))


def _worker(linger_ms: float = 50, turn: int = 1000) -> KeepAliveThreadWorker:
    worker = object.__new__(KeepAliveThreadWorker)  # no gunicorn arbiter behind it
    worker.alive, worker.linger_ms, worker.turn = True, linger_ms, turn
    worker.tpool = SimpleNamespace(_work_queue=queue.SimpleQueue())
    return worker


@pytest.fixture
def served(monkeypatch):
    """Each call of gunicorn's ``handle`` reads one request byte; the list records them."""
    seen: list[bytes] = []

    def handle(self, conn):
        seen.append(conn.sock.recv(1))
        return True  # keep-alive

    monkeypatch.setattr(ThreadWorker, "handle", handle)
    return seen


def test_a_thread_serves_requests_that_follow_on_its_connection(served):
    client, server = socket.socketpair()
    worker = _worker()
    client.sendall(b"abc")
    assert worker.handle(_Conn(server)) is True  # back to the poller once the client is idle
    assert served == [b"a", b"b", b"c"]


def test_the_next_request_arriving_within_the_linger_is_served_by_the_same_thread(served):
    client, server = socket.socketpair()
    worker = _worker(linger_ms=500)
    client.sendall(b"a")
    threading.Timer(0.1, client.sendall, args=(b"b",)).start()
    started = time.monotonic()
    worker.handle(_Conn(server))
    assert served == [b"a", b"b"]
    assert 0.55 <= time.monotonic() - started < 1.5  # it waited for b, then a linger after it


def test_it_lets_go_when_another_connection_waits_or_after_its_turn(served):
    client, server = socket.socketpair()
    worker = _worker()
    worker.tpool._work_queue.put("another connection")
    client.sendall(b"abc")
    worker.handle(_Conn(server))
    assert served == [b"a"]  # one answer, then the waiting connection gets the thread

    worker = _worker(turn=2)
    served.clear()
    worker.handle(_Conn(server))
    assert served == [b"b", b"c"]


def test_a_connection_that_queued_during_the_wait_gets_the_thread(served):
    client, server = socket.socketpair()
    worker = _worker(linger_ms=2000)
    client.sendall(b"a")

    def another_comes_and_the_client_sends() -> None:
        worker.tpool._work_queue.put("another connection")
        client.sendall(b"b")

    threading.Timer(0.1, another_comes_and_the_client_sends).start()
    worker.handle(_Conn(server))
    assert served == [b"a"]  # b waits in the poller: the queued connection goes first


def test_a_linger_of_zero_is_gunicorns_own_path(served):
    client, server = socket.socketpair()
    client.sendall(b"ab")
    _worker(linger_ms=0).handle(_Conn(server))
    assert served == [b"a"]


def test_a_worker_with_a_connection_per_thread_lets_the_others_accept_first(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(ThreadWorker, "accept", lambda self, listener: calls.append("accept"))
    monkeypatch.setattr("entrypoints.gunicorn_worker.os.sched_yield", lambda: calls.append("yield"))
    worker = _worker()
    worker.cfg = SimpleNamespace(threads=4)
    worker.nr_conns = 3
    worker.accept(None)
    assert calls == ["accept"]  # room for one more: take it at once
    worker.nr_conns = 4
    calls.clear()
    worker.accept(None)
    assert calls == ["yield", "accept"]  # full: another worker may take it first, else this one does


def test_settings_are_checked(monkeypatch):
    monkeypatch.setenv(LINGER_ENV, "abc")
    with pytest.raises(ValueError, match=LINGER_ENV):
        _setting(LINGER_ENV, 2)
    monkeypatch.setenv(TURN_ENV, "-1")
    with pytest.raises(ValueError, match="negative"):
        _setting(TURN_ENV, 32)
    monkeypatch.setenv(LINGER_ENV, "inf")
    with pytest.raises(ValueError, match="finite"):
        _setting(LINGER_ENV, 2)
    monkeypatch.setenv(LINGER_ENV, " ")
    assert _setting(LINGER_ENV, 2) == 2


# -- under gunicorn ---------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _KeepAlive:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.file = self.sock.makefile("rb")

    def get(self, path: str) -> int:
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        status = int(self.file.readline().split()[1])
        length = 0
        while (line := self.file.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        self.file.read(length)
        return status

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def test_connections_take_turns_on_one_thread(tmp_path, monkeypatch):
    """One worker, one thread, a long linger and no turn limit: a client that never pauses
    must not keep a second client waiting for the thread."""
    url = f"sqlite:///{tmp_path / 'agora.db'}"
    migrate_database(Settings(database_url=url))
    port = _free_port()
    args = gunicorn_args("127.0.0.1", port, 1)
    assert "entrypoints.gunicorn_worker.KeepAliveThreadWorker" in args
    args[args.index("--threads") + 1] = "1"
    env = {"PATH": "/usr/bin:/bin", "AGORA_DATABASE_URL": url, "AGORA_RUN_SCHEDULER": "false",
           "PYTHONPATH": str(ROOT), "AGORA_STORAGE_DIR": str(tmp_path / "files"),
           LINGER_ENV: "500", TURN_ENV: "1000000", "HOME": str(tmp_path / "home")}
    (tmp_path / "home").mkdir()
    proc = subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(150):
            try:
                probe = _KeepAlive(port)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("gunicorn did not start")
        assert [probe.get("/healthz") for _ in range(20)] == [200] * 20  # many answers on one connection
        # no control socket in the user's home, which every gunicorn of the user would share
        assert list((tmp_path / "home").iterdir()) == []
        probe.close()

        stop, busy_answers = threading.Event(), []

        def busy() -> None:
            conn = _KeepAlive(port)
            while not stop.is_set():
                busy_answers.append(conn.get("/healthz"))
            conn.close()

        hammer = threading.Thread(target=busy)
        hammer.start()
        time.sleep(0.3)
        other = _KeepAlive(port)
        waits = []
        for _ in range(5):
            began = time.monotonic()
            assert other.get("/healthz") == 200
            waits.append(time.monotonic() - began)
        other.close()
        stop.set()
        hammer.join(10)
        assert busy_answers and set(busy_answers) == {200}
        assert max(waits) < 0.4, waits  # not the 500 ms linger, nor the hammering client's whole run
    finally:
        proc.terminate()
        proc.wait(10)
