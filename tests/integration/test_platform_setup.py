"""The platform bootstrap (`agora admin create`, `agora demo`): one platform organisation,
whichever runs first, and the demo is idempotent."""
from __future__ import annotations

from typing import Any

import pytest

from application.platform import DemoData, PlatformSetup
from application.shared.access import Caller
from application.shared.uow import UnitOfWorkFactory
from application.wallet import WalletService
from domain.identity.ports import OrganizationRepository, RelationRepository, UserRepository


def platform_org_ids(container: Any) -> list[str]:
    with container.get(UnitOfWorkFactory)() as uow:
        found, total = uow.repo(OrganizationRepository).list(kind="platform", name=None, ids=None, offset=0,
                                                              limit=10)
    assert total == len(found)
    return [o.id for o in found]


def org_of(container: Any, login: str) -> str:
    with container.get(UnitOfWorkFactory)() as uow:
        user = uow.repo(UserRepository).by_login_or_phone(login)
    assert user is not None
    return str(user.org_id)


@pytest.mark.parametrize("admin_first", [True, False], ids=["admin-then-demo", "demo-then-admin"])
def test_there_is_one_platform_organisation_whichever_comes_first(container: Any, admin_first: bool) -> None:
    setup, demo = container.get(PlatformSetup), container.get(DemoData)
    if admin_first:
        setup.create_platform_admin("root", "Sup3rsecret")
    first = demo.load()
    if not admin_first:
        setup.create_platform_admin("root", "Sup3rsecret")
    platforms = platform_org_ids(container)
    assert len(platforms) == 1
    assert org_of(container, "root") == org_of(container, "demo-platform") == platforms[0]
    assert len({u["org_id"] for u in first["users"]}) == 6  # the other five are organisations of their own
    again = demo.load()
    assert [u["status"] for u in again["users"]] == ["exists"] * 6 and platform_org_ids(container) == platforms
    assert [u["org_id"] for u in again["users"]] == [org_of(container, u["login"]) for u in again["users"]]
    assert again["users"][0]["org_id"] == platforms[0]  # run again, it still says where each login is


def test_the_demo_funds_its_wallets_and_makes_the_merchant_the_agencys_principal(container: Any) -> None:
    first = container.get(DemoData).load()
    ids = {u["login"]: u["org_id"] for u in first["users"]}
    wallets = container.get(WalletService)
    admin = Caller(org_id=ids["demo-platform"], org_kinds=frozenset({"platform"}), roles=("platform_admin",),
                   user_id="usr_x")
    cash = {login: str(wallets.wallet(admin, ids[login]).figures.cash)
            for login in ("demo-customer", "demo-agency", "demo-merchant")}
    assert cash == {"demo-customer": "1000.00", "demo-agency": "300.00", "demo-merchant": "200.00"}
    assert first["funds"] == cash
    assert wallets.ledger_total() == 0
    with container.get(UnitOfWorkFactory)() as uow:
        relation = uow.repo(RelationRepository).find("agency_principal", ids["demo-agency"], ids["demo-merchant"])
    assert relation is not None and relation.status == "authorized"
    assert "funds" not in container.get(DemoData).load()  # run again: nothing is paid twice
    assert str(wallets.wallet(admin, ids["demo-customer"]).figures.cash) == "1000.00"


def test_a_demo_run_stopped_part_way_is_finished_by_the_next_without_paying_twice(
        container: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    demo = container.get(DemoData)

    def down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("database went away")

    with monkeypatch.context() as patched:
        patched.setattr(demo.wallets, "allocate", down)
        with pytest.raises(ConnectionError):
            demo.load()  # users and both recharges are in; the allocation is not
    again = container.get(DemoData).load()
    assert again["funds"] == {"demo-customer": "1000.00", "demo-agency": "300.00", "demo-merchant": "200.00"}
    assert [u["status"] for u in again["users"]] == ["exists"] * 6
    assert "funds" not in container.get(DemoData).load()
