"""Wallet jobs: coupon and hold expiry, payment reconciliation, low-balance sweep."""
from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import injector

from application.wallet import RechargeService, WalletService
from entrypoints.jobs import periodic


@periodic("wallet.expire_coupons", every_seconds=60)
def expire_coupons(container: injector.Injector, limit: int = 500) -> int:
    """What is left of a coupon lapses at its expiry: one entry per lapse."""
    return container.get(WalletService).expire_coupons(limit)


@periodic("wallet.expire_holds", every_seconds=60)
def expire_holds(container: injector.Injector, limit: int = 500) -> int:
    """A hold not captured by its expiry is released."""
    return container.get(WalletService).expire_holds(limit)


@periodic("wallet.reconcile_payments", every_seconds=300)
def reconcile_payments(container: injector.Injector, older_than_minutes: int = 10, limit: int = 200
                       ) -> dict[str, Any]:
    """Ask the gateway about recharges pending for more than N minutes (lost notifications)
    and retry refunds still pending."""
    report = container.get(RechargeService).reconcile(timedelta(minutes=older_than_minutes), limit)
    return dataclasses.asdict(report)


@periodic("wallet.low_balance_sweep", every_seconds=600)
def low_balance_sweep(container: injector.Injector) -> int:
    """Re-evaluate alert thresholds: coupons expiring lower ``available`` without an entry."""
    return container.get(WalletService).sweep_low_balance()
