"""Request and response schemas of the workflow API (templates, products, projects,
calendars, dashboard). Every request schema rejects unknown fields."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from entrypoints.http.schemas import PagedQuery, Strict

ID = validate.Length(min=1, max=40)
TEXT500 = validate.Length(max=500)


class TimeoutDays(fields.Field):  # type: ignore[type-arg]
    """Working days with at most one decimal: ``"1.5"`` or a JSON number (read as its decimal text)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValidationError("must be a decimal number of working days")
        return str(value)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else str(value)


# --------------------------------------------------------------------------- paging
class WfPaged(PagedQuery):
    """Paging of the workflow lists."""


# --------------------------------------------------------------------------- templates
class NodeReminderIn(Strict):
    receiver = fields.String(required=True, metadata={"description": "customer | operator | provider_admin | "
                                                                     "vendor_admin"})
    trigger = fields.String(required=True, metadata={"description": "enter | reject | transition | timeout"})
    message_template = fields.String(required=True, validate=validate.Length(max=100),
                                     metadata={"description": 'a platform message template "<node>-<receiver>"'})


class NodeIn(Strict):
    type = fields.String(required=True, metadata={
        "description": "assign_provider | claim_order | assign_order | submit_requirements | confirm | general | "
                       "container | complete"})
    name = fields.String(required=True, validate=validate.Length(max=100))
    role = fields.String(allow_none=True, validate=validate.Length(max=40))
    side = fields.String(allow_none=True, metadata={"description": "provider | customer"})
    timeout_days = TimeoutDays(allow_none=True, metadata={"description": "working days, at most one decimal",
                                                          "type": "string"})
    advance_on_timeout = fields.Boolean()
    rejectable = fields.Boolean()
    rule = fields.String(allow_none=True, metadata={"description": "provider_first | department_first"})
    form_template_id = fields.String(allow_none=True, validate=validate.Length(max=40))
    upload = fields.Boolean()
    labels = fields.Dict(keys=fields.String(validate=validate.Length(max=20)),
                         values=fields.String(validate=validate.Length(max=100)))
    reminders = fields.List(fields.Nested(NodeReminderIn), validate=validate.Length(max=50))
    children = fields.List(fields.Nested(lambda: NodeIn()), validate=validate.Length(max=100))


class FlowTemplateIn(Strict):
    name = fields.String(required=True, validate=validate.Length(max=100))
    description = fields.String(load_default="", validate=TEXT500)
    nodes = fields.List(fields.Nested(NodeIn), required=True, validate=validate.Length(max=100))


class TemplateCopyIn(Strict):
    name = fields.String(allow_none=True, validate=validate.Length(min=1, max=100))


class TemplateRejectIn(Strict):
    remark = fields.String(required=True, validate=validate.Length(min=1, max=500))


class TemplateQuery(WfPaged):
    scope = fields.String(load_default="all", validate=validate.OneOf(["all", "mine", "public"]))
    status = fields.String(validate=validate.OneOf(["draft", "pending_approval", "published"]))
    name = fields.String(validate=validate.Length(max=100))


class NodeReminderOut(Schema):
    receiver = fields.String()
    trigger = fields.String()
    message_template = fields.String()


class NodeOut(Schema):
    type = fields.String()
    name = fields.String()
    role = fields.String(allow_none=True)
    side = fields.String(allow_none=True)
    timeout_days = fields.String(allow_none=True)
    advance_on_timeout = fields.Boolean()
    rejectable = fields.Boolean()
    rule = fields.String(allow_none=True)
    form_template_id = fields.String(allow_none=True)
    upload = fields.Boolean()
    labels = fields.Dict(keys=fields.String(), values=fields.String())
    reminders = fields.List(fields.Nested(NodeReminderOut))
    children = fields.List(fields.Nested(lambda: NodeOut()))


class TemplateVersionOut(Schema):
    number = fields.Integer()
    name = fields.String()
    description = fields.String()
    status = fields.String(metadata={"description": "draft | pending_approval | published"})
    created_at = fields.AwareDateTime()
    submitted_at = fields.AwareDateTime(allow_none=True)
    published_at = fields.AwareDateTime(allow_none=True)
    review_remark = fields.String(allow_none=True)
    nodes = fields.List(fields.Nested(NodeOut))


class FlowTemplateOut(Schema):
    id = fields.String()
    owner_org_id = fields.String()
    public = fields.Boolean()
    copied_from = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    name = fields.String()
    description = fields.String()
    status = fields.String(metadata={"description": "the latest version's status"})
    latest_version = fields.Integer()
    current_version = fields.Integer(allow_none=True, metadata={"description": "newest published version"})
    versions = fields.List(fields.Nested(TemplateVersionOut))


