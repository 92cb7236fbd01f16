"""Repository and hashing ports of the identity module."""
from __future__ import annotations

import abc
import builtins
from datetime import datetime

from domain.identity.model import ApiKey, Department, Organization, OrgRelation, SmsChallenge, User


class PasswordHasher(abc.ABC):
    @abc.abstractmethod
    def hash(self, password: str) -> str: ...

    @abc.abstractmethod
    def verify(self, password_hash: str, password: str) -> bool: ...


class OrganizationRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, org: Organization) -> None: ...

    @abc.abstractmethod
    def get(self, org_id: str) -> Organization | None: ...

    @abc.abstractmethod
    def save(self, org: Organization) -> None: ...

    @abc.abstractmethod
    def list(self, *, kind: str | None, name: str | None, ids: list[str] | None,
             offset: int, limit: int) -> tuple[list[Organization], int]: ...

    @abc.abstractmethod
    def registration_taken(self, reg_type: str, number: str) -> bool: ...


class UserRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, user: User) -> None: ...

    @abc.abstractmethod
    def get(self, user_id: str) -> User | None: ...

    @abc.abstractmethod
    def get_for_update(self, user_id: str) -> User | None: ...

    @abc.abstractmethod
    def by_login_or_phone(self, login: str) -> User | None: ...

    @abc.abstractmethod
    def login_taken(self, login: str) -> bool: ...

    @abc.abstractmethod
    def phone_taken(self, phone: str, except_user_id: str | None = None) -> bool: ...

    @abc.abstractmethod
    def save(self, user: User) -> None: ...

    @abc.abstractmethod
    def list(self, org_id: str, *, status: str | None, role: str | None, department_id: str | None,
             q: str | None, offset: int, limit: int) -> tuple[list[User], int]: ...

    @abc.abstractmethod
    def count_in_departments(self, department_ids: builtins.list[str]) -> int: ...


class DepartmentRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, dep: Department) -> None: ...

    @abc.abstractmethod
    def get(self, dep_id: str) -> Department | None: ...

    @abc.abstractmethod
    def save(self, dep: Department) -> None: ...

    @abc.abstractmethod
    def delete(self, dep_id: str) -> None: ...

    @abc.abstractmethod
    def list(self, org_id: str) -> list[Department]: ...


class RelationRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, rel: OrgRelation) -> None: ...

    @abc.abstractmethod
    def get(self, rel_id: str) -> OrgRelation | None: ...

    @abc.abstractmethod
    def find(self, kind: str, from_org_id: str, to_org_id: str) -> OrgRelation | None: ...

    @abc.abstractmethod
    def save(self, rel: OrgRelation) -> None: ...

    @abc.abstractmethod
    def list(self, kind: str, *, from_org_id: str | None = None, to_org_id: str | None = None,
             status: str | None = None) -> list[OrgRelation]: ...


class ApiKeyRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, key: ApiKey) -> None: ...

    @abc.abstractmethod
    def get(self, key_id: str) -> ApiKey | None: ...

    @abc.abstractmethod
    def by_prefix(self, prefix: str) -> ApiKey | None: ...

    @abc.abstractmethod
    def save(self, key: ApiKey) -> None: ...

    @abc.abstractmethod
    def list(self, org_id: str) -> list[ApiKey]: ...

    @abc.abstractmethod
    def touch(self, key_id: str, now: datetime) -> bool:
        """Record a use of an active key (``last_used_at`` only: never its other columns,
        so it cannot undo a concurrent revocation); False if it is revoked or gone."""

    @abc.abstractmethod
    def revoked_count(self) -> int:
        """How many keys have ever been revoked: it only grows, so a change tells every
        process's key memory (``ApiKeyCache``) that something was revoked."""


class SmsChallengeRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, challenge: SmsChallenge) -> None: ...

    @abc.abstractmethod
    def get_for_update(self, challenge_id: str) -> SmsChallenge | None: ...

    @abc.abstractmethod
    def save(self, challenge: SmsChallenge) -> None: ...

    @abc.abstractmethod
    def count_sent(self, phone: str, since: datetime) -> int: ...
