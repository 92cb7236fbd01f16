"""View helpers: request loading, responses, paging, idempotency and OpenAPI metadata."""
from __future__ import annotations

import functools
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, current_app, g, jsonify, request
from marshmallow import Schema

from application.shared.clock import Clock
from application.shared.idempotency import DONE, LEASE, IdempotencyStore, lease_guard
from application.shared.paging import Page, PageRequest
from application.shared.uow import UnitOfWorkFactory, commit_guards
from entrypoints.http.errors import ApiError

F = TypeVar("F", bound=Callable[..., Any])


_SURROGATE = re.compile("[\ud800-\udfff]")


def reject_nul(value: Any, field: str = "_schema") -> None:
    """NUL characters and unpaired UTF-16 surrogates (JSON may spell one as ``"\\ud800"``)
    are refused in every input (422): no text column can store them (PostgreSQL refuses
    NUL, and neither database can encode a lone surrogate), and no id or name holds one."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ApiError(422, "validation_failed", f"invalid field {field}",
                           {field: ["must not contain NUL characters"]})
        if not value.isascii() and _SURROGATE.search(value):
            raise ApiError(422, "validation_failed", f"invalid field {field}",
                           {field: ["must not contain unpaired surrogates (not Unicode text)"]})
    elif isinstance(value, dict):
        for key, item in value.items():
            name = str(key).replace("\x00", "")
            name = name if field == "_schema" else f"{field}.{name}"
            reject_nul(key, name)
            reject_nul(item, name)
    elif isinstance(value, list):
        for item in value:
            reject_nul(item, field)


def reject_nul_in_path(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """A ``url_value_preprocessor``: an id with a NUL names nothing (404)."""
    if values and any(isinstance(v, str) and "\x00" in v for v in values.values()):
        raise ApiError(404, "not_found", "no such resource")


def _not_json(token: str) -> Any:
    """``NaN``, ``Infinity`` and ``-Infinity``: Python's extension, not JSON (400)."""
    raise ValueError(f"{token} is not JSON")


