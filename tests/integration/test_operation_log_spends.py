"""A person's charge writes its operation-log row in its own transaction (identity.md; ADR
0010's addendum), on every path: on PostgreSQL's unlocked statement such a charge is not
*solo* (autocommit) but commits with its row, and a combined batch logs each entry it
writes — a repeat or a refusal logs nothing."""
from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

import adapters.postgres.shared_repos as shared
import adapters.postgres.wallet_repos as repos
from application.shared.access import Caller
from application.shared.settings import Settings
from application.shared.uow import UnitOfWorkFactory
from application.wallet import RechargeService, WalletService
from application.wallet.services import _Charge
from domain.wallet.errors import InsufficientFunds
from tests.integration.test_wallet_concurrency import FINANCE, api_key_caller, make_org

pytestmark = pytest.mark.postgres


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, wallet_charge_batch=1)  # each charge on its own unless batched by hand


def person(org: str) -> Caller:
    return Caller(org_id=org, org_kinds=frozenset({"customer"}), roles=("customer_admin",), user_id="usr_person")


def logged(container: Any, org: str) -> list[tuple[str, Any]]:
    with container.get(UnitOfWorkFactory)() as uow:
        return [(r.target, r.at) for r in uow.connection.execute(text(  # type: ignore[attr-defined]
            "SELECT target, at FROM audit_log WHERE org_id = :o AND operation = 'wallet.charge'"), {"o": org})]


def charges(container: Any, org: str) -> dict[str, tuple[str, Any]]:
    with container.get(UnitOfWorkFactory)() as uow:
        return {r.reference: (r.id, r.created_at) for r in uow.connection.execute(text(  # type: ignore[attr-defined]
            "SELECT id, reference, created_at FROM ledger_entries WHERE org_id = :o AND type = 'charge'"), {"o": org})}


def funded(container: Any) -> str:
    org = make_org(container, "Logged")
    container.get(RechargeService).recharge(FINANCE, org, Decimal("100.00"), "offline", "prepaid")
    return org


def test_a_persons_unlocked_charge_commits_with_its_log_row_or_not_at_all(
        container: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    org = funded(container)
    wallets = container.get(WalletService)
    wallets.charge(api_key_caller(org), org, Decimal("1.00"), "today")  # today's spend counted: plain from now on
    statements: list[bool] = []  # each unlocked statement: did it write?
    add_unlocked = repos.SqlLedger.add_unlocked

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        landed = add_unlocked(self, *args, **kwargs)
        statements.append(landed is not None)
        return landed

    monkeypatch.setattr(repos.SqlLedger, "add_unlocked", counted)

    def refused(self: Any, record: Any) -> None:
        raise RuntimeError("the operation log is down")

    with monkeypatch.context() as down:
        down.setattr(shared.SqlAuditLog, "add", refused)
        with pytest.raises(RuntimeError, match="operation log"):
            wallets.charge(person(org), org, Decimal("1.00"), "p-1")
    assert statements == [True]  # the unlocked statement wrote the charge ...
    assert "p-1" not in charges(container, org)  # ... and it was rolled back with the log row
    assert logged(container, org) == []

    landed = wallets.charge(person(org), org, Decimal("1.00"), "p-1")
    assert statements == [True, True]
    assert wallets.charge(person(org), org, Decimal("1.00"), "p-1").replayed  # a repeat logs nothing
    assert logged(container, org) == [(landed.entry.id, charges(container, org)["p-1"][1])]  # dated as it landed
    wallets.charge(api_key_caller(org), org, Decimal("1.00"), "by-key")  # an API key's: its entry records it
    assert [t for t, _ in logged(container, org)] == [landed.entry.id]


def test_a_combined_batch_logs_each_entry_it_writes_once(container: Any) -> None:
    org = funded(container)
    wallets = container.get(WalletService)

    def request(reference: str, amount: str = "1.00") -> _Charge:
        return _Charge(org, Decimal(amount), reference, None, (), False, "usr_person", None, (), person(org))

    out = wallets._charge_batch([request("b-1"), request("b-2"), request("b-1"), request("b-3", "1000.00"),
                                 request("b-4")])
    assert isinstance(out[3], InsufficientFunds) and out[2].replayed  # type: ignore[union-attr]
    written = charges(container, org)
    assert sorted(t for t, _ in logged(container, org)) == sorted(written[r][0] for r in ("b-1", "b-2", "b-4"))
    wallets._charge_batch([request("b-1"), request("b-2")])  # repeats only
    assert len(logged(container, org)) == 3
