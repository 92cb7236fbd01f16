"""Repository ports of the wallet module."""
from __future__ import annotations

import abc
import dataclasses
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

from domain.shared.errors import ValidationFailed
from domain.wallet.ledger import ZERO, Account, JournalEntry
from domain.wallet.model import (
    CashMove,
    ChargeTerms,
    CouponGrant,
    Hold,
    Recharge,
    StatementLine,
    Wallet,
    Withdrawal,
    WithholdingAgreement,
)
from domain.wallet.overview import DaySpend, MonthSpend, PrincipalFunds, PrincipalSpend


@dataclasses.dataclass(frozen=True)
class LineFilter:
    type: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    reference: str | None = None

    def __post_init__(self) -> None:
        if self.since is not None and self.until is not None and self.until < self.since:
            raise ValidationFailed("to", "must not be before from", code="invalid_date")


@dataclasses.dataclass(frozen=True)
class ConsumptionRow:
    period: str  # YYYY-MM-DD or YYYY-MM (platform time zone)
    amount: Decimal = ZERO
    cash: Decimal = ZERO
    normal_coupon: Decimal = ZERO
    traffic_coupon: Decimal = ZERO
    post_pay: Decimal = ZERO
    count: int = 0

    @classmethod
    def total(cls, rows: Iterable[ConsumptionRow], period: str = "total") -> ConsumptionRow:
        """The rows added up (a range's total, or one period over several wallets)."""
        out = cls(period)
        for r in rows:
            out = cls(period, out.amount + r.amount, out.cash + r.cash, out.normal_coupon + r.normal_coupon,
                      out.traffic_coupon + r.traffic_coupon, out.post_pay + r.post_pay, out.count + r.count)
        return out


class WalletRepository(abc.ABC):
    @abc.abstractmethod
    def lock(self, org_ids: Sequence[str]) -> dict[str, Wallet]:
        """Lock the existing wallets of these organisations, always in sorted order (so two
        transactions never wait on each other in a cycle), with their live coupon grants.
        Organisations without a wallet row are absent from the answer."""

    @abc.abstractmethod
    def get(self, org_id: str) -> Wallet | None:
        """Read without locking (queries)."""

    @abc.abstractmethod
    def create(self, org_id: str, now: datetime) -> None:
        """Create an empty wallet unless one exists (safe under concurrency)."""

    @abc.abstractmethod
    def save(self, wallet: Wallet) -> None:
        """Write the cached figures and the grants the wallet changed."""

    @abc.abstractmethod
    def save_grants(self, wallet: Wallet) -> None:
        """Write only the grants the wallet changed (its figures were written with an entry)."""

    @abc.abstractmethod
    def grants(self, org_id: str, *, include_spent: bool, offset: int, limit: int) -> list[CouponGrant]: ...

    @abc.abstractmethod
    def count_grants(self, org_id: str, *, include_spent: bool) -> int: ...

    @abc.abstractmethod
    def expired_grants(self, now: datetime, limit: int) -> list[CouponGrant]:
        """Grants with money left whose expiry has passed (for the lapse job)."""

    @abc.abstractmethod
    def with_threshold(self, after_org_id: str | None, limit: int) -> list[str]:
        """Organisation ids of wallets with a low-balance threshold, in id order (paged)."""


@dataclasses.dataclass(frozen=True)
class LandedCharge:
    """The wallet row as charges written under ``ChargeTerms`` left it."""

    version: int  # the last statement line's seq
    cash: Decimal
    deposit_due: Decimal
    deposit_paid: Decimal
    at: datetime  # the entry's date: its ``now``, or the wallet's last change if that is later


class LedgerRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, entry: JournalEntry, lines: Sequence[StatementLine], wallets: Sequence[Wallet] = ()) -> bool:
        """Write an entry, its postings, its statement lines and the cached figures of
        ``wallets`` (those it changed), in as few round trips as the database allows.
        False, and nothing written, when an entry with the same ``unique_key`` exists."""

    @abc.abstractmethod
    def add_many(self, entries: Sequence[JournalEntry], lines: Sequence[StatementLine],
                 wallets: Sequence[Wallet] = ()) -> bool:
        """``add`` for several entries at once (their lines together, the wallets' final
        figures). False when any entry's ``unique_key`` exists: the caller must then roll
        back, as part of it may be written."""

    @abc.abstractmethod
    def add_unlocked(self, entries: Sequence[JournalEntry], lines: Sequence[StatementLine],
                     terms: ChargeTerms, *, release_early: bool = False) -> LandedCharge | None:
        """Write charges on one wallet decided on an unlocked read of it (ADR 0010), one
        after the other, in one statement that applies them only if the wallet meets
        ``terms`` (for their total) when the statement holds the row: cash less the total,
        today's spend plus the total, the version bumped once per charge, and each entry
        with its postings and its statement line (one per entry, in order; seq and cash
        after shifted by how far the wallet moved since the read, deposit figures and date
        as landed). None, and nothing written, when the terms no longer hold or an entry's
        unique key is taken: the lock then decides. An adapter whose database serialises
        writers anyway may always answer None.

        ``release_early`` (ADR 0013): the wallet is contended and the write is its own
        transaction; the adapter may free the row before the write is durable, but returns
        only once it is."""

    @abc.abstractmethod
    def can_release_early(self) -> bool:
        """Whether ``add_unlocked(..., release_early=True)`` can make its write durable
        before returning here (ADR 0013: the database lets this role run the barrier)."""

    @abc.abstractmethod
    def make_durable(self) -> None:
        """Return once everything committed so far is on disk, in an autocommit unit (ADR
        0013: an answer drawn from another charge released early waits for it)."""

    @abc.abstractmethod
    def get(self, entry_id: str) -> JournalEntry | None: ...

    @abc.abstractmethod
    def by_unique_key(self, key: str) -> JournalEntry | None: ...

    @abc.abstractmethod
    def existing_keys(self, keys: set[str]) -> set[str]:
        """Which of ``keys`` some entry already has (one round trip)."""

    @abc.abstractmethod
    def line(self, org_id: str, entry_id: str) -> StatementLine | None: ...

    @abc.abstractmethod
    def lines(self, org_id: str, flt: LineFilter, offset: int, limit: int) -> tuple[list[StatementLine], int]: ...

    @abc.abstractmethod
    def consumption(self, org_id: str, granularity: str, since: datetime, until: datetime) -> list[ConsumptionRow]:
        """Charges and captures of a wallet from ``since`` (inclusive) to ``until`` (exclusive),
        grouped by their local (platform time zone) day or month."""

    @abc.abstractmethod
    def balances_at(self, org_id: str, at: datetime) -> dict[Account, Decimal]:
        """Balances of the wallet's accounts from its postings up to and including ``at``."""

    @abc.abstractmethod
    def total(self) -> Decimal:
        """The sum of every posting in the ledger (always zero)."""

    @abc.abstractmethod
    def unbalanced_entries(self, limit: int) -> list[str]:
        """Ids of entries whose postings do not sum to zero (always none)."""

    @abc.abstractmethod
    def allocated_net(self, agency_org_id: str, principal_org_id: str) -> Decimal:
        """Allocated by the agency to the principal minus what it reclaimed."""

    @abc.abstractmethod
    def allocation_moves(self, principal_org_id: str) -> list[CashMove]:
        """The principal's statement lines as cash moves, in order, from its first
        allocation from any agency on (before it no agency's money was there)."""


class HoldRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, hold: Hold) -> None: ...

    @abc.abstractmethod
    def get(self, hold_id: str) -> Hold | None: ...

    @abc.abstractmethod
    def by_reference(self, org_id: str, reference: str) -> Hold | None: ...

    @abc.abstractmethod
    def save(self, hold: Hold) -> None: ...

    @abc.abstractmethod
    def expired(self, now: datetime, limit: int) -> list[Hold]:
        """Active holds whose expiry has passed."""

    @abc.abstractmethod
    def expired_of(self, org_id: str, now: datetime) -> list[Hold]:
        """One wallet's active holds whose expiry has passed, soonest expiry first."""

    @abc.abstractmethod
    def expired_amount_of(self, org_id: str, now: datetime) -> Decimal:
        """What one wallet's active holds whose expiry has passed still reserve (one sum,
        however many there are)."""

    @abc.abstractmethod
    def list(self, org_id: str, status: str | None, offset: int, limit: int) -> tuple[list[Hold], int]: ...


class RechargeRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, recharge: Recharge) -> None: ...

    @abc.abstractmethod
    def get(self, recharge_id: str) -> Recharge | None: ...

    @abc.abstractmethod
    def save(self, recharge: Recharge) -> None: ...

    @abc.abstractmethod
    def pending_before(self, cutoff: datetime, limit: int) -> list[Recharge]:
        """Online recharges still pending that were created before ``cutoff``."""

    @abc.abstractmethod
    def refundable(self, org_id: str, amount: Decimal) -> Recharge | None:
        """The newest paid online recharge with at least ``amount`` left to refund."""

    @abc.abstractmethod
    def list(self, org_id: str, status: str | None, offset: int, limit: int) -> tuple[list[Recharge], int]: ...


class WithdrawalRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, withdrawal: Withdrawal) -> None: ...

    @abc.abstractmethod
    def get(self, withdrawal_id: str) -> Withdrawal | None: ...

    @abc.abstractmethod
    def save(self, withdrawal: Withdrawal) -> None: ...

    @abc.abstractmethod
    def pending_before(self, cutoff: datetime, limit: int) -> list[Withdrawal]: ...

    @abc.abstractmethod
    def list(self, org_id: str, offset: int, limit: int,
             status: str | None = None) -> tuple[list[Withdrawal], int]: ...


class AgreementRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, agreement: WithholdingAgreement) -> None: ...

    @abc.abstractmethod
    def get(self, agreement_id: str) -> WithholdingAgreement | None: ...

    @abc.abstractmethod
    def save(self, agreement: WithholdingAgreement) -> None: ...

    @abc.abstractmethod
    def current(self, org_id: str) -> WithholdingAgreement | None:
        """The organisation's pending or active agreement, if any."""

    @abc.abstractmethod
    def list(self, org_id: str) -> list[WithholdingAgreement]: ...


class SpendQueries(abc.ABC):
    """Read-only aggregates of spend (charge and capture lines with a negative amount,
    as ``LedgerRepository.consumption``) over sets of organisations, for the agency
    overview (``domain.wallet.overview``). Days are local (platform time zone) days,
    both ends included; organisations without spend are absent from the answers."""

    @abc.abstractmethod
    def spend_by_org(self, org_ids: Sequence[str], first_day: date, last_day: date) -> list[PrincipalSpend]:
        """Each organisation's spend from ``first_day`` to ``last_day``."""

    @abc.abstractmethod
    def spend_by_day(self, org_ids: Sequence[str], first_day: date, last_day: date) -> list[DaySpend]:
        """The spend of all these organisations per day, with how many of them spent, by day."""

    @abc.abstractmethod
    def spend_by_month(self, org_ids: Sequence[str], first_day: date, last_day: date) -> list[MonthSpend]:
        """Each organisation's spend per month (only months with spend)."""

    @abc.abstractmethod
    def funds(self, org_ids: Sequence[str], now: datetime) -> dict[str, PrincipalFunds]:
        """What each organisation's wallet holds at ``now`` (coupons usable at ``now``) and
        its daily budget; organisations without a wallet are absent."""


@dataclasses.dataclass(frozen=True)
class LineCursor:
    """Where a walk through merged statement lines stopped: the last line answered."""

    created_at: datetime
    org_id: str
    seq: int


class AgencyStatementQueries(abc.ABC):
    """Read-only statements over sets of organisations, for the agency statement view
    (wallet.md "Statements": the same across all principals, and a per-principal summary).

    Merged lines come newest first: ``created_at`` descending, then ``org_id`` and ``seq``
    descending (a total order: ``(org_id, seq)`` is a line's key)."""

    @abc.abstractmethod
    def wallets(self, org_ids: Sequence[str]) -> dict[str, Wallet]:
        """The wallets of these organisations (read, not locked) with their grants that have
        money left, as ``WalletRepository.get``; organisations without a wallet are absent."""

    @abc.abstractmethod
    def lines(self, org_ids: Sequence[str], flt: LineFilter, offset: int,
              limit: int) -> tuple[list[StatementLine], int]:
        """One page of the merged statement lines of these organisations and how many match."""

    @abc.abstractmethod
    def lines_after(self, org_ids: Sequence[str], flt: LineFilter, after: LineCursor | None,
                    limit: int) -> list[StatementLine]:
        """The next ``limit`` merged lines after ``after`` (from the newest when None): a walk
        whose cost does not grow with how far it has gone (exports)."""

    @abc.abstractmethod
    def consumption(self, org_ids: Sequence[str], granularity: str, since: datetime,
                    until: datetime) -> list[ConsumptionRow]:
        """``LedgerRepository.consumption`` over all these wallets together, by period."""

    @abc.abstractmethod
    def allocated_net_by_principal(self, agency_key: str) -> dict[str, Decimal]:
        """What the agency's wallet allocated to each wallet, net of reclaims, ever (wallet
        key -> amount; wallets it never allocated to are absent)."""

    @abc.abstractmethod
    def consumption_by_wallet(self, org_ids: Sequence[str], since: datetime,
                              until: datetime) -> dict[str, ConsumptionRow]:
        """Each wallet's charges and captures in the range added up (``period`` = its key);
        wallets without any are absent."""
