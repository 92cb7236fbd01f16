"""Outbox handlers of the wallet module (run by the relay job, never in a request)."""
from __future__ import annotations

from typing import Any

from injector import inject

from application.notifications import UserNotifier
from application.shared.uow import UnitOfWork
from domain.identity.model import User
from domain.identity.ports import OrganizationRepository, RelationRepository, UserRepository
from domain.identity.roles import permissions_of
from domain.wallet.purpose import is_external, org_of

PAGE = 200


def users_with(uow: UnitOfWork, org_id: str, permission: str) -> list[User]:
    """Active users of an organisation whose roles grant ``permission``."""
    out: list[User] = []
    offset = 0
    while True:
        users, total = uow.repo(UserRepository).list(org_id, status="active", role=None, department_id=None,
                                                     q=None, offset=offset, limit=PAGE)
        out += [u for u in users if permission in permissions_of(u.roles)]
        offset += PAGE
        if offset >= total or not users:
            return out


class LowBalanceNotifier:
    """``WalletLowBalance``: tell the people who see the wallet's funds (in-site and SMS),
    and in-site the admins of the agencies that fund the organisation (seed 002: an agency
    hears about its clients' accounts; it allocates the money that tops them up)."""

    @inject
    def __init__(self, notifier: UserNotifier) -> None:
        self.notifier = notifier

    def handle(self, payload: dict[str, Any], message_id: str, *, uow: UnitOfWork) -> None:
        which = "external wallet" if is_external(payload["org_id"]) else "wallet"
        title = f"{which.capitalize()} balance is low"
        body = (f"The available balance of your {which} {payload['available']} CNY is below your alert threshold "
                f"{payload['threshold']} CNY. Recharge to keep orders running.")
        org_id = org_of(payload["org_id"])
        # the agencies first (in-site only): a failing SMS gateway below must not keep them uninformed
        agencies = uow.repo(RelationRepository).list("agency_principal", to_org_id=org_id, status="authorized")
        if agencies:
            org = uow.repo(OrganizationRepository).get(org_id)
            name = org.name if org else org_id
            agency_body = (f"The available balance of {name}'s {which} {payload['available']} CNY is below its "
                           f"alert threshold {payload['threshold']} CNY. Allocate funds to keep its orders running.")
            for rel in agencies:
                for user in users_with(uow, rel.from_org_id, "wallet.allocate"):
                    self.notifier.notify_user(uow, user.id, f"{name}: {which} balance is low", agency_body,
                                              message_id, channels=("inbox",))
        for user in users_with(uow, org_id, "wallet.view"):
            self.notifier.notify_user(uow, user.id, title, body, message_id, channels=("inbox", "sms"),
                                      sms_template="wallet_low_balance",
                                      sms_params={"available": payload["available"],
                                                  "threshold": payload["threshold"]})


class RechargeFlagNotifier:
    """``RechargeFlagged``: platform finance must look at a recharge (e.g. amount mismatch)."""

    @inject
    def __init__(self, notifier: UserNotifier) -> None:
        self.notifier = notifier

    def handle(self, payload: dict[str, Any], message_id: str, *, uow: UnitOfWork) -> None:
        platforms, _ = uow.repo(OrganizationRepository).list(kind="platform", name=None, ids=None, offset=0,
                                                             limit=1)
        if not platforms:
            return
        title = f"Recharge {payload['recharge_id']} needs a look"
        body = f"{payload['channel']} recharge {payload['recharge_id']} of {payload['org_id']}: {payload['reason']}"
        for user in users_with(uow, platforms[0].id, "wallet.offline_recharge"):
            self.notifier.notify_user(uow, user.id, title, body, message_id, channels=("inbox",))
