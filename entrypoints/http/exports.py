"""Exports API (api.md "Long work"): request, poll, download."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, url_for
from marshmallow import Schema, fields, validate

from application.exports import ExportService
from application.shared.access import Caller
from entrypoints.http.api import body, doc, dump, dump_page, page_request, query
from entrypoints.http.auth import authenticated, service
from entrypoints.http.schemas import PagedQuery, Strict, paged

bp = Blueprint("exports", __name__, url_prefix="/api/v1")
MIME = {"csv": "text/csv",  # Flask adds "; charset=utf-8" to text types
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


class ExportIn(Strict):
    kind = fields.String(required=True, validate=validate.Length(min=1, max=50))
    org_id = fields.String(load_default=None, allow_none=True)
    format = fields.String(load_default="csv", validate=validate.OneOf(["csv", "xlsx"]))
    filters = fields.Dict(keys=fields.String(), load_default=dict)


class ExportOut(Schema):
    id = fields.String()
    org_id = fields.String()
    kind = fields.String()
    format = fields.String()
    filters = fields.Dict()
    status = fields.String(metadata={"description": "pending | running | done | failed"})
    created_at = fields.AwareDateTime()
    finished_at = fields.AwareDateTime(allow_none=True)
    row_count = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    download_url = fields.Method("_download", allow_none=True)

    def _download(self, job: Any) -> str | None:
        if job.status != "done":
            return None
        return url_for("exports.download", export_id=job.id)


class ExportQuery(PagedQuery):
    """Paging of the task centre's list."""


def svc() -> ExportService:
    return service(ExportService)  # type: ignore[no-any-return]


@bp.post("/exports")
@doc(summary="Start an export (CSV or XLSX) as a background job", tags=["exports"], body_schema=ExportIn,
     response=ExportOut, status=202, errors=(404,))
@authenticated
def create_export(caller: Caller) -> Any:
    data = body(ExportIn)
    job = svc().request(caller, data["kind"], data.get("org_id"), data["format"], data["filters"])
    return dump(ExportOut, svc().get(caller, job.id), 202)


@bp.get("/exports")
@doc(summary="My exports (requested by this user or API key), newest first", tags=["exports"], query_schema=ExportQuery,
     response=paged(ExportOut, "ExportPage"), paged=True)
@authenticated
def list_exports(caller: Caller) -> Any:
    page = svc().list(caller, page_request(query(ExportQuery)))
    return dump_page(ExportOut, page)


@bp.get("/exports/<export_id>")
@doc(summary="Status of an export and, when done, its download link", tags=["exports"], response=ExportOut)
@authenticated
def get_export(caller: Caller, export_id: str) -> Any:
    return dump(ExportOut, svc().get(caller, export_id))


@bp.get("/exports/<export_id>/download")
@doc(summary="Download a finished export", tags=["exports"])
@authenticated
def download(caller: Caller, export_id: str) -> Any:
    job, data = svc().download(caller, export_id)
    resp = Response(data, mimetype=MIME[job.format])
    resp.headers["Content-Disposition"] = f'attachment; filename="{job.file_name}"'
    return resp
