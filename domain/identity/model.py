"""Identity aggregates: Organization, User, Department, OrgRelation, ApiKey, SmsChallenge."""
from __future__ import annotations

import dataclasses
import re
import secrets
from datetime import datetime, timedelta

from domain.identity import errors, events
from domain.identity.roles import ORG_KINDS, ROLES
from domain.shared.errors import Conflict, Forbidden, ValidationFailed
from domain.shared.events import DomainEvent
from domain.shared.ids import new_id

OTP_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"
LOGIN_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-@]{2,63}$")
REGISTRATION_RES = {
    # 18-character resident ID card number; 18-character unified social credit code
    "individual": re.compile(r"^\d{17}[\dXx]$"),
    "company": re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$"),
}
SMS_CODE_TTL = timedelta(minutes=5)
SMS_MAX_ATTEMPTS = 5
SMS_PER_MINUTE = 1
SMS_PER_DAY = 10


def generate_one_time_password(length: int = 8) -> str:
    """8 random characters with at least one letter and one digit, no look-alikes."""
    while True:
        pw = "".join(secrets.choice(OTP_ALPHABET) for _ in range(length))
        if any(c.isdigit() for c in pw) and any(c.isalpha() for c in pw):
            return pw


def check_password_strength(password: str, field: str = "new_password") -> None:
    if len(password) < 8:
        raise errors.WeakPassword(field, "must be at least 8 characters", code="weak_password")
    if len(password) > 128:
        raise errors.WeakPassword(field, "must be at most 128 characters", code="weak_password")
    if not (any(c.isdigit() for c in password) and any(c.isalpha() for c in password)):
        raise errors.WeakPassword(field, "must contain letters and digits", code="weak_password")


@dataclasses.dataclass(frozen=True)
class Registration:
    type: str  # individual | company
    number: str

    def __post_init__(self) -> None:
        if self.type not in REGISTRATION_RES:
            raise ValidationFailed("registration.type", "must be individual or company",
                                   code="invalid_registration")
        if not REGISTRATION_RES[self.type].match(self.number):
            what = "an 18-character ID card number" if self.type == "individual" \
                else "an 18-character unified social credit code"
            raise ValidationFailed("registration.number", f"must be {what}", code="invalid_registration")


@dataclasses.dataclass
class Organization:
    id: str
    name: str
    kinds: frozenset[str]
    created_at: datetime
    registration: Registration | None = None
    require_sms_login: bool = False
    status: str = "active"
    events: list[DomainEvent] = dataclasses.field(default_factory=list, repr=False, compare=False)

    @classmethod
    def create(cls, name: str, kinds: list[str] | frozenset[str], now: datetime,
               registration: Registration | None = None) -> Organization:
        name = name.strip()
        if not name or len(name) > 100:
            raise ValidationFailed("name", "must be 1-100 characters", code="invalid_name")
        kind_set = frozenset(kinds)
        if not kind_set:
            raise ValidationFailed("kinds", "must name at least one kind", code="invalid_kinds")
        unknown = kind_set - set(ORG_KINDS)
        if unknown:
            raise ValidationFailed("kinds", f"unknown kinds: {', '.join(sorted(unknown))}", code="invalid_kinds")
        if "vendor" in kind_set:
            kind_set = kind_set | {"provider"}  # a vendor always delivers its own products
        org = cls(id=new_id("org"), name=name, kinds=kind_set, created_at=now, registration=registration)
        org.events.append(events.OrganizationCreated(org_id=org.id, name=org.name, kinds=tuple(sorted(kind_set))))
        return org

    def is_platform(self) -> bool:
        return "platform" in self.kinds


