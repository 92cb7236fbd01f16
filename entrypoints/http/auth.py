"""Bearer authentication (user tokens and API keys) and the ``X-Act-As-Org`` header."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, request

from application.identity import IdentityService
from application.shared.access import Caller
from domain.shared.errors import Unauthorized

F = TypeVar("F", bound=Callable[..., Any])


def service(cls: type[Any]) -> Any:
    """Resolve an application service from the app's container."""
    return current_app.extensions["injector"].get(cls)


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("send Authorization: Bearer <token or api key>", code="missing_credentials")
    return value.strip()


def authenticate(allow_password_change: bool = False) -> Caller:
    token = _bearer()
    identity = service(IdentityService)
    if token.startswith("agk_"):
        caller = identity.caller_for_api_key(token, g.request_id)
    else:
        caller = identity.caller_for_token(token, g.request_id, allow_password_change=allow_password_change)
    act_as = request.headers.get("X-Act-As-Org")
    if act_as and act_as != caller.org_id:
        caller = identity.act_as(caller, act_as)
    g.caller = caller
    return caller


def authenticated(func: F | None = None, *, allow_password_change: bool = False) -> Any:
    """Decorator: authenticate and pass ``caller`` as the first argument of the view."""
    def wrap(view: F) -> F:
        @functools.wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Any:
            caller = authenticate(allow_password_change)
            return view(caller, *args, **kwargs)
        inner._agora_auth = True  # type: ignore[attr-defined]
        return inner  # type: ignore[return-value]
    return wrap(func) if func is not None else wrap
