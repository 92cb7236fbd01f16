"""Service-flow templates (vendor-owned or public), requirement forms and message
templates (platform-owned).

Roles a node may name are the platform's provider-side roles; forms and message
templates must exist. Vendors edit drafts; a published template gets a new draft
version, which the platform approves before products use it.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from injector import inject

from application.shared.access import Caller
from application.shared.audit import record
from application.shared.clock import Clock
from application.shared.paging import Page, PageRequest
from application.shared.uow import UnitOfWork, UnitOfWorkFactory
from application.workflow.ports import (
    FlowTemplateRepository,
    FormTemplateRepository,
    MessageTemplate,
    MessageTemplateRepository,
)
from domain.identity.roles import ROLES
from domain.shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from domain.shared.ids import new_id
from domain.workflow.forms import FormField, FormTemplate
from domain.workflow.templates import FlowTemplate, nodes_from_dicts

#: roles a template node may name: the platform's roles that provider organisations hold
PROVIDER_ROLES = frozenset(name for name, role in ROLES.items() if "provider" in role.org_kinds)


class TemplateService:
    @inject
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self.uow_factory = uow_factory
        self.clock = clock

    # -- helpers ------------------------------------------------------------------
    @staticmethod
    def _require_author(caller: Caller) -> bool:
        """True when the caller writes public (platform) templates."""
        if caller.is_platform_admin:
            return True
        caller.require("workflow.templates.manage")
        return False

    @staticmethod
    def _visible(caller: Caller, template: FlowTemplate) -> None:
        if not (template.public or caller.is_platform or template.owner_org_id == caller.org_id):
            raise NotFound("no such template", code="template_not_found")

    @staticmethod
    def _require_owner(caller: Caller, template: FlowTemplate) -> None:
        TemplateService._visible(caller, template)
        if template.public:
            if not caller.is_platform_admin:
                raise Forbidden("public templates belong to the platform: copy it to change it",
                                code="permission_denied")
            return
        if caller.is_platform_admin:
            return
        caller.require("workflow.templates.manage", org_id=template.owner_org_id)

    def _get(self, uow: UnitOfWork, caller: Caller, template_id: str, *, lock: bool = False) -> FlowTemplate:
        template = uow.repo(FlowTemplateRepository).get(template_id, for_update=lock)
        if template is None:
            raise NotFound("no such template", code="template_not_found")
        self._visible(caller, template)
        return template

    @staticmethod
    def _known(uow: UnitOfWork) -> dict[str, Any]:
        return {"known_roles": PROVIDER_ROLES, "known_form_ids": uow.repo(FormTemplateRepository).ids(),
                "known_message_templates": uow.repo(MessageTemplateRepository).names()}

    # -- flow templates -----------------------------------------------------------------
    def create(self, caller: Caller, name: str, description: str, nodes: Sequence[Mapping[str, Any]]
               ) -> FlowTemplate:
        public = self._require_author(caller)
        now = self.clock.now()
        with self.uow_factory() as uow:
            template = FlowTemplate.create(id=new_id("tpl"), owner_org_id=caller.org_id, name=name,
                                           description=description or "", nodes=nodes_from_dicts(nodes), now=now,
                                           public=public, **self._known(uow))
            uow.repo(FlowTemplateRepository).add(template)
            record(uow, caller, "workflow.template_create", template.id, f"template {template.name}", now)
            uow.publish(*template.events)
            uow.commit()
        return template

    def update_draft(self, caller: Caller, template_id: str, name: str, description: str,
                     nodes: Sequence[Mapping[str, Any]]) -> FlowTemplate:
        """Save changes to the draft version; a published version is immutable."""
        now = self.clock.now()
        with self.uow_factory() as uow:
            template = self._get(uow, caller, template_id, lock=True)
            self._require_owner(caller, template)
            if template.latest.status != "draft":
                raise Conflict(f"the latest version is {template.latest.status}: published versions are "
                               "immutable, create a new version with POST .../versions", code="template_not_draft")
            template.edit(name=name, description=description or "", nodes=nodes_from_dicts(nodes), now=now,
                          **self._known(uow))
            uow.repo(FlowTemplateRepository).save(template)
            uow.commit()
        return template

    def new_version(self, caller: Caller, template_id: str, name: str, description: str,
                    nodes: Sequence[Mapping[str, Any]]) -> FlowTemplate:
        """Edit a published template: a new draft version (approved by the platform once published)."""
        now = self.clock.now()
        with self.uow_factory() as uow:
            template = self._get(uow, caller, template_id, lock=True)
            self._require_owner(caller, template)
            if template.latest.status != "published":
                raise Conflict(f"the latest version is {template.latest.status}: edit it instead",
                               code="template_has_open_version")
            template.edit(name=name, description=description or "", nodes=nodes_from_dicts(nodes), now=now,
                          **self._known(uow))
            uow.repo(FlowTemplateRepository).save(template)
            record(uow, caller, "workflow.template_version", template.id,
                   f"template {template.name} v{template.latest.number}", now)
            uow.commit()
        return template

    def publish(self, caller: Caller, template_id: str) -> FlowTemplate:
        now = self.clock.now()
        with self.uow_factory() as uow:
            template = self._get(uow, caller, template_id, lock=True)
            self._require_owner(caller, template)
            version = template.publish(now)
            uow.repo(FlowTemplateRepository).save(template)
            record(uow, caller, "workflow.template_publish", template.id,
                   f"template {template.name} v{version.number}: {version.status}", now)
            uow.publish(*template.events)
            uow.commit()
        return template

    def review(self, caller: Caller, template_id: str, approve: bool, remark: str | None = None) -> FlowTemplate:
        """The platform approves (or sends back) a new version of a published template."""
        if not caller.is_platform:
            raise NotFound("no such template", code="template_not_found")
        caller.require("workflow.templates.review")
        now = self.clock.now()
        with self.uow_factory() as uow:
            template = self._get(uow, caller, template_id, lock=True)
            if approve:
                version = template.approve(caller.user_id or caller.api_key_id or "platform", now)
            else:
                version = template.reject_version(caller.user_id or caller.api_key_id or "platform", remark or "",
                                                  now)
            uow.repo(FlowTemplateRepository).save(template)
            record(uow, caller, "workflow.template_" + ("approve" if approve else "reject"), template.id,
                   f"template {template.name} v{version.number}", now, org_id=template.owner_org_id)
            uow.publish(*template.events)
            uow.commit()
        return template

    def copy(self, caller: Caller, template_id: str, name: str | None) -> FlowTemplate:
        public = self._require_author(caller)
        now = self.clock.now()
        with self.uow_factory() as uow:
            source = self._get(uow, caller, template_id)
            if not (source.public or source.owner_org_id == caller.org_id or caller.is_platform):
                raise NotFound("no such template", code="template_not_found")
            known = self._known(uow)
            copy = source.copy(id=new_id("tpl"), owner_org_id=caller.org_id, name=name, now=now,
                               known_roles=known["known_roles"], known_form_ids=known["known_form_ids"])
            copy.public = public
            uow.repo(FlowTemplateRepository).add(copy)
            record(uow, caller, "workflow.template_copy", copy.id, f"copy of {source.id}", now)
            uow.commit()
        return copy

    def get(self, caller: Caller, template_id: str) -> FlowTemplate:
        with self.uow_factory() as uow:
            return self._get(uow, caller, template_id)

    def list(self, caller: Caller, page: PageRequest, *, scope: str = "all", status: str | None = None,
             name: str | None = None) -> Page[FlowTemplate]:
        """``scope``: ``all`` (mine and public), ``mine``, ``public``; the platform sees every template."""
        with self.uow_factory() as uow:
            repo = uow.repo(FlowTemplateRepository)
            owner: str | None = None if caller.is_platform and scope == "all" else caller.org_id
            items, total = repo.list(owner_org_id=owner, include_public=scope == "all",
                                     public_only=scope == "public", status=status, name=name,
                                     offset=page.offset, limit=page.per_page)
        return Page(items, page.page, page.per_page, total)

    # -- requirement forms ------------------------------------------------------------------
    def create_form(self, caller: Caller, name: str, fields: Sequence[Mapping[str, Any]]) -> FormTemplate:
        if not caller.is_platform_admin:
            raise Forbidden("requirement forms are owned by the platform", code="permission_denied")
        now = self.clock.now()
        built = tuple(FormField(key=str(f.get("key", "")), label=str(f.get("label", "")), type=str(f.get("type", "")),
                                required=bool(f.get("required", False)), choices=tuple(f.get("choices") or ()))
                      for f in fields)
        form = FormTemplate(id=new_id("form"), name=(name or "").strip(), fields=built)
        with self.uow_factory() as uow:
            uow.repo(FormTemplateRepository).add(form, now)
            record(uow, caller, "workflow.form_create", form.id, f"form {form.name}", now)
            uow.commit()
        return form

    def get_form(self, caller: Caller, form_id: str) -> FormTemplate:
        with self.uow_factory() as uow:
            form = uow.repo(FormTemplateRepository).get(form_id)
        if form is None:
            raise NotFound("no such form template", code="form_template_not_found")
        return form

    def list_forms(self, caller: Caller, page: PageRequest) -> Page[FormTemplate]:
        with self.uow_factory() as uow:
            items, total = uow.repo(FormTemplateRepository).list(page.offset, page.per_page)
        return Page(items, page.page, page.per_page, total)

    # -- message templates ---------------------------------------------------------------------
    @staticmethod
    def _check_message(name: str, title: str, body: str) -> tuple[str, str, str]:
        name, title, body = (name or "").strip(), (title or "").strip(), (body or "").strip()
        node, _, receiver = name.rpartition("-")
        if not node.strip() or not receiver.strip() or len(name) > 100:
            raise ValidationFailed("name", 'must be "<node>-<receiver>", at most 100 characters',
                                   code="invalid_message_template")
        if not title or len(title) > 200:
            raise ValidationFailed("title", "must be 1-200 characters", code="invalid_message_template")
        if not body or len(body) > 1000:
            raise ValidationFailed("body", "must be 1-1000 characters", code="invalid_message_template")
        return name, title, body

    def create_message_template(self, caller: Caller, name: str, title: str, body: str,
                                remark: str | None = None) -> MessageTemplate:
        if not caller.is_platform_admin:
            raise Forbidden("message templates are owned by the platform", code="permission_denied")
        name, title, body = self._check_message(name, title, body)
        now = self.clock.now()
        with self.uow_factory() as uow:
            repo = uow.repo(MessageTemplateRepository)
            if repo.by_name(name) is not None:
                raise Conflict(f"a message template named {name!r} exists", code="message_template_exists")
            template = MessageTemplate(id=new_id("msgt"), name=name, title=title, body=body, created_at=now,
                                       remark=(remark or "").strip() or None)
            repo.add(template)
            record(uow, caller, "workflow.message_template_create", template.id, name, now)
            uow.commit()
        return template

    def update_message_template(self, caller: Caller, template_id: str, title: str, body: str,
                                remark: str | None = None) -> MessageTemplate:
        if not caller.is_platform_admin:
            raise Forbidden("message templates are owned by the platform", code="permission_denied")
        now = self.clock.now()
        with self.uow_factory() as uow:
            repo = uow.repo(MessageTemplateRepository)
            template = repo.get(template_id)
            if template is None:
                raise NotFound("no such message template", code="message_template_not_found")
            _, template.title, template.body = self._check_message(template.name, title, body)
            template.remark = (remark or "").strip() or None
            repo.save(template)
            record(uow, caller, "workflow.message_template_update", template.id, template.name, now)
            uow.commit()
        return template

    def list_message_templates(self, caller: Caller, page: PageRequest, name: str | None = None
                               ) -> Page[MessageTemplate]:
        with self.uow_factory() as uow:
            items, total = uow.repo(MessageTemplateRepository).list(name, page.offset, page.per_page)
        return Page(items, page.page, page.per_page, total)
