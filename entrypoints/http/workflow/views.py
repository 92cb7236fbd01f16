"""Workflow endpoints: templates, forms, message templates, products, projects, claims,
calendars, dashboard. Thin views over the workflow application services."""
from __future__ import annotations

import dataclasses
from typing import Any, BinaryIO, cast

from flask import Blueprint, Response, request
from marshmallow import Schema, ValidationError

from application.shared.access import Caller
from application.workflow import (
    CalendarService,
    ProductService,
    ProjectListService,
    ProjectService,
    TemplateService,
)
from application.workflow.ports import MessageTemplate, ServiceProduct
from domain.workflow.forms import FormTemplate
from domain.workflow.templates import FlowTemplate, node_to_dict
from entrypoints.http.api import body, doc, dump, dump_page, page_request, query, reject_nul_in_path
from entrypoints.http.auth import authenticated, service
from entrypoints.http.errors import ApiError
from entrypoints.http.schemas import NO_BODY, paged
from entrypoints.http.workflow import schemas as s

bp = Blueprint("workflow", __name__, url_prefix="/api/v1")
bp.url_value_preprocessor(reject_nul_in_path)
TPL = ["workflow templates"]
PRD = ["workflow products"]
PRJ = ["workflow projects"]
CAL = ["workflow calendars"]


def templates() -> TemplateService:
    return service(TemplateService)  # type: ignore[no-any-return]


def products() -> ProductService:
    return service(ProductService)  # type: ignore[no-any-return]


def projects() -> ProjectService:
    return service(ProjectService)  # type: ignore[no-any-return]


def lists() -> ProjectListService:
    return service(ProjectListService)  # type: ignore[no-any-return]


def calendars() -> CalendarService:
    return service(CalendarService)  # type: ignore[no-any-return]


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Marshmallow's nested errors as ``nodes[3].children[0].role`` -> messages."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}[{key}]" if isinstance(key, int) else (f"{prefix}.{key}" if prefix else str(key))
            out.update(_flatten(value, name))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix or "_schema"] = list(messages)
    else:
        out[prefix or "_schema"] = [str(messages)]
    return out


def body_named(schema: type[Schema], code: str) -> dict[str, Any]:
    """``body`` whose 422 names nested fields the way template errors do (``nodes[2].role``)."""
    try:
        return body(schema)
    except ValidationError as exc:
        details = _flatten(exc.messages)
        first = next(iter(details), "_schema")
        raise ApiError(422, code, f"invalid field {first}", details) from None


# --------------------------------------------------------------------------- presenters
def template_out(t: FlowTemplate) -> dict[str, Any]:
    current = t.current
    return {
        "id": t.id, "owner_org_id": t.owner_org_id, "public": t.public, "copied_from": t.copied_from,
        "created_at": t.created_at, "name": t.latest.name, "description": t.latest.description,
        "status": t.latest.status, "latest_version": t.latest.number,
        "current_version": current.number if current else None,
        "versions": [{"number": v.number, "name": v.name, "description": v.description, "status": v.status,
                      "created_at": v.created_at, "submitted_at": v.submitted_at, "published_at": v.published_at,
                      "review_remark": v.review_remark, "nodes": [node_to_dict(n) for n in v.nodes]}
                     for v in t.versions],
    }


def product_out(pair: tuple[ServiceProduct, str | None]) -> dict[str, Any]:
    product, template_name = pair
    return {**dataclasses.asdict(product), "template_name": template_name}


def form_out(form: FormTemplate) -> dict[str, Any]:
    return {"id": form.id, "name": form.name,
            "fields_": [{"key": f.key, "label": f.label, "type": f.type, "required": f.required,
                        "choices": list(f.choices)} for f in form.fields]}


def message_out(m: MessageTemplate) -> dict[str, Any]:
    return dataclasses.asdict(m)


# --------------------------------------------------------------------------- flow templates
@bp.post("/flow-templates")
@doc(summary="Create a service-flow template (a draft); the platform's are public", tags=TPL,
     body_schema=s.FlowTemplateIn, response=s.FlowTemplateOut, status=201, errors=(403,))
@authenticated
def create_template(caller: Caller) -> Any:
    data = body_named(s.FlowTemplateIn, "invalid_template")
    t = templates().create(caller, data["name"], data["description"], data["nodes"])
    return dump(s.FlowTemplateOut, template_out(t), 201)