class FormFieldIn(Strict):
    key = fields.String(required=True, validate=validate.Length(max=50))
    label = fields.String(required=True, validate=validate.Length(max=100))
    type = fields.String(required=True, validate=validate.OneOf(["text", "number", "date", "choice", "file"]))
    required = fields.Boolean(load_default=False)
    choices = fields.List(fields.String(validate=validate.Length(max=100)), load_default=list,
                          validate=validate.Length(max=100))


class FormTemplateIn(Strict):
    name = fields.String(required=True, validate=validate.Length(max=100))
    fields_ = fields.List(fields.Nested(FormFieldIn), required=True, validate=validate.Length(min=1, max=100),
                          data_key="fields")


class FormFieldOut(Schema):
    key = fields.String()
    label = fields.String()
    type = fields.String()
    required = fields.Boolean()
    choices = fields.List(fields.String())


class FormTemplateOut(Schema):
    id = fields.String()
    name = fields.String()
    fields_ = fields.List(fields.Nested(FormFieldOut), data_key="fields")


class MessageTemplateIn(Strict):
    name = fields.String(required=True, validate=validate.Length(max=100),
                         metadata={"description": '"<node>-<receiver>", e.g. "项目完成节点-通知客户"'})
    title = fields.String(required=True, validate=validate.Length(max=200))
    body = fields.String(required=True, validate=validate.Length(max=1000),
                         metadata={"description": "{order_no}, {node}, {product}, {customer}, {trigger} are filled in"})
    remark = fields.String(allow_none=True, validate=TEXT500)


class MessageTemplatePut(Strict):
    title = fields.String(required=True, validate=validate.Length(max=200))
    body = fields.String(required=True, validate=validate.Length(max=1000))
    remark = fields.String(allow_none=True, validate=TEXT500)


class MessageTemplateQuery(WfPaged):
    name = fields.String(validate=validate.Length(max=100))


class MessageTemplateOut(Schema):
    id = fields.String()
    name = fields.String()
    title = fields.String()
    body = fields.String()
    remark = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()


# --------------------------------------------------------------------------- products
class ServiceProductIn(Strict):
    code = fields.String(required=True, validate=validate.Length(max=64))
    name = fields.String(required=True, validate=validate.Length(max=100))
    vendor_org_id = fields.String(required=True, validate=ID)
    kind = fields.String(required=True, validate=validate.OneOf(["service"]))


class ServiceProductTemplateIn(Strict):
    template_id = fields.String(required=True, validate=ID)


class ServiceProductQuery(WfPaged):
    code = fields.String(validate=validate.Length(max=64))
    name = fields.String(validate=validate.Length(max=100))
    template_id = fields.String(validate=ID)
    template_name = fields.String(validate=validate.Length(max=100))
    vendor_org_id = fields.String(validate=ID)


class ServiceProductOut(Schema):
    id = fields.String()
    code = fields.String()
    name = fields.String()
    vendor_org_id = fields.String()
    kind = fields.String()
    template_id = fields.String(allow_none=True)
    template_name = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()


# --------------------------------------------------------------------------- projects
class ProjectIn(Strict):
    order_no = fields.String(required=True, validate=validate.Length(min=1, max=64))
    business_no = fields.String(allow_none=True, validate=validate.Length(max=64))
    product_id = fields.String(required=True, validate=ID)
    customer_org_id = fields.String(required=True, validate=ID)
    spec = fields.String(allow_none=True, validate=validate.Length(max=100))
    valid_until = fields.Date(allow_none=True)


class RequirementsIn(Strict):
    values = fields.Dict(keys=fields.String(validate=validate.Length(max=50)), required=True,
                         metadata={"description": "answers by form field key"})


class NodeConfirmIn(Strict):
    remark = fields.String(allow_none=True, validate=TEXT500)


class NodeRejectIn(Strict):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class ProjectRemarkIn(Strict):
    remark = fields.String(required=True, validate=validate.Length(min=1, max=500))


class ProjectOptionalRemarkIn(Strict):
    remark = fields.String(allow_none=True, validate=TEXT500)


class ProjectChangeProviderIn(Strict):
    provider_org_id = fields.String(required=True, validate=ID)
    remark = fields.String(allow_none=True, validate=TEXT500)


class ProjectChangeOperatorIn(Strict):
    user_id = fields.String(required=True, validate=ID)
    remark = fields.String(allow_none=True, validate=TEXT500)
    role = fields.String(allow_none=True, validate=validate.Length(max=40),
                         metadata={"description": "which role's operator; default: the current node's"})


class ProjectPostIn(Strict):
    text = fields.String(required=True, validate=validate.Length(min=1, max=500))


class ProjectEvaluationIn(Strict):
    rating = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=5))
    comment = fields.String(load_default="", validate=TEXT500)


class OrderClaimIn(Strict):
    order_no = fields.String(required=True, validate=validate.Length(min=1, max=64))


