"""Wallet use cases: one method per command or query (spec wallet.md).

Every money-moving command runs in one unit of work:

1. lock the wallet rows it touches with one ``SELECT ... FOR UPDATE`` in sorted
   organisation-id order (SQLite: ``BEGIN IMMEDIATE`` already serialises writers);
2. let the domain decide (``Wallet.charge`` ... raise or return a journal entry);
3. write the entry, its postings, one statement line per wallet and the cached figures
   in the same transaction, then commit.

See docs/adr/0002-wallet-concurrency.md for why this is correct under concurrency and
free of deadlocks. Two shortcuts keep the same guarantees: concurrent charges on one
wallet in one process share that unit of work (ADR 0006), and on PostgreSQL a plain
charge is decided on an unlocked read and written by one statement that applies it only
if the wallet still meets what the decision relied on (ADR 0010).

Who may do what (identity.md; the permission strings come from domain.identity.roles):

=============================  ===============================================================
view figures, entries, ...     ``wallet.view`` in the wallet's organisation (or acting for it),
                               an agency with ``wallet.view`` over an authorised principal, or
                               the platform (``wallet.view``)
online recharge                ``wallet.recharge`` in the wallet's organisation (an agency
                               owner acting for a principal counts)
offline recharge and revoke    ``wallet.offline_recharge`` (platform finance)
refund / withdrawal            ``wallet.withdraw`` in the wallet's organisation (owner only)
allocation and reclaim         ``wallet.allocate`` in the agency, to/from an *authorised* principal
coupons                        the platform (``wallet.coupons.grant``, platform-funded) or an
                               agency (``wallet.allocate``, funded from its cash) to a principal
charge, hold, capture,         the wallet's own organisation with ``trade.buy`` or
release                        ``wallet.manage`` (a user or its API key: a per-order payment),
                               or the platform (``platform.admin``): then it is a *withholding*
                               charge (or hold) and needs the wallet's active withholding
                               agreement; capturing an existing hold needs nothing more.
                               Payees may be named only by the platform or by other modules
                               calling in-process (``caller=None``), so no tenant can route its
                               money into another tenant's wallet.
credit limit                   ``wallet.credit.manage`` (platform admin)
deposit due and refund         ``wallet.deposit.manage`` (platform admin); paying it:
                               ``wallet.deposit.pay`` in the wallet's organisation
daily budget, alert threshold  ``wallet.manage`` in the wallet's organisation, the agency
                               (``wallet.allocate``) of an authorised principal, or the platform admin
withholding agreement          bind / revoke: ``wallet.manage`` in the organisation;
                               confirm (and revoke): the platform admin
=============================  ===============================================================

Another tenant's wallet answers ``NotFound``. Charges are unique per (wallet,
reference): a repeat with the same amount, coupon kind and payees returns the first
entry (``replayed``); anything else is 409 ``duplicate_reference``. Holds likewise.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from injector import inject, singleton

from application.shared.access import Caller
from application.shared.audit import record
from application.shared.clock import SUPPORTED_YEARS, Clock, supported
from application.shared.outbox import HandlerRegistry
from application.shared.paging import Page, PageRequest
from application.shared.settings import Settings
from application.shared.uow import (
    CommitGuard,
    UnitOfWork,
    UnitOfWorkFactory,
    commit_guards,
    current_commit_guards,
)
from application.wallet.combining import Combiner
from application.wallet.contention import Contention
from application.wallet.snapshots import RecentWallets
from domain.identity.ports import OrganizationRepository, RelationRepository
from domain.shared.errors import DomainError, Forbidden, NotFound, ValidationFailed
from domain.shared.money import to_money
from domain.wallet import errors
from domain.wallet.events import WalletCharged
from domain.wallet.ledger import (
    CASH,
    COUPON_KINDS,
    CREDIT,
    CREDIT_LINE,
    DEPOSIT,
    DEPOSIT_DUE,
    ENTRY_TYPES,
    HELD,
    ZERO,
    JournalEntry,
)
from domain.wallet.model import (
    CouponGrant,
    Figures,
    Hold,
    StatementLine,
    Wallet,
    WithholdingAgreement,
    charge_key,
    clean_reference,
    statement_lines,
    unspent_allocations,
)
from domain.wallet.ports import (
    AgreementRepository,
    ConsumptionRow,
    HoldRepository,
    LandedCharge,
    LedgerRepository,
    LineFilter,
    WalletRepository,
)
from domain.wallet.purpose import (
    SEPARATOR,
    general_only,
    is_external,
    may_hold,
    org_of,
    split_key,
    wallet_key,
)

log = logging.getLogger("agora.wallet")
T = TypeVar("T")


def _unobserved(_: object) -> None:
    """What an observer hook does until someone observes (metrics)."""


def _as_landed(entry: JournalEntry, line: StatementLine, landed: LandedCharge,
               last: StatementLine) -> tuple[JournalEntry, StatementLine]:
    """A charge written unlocked, as it landed: dated as landed, its line's seq and cash after
    shifted by how far the wallet moved between the read and the write (``last`` is the
    batch's last line as decided). Copied only when the wallet moved (rarely, but always
    on a hot wallet)."""
    if entry.created_at != landed.at:
        entry = dataclasses.replace(entry, created_at=landed.at)
    after = line.after
    cash = after.cash + (landed.cash - last.after.cash)
    if (after.cash, after.deposit_due, after.deposit_paid) != (cash, landed.deposit_due, landed.deposit_paid):
        after = dataclasses.replace(after, cash=cash, deposit_due=landed.deposit_due,
                                    deposit_paid=landed.deposit_paid)
    seq = line.seq + (landed.version - last.seq)
    if (line.seq, line.created_at, line.after) != (seq, landed.at, after):
        line = dataclasses.replace(line, seq=seq, created_at=landed.at, after=after)
    return entry, line


SPEND_PERMISSIONS = ("trade.buy", "wallet.manage")
MAX_CONSUMPTION_DAYS = 400
MAX_CONSUMPTION_MONTHS = 36  # by month: three years of rows


@dataclasses.dataclass(frozen=True, slots=True)
class _Charge:
    """A validated charge request, as the combiner queues it."""

    org_id: str
    amount: Decimal
    reference: str
    coupon_kind: str | None
    payees: tuple[tuple[str, Decimal], ...]
    withholding: bool
    actor: str | None
    note: str | None
    # the caller's commit guards (its Idempotency-Key lease): a leader thread commits for it
    guards: tuple[CommitGuard, ...] = ()
    person: Caller | None = None  # a user (not an API key or a module): logged with the entry


class MissingWallets(Exception):
    """Internal: the command touched organisations that have no wallet row yet."""

    def __init__(self, org_ids: set[str]) -> None:
        super().__init__(", ".join(sorted(org_ids)))
        self.org_ids = org_ids


@dataclasses.dataclass(frozen=True)
class EntryResult:
    """A journal entry as the wallet it is about sees it (breakdown, balances after)."""

    entry: JournalEntry
    line: StatementLine | None
    replayed: bool = False


@dataclasses.dataclass(frozen=True)
class HoldResult:
    hold: Hold
    entry_id: str | None
    replayed: bool = False


@dataclasses.dataclass(frozen=True)
class WalletView:
    org_id: str
    at: datetime
    figures: Figures
    grants: list[CouponGrant]
    daily_budget: Decimal | None = None
    spent_today: Decimal = ZERO
    low_balance_threshold: Decimal | None = None
    low_balance_alerted: bool = False
    withholding_active: bool = False
    historical: bool = False


def _person(caller: Caller | None) -> Caller | None:
    """The caller when it is a person (a user's token, perhaps acting for a principal):
    spends they make go to the operation log (identity.md). API keys' and modules'
    spends — the high-volume path — are recorded by their entries alone (``actor_id``)."""
    return caller if caller is not None and caller.user_id is not None else None


def _log_person(uow: UnitOfWork, caller: Caller | None, operation: str, entry: JournalEntry, summary: str) -> None:
    person = _person(caller)
    if person is not None:
        if uow.autocommit:  # the row would commit apart from the entry it records
            raise RuntimeError("an autocommit unit of work cannot log an operation with its effect")
        record(uow, person, operation, entry.id, summary, entry.created_at, org_id=org_of(entry.org_id))


def _log_charge(uow: UnitOfWork, c: _Charge, entry: JournalEntry) -> None:
    _log_person(uow, c.person, "wallet.charge", entry, f"charge {c.amount} for {c.reference}")


def _payee_fields(payees: Sequence[tuple[str, Decimal]]) -> dict[str, str]:
    """Each payee's wallet and the body field that named it first."""
    return {p: f"payees.{i}.org_id" for i, (p, _) in reversed(list(enumerate(payees)))}


def check_granularity(granularity: str) -> None:
    if granularity not in ("day", "month"):
        raise ValidationFailed("granularity", "must be day or month", code="invalid_granularity")


def _day(value: str, field: str, *, month_end: bool | None = None) -> date:
    """A date; with ``month_end`` set (a report by month) also a month, ``YYYY-MM``: its
    first day (False) or its last (True)."""
    try:
        if month_end is not None and len(value) == 7:
            first = date.fromisoformat(f"{value}-01")
            day = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1) \
                if month_end else first
        else:
            day = date.fromisoformat(value)  # a date only: a timestamp is refused
    except (TypeError, ValueError):
        raise ValidationFailed(field, "must be a date (YYYY-MM-DD)" if month_end is None
                               else "must be a date (YYYY-MM-DD) or a month (YYYY-MM)", code="invalid_date") from None
    if not supported(day):
        raise ValidationFailed(field, f"must lie in the years {SUPPORTED_YEARS.start} to {SUPPORTED_YEARS.stop - 1}",
                               code="invalid_date")
    return day