@bp.get("/flow-templates")
@doc(summary="Templates: mine and public (scope), by status and name", tags=TPL, query_schema=s.TemplateQuery,
     response=paged(s.FlowTemplateOut, "FlowTemplatePage"), paged=True)
@authenticated
def list_templates(caller: Caller) -> Any:
    args = query(s.TemplateQuery)
    page = templates().list(caller, page_request(args), **args)
    return dump_page(s.FlowTemplateOut, page, [template_out(t) for t in page.items])


@bp.get("/flow-templates/<template_id>")
@doc(summary="One template with its versions", tags=TPL, response=s.FlowTemplateOut, errors=(404,))
@authenticated
def get_template(caller: Caller, template_id: str) -> Any:
    return dump(s.FlowTemplateOut, template_out(templates().get(caller, template_id)))


@bp.put("/flow-templates/<template_id>")
@doc(summary="Save the draft version (published versions are immutable: 409 template_not_draft)", tags=TPL,
     body_schema=s.FlowTemplateIn, response=s.FlowTemplateOut, errors=(404, 409))
@authenticated
def put_template(caller: Caller, template_id: str) -> Any:
    data = body_named(s.FlowTemplateIn, "invalid_template")
    t = templates().update_draft(caller, template_id, data["name"], data["description"], data["nodes"])
    return dump(s.FlowTemplateOut, template_out(t))


@bp.post("/flow-templates/<template_id>/versions")
@doc(summary="Edit a published template: a new draft version (needs platform approval once published)",
     tags=TPL, body_schema=s.FlowTemplateIn, response=s.FlowTemplateOut, status=201, errors=(404, 409))
@authenticated
def new_version(caller: Caller, template_id: str) -> Any:
    data = body_named(s.FlowTemplateIn, "invalid_template")
    t = templates().new_version(caller, template_id, data["name"], data["description"], data["nodes"])
    return dump(s.FlowTemplateOut, template_out(t), 201)


@bp.post("/flow-templates/<template_id>/publish")
@doc(summary="Publish the draft (a new version of a published vendor template waits for approval)", tags=TPL,
     response=s.FlowTemplateOut, errors=(404, 409))
@authenticated
def publish_template(caller: Caller, template_id: str) -> Any:
    body(NO_BODY)  # anything sent is refused (422)
    return dump(s.FlowTemplateOut, template_out(templates().publish(caller, template_id)))


@bp.post("/flow-templates/<template_id>/approve")
@doc(summary="Platform: approve the version waiting for approval", tags=TPL, response=s.FlowTemplateOut,
     errors=(404, 409))
@authenticated
def approve_template(caller: Caller, template_id: str) -> Any:
    body(NO_BODY)  # anything sent is refused (422)
    return dump(s.FlowTemplateOut, template_out(templates().review(caller, template_id, approve=True)))


@bp.post("/flow-templates/<template_id>/reject")
@doc(summary="Platform: send the waiting version back to draft with a remark", tags=TPL,
     body_schema=s.TemplateRejectIn, response=s.FlowTemplateOut, errors=(404, 409))
@authenticated
def reject_template(caller: Caller, template_id: str) -> Any:
    data = body(s.TemplateRejectIn)
    return dump(s.FlowTemplateOut, template_out(templates().review(caller, template_id, approve=False,
                                                                  remark=data["remark"])))


@bp.post("/flow-templates/<template_id>/copy")
@doc(summary="Copy a published template (public or mine) into a new draft of my organisation", tags=TPL,
     body_schema=s.TemplateCopyIn, response=s.FlowTemplateOut, status=201, errors=(404, 409))
@authenticated
def copy_template(caller: Caller, template_id: str) -> Any:
    data = body(s.TemplateCopyIn)
    return dump(s.FlowTemplateOut, template_out(templates().copy(caller, template_id, data.get("name"))), 201)


# --------------------------------------------------------------------------- forms, message templates
@bp.post("/form-templates")
@doc(summary="Platform: create a requirement form template", tags=TPL, body_schema=s.FormTemplateIn,
     response=s.FormTemplateOut, status=201)