class WfOrgRef(Schema):
    id = fields.String()
    name = fields.String(allow_none=True)


class WfProductRef(Schema):
    id = fields.String()
    code = fields.String()
    name = fields.String()


class WfTemplateRef(Schema):
    id = fields.String()
    version = fields.Integer()


class ProjectNodeInstanceOut(Schema):
    id = fields.String()
    epoch = fields.Integer()
    entered_at = fields.AwareDateTime()
    finished_at = fields.AwareDateTime(allow_none=True)
    deadline = fields.AwareDateTime(allow_none=True)
    side = fields.String()
    role = fields.String(allow_none=True)
    operator_id = fields.String(allow_none=True)
    finished_by = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    remark = fields.String(allow_none=True)
    overdue = fields.Boolean()
    timed_out_at = fields.AwareDateTime(allow_none=True)
    waiting_reason = fields.String(allow_none=True)
    waiting_since = fields.AwareDateTime(allow_none=True)
    requirements = fields.Dict(allow_none=True)
    decision = fields.Dict(allow_none=True, metadata={"description": "dispatch's explanation (provider side)"})


class ProjectNodeOut(Schema):
    step = fields.Integer()
    path = fields.String()
    name = fields.String()
    type = fields.String()
    side = fields.String(allow_none=True)
    role = fields.String(allow_none=True)
    containers = fields.List(fields.String())
    labels = fields.Dict(keys=fields.String(), values=fields.String())
    upload = fields.Boolean()
    rejectable = fields.Boolean()
    form_template_id = fields.String(allow_none=True)
    timeout_days = fields.String(allow_none=True)
    advance_on_timeout = fields.Boolean()
    state = fields.String(metadata={"description": "pending | current | waiting | done | rejected | cancelled | "
                                                   "superseded"})
    instances = fields.List(fields.Nested(ProjectNodeInstanceOut))


class ProjectCurrentNodeOut(Schema):
    id = fields.String()
    name = fields.String()
    type = fields.String()
    side = fields.String()
    role = fields.String(allow_none=True)
    operator_id = fields.String(allow_none=True)
    operator_name = fields.String(allow_none=True)
    entered_at = fields.AwareDateTime()
    deadline = fields.AwareDateTime(allow_none=True)
    overdue = fields.Boolean()
    waiting_reason = fields.String(allow_none=True)


class ProjectOperatorOut(Schema):
    role = fields.String()
    user_id = fields.String()
    name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)


class ProjectBusinessOut(Schema):
    product_name = fields.String()
    spec = fields.String(allow_none=True)
    order_no = fields.String()
    business_no = fields.String(allow_none=True)
    customer_name = fields.String(allow_none=True)
    valid_until = fields.Date(allow_none=True)


class ProjectEvaluationOut(Schema):
    rating = fields.Integer()
    comment = fields.String()
    at = fields.AwareDateTime()


class ProjectOut(Schema):
    id = fields.String()
    order_no = fields.String()
    business_no = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "running | paused | completed | cancelled"})
    overdue = fields.Boolean()
    overdue_side = fields.String(allow_none=True, metadata={"description": "provider | customer"})
    viewer = fields.String(metadata={"description": "how you see it: platform | vendor | provider | participant | "
                                                    "customer"})
    product = fields.Nested(WfProductRef)
    vendor = fields.Nested(WfOrgRef)
    customer = fields.Nested(WfOrgRef)
    provider = fields.Nested(WfOrgRef, allow_none=True)
    template = fields.Nested(WfTemplateRef)
    current_node = fields.Nested(ProjectCurrentNodeOut, allow_none=True)
    nodes = fields.List(fields.Nested(ProjectNodeOut))
    operators = fields.List(fields.Nested(ProjectOperatorOut))
    business = fields.Nested(ProjectBusinessOut)
    evaluation = fields.Nested(ProjectEvaluationOut, allow_none=True)
    claimed_by = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    paused_at = fields.AwareDateTime(allow_none=True)
    completed_at = fields.AwareDateTime(allow_none=True)
    cancelled_at = fields.AwareDateTime(allow_none=True)


class ProjectRowOut(Schema):
    id = fields.String()
    order_no = fields.String()
    business_no = fields.String(allow_none=True)
    product_id = fields.String()
    product_code = fields.String()
    product_name = fields.String()
    vendor_org_id = fields.String()
    vendor_name = fields.String(allow_none=True)
    customer_org_id = fields.String()
    customer_name = fields.String(allow_none=True)
    provider_org_id = fields.String(allow_none=True)
    provider_name = fields.String(allow_none=True)
    status = fields.String()
    current_node_id = fields.String(allow_none=True)
    current_node_name = fields.String(allow_none=True)
    current_node_type = fields.String(allow_none=True)
    current_side = fields.String(allow_none=True)
    current_role = fields.String(allow_none=True)
    current_operator_id = fields.String(allow_none=True)
    current_operator_name = fields.String(allow_none=True)
    overdue = fields.Boolean()
    overdue_side = fields.String(allow_none=True)
    spec = fields.String(allow_none=True)
    valid_until = fields.Date(allow_none=True)
    created_at = fields.AwareDateTime()
    completed_at = fields.AwareDateTime(allow_none=True)
    cancelled_at = fields.AwareDateTime(allow_none=True)
    paused_at = fields.AwareDateTime(allow_none=True)


