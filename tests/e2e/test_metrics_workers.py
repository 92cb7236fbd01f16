"""``/metrics`` under gunicorn with several workers: a scrape reaches one worker, yet it
must count what every worker served (``agora serve``'s multiprocess directory)."""
from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from application.shared.settings import Settings
from entrypoints.cli import gunicorn_args
from entrypoints.container import migrate_database

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def _healthz_count(body: str) -> float:
    found = re.search(r'agora_http_requests_total\{method="GET",route="/healthz",status="200"\} ([\d.]+)', body)
    return float(found.group(1)) if found else 0.0


def test_a_scrape_counts_the_requests_of_every_worker(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'agora.db'}"
    migrate_database(Settings(database_url=url))
    for name in ("PROMETHEUS_MULTIPROC_DIR", "AGORA_OWNED_METRICS_DIR"):
        monkeypatch.delenv(name, raising=False)
    port = _free_port()
    args = gunicorn_args("127.0.0.1", port, 2)  # sets the directory in os.environ, as `agora serve` does
    metrics_dir = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    for name in ("PROMETHEUS_MULTIPROC_DIR", "AGORA_OWNED_METRICS_DIR"):
        monkeypatch.setenv(name, os.environ[name])  # undone after the test
    assert metrics_dir.is_dir() and not any(metrics_dir.iterdir())
    env = {**os.environ, "AGORA_DATABASE_URL": url, "AGORA_RUN_SCHEDULER": "false", "PYTHONPATH": str(ROOT),
           "AGORA_STORAGE_DIR": str(tmp_path / "files")}
    env.pop("AGORA_REDIS_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(150):
            try:
                if _get(port, "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("gunicorn did not start")
        workers = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        assert len(workers) == 2
        with ThreadPoolExecutor(8) as pool:  # new connections, concurrently: both workers take some
            statuses = list(pool.map(lambda _: _get(port, "/healthz")[0], range(59)))
        assert statuses == [200] * 59
        # every scrape, whichever worker answers it, counts all 60 (the start-up probe too)
        for _ in range(6):
            status, body = _get(port, "/metrics")
            assert status == 200
            assert _healthz_count(body) == 60.0
        assert sorted(p.name.split("_")[-1] for p in metrics_dir.glob("counter_*.db")) == sorted(
            f"{pid}.db" for pid in workers)  # each worker wrote its own values
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    assert not metrics_dir.exists()  # gunicorn's on_exit removed the directory agora serve made