@authenticated
def create_form(caller: Caller) -> Any:
    data = body_named(s.FormTemplateIn, "invalid_form")
    return dump(s.FormTemplateOut, form_out(templates().create_form(caller, data["name"], data["fields_"])), 201)


@bp.get("/form-templates")
@doc(summary="Requirement form templates", tags=TPL, query_schema=s.WfPaged,
     response=paged(s.FormTemplateOut, "FormTemplatePage"), paged=True)
@authenticated
def list_forms(caller: Caller) -> Any:
    args = query(s.WfPaged)
    page = templates().list_forms(caller, page_request(args))
    return dump_page(s.FormTemplateOut, page, [form_out(f) for f in page.items])


@bp.get("/form-templates/<form_id>")
@doc(summary="One requirement form template", tags=TPL, response=s.FormTemplateOut, errors=(404,))
@authenticated
def get_form(caller: Caller, form_id: str) -> Any:
    return dump(s.FormTemplateOut, form_out(templates().get_form(caller, form_id)))


@bp.post("/message-templates")
@doc(summary='Platform: create a message template named "<node>-<receiver>"', tags=TPL,
     body_schema=s.MessageTemplateIn, response=s.MessageTemplateOut, status=201, errors=(409,))
@authenticated
def create_message_template(caller: Caller) -> Any:
    data = body(s.MessageTemplateIn)
    m = templates().create_message_template(caller, data["name"], data["title"], data["body"], data.get("remark"))
    return dump(s.MessageTemplateOut, message_out(m), 201)


@bp.put("/message-templates/<template_id>")
@doc(summary="Platform: change a message template's text", tags=TPL, body_schema=s.MessageTemplatePut,
     response=s.MessageTemplateOut, errors=(404,))
@authenticated
def put_message_template(caller: Caller, template_id: str) -> Any:
    data = body(s.MessageTemplatePut)
    m = templates().update_message_template(caller, template_id, data["title"], data["body"], data.get("remark"))
    return dump(s.MessageTemplateOut, message_out(m))


@bp.get("/message-templates")
@doc(summary="Message templates, filtered by name", tags=TPL, query_schema=s.MessageTemplateQuery,
     response=paged(s.MessageTemplateOut, "MessageTemplatePage"), paged=True)
@authenticated
def list_message_templates(caller: Caller) -> Any:
    args = query(s.MessageTemplateQuery)
    page = templates().list_message_templates(caller, page_request(args), args.get("name"))
    return dump_page(s.MessageTemplateOut, page, [message_out(m) for m in page.items])


# --------------------------------------------------------------------------- products
@bp.post("/products")
@doc(summary="Create a service product of a vendor", tags=PRD, body_schema=s.ServiceProductIn,
     response=s.ServiceProductOut, status=201, errors=(403, 409))
@authenticated
def create_product(caller: Caller) -> Any:
    data = body(s.ServiceProductIn)
    p = products().create(caller, data["code"], data["name"], data["vendor_org_id"], data["kind"])
    return dump(s.ServiceProductOut, product_out((p, None)), 201)


@bp.get("/products")
@doc(summary="Service products, filtered by code, name, template", tags=PRD, query_schema=s.ServiceProductQuery,
     response=paged(s.ServiceProductOut, "ServiceProductPage"), paged=True)
@authenticated
def list_products(caller: Caller) -> Any:
    args = query(s.ServiceProductQuery)
    page = products().list(caller, page_request(args), **args)
    return dump_page(s.ServiceProductOut, page, [product_out(p) for p in page.items])


@bp.get("/products/<product_id>")
@doc(summary="One service product", tags=PRD, response=s.ServiceProductOut, errors=(404,))
@authenticated
def get_product(caller: Caller, product_id: str) -> Any:
    return dump(s.ServiceProductOut, product_out(products().get(caller, product_id)))


@bp.put("/products/<product_id>/flow-template")
@doc(summary="Bind the product to a published template (its own or a public one)", tags=PRD,
     body_schema=s.ServiceProductTemplateIn, response=s.ServiceProductOut, errors=(404, 409))
@authenticated
def bind_template(caller: Caller, product_id: str) -> Any:
    data = body(s.ServiceProductTemplateIn)
    products().bind_template(caller, product_id, data["template_id"])
    return dump(s.ServiceProductOut, product_out(products().get(caller, product_id)))


