"""Dispatch endpoints: thin views over DispatchService."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from application.dispatch.services import DispatchService
from application.shared.access import Caller
from domain.dispatch import ProviderSetting
from entrypoints.http.api import body as load_body
from entrypoints.http.api import doc, dump, dump_page, page_request, query, reject_nul, reject_nul_in_path
from entrypoints.http.auth import authenticated, service
from entrypoints.http.dispatch import schemas as s
from entrypoints.http.errors import ApiError
from entrypoints.http.schemas import NO_BODY, paged

bp = Blueprint("dispatch", __name__, url_prefix="/api/v1")
bp.url_value_preprocessor(reject_nul_in_path)
T = ["dispatch"]


def svc() -> DispatchService:
    return service(DispatchService)  # type: ignore[no-any-return]


def _provider_rows() -> list[ProviderSetting]:
    """The body is a JSON array (``api.body`` takes objects only)."""
    data = request.get_json(silent=True, force=True) if request.data else None
    if data is None:
        raise ApiError(400, "malformed_json", "request body is not valid JSON")
    if not isinstance(data, list):
        raise ApiError(400, "malformed_json", "request body must be a JSON array of providers")
    if len(data) > s.MAX_PROVIDERS:
        raise ApiError(422, "validation_failed", "too many providers",
                       {"_schema": [f"at most {s.MAX_PROVIDERS} providers"]})
    reject_nul(data)
    rows = s.ProviderSettingIn(many=True).load(data)
    return [ProviderSetting(r["provider_org_id"], r["weight"], r["max_load"]) for r in rows]


# -- providers of a product --------------------------------------------------------------

@bp.get("/products/<product_id>/providers")
@doc(summary="Providers of a product with weight, max load and current load (vendor admin)", tags=T,
     response=s.ProductProviderList)
@authenticated
def product_providers(caller: Caller, product_id: str) -> Any:
    return jsonify({"items": s.ProductProviderOut(many=True).dump(svc().product_providers(caller, product_id))})


@bp.put("/products/<product_id>/providers")
@doc(summary="Set the providers of a product: [{provider_org_id, weight 1-100, max_load 0-2000}] "
             "(the vendor itself or providers the platform linked to it)", tags=T,
     body_schema=s.ProviderSettingIn(many=True), response=s.ProductProviderList)  # type: ignore[arg-type]
@authenticated
def set_product_providers(caller: Caller, product_id: str) -> Any:
    rows = _provider_rows()
    result = svc().set_product_providers(caller, product_id, rows)
    return jsonify({"items": s.ProductProviderOut(many=True).dump(result)})


# -- employee capacity ----------------------------------------------------------------------

@bp.get("/organizations/<org_id>/capacities")
@doc(summary="Employees' max load, current load and accepting switch (provider admin)", tags=T,
     query_schema=s.CapacityQuery, response=paged(s.CapacityOut, "CapacityPage"), paged=True)
@authenticated
def capacities(caller: Caller, org_id: str) -> Any:
    args = query(s.CapacityQuery)
    return dump_page(s.CapacityOut, svc().capacities(caller, org_id, page_request(args), **args))


@bp.put("/organizations/<org_id>/users/<user_id>/capacity")
@doc(summary="Set an employee's max load (0-50) and accepting switch (provider admin)", tags=T,
     body_schema=s.CapacityIn, response=s.CapacityOut)
@authenticated
def set_capacity(caller: Caller, org_id: str, user_id: str) -> Any:
    data = load_body(s.CapacityIn)
    return dump(s.CapacityOut, svc().set_capacity(caller, org_id, user_id, data["max_load"], data["accepting"]))


@bp.get("/me/accepting")
@doc(summary="My accepting switch and loads", tags=T, response=s.CapacityOut)
@authenticated
def my_accepting(caller: Caller) -> Any:
    return dump(s.CapacityOut, svc().my_capacity(caller))


@bp.put("/me/accepting")
@doc(summary="Switch my accepting of new projects on (normal) or off (paused)", tags=T,
     body_schema=s.AcceptingIn, response=s.CapacityOut)
@authenticated
def set_my_accepting(caller: Caller) -> Any:
    data = load_body(s.AcceptingIn)
    return dump(s.CapacityOut, svc().set_my_accepting(caller, data["accepting"]))


# -- queue ------------------------------------------------------------------------------------

@bp.get("/dispatch/queue")
@doc(summary="Projects waiting for a provider (vendor) or an employee (provider), oldest first, "
             "with the reason and last update", tags=T, query_schema=s.QueueQuery,
     response=paged(s.QueueItemOut, "QueuePage"), paged=True)
@authenticated
def queue(caller: Caller) -> Any:
    args = query(s.QueueQuery)
    return dump_page(s.QueueItemOut, svc().queue(caller, page_request(args), **args))


@bp.post("/dispatch/queue/<project_id>/dispatch")
@doc(summary="Dispatch one queued project now", tags=T, response=s.DispatchOut)
@authenticated
def dispatch_now(caller: Caller, project_id: str) -> Any:
    load_body(NO_BODY)  # anything sent is refused (422)
    return dump(s.DispatchOut, svc().dispatch_now(caller, project_id))


# -- dashboards and explanations -------------------------------------------------------------

@bp.get("/dispatch/saturation")
@doc(summary="Provider saturation per product: current / max load, banded green/blue/red", tags=T,
     query_schema=s.SaturationQuery, response=paged(s.SaturationOut, "SaturationPage"), paged=True)
@authenticated
def saturation(caller: Caller) -> Any:
    args = query(s.SaturationQuery)
    return dump_page(s.SaturationOut, svc().saturation(caller, page_request(args), **args))


@bp.get("/dispatch/decisions")
@doc(summary="Recorded dispatch decisions: the candidates and why the winner won (admins)", tags=T,
     query_schema=s.DecisionQuery, response=paged(s.DecisionOut, "DecisionPage"), paged=True)
@authenticated
def decisions(caller: Caller) -> Any:
    args = query(s.DecisionQuery)
    return dump_page(s.DecisionOut, svc().decisions(caller, page_request(args), **args))
