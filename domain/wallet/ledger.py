"""Double-entry ledger primitives: accounts, postings, immutable journal entries.

Every movement of value is a :class:`JournalEntry` whose postings sum to zero. A
posting's amount is positive when value flows *into* the account's holder. Wallet
accounts belong to an organisation; every wallet movement has its counterpart on a
platform or external counter-account, so the whole ledger sums to zero too.

Wallet accounts (owner = organisation id):

=================  ============================================================
``cash``           money paid in and not spent (balance = ``cash``)
``coupon:<kind>``  one account per coupon grant (``grant_id``), kind normal/traffic
``credit``         post-pay drawn on the credit line (balance = ``-credit_used``)
``credit_line``    memo: the credit line granted (balance = ``credit_limit``)
``held``           memo: reserved for pending orders (balance = ``held``)
``deposit``        security deposit paid, frozen (balance = ``deposit_paid``)
``deposit_due``    memo: deposit required (balance = ``deposit_due``)
=================  ============================================================

Counter-accounts (owner ``platform`` or ``external``) keep no cached balance, so they
never become a hot row that every charge would have to lock.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from domain.shared.money import CENT

PLATFORM = "platform"
EXTERNAL = "external"
COUNTER_OWNERS = (PLATFORM, EXTERNAL)

# wallet accounts
CASH = "cash"
COUPON_NORMAL = "coupon:normal"
COUPON_TRAFFIC = "coupon:traffic"
CREDIT = "credit"
CREDIT_LINE = "credit_line"
HELD = "held"
DEPOSIT = "deposit"
DEPOSIT_DUE = "deposit_due"
WALLET_ACCOUNTS = (CASH, COUPON_NORMAL, COUPON_TRAFFIC, CREDIT, CREDIT_LINE, HELD, DEPOSIT, DEPOSIT_DUE)
SPENDABLE_ACCOUNTS = (CASH, COUPON_NORMAL, COUPON_TRAFFIC, CREDIT)

# platform counter-accounts
REVENUE = "revenue"  # charges (or the platform's margin on them)
COUPON_FUNDING = "coupon_funding"  # platform-granted coupons and their lapses
HOLDS = "holds"  # counterpart of every wallet's ``held`` memo
CREDIT_LINES = "credit_lines"  # counterpart of every wallet's ``credit_line`` memo
DEPOSITS_DUE = "deposits_due"  # counterpart of every wallet's ``deposit_due`` memo
PAYOUTS_PENDING = "payouts_pending"  # withdrawals sent to a gateway, not yet confirmed

COUPON_KINDS = ("normal", "traffic")
ZERO = Decimal("0.00")

# entry types (the statement filter of the spec)
ENTRY_TYPES = ("recharge", "refund", "allocation", "coupon_change", "charge", "hold", "release", "capture",
               "deposit", "revoke", "adjustment")


def coupon_account(kind: str) -> str:
    return f"coupon:{kind}"


@dataclasses.dataclass(frozen=True, order=True)
class Account:
    owner: str  # organisation id, or PLATFORM / EXTERNAL
    name: str
    grant_id: str = ""  # coupon grants only

    @property
    def is_wallet(self) -> bool:
        return self.owner not in COUNTER_OWNERS

    @property
    def coupon_kind(self) -> str | None:
        return self.name.partition(":")[2] if self.name.startswith("coupon:") else None

    @classmethod
    def platform(cls, name: str) -> Account:
        return cls(PLATFORM, name)

    @classmethod
    def external(cls, channel: str) -> Account:
        return cls(EXTERNAL, channel)


@dataclasses.dataclass(frozen=True)
class Posting:
    account: Account
    amount: Decimal


@dataclasses.dataclass(frozen=True)
class Breakdown:
    """Where the money of an entry came from (or went to), per source, as magnitudes."""

    cash: Decimal = ZERO
    normal_coupon: Decimal = ZERO
    traffic_coupon: Decimal = ZERO
    post_pay: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.cash + self.normal_coupon + self.traffic_coupon + self.post_pay

    @classmethod
    def of(cls, postings: Iterable[Posting], owner: str) -> Breakdown:
        sums = {CASH: ZERO, COUPON_NORMAL: ZERO, COUPON_TRAFFIC: ZERO, CREDIT: ZERO}
        for p in postings:
            if p.account.owner == owner and p.account.name in sums:
                sums[p.account.name] += p.amount
        return cls(cash=abs(sums[CASH]), normal_coupon=abs(sums[COUPON_NORMAL]),
                   traffic_coupon=abs(sums[COUPON_TRAFFIC]), post_pay=abs(sums[CREDIT]))


class UnbalancedEntry(ValueError):
    """A programming error: an entry whose postings do not sum to zero is never written."""


@dataclasses.dataclass(frozen=True)
class JournalEntry:
    """An immutable journal entry. Corrections are new (reversing) entries, never edits."""

    id: str
    type: str
    org_id: str  # the wallet the entry is about (the payer, the agency, ...)
    created_at: datetime
    postings: tuple[Posting, ...]
    amount: Decimal  # the headline amount (what was charged, recharged, held ...)
    reference: str | None = None
    unique_key: str | None = None  # at most one entry per key (exactly-once)
    note: str = ""
    actor_id: str | None = None
    counterparty_org_id: str | None = None
    details: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.type not in ENTRY_TYPES:
            raise UnbalancedEntry(f"unknown entry type {self.type!r}")
        if not self.postings:
            raise UnbalancedEntry("an entry needs postings")
        for p in self.postings:
            if p.amount == 0 or p.amount != p.amount.quantize(CENT):
                raise UnbalancedEntry(f"bad posting amount {p.amount} on {p.account}")
        total = sum((p.amount for p in self.postings), ZERO)
        if total != 0:
            raise UnbalancedEntry(f"postings of a {self.type} entry sum to {total}, not 0")

    @property
    def detail(self) -> dict[str, str]:
        return dict(self.details)

    def breakdown(self, owner: str | None = None) -> Breakdown:
        return Breakdown.of(self.postings, owner or self.org_id)

    def wallet_org_ids(self) -> list[str]:
        """Organisations whose wallet accounts this entry touches, in posting order."""
        seen: dict[str, None] = {}
        for p in self.postings:
            if p.account.is_wallet:
                seen.setdefault(p.account.owner, None)
        return list(seen)

    def net_for(self, owner: str) -> Decimal:
        """Net change of the owner's spendable value (cash, coupons, post-pay)."""
        return sum((p.amount for p in self.postings
                    if p.account.owner == owner and p.account.name in SPENDABLE_ACCOUNTS), ZERO)


