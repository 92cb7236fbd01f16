"""The ``agora`` command: serve, worker, scheduler, db upgrade, admin create, demo, jobs."""
from __future__ import annotations

import json
import os
import sys
import tempfile

import click

from application.shared.settings import Settings


@click.group()
def main() -> None:
    """Agora back office."""
    from entrypoints.logging import configure_logging

    configure_logging(os.environ.get("AGORA_LOG_LEVEL", "INFO"))


@main.group()
def db() -> None:
    """Database schema (Alembic)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations to AGORA_DATABASE_URL."""
    from entrypoints.container import migrate_database

    settings = Settings.from_env()
    migrate_database(settings, revision)
    click.echo(f"database at {_safe_url(settings.database_url)} is at {revision}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@main.command()
@click.option("--host", default=lambda: os.environ.get("AGORA_HOST", "127.0.0.1"), show_default="127.0.0.1")
@click.option("--port", default=lambda: int(os.environ.get("AGORA_PORT", "8000")), type=int, show_default="8000")
@click.option("--workers", default=None, type=int, help="gunicorn workers (default 1 embedded, 2*CPU+1 with Redis)")
def serve(host: str, port: int, workers: int | None) -> None:
    """Serve the HTTP API with gunicorn."""
    if not os.environ.get("AGORA_BASE_URL"):
        # links we hand out (the pay page, the gateway's notify URL, downloads) must reach
        # this server: on its own port, and on loopback when it listens everywhere
        os.environ["AGORA_BASE_URL"] = default_base_url(host, port)
        if host in _ANY_ADDRESS:
            click.echo(f"AGORA_BASE_URL is not set: links point at {os.environ['AGORA_BASE_URL']}; set it to the "
                       "address payers and gateways reach this server at", err=True)
    settings = Settings.from_env()
    if workers is None:
        # embedded mode keeps one process: in-process jobs and the schedule live in it
        workers = 1 if not settings.redis_url else (os.cpu_count() or 1) * 2 + 1
    click.echo(f"Agora serving on http://{host}:{port} (docs: http://{host}:{port}/api/v1/docs, "
               f"database: {_safe_url(settings.database_url)}, jobs: "
               f"{'RQ on ' + settings.redis_url if settings.redis_url else 'in-process'})", err=True)
    args = gunicorn_args(host, port, workers)
    os.execvp(sys.executable, [sys.executable, "-m", *args])  # noqa: S606 - replaces this process on purpose


_ANY_ADDRESS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - compared with, not bound to


def default_base_url(host: str, port: int) -> str:
    """The public URL ``agora serve`` assumes when ``AGORA_BASE_URL`` is not set."""
    reachable = "127.0.0.1" if host in _ANY_ADDRESS else host
    return f"http://{reachable}:{port}"


def gunicorn_args(host: str, port: int, workers: int) -> list[str]:
    """The gunicorn command line of ``agora serve``. Several workers share a fresh
    ``PROMETHEUS_MULTIPROC_DIR`` (unless one is set) so a scrape counts them all."""
    from entrypoints.gunicorn_conf import OWNED_METRICS_DIR

    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        path = tempfile.mkdtemp(prefix="agora-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.environ[OWNED_METRICS_DIR] = path
    return ["gunicorn", "entrypoints.wsgi:app", "--bind", f"{host}:{port}", "--workers", str(workers),
            "--threads", "4", "--worker-class", "entrypoints.gunicorn_worker.KeepAliveThreadWorker",
            "--timeout", "60",  # the app logs each request (JSON, with its id)
            "--config", "python:entrypoints.gunicorn_conf"]


@main.command()
@click.option("--burst", is_flag=True, help="exit when the queue is empty")
@click.option("--metrics-port", type=int, default=None, envvar="AGORA_WORKER_METRICS_PORT",
              help="serve this worker's Prometheus metrics (jobs, outbox deliveries) on this port")
def worker(burst: bool, metrics_port: int | None) -> None:
    """Run an RQ worker for the agora queue (needs AGORA_REDIS_URL)."""
    from redis import Redis

    from entrypoints.jobs import run_worker

    settings = Settings.from_env()
    if not settings.redis_url:
        raise click.ClickException("AGORA_REDIS_URL is not set: in embedded mode jobs run inside `agora serve`")
    run_worker(Redis.from_url(settings.redis_url), burst=burst, metrics_port=metrics_port)


@main.command()
def scheduler() -> None:
    """Run the periodic job schedule with RQ's cron scheduler (needs AGORA_REDIS_URL)."""
    from redis import Redis
    from rq.cron import CronScheduler

    from entrypoints.jobs import SCHEDULE, run

    settings = Settings.from_env()
    if not settings.redis_url:
        raise click.ClickException("AGORA_REDIS_URL is not set: in embedded mode the schedule runs in `agora serve`")
    cron = CronScheduler(connection=Redis.from_url(settings.redis_url))
    for name, interval in SCHEDULE:
        cron.register(run, "agora", args=(name, {}), interval=interval, name=name)
    cron.start()


@main.command("run-job")
@click.argument("name")
@click.option("--kwargs", default="{}", help="JSON object of keyword arguments")
def run_job_cmd(name: str, kwargs: str) -> None:
    """Run one job now, in this process (operations and debugging)."""
    from entrypoints.container import build_container
    from entrypoints.jobs import run_job

    result = run_job(build_container(), name, json.loads(kwargs))
    click.echo(json.dumps(result, default=str))


@main.group()
def admin() -> None:
    """Platform administration."""


@admin.command("create")
@click.option("--login", required=True)
@click.option("--password", required=True, help="at least 8 characters with letters and digits")
@click.option("--name", default="Platform admin")
@click.option("--phone", default=None)
@click.option("--org-name", default="Agora Platform")
def admin_create(login: str, password: str, name: str, phone: str | None, org_name: str) -> None:
    """Create the platform organisation (once) and a platform admin user."""
    from marshmallow import ValidationError

    from application.platform import PlatformSetup
    from entrypoints.container import build_container
    from entrypoints.http.identity.schemas import normalize_phone

    if phone:
        try:  # stored in E.164, like users created over HTTP, so logging in by phone finds it
            phone = normalize_phone(phone)
        except ValidationError as exc:
            raise click.ClickException(f"invalid_phone: {phone} {exc.messages[0]}") from exc
    setup = build_container().get(PlatformSetup)
    try:
        user = setup.create_platform_admin(login, password, name, phone, org_name)
    except Exception as exc:
        code = getattr(exc, "code", None)
        if code is None:
            raise
        raise click.ClickException(f"{code}: {exc}") from exc
    click.echo(json.dumps({"id": user.id, "org_id": user.org_id, "login": user.login}))


@main.command()
def demo() -> None:
    """Load a small demo data set (idempotent; prints the logins)."""
    from application.platform import DemoData
    from entrypoints.container import build_container

    result = build_container().get(DemoData).load()
    click.echo(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
