"""Wallet module: double-entry ledger, recharge, holds, charges, coupons, credit, deposits.

Other modules charge through ``WalletService`` (``caller=None`` for in-process calls)
and react to its events (``WalletCharged``, ``RechargeCredited``, ``WalletLowBalance``).
"""
from application.shared.outbox import HandlerRegistry
from application.wallet.agency_statements import AgencyStatementService
from application.wallet.handlers import LowBalanceNotifier, RechargeFlagNotifier
from application.wallet.overview import AgencyOverviewService
from application.wallet.recharges import (
    BadNotification,
    GatewayUnavailable,
    NotificationResult,
    RechargeResult,
    RechargeService,
    ReconcileReport,
)
from application.wallet.services import EntryResult, HoldResult, WalletService, WalletView


def subscribe(registry: HandlerRegistry) -> None:
    """Event handlers of this module, registered by the composition root."""
    registry.subscribe("WalletLowBalance", "wallet.notify_low_balance", LowBalanceNotifier)
    registry.subscribe("RechargeFlagged", "wallet.notify_recharge_flagged", RechargeFlagNotifier)


__all__ = ["AgencyOverviewService", "AgencyStatementService", "BadNotification", "EntryResult", "GatewayUnavailable",
           "HoldResult", "LowBalanceNotifier", "NotificationResult", "RechargeFlagNotifier", "RechargeResult",
           "RechargeService", "ReconcileReport", "WalletService", "WalletView", "subscribe"]
