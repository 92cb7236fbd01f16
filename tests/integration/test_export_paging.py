"""A statement export pages by keyset (each page after the last line of the one before,
newest first): a wallet charged while it is exported neither repeats nor skips a line at a
page's edge, and no snapshot is held for the export's run. PostgreSQL only: on SQLite the
export's BEGIN IMMEDIATE keeps the charge out until it ends (the charge below would wait
for its own thread). With OFFSET pages the charge's line pushed a line of the first page
into the second: this test saw it twice."""
from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest

import application.wallet.exports as wallet_exports
from adapters.postgres.wallet_overview_repos import SqlAgencyStatements
from application.exports import ExportService
from application.exports.services import ExportStore
from application.wallet import RechargeService, WalletService
from tests.integration.test_wallet_concurrency import FINANCE, api_key_caller, make_org

pytestmark = pytest.mark.postgres


def test_a_charge_landing_between_two_pages_of_an_export_changes_nothing_in_it(
        container: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    org = make_org(container, "Exported")
    wallets = container.get(WalletService)
    container.get(RechargeService).recharge(FINANCE, org, Decimal("100.00"), "offline", "slip 1")
    for n in range(4):
        wallets.charge(api_key_caller(org), org, Decimal("1.00"), f"before-{n}")
    monkeypatch.setattr(wallet_exports, "PAGE", 2)  # 5 lines: pages of 2, 2 and 1
    landed: list[str] = []
    pages = SqlAgencyStatements.lines_after

    def lines_then_charge(self: SqlAgencyStatements, *args: Any) -> Any:
        page = pages(self, *args)
        if not landed:  # after the first page, another connection commits a charge
            landed.append(wallets.charge(api_key_caller(org), org, Decimal("2.00"), "meanwhile").entry.id)
        return page

    monkeypatch.setattr(SqlAgencyStatements, "lines_after", lines_then_charge)
    exports = container.get(ExportService)
    job = exports.get(api_key_caller(org), exports.request(api_key_caller(org), "wallet_entries", org, "csv", {}).id)
    assert landed and job.status == "done", job.error
    data = container.get(ExportStore).read(job.file_name)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["reference"] for r in rows[:4]] == ["before-3", "before-2", "before-1", "before-0"]
    assert rows[4]["type"] == "recharge"
    assert len({r["entry_id"] for r in rows}) == 5
