"""Fakes and builders for dispatch tests: a recording ProjectAdvancer (workflow's side of
the contract), an in-memory product catalogue, a seeded random source, and a small
world of organisations and employees written straight through the repositories."""
from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import injector

from application.dispatch.api import ProjectAdvancer, ProviderRequest
from application.dispatch.ports import ProductVendors
from application.shared.access import Caller
from application.shared.audit import AuditLog, AuditRecord
from application.shared.uow import UnitOfWork, UnitOfWorkFactory
from domain.dispatch.rng import RandomSource
from domain.identity.model import Department, Organization, User
from domain.identity.ports import DepartmentRepository, OrganizationRepository, UserRepository
from domain.identity.roles import admin_roles_for
from domain.shared.ids import new_id

SEED = 20191129


class RecordingAdvancer(ProjectAdvancer):
    """Records what dispatch told workflow once the transaction commits, and leaves a trace
    in it (an audit row), so a test sees that the continuation commits or rolls back with it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.refuse: set[str] = set()

    def _trace(self, uow: UnitOfWork, project_id: str, what: str) -> None:
        if project_id in self.refuse:
            raise RuntimeError(f"workflow refuses {project_id}")
        uow.repo(AuditLog).add(AuditRecord(id=new_id("aud"), org_id=None, actor_id=None, acting_for_org_id=None,
                                           operation=f"fake.{what}", target=project_id, summary=what,
                                           at=datetime.now(UTC)))

    def provider_assigned(self, uow: UnitOfWork, project_id: str, provider_org_id: str) -> None:
        self._trace(uow, project_id, "provider_assigned")
        uow.on_commit(lambda: self.calls.append(("provider", project_id, provider_org_id)))

    def employee_assigned(self, uow: UnitOfWork, project_id: str, user_id: str) -> None:
        self._trace(uow, project_id, "employee_assigned")
        uow.on_commit(lambda: self.calls.append(("employee", project_id, user_id)))


class FakeProductVendors(ProductVendors):
    def __init__(self) -> None:
        self.vendors: dict[str, str] = {}

    def vendor_of(self, product_id: str) -> str | None:
        return self.vendors.get(product_id)


def dispatch_overrides(advancer: ProjectAdvancer, seed: int = SEED) -> Callable[[injector.Binder], None]:
    def configure(binder: injector.Binder) -> None:
        binder.bind(ProjectAdvancer, to=advancer)
        binder.bind(RandomSource, to=injector.InstanceProvider(random.Random(seed)))
    return configure


def install_products(container: injector.Injector) -> FakeProductVendors:
    """Products belong to workflow: the tests keep their own catalogue."""
    fake = FakeProductVendors()
    container.get(UnitOfWorkFactory).bind(ProductVendors, lambda conn: fake)  # type: ignore[attr-defined]
    return fake


@dataclasses.dataclass
class World:
    container: injector.Injector
    products: FakeProductVendors

    def org(self, name: str, kinds: list[str]) -> tuple[Organization, Caller]:
        org = Organization.create(name, kinds, datetime.now(UTC))
        with self.container.get(UnitOfWorkFactory)() as uow:
            uow.repo(OrganizationRepository).add(org)
            uow.commit()
        admin = Caller(org_id=org.id, org_kinds=org.kinds, roles=tuple(admin_roles_for(org.kinds)),
                       user_id=new_id("usr"))
        return org, admin

    def user(self, org: Organization, login: str, roles: list[str], department_id: str | None = None,
             status: str = "active") -> User:
        user = User.create(org, login, login, None, None, roles, "x", datetime.now(UTC), department_id=department_id)
        user.status = status
        with self.container.get(UnitOfWorkFactory)() as uow:
            uow.repo(UserRepository).add(user)
            uow.commit()
        return user

    def department(self, org: Organization, name: str) -> str:
        dep = Department.create(org.id, name, None, datetime.now(UTC))
        with self.container.get(UnitOfWorkFactory)() as uow:
            uow.repo(DepartmentRepository).add(dep)
            uow.commit()
        return dep.id

    def product(self, vendor: Organization) -> str:
        product_id = new_id("prd")
        self.products.vendors[product_id] = vendor.id
        return product_id


def provider_request(product_id: str, vendor_id: str, n: int = 0, customer: str = "org_customer") -> ProviderRequest:
    return ProviderRequest(project_id=new_id("prj"), order_no=f"ORD{n:08d}", product_id=product_id,
                           vendor_org_id=vendor_id, customer_org_id=customer)


def rows(container: injector.Injector, sql: str, **params: Any) -> list[Any]:
    """Read-only peek at the tables (tests only)."""
    from sqlalchemy import text

    with container.get(UnitOfWorkFactory)() as uow:
        return list(uow.connection.execute(text(sql), params))  # type: ignore[attr-defined]
