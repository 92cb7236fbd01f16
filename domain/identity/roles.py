"""Platform-defined roles and what they may do (spec identity.md).

Organisations assign roles; they never invent them. A permission is a dotted
string; a role grants a set. Other modules ask ``has_permission`` rather than
checking role names, so a new role is one line here.

Wallet permissions (docs/adr/0009-wallet-permissions.md): ``wallet.recharge`` and
``wallet.withdraw`` move money into and out of the platform and belong to the owner
(identity.md: "owner recharges and withdraws"); ``wallet.manage`` runs the wallet day to
day (charges and holds through the API, daily budgets, alert thresholds, withholding
agreements) and is also given to a finance user; ``wallet.view`` sees the figures.
"""
from __future__ import annotations

import dataclasses

ORG_KINDS = ("platform", "vendor", "provider", "customer", "supplier", "agency",
             "merchant", "partner_merchant")


@dataclasses.dataclass(frozen=True)
class Role:
    name: str
    org_kinds: frozenset[str]
    permissions: frozenset[str]
    description: str


_ID_ADMIN = {"identity.users.manage", "identity.departments.manage", "identity.api_keys.manage",
             "identity.org.manage", "identity.audit.view"}

_ROLES = [
    Role("platform_admin", frozenset({"platform"}),
         frozenset(_ID_ADMIN | {"platform.admin", "platform.orgs.manage", "platform.relations.manage",
                                "wallet.credit.manage", "wallet.deposit.manage", "wallet.view",
                                "wallet.coupons.grant", "workflow.templates.review",
                                "settlement.review"}),
         "everything on the platform side"),
    Role("platform_finance", frozenset({"platform"}),
         frozenset({"wallet.offline_recharge", "wallet.view", "settlement.pay", "identity.audit.view"}),
         "offline recharge and its revoke, settlement payment"),
    Role("vendor_admin", frozenset({"vendor"}),
         frozenset(_ID_ADMIN | {"catalog.manage", "workflow.templates.manage", "dispatch.providers.manage",
                                "workflow.projects.view_all", "workflow.projects.manage",
                                "workflow.calendar.manage", "dashboard.view"}),
         "products, templates, providers and weights, all projects of its products"),
    Role("vendor_project_manager", frozenset({"vendor"}),
         frozenset({"catalog.view", "workflow.projects.view_all", "workflow.projects.manage", "dashboard.view"}),
         "view products/providers, manage projects, dashboards"),
    Role("provider_admin", frozenset({"provider", "vendor"}),
         frozenset(_ID_ADMIN | {"dispatch.capacity.manage", "workflow.projects.view_provider",
                                "dispatch.reassign", "dispatch.queue.manage"}),
         "users, departments, capacities, all projects of the provider, reassign operators"),
    *[Role(r, frozenset({"provider", "vendor"}), frozenset({"workflow.nodes.work"}),
           "works the workflow nodes assigned to its role")
      for r in ("designer", "engineer", "service_staff", "project_manager")],
    Role("account_manager", frozenset({"provider", "vendor"}),
         frozenset({"workflow.nodes.work", "dispatch.claim"}), "claims orders for its department"),
    Role("agency_owner", frozenset({"agency"}),
         frozenset(_ID_ADMIN | {"wallet.view", "wallet.recharge", "wallet.withdraw", "wallet.manage",
                                "wallet.allocate",
                                "wallet.deposit.pay", "agency.principals.manage", "agency.principals.operate",
                                "agency.performance.view", "leads.view_all", "leads.assign"}),
         "everything, including recharge, withdrawal, deposits, performance"),
    Role("agency_admin", frozenset({"agency"}),
         frozenset({"identity.users.manage_employees", "identity.departments.manage", "wallet.view",
                    "wallet.allocate", "agency.principals.manage", "agency.principals.operate",
                    "identity.audit.view"}),
         "allocate and view funds, manage employees and principals"),
    Role("agency_employee", frozenset({"agency"}), frozenset({"agency.principals.operate"}),
         "operate all principals; no funds"),
    Role("agency_dedicated_employee", frozenset({"agency"}), frozenset({"agency.principals.operate_bound"}),
         "operate and see only principals bound to them; no funds"),
    Role("lead_admin", frozenset({"agency"}), frozenset({"leads.view_all", "leads.assign"}),
         "see and assign all leads"),
    Role("sales", frozenset({"agency", "vendor", "provider", "supplier", "customer"}),
         frozenset({"leads.view_own", "leads.invite"}), "own customers and leads, invitation codes"),
    Role("finance", frozenset({"customer", "supplier", "agency"}),
         frozenset({"wallet.view", "wallet.manage", "wallet.recharge_customers"}),
         "recharge customers; runs the organisation's wallet (budgets, thresholds, agreements, API"
         " charges) but neither recharges nor withdraws it: the owner does"),
    Role("operations", frozenset({"customer", "supplier", "agency"}), frozenset({"catalog.manage"}),
         "manage catalogue and prices"),
    Role("support", frozenset({"customer", "supplier", "agency", "vendor", "provider", "platform"}),
         frozenset({"tickets.answer"}), "answer tickets"),
    Role("customer_admin", frozenset({"customer"}),
         frozenset(_ID_ADMIN | {"wallet.view", "wallet.recharge", "wallet.withdraw", "wallet.manage",
                                "wallet.deposit.pay",
                                "trade.buy", "tickets.raise", "workflow.requirements.submit"}),
         "buy, pay, tickets, requirements, confirmations; manage the organisation"),
    Role("customer_user", frozenset({"customer"}),
         frozenset({"trade.buy", "tickets.raise", "workflow.requirements.submit"}),
         "buy, tickets, requirements, confirmations"),
    Role("supplier_admin", frozenset({"supplier"}),
         frozenset(_ID_ADMIN | {"catalog.manage", "wallet.view", "settlement.view", "tickets.answer"}),
         "goods, subscriptions, fulfilment and statements of a supplier"),
    Role("merchant_admin", frozenset({"merchant", "partner_merchant"}),
         frozenset(_ID_ADMIN | {"wallet.view", "wallet.recharge", "wallet.withdraw", "wallet.manage",
                                "wallet.deposit.pay", "points.vouchers.verify",
                                "settlement.view"}),
         "verify vouchers, view settlements, manage the organisation"),
    Role("merchant_clerk", frozenset({"merchant", "partner_merchant"}),
         frozenset({"points.vouchers.verify"}), "verify vouchers"),
]

ROLES: dict[str, Role] = {r.name: r for r in _ROLES}

# the role the first user of an organisation gets, by the organisation's main kind
ADMIN_ROLE_BY_KIND = {
    "platform": "platform_admin",
    "vendor": "vendor_admin",
    "provider": "provider_admin",
    "customer": "customer_admin",
    "supplier": "supplier_admin",
    "agency": "agency_owner",
    "merchant": "merchant_admin",
    "partner_merchant": "merchant_admin",
}


def permissions_of(roles: list[str] | tuple[str, ...] | frozenset[str]) -> frozenset[str]:
    perms: set[str] = set()
    for name in roles:
        role = ROLES.get(name)
        if role is not None:
            perms |= role.permissions
    return frozenset(perms)


def admin_roles_for(kinds: frozenset[str] | set[str] | list[str]) -> list[str]:
    """Admin roles the first user of an organisation with these kinds receives."""
    out: list[str] = []
    for kind in ORG_KINDS:
        if kind in kinds:
            role = ADMIN_ROLE_BY_KIND[kind]
            if role not in out:
                out.append(role)
    if "vendor" in kinds and "provider_admin" not in out:
        out.append("provider_admin")
    return out
