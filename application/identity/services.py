"""Identity use cases: organisations, users, departments, relations, keys, login."""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import math
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from injector import inject, singleton

from application.identity.api_key_cache import ApiKeyCache, VerifiedKey
from application.identity.ports import TokenIssuer
from application.shared.access import Caller
from application.shared.audit import AuditFilter, AuditLog, AuditRecord, record
from application.shared.clock import Clock
from application.shared.notifications import InboxMessage, InboxRepository
from application.shared.paging import Page, PageRequest
from application.shared.ratelimit import RateLimiter
from application.shared.uow import UnitOfWork, UnitOfWorkFactory
from domain.identity import errors
from domain.identity.events import SmsCodeRequested
from domain.identity.model import (
    ApiKey,
    Department,
    Organization,
    OrgRelation,
    Registration,
    SmsChallenge,
    User,
    check_password_strength,
    generate_one_time_password,
)
from domain.identity.ports import (
    ApiKeyRepository,
    DepartmentRepository,
    OrganizationRepository,
    PasswordHasher,
    RelationRepository,
    SmsChallengeRepository,
    UserRepository,
)
from domain.identity.roles import ROLES, admin_roles_for
from domain.shared.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from domain.shared.ids import new_id

LOGIN_FAILURES_MAX = 5
LOGIN_FAILURE_WINDOW = timedelta(minutes=15)
LOGIN_IP_MAX = 30
LOGIN_IP_WINDOW = timedelta(minutes=1)
API_KEY_PREFIX = "agk"
REGISTRATIONS_PER_IP = 20
API_KEY_PREFIX_RE = re.compile(r"[0-9a-f]{12}")  # secrets.token_hex(6)
API_KEY_USE_RESOLUTION = timedelta(minutes=1)  # at most one write a minute per key and process


@dataclasses.dataclass(frozen=True)
class TokenResult:
    access_token: str
    expires_in: int
    must_change_password: bool
    token_type: str = "Bearer"  # noqa: S105 - a scheme name


@dataclasses.dataclass(frozen=True)
class ChallengeRequired:
    challenge_id: str
    expires_at: datetime
    phone_hint: str


@dataclasses.dataclass(frozen=True)
class CreatedUser:
    user: User
    one_time_password: str


@dataclasses.dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret: str


def _hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _credential_version(user: User) -> str:
    """Tokens carry this; a password change or reset makes earlier tokens invalid."""
    return hashlib.sha256(f"{user.id}:{user.password_hash}".encode()).hexdigest()[:16]


def _mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"


