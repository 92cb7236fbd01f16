"""The one place where errors become HTTP responses (spec api.md)."""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from domain.shared.errors import (
    Conflict,
    DomainError,
    FigureOutOfRange,
    Forbidden,
    NotFound,
    RateLimited,
    Unauthorized,
    ValidationFailed,
)

log = logging.getLogger("agora.http")

STATUS_BY_TYPE: list[tuple[type[DomainError], int]] = [
    (ValidationFailed, 422),
    (NotFound, 404),
    (Conflict, 409),
    (Unauthorized, 401),
    (Forbidden, 403),
    (RateLimited, 429),
]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or {}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def status_of(exc: DomainError) -> int:
    for cls, status in STATUS_BY_TYPE:
        if isinstance(exc, cls):
            return status
    return 422


def _figure_out_of_range(exc: BaseException) -> FigureOutOfRange | None:
    """A money figure the database cannot hold, however the driver wrapped it: our own
    check (SQLite) or PostgreSQL's ``numeric_value_out_of_range`` (SQLSTATE 22003)."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or any(e is s for s in seen):
            continue
        seen.append(e)
        if isinstance(e, FigureOutOfRange):
            return e
        if getattr(e, "sqlstate", None) == "22003":
            return FigureOutOfRange("a figure would be beyond what a money column holds (9999999999999999.99)")
        todo += [getattr(e, "orig", None), e.__cause__, e.__context__]
    return None


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api(exc: ApiError) -> Any:
        return jsonify(error_body(exc.code, exc.message, exc.details)), exc.status

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError) -> Any:
        status = status_of(exc)
        resp = jsonify(error_body(exc.code, exc.message, exc.details))
        if isinstance(exc, RateLimited):
            resp.headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, Unauthorized):
            resp.headers["WWW-Authenticate"] = 'Bearer realm="agora"'
        return resp, status

    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError) -> Any:
        details = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        first = next(iter(details), "_schema")
        return jsonify(error_body("validation_failed", f"invalid field {first}", details)), 422

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large",
                415: "unsupported_media_type"}.get(exc.code or 500, "http_error")
        return jsonify(error_body(code, exc.description or code)), exc.code

    @app.errorhandler(Exception)
    def _bug(exc: Exception) -> Any:
        out_of_range = _figure_out_of_range(exc)
        if out_of_range is not None:  # the database refused the figure: nothing was written
            return jsonify(error_body(out_of_range.code, out_of_range.message)), 409
        log.exception("unhandled error")
        return jsonify(error_body("internal_error", "internal error; the request id identifies it in our logs")), 500