def consumption_range(clock: Clock, from_day: str, to_day: str, granularity: str = "day"
                      ) -> tuple[datetime, datetime]:
    """The moments a consumption report covers: ``from_day`` to ``to_day`` inclusive, whole
    days in the platform time zone, at most ``MAX_CONSUMPTION_DAYS`` apart; by month, also
    whole months (``YYYY-MM``), at most ``MAX_CONSUMPTION_MONTHS`` of them."""
    by_month = granularity == "month"
    first = _day(from_day, "from", month_end=False if by_month else None)
    last = _day(to_day, "to", month_end=True if by_month else None)
    if last < first:
        raise ValidationFailed("to", "must not be before from", code="invalid_date")
    if by_month:
        if (last.year - first.year) * 12 + last.month - first.month + 1 > MAX_CONSUMPTION_MONTHS:
            raise ValidationFailed("to", f"the range is at most {MAX_CONSUMPTION_MONTHS} months",
                                   code="invalid_date")
    elif (last - first).days + 1 > MAX_CONSUMPTION_DAYS:  # both days included
        raise ValidationFailed("to", f"the range is at most {MAX_CONSUMPTION_DAYS} days", code="invalid_date")
    since, _ = day_bounds(clock, first.isoformat())
    _, until = day_bounds(clock, last.isoformat())
    return since, until


class Ledger:
    """One money-moving transaction: sorted locks, domain decision, entry + figures written."""

    def __init__(self, uow: UnitOfWork, clock: Clock, now: datetime) -> None:
        self.uow = uow
        self.clock = clock
        self.now = now
        self.wallets: dict[str, Wallet] = {}
        self.lines: dict[str, StatementLine] = {}  # of the last entry written, by wallet
        self._versions: dict[str, int] = {}
        self._staged: list[tuple[JournalEntry, list[StatementLine]]] = []

    def lock(self, *org_ids: str) -> dict[str, Wallet]:
        wanted = sorted(set(org_ids) - set(self.wallets))
        if wanted:
            first = not self.wallets
            found = self.uow.repo(WalletRepository).lock(wanted)
            missing = set(wanted) - set(found)
            if missing:
                raise MissingWallets(missing)
            if first:
                # the time of what this transaction decides is read once its locks are held: a
                # transaction that waited for a wallet must not date its entry before the one
                # that held the lock (statement order, balances at a past moment, the budget day)
                self.now = self.clock.now()
            for org_id, wallet in found.items():
                self.wallets[org_id] = wallet
                self._versions[org_id] = wallet.version
        return {o: self.wallets[o] for o in org_ids}

    def write(self, entry: JournalEntry | None) -> bool:
        """Write an entry with a statement line per touched wallet and the figures of the
        wallets it changed; False (nothing written) if its unique key exists."""
        if entry is None:
            return True
        lines = self._lines(entry)
        changed = self._changed()
        if not self.uow.repo(LedgerRepository).add(entry, lines, changed):
            return False
        self._written(changed)
        return True

    def stage(self, entry: JournalEntry) -> None:
        """Keep an entry (and its lines, with the figures just after it) for ``flush``:
        several entries of one transaction are then written in one round trip."""
        self._staged.append((entry, self._lines(entry)))

    def flush(self) -> None:
        """Write the staged entries and the final figures of the wallets they changed.
        Their unique keys must be free (checked under the wallets' locks)."""
        if not self._staged:
            return
        staged, self._staged = self._staged, []
        changed = self._changed()
        if not self.uow.repo(LedgerRepository).add_many([e for e, _ in staged], [ln for _, ls in staged for ln in ls],
                                                          changed):
            raise RuntimeError("a staged entry's unique key was taken")  # the transaction is not committed
        self._written(changed)

    def _lines(self, entry: JournalEntry) -> list[StatementLine]:
        lines = statement_lines(entry, self.wallets, self.now, self.clock.tz)
        self.lines = {ln.org_id: ln for ln in lines}
        return lines

    def _changed(self) -> list[Wallet]:
        return [w for o, w in self.wallets.items() if w.version != self._versions[o]]

    def _written(self, changed: list[Wallet]) -> None:
        for wallet in changed:
            self._versions[wallet.org_id] = wallet.version

    def release_expired_holds(self, org_id: str) -> int:
        """Release the wallet's holds whose expiry has passed, as the hold-expiry job would
        (the same entries, dated now): money no hold reserves any more is spendable before
        the job comes round. The number released; written with this transaction."""
        wallet = self.wallets[org_id]
        if wallet.held <= 0:
            return 0
        repo = self.uow.repo(HoldRepository)
        due = repo.expired_of(org_id, self.now)
        for hold in due:
            self.stage(wallet.release(hold, self.now, expired=True))
        self.flush()
        for hold in due:
            repo.save(hold)
        return len(due)

    def spending(self, org_id: str, decide: Callable[[], T]) -> T:
        """``decide()`` a spend from ``org_id``'s wallet (locked); if it is refused for
        insufficient funds while expired holds still reserve money there, release them and
        decide once more. A spend refused either way is not committed, releases and all —
        but a combined batch commits its other charges, and the releases with them (they
        are the expiry job's own entries, due anyway; ADR 0012)."""
        try:
            return decide()
        except (errors.InsufficientFunds, errors.RevokeNotCovered):
            if not self.release_expired_holds(org_id):
                raise
        return decide()

    def save(self) -> None:
        """Write what ``write`` did not (figures changed without an entry, coupon grants)
        and publish the wallets' events."""
        repo = self.uow.repo(WalletRepository)
        for org_id, wallet in self.wallets.items():
            if wallet.version != self._versions[org_id]:
                repo.save(wallet)
            elif wallet.dirty_grants:
                repo.save_grants(wallet)
            wallet.dirty_grants.clear()
            self._versions[org_id] = wallet.version
            if wallet.events:
                self.uow.publish(*wallet.events)
                wallet.events.clear()


