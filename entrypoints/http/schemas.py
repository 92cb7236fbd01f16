"""Shared marshmallow pieces: unknown fields are rejected everywhere (RAISE)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate

from application.shared.clock import OUT_OF_RANGE, supported
from application.shared.paging import MAX_PER_PAGE


class Strict(Schema):
    class Meta:
        unknown = RAISE

    @post_load
    def _moments_in_range(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Every moment a request carries lies in the years the system can compute with (a
        far-future expiry plus its offset overflows Python's datetime). Plain dates are
        ranged by the rules that read them (periods, consumption days)."""
        bad = {field.data_key or name: [OUT_OF_RANGE] for name, field in self.fields.items()
               if isinstance(data.get(name), datetime) and not supported(data[name])}
        if bad:
            raise ValidationError(bad)
        return data


MAX_PAGE = 1_000_000  # an offset both databases hold far inside a 64-bit integer


class PagedQuery(Strict):
    """``page`` and ``per_page`` of every list (api.md "Lists")."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class ErrorDetail(Schema):
    code = fields.String(required=True, metadata={"description": "stable snake_case error code"})
    message = fields.String(required=True)
    details = fields.Dict(required=True)


class ErrorBody(Schema):
    error = fields.Nested(ErrorDetail, required=True)


def paged(item: type[Schema], name: str) -> type[Schema]:
    """A ``{items, page, per_page, total}`` schema for OpenAPI."""
    attrs: dict[str, Any] = {
        "items": fields.List(fields.Nested(item), required=True),
        "page": fields.Integer(required=True),
        "per_page": fields.Integer(required=True),
        "total": fields.Integer(required=True),
    }
    return type(name, (Schema,), attrs)


class NoBody(Strict):
    """No fields: the action is named by its path. Anything sent is refused (422), as on
    every POST."""


NO_BODY = NoBody()
