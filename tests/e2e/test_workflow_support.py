"""Shared set-up of the workflow tests: a fake dispatch and a small world built through HTTP.

``FakeDispatch`` stands in for the dispatch module behind the fixed ``DispatchApi``
contract: the provider is the vendor itself (or a chosen one), the employee is the
least loaded active user of the provider with the role (in the claiming account
manager's department for ``department_first``).
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import injector
import pytest

from adapters.notifications.console import RecordingEmail, RecordingSms
from adapters.security.passwords import FastHasher
from application.dispatch.api import Assignment, DispatchApi, EmployeeRequest, ProviderRequest
from application.shared.notifications import EmailSender, SmsSender
from application.shared.uow import UnitOfWork
from domain.identity.ports import PasswordHasher, UserRepository
from tests.helpers import NEW_PASSWORD, Api, Tenant

CST = ZoneInfo("Asia/Shanghai")
MESSAGE_TEMPLATES = ["提交需求节点-通知客户", "提交需求节点-通知操作人", "确认节点-通知客户", "确认节点-通知操作人",
                     "通用节点-通知操作人", "项目完成节点-通知客户", "项目完成节点-通知服务商", "超时-通知服务商",
                     "认领订单节点-通知客户经理"]


def cst(y: int, m: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, s, tzinfo=CST).astimezone(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


class FakeDispatch(DispatchApi):
    def __init__(self) -> None:
        self.provider_full = False
        self.provider_for: dict[str, str] = {}  # product id -> provider org id
        self.loads: Counter[str] = Counter()
        self.calls: list[tuple[str, str]] = []
        self.released: list[str] = []
        self.taken_providers: list[tuple[str, str]] = []
        self.moves: list[tuple[str, str, str]] = []

    def assign_provider(self, uow: UnitOfWork, request: ProviderRequest) -> Assignment:
        self.calls.append(("provider", request.project_id))
        if self.provider_full:
            return Assignment(None, "all providers are full", {"fake": True})
        chosen = self.provider_for.get(request.product_id, request.vendor_org_id)
        return Assignment(chosen, None, {"fake": True, "weights": {chosen: 1}})

    def assign_employee(self, uow: UnitOfWork, request: EmployeeRequest) -> Assignment:
        self.calls.append(("employee", request.project_id))
        department = request.department_id if request.rule == "department_first" else None
        users, _ = uow.repo(UserRepository).list(request.provider_org_id, status="active", role=request.role,
                                                 department_id=department, q=None, offset=0, limit=200)
        if not users:
            return Assignment(None, f"no employee with role {request.role}", {"fake": True})
        chosen = min(users, key=lambda u: (self.loads[u.id], u.login))
        self.loads[chosen.id] += 1
        return Assignment(chosen.id, None, {"fake": True, "rule": request.rule})

    def move_employee_load(self, uow: UnitOfWork, project_id: str, from_user_id: str, to_user_id: str) -> None:
        self.moves.append((project_id, from_user_id, to_user_id))
        self.loads[from_user_id] -= 1
        self.loads[to_user_id] += 1

    def release_project(self, uow: UnitOfWork, project_id: str) -> None:
        self.released.append(project_id)

    def take_provider(self, uow: UnitOfWork, request: ProviderRequest, provider_org_id: str) -> None:
        self.taken_providers.append((request.project_id, provider_org_id))


@pytest.fixture
def dispatch() -> FakeDispatch:
    return FakeDispatch()


@pytest.fixture
def overrides(sms: RecordingSms, email: RecordingEmail, dispatch: FakeDispatch) -> list[injector.Module]:
    def configure(binder: injector.Binder) -> None:
        binder.bind(SmsSender, to=sms)
        binder.bind(EmailSender, to=email)
        binder.bind(PasswordHasher, to=FastHasher())
        binder.bind(DispatchApi, to=dispatch)

    return [configure]  # type: ignore[list-item]


# --------------------------------------------------------------------------- HTTP helpers
def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, (r.status_code, r.get_json())
    return r.get_json()


def add_user(admin: Api, org_id: str, login: str, name: str, roles: list[str], *, department_id: str | None = None,
             phone: str | None = None, email: str | None = None) -> tuple[str, Api]:
    payload: dict[str, Any] = {"login": login, "name": name, "roles": roles, "phone": phone, "email": email}
    if department_id:
        payload["department_id"] = department_id
    created = ok(admin.post(f"/api/v1/organizations/{org_id}/users", json=payload), 201)
    first = Api(admin.client).login(login, created["one_time_password"])
    r = first.post("/api/v1/auth/password", json={"old_password": created["one_time_password"],
                                                 "new_password": NEW_PASSWORD})
    assert r.status_code == 204, r.get_json()
    return created["id"], Api(admin.client).login(login, NEW_PASSWORD)


def set_contact(api: Api, phone: str, email: str) -> None:
    ok(api.patch("/api/v1/me", json={"phone": phone, "email": email}))


def me(api: Api) -> dict[str, Any]:
    return ok(api.get("/api/v1/me"))["user"]  # type: ignore[no-any-return]


@dataclasses.dataclass
class World:
    platform: Api
    vendor: Tenant
    customer: Tenant
    form_id: str
    vendor_admin_id: str
    customer_admin_id: str

    def template(self, nodes: list[dict[str, Any]], name: str = "网站设计") -> dict[str, Any]:
        t = ok(self.vendor.api.post("/api/v1/flow-templates", json={"name": name, "description": "d",
                                                                    "nodes": nodes}), 201)
        return ok(self.vendor.api.post(f"/api/v1/flow-templates/{t['id']}/publish"))  # type: ignore[no-any-return]

    def product(self, template_id: str, code: str = "56001", name: str = "name_56") -> dict[str, Any]:
        p = ok(self.vendor.api.post("/api/v1/products", json={"code": code, "name": name,
                                                              "vendor_org_id": self.vendor.org_id,
                                                              "kind": "service"}), 201)
        return ok(self.vendor.api.put(f"/api/v1/products/{p['id']}/flow-template",  # type: ignore[no-any-return]
                                      json={"template_id": template_id}))

    def start(self, product_id: str, order_no: str, **extra: Any) -> dict[str, Any]:
        return ok(self.platform.post("/api/v1/projects", json={  # type: ignore[no-any-return]
            "order_no": order_no, "product_id": product_id, "customer_org_id": self.customer.org_id, **extra}), 201)


def build_world(platform: Api, tenant_factory: Any, *, calendar_years: tuple[int, ...] = (2019, 2020)) -> World:
    for name in MESSAGE_TEMPLATES:
        ok(platform.post("/api/v1/message-templates", json={
            "name": name, "title": f"【{name}】", "body": "订单 {order_no} 的节点 {node}: {trigger}"}), 201)
    form = ok(platform.post("/api/v1/form-templates", json={"name": "网站需求", "fields": [
        {"key": "site_name", "label": "网站名称", "type": "text", "required": True},
        {"key": "pages", "label": "页数", "type": "number"},
        {"key": "sketch", "label": "草图", "type": "file"},
    ]}), 201)
    if calendar_years:
        loaded = ok(platform.post("/api/v1/calendars/platform/official", json={"years": list(calendar_years)}))
        assert loaded["loaded_years"] == list(calendar_years)
    vendor = tenant_factory("云梦DB", ["vendor"], "vadmin")
    customer = tenant_factory("客户甲乙丙", ["customer"], "cadmin")
    set_contact(vendor.api, "13800138001", "vadmin@example.com")
    set_contact(customer.api, "13800138002", "cadmin@example.com")
    return World(platform=platform, vendor=vendor, customer=customer, form_id=form["id"],
                 vendor_admin_id=me(vendor.api)["id"], customer_admin_id=me(customer.api)["id"])


@pytest.fixture
def world(platform: Api, tenant_factory: Any) -> World:
    return build_world(platform, tenant_factory)


def node(detail: dict[str, Any], name: str) -> dict[str, Any]:
    return next(n for n in detail["nodes"] if n["name"] == name)


def current(detail: dict[str, Any]) -> dict[str, Any]:
    assert detail["current_node"] is not None, detail["status"]
    return detail["current_node"]  # type: ignore[no-any-return]


def sms_with(sms: RecordingSms, template: str) -> list[Any]:
    return [m for m in sms.sent if m.template == template]