class WalletBase:
    """What every wallet service shares: the transaction runner and the access checks."""

    @inject
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        # ADR 0013: plain charges may be released early (by any process: they share the
        # settings), so a refusal may rest on one not yet on disk; set by the services
        self._early_release = False
        self._early_allowed: bool | None = None  # may this role run the barrier? asked once

    def _release_early_allowed(self, settings: Settings) -> bool:
        """May plain charges be committed before their WAL is flushed (ADR 0013)?"""
        return bool(settings.wallet_early_lock_release and settings.wallet_unlocked_charges
                    and self.uow_factory.dialect == "postgresql")

    # -- running a command ------------------------------------------------------------

    def _run(self, command: Callable[[Ledger], T], fields: Mapping[str, str] | None = None) -> T:
        """Run ``command`` in a unit of work; wallets missing on first touch are created
        (in their own short transaction) and the command retried once. ``fields`` names the
        request field of a wallet the request named in its body (a payee): one that cannot
        exist is 422 on that field rather than 404."""
        for _ in range(3):
            now = self.clock.now()
            try:
                with self.uow_factory() as uow:
                    return command(Ledger(uow, self.clock, now))
            except MissingWallets as missing:
                with commit_guards(()):  # creating empty wallets is no effect of the request
                    self._create_wallets(missing.org_ids, now, fields or {})
            except DomainError:
                self._durable()  # a refusal: its transaction rolled back
                raise
        raise RuntimeError("wallets could not be created")  # pragma: no cover - defensive

    def _durable(self) -> None:
        """ADR 0013: an answer a command drew from what it read without writing — a refusal
        (a charge's, a hold's, a withdrawal's ...), a charge's replay — may rest on a plain
        charge another process released early and has not flushed yet; it waits until that
        is on disk too. Its own transaction rolled back, which flushes nothing."""
        if not self._early_release or self._early_allowed is False:
            return  # a role that may not run the barrier never released a charge early
        with commit_guards(()), self.uow_factory(autocommit=True) as uow:  # a technical commit
            ledger = uow.repo(LedgerRepository)
            if self._early_allowed is None:
                self._early_allowed = ledger.can_release_early()
            if self._early_allowed:
                ledger.make_durable()

    def _create_wallets(self, org_ids: set[str], now: datetime, fields: Mapping[str, str]) -> None:
        """``org_ids`` are wallet keys (domain.wallet.purpose)."""
        with self.uow_factory() as uow:
            for key in sorted(org_ids):
                if not self._may_hold(uow, key):
                    if key in fields:
                        raise ValidationFailed(fields[key], "no such organisation", code="unknown_payee")
                    raise errors.WalletNotFound(f"no wallet {key}")
                uow.repo(WalletRepository).create(key, now)
            uow.commit()

    @staticmethod
    def _may_hold(uow: UnitOfWork, key: str) -> bool:
        """Does the wallet named by ``key`` exist or may it be opened? Its organisation
        exists, and an external wallet belongs to an agency or a merchant."""
        org_id, purpose = split_key(key)
        org = uow.repo(OrganizationRepository).get(org_id)
        return org is not None and may_hold(purpose, org.kinds)

    # -- access -------------------------------------------------------------------------

    @staticmethod
    def _principal_of(uow: UnitOfWork, agency_org_id: str, principal_org_id: str,
                      statuses: tuple[str, ...] = ("authorized",)) -> bool:
        """Both may be wallet keys: the relation is between their organisations."""
        rel = uow.repo(RelationRepository).find("agency_principal", org_of(agency_org_id), org_of(principal_org_id))
        return rel is not None and rel.status in statuses

    # Access is decided on the wallet's organisation: ``org_id`` arguments below are wallet
    # keys (the organisation id, or "<org_id>~external"), reduced with ``org_of``.

    def _require_view(self, uow: UnitOfWork, caller: Caller, org_id: str) -> None:
        key, org_id = org_id, org_of(org_id)
        if is_external(key) and not self._may_hold(uow, key):
            raise errors.WalletNotFound("no such wallet")
        if caller.can_see_org(org_id):
            caller.require("wallet.view", org_id=org_id, missing=errors.WalletNotFound)
            return
        if caller.has("wallet.view") and "agency" in caller.org_kinds \
                and self._principal_of(uow, caller.org_id, org_id):
            return
        raise errors.WalletNotFound("no such wallet")

    def _require_manage(self, uow: UnitOfWork, caller: Caller, org_id: str) -> None:
        """Budgets and alert thresholds: the owner, the principal's agency, the platform admin."""
        org_id = org_of(org_id)
        if caller.is_platform_admin:
            return
        if caller.can_see_org(org_id):
            if caller.has("wallet.allocate") and caller.acting_for_org_id == org_id:
                return  # an agency admin acting for its principal
            caller.require("wallet.manage", org_id=org_id, missing=errors.WalletNotFound)
            return
        if caller.has("wallet.allocate") and self._principal_of(uow, caller.org_id, org_id):
            return
        raise errors.WalletNotFound("no such wallet")

    @staticmethod
    def _require_own(caller: Caller, permission: str, org_id: str) -> None:
        """The wallet's own organisation (or the principal an agency user acts for)."""
        org_id = org_of(org_id)
        if caller.is_platform and org_id != caller.org_id:
            raise Forbidden(f"only the organisation itself may do this ({permission})", code="permission_denied")
        caller.require(permission, org_id=org_id, missing=errors.WalletNotFound)

    @staticmethod
    def _not_acting(caller: Caller, what: str) -> None:
        """The wallet's own organisation only: an agency acting for its principal is refused
        (the principal binds its own enterprise account, wallet.md)."""
        if caller.acting_for_org_id is not None:
            raise Forbidden(f"only the wallet's own organisation {what}", code="permission_denied")

    @staticmethod
    def _spend_mode(caller: Caller | None, org_id: str, with_payees: bool) -> bool:
        """Checks who may charge a wallet; returns True for a withholding charge."""
        if caller is None:
            return False  # another module, in-process: it decides (see ``withholding=``)
        org_id = org_of(org_id)
        if caller.is_platform:
            caller.require("platform.admin")
            return org_id != caller.org_id
        caller.require_org(org_id, errors.WalletNotFound)
        if not caller.roles:
            caller.require("trade.buy")
        if not any(caller.has(p) for p in SPEND_PERMISSIONS):
            raise Forbidden("missing permission trade.buy or wallet.manage", code="permission_denied",
                            details={"permission": "trade.buy"})
        if with_payees:
            raise errors.PayeesNotAllowed("only the platform names payees on a charge")
        return False

    @staticmethod
    def _payees(org_id: str, payees: Sequence[tuple[str, Decimal]]) -> list[tuple[str, Decimal]]:
        """Validated payees: general wallets only, and none on an external wallet's charge
        (payees are the supplier's cost and the platform's margin of an order)."""
        if payees:
            general_only(org_id, "payees")
        out = []
        for i, (p_org, p_amt) in enumerate(payees):
            if is_external(p_org):
                raise ValidationFailed(f"payees.{i}.org_id", "must be a general wallet", code="purpose_mismatch")
            out.append((p_org, to_money(p_amt, f"payees.{i}.amount", positive=True)))
        return out

    @staticmethod
    def _actor(caller: Caller | None) -> str | None:
        if caller is None:
            return None
        return caller.user_id or caller.api_key_id


