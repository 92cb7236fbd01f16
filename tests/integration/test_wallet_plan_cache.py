"""The charge's entry statement keeps a generic plan on PostgreSQL (docs/adr/0004-request-path-costs.md).

psycopg prepares a statement after it ran five times on a connection; PostgreSQL then
still plans it afresh on every execution while it judges the generic plan dearer than
the custom ones. With ``wallets.org_id = ANY(%s)`` it did, and planning the CTE cost more
than running it. ``pg_prepared_statements`` (per session) counts both kinds of plans.
The three writes are checked: the one under the lock, the unlocked one (ADR 0010) and
the unlocked one for a batch of charges (ADR 0006 with ADR 0010).
"""
from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from application.shared.settings import Settings
from application.shared.uow import UnitOfWorkFactory
from application.wallet import RechargeService, WalletService
from application.wallet.services import EntryResult, _Charge
from tests.integration.test_wallet_concurrency import FINANCE, api_key_caller, make_org

pytestmark = pytest.mark.postgres
BULK = 50_000
STATEMENTS = {"locked": "WITH e AS (%INSERT INTO ledger_entries%",
              "unlocked": "WITH w AS (%UPDATE wallets%unique_key = $%",
              "unlocked_batch": "WITH w AS (%UPDATE wallets%unique_key = ANY(%"}


@pytest.fixture(params=list(STATEMENTS))
def write(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(settings: Settings, write: str) -> Settings:
    return dataclasses.replace(settings, wallet_unlocked_charges=write != "locked")


def test_single_wallet_charges_stop_being_planned_on_every_execution(container: Any, write: str) -> None:
    # a realistic table: on a small one any plan is cheap and the difference vanishes
    with container.get(UnitOfWorkFactory)() as uow:
        conn = uow.connection
        conn.execute(text("INSERT INTO organizations (id, name, kinds, require_sms_login, status, created_at) "
                          "SELECT 'org_bulk_' || g, 'Bulk ' || g, 'customer', false, 'active', now() "
                          "FROM generate_series(1, :n) g"), {"n": BULK})
        conn.execute(text("INSERT INTO wallets SELECT 'org_bulk_' || g, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, 0, "
                          "NULL, false, false, 0, now(), now() FROM generate_series(1, :n) g"), {"n": BULK})
        conn.execute(text("ANALYZE wallets"))
        uow.commit()
    org = make_org(container, "Planned Customer")
    container.get(RechargeService).recharge(FINANCE, org, Decimal("100.00"), "offline", "float")
    wallets, caller = container.get(WalletService), api_key_caller(org)
    for n in range(21):  # one thread: the pool hands back its one connection every time
        if write == "unlocked_batch":  # two charges the combiner queued together
            batch = [_Charge(org, Decimal("0.01"), f"plan-{n}-{k}", None, (), False, None, None) for k in range(2)]
            assert all(isinstance(r, EntryResult) for r in wallets._charge_batch(batch))
        else:
            wallets.charge(caller, org, Decimal("0.01"), f"plan-{n}")
    with container.get(UnitOfWorkFactory)() as uow:
        plans = uow.connection.execute(text(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE :shape"),
            {"shape": STATEMENTS[write]}).all()
    assert plans, "the entry statement was never prepared on this connection"
    generic, custom = max(plans)
    assert generic >= 10, (generic, custom)  # generic from the sixth/seventh execution on
    assert custom <= 7, (generic, custom)
