"""Flask application factory."""
from __future__ import annotations

import logging
import re
import time
import uuid

import injector
from flask import Flask, Response, g, request

from application.shared.settings import Settings
from entrypoints.container import build_container
from entrypoints.http import errors
from entrypoints.http.api import reject_nul_in_path
from entrypoints.metrics import record_request

log = logging.getLogger("agora.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


def create_app(settings: Settings | None = None, *overrides: injector.Module,
               container: injector.Injector | None = None) -> Flask:
    settings = settings or Settings.from_env()
    container = container or build_container(settings, *overrides)
    app = Flask("agora")
    app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["injector"] = container
    app.extensions["settings"] = settings

    from entrypoints.http import system
    from entrypoints.http.dispatch.views import bp as dispatch_bp
    from entrypoints.http.exports import bp as exports_bp
    from entrypoints.http.identity.views import bp as identity_bp
    from entrypoints.http.wallet.overview import bp as agency_overview_bp
    from entrypoints.http.wallet.views import bp as wallet_bp
    from entrypoints.http.workflow.views import bp as workflow_bp

    for blueprint in (system.bp, identity_bp, dispatch_bp, workflow_bp, wallet_bp, agency_overview_bp, exports_bp):
        app.register_blueprint(blueprint)
    if settings.payment == "sandbox":  # the fake gateway's pay page: never with a real gateway
        from entrypoints.http.sandbox import bp as sandbox_bp

        app.register_blueprint(sandbox_bp)
    errors.register(app)
    app.url_value_preprocessor(reject_nul_in_path)  # every module: an id with a NUL names nothing

    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        req, ctx = request._get_current_object(), g._get_current_object()  # type: ignore[attr-defined]
        rule, method, path, status = req.url_rule, req.method, req.path, response.status_code
        route = rule.rule if rule is not None else "unmatched"
        elapsed = time.perf_counter() - getattr(ctx, "started", time.perf_counter())
        record_request(method, route, status, elapsed)
        response.headers["X-Request-Id"] = getattr(ctx, "request_id", "")
        # the one access log line (agora serve turns gunicorn's own access log off)
        log.info("%s %s %s", method, path, status,
                 extra={"method": method, "path": path, "route": route, "status": status,
                        "duration_ms": round(elapsed * 1000, 2), "remote_addr": req.remote_addr,
                        "user_agent": req.headers.get("User-Agent") or None})
        return response

    return app