@singleton  # one per container, not one per request: it holds the charge combiner
class WalletService(WalletBase):
    """Ledger commands and wallet queries."""

    @inject
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, settings: Settings,
                 registry: HandlerRegistry) -> None:
        super().__init__(uow_factory, clock)
        self._charges: Combiner[_Charge, EntryResult] = Combiner(
            self._charge_batch, self._charge_one, settings.wallet_charge_batch)
        self._unlocked = settings.wallet_unlocked_charges and uow_factory.dialect == "postgresql"
        # wallets read for plain charges, reused to decide the next ones (ADR 0010 addendum)
        self._recent = RecentWallets(settings.wallet_snapshot_seconds)
        # wallets other processes charge hard: their row is released early (ADR 0013)
        self._early_release = self._release_early_allowed(settings)
        self._contention = Contention(settings.wallet_early_release_rate) if self._early_release else None
        self._registry = registry
        self._on_unlocked: Callable[[str], None] = _unobserved
        self._on_early: Callable[[int], None] = _unobserved

    def on_charge_batch(self, observer: Callable[[int], None]) -> None:
        """Tell ``observer(size)`` of every combined batch of charges (metrics)."""
        self._charges.on_batch = observer

    def on_unlocked_charge(self, observer: Callable[[str], None]) -> None:
        """Tell ``observer(outcome)`` how each attempt without the lock went (metrics):
        ``landed``, ``declined`` (the write found the terms broken or the reference taken)
        or ``not_plain`` (the charge or the wallet was not plain, or the read refused it)."""
        self._on_unlocked = observer

    def on_early_release(self, observer: Callable[[int], None]) -> None:
        """Tell ``observer(charges)`` of every unlocked statement that freed its wallet's row
        before its commit reached the disk (ADR 0013), with how many charges it carried
        (metrics); each was answered only after the flush barrier."""
        self._on_early = observer

    # -- queries --------------------------------------------------------------------------

    def wallet(self, caller: Caller, org_id: str, at: datetime | None = None) -> WalletView:
        now = self.clock.now()
        with self.uow_factory() as uow:
            self._require_view(uow, caller, org_id)
            wallet = uow.repo(WalletRepository).get(org_id)
            if wallet is None:
                if not self._may_hold(uow, org_id):
                    raise errors.WalletNotFound("no such wallet")
                wallet = Wallet(org_id=org_id, created_at=now)
            if at is None or at >= now:
                day = self.clock.local(now).date()
                figures = wallet.figures(now)
                if wallet.held > 0:  # like a lapsed coupon, an expired hold counts no more (ADR 0012)
                    lapsed = uow.repo(HoldRepository).expired_amount_of(org_id, now)
                    figures = dataclasses.replace(figures, held=figures.held - lapsed)
                return WalletView(org_id=org_id, at=now, figures=figures,
                                  grants=sorted((g for g in wallet.grants if g.usable(now)),
                                                key=CouponGrant.sort_key),
                                  daily_budget=wallet.daily_budget, spent_today=wallet.spent_on(day),
                                  low_balance_threshold=wallet.low_balance_threshold,
                                  low_balance_alerted=wallet.low_balance_alerted,
                                  withholding_active=wallet.withholding_active)
            return self._historical(uow, org_id, at)

    def _historical(self, uow: UnitOfWork, org_id: str, at: datetime) -> WalletView:
        """Figures at a past moment, from the postings up to it. A coupon counts if it was
        unexpired at that moment."""
        balances = uow.repo(LedgerRepository).balances_at(org_id, at)
        all_grants = {g.id: g for g in uow.repo(WalletRepository).grants(org_id, include_spent=True,
                                                                          offset=0, limit=100_000)}
        sums = {CASH: ZERO, CREDIT: ZERO, CREDIT_LINE: ZERO, HELD: ZERO, DEPOSIT: ZERO, DEPOSIT_DUE: ZERO}
        grants: list[CouponGrant] = []
        coupons = dict.fromkeys(COUPON_KINDS, ZERO)
        for account, amount in balances.items():
            if account.name in sums:
                sums[account.name] += amount
            elif account.coupon_kind and amount > 0:
                g = all_grants.get(account.grant_id)
                if g is not None and at < g.expires_at:
                    coupons[account.coupon_kind] += amount
                    grants.append(dataclasses.replace(g, remaining=amount))
        figures = Figures(cash=sums[CASH], coupons_normal=coupons["normal"], coupons_traffic=coupons["traffic"],
                          credit_limit=sums[CREDIT_LINE], credit_used=-sums[CREDIT], held=sums[HELD],
                          deposit_due=sums[DEPOSIT_DUE], deposit_paid=sums[DEPOSIT])
        return WalletView(org_id=org_id, at=at, figures=figures, grants=sorted(grants, key=CouponGrant.sort_key),
                          historical=True)

    def entries(self, caller: Caller, org_id: str, page: PageRequest, flt: LineFilter) -> Page[StatementLine]:
        if flt.type is not None and flt.type not in ENTRY_TYPES:
            raise ValidationFailed("type", f"must be one of {', '.join(ENTRY_TYPES)}", code="invalid_entry_type")
        with self.uow_factory() as uow:
            self._require_view(uow, caller, org_id)
            items, total = uow.repo(LedgerRepository).lines(org_id, flt, page.offset, page.per_page)
        return Page(items, page.page, page.per_page, total)

    def entry(self, caller: Caller, org_id: str, entry_id: str) -> EntryResult:
        with self.uow_factory() as uow:
            self._require_view(uow, caller, org_id)
            repo = uow.repo(LedgerRepository)
            line = repo.line(org_id, entry_id)
            entry = repo.get(entry_id) if line is not None else None
        if entry is None:
            raise NotFound("no such entry", code="entry_not_found")
        return EntryResult(entry, line)

    def consumption(self, caller: Caller, org_id: str, granularity: str, from_day: str,
                    to_day: str) -> list[ConsumptionRow]:
        check_granularity(granularity)
        since, until = consumption_range(self.clock, from_day, to_day, granularity)
        with self.uow_factory() as uow:
            self._require_view(uow, caller, org_id)
            return uow.repo(LedgerRepository).consumption(org_id, granularity, since, until)

    def grants(self, caller: Caller, org_id: str, page: PageRequest, include_spent: bool) -> Page[CouponGrant]:
        with self.uow_factory() as uow:
            self._require_view(uow, caller, org_id)
            repo = uow.repo(WalletRepository)
            items = repo.grants(org_id, include_spent=include_spent, offset=page.offset, limit=page.per_page)
            total = repo.count_grants(org_id, include_spent=include_spent)
        return Page(items, page.page, page.per_page, total)

    def holds(self, caller: Caller, org_id: str, page: PageRequest, status: str | None) -> Page[Hold]:
        with self.uow_factory() as uow:
            self._require_view(uow, caller, org_id)
            items, total = uow.repo(HoldRepository).list(org_id, status, page.offset, page.per_page)
        return Page(items, page.page, page.per_page, total)

    def ledger_total(self) -> Decimal:
        """The sum of all postings: zero, always (benchmarks and health checks ask)."""
        with self.uow_factory() as uow:
            return uow.repo(LedgerRepository).total()

    # -- charges ----------------------------------------------------------------------------

    def charge(self, caller: Caller | None, org_id: str, amount: Decimal, reference: str, *,
               coupon_kind: str | None = None, payees: Sequence[tuple[str, Decimal]] = (),
               withholding: bool | None = None, note: str | None = None) -> EntryResult:
        """消耗. ``caller=None`` is another module charging in-process; it says whether this is
        a withholding charge (needs an active agreement) with ``withholding``.

        Concurrent charges on one wallet in this process share a transaction (ADR 0006):
        each is still decided on its own, in arrival order, and gets its own entry."""
        amount = to_money(amount, "amount", positive=True)
        clean_reference(reference)  # refused before any read or lock
        payee_list = self._payees(org_id, payees)
        mode = self._spend_mode(caller, org_id, bool(payee_list))
        if caller is None and withholding is not None:
            mode = withholding
        request = _Charge(org_id, amount, reference, coupon_kind, tuple(payee_list), mode, self._actor(caller), note,
                          current_commit_guards(), _person(caller))
        return self._charges.submit(org_id, request)

    def _charge_one(self, c: _Charge) -> EntryResult:
        with commit_guards(c.guards):  # its own, in whichever thread runs it
            return self._charge_one_guarded(c)

    def _charge_one_guarded(self, c: _Charge) -> EntryResult:
        if self._unlocked and not c.payees:
            outcome, landed = self._charge_unlocked([c])
            self._on_unlocked(outcome)
            if landed is not None:
                return landed[0]
        result = self._charge_locked(c)  # a refusal waited in ``_run`` (ADR 0013)
        if result.replayed:
            self._durable()
        return result

    def _charge_locked(self, c: _Charge) -> EntryResult:
        def command(tx: Ledger) -> EntryResult:
            wallets = tx.lock(c.org_id, *(p for p, _ in c.payees))
            try:
                entry = tx.spending(c.org_id, lambda: self._decide_charge(c, wallets, tx.now))
            except DomainError:
                replay = self._replay(tx.uow, c)
                if replay is not None:
                    return replay
                raise
            if not tx.write(entry):
                replay = self._replay(tx.uow, c)
                assert replay is not None
                return replay
            tx.save()
            _log_charge(tx.uow, c, entry)
            line = tx.lines[c.org_id]
            tx.uow.commit()
            return EntryResult(entry, line)

        return self._run(command, _payee_fields(c.payees))

    def _charge_batch(self, charges: Sequence[_Charge]) -> list[EntryResult | BaseException]:
        """Charges in one transaction (the combiner batches those of one wallet; each charge
        names its own, and every payer and payee is locked in one sorted select), decided
        one after the other in order, exactly as if each had waited for the wallet's lock
        behind the previous one. The
        commit runs the guards (Idempotency-Key leases) of the charges it writes an entry
        for — not of refused or repeated ones, which take no effect: if one fails, the batch
        fails as a whole and each charge runs again on its own (``Combiner``).

        A batch of plain charges is first tried as one unlocked write (ADR 0010): decided on
        an unlocked read, written by one statement under the terms for their total."""
        if self._unlocked and not any(c.payees for c in charges):
            outcome, landed = self._charge_unlocked(charges)
            for _ in charges:
                self._on_unlocked(outcome)
            if landed is not None:
                return list(landed)
        def command(tx: Ledger) -> list[EntryResult | BaseException]:
            wallets = tx.lock(*(c.org_id for c in charges), *(p for c in charges for p, _ in c.payees))
            # under the wallets' locks no other transaction can write their charges: a key
            # absent now stays absent until this one commits
            keys = [charge_key(c.org_id, c.reference) for c in charges]
            taken = tx.uow.repo(LedgerRepository).existing_keys({k for k in keys if k})
            out: list[EntryResult | BaseException | None] = []
            for c, key in zip(charges, keys, strict=True):
                if key and key in taken:
                    out.append(None)  # a repeat: answered below, once the first is written
                    continue
                try:
                    entry = tx.spending(c.org_id, functools.partial(self._decide_charge, c, wallets, tx.now))
                except DomainError as refused:
                    out.append(refused)
                    continue
                tx.stage(entry)
                taken.add(key or "")
                out.append(EntryResult(entry, tx.lines[c.org_id]))
            tx.flush()  # every new entry in one statement, then the repeats can find theirs
            results: list[EntryResult | BaseException] = []
            for c, res in zip(charges, out, strict=True):
                if res is None:
                    try:
                        res = self._replay(tx.uow, c)
                    except DomainError as refused:
                        res = refused
                    assert res is not None
                results.append(res)
            tx.save()
            for c, res in zip(charges, out, strict=True):
                if isinstance(res, EntryResult):
                    _log_charge(tx.uow, c, res.entry)
            with commit_guards(tuple(g for c, res in zip(charges, out, strict=True)
                                     if isinstance(res, EntryResult) for g in c.guards)):
                tx.uow.commit()
            return results

        # committed even when it wrote nothing but its row lock: a refusal or a replay here
        # is answered after a flush, which covers any charge it saw (ADR 0013)
        return self._run(command)

    def _run(self, command: Callable[[Ledger], T], fields: Mapping[str, str] | None = None) -> T:
        """As ``WalletBase._run``; every wallet the command locked is forgotten by the memory
        of recent wallets, so what this process changed under the lock is usually read again
        (best effort: a read racing the change may be remembered after it, and other services
        forget nothing — a stale copy then costs one declined statement, never a wrong
        answer). The lock path also follows every charge whose unlocked attempt did not
        land, so a copy that was stale is forgotten there."""
        def forgetting(tx: Ledger) -> T:
            try:
                return command(tx)
            finally:
                self._recent.forget(*tx.wallets)

        return super()._run(forgetting, fields)

    def _charge_unlocked(self, charges: Sequence[_Charge]) -> tuple[str, list[EntryResult] | None]:
        """ADR 0010: decide plain charges on one wallet (one, or a batch the combiner made)
        on an unlocked read of it, one after the other, and write them with one statement
        that applies them only if the wallet still meets the terms of their total
        (``Wallet.unlocked_charge_terms``): any wallet that affords the total within those
        terms affords each charge after the ones before it, drawn the same way. The row is
        locked only while that statement runs: on a hot wallet no charge waits for another
        one's decision or round trips. No entry (only the outcome, for metrics) whenever
        anything is not plain — a charge's or the wallet's shape, a refusal, a reference
        repeated (in the batch or in the ledger), a wallet that changed meanwhile — and the
        lock path decides.
        With no Idempotency-Key guard, no handler for ``WalletCharged`` and no person's
        charge (its operation-log row) the statement commits on its own; otherwise it
        commits with them, in one transaction."""
        org_id = charges[0].org_id
        keys = [k for k in (charge_key(c.org_id, c.reference) for c in charges) if k]
        if any(c.payees or c.org_id != org_id for c in charges) or len(set(keys)) < len(keys):
            return "not_plain", None
        guards = tuple(g for c in charges for g in c.guards)
        # a person's charge is logged with it (the operation log), so it is never on its own
        solo = not guards and not self._registry.handlers_for(WalletCharged.event_name()) \
            and not any(c.person for c in charges)
        with commit_guards(guards), self.uow_factory(autocommit=solo) as uow:
            # a copy read a moment ago decides as safely as a fresh read: the statement checks
            # the terms on the live row (ADR 0010 addendum, application/wallet/snapshots.py)
            wallet = self._recent.get(org_id)
            if wallet is None:
                wallet = uow.repo(WalletRepository).get(org_id)
                if wallet is None:
                    return "not_plain", None
                self._recent.remember(wallet)
            now = self.clock.now()
            terms = wallet.unlocked_charge_terms(sum((c.amount for c in charges), ZERO), now,
                                                 withholding=any(c.withholding for c in charges), tz=self.clock.tz)
            if terms is None:
                return "not_plain", None
            entries: list[JournalEntry] = []
            lines: list[StatementLine] = []
            for c in charges:
                try:
                    entries.append(self._decide_charge(c, {org_id: wallet}, now))
                except DomainError:
                    return "not_plain", None  # confirmed (or not) under the lock, on the newest figures
                lines.append(wallet.line_for(entries[-1], now, self.clock.tz))
            if solo and any(e.integration and self._registry.handlers_for(e.event_name()) for e in wallet.events):
                return "not_plain", None  # an event that must commit with the charge: not on its own
            uow.publish(*wallet.events)  # before the write: an autocommit unit refuses what it could not keep
            early = solo and self._contention is not None and self._contention.contended(org_id)
            if early and self._early_allowed is None:
                self._early_allowed = uow.repo(LedgerRepository).can_release_early()
                if not self._early_allowed:
                    log.warning("early lock release is off: this database role may not run "
                                "pg_logical_emit_message (ADR 0013)")
            early = early and bool(self._early_allowed)
            try:
                landed = uow.repo(LedgerRepository).add_unlocked(entries, lines, terms, release_early=early)
            except Exception:
                if early and self._contention is not None:
                    self._contention.forget(org_id)  # measured again before the next early release
                raise
            if landed is None:
                return "declined", None
            if self._contention is not None:
                self._contention.landed(org_id, landed.version, len(charges))
            if early:
                self._on_early(len(charges))
            results = [EntryResult(*_as_landed(entry, line, landed, lines[-1]))
                       for entry, line in zip(entries, lines, strict=True)]
            for c, res in zip(charges, results, strict=True):
                _log_charge(uow, c, res.entry)  # dated as it landed
            uow.commit()
        return "landed", results

    def _decide_charge(self, c: _Charge, wallets: dict[str, Wallet], now: datetime) -> JournalEntry:
        return wallets[c.org_id].charge(c.amount, c.reference, now, coupon_kind=c.coupon_kind,
                                        payees=[(wallets[p], a) for p, a in c.payees], withholding=c.withholding,
                                        tz=self.clock.tz, actor_id=c.actor, note=c.note)

    def _replay(self, uow: UnitOfWork, c: _Charge) -> EntryResult | None:
        return self._replay_charge(uow, c.org_id, c.reference, c.amount, c.coupon_kind, list(c.payees))

    def _replay_charge(self, uow: UnitOfWork, org_id: str, reference: str, amount: Decimal,
                       coupon_kind: str | None, payees: list[tuple[str, Decimal]]) -> EntryResult | None:
        key = charge_key(org_id, reference)
        if key is None:
            return None
        ref = reference.strip()
        ledger = uow.repo(LedgerRepository)
        existing = ledger.by_unique_key(key)
        if existing is None:
            return None
        detail = existing.detail
        # the same payees in any order are the same request
        same_payees = (sorted(p for p in detail.get("payees", "").split(",") if p)
                       == sorted(f"{o}:{a}" for o, a in payees))
        if existing.amount != amount or detail.get("coupon_kind") != (coupon_kind or "normal") or not same_payees:
            raise errors.DuplicateReference(f"reference {ref!r} was already charged with another request",
                                            details={"entry_id": existing.id})
        return EntryResult(existing, ledger.line(org_id, existing.id), replayed=True)

    # -- holds ------------------------------------------------------------------------------------

    def hold(self, caller: Caller | None, org_id: str, amount: Decimal, reference: str, expires_at: datetime,
             coupon_kind: str | None = None) -> HoldResult:
        amount = to_money(amount, "amount", positive=True)
        clean_reference(reference)  # refused before any read or lock
        mode = self._spend_mode(caller, org_id, False)
        actor = self._actor(caller)

        def command(tx: Ledger) -> HoldResult:
            wallet = tx.lock(org_id)[org_id]
            # a repeat is answered before anything is decided: deciding may release expired
            # holds (ADR 0012), the repeated one among them, in a transaction a repeat rolls back
            replay = self._replay_hold(tx.uow, org_id, reference, amount, coupon_kind)
            if replay is not None:
                return replay
            hold, entry = tx.spending(org_id, lambda: wallet.place_hold(amount, reference, expires_at, tx.now,
                                                                        actor, coupon_kind, withholding=mode))
            if not tx.write(entry):  # under the wallet's lock no one else writes its holds
                raise RuntimeError(f"hold key of {reference!r} taken under the wallet's lock")
            tx.uow.repo(HoldRepository).add(hold)
            tx.save()
            _log_person(tx.uow, caller, "wallet.hold", entry, f"hold {amount} for {reference}")
            tx.uow.commit()
            return HoldResult(hold, entry.id)

        return self._run(command)

    def _replay_hold(self, uow: UnitOfWork, org_id: str, reference: str, amount: Decimal,
                     coupon_kind: str | None) -> HoldResult | None:
        """The first hold of a reference answers a repeat (its own status and expiry shown: a
        retry that recomputed its deadline still gets the first hold); a request that would
        reserve something else — another amount or coupon kind — is refused (409)."""
        ref = (reference or "").strip()
        existing = uow.repo(HoldRepository).by_reference(org_id, ref) if ref else None
        if existing is None:
            return None
        if existing.amount != amount or existing.coupon_kind != (coupon_kind or "normal"):
            raise errors.DuplicateReference(
                f"reference {ref!r} already has a {existing.coupon_kind} hold of {existing.amount}",
                details={"hold_id": existing.id})
        return HoldResult(existing, existing.entry_id, replayed=True)

    def _load_hold(self, caller: Caller | None, hold_id: str) -> Hold:
        with self.uow_factory() as uow:
            hold = uow.repo(HoldRepository).get(hold_id)
        if hold is None or (caller is not None and not caller.can_see_org(org_of(hold.org_id))):
            raise errors.HoldNotFound("no such hold")
        return hold

    def capture(self, caller: Caller | None, hold_id: str, amount: Decimal | None = None,
                payees: Sequence[tuple[str, Decimal]] = ()) -> EntryResult:
        org_id = self._load_hold(caller, hold_id).org_id
        payee_list = self._payees(org_id, payees)
        if amount is not None:
            amount = to_money(amount, "amount", positive=True)
        # a hold is already the authorisation of this payment (a platform-placed one needed the
        # wallet's withholding agreement when it was placed): capturing it needs nothing more
        self._spend_mode(caller, org_id, bool(payee_list))
        actor = self._actor(caller)

        def command(tx: Ledger) -> EntryResult:
            wallets = tx.lock(org_id, *(p for p, _ in payee_list))
            hold = tx.uow.repo(HoldRepository).get(hold_id)  # re-read under the wallet's lock
            assert hold is not None
            entry = tx.spending(org_id, lambda: wallets[org_id].capture(
                hold, tx.now, amount, payees=[(wallets[p], a) for p, a in payee_list], tz=self.clock.tz,
                actor_id=actor))
            if not tx.write(entry):  # pragma: no cover - the hold's status guards this
                raise errors.HoldNotActive("hold already settled")
            tx.uow.repo(HoldRepository).save(hold)
            tx.save()
            _log_person(tx.uow, caller, "wallet.capture", entry, f"capture {entry.amount} of hold {hold_id}")
            line = tx.lines[org_id]
            tx.uow.commit()
            return EntryResult(entry, line)

        return self._run(command, _payee_fields(payee_list))

    def release(self, caller: Caller | None, hold_id: str) -> HoldResult:
        org_id = self._load_hold(caller, hold_id).org_id
        self._spend_mode(caller, org_id, False)
        actor = self._actor(caller)

        def command(tx: Ledger) -> HoldResult:
            wallet = tx.lock(org_id)[org_id]
            hold = tx.uow.repo(HoldRepository).get(hold_id)
            assert hold is not None
            entry = wallet.release(hold, tx.now, actor_id=actor)
            tx.write(entry)
            tx.uow.repo(HoldRepository).save(hold)
            tx.save()
            _log_person(tx.uow, caller, "wallet.release", entry, f"release hold {hold_id}")
            tx.uow.commit()
            return HoldResult(hold, entry.id)

        return self._run(command)

    def get_hold(self, caller: Caller, hold_id: str) -> Hold:
        """Whoever may view the wallet sees its holds: the list's rule (an agency's admin
        sees its authorised principals' holds without acting for them). Whoever may place
        and capture them (a buyer, ``trade.buy``) sees one by its id too: a hold carries no
        wallet figures."""
        with self.uow_factory() as uow:
            hold = uow.repo(HoldRepository).get(hold_id)
            if hold is None:
                raise errors.HoldNotFound("no such hold")
            try:
                try:
                    self._require_view(uow, caller, hold.org_id)
                except Forbidden as no_view:
                    try:
                        self._spend_mode(caller, hold.org_id, False)
                    except Forbidden:
                        raise no_view from None
            except errors.WalletNotFound:
                raise errors.HoldNotFound("no such hold") from None
        return hold

    # -- allocation ---------------------------------------------------------------------------------

    def _require_agency(self, uow: UnitOfWork, caller: Caller, agency_org_id: str, principal_org_id: str,
                        ended_too: bool = False) -> None:
        """The caller acts for the agency, and ``principal_org_id`` is its principal; with
        ``ended_too`` (a reclaim) also a former one: money it allocated and the principal
        has not spent comes back after the relation ends."""
        caller.require("wallet.allocate", org_id=org_of(agency_org_id), missing=errors.WalletNotFound)
        if caller.is_platform or org_of(agency_org_id) not in (caller.org_id,):
            raise Forbidden("only the agency itself allocates its money", code="permission_denied")
        allowed = ("authorized", "terminated") if ended_too else ("authorized",)
        if not self._principal_of(uow, agency_org_id, principal_org_id, allowed):
            raise errors.PrincipalNotFound("no such authorised principal")

    @staticmethod
    def _same_purpose(agency_key: str, principal: str, field: str) -> str:
        """The principal's wallet of the agency wallet's purpose: money allocated from an
        external wallet goes to the principal's external wallet."""
        p_org, p_purpose = split_key(principal)
        purpose = split_key(agency_key)[1]
        if SEPARATOR in principal and p_purpose != purpose:
            raise ValidationFailed(field, f"must be a {purpose} wallet, as the agency's",
                                   code="purpose_mismatch")
        return wallet_key(p_org, purpose)

    def allocate(self, caller: Caller, agency_org_id: str, principal_org_id: str, amount: Decimal,
                 note: str | None = None) -> EntryResult:
        amount = to_money(amount, "amount", positive=True)
        principal_org_id = self._same_purpose(agency_org_id, principal_org_id, "to_org_id")
        with self.uow_factory() as uow:
            self._require_agency(uow, caller, agency_org_id, principal_org_id)

        def command(tx: Ledger) -> EntryResult:
            wallets = tx.lock(agency_org_id, principal_org_id)
            entry = tx.spending(agency_org_id, lambda: wallets[agency_org_id].allocate_to(
                wallets[principal_org_id], amount, tx.now, self._actor(caller), note))
            return self._finish(tx, caller, entry, agency_org_id, "wallet.allocate",
                                f"allocated {amount} to {principal_org_id}")

        return self._run(command)

    def reclaim(self, caller: Caller, agency_org_id: str, principal_org_id: str, amount: Decimal,
                note: str | None = None) -> EntryResult:
        amount = to_money(amount, "amount", positive=True)
        principal_org_id = self._same_purpose(agency_org_id, principal_org_id, "from_org_id")
        with self.uow_factory() as uow:
            self._require_agency(uow, caller, agency_org_id, principal_org_id, ended_too=True)

        def command(tx: Ledger) -> EntryResult:
            wallets = tx.lock(agency_org_id, principal_org_id)
            ledger = tx.uow.repo(LedgerRepository)
            net = ledger.allocated_net(agency_org_id, principal_org_id)
            unspent = unspent_allocations(ledger.allocation_moves(principal_org_id)).get(agency_org_id, ZERO)
            entry = tx.spending(principal_org_id, lambda: wallets[agency_org_id].reclaim_from(
                wallets[principal_org_id], amount, net, tx.now, self._actor(caller), note, unspent=unspent))
            return self._finish(tx, caller, entry, agency_org_id, "wallet.reclaim",
                                f"reclaimed {amount} from {principal_org_id}")

        return self._run(command)

    def _finish(self, tx: Ledger, caller: Caller | None, entry: JournalEntry | None, org_id: str,
                operation: str, summary: str) -> EntryResult:
        """Write the entry and figures, log the operation, commit."""
        tx.write(entry)
        tx.save()
        if caller is not None:
            record(tx.uow, caller, operation, entry.id if entry else org_id, summary, tx.now, org_id=org_of(org_id))
        line = tx.lines.get(org_id) if entry is not None else None
        tx.uow.commit()
        if entry is None:
            raise _NoEntry(org_id)
        return EntryResult(entry, line)

    # -- coupons ----------------------------------------------------------------------------------

    def grant_coupon(self, caller: Caller, org_id: str, kind: str, amount: Decimal, expires_at: datetime,
                     note: str | None = None) -> tuple[CouponGrant, EntryResult]:
        general_only(org_id, "coupons")
        amount = to_money(amount, "amount", positive=True)
        funder_id: str | None = None
        if caller.is_platform:
            caller.require("wallet.coupons.grant")
        else:
            with self.uow_factory() as uow:
                if "agency" not in caller.org_kinds or not self._principal_of(uow, caller.org_id, org_id):
                    if caller.can_see_org(org_id):  # its own wallet: it exists, the grant is not theirs to make
                        raise Forbidden("coupons are granted by the platform, or by an agency to its principals",
                                        code="permission_denied", details={"permission": "wallet.coupons.grant"})
                    raise errors.WalletNotFound("no such wallet")
                caller.require("wallet.allocate")
            funder_id = caller.org_id
        holder: list[CouponGrant] = []

        def command(tx: Ledger) -> EntryResult:
            wallets = tx.lock(org_id, *([funder_id] if funder_id else []))
            grant, entry = tx.spending(funder_id or org_id, lambda: wallets[org_id].grant_coupon(
                kind, amount, expires_at, tx.now, wallets[funder_id] if funder_id else None, self._actor(caller),
                note))
            holder.append(grant)
            return self._finish(tx, caller, entry, org_id, "wallet.coupon_grant",
                                f"granted a {kind} coupon of {amount} to {org_id}, expiring {expires_at.isoformat()}")

        result = self._run(command)
        return holder[-1], result

    # -- credit, deposits -------------------------------------------------------------------------

    def set_credit_limit(self, caller: Caller, org_id: str, limit: Decimal, note: str | None = None) -> WalletView:
        caller.require("wallet.credit.manage")
        general_only(org_id, "credit line")
        self._setting(caller, org_id, lambda w, now: w.set_credit_limit(limit, now, self._actor(caller), note),
                      "wallet.credit_limit", f"credit limit set to {limit}")
        return self.wallet(caller, org_id)

    def set_deposit_due(self, caller: Caller, org_id: str, due: Decimal, note: str | None = None) -> WalletView:
        caller.require("wallet.deposit.manage")
        general_only(org_id, "deposit")
        self._setting(caller, org_id, lambda w, now: w.set_deposit_due(due, now, self._actor(caller), note),
                      "wallet.deposit_due", f"deposit due set to {due}")
        return self.wallet(caller, org_id)

    def refund_deposit(self, caller: Caller, org_id: str, amount: Decimal | None,
                       note: str | None = None) -> EntryResult:
        caller.require("wallet.deposit.manage")
        if not caller.is_platform:
            raise Forbidden("only the platform refunds deposits", code="permission_denied")
        general_only(org_id, "deposit")

        def command(tx: Ledger) -> EntryResult:
            wallet = tx.lock(org_id)[org_id]
            entry = wallet.refund_deposit(amount, tx.now, self._actor(caller), note)
            return self._finish(tx, caller, entry, org_id, "wallet.deposit_refund", f"refunded deposit {entry.amount}")

        return self._run(command)

    def pay_deposit(self, caller: Caller, org_id: str, amount: Decimal | None) -> EntryResult:
        self._require_own(caller, "wallet.deposit.pay", org_id)
        general_only(org_id, "deposit")

        def command(tx: Ledger) -> EntryResult:
            wallet = tx.lock(org_id)[org_id]
            entry = tx.spending(org_id, lambda: wallet.pay_deposit(amount, tx.now, self._actor(caller)))
            return self._finish(tx, caller, entry, org_id, "wallet.deposit_pay", f"paid deposit {entry.amount}")

        return self._run(command)

    def _setting(self, caller: Caller, org_id: str, change: Callable[[Wallet, datetime], JournalEntry | None],
                 operation: str, summary: str) -> None:
        if not caller.is_platform:
            raise Forbidden("only the platform sets this", code="permission_denied")

        def command(tx: Ledger) -> None:
            wallet = tx.lock(org_id)[org_id]
            entry = change(wallet, tx.now)
            with contextlib.suppress(_NoEntry):  # unchanged: nothing to write
                self._finish(tx, caller, entry, org_id, operation, summary)

        self._run(command)

    def set_daily_budget(self, caller: Caller, org_id: str, budget: Decimal | None) -> WalletView:
        with self.uow_factory() as uow:
            self._require_manage(uow, caller, org_id)
            self._require_view(uow, caller, org_id)  # the answer shows the figures: refused before writing
        general_only(org_id, "daily budget")

        def command(tx: Ledger) -> None:
            wallet = tx.lock(org_id)[org_id]
            wallet.set_daily_budget(budget)
            tx.save()
            record(tx.uow, caller, "wallet.daily_budget", org_id, f"daily budget set to {budget}", tx.now,
                   org_id=org_of(org_id))
            tx.uow.commit()

        self._run(command)
        return self.wallet(caller, org_id)

    def set_low_balance_threshold(self, caller: Caller, org_id: str, threshold: Decimal | None) -> WalletView:
        with self.uow_factory() as uow:
            self._require_manage(uow, caller, org_id)
            self._require_view(uow, caller, org_id)  # the answer shows the figures: refused before writing

        def command(tx: Ledger) -> None:
            wallet = tx.lock(org_id)[org_id]
            wallet.set_low_balance_threshold(threshold, tx.now)
            tx.save()
            record(tx.uow, caller, "wallet.low_balance_threshold", org_id,
                   f"low-balance threshold set to {threshold}", tx.now, org_id=org_of(org_id))
            tx.uow.commit()

        self._run(command)
        return self.wallet(caller, org_id)

    # -- withholding agreements --------------------------------------------------------------------

    def bind_agreement(self, caller: Caller, org_id: str, account: str, account_name: str,
                       account_type: str) -> WithholdingAgreement:
        self._require_own(caller, "wallet.manage", org_id)
        self._not_acting(caller, "binds a withholding agreement")
        general_only(org_id, "withholding agreement")
        now = self.clock.now()
        agreement = WithholdingAgreement.bind(org_id, account, account_name, account_type, now,
                                              self._actor(caller))
        with self.uow_factory() as uow:
            if uow.repo(OrganizationRepository).get(org_id) is None:
                raise errors.WalletNotFound("no such wallet")
            repo = uow.repo(AgreementRepository)
            if repo.current(org_id) is not None:
                raise errors.AgreementExists("revoke the current agreement before binding another account")
            repo.add(agreement)
            record(uow, caller, "wallet.agreement_bind", agreement.id, f"bound {account_name} ({account})", now,
                   org_id=org_of(org_id))
            uow.commit()
        return agreement

    def agreements(self, caller: Caller, org_id: str) -> list[WithholdingAgreement]:
        with self.uow_factory() as uow:
            if not (caller.is_platform_admin or (caller.can_see_org(org_of(org_id)) and caller.has("wallet.manage"))):
                self._require_view(uow, caller, org_id)
            return uow.repo(AgreementRepository).list(org_id)

    def _agreement(self, caller: Caller, org_id: str, agreement_id: str,
                   change: Callable[[WithholdingAgreement, datetime], None], active: bool,
                   operation: str) -> WithholdingAgreement:
        holder: list[WithholdingAgreement] = []

        def command(tx: Ledger) -> None:
            wallet = tx.lock(org_id)[org_id]  # the wallet's lock also orders agreement changes
            repo = tx.uow.repo(AgreementRepository)
            agreement = repo.get(agreement_id)
            if agreement is None or agreement.org_id != org_id:
                raise errors.AgreementNotFound("no such agreement")
            change(agreement, tx.now)
            repo.save(agreement)
            wallet.set_withholding(active)
            tx.save()
            record(tx.uow, caller, operation, agreement.id, f"agreement {agreement.status}", tx.now,
                   org_id=org_of(org_id))
            tx.uow.commit()
            holder.append(agreement)

        self._run(command)
        return holder[-1]

    def confirm_agreement(self, caller: Caller, org_id: str, agreement_id: str) -> WithholdingAgreement:
        if not caller.is_platform_admin:
            caller.require_org(org_of(org_id), errors.WalletNotFound)
            raise Forbidden("the platform confirms withholding agreements", code="permission_denied")
        general_only(org_id, "withholding agreement")
        return self._agreement(caller, org_id, agreement_id, lambda a, now: a.confirm(now, self._actor(caller)),
                               True, "wallet.agreement_confirm")

    def revoke_agreement(self, caller: Caller, org_id: str, agreement_id: str) -> WithholdingAgreement:
        if not caller.is_platform_admin:
            self._require_own(caller, "wallet.manage", org_id)
            self._not_acting(caller, "revokes a withholding agreement")
        return self._agreement(caller, org_id, agreement_id, lambda a, now: a.revoke(now, self._actor(caller)),
                               False, "wallet.agreement_revoke")

    # -- background work ------------------------------------------------------------------------

    def expire_coupons(self, limit: int = 500) -> int:
        """One lapse entry per expired grant with money left, each in its own transaction."""
        now = self.clock.now()
        with self.uow_factory() as uow:
            due = uow.repo(WalletRepository).expired_grants(now, limit)
        done = 0
        for grant in due:
            funder = None if grant.granted_by == "platform" else grant.granted_by

            def command(tx: Ledger, grant: CouponGrant = grant, funder: str | None = funder) -> int:
                wallets = tx.lock(grant.org_id, *([funder] if funder else []))
                wallet = wallets[grant.org_id]
                live = next((g for g in wallet.grants if g.id == grant.id), None)
                if live is None:
                    return 0  # spent or lapsed meanwhile
                entry = wallet.lapse_coupon(live, tx.now, wallets[funder] if funder else None)
                if entry is None or not tx.write(entry):
                    return 0
                tx.save()
                tx.uow.commit()
                return 1

            done += self._run(command)
        return done

    def expire_holds(self, limit: int = 500) -> int:
        now = self.clock.now()
        with self.uow_factory() as uow:
            due = uow.repo(HoldRepository).expired(now, limit)
        done = 0
        for hold in due:
            def command(tx: Ledger, hold_id: str = hold.id, org_id: str = hold.org_id) -> int:
                wallet = tx.lock(org_id)[org_id]
                live = tx.uow.repo(HoldRepository).get(hold_id)
                if live is None or live.status != "active" or tx.now < live.expires_at:
                    return 0
                entry = wallet.release(live, tx.now, expired=True)
                if not tx.write(entry):
                    return 0
                tx.uow.repo(HoldRepository).save(live)
                tx.save()
                tx.uow.commit()
                return 1

            done += self._run(command)
        return done

    def sweep_low_balance(self, batch: int = 200) -> int:
        """Re-evaluate alert thresholds (time alone moves ``available``: coupons lapse, holds
        expire). A wallet's expired holds are released first, as a spend would (ADR 0012):
        money only an expired hold reserves is not missing."""
        after: str | None = None
        changed = 0
        while True:
            with self.uow_factory() as uow:
                ids = uow.repo(WalletRepository).with_threshold(after, batch)
            for org_id in ids:
                def command(tx: Ledger, org_id: str = org_id) -> int:
                    wallet = tx.lock(org_id)[org_id]
                    before = wallet.low_balance_alerted
                    released = tx.release_expired_holds(org_id)  # their entries re-evaluate the alert
                    alerted = wallet.evaluate_low_balance(tx.now)
                    if not (released or alerted):
                        return 0
                    if alerted:
                        wallet.version += 1
                    tx.save()
                    tx.uow.commit()
                    return int(wallet.low_balance_alerted != before)

                changed += self._run(command)
            if len(ids) < batch:
                return changed
            after = ids[-1]


class _NoEntry(Exception):
    """Internal: a setting did not change, so there is no entry to answer with."""


def day_bounds(clock: Clock, day: str) -> tuple[datetime, datetime]:
    """UTC bounds of a platform-time-zone day (for ``from``/``to`` filters given as dates)."""
    start = datetime.fromisoformat(day).replace(tzinfo=clock.tz)
    return start, start + timedelta(days=1)


__all__ = ["EntryResult", "HoldResult", "Ledger", "MissingWallets", "WalletBase", "WalletService", "WalletView",
           "day_bounds"]
