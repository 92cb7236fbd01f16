"""gunicorn settings that ``agora serve`` loads (``-c python:entrypoints.gunicorn_conf``).

With several workers ``agora serve`` gives them one fresh ``PROMETHEUS_MULTIPROC_DIR`` so
that ``/metrics`` answers the sum over all workers (entrypoints/metrics.py); these hooks
look after it: a dead worker's live values are dropped, and a directory ``agora serve``
made is removed when gunicorn stops."""
from __future__ import annotations

import os
import shutil
from typing import Any

OWNED_METRICS_DIR = "AGORA_OWNED_METRICS_DIR"

# gunicorn 25.1+ opens a control socket for ``gunicornc`` by default, at
# $XDG_RUNTIME_DIR/gunicorn.ctl or ~/.gunicorn/gunicorn.ctl: one path for every gunicorn
# the user runs, so a second server on the machine (a benchmark beside a development
# server) would take the first one's. Agora's servers are stopped and reloaded with signals,
# not by that interface.
control_socket_disable = True


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    owned = os.environ.get(OWNED_METRICS_DIR)
    if owned and owned == os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        shutil.rmtree(owned, ignore_errors=True)
