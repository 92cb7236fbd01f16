"""Wallet events (integration events go through the outbox after commit)."""
from __future__ import annotations

import dataclasses
from decimal import Decimal

from domain.shared.events import DomainEvent


@dataclasses.dataclass(frozen=True, kw_only=True)
class WalletLowBalance(DomainEvent):
    """``available`` crossed the wallet's threshold downward (once until re-armed)."""

    org_id: str
    available: Decimal
    threshold: Decimal


@dataclasses.dataclass(frozen=True, kw_only=True)
class RechargeCredited(DomainEvent):
    org_id: str
    recharge_id: str
    channel: str
    amount: Decimal
    entry_id: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class RechargeFlagged(DomainEvent):
    """A notification or query disagreed with the recharge (e.g. amount): finance must look."""

    org_id: str
    recharge_id: str
    channel: str
    reason: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class WalletCharged(DomainEvent):
    org_id: str
    entry_id: str
    reference: str
    amount: Decimal


@dataclasses.dataclass(frozen=True, kw_only=True)
class WithdrawalSettled(DomainEvent):
    org_id: str
    withdrawal_id: str
    status: str  # succeeded | failed
    amount: Decimal
