"""Health, metrics, OpenAPI document and the offline docs page."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, render_template_string
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlalchemy.engine import Engine

from application.shared.outbox import OutboxRepository
from application.shared.settings import Settings
from application.shared.uow import UnitOfWorkFactory
from entrypoints.http.docs_page import DOCS_HTML
from entrypoints.http.openapi import build_spec
from entrypoints.metrics import exposition, outbox_messages

bp = Blueprint("system", __name__)


def _container() -> Any:
    return current_app.extensions["injector"]


@bp.get("/healthz")
def healthz() -> Any:
    checks: dict[str, str] = {}
    ok = True
    try:
        with _container().get(Engine).connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        checks["database"] = f"error: {type(exc).__name__}"
        ok = False
    settings = _container().get(Settings)
    if settings.redis_url:
        try:
            from redis import Redis

            Redis.from_url(settings.redis_url, socket_timeout=2).ping()
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["redis"] = f"error: {type(exc).__name__}"
            ok = False
    else:
        checks["jobs"] = "in-process"
    return jsonify({"status": "ok" if ok else "degraded", "checks": checks}), 200 if ok else 503


@bp.get("/metrics")
def metrics() -> Any:
    try:
        with _container().get(UnitOfWorkFactory)() as uow:
            for status, count in uow.repo(OutboxRepository).counts().items():
                outbox_messages.labels(status=status).set(count)
    except Exception:  # noqa: BLE001,S110 - metrics must answer even when the database does not
        pass
    return current_app.response_class(exposition(), mimetype=CONTENT_TYPE_LATEST)


@bp.get("/api/v1/openapi.json")
def openapi() -> Any:
    spec = current_app.extensions.get("agora_openapi")
    if spec is None:
        spec = current_app.extensions["agora_openapi"] = build_spec(current_app)
    return jsonify(spec)


@bp.get("/api/v1/docs")
def docs() -> Any:
    return render_template_string(DOCS_HTML)
