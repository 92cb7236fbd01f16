"""Platform bootstrap: the first platform admin and the demo data set."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from injector import inject

from application.shared.audit import record
from application.shared.clock import Clock
from application.shared.uow import UnitOfWork, UnitOfWorkFactory
from domain.identity.errors import LoginTaken
from domain.identity.model import Organization, User, check_password_strength
from domain.identity.ports import OrganizationRepository, PasswordHasher, UserRepository
from domain.identity.roles import admin_roles_for

DEMO_PASSWORD = "Demo12345"  # noqa: S105 - printed by `agora demo`, for local trials only


class PlatformSetup:
    @inject
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, hasher: PasswordHasher) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.hasher = hasher

    def create_platform_admin(self, login: str, password: str, name: str = "Platform admin",
                              phone: str | None = None, org_name: str = "Agora Platform") -> User:
        check_password_strength(password, "password")
        now = self.clock.now()
        with self.uow_factory() as uow:
            orgs, users = uow.repo(OrganizationRepository), uow.repo(UserRepository)
            if users.login_taken(login):
                raise LoginTaken(f"login {login!r} already exists")
            org = self._the_platform(uow, orgs, org_name, now)
            user = User.create(org, login, name, phone, None, ["platform_admin"], self.hasher.hash(password), now,
                               must_change_password=False)
            users.add(user)
            uow.publish(*user.events)
            record(uow, None, "platform.admin_create", user.id, f"platform admin {login} created by CLI", now,
                   org_id=org.id)
            uow.commit()
        return user

    @staticmethod
    def _the_platform(uow: UnitOfWork, orgs: OrganizationRepository, name: str, now: datetime) -> Organization:
        """The platform organisation: there is one, made by whichever comes first of
        ``agora admin create`` and ``agora demo``."""
        found, _ = orgs.list(kind="platform", name=None, ids=None, offset=0, limit=1)
        if found:
            return found[0]
        org = Organization.create(name, ["platform"], now)
        orgs.add(org)
        uow.publish(*org.events)
        return org

    def load_demo(self) -> dict[str, Any]:
        """A platform, a vendor (also a provider), a provider, a customer, an agency and a merchant."""
        now = self.clock.now()
        spec = [
            ("Agora Platform", ["platform"], "demo-platform", ["platform_admin", "platform_finance"]),
            ("Cloud Vendor Ltd", ["vendor"], "demo-vendor", []),
            ("Fast Delivery Services", ["provider"], "demo-provider", []),
            ("Acme Enterprise", ["customer"], "demo-customer", []),
            ("Channel Agency", ["agency"], "demo-agency", []),
            ("Corner Shop", ["merchant"], "demo-merchant", []),
        ]
        created: dict[str, Any] = {"password": DEMO_PASSWORD, "users": []}
        with self.uow_factory() as uow:
            orgs, users = uow.repo(OrganizationRepository), uow.repo(UserRepository)
            for org_name, kinds, login, roles in spec:
                existing = users.by_login_or_phone(login)
                if existing is not None:
                    created["users"].append({"login": login, "org_id": existing.org_id, "org": org_name,
                                             "status": "exists"})
                    continue
                if kinds == ["platform"]:
                    org = self._the_platform(uow, orgs, org_name, now)
                else:
                    org = Organization.create(org_name, kinds, now)
                    orgs.add(org)
                    uow.publish(*org.events)
                user = User.create(org, login, f"{org_name} admin", None, None,
                                   list(dict.fromkeys([*admin_roles_for(org.kinds), *roles])),
                                   self.hasher.hash(DEMO_PASSWORD), now, must_change_password=False)
                users.add(user)
                uow.publish(*user.events)
                created["users"].append({"login": login, "org_id": org.id, "org": org.name})
            uow.commit()
        return created
