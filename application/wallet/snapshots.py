"""Wallets a process read recently, to decide plain charges without reading them again
(ADR 0010, addendum of 2026-12-02).

A plain charge is decided on an unlocked read and written by one statement that applies it
only if the live row still meets the decision's terms (``Wallet.unlocked_charge_terms``).
The terms are sufficient conditions on *any* wallet that meets them, whatever cash and
spend other charges left (tests/unit/wallet/test_unlocked_charge_terms.py), so a decision
taken on an older copy of the row is exactly as safe as one on a fresh read: if another
process changed a figure the terms rely on, the statement matches no row and the lock path
decides on the newest figures. A remembered copy only saves the read's round trip.

A copy is kept for ``seconds`` (``AGORA_WALLET_SNAPSHOT_SECONDS``; 0 turns this off) and
forgotten whenever ``WalletService`` changes the wallet under its lock (``_run``) — which
is what follows every charge decided on it that did not land — so a stale copy costs one
declined statement, once. Forgetting is best effort (a read racing a change may be
remembered after it; a copy's age counts from when it was remembered): it only decides how
often a statement is declined, never an answer. Wallets with coupons are never remembered
(their charges are not plain).
"""
from __future__ import annotations

import copy
import time
from collections.abc import Callable

from domain.wallet.model import Wallet

DEFAULT_LIMIT = 10_000


def _copy(wallet: Wallet) -> Wallet:
    """A copy the caller may change (a decision moves cash, the spend, the version, events):
    every field as it is (immutable values) but fresh lists of grants (none: only wallets
    without grants are remembered), events and changed grants. ``copy.copy`` and three
    assignments, not ``dataclasses.replace``, which runs ``__init__`` with every field:
    this copy is made once per plain charge."""
    copied = copy.copy(wallet)
    copied.grants, copied.events, copied.dirty_grants = [], [], {}
    return copied


class RecentWallets:
    """Per process, thread-safe (each operation is one dict operation under the GIL): the
    copies of wallets as last read, with when they were remembered."""

    def __init__(self, seconds: float, limit: int = DEFAULT_LIMIT,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.limit = limit
        self._monotonic = monotonic
        self._items: dict[str, tuple[float, Wallet]] = {}

    def get(self, org_id: str) -> Wallet | None:
        """A fresh copy of the wallet as last remembered, or None (unknown or too old)."""
        item = self._items.get(org_id)
        if item is None:
            return None
        if self._monotonic() - item[0] > self.seconds:
            self._items.pop(org_id, None)
            return None
        return _copy(item[1])

    def remember(self, wallet: Wallet) -> None:
        """Keep a copy of ``wallet`` as read (call it before a decision changes it)."""
        if self.seconds <= 0 or wallet.grants:
            return
        if len(self._items) >= self.limit:
            self._items.clear()  # a bound, not a cache policy: the next reads refill it
        self._items[wallet.org_id] = (self._monotonic(), _copy(wallet))

    def forget(self, *org_ids: str) -> None:
        for org_id in org_ids:
            self._items.pop(org_id, None)

    def __len__(self) -> int:
        return len(self._items)
