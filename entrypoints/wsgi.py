"""WSGI entry for gunicorn: ``gunicorn entrypoints.wsgi:app``."""
from __future__ import annotations

from application.shared.settings import Settings
from entrypoints.container import build_container, start_in_process_scheduler
from entrypoints.http.app import create_app
from entrypoints.logging import configure_logging

configure_logging()
settings = Settings.from_env()
container = build_container(settings)
app = create_app(settings, container=container)
if not settings.redis_url and settings.run_scheduler:
    # embedded default: no Redis, so periodic jobs run on a thread of the web process
    start_in_process_scheduler(container)