# --------------------------------------------------------------------------- projects
@bp.post("/projects")
@doc(summary="Start the delivery project of a paid order (marketplace / order system)", tags=PRJ,
     body_schema=s.ProjectIn, response=s.ProjectOut, status=201, errors=(403, 409))
@authenticated
def start_project(caller: Caller) -> Any:
    data = body(s.ProjectIn)
    return dump(s.ProjectOut, projects().start(caller, **data), 201)


@bp.get("/projects")
@doc(summary="Project list: one status tab, filters, paging", tags=PRJ, query_schema=s.ProjectListQuery,
     response=paged(s.ProjectRowOut, "ProjectPage"), paged=True)
@authenticated
def list_projects(caller: Caller) -> Any:
    args = query(s.ProjectListQuery)
    return dump_page(s.ProjectRowOut, lists().list(caller, page_request(args), **args))


@bp.get("/projects/mine")
@doc(summary="My projects: pending for me (the current node is mine) or processed by me", tags=PRJ,
     query_schema=s.MyProjectsQuery, response=paged(s.ProjectRowOut, "MyProjectPage"), paged=True)
@authenticated
def my_projects(caller: Caller) -> Any:
    args = query(s.MyProjectsQuery)
    return dump_page(s.ProjectRowOut, lists().mine(caller, page_request(args), **args))


@bp.get("/purchased-services")
@doc(summary="Purchased services: projects where my organisation is the customer", tags=PRJ,
     query_schema=s.PurchasedQuery, response=paged(s.ProjectRowOut, "PurchasedPage"), paged=True)
@authenticated
def purchased(caller: Caller) -> Any:
    args = query(s.PurchasedQuery)
    return dump_page(s.ProjectRowOut, lists().purchased(caller, page_request(args), **args))


@bp.get("/projects/<project_id>")
@doc(summary="A project: nodes with state, deadlines, operators, business info", tags=PRJ,
     response=s.ProjectOut, errors=(404,))
@authenticated
def get_project(caller: Caller, project_id: str) -> Any:
    return dump(s.ProjectOut, projects().detail(caller, project_id))


@bp.get("/projects/<project_id>/log")
@doc(summary="The full process log (entries before a provider change are marked)", tags=PRJ,
     response=s.ProjectLogOut, errors=(404,))
@authenticated
def project_log(caller: Caller, project_id: str) -> Any:
    return dump(s.ProjectLogOut, {"items": projects().log(caller, project_id)})


@bp.post("/projects/<project_id>/nodes/<node_id>/submit")
@doc(summary="Customer: submit the requirement form of the current node", tags=PRJ, body_schema=s.RequirementsIn,
     response=s.ProjectOut, errors=(403, 404, 409))
@authenticated
def submit(caller: Caller, project_id: str, node_id: str) -> Any:
    data = body(s.RequirementsIn)
    return dump(s.ProjectOut, projects().submit_requirements(caller, project_id, node_id, data["values"]))


@bp.post("/projects/<project_id>/nodes/<node_id>/confirm")
@doc(summary="The current operator confirms the node (next node, or project completed)", tags=PRJ,
     body_schema=s.NodeConfirmIn, response=s.ProjectOut, errors=(403, 404, 409))
@authenticated
def confirm(caller: Caller, project_id: str, node_id: str) -> Any:
    data = body(s.NodeConfirmIn)
    return dump(s.ProjectOut, projects().confirm(caller, project_id, node_id, data.get("remark")))


@bp.post("/projects/<project_id>/nodes/<node_id>/reject")
@doc(summary="The current operator rejects with a reason: back to the previous node", tags=PRJ,
     body_schema=s.NodeRejectIn, response=s.ProjectOut, errors=(403, 404, 409))
@authenticated
def reject(caller: Caller, project_id: str, node_id: str) -> Any:
    data = body(s.NodeRejectIn)
    return dump(s.ProjectOut, projects().reject(caller, project_id, node_id, data["reason"]))


@bp.post("/projects/<project_id>/nodes/<node_id>/files")
@doc(summary="Upload a file at the current node (multipart field 'file')", tags=PRJ, response=s.ProjectFileOut,
     status=201, errors=(403, 404, 409))
