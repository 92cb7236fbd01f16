"""Structured (JSON) logs with the request id of the current request."""
from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from flask import g, has_request_context

_FIELDS = ("method", "path", "status", "duration_ms", "route", "remote_addr", "user_agent")


class JsonFormatter(logging.Formatter):
    """One JSON object per line. It formats every request's access line, so it does little:
    no import per call, the record's own dict looked up once."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if has_request_context():
            out["request_id"] = getattr(g, "request_id", None)
        extra = record.__dict__
        for key in _FIELDS:
            if key in extra:
                out[key] = extra[key]
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)
