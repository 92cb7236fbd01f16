"""Identity repositories on SQLAlchemy Core."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from adapters.postgres import tables as t
from adapters.postgres.shared_repos import for_update
from adapters.postgres.types import tag_pattern
from domain.identity.model import ApiKey, Department, Organization, OrgRelation, Registration, SmsChallenge, User
from domain.identity.ports import (
    ApiKeyRepository,
    DepartmentRepository,
    OrganizationRepository,
    RelationRepository,
    SmsChallengeRepository,
    UserRepository,
)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlOrganizations(OrganizationRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @staticmethod
    def _values(org: Organization) -> dict[str, Any]:
        return dict(id=org.id, name=org.name, kinds=org.kinds,
                    registration_type=org.registration.type if org.registration else None,
                    registration_number=org.registration.number if org.registration else None,
                    require_sms_login=org.require_sms_login, status=org.status, created_at=org.created_at)

    @staticmethod
    def _row(r: Any) -> Organization:
        reg = None
        if r.registration_type:
            reg = Registration.__new__(Registration)
            object.__setattr__(reg, "type", r.registration_type)
            object.__setattr__(reg, "number", r.registration_number)
        return Organization(id=r.id, name=r.name, kinds=frozenset(r.kinds), created_at=r.created_at,
                            registration=reg, require_sms_login=r.require_sms_login, status=r.status)

    def add(self, org: Organization) -> None:
        self.conn.execute(insert(t.organizations).values(**self._values(org)))

    def get(self, org_id: str) -> Organization | None:
        r = self.conn.execute(select(t.organizations).where(t.organizations.c.id == org_id)).first()
        return self._row(r) if r else None

    def save(self, org: Organization) -> None:
        values = self._values(org)
        values.pop("id")
        self.conn.execute(update(t.organizations).where(t.organizations.c.id == org.id).values(**values))

    def list(self, *, kind: str | None, name: str | None, ids: list[str] | None,
             offset: int, limit: int) -> tuple[list[Organization], int]:
        c = t.organizations.c
        conds: list[Any] = []
        if kind:
            conds.append(c.kinds.like(tag_pattern(kind)))
        if name:
            conds.append(c.name.like(f"%{_escape_like(name)}%", escape="\\"))
        if ids is not None:
            conds.append(c.id.in_(ids))
        total = self.conn.execute(select(func.count()).select_from(t.organizations).where(*conds)).scalar_one()
        rows = self.conn.execute(select(t.organizations).where(*conds).order_by(c.created_at, c.id)
                                 .offset(offset).limit(limit))
        return [self._row(r) for r in rows], total

    def registration_taken(self, reg_type: str, number: str) -> bool:
        c = t.organizations.c
        return self.conn.execute(select(c.id).where(c.registration_type == reg_type,
                                                    c.registration_number == number)).first() is not None


class SqlUsers(UserRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @staticmethod
    def _values(u: User) -> dict[str, Any]:
        return dict(id=u.id, org_id=u.org_id, login=u.login, name=u.name, phone=u.phone, email=u.email,
                    roles=u.roles, password_hash=u.password_hash, must_change_password=u.must_change_password,
                    status=u.status, department_id=u.department_id, position=u.position,
                    created_at=u.created_at, password_changed_at=u.password_changed_at)

    @staticmethod
    def _row(r: Any) -> User:
        d = dict(r._mapping)
        d["roles"] = tuple(d["roles"])
        return User(**d)

    def add(self, user: User) -> None:
        self.conn.execute(insert(t.users).values(**self._values(user)))

    def get(self, user_id: str) -> User | None:
        r = self.conn.execute(select(t.users).where(t.users.c.id == user_id)).first()
        return self._row(r) if r else None

    def get_for_update(self, user_id: str) -> User | None:
        r = self.conn.execute(for_update(select(t.users).where(t.users.c.id == user_id), self.conn)).first()
        return self._row(r) if r else None

    def by_login_or_phone(self, login: str) -> User | None:
        c = t.users.c
        r = self.conn.execute(select(t.users).where(or_(c.login == login, c.phone == login))
                              .order_by(c.login == login).limit(1)).first()
        return self._row(r) if r else None

    def login_taken(self, login: str) -> bool:
        return self.conn.execute(select(t.users.c.id).where(t.users.c.login == login)).first() is not None

    def phone_taken(self, phone: str, except_user_id: str | None = None) -> bool:
        c = t.users.c
        conds = [c.phone == phone]
        if except_user_id:
            conds.append(c.id != except_user_id)
        return self.conn.execute(select(c.id).where(*conds)).first() is not None

    def save(self, user: User) -> None:
        values = self._values(user)
        values.pop("id")
        self.conn.execute(update(t.users).where(t.users.c.id == user.id).values(**values))

    def list(self, org_id: str, *, status: str | None, role: str | None, department_id: str | None,
             q: str | None, offset: int, limit: int) -> tuple[list[User], int]:
        c = t.users.c
        conds: list[Any] = [c.org_id == org_id]
        conds.append(c.status == status if status else c.status != "deleted")
        if role:
            conds.append(c.roles.like(tag_pattern(role)))
        if department_id:
            conds.append(c.department_id == department_id)
        if q:
            pat = f"%{_escape_like(q)}%"
            conds.append(or_(c.login.like(pat, escape="\\"), c.name.like(pat, escape="\\"),
                             c.phone.like(pat, escape="\\")))
        total = self.conn.execute(select(func.count()).select_from(t.users).where(*conds)).scalar_one()
        rows = self.conn.execute(select(t.users).where(*conds).order_by(c.created_at, c.id)
                                 .offset(offset).limit(limit))
        return [self._row(r) for r in rows], total

    def count_in_departments(self, department_ids: list[str]) -> int:
        c = t.users.c
        return self.conn.execute(select(func.count()).select_from(t.users).where(
            c.department_id.in_(department_ids))).scalar_one()


class SqlDepartments(DepartmentRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, dep: Department) -> None:
        self.conn.execute(insert(t.departments).values(id=dep.id, org_id=dep.org_id, name=dep.name,
                                                       parent_id=dep.parent_id, created_at=dep.created_at))

    def get(self, dep_id: str) -> Department | None:
        r = self.conn.execute(select(t.departments).where(t.departments.c.id == dep_id)).first()
        return Department(**r._mapping) if r else None

    def save(self, dep: Department) -> None:
        self.conn.execute(update(t.departments).where(t.departments.c.id == dep.id).values(
            name=dep.name, parent_id=dep.parent_id))

    def delete(self, dep_id: str) -> None:
        self.conn.execute(delete(t.departments).where(t.departments.c.id == dep_id))

    def list(self, org_id: str) -> list[Department]:
        rows = self.conn.execute(select(t.departments).where(t.departments.c.org_id == org_id)
                                 .order_by(t.departments.c.created_at, t.departments.c.id))
        return [Department(**r._mapping) for r in rows]


class SqlRelations(RelationRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, rel: OrgRelation) -> None:
        self.conn.execute(insert(t.org_relations).values(**rel.__dict__))

    def get(self, rel_id: str) -> OrgRelation | None:
        r = self.conn.execute(select(t.org_relations).where(t.org_relations.c.id == rel_id)).first()
        return OrgRelation(**r._mapping) if r else None

    def find(self, kind: str, from_org_id: str, to_org_id: str) -> OrgRelation | None:
        c = t.org_relations.c
        r = self.conn.execute(select(t.org_relations).where(
            c.kind == kind, c.from_org_id == from_org_id, c.to_org_id == to_org_id)).first()
        return OrgRelation(**r._mapping) if r else None

    def save(self, rel: OrgRelation) -> None:
        self.conn.execute(update(t.org_relations).where(t.org_relations.c.id == rel.id).values(
            status=rel.status, updated_at=rel.updated_at))

    def list(self, kind: str, *, from_org_id: str | None = None, to_org_id: str | None = None,
             status: str | None = None) -> list[OrgRelation]:
        c = t.org_relations.c
        conds = [c.kind == kind]
        if from_org_id:
            conds.append(c.from_org_id == from_org_id)
        if to_org_id:
            conds.append(c.to_org_id == to_org_id)
        if status:
            conds.append(c.status == status)
        rows = self.conn.execute(select(t.org_relations).where(*conds).order_by(c.created_at, c.id))
        return [OrgRelation(**r._mapping) for r in rows]


class SqlApiKeys(ApiKeyRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, key: ApiKey) -> None:
        self.conn.execute(insert(t.api_keys).values(**key.__dict__))

    def get(self, key_id: str) -> ApiKey | None:
        r = self.conn.execute(select(t.api_keys).where(t.api_keys.c.id == key_id)).first()
        return ApiKey(**r._mapping) if r else None

    def by_prefix(self, prefix: str) -> ApiKey | None:
        r = self.conn.execute(select(t.api_keys).where(t.api_keys.c.prefix == prefix)).first()
        return ApiKey(**r._mapping) if r else None

    def save(self, key: ApiKey) -> None:
        self.conn.execute(update(t.api_keys).where(t.api_keys.c.id == key.id).values(
            revoked_at=key.revoked_at, last_used_at=key.last_used_at, name=key.name))

    def list(self, org_id: str) -> list[ApiKey]:
        rows = self.conn.execute(select(t.api_keys).where(t.api_keys.c.org_id == org_id)
                                 .order_by(t.api_keys.c.created_at, t.api_keys.c.id))
        return [ApiKey(**r._mapping) for r in rows]

    def touch(self, key_id: str, now: datetime) -> bool:
        keys = t.api_keys.c
        return bool(self.conn.execute(update(t.api_keys).where(keys.id == key_id, keys.revoked_at.is_(None))
                                      .values(last_used_at=now)).rowcount)

    def revoked_count(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(t.api_keys)
                                     .where(t.api_keys.c.revoked_at.is_not(None))).scalar_one())


class SqlSmsChallenges(SmsChallengeRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, challenge: SmsChallenge) -> None:
        self.conn.execute(insert(t.sms_challenges).values(**challenge.__dict__))

    def get_for_update(self, challenge_id: str) -> SmsChallenge | None:
        stmt = select(t.sms_challenges).where(t.sms_challenges.c.id == challenge_id)
        r = self.conn.execute(for_update(stmt, self.conn)).first()
        return SmsChallenge(**r._mapping) if r else None

    def save(self, challenge: SmsChallenge) -> None:
        self.conn.execute(update(t.sms_challenges).where(t.sms_challenges.c.id == challenge.id).values(
            attempts=challenge.attempts, consumed_at=challenge.consumed_at))

    def count_sent(self, phone: str, since: datetime) -> int:
        c = t.sms_challenges.c
        return self.conn.execute(select(func.count()).select_from(t.sms_challenges).where(
            c.phone == phone, c.created_at > since)).scalar_one()


REPOSITORIES: dict[type, type] = {
    OrganizationRepository: SqlOrganizations,
    UserRepository: SqlUsers,
    DepartmentRepository: SqlDepartments,
    RelationRepository: SqlRelations,
    ApiKeyRepository: SqlApiKeys,
    SmsChallengeRepository: SqlSmsChallenges,
}