@authenticated
def upload(caller: Caller, project_id: str, node_id: str) -> Any:
    file = request.files.get("file")
    if file is None:
        raise ApiError(422, "validation_failed", "invalid field file", {"file": ["send a multipart field 'file'"]})
    name = (file.filename or "file").replace("\x00", "")[:255]
    stream = cast(BinaryIO, file.stream)
    return dump(s.ProjectFileOut, projects().upload(caller, project_id, node_id, name, stream), 201)


@bp.get("/projects/<project_id>/files")
@doc(summary="Files uploaded to the project", tags=PRJ, response=s.ProjectFileList, errors=(404,))
@authenticated
def list_files(caller: Caller, project_id: str) -> Any:
    return dump(s.ProjectFileList, {"items": projects().files(caller, project_id)})


@bp.get("/projects/<project_id>/files/<file_id>")
@doc(summary="Download a project file", tags=PRJ, errors=(404,))
@authenticated
def download(caller: Caller, project_id: str, file_id: str) -> Any:
    got = projects().download(caller, project_id, file_id)
    with got.stream as stream:
        data = stream.read()
    resp = Response(data, mimetype="application/octet-stream")
    resp.headers["Content-Disposition"] = _disposition(got.name)
    return resp


def _disposition(name: str) -> str:
    from urllib.parse import quote

    return f"attachment; filename*=UTF-8''{quote(name)}"


@bp.post("/projects/<project_id>/pause")
@doc(summary="Pause with a remark: no deadline runs while paused", tags=PRJ, body_schema=s.ProjectRemarkIn,
     response=s.ProjectOut, errors=(403, 404, 409))
@authenticated
def pause(caller: Caller, project_id: str) -> Any:
    data = body(s.ProjectRemarkIn)
    return dump(s.ProjectOut, projects().pause(caller, project_id, data["remark"]))


@bp.post("/projects/<project_id>/resume")
@doc(summary="Resume: running deadlines move back by the paused working time", tags=PRJ,
     body_schema=s.ProjectOptionalRemarkIn, response=s.ProjectOut, errors=(403, 404, 409))
@authenticated
def resume(caller: Caller, project_id: str) -> Any:
    data = body(s.ProjectOptionalRemarkIn)
    return dump(s.ProjectOut, projects().resume(caller, project_id, data.get("remark")))


@bp.post("/projects/<project_id>/cancel")
@doc(summary="Cancel the project with a remark (vendor)", tags=PRJ, body_schema=s.ProjectRemarkIn,
     response=s.ProjectOut, errors=(403, 404, 409))
@authenticated
def cancel(caller: Caller, project_id: str) -> Any:
    data = body(s.ProjectRemarkIn)
    return dump(s.ProjectOut, projects().cancel(caller, project_id, data["remark"]))


@bp.post("/projects/<project_id>/change-provider")
@doc(summary="Vendor admin: restart the flow with another provider (the log keeps the earlier records)",
     tags=PRJ, body_schema=s.ProjectChangeProviderIn, response=s.ProjectOut, errors=(403, 404, 409))
@authenticated
def change_provider(caller: Caller, project_id: str) -> Any:
    data = body(s.ProjectChangeProviderIn)
    return dump(s.ProjectOut, projects().change_provider(caller, project_id, data["provider_org_id"],
                                                         data.get("remark")))


@bp.post("/projects/<project_id>/change-operator")
@doc(summary="Provider admin: hand the node's role to another employee of the same role", tags=PRJ,
     body_schema=s.ProjectChangeOperatorIn, response=s.ProjectOut, errors=(403, 404, 409))
@authenticated
def change_operator(caller: Caller, project_id: str) -> Any:
    data = body(s.ProjectChangeOperatorIn)
    return dump(s.ProjectOut, projects().change_operator(caller, project_id, data["user_id"], data.get("remark"),
                                                         data.get("role")))


@bp.get("/projects/<project_id>/messages")
@doc(summary="Messages (visible to the customer and all participants)", tags=PRJ, response=s.ProjectPostList,
     errors=(404,))
@authenticated
def list_messages(caller: Caller, project_id: str) -> Any:
    return dump(s.ProjectPostList, {"items": projects().messages(caller, project_id)})