class EntryBuilder:
    """Collects postings (merging repeats on the same account) and builds the entry."""

    def __init__(self) -> None:
        self._amounts: dict[Account, Decimal] = {}

    def post(self, account: Account, amount: Decimal) -> None:
        if amount == 0:
            return
        self._amounts[account] = self._amounts.get(account, ZERO) + amount

    def postings(self) -> tuple[Posting, ...]:
        return tuple(Posting(a, amt) for a, amt in self._amounts.items() if amt != 0)

    def build(self, *, id: str, type: str, org_id: str, created_at: datetime, amount: Decimal,
              reference: str | None = None, unique_key: str | None = None, note: str = "",
              actor_id: str | None = None, counterparty_org_id: str | None = None,
              details: dict[str, str] | None = None) -> JournalEntry:
        return JournalEntry(id=id, type=type, org_id=org_id, created_at=created_at, postings=self.postings(),
                            amount=amount, reference=reference, unique_key=unique_key, note=note,
                            actor_id=actor_id, counterparty_org_id=counterparty_org_id,
                            details=tuple(sorted((details or {}).items())))


def ledger_total(entries: Iterable[JournalEntry]) -> Decimal:
    return sum((p.amount for e in entries for p in e.postings), ZERO)


def balances(postings: Iterable[Posting]) -> dict[Account, Decimal]:
    out: dict[Account, Decimal] = {}
    for p in postings:
        out[p.account] = out.get(p.account, ZERO) + p.amount
    return out
