"""What a caller may see of a wallet's money (spec identity.md): every entrypoint that
shows an entry, a statement line or a refusal shows it through these.

- Only callers with ``wallet.view`` see a wallet's figures: an employee who may spend
  (a customer's buyer) sees neither the balances after its charge nor the figures in a
  refusal — it learns why, not how much.
- Only the platform sees a charge's payees and their amounts: they reveal a supplier's
  cost price and the platform's margin. A payee reading the entry sees what it received,
  not the sale price.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from application.shared.access import Caller
from application.wallet.services import EntryResult
from domain.shared.errors import DomainError
from domain.wallet.errors import InsufficientFunds
from domain.wallet.ledger import Breakdown
from domain.wallet.model import Figures

# the figures a refusal may carry that tell how much the wallet holds or spent
_FUND_FIGURES = frozenset({"available", "spendable", "daily_budget", "spent_today"})


@dataclasses.dataclass(frozen=True)
class ShownEntry:
    id: str
    type: str
    org_id: str
    amount: Decimal
    reference: str | None
    created_at: datetime
    breakdown: Breakdown
    balances_after: Figures | None
    payees: list[tuple[str, Decimal]]
    counterparty_org_id: str | None
    note: str
    details: dict[str, str]
    replayed: bool


def shown_details(caller: Caller, details: Mapping[str, str]) -> dict[str, str]:
    """An entry's or line's details; payee amounts only for the platform."""
    if caller.is_platform:
        return dict(details)
    return {k: v for k, v in details.items() if k != "payees"}


def shown_entry(caller: Caller, result: EntryResult) -> ShownEntry:
    entry, line = result.entry, result.line
    payees: list[tuple[str, Decimal]] = []
    if caller.is_platform and entry.detail.get("payees"):
        for item in entry.detail["payees"].split(","):
            payee, _, paid = item.rpartition(":")
            payees.append((payee, Decimal(paid)))
    # a wallet the entry only pays (a supplier paid from a charge) sees its own line's amount
    amount = entry.amount if line is None or line.org_id == entry.org_id or caller.is_platform else line.amount
    return ShownEntry(
        id=entry.id, type=entry.type, org_id=entry.org_id, amount=amount, reference=entry.reference,
        created_at=entry.created_at, breakdown=line.breakdown if line else entry.breakdown(),
        balances_after=line.after if line and caller.has("wallet.view") else None, payees=payees,
        counterparty_org_id=entry.counterparty_org_id, note=entry.note, details=shown_details(caller, entry.detail),
        replayed=result.replayed)


def shown_refusal(caller: Caller | None, exc: DomainError) -> tuple[str, dict[str, object]]:
    """The message and details of a refused spend (``insufficient_funds``,
    ``daily_budget_exceeded``) as ``caller`` may see them."""
    if caller is None or caller.has("wallet.view"):
        return exc.message, dict(exc.details)
    message = ("the wallet cannot pay this amount" if isinstance(exc, InsufficientFunds)
               else "this would exceed the wallet's daily budget")
    return message, {k: v for k, v in exc.details.items() if k not in _FUND_FIGURES}