def body(schema: type[Schema] | Schema) -> dict[str, Any]:
    """Parse the JSON body with a schema that rejects unknown fields (422)."""
    raw = request.get_data(cache=True)  # not ``request.data``: that would parse it as a form first
    try:
        data = json.loads(raw, parse_constant=_not_json) if raw else {}
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python parses
        raise ApiError(400, "malformed_json", "request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "malformed_json", "request body must be a JSON object")
    reject_nul(data)
    inst = schema() if isinstance(schema, type) else schema
    return inst.load(data)  # type: ignore[no-any-return]


def query(schema: type[Schema]) -> dict[str, Any]:
    """The query string loaded by ``schema``; a parameter sent empty (``?type=``, as forms
    send an unset field) counts as not sent."""
    args = {k: v for k, v in request.args.items() if v != ""}
    reject_nul(args)
    return schema().load(args)  # type: ignore[no-any-return]


def page_request(args: dict[str, Any]) -> PageRequest:
    return PageRequest(page=args.pop("page", 1), per_page=args.pop("per_page", 20))


def dump(schema: type[Schema] | Schema, obj: Any, status: int = 200) -> tuple[Response, int]:
    inst = schema() if isinstance(schema, type) else schema
    return jsonify(inst.dump(obj)), status


def page_fields(page: Page[Any]) -> dict[str, int]:
    """The envelope every paged answer carries besides its items."""
    return {"page": page.page, "per_page": page.per_page, "total": page.total}


def dump_page(schema: type[Schema], page: Page[Any], items: list[Any] | None = None) -> tuple[Response, int]:
    """A page of ``schema`` items: the page's own, or ``items`` shaped from them."""
    return jsonify({"items": schema(many=True).dump(page.items if items is None else items),
                    **page_fields(page)}), 200


def _container() -> Any:
    return current_app.extensions["injector"]


def idempotent(view: F) -> F:
    """Honour ``Idempotency-Key`` (api.md): same key + same body -> first response;
    same key + other body, or on another endpoint -> 409 ``idempotency_key_reused``;
    concurrent repeat -> 409 ``idempotency_key_in_progress``. Keys are per caller
    organisation (per address for unauthenticated callbacks), whatever the endpoint.

    The request holds the key under a lease, and its effect commits only with the key
    marked applied (application/shared/idempotency.py): a retry takes over a key whose
    holder died, and a key whose effect committed never lets the effect happen twice."""

    @functools.wraps(view)
    def inner(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get("Idempotency-Key")
        if not key:
            return view(*args, **kwargs)
        if len(key) > 200:
            raise ApiError(422, "validation_failed", "Idempotency-Key is too long",
                           {"Idempotency-Key": ["at most 200 characters"]})
        caller = getattr(g, "caller", None)
        scope = caller.effective_org_id if caller else (request.remote_addr or "anon")
        digest = _request_digest(caller)
        lease = uuid.uuid4().hex
        container = _container()
        with container.get(UnitOfWorkFactory)() as uow:
            existing = uow.repo(IdempotencyStore).reserve(scope, key, digest, lease,
                                                           container.get(Clock).now())
            uow.commit()
        if existing is not None:
            if existing.request_hash != digest:
                raise ApiError(409, "idempotency_key_reused",
                               "this Idempotency-Key was used with a different request")
            if existing.status != DONE:
                raise ApiError(409, "idempotency_key_in_progress",
                               "a request with this Idempotency-Key is still being processed; "
                               f"retry in {int(LEASE.total_seconds())} s if it never answers")
            resp = current_app.response_class(existing.response_body, status=existing.response_status,
                                              mimetype="application/json")
            resp.headers["Idempotent-Replayed"] = "true"
            return resp
        try:
            with commit_guards((lease_guard(scope, key, lease, container.get(Clock).now),)):
                result = view(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the handler turns it into the response
            # a refused command wrote nothing, so its answer is final only for 4xx
            response = current_app.make_response(current_app.handle_user_exception(exc))
            _finish(container, scope, key, lease, response)
            return response
        response = current_app.make_response(result)
        _finish(container, scope, key, lease, response)
        return response

    inner._agora_idempotent = True  # type: ignore[attr-defined]  # documented as a header
    return inner  # type: ignore[return-value]


def _request_digest(caller: Any) -> str:
    """What makes two requests "the same" for an idempotency key: the endpoint, the body
    as JSON (key order and spacing do not matter; number literals are kept as written)
    and who sent it — another user or API key of the organisation reusing the key gets
    409 ``idempotency_key_reused``, never the first caller's answer."""
    raw = request.get_data() or b""
    try:
        body = json.dumps(json.loads(raw, parse_float=str, parse_int=str), sort_keys=True,
                          separators=(",", ":"), ensure_ascii=False).encode() if raw else b""
    except (ValueError, RecursionError):  # not JSON: the bytes as sent
        body = raw
    principal = (caller.user_id or caller.api_key_id or "") if caller else ""
    return hashlib.sha256(b"\0".join((request.method.encode(), request.path.encode(), principal.encode(), body))
                          ).hexdigest()


def _finish(container: Any, scope: str, key: str, lease: str, response: Response) -> None:
    with container.get(UnitOfWorkFactory)() as uow:
        store = uow.repo(IdempotencyStore)
        if response.status_code >= 500:
            store.release(scope, key, lease)  # a bug or outage: the client may retry at once
        else:
            store.complete(scope, key, lease, response.status_code, response.get_data(as_text=True))
        uow.commit()


def doc(*, summary: str, tags: list[str], body_schema: type[Schema] | None = None,
        response: type[Schema] | None = None, status: int = 200, query_schema: type[Schema] | None = None,
        paged: bool = False, auth: bool = True, errors: tuple[int, ...] = (),
        also: dict[int, type[Schema]] | None = None) -> Callable[[F], F]:
    """Attach OpenAPI metadata to a view; ``entrypoints.http.openapi`` collects it.
    ``also`` documents further success answers (e.g. ``{202: ChallengeResponse}``)."""

    def wrap(view: F) -> F:
        view._agora_doc = dict(summary=summary, tags=tags, body=body_schema, response=response,  # type: ignore
                               status=status, query=query_schema, paged=paged, auth=auth, errors=errors,
                               also=dict(also or {}))
        return view

    return wrap

