"""Platform bootstrap: the first platform admin and the demo data set."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from injector import inject

from application.shared.access import Caller
from application.shared.audit import record
from application.shared.clock import Clock
from application.shared.paging import PageRequest
from application.shared.uow import UnitOfWork, UnitOfWorkFactory
from application.wallet import RechargeService, WalletService
from domain.identity.errors import LoginTaken
from domain.identity.model import Organization, OrgRelation, User, check_password_strength
from domain.identity.ports import OrganizationRepository, PasswordHasher, RelationRepository, UserRepository
from domain.identity.roles import admin_roles_for
from domain.wallet.ports import LineFilter

DEMO_PASSWORD = "Demo12345"  # noqa: S105 - printed by `agora demo`, for local trials only


class PlatformSetup:
    """``agora admin create``: needs nothing but the database (no payment gateway, so it
    works before the gateways' keys are in place)."""

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
            org = self.the_platform(uow, orgs, org_name, now)
            user = User.create(org, login, name, phone, None, ["platform_admin"], self.hasher.hash(password), now,
                               must_change_password=False)
            users.add(user)
            uow.publish(*user.events)
            record(uow, None, "platform.admin_create", user.id, f"platform admin {login} created by CLI", now,
                   org_id=org.id)
            uow.commit()
        return user

    @staticmethod
    def the_platform(uow: UnitOfWork, orgs: OrganizationRepository, name: str, now: datetime) -> Organization:
        """The platform organisation: there is one, made by whichever comes first of
        ``agora admin create`` and ``agora demo``."""
        found, _ = orgs.list(kind="platform", name=None, ids=None, offset=0, limit=1)
        if found:
            return found[0]
        org = Organization.create(name, ["platform"], now)
        orgs.add(org)
        uow.publish(*org.events)
        return org


class DemoData:
    """``agora demo``: the demo organisations and users, and their opening funds."""

    @inject
    def __init__(self, setup: PlatformSetup, recharges: RechargeService, wallets: WalletService) -> None:
        self.setup = setup
        self.recharges = recharges
        self.wallets = wallets

    def load(self) -> dict[str, Any]:
        """A platform, a vendor (also a provider), a provider, a customer, an agency and a
        merchant, with users; the merchant is the agency's authorised principal, and the
        wallets are funded once (the customer's and the agency's by offline recharge, the
        merchant's by the agency's allocation) so the wallet and agency pages show something."""
        now = self.setup.clock.now()
        spec = [
            ("Agora Platform", ["platform"], "demo-platform", ["platform_admin", "platform_finance"]),
            ("Cloud Vendor Ltd", ["vendor"], "demo-vendor", []),
            ("Fast Delivery Services", ["provider"], "demo-provider", []),
            ("Acme Enterprise", ["customer"], "demo-customer", []),
            ("Channel Agency", ["agency"], "demo-agency", []),
            ("Corner Shop", ["merchant"], "demo-merchant", []),
        ]
        created: dict[str, Any] = {"password": DEMO_PASSWORD, "users": []}
        made: dict[str, tuple[Organization, User]] = {}
        with self.setup.uow_factory() as uow:
            orgs, users = uow.repo(OrganizationRepository), uow.repo(UserRepository)
            for org_name, kinds, login, roles in spec:
                existing = users.by_login_or_phone(login)
                if existing is not None:
                    created["users"].append({"login": login, "org_id": existing.org_id, "org": org_name,
                                             "status": "exists"})
                    org_of = orgs.get(existing.org_id)
                    if org_of is not None:
                        made[login] = (org_of, existing)
                    continue
                if kinds == ["platform"]:
                    org = self.setup.the_platform(uow, orgs, org_name, now)
                else:
                    org = Organization.create(org_name, kinds, now)
                    orgs.add(org)
                    uow.publish(*org.events)
                user = User.create(org, login, f"{org_name} admin", None, None,
                                   list(dict.fromkeys([*admin_roles_for(org.kinds), *roles])),
                                   self.setup.hasher.hash(DEMO_PASSWORD), now, must_change_password=False)
                users.add(user)
                uow.publish(*user.events)
                made[login] = (org, user)
                created["users"].append({"login": login, "org_id": org.id, "org": org.name})
            if "demo-agency" in made and "demo-merchant" in made and uow.repo(RelationRepository).find(
                    "agency_principal", made["demo-agency"][0].id, made["demo-merchant"][0].id) is None:
                relation = OrgRelation.invite_principal(made["demo-agency"][0], made["demo-merchant"][0], now)
                relation.accept(now)
                uow.repo(RelationRepository).add(relation)
            uow.commit()
        if {"demo-platform", "demo-customer", "demo-agency", "demo-merchant"} <= made.keys():
            funds = self._fund_demo(made)
            if funds:
                created["funds"] = funds
        return created

    def _fund_demo(self, made: dict[str, tuple[Organization, User]]) -> dict[str, str]:
        """Each funding step runs unless its entry is there, so a run that stopped part-way
        is finished by the next one and nothing is paid twice. Returns the wallets' cash
        when this run paid anything."""
        def caller(login: str, role: str) -> Caller:
            org, user = made[login]
            return Caller(org_id=org.id, org_kinds=org.kinds, roles=(role,), user_id=user.id)

        def done(org_id: str, entry_type: str) -> bool:
            lines = self.wallets.entries(finance, org_id, PageRequest(per_page=1), LineFilter(type=entry_type))
            return bool(lines.items)

        finance = caller("demo-platform", "platform_finance")
        customer, agency, merchant = (made[k][0].id for k in ("demo-customer", "demo-agency", "demo-merchant"))
        paid = False
        for org_id, amount in ((customer, "1000.00"), (agency, "500.00")):
            if not done(org_id, "recharge"):
                self.recharges.recharge(finance, org_id, Decimal(amount), "offline", "demo: opening balance")
                paid = True
        if not done(merchant, "allocation"):
            self.wallets.allocate(caller("demo-agency", "agency_owner"), agency, merchant, Decimal("200.00"),
                                  "demo: first allocation")
            paid = True
        if not paid:
            return {}
        return {login: str(self.wallets.wallet(finance, made[login][0].id).figures.cash)
                for login in ("demo-customer", "demo-agency", "demo-merchant")}