@dataclasses.dataclass
class User:
    id: str
    org_id: str
    login: str
    name: str
    phone: str | None
    email: str | None
    roles: tuple[str, ...]
    password_hash: str
    must_change_password: bool
    status: str  # active | suspended | cancelled | deleted
    created_at: datetime
    department_id: str | None = None
    position: str | None = None  # head | deputy
    password_changed_at: datetime | None = None
    events: list[DomainEvent] = dataclasses.field(default_factory=list, repr=False, compare=False)

    @staticmethod
    def check_login(login: str) -> str:
        if not LOGIN_RE.match(login):
            raise ValidationFailed("login", "must be 3-64 characters: letters, digits, _ . - @, "
                                   "starting with a letter", code="invalid_login")
        return login

    @staticmethod
    def check_roles(roles: list[str] | tuple[str, ...], org_kinds: frozenset[str]) -> tuple[str, ...]:
        out: list[str] = []
        for r in roles:
            role = ROLES.get(r)
            if role is None:
                raise ValidationFailed("roles", f"unknown role {r!r}", code="unknown_role")
            if not (role.org_kinds & org_kinds):
                raise ValidationFailed("roles", f"role {r!r} is not for organisations of kinds "
                                       f"{', '.join(sorted(org_kinds))}", code="role_not_allowed")
            if r not in out:
                out.append(r)
        return tuple(out)

    @classmethod
    def create(cls, org: Organization, login: str, name: str, phone: str | None, email: str | None,
               roles: list[str] | tuple[str, ...], password_hash: str, now: datetime,
               must_change_password: bool = True, department_id: str | None = None) -> User:
        name = name.strip()
        if not name or len(name) > 100:
            raise ValidationFailed("name", "must be 1-100 characters", code="invalid_name")
        user = cls(id=new_id("usr"), org_id=org.id, login=cls.check_login(login), name=name, phone=phone,
                   email=email, roles=cls.check_roles(roles, org.kinds), password_hash=password_hash,
                   must_change_password=must_change_password, status="active", created_at=now,
                   department_id=department_id)
        user.events.append(events.UserCreated(user_id=user.id, org_id=org.id, login=user.login))
        return user

    @property
    def can_log_in(self) -> bool:
        return self.status == "active"

    def set_password(self, password_hash: str, now: datetime, *, one_time: bool) -> None:
        self.password_hash = password_hash
        self.must_change_password = one_time
        self.password_changed_at = now

    def _transition(self, allowed_from: tuple[str, ...], to: str) -> None:
        if self.status not in allowed_from:
            raise errors.InvalidStatusTransition(f"user is {self.status}, cannot become {to}",
                                                 details={"status": self.status, "to": to})
        self.status = to
        self.events.append(events.UserStatusChanged(user_id=self.id, org_id=self.org_id, status=to))

    def suspend(self) -> None:
        self._transition(("active",), "suspended")

    def restore(self) -> None:
        self._transition(("suspended",), "active")

    def cancel(self) -> None:
        self._transition(("active", "suspended"), "cancelled")

    def delete(self) -> None:
        self._transition(("active", "suspended", "cancelled"), "deleted")
        self.department_id = None
        self.position = None

    def join_department(self, department_id: str | None) -> None:
        if department_id != self.department_id:
            self.position = None
        self.department_id = department_id

    def set_position(self, position: str | None) -> None:
        if position not in (None, "head", "deputy"):
            raise ValidationFailed("position", "must be head, deputy or null", code="invalid_position")
        if position is not None and self.department_id is None:
            raise Conflict("user is in no department", code="not_a_member")
        self.position = position


@dataclasses.dataclass
class Department:
    id: str
    org_id: str
    name: str
    parent_id: str | None
    created_at: datetime

    @classmethod
    def create(cls, org_id: str, name: str, parent: Department | None, now: datetime) -> Department:
        name = name.strip()
        if not name or len(name) > 100:
            raise ValidationFailed("name", "must be 1-100 characters", code="invalid_name")
        if parent is not None and parent.org_id != org_id:
            raise ValidationFailed("parent_id", "is not a department of this organisation",
                                   code="unknown_department")
        return cls(id=new_id("dep"), org_id=org_id, name=name,
                   parent_id=parent.id if parent else None, created_at=now)

    def move_under(self, parent: Department | None, ancestors_of_parent: list[str]) -> None:
        if parent is not None:
            if parent.id == self.id or self.id in ancestors_of_parent:
                raise ValidationFailed("parent_id", "would create a cycle", code="department_cycle")
            if parent.org_id != self.org_id:
                raise ValidationFailed("parent_id", "is not a department of this organisation",
                                       code="unknown_department")
        self.parent_id = parent.id if parent else None


