"""The dispatch HTTP contract as clients use it: product providers, capacity, the
accepting switch, queues with "dispatch now", saturation and explained decisions, with
tenant isolation. Projects reach dispatch the way workflow sends them (DispatchApi);
workflow's continuation is a recording fake."""
from __future__ import annotations

from typing import Any

import pytest

from application.dispatch.api import DispatchApi, EmployeeRequest
from application.shared.uow import UnitOfWorkFactory
from domain.shared.ids import new_id
from tests.fakes.dispatch import FakeProductVendors, RecordingAdvancer, dispatch_overrides, install_products
from tests.helpers import NEW_PASSWORD, Api, Tenant

PROVIDERS = "/api/v1/products/{}/providers"


@pytest.fixture
def advancer() -> RecordingAdvancer:
    return RecordingAdvancer()


@pytest.fixture
def overrides(overrides: list[Any], advancer: RecordingAdvancer) -> list[Any]:
    return [*overrides, dispatch_overrides(advancer)]


@pytest.fixture
def products(container: Any) -> FakeProductVendors:
    return install_products(container)


@pytest.fixture
def orgs(platform: Api, tenant_factory: Any, products: FakeProductVendors) -> dict[str, Any]:
    vendor = tenant_factory("Vendor V", ["vendor"], "vendoradmin")
    provider = tenant_factory("Provider P", ["provider"], "provideradmin")
    stranger = tenant_factory("Vendor W", ["vendor"], "strangeradmin")
    r = platform.post(f"/api/v1/organizations/{vendor.org_id}/providers", json={"provider_org_id": provider.org_id})
    assert r.status_code == 201, r.get_json()
    product = new_id("prd")
    products.vendors[product] = vendor.org_id
    products.vendors["prd_of_w"] = stranger.org_id
    return {"vendor": vendor, "provider": provider, "stranger": stranger, "product": product}


def employee(platform: Api, org: Tenant, login: str, roles: list[str]) -> tuple[str, Api]:
    r = org.api.post(f"/api/v1/organizations/{org.org_id}/users", json={"login": login, "name": login, "roles": roles})
    assert r.status_code == 201, r.get_json()
    user_id, otp = r.get_json()["id"], r.get_json()["one_time_password"]
    first = Api(platform.client).login(login, otp)
    r = first.post("/api/v1/auth/password", json={"old_password": otp, "new_password": NEW_PASSWORD})
    assert r.status_code == 204
    return user_id, Api(platform.client).login(login, NEW_PASSWORD)


def assign_provider(container: Any, product: str, vendor_id: str, n: int) -> tuple[str, str | None]:
    from tests.fakes.dispatch import provider_request

    request = provider_request(product, vendor_id, n, customer=vendor_id)
    with container.get(UnitOfWorkFactory)() as uow:
        result = container.get(DispatchApi).assign_provider(uow, request)
        uow.commit()
    return request.project_id, result.assignee


def assign_employee(container: Any, provider_id: str, product: str, role: str) -> tuple[str, str | None]:
    project_id = new_id("prj")
    with container.get(UnitOfWorkFactory)() as uow:
        result = container.get(DispatchApi).assign_employee(uow, EmployeeRequest(
            project_id=project_id, order_no="ORD-" + project_id[-6:], product_id=product,
            customer_org_id=provider_id, provider_org_id=provider_id, role=role, rule="provider_first"))
        uow.commit()
    return project_id, result.assignee


def error_code(r: Any) -> str:
    return r.get_json()["error"]["code"]  # type: ignore[no-any-return]


def test_product_providers_contract(orgs: dict[str, Any]) -> None:
    vendor, provider, stranger, product = orgs["vendor"], orgs["provider"], orgs["stranger"], orgs["product"]
    url = PROVIDERS.format(product)
    body = [{"provider_org_id": vendor.org_id, "weight": 20, "max_load": 10},
            {"provider_org_id": provider.org_id, "weight": 30, "max_load": 2000}]
    r = vendor.api.put(url, json=body)
    assert r.status_code == 200, r.get_json()
    items = r.get_json()["items"]
    assert [(i["provider_org_id"], i["weight"], i["max_load"], i["current_load"]) for i in items] == sorted(
        [(vendor.org_id, 20, 10, 0), (provider.org_id, 30, 2000, 0)])
    assert {i["provider_name"] for i in items} == {"Vendor V", "Provider P"}
    assert vendor.api.get(url).get_json()["items"] == items

    r = vendor.api.put(url, json={"provider_org_id": vendor.org_id, "weight": 1, "max_load": 1})
    assert r.status_code == 400 and error_code(r) == "malformed_json"
    r = vendor.api.put(url, json=[{**body[0], "colour": "red"}])
    assert r.status_code == 422 and r.get_json()["error"]["details"] == {"0": {"colour": ["Unknown field."]}}
    r = vendor.api.put(url, json=[{**body[0], "weight": 0}])
    assert r.status_code == 422 and "weight" in r.get_json()["error"]["details"]["0"]
    r = vendor.api.put(url, json=[{**body[0], "max_load": "10"}])
    assert r.status_code == 422 and "max_load" in r.get_json()["error"]["details"]["0"]
    r = vendor.api.put(url, json=[{**body[0], "max_load": 2001}])
    assert r.status_code == 422
    r = vendor.api.put(url, json=[body[0], {"provider_org_id": stranger.org_id, "weight": 5, "max_load": 5}])
    assert r.status_code == 422 and error_code(r) == "provider_not_linked"
    assert list(r.get_json()["error"]["details"]) == ["providers[1].provider_org_id"]
    r = vendor.api.put(url, json=[body[0], body[0]])
    assert r.status_code == 422 and error_code(r) == "duplicate_provider"
    assert vendor.api.get(url).get_json()["items"] == items  # nothing half-written

    # another vendor's product, an unknown product, a provider's admin: as if it did not exist
    assert stranger.api.put(url, json=body[:1]).status_code == 404
    assert stranger.api.get(url).status_code == 404
    assert vendor.api.put(PROVIDERS.format("prd_of_w"), json=body[:1]).status_code == 404
    assert vendor.api.put(PROVIDERS.format("prd_nope"), json=body[:1]).status_code == 404
    assert provider.api.get(url).status_code == 404
    r = vendor.api.put(url, json=[])
    assert r.status_code == 200 and r.get_json()["items"] == []