class ProjectFilterQuery(WfPaged):
    order_no = fields.String(validate=validate.Length(max=64))
    provider_org_id = fields.String(validate=ID)
    product_id = fields.String(validate=ID)
    customer_org_id = fields.String(validate=ID)
    stage = fields.String(validate=validate.Length(max=100))
    operator_id = fields.String(validate=ID)
    overdue = fields.Boolean()


class ProjectListQuery(ProjectFilterQuery):
    tab = fields.String(load_default="running", validate=validate.OneOf(["running", "completed", "paused",
                                                                          "cancelled"]))


class PurchasedQuery(ProjectFilterQuery):
    tab = fields.String(validate=validate.OneOf(["running", "completed", "paused", "cancelled"]))


class MyProjectsQuery(ProjectFilterQuery):
    view = fields.String(load_default="pending", validate=validate.OneOf(["pending", "processed"]))


class ProjectLogEntryOut(Schema):
    at = fields.AwareDateTime()
    kind = fields.String()
    subject = fields.String()
    node_instance_id = fields.String(allow_none=True)
    actor_id = fields.String(allow_none=True)
    actor_name = fields.String()
    actor_role = fields.String()
    remark = fields.String(allow_none=True)
    epoch = fields.Integer()
    before_provider_change = fields.Boolean()


class ProjectLogOut(Schema):
    items = fields.List(fields.Nested(ProjectLogEntryOut))


class ProjectPostOut(Schema):
    id = fields.String()
    author_id = fields.String(allow_none=True)
    author_name = fields.String()
    author_role = fields.String()
    text = fields.String()
    at = fields.AwareDateTime()


class ProjectPostList(Schema):
    items = fields.List(fields.Nested(ProjectPostOut))


class ProjectFileOut(Schema):
    id = fields.String()
    name = fields.String()
    size = fields.Integer()
    uploader_id = fields.String(allow_none=True)
    node_instance_id = fields.String()
    node_name = fields.String(allow_none=True)
    uploaded_at = fields.AwareDateTime()


class ProjectFileList(Schema):
    items = fields.List(fields.Nested(ProjectFileOut))


# --------------------------------------------------------------------------- calendars, dashboard
class CalendarDayIn(Strict):
    date = fields.Date(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["holiday", "workday"]))


class CalendarPut(Strict):
    days = fields.List(fields.Nested(CalendarDayIn), required=True, validate=validate.Length(max=3000))


class OfficialCalendarIn(Strict):
    years = fields.List(fields.Integer(strict=True, validate=validate.Range(min=1900, max=2200)), required=True,
                        validate=validate.Length(min=1, max=20))


class CalendarDayOut(Schema):
    date = fields.Date()
    kind = fields.String()


class CalendarOut(Schema):
    org_id = fields.String()
    owner = fields.String(metadata={"description": '"platform" or the organisation id'})
    days = fields.List(fields.Nested(CalendarDayOut))
    inherited_days = fields.Integer(metadata={"description": "days listed by the platform calendar underneath"})
    warnings = fields.List(fields.String())
    missing_years = fields.List(fields.Integer())


class OfficialCalendarOut(Schema):
    loaded_years = fields.List(fields.Integer())
    missing_years = fields.List(fields.Integer())
    days = fields.Integer()


class DeliveryDashboardQuery(Strict):
    window = fields.Integer(load_default=30, validate=validate.OneOf([30, 60]))
    granularity = fields.String(load_default="day", validate=validate.OneOf(["day", "month"]))


class DashboardPeriodCount(Schema):
    period = fields.String()
    count = fields.Integer()


class DashboardStatusCounts(Schema):
    total = fields.Integer()
    delivered = fields.Integer()
    running = fields.Integer(metadata={"description": "running and not overdue"})
    overdue = fields.Integer()
    paused = fields.Integer()
    cancelled = fields.Integer()


class DeliveryDashboardOut(Schema):
    as_of = fields.AwareDateTime(metadata={"description": "00:00 today, platform time zone (today excluded)"})
    window = fields.Integer()
    granularity = fields.String()
    average_completion_days = fields.String(allow_none=True)
    completed_last_365_days = fields.Integer()
    new_projects = fields.List(fields.Nested(DashboardPeriodCount))
    status = fields.Nested(DashboardStatusCounts)
