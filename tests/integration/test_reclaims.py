"""Reclaims through the wallet service, with the ledger the adapters really write (ADR
0011): each agency takes back only its own unspent share — after another agency's
reclaim, after a spend across two agencies, after a deposit paid and refunded — and an
external wallet's allocation is matched on its own key. Runs on SQLite and PostgreSQL.
(These were a second review's reproductions of the first version's defects.)"""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import pytest

from application.shared.access import Caller
from application.shared.uow import UnitOfWorkFactory
from application.wallet import RechargeService, WalletService
from domain.identity.model import Organization, OrgRelation
from domain.identity.ports import OrganizationRepository, RelationRepository
from domain.wallet.errors import ReclaimExceedsAllocated

FINANCE = Caller(org_id="org_platform", org_kinds=frozenset({"platform"}), roles=("platform_finance",),
                 user_id="usr_finance")
ADMIN = Caller(org_id="org_platform", org_kinds=frozenset({"platform"}), roles=("platform_admin",),
               user_id="usr_admin")


def org(container: Any, name: str, kinds: list[str]) -> str:
    o = Organization.create(name, kinds, datetime.now(UTC))
    with container.get(UnitOfWorkFactory)() as uow:
        uow.repo(OrganizationRepository).add(o)
        uow.commit()
    return o.id


def relate(container: Any, agency: str, principal: str) -> None:
    now = datetime.now(UTC)
    with container.get(UnitOfWorkFactory)() as uow:
        uow.repo(RelationRepository).add(OrgRelation("rel_" + agency[-8:] + principal[-8:], "agency_principal",
                                                     agency, principal, "authorized", now, now))
        uow.commit()


def agency_caller(a: str) -> Caller:
    return Caller(org_id=a, org_kinds=frozenset({"agency"}), roles=("agency_owner",), user_id="usr_" + a[-6:])


def owner(p: str) -> Caller:
    return Caller(org_id=p, org_kinds=frozenset({"merchant", "customer"}), roles=("customer_admin",),
                  user_id="usr_p")


def principal_of(container: Any, *allocations: str) -> tuple[WalletService, str, list[str]]:
    """A merchant and one related agency per amount (funded with 100.00), each allocating
    its amount to the merchant in that order; amounts of "0" allocate nothing."""
    w, rch = container.get(WalletService), container.get(RechargeService)
    p = org(container, "Merchant P", ["merchant", "customer"])
    agencies = []
    for i, amount in enumerate(allocations):
        a = org(container, f"Agency {'AB'[i]}", ["agency"])
        relate(container, a, p)
        rch.recharge(FINANCE, a, D("100.00"), "offline", "prepaid")
        if D(amount):
            w.allocate(agency_caller(a), a, p, D(amount))
        agencies.append(a)
    return w, p, agencies


def test_another_agencys_reclaim_leaves_this_agencys_share(container: Any) -> None:
    w, p, (a, b) = principal_of(container, "50.00", "50.00")
    w.reclaim(agency_caller(b), b, p, D("50.00"))  # B takes its own 50 back
    assert w.wallet(ADMIN, p).figures.cash == D("50.00")  # every cent left is A's allocation
    assert w.reclaim(agency_caller(a), a, p, D("50.00")).entry.amount == D("50.00")  # A's 50, never spent
    assert w.wallet(ADMIN, p).figures.cash == D("0.00")


def test_a_deposit_paid_with_allocated_money_and_refunded_is_the_agencys_again(container: Any) -> None:
    w, p, (a,) = principal_of(container, "100.00")
    w.set_deposit_due(ADMIN, p, D("100.00"))
    w.pay_deposit(owner(p), p, D("100.00"))  # paid with A's money (spent first)
    w.refund_deposit(ADMIN, p, D("100.00"))  # and it goes back to A's share
    assert w.wallet(ADMIN, p).figures.cash == D("100.00")  # the principal never paid anything in
    assert w.reclaim(agency_caller(a), a, p, D("100.00")).entry.amount == D("100.00")


def test_an_external_wallet_reclaim_matches_its_own_key(container: Any) -> None:
    w, p, (a,) = principal_of(container, "0")
    rch = container.get(RechargeService)
    rch.recharge(FINANCE, a + "~external", D("100.00"), "offline", "prepaid")
    w.allocate(agency_caller(a), a + "~external", p, D("40.00"))
    r = w.reclaim(agency_caller(a), a + "~external", p + "~external", D("40.00"))
    assert r.entry.amount == D("40.00")
    w.allocate(agency_caller(a), a + "~external", p, D("10.00"))
    r = w.reclaim(agency_caller(a), a + "~external", p, D("10.00"))
    assert r.entry.amount == D("10.00")
    with pytest.raises(ReclaimExceedsAllocated):  # nothing of A's is left on P's external wallet
        w.reclaim(agency_caller(a), a + "~external", p, D("0.01"))


def test_a_spend_across_two_agencies_takes_the_first_agencys_share_first(container: Any) -> None:
    w, p, (a, b) = principal_of(container, "50.00", "50.00")
    w.charge(owner(p), p, D("50.00"), "order-1")  # spends 50 of the 100 allocated
    assert w.wallet(ADMIN, p).figures.cash == D("50.00")  # 50 of agency money left, none of P's own
    with pytest.raises(ReclaimExceedsAllocated) as spent:  # A allocated first: its 50 was spent
        w.reclaim(agency_caller(a), a, p, D("0.01"))
    assert spent.value.details == {"allocated_net": "50.00", "reclaimable": "0.00"}
    assert w.reclaim(agency_caller(b), b, p, D("50.00")).entry.amount == D("50.00")  # B's 50 is all there
