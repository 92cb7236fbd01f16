"""Service products: the minimum the delivery side needs (the trade issue extends them).

A product belongs to a vendor, is of kind ``service`` and is bound to one published
flow template (the vendor's own or a public one); projects start on the template's
current published version and keep it.
"""
from __future__ import annotations

import re

from injector import inject

from application.shared.access import Caller
from application.shared.audit import record
from application.shared.clock import Clock
from application.shared.paging import Page, PageRequest
from application.shared.uow import UnitOfWork, UnitOfWorkFactory
from application.workflow.ports import FlowTemplateRepository, ProductRepository, ServiceProduct
from domain.identity.ports import OrganizationRepository
from domain.shared.errors import Conflict, NotFound, ValidationFailed
from domain.shared.ids import new_id

PRODUCT_KINDS = ("service",)
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


class ProductService:
    @inject
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self.uow_factory = uow_factory
        self.clock = clock

    @staticmethod
    def _require_manager(caller: Caller, vendor_org_id: str) -> None:
        if caller.is_platform_admin:
            return
        caller.require("catalog.manage", org_id=vendor_org_id)

    @staticmethod
    def _get(uow: UnitOfWork, caller: Caller, product_id: str) -> ServiceProduct:
        product = uow.repo(ProductRepository).get(product_id)
        if product is None or not caller.can_see_org(product.vendor_org_id):
            raise NotFound("no such product", code="product_not_found")
        return product

    def create(self, caller: Caller, code: str, name: str, vendor_org_id: str, kind: str) -> ServiceProduct:
        self._require_manager(caller, vendor_org_id)
        code, name = (code or "").strip(), (name or "").strip()
        if not CODE_RE.match(code):
            raise ValidationFailed("code", "must be 1-64 letters, digits, _ . -", code="invalid_product")
        if not name or len(name) > 100:
            raise ValidationFailed("name", "must be 1-100 characters", code="invalid_product")
        if kind not in PRODUCT_KINDS:
            raise ValidationFailed("kind", "must be service", code="invalid_product")
        now = self.clock.now()
        with self.uow_factory() as uow:
            vendor = uow.repo(OrganizationRepository).get(vendor_org_id)
            if vendor is None or "vendor" not in vendor.kinds:
                raise ValidationFailed("vendor_org_id", "must be a vendor organisation", code="unknown_vendor")
            products = uow.repo(ProductRepository)
            if products.code_taken(vendor_org_id, code):
                raise Conflict(f"product code {code!r} exists", code="product_code_taken")
            product = ServiceProduct(id=new_id("prd"), vendor_org_id=vendor_org_id, code=code, name=name,
                                     kind=kind, created_at=now)
            products.add(product)
            record(uow, caller, "workflow.product_create", product.id, f"product {code} {name}", now,
                   org_id=vendor_org_id)
            uow.commit()
        return product

    def bind_template(self, caller: Caller, product_id: str, template_id: str) -> ServiceProduct:
        now = self.clock.now()
        with self.uow_factory() as uow:
            product = self._get(uow, caller, product_id)
            self._require_manager(caller, product.vendor_org_id)
            template = uow.repo(FlowTemplateRepository).get(template_id)
            if template is None or not (template.public or template.owner_org_id == product.vendor_org_id):
                raise ValidationFailed("template_id", "unknown template", code="unknown_template")
            if template.current is None:
                raise Conflict("bind a published template", code="template_not_published")
            product.template_id = template.id
            uow.repo(ProductRepository).save(product)
            record(uow, caller, "workflow.product_bind_template", product.id,
                   f"template {template.name} v{template.current.number}", now, org_id=product.vendor_org_id)
            uow.commit()
        return product

    def get(self, caller: Caller, product_id: str) -> tuple[ServiceProduct, str | None]:
        with self.uow_factory() as uow:
            product = self._get(uow, caller, product_id)
            name = None
            if product.template_id:
                template = uow.repo(FlowTemplateRepository).get(product.template_id)
                name = template.name if template else None
        return product, name

    def list(self, caller: Caller, page: PageRequest, *, vendor_org_id: str | None = None, code: str | None = None,
             name: str | None = None, template_id: str | None = None, template_name: str | None = None
             ) -> Page[tuple[ServiceProduct, str | None]]:
        if not caller.is_platform:
            if vendor_org_id is not None and vendor_org_id != caller.org_id:
                caller.require_org(vendor_org_id)
            vendor_org_id = caller.org_id
        with self.uow_factory() as uow:
            items, total = uow.repo(ProductRepository).list(
                vendor_org_id=vendor_org_id, code=code, name=name, template_id=template_id,
                template_name=template_name, offset=page.offset, limit=page.per_page)
        return Page(items, page.page, page.per_page, total)