def test_capacity_and_accepting_contract(platform: Api, orgs: dict[str, Any]) -> None:
    provider, stranger = orgs["provider"], orgs["stranger"]
    user_id, designer = employee(platform, provider, "designer1", ["designer"])
    url = f"/api/v1/organizations/{provider.org_id}/users/{user_id}/capacity"
    r = provider.api.put(url, json={"max_load": 20, "accepting": True})
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    assert (out["user_id"], out["max_load"], out["current_load"], out["accepting"], out["status"]) == (
        user_id, 20, 0, True, "normal")
    for bad in ({"max_load": 51, "accepting": True}, {"max_load": -1, "accepting": True}, {"max_load": 5},
                {"max_load": 5, "accepting": True, "extra": 1}, {"max_load": 2.5, "accepting": True}):
        assert provider.api.put(url, json=bad).status_code == 422, bad
    assert stranger.api.put(url, json={"max_load": 5, "accepting": True}).status_code == 404
    assert stranger.api.put(f"/api/v1/organizations/{stranger.org_id}/users/{user_id}/capacity",
                            json={"max_load": 5, "accepting": True}).status_code == 404
    assert provider.api.put(f"/api/v1/organizations/{provider.org_id}/users/usr_nope/capacity",
                            json={"max_load": 5, "accepting": True}).status_code == 404
    r = designer.put(url, json={"max_load": 50, "accepting": True})
    assert r.status_code == 403 and error_code(r) == "permission_denied"

    r = designer.put("/api/v1/me/accepting", json={"accepting": False})
    assert r.status_code == 200 and (r.get_json()["status"], r.get_json()["max_load"]) == ("paused", 20)
    assert designer.get("/api/v1/me/accepting").get_json()["accepting"] is False
    assert designer.put("/api/v1/me/accepting", json={"accepting": "maybe"}).status_code == 422
    r = provider.api.get(f"/api/v1/organizations/{provider.org_id}/capacities?accepting=false")
    assert r.status_code == 200
    assert [(i["user_id"], i["status"], i["roles"]) for i in r.get_json()["items"]] == [
        (user_id, "paused", ["designer"])]
    assert provider.api.get(f"/api/v1/organizations/{provider.org_id}/capacities").get_json()["total"] == 2
    assert stranger.api.get(f"/api/v1/organizations/{provider.org_id}/capacities").status_code == 404