@singleton  # stateless (the API-key memory is its own singleton): one per container
class IdentityService:
    """One method per command or query; each runs in its own unit of work."""

    @inject
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, hasher: PasswordHasher,
                 tokens: TokenIssuer, api_keys: ApiKeyCache) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.hasher = hasher
        self.tokens = tokens
        self.api_keys = api_keys

    # -- helpers -------------------------------------------------------------

    def _org(self, uow: UnitOfWork, caller: Caller | None, org_id: str) -> Organization:
        if caller is not None:
            caller.require_org(org_id)
        org = uow.repo(OrganizationRepository).get(org_id)
        if org is None:
            raise errors.OrganizationNotFound("no such organisation")
        return org

    def _user_in_org(self, uow: UnitOfWork, org_id: str, user_id: str, *, lock: bool = False) -> User:
        repo = uow.repo(UserRepository)
        user = repo.get_for_update(user_id) if lock else repo.get(user_id)
        if user is None or user.org_id != org_id or user.status == "deleted":
            raise errors.UserNotFound("no such user")
        return user

    @staticmethod
    def _not_acting_for(caller: Caller, org_id: str) -> None:
        """Acting for a principal is operating it (funds, leads), not administering it: an
        agency's roles give no say over the principal's users, keys, log or settings."""
        if org_id != caller.org_id and org_id == caller.acting_for_org_id and not caller.is_platform:
            raise Forbidden("acting for a principal does not include administering it", code="permission_denied")

    @classmethod
    def _require_user_admin(cls, caller: Caller, org_id: str, target: User | None = None,
                            roles: tuple[str, ...] | list[str] = ()) -> None:
        """Org admins manage all users; an agency admin manages employees but not admins."""
        caller.require_org(org_id)
        cls._not_acting_for(caller, org_id)
        if caller.is_platform_admin or caller.has("identity.users.manage"):
            return
        if caller.has("identity.users.manage_employees"):
            admin_like = {"agency_owner", "agency_admin"}
            if admin_like & set(roles) or (target is not None and admin_like & set(target.roles)):
                raise Forbidden("agency admins cannot manage admins", code="permission_denied")
            return
        caller.require("identity.users.manage")

    def _check_phone(self, uow: UnitOfWork, phone: str | None, except_user: str | None = None) -> None:
        if phone and uow.repo(UserRepository).phone_taken(phone, except_user):
            raise errors.PhoneTaken("phone already registered", details={"phone": ["already registered"]})

    # -- organisations ----------------------------------------------------------

    def create_organization(self, caller: Caller, name: str, kinds: list[str],
                            registration: dict[str, str] | None = None) -> Organization:
        if not caller.is_platform_admin:
            raise Forbidden("only the platform creates organisations", code="permission_denied")
        now = self.clock.now()
        reg = Registration(**registration) if registration else None
        org = Organization.create(name, kinds, now, reg)
        with self.uow_factory() as uow:
            repo = uow.repo(OrganizationRepository)
            if reg and repo.registration_taken(reg.type, reg.number):
                raise Conflict("an organisation with this registration exists", code="registration_taken")
            repo.add(org)
            uow.publish(*org.events)
            record(uow, caller, "organization.create", org.id, f"created {org.name} ({', '.join(sorted(org.kinds))})",
                   now)
            uow.commit()
        return org

    def register_customer(self, name: str, registration: dict[str, str], login: str, user_name: str,
                          phone: str, password: str, email: str | None = None,
                          ip: str | None = None) -> tuple[Organization, User]:
        """Public self-registration: a customer organisation and its first (admin) user."""
        now = self.clock.now()
        reg = Registration(**registration)
        check_password_strength(password, "admin.password")
        org = Organization.create(name, ["customer"], now, reg)
        if ip:  # a public endpoint: at most REGISTRATIONS_PER_IP attempts an hour from one address
            with self.uow_factory() as uow:
                limiter = uow.repo(RateLimiter)
                if limiter.count(f"register-ip:{ip}", now - timedelta(hours=1)) >= REGISTRATIONS_PER_IP:
                    raise errors.LoginRateLimited("too many registrations from this address", retry_after=3600,
                                                  code="registration_rate_limited")
                limiter.hit(f"register-ip:{ip}", now)
                uow.commit()
        with self.uow_factory() as uow:
            orgs, users = uow.repo(OrganizationRepository), uow.repo(UserRepository)
            if orgs.registration_taken(reg.type, reg.number):
                raise Conflict("an organisation with this registration exists", code="registration_taken")
            if users.login_taken(login):
                raise errors.LoginTaken("login already taken", details={"admin.login": ["already taken"]})
            self._check_phone(uow, phone)
            orgs.add(org)
            user = User.create(org, login, user_name, phone, email, admin_roles_for(org.kinds),
                               self.hasher.hash(password), now, must_change_password=False)
            users.add(user)
            uow.publish(*org.events, *user.events)
            record(uow, None, "organization.register", org.id, f"self-registered {org.name} by {login}", now,
                   org_id=org.id)
            uow.commit()
        return org, user

    def get_organization(self, caller: Caller, org_id: str) -> Organization:
        with self.uow_factory() as uow:
            return self._org(uow, caller, org_id)

    def list_organizations(self, caller: Caller, page: PageRequest, kind: str | None = None,
                           name: str | None = None) -> Page[Organization]:
        with self.uow_factory() as uow:
            ids = None if caller.is_platform else [i for i in {caller.org_id, caller.acting_for_org_id} if i]
            items, total = uow.repo(OrganizationRepository).list(kind=kind, name=name, ids=ids,
                                                                 offset=page.offset, limit=page.per_page)
        return Page(items, page.page, page.per_page, total)

    def update_organization(self, caller: Caller, org_id: str, *, name: str | None = None,
                            require_sms_login: bool | None = None) -> Organization:
        with self.uow_factory() as uow:
            org = self._org(uow, caller, org_id)
            self._not_acting_for(caller, org_id)
            if not caller.is_platform_admin:
                caller.require("identity.org.manage", org_id=org_id)
            if name is not None:
                org.name = Organization.create(name, org.kinds, org.created_at).name
            if require_sms_login is not None:
                org.require_sms_login = require_sms_login
            uow.repo(OrganizationRepository).save(org)
            record(uow, caller, "organization.update", org.id, f"name={org.name} sms={org.require_sms_login}",
                   self.clock.now())
            uow.commit()
        return org

    # -- users -------------------------------------------------------------------

    def create_user(self, caller: Caller, org_id: str, login: str, name: str, phone: str | None,
                    roles: list[str], department_id: str | None = None, email: str | None = None) -> CreatedUser:
        now = self.clock.now()
        password = generate_one_time_password()
        with self.uow_factory() as uow:
            org = self._org(uow, caller, org_id)
            self._require_user_admin(caller, org_id, roles=roles)
            users = uow.repo(UserRepository)
            if users.login_taken(login):
                raise errors.LoginTaken("login already taken", details={"login": ["already taken"]})
            self._check_phone(uow, phone)
            if department_id is not None:
                dep = uow.repo(DepartmentRepository).get(department_id)
                if dep is None or dep.org_id != org_id:
                    raise ValidationFailed("department_id", "is not a department of this organisation",
                                           code="unknown_department")
            _, existing = users.list(org_id, status=None, role=None, department_id=None, q=None,
                                     offset=0, limit=1)
            if existing == 0:  # the first user of an organisation is its default admin
                roles = list(dict.fromkeys([*admin_roles_for(org.kinds), *roles]))
            user = User.create(org, login, name, phone, email, roles, self.hasher.hash(password), now,
                               department_id=department_id)
            users.add(user)
            uow.publish(*user.events)
            record(uow, caller, "user.create", user.id, f"created user {login} roles={','.join(user.roles)}", now,
                   org_id=org_id)
            uow.commit()
        return CreatedUser(user, password)

    def list_users(self, caller: Caller, org_id: str, page: PageRequest, *, status: str | None = None,
                   role: str | None = None, department_id: str | None = None,
                   q: str | None = None) -> Page[User]:
        with self.uow_factory() as uow:
            self._org(uow, caller, org_id)
            self._not_acting_for(caller, org_id)
            if not (caller.is_platform_admin or caller.has("identity.users.manage")
                    or caller.has("identity.users.manage_employees")):
                caller.require("identity.users.manage")
            items, total = uow.repo(UserRepository).list(org_id, status=status, role=role,
                                                         department_id=department_id, q=q,
                                                         offset=page.offset, limit=page.per_page)
        return Page(items, page.page, page.per_page, total)

    def get_user(self, caller: Caller, org_id: str, user_id: str) -> User:
        with self.uow_factory() as uow:
            self._org(uow, caller, org_id)
            user = self._user_in_org(uow, org_id, user_id)
            if caller.user_id != user_id:
                self._require_user_admin(caller, org_id, user)
        return user

    def update_user(self, caller: Caller, org_id: str, user_id: str, **changes: Any) -> User:
        """Name, phone, e-mail, roles, department. Users may edit their own phone and e-mail."""
        with self.uow_factory() as uow:
            org = self._org(uow, caller, org_id)
            user = self._user_in_org(uow, org_id, user_id, lock=True)
            self_edit = caller.user_id == user_id and set(changes) <= {"phone", "email"}
            if not self_edit:
                self._require_user_admin(caller, org_id, user, roles=changes.get("roles") or ())
            if "phone" in changes:
                self._check_phone(uow, changes["phone"], user.id)
                user.phone = changes["phone"]
            if "email" in changes:
                user.email = changes["email"]
            if "name" in changes:
                user.name = User.create(org, user.login, changes["name"], None, None, (), "", user.created_at).name
            if "roles" in changes:
                user.roles = User.check_roles(changes["roles"], org.kinds)
            if "department_id" in changes:
                dep_id = changes["department_id"]
                if dep_id is not None:
                    dep = uow.repo(DepartmentRepository).get(dep_id)
                    if dep is None or dep.org_id != org_id:
                        raise ValidationFailed("department_id", "is not a department of this organisation",
                                               code="unknown_department")
                user.join_department(dep_id)
            uow.repo(UserRepository).save(user)
            record(uow, caller, "user.update", user.id, f"changed {', '.join(sorted(changes))}", self.clock.now(),
                   org_id=org_id)
            uow.commit()
        return user

    def reset_password(self, caller: Caller, org_id: str, user_id: str) -> CreatedUser:
        now = self.clock.now()
        password = generate_one_time_password()
        with self.uow_factory() as uow:
            self._org(uow, caller, org_id)
            user = self._user_in_org(uow, org_id, user_id, lock=True)
            self._require_user_admin(caller, org_id, user)
            user.set_password(self.hasher.hash(password), now, one_time=True)
            uow.repo(UserRepository).save(user)
            record(uow, caller, "user.reset_password", user.id, f"reset password of {user.login}", now,
                   org_id=org_id)
            uow.commit()
        return CreatedUser(user, password)

    def change_status(self, caller: Caller, org_id: str, user_id: str, action: str) -> User:
        if action not in ("suspend", "restore", "cancel", "delete"):
            raise ValidationFailed("action", "unknown action", code="invalid_action")
        with self.uow_factory() as uow:
            self._org(uow, caller, org_id)
            user = self._user_in_org(uow, org_id, user_id, lock=True)
            self._require_user_admin(caller, org_id, user)
            if caller.user_id == user_id:
                raise Conflict("you cannot change your own status", code="cannot_change_self")
            getattr(user, action)()
            uow.repo(UserRepository).save(user)
            uow.publish(*user.events)
            record(uow, caller, f"user.{action}", user.id, f"{action} {user.login}", self.clock.now(),
                   org_id=org_id)
            uow.commit()
        return user

    # -- departments --------------------------------------------------------------

    def _require_dept_admin(self, caller: Caller, org_id: str) -> None:
        self._not_acting_for(caller, org_id)
        if not caller.is_platform_admin:
            caller.require("identity.departments.manage", org_id=org_id)

    def _dept(self, uow: UnitOfWork, org_id: str, dep_id: str | None, field: str = "department_id"
              ) -> Department | None:
        if dep_id is None:
            return None
        dep = uow.repo(DepartmentRepository).get(dep_id)
        if dep is None or dep.org_id != org_id:
            raise NotFound("no such department", code="department_not_found", details={field: ["unknown"]})
        return dep

    def create_department(self, caller: Caller, org_id: str, name: str, parent_id: str | None) -> Department:
        with self.uow_factory() as uow:
            self._org(uow, caller, org_id)
            self._require_dept_admin(caller, org_id)
            parent = self._dept(uow, org_id, parent_id, "parent_id")
            dep = Department.create(org_id, name, parent, self.clock.now())
            uow.repo(DepartmentRepository).add(dep)
            record(uow, caller, "department.create", dep.id, f"created department {dep.name}", self.clock.now(),
                   org_id=org_id)
            uow.commit()
        return dep

    def list_departments(self, caller: Caller, org_id: str) -> list[Department]:
        with self.uow_factory() as uow:
            self._org(uow, caller, org_id)
            return uow.repo(DepartmentRepository).list(org_id)

    def update_department(self, caller: Caller, org_id: str, dep_id: str, *, name: str | None = None,
                          parent_id: str | None = None, move: bool = False) -> Department:
        with self.uow_factory() as uow:
            self._org(uow, caller, org_id)
            self._require_dept_admin(caller, org_id)
            dep = self._dept(uow, org_id, dep_id)
            assert dep is not None
            if name is not None:
                dep.name = Department.create(org_id, name, None, dep.created_at).name
            if move:
                parent = self._dept(uow, org_id, parent_id, "parent_id")
                by_id = {d.id: d for d in uow.repo(DepartmentRepository).list(org_id)}
                ancestors: list[str] = []
                cursor = parent.parent_id if parent else None
                while cursor:
                    ancestors.append(cursor)
                    cursor = by_id[cursor].parent_id if cursor in by_id else None
                dep.move_under(parent, ancestors)
            uow.repo(DepartmentRepository).save(dep)
            record(uow, caller, "department.update", dep.id, f"department {dep.name}", self.clock.now(),
                   org_id=org_id)
            uow.commit()
        return dep

    def delete_department(self, caller: Caller, org_id: str, dep_id: str) -> None:
        with self.uow_factory() as uow:
            self._org(uow, caller, org_id)
            self._require_dept_admin(caller, org_id)
            dep = self._dept(uow, org_id, dep_id)
            assert dep is not None
            deps = uow.repo(DepartmentRepository)
            if any(d.parent_id == dep_id for d in deps.list(org_id)):
                raise errors.DepartmentNotEmpty("department has sub-departments")
            if uow.repo(UserRepository).count_in_departments([dep_id]):
                raise errors.DepartmentNotEmpty("department has members")
            deps.delete(dep_id)
            record(uow, caller, "department.delete", dep_id, f"deleted department {dep.name}", self.clock.now(),
                   org_id=org_id)
            uow.commit()

    def set_members(self, caller: Caller, org_id: str, dep_id: str, user_ids: list[str], *, add: bool) -> int:
        """Bulk add (moving from another department) or remove members."""
        with self.uow_factory() as uow:
            self._org(uow, caller, org_id)
            self._require_dept_admin(caller, org_id)
            self._dept(uow, org_id, dep_id)
            users = uow.repo(UserRepository)
            changed = 0
            for uid in dict.fromkeys(user_ids):
                user = self._user_in_org(uow, org_id, uid, lock=True)
                if add:
                    user.join_department(dep_id)
                elif user.department_id == dep_id:
                    user.join_department(None)
                else:
                    continue
                users.save(user)
                changed += 1
            record(uow, caller, "department.members", dep_id,
                   f"{'added' if add else 'removed'} {changed} members", self.clock.now(), org_id=org_id)
            uow.commit()
        return changed

    def set_position(self, caller: Caller, org_id: str, dep_id: str, user_id: str,
                     position: str | None) -> User:
        """Make a member head or deputy; the previous holder of that position steps down."""
        with self.uow_factory() as uow:
            self._org(uow, caller, org_id)
            self._require_dept_admin(caller, org_id)
            self._dept(uow, org_id, dep_id)
            users = uow.repo(UserRepository)
            user = self._user_in_org(uow, org_id, user_id, lock=True)
            if user.department_id != dep_id:
                raise Conflict("user is not a member of this department", code="not_a_member")
            if position is not None:
                members, _ = users.list(org_id, status=None, role=None, department_id=dep_id, q=None,
                                        offset=0, limit=10_000)
                for other in members:
                    if other.id != user.id and other.position == position:
                        other.set_position(None)
                        users.save(other)
            user.set_position(position)
            users.save(user)
            record(uow, caller, "department.position", dep_id, f"{user.login} -> {position}", self.clock.now(),
                   org_id=org_id)
            uow.commit()
        return user

    # -- relations ------------------------------------------------------------------

    def invite_principal(self, caller: Caller, agency_id: str, merchant_id: str) -> OrgRelation:
        with self.uow_factory() as uow:
            agency = self._org(uow, caller, agency_id)
            caller.require("agency.principals.manage", org_id=agency_id)
            merchant = uow.repo(OrganizationRepository).get(merchant_id)
            if merchant is None:
                raise ValidationFailed("principal_org_id", "unknown organisation", code="unknown_organization")
            rels = uow.repo(RelationRepository)
            existing = rels.find("agency_principal", agency_id, merchant_id)
            if existing is not None and existing.status != "terminated":
                raise Conflict("principal already invited or authorised", code="relation_exists")
            rel = OrgRelation.invite_principal(agency, merchant, self.clock.now())
            if existing is not None:  # re-invite after termination reuses the pair's row
                existing.status, existing.updated_at = "invited", rel.updated_at
                rels.save(existing)
                rel = existing
            else:
                rels.add(rel)
            record(uow, caller, "relation.invite", rel.id, f"invited principal {merchant.name}", self.clock.now(),
                   org_id=agency_id)
            uow.commit()
        return rel

    def respond_relation(self, caller: Caller, rel_id: str, action: str) -> OrgRelation:
        """The merchant accepts; either side (or the platform) terminates."""
        with self.uow_factory() as uow:
            rels = uow.repo(RelationRepository)
            rel = rels.get(rel_id)
            if rel is None or not (caller.is_platform or caller.org_id in (rel.from_org_id, rel.to_org_id)):
                raise NotFound("no such relation", code="relation_not_found")
            if not caller.is_platform_admin and not (
                    caller.has("identity.org.manage") or caller.has("agency.principals.manage")):
                raise Forbidden("admins only", code="permission_denied")
            now = self.clock.now()
            if action == "accept":
                if caller.org_id != rel.to_org_id:
                    raise Forbidden("only the invited organisation accepts", code="permission_denied")
                rel.accept(now)
            elif action == "terminate":
                if rel.kind == "vendor_provider" and not caller.is_platform_admin:
                    raise Forbidden("vendor-provider links are kept by the platform", code="permission_denied")
                rel.terminate(now)
            else:
                raise ValidationFailed("action", "must be accept or terminate", code="invalid_action")
            rels.save(rel)
            record(uow, caller, f"relation.{action}", rel.id, f"{rel.kind} {rel.from_org_id}->{rel.to_org_id}", now)
            uow.commit()
        return rel

    def link_provider(self, caller: Caller, vendor_id: str, provider_id: str) -> OrgRelation:
        if not caller.is_platform_admin:
            raise Forbidden("the platform links vendors to providers", code="permission_denied")
        with self.uow_factory() as uow:
            vendor = self._org(uow, caller, vendor_id)
            provider = uow.repo(OrganizationRepository).get(provider_id)
            if provider is None:
                raise ValidationFailed("provider_org_id", "unknown organisation", code="unknown_organization")
            rels = uow.repo(RelationRepository)
            existing = rels.find("vendor_provider", vendor_id, provider_id)
            rel = OrgRelation.link_provider(vendor, provider, self.clock.now())
            if existing is not None:
                if existing.status == "authorized":
                    raise Conflict("provider already linked", code="relation_exists")
                existing.status, existing.updated_at = "authorized", rel.updated_at
                rels.save(existing)
                rel = existing
            else:
                rels.add(rel)
            record(uow, caller, "relation.link_provider", rel.id, f"{vendor.name} -> {provider.name}",
                   self.clock.now(), org_id=vendor_id)
            uow.commit()
        return rel

    def list_relations(self, caller: Caller, org_id: str, kind: str, direction: str,
                       status: str | None = None) -> list[OrgRelation]:
        with self.uow_factory() as uow:
            self._org(uow, caller, org_id)
            rels = uow.repo(RelationRepository)
            if direction == "from":
                return rels.list(kind, from_org_id=org_id, status=status)
            return rels.list(kind, to_org_id=org_id, status=status)

    def act_as(self, caller: Caller, principal_org_id: str) -> Caller:
        """An agency user naming a principal: allowed for authorised principals only."""
        if not (caller.has("agency.principals.operate") or caller.has("agency.principals.operate_bound")):
            raise Forbidden("your role cannot act for principals", code="permission_denied")
        if "\x00" in principal_org_id:
            raise NotFound("no such principal", code="principal_not_found")
        with self.uow_factory() as uow:
            rel = uow.repo(RelationRepository).find("agency_principal", caller.org_id, principal_org_id)
        if rel is None or rel.status != "authorized":
            raise NotFound("no such principal", code="principal_not_found")
        if caller.has("agency.principals.operate_bound") and not caller.has("agency.principals.operate"):
            # bindings of dedicated employees arrive with the agency/leads module
            raise Forbidden("principal is not bound to you", code="principal_not_bound")
        return dataclasses.replace(caller, acting_for_org_id=principal_org_id)

    # -- API keys ----------------------------------------------------------------

    def issue_api_key(self, caller: Caller, org_id: str, name: str) -> IssuedKey:
        now = self.clock.now()
        with self.uow_factory() as uow:
            self._org(uow, caller, org_id)
            self._not_acting_for(caller, org_id)
            if not caller.is_platform_admin:
                caller.require("identity.api_keys.manage", org_id=org_id)
            prefix = secrets.token_hex(6)
            secret = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
            key = ApiKey(id=new_id("key"), org_id=org_id, name=(name or "api key")[:100], prefix=prefix,
                         key_hash=_hash_key(secret), created_at=now, created_by=caller.user_id)
            uow.repo(ApiKeyRepository).add(key)
            record(uow, caller, "api_key.issue", key.id, f"issued key {prefix} ({key.name})", now, org_id=org_id)
            uow.commit()
        return IssuedKey(key, secret)

    def list_api_keys(self, caller: Caller, org_id: str) -> list[ApiKey]:
        with self.uow_factory() as uow:
            self._org(uow, caller, org_id)
            self._not_acting_for(caller, org_id)
            if not caller.is_platform_admin:
                caller.require("identity.api_keys.manage", org_id=org_id)
            return uow.repo(ApiKeyRepository).list(org_id)

    def revoke_api_key(self, caller: Caller, org_id: str, key_id: str) -> ApiKey:
        now = self.clock.now()
        with self.uow_factory() as uow:
            self._org(uow, caller, org_id)
            self._not_acting_for(caller, org_id)
            if not caller.is_platform_admin:
                caller.require("identity.api_keys.manage", org_id=org_id)
            keys = uow.repo(ApiKeyRepository)
            key = keys.get(key_id)
            if key is None or key.org_id != org_id:
                raise NotFound("no such api key", code="api_key_not_found")
            key.revoke(now)
            keys.save(key)
            record(uow, caller, "api_key.revoke", key.id, f"revoked key {key.prefix}", now, org_id=org_id)
            uow.commit()
        self.api_keys.forget(key.prefix)
        return key

    # -- authentication -------------------------------------------------------------

    def caller_for_api_key(self, secret: str, request_id: str | None = None) -> Caller:
        """The caller an API key stands for. A verified key is remembered per process
        (``ApiKeyCache``: revocations reach every process within seconds); its hash is
        compared on every request."""
        parts = secret.split("_", 2)  # the random tail is url-safe base64: it may hold "_" too
        if len(parts) != 3 or parts[0] != API_KEY_PREFIX or not API_KEY_PREFIX_RE.fullmatch(parts[1]):
            raise errors.InvalidCredentials("invalid api key")
        digest = _hash_key(secret)
        if self.api_keys.revocations_due():
            with self.uow_factory() as uow:
                self.api_keys.revocations_seen(uow.repo(ApiKeyRepository).revoked_count())
        known = self.api_keys.get(parts[1])
        if known is None or not hmac.compare_digest(known.key_hash, digest):
            generation = self.api_keys.generation  # a forget or clear meanwhile voids the lookup's answer
            known = self._verify_api_key(parts[1], digest)
            self.api_keys.put(parts[1], known, generation)
        # an API key acts as its organisation's admin for server-to-server calls
        return Caller(org_id=known.org_id, org_kinds=known.org_kinds, roles=tuple(admin_roles_for(known.org_kinds)),
                      api_key_id=known.key_id, request_id=request_id)

    def _verify_api_key(self, prefix: str, digest: str) -> VerifiedKey:
        now = self.clock.now()
        with self.uow_factory() as uow:
            keys = uow.repo(ApiKeyRepository)
            key = keys.by_prefix(prefix)
            if key is None or not key.active or not hmac.compare_digest(key.key_hash, digest):
                raise errors.InvalidCredentials("invalid api key")
            org = uow.repo(OrganizationRepository).get(key.org_id)
            if org is None or org.status != "active":
                raise errors.AccountDisabled("organisation is not active")
            if key.last_used_at is None or now - key.last_used_at >= API_KEY_USE_RESOLUTION:
                # on a lookup, not on every request: as fresh as the key memory. ``touch`` writes
                # only last_used_at, and only while the key is active (a revocation that
                # committed since the read wins: the key is refused)
                if not keys.touch(key.id, now):
                    raise errors.InvalidCredentials("invalid api key")
                uow.commit()
        return VerifiedKey(key_id=key.id, key_hash=key.key_hash, org_id=org.id, org_kinds=org.kinds)

    def caller_for_token(self, token: str, request_id: str | None = None,
                         allow_password_change: bool = False) -> Caller:
        claims = self.tokens.verify(token, self.clock.now())
        if claims is None:
            raise errors.InvalidCredentials("invalid or expired token", code="invalid_token")
        with self.uow_factory() as uow:
            user = uow.repo(UserRepository).get(claims.user_id)
            if user is None or not user.can_log_in:
                raise errors.AccountDisabled("account is not active")
            if claims.credential_version != _credential_version(user):
                raise errors.InvalidCredentials("token issued before the last password change",
                                                code="invalid_token")
            org = uow.repo(OrganizationRepository).get(user.org_id)
            if org is None or org.status != "active":
                raise errors.AccountDisabled("organisation is not active")
        if user.must_change_password and not allow_password_change:
            raise errors.PasswordChangeRequired("change the one-time password first: POST /api/v1/auth/password")
        return Caller(org_id=org.id, org_kinds=org.kinds, roles=user.roles, user_id=user.id,
                      request_id=request_id)

    def _rate_limit_login(self, uow: UnitOfWork, login: str, ip: str | None, now: datetime) -> None:
        limiter = uow.repo(RateLimiter)
        if ip:
            if limiter.count(f"login-ip:{ip}", now - LOGIN_IP_WINDOW) >= LOGIN_IP_MAX:
                raise errors.LoginRateLimited("too many login attempts from this address", retry_after=60)
            limiter.hit(f"login-ip:{ip}", now)
        key = f"login-fail:{login.lower()}"
        since = now - LOGIN_FAILURE_WINDOW
        if limiter.count(key, since) >= LOGIN_FAILURES_MAX:
            oldest = limiter.oldest_since(key, since) or now
            # allowed again when the oldest failure leaves the window
            retry = max(1, math.ceil((oldest + LOGIN_FAILURE_WINDOW - now).total_seconds()))
            raise errors.LoginRateLimited(f"too many failed logins; try again in {retry} s", retry_after=retry)

    def login(self, login: str, password: str, challenge_id: str | None = None, sms_code: str | None = None,
              ip: str | None = None) -> TokenResult | ChallengeRequired:
        now = self.clock.now()
        failure: DomainError | None = None
        with self.uow_factory() as uow:
            self._rate_limit_login(uow, login, ip, now)
            user = uow.repo(UserRepository).by_login_or_phone(login)
            ok = user is not None and self.hasher.verify(user.password_hash, password)
            if not ok or user is None:
                if user is None:
                    self.hasher.hash(password)  # same cost whether or not the login exists
                uow.repo(RateLimiter).hit(f"login-fail:{login.lower()}", now)
                uow.commit()
                raise errors.InvalidCredentials("wrong login or password")
            if not user.can_log_in:
                uow.commit()
                raise errors.AccountDisabled(f"account is {user.status}")
            org = uow.repo(OrganizationRepository).get(user.org_id)
            assert org is not None
            if org.require_sms_login:
                if challenge_id is None:
                    challenge = self._issue_challenge(uow, user, "login", now)
                    uow.commit()
                    return ChallengeRequired(challenge.id, challenge.expires_at, _mask_phone(challenge.phone))
                try:
                    self._verify_challenge(uow, challenge_id, sms_code, user, "login", now)
                except DomainError as exc:
                    failure = exc
                    uow.commit()  # the counted attempt must survive the refusal
                if failure is None:
                    uow.repo(RateLimiter).clear(f"login-fail:{login.lower()}")
                    uow.commit()
            else:
                uow.repo(RateLimiter).clear(f"login-fail:{login.lower()}")
                uow.commit()
        if failure is not None:
            raise failure
        token, ttl = self.tokens.issue(user.id, user.org_id, now, _credential_version(user))
        return TokenResult(token, ttl, user.must_change_password)

    def _issue_challenge(self, uow: UnitOfWork, user: User, purpose: str, now: datetime) -> SmsChallenge:
        if not user.phone:
            raise Conflict("no phone registered for this account", code="no_phone")
        repo = uow.repo(SmsChallengeRepository)
        day_start = self.clock.local(now).replace(hour=0, minute=0, second=0, microsecond=0)
        SmsChallenge.check_send_allowed(repo.count_sent(user.phone, now - timedelta(minutes=1)),
                                        repo.count_sent(user.phone, day_start - timedelta(microseconds=1)))
        code = SmsChallenge.generate_code()
        challenge = SmsChallenge.issue(user.phone, purpose, user.id, self.hasher.hash(code), now)
        repo.add(challenge)
        uow.publish(SmsCodeRequested(challenge_id=challenge.id, phone=user.phone, purpose=purpose, code=code))
        return challenge

    def _verify_challenge(self, uow: UnitOfWork, challenge_id: str, code: str | None, user: User, purpose: str,
                          now: datetime) -> None:
        repo = uow.repo(SmsChallengeRepository)
        challenge = repo.get_for_update(challenge_id)
        if challenge is None or challenge.user_id != user.id or challenge.purpose != purpose:
            raise errors.SmsCodeInvalid("unknown challenge", code="challenge_not_found")
        try:
            challenge.verify(bool(code) and self.hasher.verify(challenge.code_hash, code or ""), now)
        finally:
            repo.save(challenge)

    def change_password(self, caller: Caller, old_password: str, new_password: str) -> None:
        if caller.user_id is None:
            raise Forbidden("API keys have no password", code="permission_denied")
        check_password_strength(new_password)
        if old_password == new_password:
            raise ValidationFailed("new_password", "must differ from the old password", code="weak_password")
        with self.uow_factory() as uow:
            user = uow.repo(UserRepository).get_for_update(caller.user_id)
            if user is None or not self.hasher.verify(user.password_hash, old_password):
                raise errors.InvalidCredentials("old password is wrong")
            user.set_password(self.hasher.hash(new_password), self.clock.now(), one_time=False)
            uow.repo(UserRepository).save(user)
            record(uow, caller, "user.change_password", user.id, "changed own password", self.clock.now())
            uow.commit()

    def request_password_reset(self, login: str, ip: str | None = None) -> ChallengeRequired:
        now = self.clock.now()
        with self.uow_factory() as uow:
            self._rate_limit_login(uow, login, ip, now)
            user = uow.repo(UserRepository).by_login_or_phone(login)
            if user is None or not user.can_log_in or not user.phone:
                uow.commit()
                raise NotFound("no active account with a phone for this login", code="user_not_found")
            challenge = self._issue_challenge(uow, user, "reset_password", now)
            uow.commit()
        return ChallengeRequired(challenge.id, challenge.expires_at, _mask_phone(challenge.phone))

    def confirm_password_reset(self, challenge_id: str, sms_code: str, new_password: str) -> None:
        check_password_strength(new_password)
        now = self.clock.now()
        failure: DomainError | None = None
        with self.uow_factory() as uow:
            repo = uow.repo(SmsChallengeRepository)
            challenge = repo.get_for_update(challenge_id)
            if challenge is None or challenge.purpose != "reset_password":
                raise errors.SmsCodeInvalid("unknown challenge", code="challenge_not_found")
            user = uow.repo(UserRepository).get_for_update(challenge.user_id)
            assert user is not None
            try:
                self._verify_challenge(uow, challenge_id, sms_code, user, "reset_password", now)
            except DomainError as exc:
                failure = exc
                uow.commit()
            if failure is None:
                user.set_password(self.hasher.hash(new_password), now, one_time=False)
                uow.repo(UserRepository).save(user)
                uow.repo(RateLimiter).clear(f"login-fail:{user.login.lower()}")
                record(uow, None, "user.reset_password_sms", user.id, "password reset by SMS", now,
                       org_id=user.org_id)
                uow.commit()
        if failure is not None:
            raise failure

    def me(self, caller: Caller) -> tuple[User | None, Organization]:
        with self.uow_factory() as uow:
            org = uow.repo(OrganizationRepository).get(caller.org_id)
            assert org is not None
            user = uow.repo(UserRepository).get(caller.user_id) if caller.user_id else None
        return user, org

    # -- operation log and in-site messages --------------------------------------------

    def audit_log(self, caller: Caller, org_id: str, page: PageRequest, *, operation: str | None = None,
                  actor_id: str | None = None, since: datetime | None = None,
                  until: datetime | None = None) -> Page[AuditRecord]:
        with self.uow_factory() as uow:
            self._org(uow, caller, org_id)
            self._not_acting_for(caller, org_id)
            if not caller.is_platform_admin:
                caller.require("identity.audit.view", org_id=org_id)
            items, total = uow.repo(AuditLog).search(
                AuditFilter(org_id=org_id, operation=operation, actor_id=actor_id, since=since, until=until),
                page.offset, page.per_page)
        return Page(items, page.page, page.per_page, total)

    def inbox(self, caller: Caller, page: PageRequest, unread_only: bool = False) -> Page[InboxMessage]:
        if caller.user_id is None:
            return Page([], page.page, page.per_page, 0)
        with self.uow_factory() as uow:
            items, total = uow.repo(InboxRepository).list_for(caller.user_id, unread_only=unread_only,
                                                              offset=page.offset, limit=page.per_page)
        return Page(items, page.page, page.per_page, total)

    def mark_read(self, caller: Caller, message_id: str) -> None:
        with self.uow_factory() as uow:
            if caller.user_id is None or not uow.repo(InboxRepository).mark_read(
                    caller.user_id, message_id, self.clock.now()):
                raise NotFound("no such unread message", code="message_not_found")
            uow.commit()

    @staticmethod
    def roles() -> list[dict[str, Any]]:
        return [{"name": r.name, "org_kinds": sorted(r.org_kinds), "permissions": sorted(r.permissions),
                 "description": r.description} for r in ROLES.values()]