@bp.post("/projects/<project_id>/messages")
@doc(summary="Leave a message (at most 500 characters, while the project is not finished)", tags=PRJ,
     body_schema=s.ProjectPostIn, response=s.ProjectPostOut, status=201, errors=(403, 404, 409))
@authenticated
def add_message(caller: Caller, project_id: str) -> Any:
    data = body(s.ProjectPostIn)
    return dump(s.ProjectPostOut, projects().add_message(caller, project_id, data["text"]), 201)


@bp.get("/projects/<project_id>/notes")
@doc(summary="Notes (provider side only; never shown to the customer)", tags=PRJ, response=s.ProjectPostList,
     errors=(403, 404))
@authenticated
def list_notes(caller: Caller, project_id: str) -> Any:
    return dump(s.ProjectPostList, {"items": projects().notes(caller, project_id)})


@bp.post("/projects/<project_id>/notes")
@doc(summary="Leave a note (provider side; at most 500 characters)", tags=PRJ, body_schema=s.ProjectPostIn,
     response=s.ProjectPostOut, status=201, errors=(403, 404, 409))
@authenticated
def add_note(caller: Caller, project_id: str) -> Any:
    data = body(s.ProjectPostIn)
    return dump(s.ProjectPostOut, projects().add_note(caller, project_id, data["text"]), 201)


@bp.post("/projects/<project_id>/evaluation")
@doc(summary="Customer: rate the completed project 1-5 with a comment", tags=PRJ,
     body_schema=s.ProjectEvaluationIn, response=s.ProjectOut, errors=(403, 404, 409))
@authenticated
def evaluate(caller: Caller, project_id: str) -> Any:
    data = body(s.ProjectEvaluationIn)
    return dump(s.ProjectOut, projects().evaluate(caller, project_id, data["rating"], data["comment"]))


@bp.post("/claims")
@doc(summary="Account manager: claim a marketplace order for my department", tags=PRJ, body_schema=s.OrderClaimIn,
     response=s.ProjectOut, errors=(403, 404, 409))
@authenticated
def claim(caller: Caller) -> Any:
    data = body(s.OrderClaimIn)
    return dump(s.ProjectOut, projects().claim(caller, data["order_no"]))


# --------------------------------------------------------------------------- calendars, dashboard
def calendar_out(view: Any) -> dict[str, Any]:
    return {"org_id": view.org_id, "owner": view.owner,
            "days": [{"date": d, "kind": k} for d, k in view.days], "inherited_days": view.inherited_days,
            "warnings": view.warnings, "missing_years": view.missing_years}


@bp.get("/calendars/<org_id>")
@doc(summary="A working-day calendar (the platform's, or a vendor's days over it) with data warnings",
     tags=CAL, response=s.CalendarOut, errors=(404,))
@authenticated
def get_calendar(caller: Caller, org_id: str) -> Any:
    return dump(s.CalendarOut, calendar_out(calendars().get(caller, org_id)))


@bp.put("/calendars/<org_id>")
@doc(summary="Replace the listed days (holiday | workday) of a calendar", tags=CAL, body_schema=s.CalendarPut,
     response=s.CalendarOut, errors=(403, 404))
@authenticated
def put_calendar(caller: Caller, org_id: str) -> Any:
    data = body_named(s.CalendarPut, "invalid_calendar")
    days = [(d["date"], d["kind"]) for d in data["days"]]
    return dump(s.CalendarOut, calendar_out(calendars().put(caller, org_id, days)))


@bp.post("/calendars/platform/official")
@doc(summary="Platform: load the official Chinese calendar of some years into the platform calendar", tags=CAL,
     body_schema=s.OfficialCalendarIn, response=s.OfficialCalendarOut)
@authenticated
def load_official(caller: Caller) -> Any:
    data = body(s.OfficialCalendarIn)
    return dump(s.OfficialCalendarOut, dataclasses.asdict(calendars().load_official(data["years"], caller)))


@bp.get("/dashboards/delivery")
@doc(summary="Delivery dashboard, counted up to 00:00 today", tags=PRJ, query_schema=s.DeliveryDashboardQuery,
     response=s.DeliveryDashboardOut)
@authenticated
def dashboard(caller: Caller) -> Any:
    args = query(s.DeliveryDashboardQuery)
    return dump(s.DeliveryDashboardOut, lists().dashboard(caller, args["window"], args["granularity"]))