def test_queues_dispatch_now_saturation_and_decisions(platform: Api, container: Any, orgs: dict[str, Any],
                                                      advancer: RecordingAdvancer) -> None:
    vendor, provider, stranger, product = orgs["vendor"], orgs["provider"], orgs["stranger"], orgs["product"]
    r = vendor.api.put(PROVIDERS.format(product), json=[{"provider_org_id": provider.org_id, "weight": 10,
                                                         "max_load": 1}])
    assert r.status_code == 200
    first, chosen = assign_provider(container, product, vendor.org_id, 1)
    assert chosen == provider.org_id
    waiting, nobody = assign_provider(container, product, vendor.org_id, 2)
    assert nobody is None

    r = vendor.api.get("/api/v1/dispatch/queue?kind=provider")
    assert r.status_code == 200
    page = r.get_json()
    assert page["total"] == 1 and page["page"] == 1
    item = page["items"][0]
    assert (item["project_id"], item["order_no"], item["product_id"], item["customer_name"], item["reason_code"],
            item["reason"]) == (waiting, "ORD00000002", product, "Vendor V", "all_providers_full",
                                "all providers are full")
    assert item["queued_at"] and item["updated_at"]
    assert stranger.api.get("/api/v1/dispatch/queue").get_json()["total"] == 0
    assert provider.api.get("/api/v1/dispatch/queue?kind=provider").status_code == 403
    assert provider.api.get("/api/v1/dispatch/queue").get_json()["total"] == 0
    assert vendor.api.get("/api/v1/dispatch/queue?kind=bogus").status_code == 422
    assert vendor.api.get("/api/v1/dispatch/queue?order_no=00000002").get_json()["total"] == 1
    assert vendor.api.get("/api/v1/dispatch/queue?order_no=99").get_json()["total"] == 0

    assert stranger.api.post(f"/api/v1/dispatch/queue/{waiting}/dispatch").status_code == 404
    r = vendor.api.post(f"/api/v1/dispatch/queue/{waiting}/dispatch")
    assert r.status_code == 200
    assert (r.get_json()["assigned"], r.get_json()["reason"]) == (False, "all providers are full")

    r = vendor.api.get("/api/v1/dispatch/saturation")
    assert [(i["provider_org_id"], i["current_load"], i["max_load"], i["percent"], i["band"])
            for i in r.get_json()["items"]] == [(provider.org_id, 1, 1, "100.0", "red")]
    assert provider.api.get("/api/v1/dispatch/saturation").get_json()["total"] == 1  # its own rows
    assert stranger.api.get("/api/v1/dispatch/saturation").get_json()["total"] == 0

    # raising the max load dispatches the waiting project at once
    r = vendor.api.put(PROVIDERS.format(product), json=[{"provider_org_id": provider.org_id, "weight": 10,
                                                         "max_load": 4}])
    assert r.status_code == 200
    assert advancer.calls == [("provider", waiting, provider.org_id)]
    assert vendor.api.get("/api/v1/dispatch/queue").get_json()["total"] == 0
    assert vendor.api.post(f"/api/v1/dispatch/queue/{waiting}/dispatch").status_code == 404
    r = vendor.api.get("/api/v1/dispatch/saturation")
    assert [(i["percent"], i["band"]) for i in r.get_json()["items"]] == [("50.0", "blue")]

    r = vendor.api.get(f"/api/v1/dispatch/decisions?project_id={waiting}")
    decisions = r.get_json()["items"]
    assert [(d["via"], d["chosen"]) for d in decisions] == [
        ("sweep", provider.org_id), ("dispatch_now", None), ("assign", None)]
    assert decisions[2]["explanation"]["candidates"][0]["why"] == "full"
    assert decisions[0]["explanation"]["ranges"] == [{"provider_id": provider.org_id, "from": 0, "to": 10}]
    assert stranger.api.get(f"/api/v1/dispatch/decisions?project_id={waiting}").get_json()["total"] == 0
    assert provider.api.get(f"/api/v1/dispatch/decisions?project_id={first}").get_json()["total"] == 1
    _, designer = employee(platform, provider, "designer2", ["designer"])
    assert designer.get("/api/v1/dispatch/decisions").status_code == 403


def test_employee_queue_is_the_providers_and_capacity_dispatches_it(platform: Api, container: Any,
                                                                    orgs: dict[str, Any],
                                                                    advancer: RecordingAdvancer) -> None:
    vendor, provider, product = orgs["vendor"], orgs["provider"], orgs["product"]
    user_id, designer = employee(platform, provider, "designer3", ["designer"])
    project, nobody = assign_employee(container, provider.org_id, product, "designer")
    assert nobody is None
    page = provider.api.get("/api/v1/dispatch/queue?kind=employee").get_json()
    assert [(i["project_id"], i["role"], i["reason"], i["provider_name"]) for i in page["items"]] == [
        (project, "designer", "all employees of role designer are full", "Provider P")]
    assert vendor.api.get("/api/v1/dispatch/queue?kind=employee").get_json()["total"] == 0
    assert designer.get("/api/v1/dispatch/queue").status_code == 403
    assert designer.post(f"/api/v1/dispatch/queue/{project}/dispatch").status_code == 403

    r = provider.api.put(f"/api/v1/organizations/{provider.org_id}/users/{user_id}/capacity",
                         json={"max_load": 2, "accepting": True})
    assert r.status_code == 200
    assert advancer.calls == [("employee", project, user_id)]
    me = designer.get("/api/v1/me/accepting").get_json()
    assert (me["current_load"], me["max_load"]) == (2 - 1, 2)
    assert provider.api.get("/api/v1/dispatch/queue").get_json()["total"] == 0


def test_the_array_body_is_documented(client: Any) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    put = spec["paths"]["/api/v1/products/{product_id}/providers"]["put"]
    schema = put["requestBody"]["content"]["application/json"]["schema"]
    assert schema["type"] == "array"
    item = spec["components"]["schemas"][schema["items"]["$ref"].split("/")[-1]]
    assert set(item["required"]) == {"provider_org_id", "weight", "max_load"}
    assert item.get("additionalProperties") is False
    assert {"/api/v1/dispatch/queue", "/api/v1/dispatch/queue/{project_id}/dispatch", "/api/v1/dispatch/saturation",
            "/api/v1/dispatch/decisions", "/api/v1/me/accepting",
            "/api/v1/organizations/{org_id}/users/{user_id}/capacity"} <= set(spec["paths"])
