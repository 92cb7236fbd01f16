"""OpenAPI 3 generated with apispec from the marshmallow schemas the views use."""
from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask

from entrypoints.http.schemas import ErrorBody
from entrypoints.http.wallet.schemas import Money

_PARAM = re.compile(r"<(?:[a-z_]+:)?([a-z_]+)>")
_STATUS_TEXT = {400: "malformed JSON", 401: "no or bad credentials", 403: "not allowed", 404: "unknown resource",
                409: "state conflict", 422: "validation failed", 429: "rate limited"}


def _schema_name_resolver(schema: Any) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__
    if name.endswith("Schema"):
        name = name[: -len("Schema")]
    return name


_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 200},
    "description": "a repeat with the same key and body answers the first response (header "
                   "`Idempotent-Replayed: true`); the same key with another body is 409 `idempotency_key_reused`, "
                   "one still being processed 409 `idempotency_key_in_progress`; keys are kept at least 24 hours, "
                   "per caller organisation and operation"}
_ACT_AS = {
    "name": "X-Act-As-Org", "in": "header", "required": False, "schema": {"type": "string"},
    "description": "an agency acting for one of its authorised principals: that principal's organisation id"}


def build_spec(app: Flask) -> dict[str, Any]:
    marshmallow = MarshmallowPlugin(schema_name_resolver=_schema_name_resolver)
    spec = APISpec(title="Agora API", version="1.0.0", openapi_version="3.0.3",
                   plugins=[marshmallow],
                   info={"description": "Back office of the Agora B2B cloud marketplace. Errors share one body "
                                        "`{error: {code, message, details}}`; lists are paged with page/per_page."})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "description": "user access token or API key (agk_...)"})
    marshmallow.map_to_openapi_type(Money, "string", "decimal")  # "12.30": two places, as a string
    spec.components.schema("ErrorBody", schema=ErrorBody)
    by_path: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions.get(rule.endpoint)
        meta = getattr(view, "_agora_doc", None)
        if meta is None:
            continue
        path = _PARAM.sub(r"{\1}", rule.rule)
        params = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                  for p in _PARAM.findall(rule.rule)]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op: dict[str, Any] = {"summary": meta["summary"], "tags": meta["tags"],
                                  "operationId": rule.endpoint.replace(".", "_") + "_" + method.lower()}
            if params:
                op["parameters"] = list(params)
            if meta["query"] is not None:
                op.setdefault("parameters", []).append({"in": "query", "schema": meta["query"]})
            if meta["auth"]:
                op.setdefault("parameters", []).append(_ACT_AS)
            idempotent = getattr(view, "_agora_idempotent", False)
            if idempotent:
                op.setdefault("parameters", []).append(_IDEMPOTENCY_KEY)
            if meta["body"] is not None:
                op["requestBody"] = {"required": True,
                                     "content": {"application/json": {"schema": meta["body"]}}}
            responses: dict[str, Any] = {}
            ok: dict[str, Any] = {"description": "success"}
            if meta["response"] is not None and meta["status"] != 204:
                ok["content"] = {"application/json": {"schema": meta["response"]}}
            responses[str(meta["status"])] = ok
            for status, schema in meta.get("also", {}).items():
                responses[str(status)] = {"description": "success",
                                          "content": {"application/json": {"schema": schema}}}
            errors = set(meta["errors"]) | {422}
            if meta["auth"]:
                # 404 too: X-Act-As-Org naming an organisation the caller may not act for
                errors |= {401, 403, 404}
                op["security"] = [{"bearer": []}]
            if meta["body"] is not None:
                errors |= {400}
            if idempotent:
                errors |= {409}
            if params:
                errors |= {404}
            for status in sorted(errors):
                responses[str(status)] = {"description": _STATUS_TEXT.get(status, "error"),
                                          "content": {"application/json": {"schema": "ErrorBody"}}}
            op["responses"] = responses
            by_path.setdefault(path, {})[method.lower()] = op
    for path, operations in by_path.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
