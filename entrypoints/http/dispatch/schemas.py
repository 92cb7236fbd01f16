"""Request and response schemas of the dispatch API (unknown request fields: 422)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from domain.dispatch.validation import EMPLOYEE_MAX_LOAD_RANGE, PROVIDER_MAX_LOAD_RANGE, WEIGHT_RANGE
from domain.identity.roles import ROLES
from entrypoints.http.schemas import PagedQuery, Strict

MAX_PROVIDERS = 100
KIND = validate.OneOf(["provider", "employee"])


def _id(**kw: object) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=40), **kw)  # type: ignore[arg-type]


class ProviderSettingIn(Strict):
    provider_org_id = _id(required=True)
    weight = fields.Integer(required=True, strict=True, validate=validate.Range(*WEIGHT_RANGE),
                            metadata={"description": "1-100; chance = weight / sum of the eligible weights"})
    max_load = fields.Integer(required=True, strict=True, validate=validate.Range(*PROVIDER_MAX_LOAD_RANGE),
                              metadata={"description": "0-2000 unfinished projects at once"})


class ProductProviderOut(Schema):
    product_id = fields.String()
    provider_org_id = fields.String()
    provider_name = fields.String(allow_none=True)
    vendor_org_id = fields.String()
    weight = fields.Integer()
    max_load = fields.Integer()
    current_load = fields.Integer()
    updated_at = fields.AwareDateTime()


class ProductProviderList(Schema):
    items = fields.List(fields.Nested(ProductProviderOut), required=True)


class CapacityIn(Strict):
    max_load = fields.Integer(required=True, strict=True, validate=validate.Range(*EMPLOYEE_MAX_LOAD_RANGE),
                              metadata={"description": "0-50 unfinished projects as operator"})
    accepting = fields.Boolean(required=True, metadata={"description": "true: normal; false: paused"})


class AcceptingIn(Strict):
    accepting = fields.Boolean(required=True)


class CapacityOut(Schema):
    user_id = fields.String()
    org_id = fields.String()
    name = fields.String(allow_none=True)
    roles = fields.List(fields.String())
    department_id = fields.String(allow_none=True)
    max_load = fields.Integer()
    current_load = fields.Integer()
    accepting = fields.Boolean()
    status = fields.Function(lambda c: "normal" if c.accepting else "paused",
                             metadata={"description": "normal | paused"})
    updated_at = fields.AwareDateTime(allow_none=True)


class CapacityQuery(PagedQuery):
    role = fields.String(validate=validate.OneOf(sorted(ROLES)))
    accepting = fields.Boolean()


class QueueQuery(PagedQuery):
    kind = fields.String(validate=KIND)
    order_no = fields.String(validate=validate.Length(min=1, max=64))
    product_id = _id()
    customer_org_id = _id()
    provider_org_id = _id()
    reason_code = fields.String(validate=validate.Length(min=1, max=40))


class QueueItemOut(Schema):
    project_id = fields.String()
    kind = fields.String()
    order_no = fields.String()
    product_id = fields.String()
    vendor_org_id = fields.String(allow_none=True)
    customer_org_id = fields.String()
    customer_name = fields.String(allow_none=True)
    provider_org_id = fields.String(allow_none=True)
    provider_name = fields.String(allow_none=True)
    role = fields.String(allow_none=True)
    rule = fields.String(allow_none=True)
    department_id = fields.String(allow_none=True)
    reason_code = fields.String(metadata={"description": "no_provider_configured | all_providers_full | "
                                                         "no_employee_with_role | all_employees_full"})
    reason = fields.String()
    queued_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime(metadata={"description": "last update of the entry"})


class DispatchOut(Schema):
    project_id = fields.String()
    kind = fields.String()
    assigned = fields.Function(lambda o: o.assignee is not None)
    assignee = fields.String(allow_none=True, metadata={"description": "provider org id or employee user id"})
    reason = fields.String(allow_none=True, metadata={"description": "why it still waits"})
    explanation = fields.Dict()


class SaturationQuery(PagedQuery):
    product_id = _id()
    provider_org_id = _id()
    vendor_org_id = _id()


class SaturationOut(Schema):
    product_id = fields.String()
    provider_org_id = fields.String()
    provider_name = fields.String(allow_none=True)
    vendor_org_id = fields.String()
    weight = fields.Integer()
    current_load = fields.Integer()
    max_load = fields.Integer()
    percent = fields.Decimal(as_string=True, allow_none=True, metadata={"description": "one decimal; null at max 0"})
    band = fields.String(metadata={"description": "green < 40% <= blue <= 80% < red"})


class DecisionQuery(PagedQuery):
    project_id = _id()
    kind = fields.String(validate=KIND)


class DecisionOut(Schema):
    id = fields.String()
    project_id = fields.String()
    kind = fields.String()
    chosen = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    via = fields.String(metadata={"description": "assign | dispatch_now | sweep | change_operator"})
    product_id = fields.String()
    vendor_org_id = fields.String(allow_none=True)
    provider_org_id = fields.String(allow_none=True)
    explanation = fields.Dict(metadata={"description": "the candidates and why the winner won"})
    at = fields.AwareDateTime()
