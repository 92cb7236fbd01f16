"""A small world for wallet tests: the platform (admin and finance), a customer (admin and
a plain user), a supplier, an agency (owner, admin, employee) with an authorised
merchant principal, and another customer as the foreign tenant. The sandbox gateway
delivers its notifications into the Flask test client, as a real gateway would over HTTP."""
from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from application.wallet.payments import PaymentGateways
from tests.helpers import NEW_PASSWORD, Api, Tenant


def add_user(admin: Api, org_id: str, login: str, roles: list[str]) -> Api:
    r = admin.post(f"/api/v1/organizations/{org_id}/users", json={"login": login, "name": login, "roles": roles})
    assert r.status_code == 201, r.get_json()
    otp = r.get_json()["one_time_password"]
    first = Api(admin.client).login(login, otp)
    r = first.post("/api/v1/auth/password", json={"old_password": otp, "new_password": NEW_PASSWORD})
    assert r.status_code == 204, r.get_json()
    return Api(admin.client).login(login, NEW_PASSWORD)


def err(r: Any) -> str:
    return str(r.get_json()["error"]["code"])


def money(value: Any) -> Decimal:
    assert isinstance(value, str) and len(value.rpartition(".")[2]) == 2, f"not a 2-place string: {value!r}"
    return Decimal(value)


@dataclasses.dataclass
class World:
    client: Any
    container: Any
    platform_org: str
    admin: Api  # platform admin
    finance: Api  # platform finance
    customer: Tenant
    customer_user: Api  # trade.buy, no wallet.view
    supplier: Tenant
    agency: Tenant  # agency_owner
    agency_admin: Api
    agency_employee: Api
    merchant: Tenant  # authorised principal of the agency
    other: Tenant  # another customer: the foreign tenant

    def wallet(self, api: Api, org_id: str) -> dict[str, Any]:
        r = api.get(f"/api/v1/wallets/{org_id}")
        assert r.status_code == 200, r.get_json()
        return r.get_json()  # type: ignore[no-any-return]

    def offline(self, org_id: str, amount: str, note: str = "bank transfer 0001") -> dict[str, Any]:
        r = self.finance.post(f"/api/v1/wallets/{org_id}/recharges",
                              json={"amount": amount, "channel": "offline", "note": note})
        assert r.status_code == 201, r.get_json()
        return r.get_json()  # type: ignore[no-any-return]

    def entries(self, api: Api, org_id: str, **params: str) -> list[dict[str, Any]]:
        r = api.get(f"/api/v1/wallets/{org_id}/entries", query_string={"per_page": "100", **params})
        assert r.status_code == 200, r.get_json()
        return r.get_json()["items"]  # type: ignore[no-any-return]

    def ledger_total(self) -> Decimal:
        from application.wallet import WalletService

        return self.container.get(WalletService).ledger_total()  # type: ignore[no-any-return]


@pytest.fixture
def world(platform: Api, tenant_factory: Any, client: Any, container: Any) -> World:
    from adapters.payment.sandbox import client_transport  # tests may reach adapters

    container.get(PaymentGateways).get("sandbox").transport = client_transport(client)
    platform_org = platform.get("/api/v1/me").get_json()["organization"]["id"]
    finance = add_user(platform, platform_org, "finance1", ["platform_finance"])
    customer = tenant_factory("Acme Enterprise", ["customer"], "acme")
    customer_user = add_user(customer.api, customer.org_id, "acme.buyer", ["customer_user"])
    supplier = tenant_factory("Data Supplier", ["supplier"], "supply")
    agency = tenant_factory("Channel Agency", ["agency"], "agent")
    agency_admin = add_user(agency.api, agency.org_id, "agent.admin", ["agency_admin"])
    agency_employee = add_user(agency.api, agency.org_id, "agent.staff", ["agency_employee"])
    merchant = tenant_factory("Corner Shop", ["merchant"], "shop")
    r = agency.api.post(f"/api/v1/organizations/{agency.org_id}/principals",
                        json={"principal_org_id": merchant.org_id})
    assert r.status_code == 201, r.get_json()
    r = merchant.api.post(f"/api/v1/relations/{r.get_json()['id']}/accept")
    assert r.status_code == 200, r.get_json()
    other = tenant_factory("Other Corp", ["customer"], "other")
    return World(client, container, platform_org, platform, finance, customer, customer_user, supplier, agency,
                 agency_admin, agency_employee, merchant, other)
