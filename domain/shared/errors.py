"""Domain errors carry a stable snake_case ``code`` that clients branch on.

The HTTP layer maps each family to one status code in one place
(``entrypoints/http/errors.py``); the domain never knows about HTTP.
"""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a business rule raises. ``code`` is stable and documented."""

    code = "domain_error"

    def __init__(self, message: str = "", *, code: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message or self.code)
        if code is not None:
            self.code = code
        self.message = message or self.code
        self.details = details or {}


class ValidationFailed(DomainError):
    """Input breaks a rule; ``details`` maps field -> list of messages (HTTP 422)."""

    code = "validation_failed"

    def __init__(self, field: str, message: str, *, code: str | None = None) -> None:
        super().__init__(f"{field}: {message}", code=code, details={field: [message]})
        self.field = field


class NotFound(DomainError):
    """Unknown resource, or one the caller may not know exists (HTTP 404)."""

    code = "not_found"
    what = "resource"  # what a caller is told does not exist


class Conflict(DomainError):
    """The resource is in a state that does not allow the command (HTTP 409)."""

    code = "conflict"


class FigureOutOfRange(Conflict):
    """A stored figure would leave what the database holds (NUMERIC(18, 2)): raised where
    money is written, so the whole command is rolled back."""

    code = "figure_out_of_range"


class Unauthorized(DomainError):
    """No or bad credentials (HTTP 401)."""

    code = "unauthorized"


class Forbidden(DomainError):
    """Authenticated but not allowed (HTTP 403)."""

    code = "forbidden"


class RateLimited(DomainError):
    """Too many attempts (HTTP 429); ``retry_after`` in seconds."""

    code = "rate_limited"

    def __init__(self, message: str = "", *, retry_after: int = 60, code: str | None = None) -> None:
        super().__init__(message or "too many requests", code=code,
                         details={"retry_after": retry_after})
        self.retry_after = retry_after