@dataclasses.dataclass
class OrgRelation:
    """agency -> principal (invited/authorized/terminated) or vendor -> provider (authorized/terminated)."""

    id: str
    kind: str  # agency_principal | vendor_provider
    from_org_id: str
    to_org_id: str
    status: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def invite_principal(cls, agency: Organization, merchant: Organization, now: datetime) -> OrgRelation:
        if "agency" not in agency.kinds:
            raise Forbidden("only agencies have principals", code="not_an_agency")
        if "merchant" not in merchant.kinds:
            raise ValidationFailed("principal_org_id", "is not a merchant organisation", code="not_a_merchant")
        return cls(new_id("rel"), "agency_principal", agency.id, merchant.id, "invited", now, now)

    @classmethod
    def link_provider(cls, vendor: Organization, provider: Organization, now: datetime) -> OrgRelation:
        if "vendor" not in vendor.kinds:
            raise ValidationFailed("vendor", "is not a vendor organisation", code="not_a_vendor")
        if "provider" not in provider.kinds:
            raise ValidationFailed("provider_org_id", "is not a provider organisation", code="not_a_provider")
        return cls(new_id("rel"), "vendor_provider", vendor.id, provider.id, "authorized", now, now)

    def accept(self, now: datetime) -> None:
        if self.status != "invited":
            raise errors.InvalidStatusTransition(f"relation is {self.status}")
        self.status = "authorized"
        self.updated_at = now

    def terminate(self, now: datetime) -> None:
        if self.status == "terminated":
            raise errors.InvalidStatusTransition("relation is already terminated")
        self.status = "terminated"
        self.updated_at = now


@dataclasses.dataclass
class ApiKey:
    id: str
    org_id: str
    name: str
    prefix: str
    key_hash: str
    created_at: datetime
    created_by: str | None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def revoke(self, now: datetime) -> None:
        if self.revoked_at is not None:
            raise errors.InvalidStatusTransition("api key already revoked", code="already_revoked")
        self.revoked_at = now


@dataclasses.dataclass
class SmsChallenge:
    """A 6-digit code sent to a phone for login or password reset."""

    id: str
    phone: str
    purpose: str  # login | reset_password
    user_id: str
    code_hash: str
    created_at: datetime
    expires_at: datetime
    attempts: int = 0
    consumed_at: datetime | None = None

    @staticmethod
    def generate_code() -> str:
        return f"{secrets.randbelow(1_000_000):06d}"

    @staticmethod
    def check_send_allowed(sent_last_minute: int, sent_today: int) -> None:
        if sent_last_minute >= SMS_PER_MINUTE:
            raise errors.SmsRateLimited("at most one code a minute per phone", retry_after=60)
        if sent_today >= SMS_PER_DAY:
            raise errors.SmsRateLimited("at most 10 codes a day per phone", retry_after=86400)

    @classmethod
    def issue(cls, phone: str, purpose: str, user_id: str, code_hash: str, now: datetime) -> SmsChallenge:
        return cls(new_id("chl"), phone, purpose, user_id, code_hash, now, now + SMS_CODE_TTL)

    def verify(self, code_matches: bool, now: datetime) -> None:
        """Count an attempt; raise unless this attempt succeeds. Valid until < expires_at."""
        if self.consumed_at is not None:
            raise errors.SmsCodeInvalid("code already used")
        if now >= self.expires_at:
            raise errors.SmsCodeExpired("code expired; request a new one")
        if self.attempts >= SMS_MAX_ATTEMPTS:
            raise errors.SmsAttemptsExceeded("too many wrong codes; request a new one")
        self.attempts += 1
        if not code_matches:
            left = SMS_MAX_ATTEMPTS - self.attempts
            raise errors.SmsCodeInvalid(f"wrong code, {left} attempts left", details={"attempts_left": left})
        self.consumed_at = now
