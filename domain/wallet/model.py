"""The wallet aggregate and its companions (coupon grants, holds, recharges, withdrawals,
withholding agreements).

A :class:`Wallet` keeps the cached figures of one organisation's wallet accounts and
enforces every rule of spec wallet.md in its methods. Each money-moving method checks
everything first and only then mutates, so a refused command leaves the wallet as it
was; it returns the :class:`JournalEntry` that records the movement. Multi-wallet
movements (payees, allocation, agency coupons) take the other wallets as arguments:
the caller has locked them all, in a fixed order, beforehand.

Time comes in as ``now`` (UTC, aware); day boundaries use ``tz`` (Asia/Shanghai).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo

from domain.shared.events import DomainEvent
from domain.shared.ids import new_id
from domain.shared.money import to_money
from domain.wallet import errors
from domain.wallet.events import RechargeCredited, RechargeFlagged, WalletCharged, WalletLowBalance
from domain.wallet.ledger import (
    CASH,
    COUPON_FUNDING,
    COUPON_KINDS,
    CREDIT,
    CREDIT_LINE,
    CREDIT_LINES,
    DEPOSIT,
    DEPOSIT_DUE,
    DEPOSITS_DUE,
    HELD,
    HOLDS,
    PAYOUTS_PENDING,
    PLATFORM,
    REVENUE,
    ZERO,
    Account,
    Breakdown,
    EntryBuilder,
    JournalEntry,
    coupon_account,
)

PLATFORM_TZ = ZoneInfo("Asia/Shanghai")
ONLINE_CHANNELS = ("sandbox", "alipay")
RECHARGE_CHANNELS = ("offline", *ONLINE_CHANNELS)
MAX_NOTE = 500
MAX_REFERENCE = 100


def _note(note: str | None, field: str = "note", *, required: bool = False) -> str:
    text = (note or "").strip()
    if required and not text:
        raise errors.InvalidWalletInput(field, "is required", code="note_required")
    if len(text) > MAX_NOTE:
        raise errors.InvalidWalletInput(field, f"must be at most {MAX_NOTE} characters", code="note_too_long")
    return text


def clean_reference(reference: str) -> str:
    """A charge's or hold's reference without its surrounding spaces; 422
    ``invalid_reference`` if that leaves nothing or too much."""
    ref = (reference or "").strip()
    if not ref or len(ref) > MAX_REFERENCE:
        raise errors.InvalidWalletInput("reference", f"must be 1-{MAX_REFERENCE} characters",
                                        code="invalid_reference")
    return ref


def charge_key(org_id: str, reference: str) -> str | None:
    """The unique key of the charge of wallet ``org_id`` for ``reference`` (None for a blank
    reference, which no charge can have): one charge per (wallet, reference)."""
    ref = (reference or "").strip()
    return f"charge:{org_id}:{ref}" if ref else None


def _positive(amount: Decimal, field: str = "amount") -> Decimal:
    return to_money(amount, field, positive=True)


def _kind(kind: str | None, field: str = "coupon_kind") -> str:
    kind = kind or "normal"
    if kind not in COUPON_KINDS:
        raise errors.InvalidWalletInput(field, "must be normal or traffic", code="invalid_coupon_kind")
    return kind


def _aware(moment: datetime, field: str) -> datetime:
    if moment.tzinfo is None:
        raise errors.InvalidWalletInput(field, "must carry a time-zone offset", code="invalid_datetime")
    return moment


@dataclasses.dataclass(frozen=True)
class Figures:
    """What a wallet shows at one moment."""

    cash: Decimal
    coupons_normal: Decimal
    coupons_traffic: Decimal
    credit_limit: Decimal
    credit_used: Decimal
    held: Decimal
    deposit_due: Decimal
    deposit_paid: Decimal

    @property
    def coupons(self) -> Decimal:
        return self.coupons_normal + self.coupons_traffic

    @property
    def available(self) -> Decimal:
        return self.cash + self.coupons + (self.credit_limit - self.credit_used) - self.held


@dataclasses.dataclass
class CouponGrant:
    id: str
    org_id: str
    kind: str
    amount: Decimal
    remaining: Decimal
    expires_at: datetime
    granted_by: str  # PLATFORM, or the granting agency's organisation id
    created_at: datetime
    lapsed_at: datetime | None = None

    @property
    def account(self) -> Account:
        return Account(self.org_id, coupon_account(self.kind), self.id)

    def usable(self, now: datetime) -> bool:
        """A coupon is spendable strictly before its expiry instant."""
        return self.remaining > 0 and now < self.expires_at

    def sort_key(self) -> tuple[datetime, datetime, str]:
        return (self.expires_at, self.created_at, self.id)


@dataclasses.dataclass
class Hold:
    id: str
    org_id: str
    reference: str
    amount: Decimal
    expires_at: datetime
    created_at: datetime
    status: str = "active"  # active | captured | released | expired
    coupon_kind: str = "normal"  # which coupons the capture may use first
    captured: Decimal = ZERO
    settled_at: datetime | None = None
    entry_id: str | None = None  # the hold entry
    settle_entry_id: str | None = None  # the capture or release entry

    @property
    def remaining(self) -> Decimal:
        return self.amount if self.status == "active" else ZERO


@dataclasses.dataclass
class Recharge:
    id: str
    org_id: str
    channel: str  # offline | sandbox | alipay
    amount: Decimal
    status: str  # pending | paid | failed | revoked
    created_at: datetime
    note: str = ""
    created_by: str | None = None
    payment_url: str | None = None
    gateway_trade_no: str | None = None
    paid_at: datetime | None = None
    entry_id: str | None = None
    credit_repaid: Decimal = ZERO  # the part that repaid post-pay (reversed by a revoke)
    refunded: Decimal = ZERO  # withdrawn back through the channel (pending or done)
    revoked_at: datetime | None = None
    revoke_entry_id: str | None = None
    flag: str | None = None  # why finance must look at it (amount mismatch ...)
    failure: str = ""  # what the gateway said when the payment failed

    @property
    def online(self) -> bool:
        return self.channel != "offline"

    @classmethod
    def online_intent(cls, org_id: str, channel: str, amount: Decimal, note: str | None, now: datetime,
                      created_by: str | None) -> Recharge:
        if channel not in ONLINE_CHANNELS:
            raise errors.InvalidWalletInput("channel", f"must be one of {', '.join(RECHARGE_CHANNELS)}",
                                            code="invalid_channel")
        return cls(id=new_id("rch"), org_id=org_id, channel=channel, amount=_positive(amount), status="pending",
                   created_at=now, note=_note(note), created_by=created_by)

    def fail(self, detail: str) -> bool:
        """The gateway says the payment failed; True if that changed anything."""
        if self.status != "pending":
            return False
        self.status = "failed"
        self.failure = detail[:MAX_NOTE]
        return True


def _other_trade(recharge: Recharge, gateway_trade_no: str | None) -> bool:
    """The gateway speaks of another payment than the one ``recharge`` was created or
    credited with: a second payment of one order, or the gateway's mistake."""
    bound = recharge.gateway_trade_no
    return bool(gateway_trade_no and bound and gateway_trade_no != bound)


@dataclasses.dataclass
class Withdrawal:
    id: str
    org_id: str
    recharge_id: str
    channel: str
    amount: Decimal
    status: str  # pending | succeeded | failed
    created_at: datetime
    created_by: str | None = None
    reason: str = ""
    settled_at: datetime | None = None
    detail: str = ""
    entry_id: str | None = None
    settle_entry_id: str | None = None


@dataclasses.dataclass
class WithholdingAgreement:
    """代收代扣: a customer binds an enterprise payment account; the platform confirms it."""

    id: str
    org_id: str
    account: str
    account_name: str
    status: str  # pending | active | revoked
    created_at: datetime
    created_by: str | None = None
    confirmed_at: datetime | None = None
    confirmed_by: str | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None

    @classmethod
    def bind(cls, org_id: str, account: str, account_name: str, account_type: str, now: datetime,
             created_by: str | None) -> WithholdingAgreement:
        if account_type != "enterprise":
            raise errors.InvalidWalletInput("account_type", "the withholding account must be an enterprise account",
                                            code="enterprise_account_required")
        account = (account or "").strip()
        if not account or len(account) > 100:
            raise errors.InvalidWalletInput("account", "must be 1-100 characters", code="invalid_account")
        name = (account_name or "").strip()
        if not name or len(name) > 100:
            raise errors.InvalidWalletInput("account_name", "must be 1-100 characters", code="invalid_account")
        return cls(id=new_id("wha"), org_id=org_id, account=account, account_name=name, status="pending",
                   created_at=now, created_by=created_by)

    def confirm(self, now: datetime, by: str | None) -> None:
        if self.status != "pending":
            raise errors.InvalidAgreementStatus(f"agreement is {self.status}, only a pending one can be confirmed")
        self.status, self.confirmed_at, self.confirmed_by = "active", now, by

    def revoke(self, now: datetime, by: str | None) -> None:
        if self.status == "revoked":
            raise errors.InvalidAgreementStatus("agreement is already revoked")
        self.status, self.revoked_at, self.revoked_by = "revoked", now, by


@dataclasses.dataclass(frozen=True)
class StatementLine:
    """One row of a wallet's statement: an entry as seen by one wallet, with balances after."""

    entry_id: str
    org_id: str
    seq: int  # the wallet's version after the entry: orders a wallet's rows
    type: str
    created_at: datetime
    local_day: str  # YYYY-MM-DD in the platform time zone (consumption reports group on it)
    amount: Decimal  # net change of spendable value (cash, coupons, post-pay)
    breakdown: Breakdown
    after: Figures
    reference: str | None = None
    counterparty_org_id: str | None = None
    note: str = ""
    details: tuple[tuple[str, str], ...] = ()


@dataclasses.dataclass(frozen=True, kw_only=True)
class ChargeTerms:
    """What a charge decided on an *unlocked* read of a wallet relies on (ADR 0010).

    The domain's decision on the wallet as it is when the write lands is the same one —
    the same postings, the same breakdown, no event but ``WalletCharged`` — as long as:
    every figure below is unchanged, the wallet has no coupons, it is not in low-balance
    alert, ``cash >= cash_floor``, today's spend was counted on ``day`` and is at most
    ``spent_ceiling`` (when there is a daily budget), and the wallet's last change is dated
    before ``day_ends`` (the charge is then dated on ``day`` too). The write checks exactly
    that in the statement that applies the charge; anything else is decided under the lock."""

    org_id: str
    amount: Decimal  # drawn from cash, all of it; counted in today's spend
    cash_floor: Decimal
    day: date
    day_ends: datetime  # the next local midnight (aware)
    spent_ceiling: Decimal | None
    credit_limit: Decimal
    credit_used: Decimal
    held: Decimal
    held_traffic: Decimal
    daily_budget: Decimal | None
    low_balance_threshold: Decimal | None
    needs_withholding: bool


Payees = Sequence[tuple["Wallet", Decimal]]


@dataclasses.dataclass
class Wallet:
    org_id: str
    created_at: datetime
    cash: Decimal = ZERO
    credit_limit: Decimal = ZERO
    credit_used: Decimal = ZERO
    held: Decimal = ZERO
    held_traffic: Decimal = ZERO  # the part of ``held`` that traffic-kind holds reserve
    deposit_due: Decimal = ZERO
    deposit_paid: Decimal = ZERO
    grants: list[CouponGrant] = dataclasses.field(default_factory=list)  # every grant with remaining > 0
    daily_budget: Decimal | None = None
    spent_day: date | None = None
    spent_today: Decimal = ZERO
    low_balance_threshold: Decimal | None = None
    low_balance_alerted: bool = False
    withholding_active: bool = False
    version: int = 0
    events: list[DomainEvent] = dataclasses.field(default_factory=list, repr=False, compare=False)
    dirty_grants: dict[str, CouponGrant] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    # -- figures ----------------------------------------------------------------------

    def coupons(self, now: datetime, kind: str | None = None) -> Decimal:
        return sum((g.remaining for g in self.grants if g.usable(now) and (kind is None or g.kind == kind)), ZERO)

    def available(self, now: datetime) -> Decimal:
        return self.cash + self.coupons(now) + (self.credit_limit - self.credit_used) - self.held

    def figures(self, now: datetime) -> Figures:
        return Figures(cash=self.cash, coupons_normal=self.coupons(now, "normal"),
                       coupons_traffic=self.coupons(now, "traffic"), credit_limit=self.credit_limit,
                       credit_used=self.credit_used, held=self.held, deposit_due=self.deposit_due,
                       deposit_paid=self.deposit_paid)

    def spent_on(self, day: date) -> Decimal:
        return self.spent_today if self.spent_day == day else ZERO

    def usable_grants(self, kind: str, now: datetime) -> list[CouponGrant]:
        return sorted((g for g in self.grants if g.kind == kind and g.usable(now)), key=CouponGrant.sort_key)

    def _acct(self, name: str) -> Account:
        return Account(self.org_id, name)

    # -- bookkeeping helpers ----------------------------------------------------------------

    def _touch(self, now: datetime) -> None:
        """After any change: bump the version and evaluate the low-balance alert."""
        self.version += 1
        self.evaluate_low_balance(now)

    def evaluate_low_balance(self, now: datetime) -> bool:
        """Crossing the threshold downward publishes one event; going back to or above it re-arms."""
        threshold = self.low_balance_threshold
        if threshold is None:
            changed = self.low_balance_alerted
            self.low_balance_alerted = False
            return changed
        available = self.available(now)
        if available < threshold:
            if not self.low_balance_alerted:
                self.low_balance_alerted = True
                self.events.append(WalletLowBalance(org_id=self.org_id, available=available, threshold=threshold))
                return True
            return False
        if self.low_balance_alerted:
            self.low_balance_alerted = False
            return True
        return False

    def _pay_in(self, b: EntryBuilder, amount: Decimal) -> tuple[Decimal, Decimal]:
        """Money arriving repays outstanding post-pay first, the rest becomes cash."""
        repay = min(self.credit_used, amount)
        to_cash = amount - repay
        b.post(self._acct(CREDIT), repay)
        b.post(self._acct(CASH), to_cash)
        self.credit_used -= repay
        self.cash += to_cash
        return repay, to_cash

    def normal_room(self, now: datetime) -> Decimal:
        """By how much the funds a normal-kind capture may use (normal coupons, cash, credit)
        exceed what normal-kind holds reserve. Traffic coupons back only traffic holds, so
        besides ``available`` >= 0 this must stay >= 0 for every hold to stay capturable."""
        return (self.coupons(now, "normal") + max(self.cash, ZERO) + (self.credit_limit - self.credit_used)
                - (self.held - self.held_traffic))

    def _check_cash_out(self, amount: Decimal, now: datetime, what: str) -> None:
        """Cash leaving the wallet: it must be there, and the holds must stay covered."""
        if amount > self.cash:
            raise errors.InsufficientFunds(f"cash {self.cash} < {amount}", details={
                "cash": str(self.cash), "amount": str(amount), "operation": what})
        if self.available(now) - amount < 0:
            raise errors.InsufficientFunds(f"available {self.available(now)} < {amount} ({what})", details={
                "available": str(self.available(now)), "amount": str(amount), "operation": what})
        room = self.normal_room(now)
        if room - amount < 0:
            raise errors.InsufficientFunds(f"{amount} would leave the holds uncovered ({what})", details={
                "available": str(self.available(now)), "spendable": str(max(room, ZERO)), "amount": str(amount),
                "operation": what})

    def _take_cash(self, b: EntryBuilder, amount: Decimal) -> None:
        b.post(self._acct(CASH), -amount)
        self.cash -= amount

    def _plan(self, amount: Decimal, kind: str, now: datetime, available: Decimal, room: Decimal
              ) -> list[tuple[str, CouponGrant | None, Decimal]]:
        """Sources in the spec's order: matching coupons (soonest expiry first), normal
        coupons, cash, then credit. What it draws from the funds normal holds rely on must fit
        in ``room`` (``normal_room``). Raises InsufficientFunds and changes nothing."""
        if amount > available:
            raise errors.InsufficientFunds(f"available {available} < {amount}", details={
                "available": str(available), "amount": str(amount)})
        grants = self.usable_grants(kind, now)
        if kind != "normal":
            grants += self.usable_grants("normal", now)
        left = amount
        plan: list[tuple[str, CouponGrant | None, Decimal]] = []
        for g in grants:
            if left == 0:
                break
            take = min(g.remaining, left)
            plan.append(("coupon", g, take))
            left -= take
        for source, have in ((CASH, self.cash), (CREDIT, self.credit_limit - self.credit_used)):
            if left == 0:
                break
            take = min(max(have, ZERO), left)
            if take > 0:
                plan.append((source, None, take))
                left -= take
        if left > 0:
            spendable = amount - left
            raise errors.InsufficientFunds(
                f"spendable {spendable} < {amount} for a {kind} charge", details={
                    "available": str(available), "spendable": str(spendable), "amount": str(amount)})
        from_traffic = sum((take for _, g, take in plan if g is not None and g.kind == "traffic"), ZERO)
        if amount - from_traffic > room:
            spendable = from_traffic + max(room, ZERO)
            raise errors.InsufficientFunds(
                f"spendable {spendable} < {amount}: the rest is reserved by holds", details={
                    "available": str(available), "spendable": str(spendable), "amount": str(amount)})
        return plan

    def _apply_plan(self, b: EntryBuilder, plan: list[tuple[str, CouponGrant | None, Decimal]]) -> None:
        for source, grant, take in plan:
            if grant is not None:
                grant.remaining -= take
                self.dirty_grants[grant.id] = grant
                b.post(grant.account, -take)
            elif source == CASH:
                self._take_cash(b, take)
            else:
                self.credit_used += take
                b.post(self._acct(CREDIT), -take)
        self.grants = [g for g in self.grants if g.remaining > 0]

    def _check_budget(self, amount: Decimal, now: datetime, tz: tzinfo) -> date:
        day = now.astimezone(tz).date()
        if self.daily_budget is not None:
            spent = self.spent_on(day)
            if spent + amount > self.daily_budget:
                raise errors.DailyBudgetExceeded(
                    f"today's spend {spent} + {amount} would exceed the daily budget {self.daily_budget}",
                    details={"daily_budget": str(self.daily_budget), "spent_today": str(spent),
                             "amount": str(amount), "day": day.isoformat()})
        return day

    def _count_spend(self, day: date, amount: Decimal) -> None:
        if self.spent_day is not None and day < self.spent_day:
            return  # dated before the day already counted (another host's clock): today's total stays
        self.spent_today = self.spent_on(day) + amount
        self.spent_day = day

    def _check_payees(self, payees: Payees, amount: Decimal) -> list[tuple[Wallet, Decimal]]:
        out: list[tuple[Wallet, Decimal]] = []
        seen: set[str] = set()
        for i, (wallet, pay) in enumerate(payees):
            pay = to_money(pay, f"payees.{i}.amount", positive=True)
            if wallet.org_id == self.org_id:
                raise errors.InvalidWalletInput(f"payees.{i}.org_id", "must not be the paying organisation",
                                                code="invalid_payee")
            if wallet.org_id in seen:
                raise errors.InvalidWalletInput(f"payees.{i}.org_id", "is named twice", code="invalid_payee")
            seen.add(wallet.org_id)
            out.append((wallet, pay))
        total = sum((p for _, p in out), ZERO)
        if total > amount:
            raise errors.InvalidWalletInput("payees", f"payee amounts {total} exceed the charge {amount}",
                                            code="payees_exceed_charge")
        return out

    def _pay_payees(self, b: EntryBuilder, payees: list[tuple[Wallet, Decimal]], amount: Decimal,
                    now: datetime) -> None:
        for wallet, pay in payees:
            wallet._pay_in(b, pay)
        margin = amount - sum((p for _, p in payees), ZERO)
        b.post(Account.platform(REVENUE), margin)
        for wallet, _ in payees:
            wallet._touch(now)

    # -- recharge -------------------------------------------------------------------------

    def offline_recharge(self, amount: Decimal, note: str | None, now: datetime,
                         actor_id: str | None = None) -> tuple[Recharge, JournalEntry]:
        """Finance staff record money received off-line; credited at once."""
        amount = _positive(amount)
        text = _note(note, required=True)
        recharge = Recharge(id=new_id("rch"), org_id=self.org_id, channel="offline", amount=amount,
                            status="pending", created_at=now, note=text, created_by=actor_id)
        entry = self._credit(recharge, now, actor_id)
        return recharge, entry

    def _credit(self, recharge: Recharge, now: datetime, actor_id: str | None) -> JournalEntry:
        b = EntryBuilder()
        b.post(Account.external(recharge.channel), -recharge.amount)
        repaid, _ = self._pay_in(b, recharge.amount)
        entry = b.build(id=new_id("ent"), type="recharge", org_id=self.org_id, created_at=now,
                        amount=recharge.amount, reference=recharge.id, unique_key=f"recharge:{recharge.id}",
                        note=recharge.note, actor_id=actor_id,
                        details={"channel": recharge.channel, "recharge_id": recharge.id,
                                 "credit_repaid": str(repaid)})
        recharge.status, recharge.paid_at, recharge.entry_id = "paid", now, entry.id
        recharge.credit_repaid = repaid
        self._touch(now)
        self.events.append(RechargeCredited(org_id=self.org_id, recharge_id=recharge.id, channel=recharge.channel,
                                            amount=recharge.amount, entry_id=entry.id))
        return entry

    def credit_recharge(self, recharge: Recharge, paid_amount: Decimal, gateway_trade_no: str | None,
                        now: datetime) -> JournalEntry | None:
        """A verified notification (or query) says the payment succeeded. Credits exactly
        once: a repeat returns None. A different amount is refused and flagged."""
        if recharge.org_id != self.org_id:
            raise errors.RechargeNotFound("no such recharge")
        bound = recharge.gateway_trade_no
        other_trade = _other_trade(recharge, gateway_trade_no)
        if recharge.status == "paid":
            if other_trade:
                raise self._flag(recharge, errors.TradeMismatch(
                    f"trade mismatch: gateway says trade {gateway_trade_no}, recharge was credited with {bound} "
                    "(a second payment of the order?)", details={"expected": bound, "notified": gateway_trade_no}))
            return None
        if recharge.status not in ("pending", "failed") or not recharge.online:
            raise errors.InvalidRechargeStatus(f"recharge is {recharge.status}")
        if paid_amount != recharge.amount:
            raise self._flag(recharge, errors.AmountMismatch(
                f"amount mismatch: gateway says {paid_amount}, recharge is {recharge.amount}",
                details={"expected": str(recharge.amount), "notified": str(paid_amount)}))
        if other_trade:
            raise self._flag(recharge, errors.TradeMismatch(
                f"trade mismatch: gateway says trade {gateway_trade_no}, recharge is bound to {bound}",
                details={"expected": bound, "notified": gateway_trade_no}))
        recharge.gateway_trade_no = gateway_trade_no or bound
        return self._credit(recharge, now, None)

    def fail_recharge(self, recharge: Recharge, gateway_trade_no: str | None, detail: str) -> bool:
        """The gateway says the payment failed; True if that changed anything. A failure of
        another trade than the one the recharge is bound to is refused and flagged
        (TradeMismatch): it says nothing about this recharge's payment."""
        if recharge.org_id != self.org_id:
            raise errors.RechargeNotFound("no such recharge")
        if _other_trade(recharge, gateway_trade_no):
            raise self._flag(recharge, errors.TradeMismatch(
                f"trade mismatch: gateway says trade {gateway_trade_no} failed, recharge is bound to "
                f"{recharge.gateway_trade_no}",
                details={"expected": recharge.gateway_trade_no, "notified": gateway_trade_no}))
        return recharge.fail(detail)

    def _flag(self, recharge: Recharge, refusal: errors.PaymentMismatch) -> errors.PaymentMismatch:
        """Flag ``recharge`` for platform finance with the refusal's reason (once per
        reason: a gateway retrying the same notification does not flag it again)."""
        if recharge.flag != refusal.message:
            recharge.flag = refusal.message
            self.events.append(RechargeFlagged(org_id=self.org_id, recharge_id=recharge.id,
                                               channel=recharge.channel, reason=refusal.message))
        return refusal

    def revoke_recharge(self, recharge: Recharge, now: datetime, actor_id: str | None = None,
                        note: str | None = None) -> JournalEntry:
        """Reverse an offline recharge once, while the wallet still has that much."""
        if recharge.org_id != self.org_id:
            raise errors.RechargeNotFound("no such recharge")
        if recharge.channel != "offline":
            raise errors.NotRevocable("only offline recharges can be revoked")
        if recharge.status == "revoked":
            raise errors.NotRevocable("this recharge was already revoked", code="already_revoked")
        if recharge.status != "paid":
            raise errors.NotRevocable(f"recharge is {recharge.status}")
        to_cash = recharge.amount - recharge.credit_repaid
        headroom = self.credit_limit - self.credit_used
        available = self.available(now)
        if (to_cash > self.cash or recharge.credit_repaid > headroom or recharge.amount > available
                or recharge.amount > self.normal_room(now)):
            raise errors.RevokeNotCovered(
                f"the wallet no longer covers {recharge.amount} (cash {self.cash}, available {available})",
                details={"cash": str(self.cash), "available": str(available), "amount": str(recharge.amount)})
        b = EntryBuilder()
        self._take_cash(b, to_cash)
        b.post(self._acct(CREDIT), -recharge.credit_repaid)
        self.credit_used += recharge.credit_repaid
        b.post(Account.external("offline"), recharge.amount)
        entry = b.build(id=new_id("ent"), type="revoke", org_id=self.org_id, created_at=now,
                        amount=recharge.amount, reference=recharge.id, unique_key=f"revoke:{recharge.id}",
                        note=_note(note), actor_id=actor_id,
                        details={"recharge_id": recharge.id, "reverses": recharge.entry_id or ""})
        recharge.status, recharge.revoked_at, recharge.revoke_entry_id = "revoked", now, entry.id
        self._touch(now)
        return entry

    # -- refund / withdrawal ---------------------------------------------------------------------

    def request_withdrawal(self, recharge: Recharge, amount: Decimal, now: datetime, actor_id: str | None = None,
                           reason: str | None = None) -> tuple[Withdrawal, JournalEntry]:
        """Cash back through the channel it came in by; pending until the gateway confirms."""
        amount = _positive(amount)
        if recharge.org_id != self.org_id:
            raise errors.RechargeNotFound("no such recharge")
        if not recharge.online or recharge.status != "paid":
            raise errors.NotRefundable("only paid online recharges can be refunded")
        refundable = recharge.amount - recharge.refunded
        if amount > refundable:
            raise errors.NotRefundable(f"at most {refundable} of this recharge can be refunded",
                                       details={"refundable": str(refundable)})
        self._check_cash_out(amount, now, "withdrawal")
        b = EntryBuilder()
        self._take_cash(b, amount)
        b.post(Account.platform(PAYOUTS_PENDING), amount)
        withdrawal = Withdrawal(id=new_id("wdr"), org_id=self.org_id, recharge_id=recharge.id,
                                channel=recharge.channel, amount=amount, status="pending", created_at=now,
                                created_by=actor_id, reason=_note(reason, "reason"))
        entry = b.build(id=new_id("ent"), type="refund", org_id=self.org_id, created_at=now, amount=amount,
                        reference=withdrawal.id, unique_key=f"withdrawal:{withdrawal.id}", note=withdrawal.reason,
                        actor_id=actor_id, details={"withdrawal_id": withdrawal.id, "recharge_id": recharge.id,
                                                    "channel": recharge.channel, "status": "pending"})
        withdrawal.entry_id = entry.id
        recharge.refunded += amount
        self._touch(now)
        return withdrawal, entry

    def settle_withdrawal(self, withdrawal: Withdrawal, recharge: Recharge, succeeded: bool, detail: str,
                          now: datetime) -> JournalEntry | None:
        """The gateway confirmed (money left) or failed (money comes back). Once only."""
        if withdrawal.org_id != self.org_id or recharge.id != withdrawal.recharge_id:
            raise errors.WithdrawalNotFound("no such withdrawal")
        if withdrawal.status != "pending":
            return None
        b = EntryBuilder()
        b.post(Account.platform(PAYOUTS_PENDING), -withdrawal.amount)
        if succeeded:
            b.post(Account.external(withdrawal.channel), withdrawal.amount)
        else:
            self._pay_in(b, withdrawal.amount)
            recharge.refunded -= withdrawal.amount
        status = "succeeded" if succeeded else "failed"
        entry = b.build(id=new_id("ent"), type="refund", org_id=self.org_id, created_at=now,
                        amount=withdrawal.amount, reference=withdrawal.id,
                        unique_key=f"withdrawal-settle:{withdrawal.id}", note=detail[:MAX_NOTE],
                        details={"withdrawal_id": withdrawal.id, "status": status, "channel": withdrawal.channel})
        withdrawal.status, withdrawal.settled_at, withdrawal.detail = status, now, detail[:MAX_NOTE]
        withdrawal.settle_entry_id = entry.id
        self._touch(now)  # a statement row for the outcome, even when no wallet figure moved
        return entry

    # -- allocation -----------------------------------------------------------------------------

    def allocate_to(self, principal: Wallet, amount: Decimal, now: datetime, actor_id: str | None = None,
                    note: str | None = None) -> JournalEntry:
        """An agency moves money from its wallet to a principal's (分配 / 划账)."""
        amount = _positive(amount)
        if principal.org_id == self.org_id:
            raise errors.InvalidWalletInput("to_org_id", "must be another organisation", code="invalid_principal")
        self._check_cash_out(amount, now, "allocation")
        b = EntryBuilder()
        self._take_cash(b, amount)
        principal._pay_in(b, amount)
        entry = b.build(id=new_id("ent"), type="allocation", org_id=self.org_id, created_at=now, amount=amount,
                        counterparty_org_id=principal.org_id, note=_note(note), actor_id=actor_id,
                        details={"direction": "allocate", "from_org_id": self.org_id,
                                 "to_org_id": principal.org_id})
        self._touch(now)
        principal._touch(now)
        return entry

    def reclaim_from(self, principal: Wallet, amount: Decimal, allocated_net: Decimal, now: datetime,
                     actor_id: str | None = None, note: str | None = None, *,
                     unspent: Decimal) -> JournalEntry:
        """The agency takes unspent allocated money back: at most what it allocated, net of
        earlier reclaims, no more of it than is unspent (``unspent_allocation``: the
        principal's own money is never taken), and only from the principal's cash."""
        amount = _positive(amount)
        if principal.org_id == self.org_id:
            raise errors.InvalidWalletInput("from_org_id", "must be another organisation",
                                            code="invalid_principal")
        reclaimable = max(min(allocated_net, unspent), ZERO)
        if amount > reclaimable:
            raise errors.ReclaimExceedsAllocated(
                f"only {reclaimable} allocated to this principal is unspent and left to reclaim",
                details={"allocated_net": str(allocated_net), "reclaimable": str(reclaimable)})
        principal._check_cash_out(amount, now, "reclaim")
        b = EntryBuilder()
        principal._take_cash(b, amount)
        self._pay_in(b, amount)
        entry = b.build(id=new_id("ent"), type="allocation", org_id=self.org_id, created_at=now, amount=amount,
                        counterparty_org_id=principal.org_id, note=_note(note), actor_id=actor_id,
                        details={"direction": "reclaim", "from_org_id": principal.org_id,
                                 "to_org_id": self.org_id})
        principal._touch(now)
        self._touch(now)
        return entry

    # -- coupons ---------------------------------------------------------------------------------

    def grant_coupon(self, kind: str, amount: Decimal, expires_at: datetime, now: datetime,
                     funder: Wallet | None = None, actor_id: str | None = None,
                     note: str | None = None) -> tuple[CouponGrant, JournalEntry]:
        """A red packet: funded by the platform (``funder`` None) or by an agency's cash."""
        kind = _kind(kind, "kind")
        amount = _positive(amount)
        if _aware(expires_at, "expires_at") <= now:
            raise errors.InvalidWalletInput("expires_at", "must be in the future", code="invalid_expiry")
        if funder is not None:
            if funder.org_id == self.org_id:
                raise errors.InvalidWalletInput("org_id", "cannot grant coupons to itself", code="invalid_grant")
            funder._check_cash_out(amount, now, "coupon grant")
        grant = CouponGrant(id=new_id("cpn"), org_id=self.org_id, kind=kind, amount=amount, remaining=amount,
                            expires_at=expires_at, granted_by=funder.org_id if funder else PLATFORM, created_at=now)
        b = EntryBuilder()
        if funder is None:
            b.post(Account.platform(COUPON_FUNDING), -amount)
        else:
            funder._take_cash(b, amount)
        b.post(grant.account, amount)
        self.grants.append(grant)
        self.dirty_grants[grant.id] = grant
        entry = b.build(id=new_id("ent"), type="coupon_change", org_id=self.org_id, created_at=now, amount=amount,
                        reference=grant.id, unique_key=f"grant:{grant.id}", note=_note(note), actor_id=actor_id,
                        counterparty_org_id=funder.org_id if funder else None,
                        details={"action": "grant", "kind": kind, "grant_id": grant.id,
                                 "expires_at": expires_at.isoformat()})
        self._touch(now)
        if funder is not None:
            funder._touch(now)
        return grant, entry

    def lapse_coupon(self, grant: CouponGrant, now: datetime, funder: Wallet | None = None) -> JournalEntry | None:
        """At expiry what is left of a grant lapses back to its funder (one entry per lapse)."""
        if grant.org_id != self.org_id or grant.remaining <= 0 or now < grant.expires_at:
            return None
        if (funder.org_id if funder else PLATFORM) != grant.granted_by:
            raise ValueError("lapse must return to the grant's funder")
        left = grant.remaining
        b = EntryBuilder()
        b.post(grant.account, -left)
        if funder is None:
            b.post(Account.platform(COUPON_FUNDING), left)
        else:
            funder._pay_in(b, left)
        grant.remaining = ZERO
        grant.lapsed_at = now
        self.dirty_grants[grant.id] = grant
        self.grants = [g for g in self.grants if g.remaining > 0]
        entry = b.build(id=new_id("ent"), type="coupon_change", org_id=self.org_id, created_at=now, amount=left,
                        reference=grant.id, unique_key=f"lapse:{grant.id}",
                        counterparty_org_id=funder.org_id if funder else None,
                        details={"action": "lapse", "kind": grant.kind, "grant_id": grant.id,
                                 "expires_at": grant.expires_at.isoformat()})
        self._touch(now)
        if funder is not None:
            funder._touch(now)
        return entry

    # -- charge ------------------------------------------------------------------------------

    def charge(self, amount: Decimal, reference: str, now: datetime, *, coupon_kind: str | None = None,
               payees: Payees = (), withholding: bool = False, tz: tzinfo = PLATFORM_TZ,
               actor_id: str | None = None, note: str | None = None) -> JournalEntry:
        """消耗: spend for a reference; sources drawn in the spec's order. Payees receive
        their part in the same entry, the platform the rest (its margin)."""
        amount = _positive(amount)
        reference = clean_reference(reference)
        kind = _kind(coupon_kind)
        text = _note(note)
        paid = self._check_payees(payees, amount)
        self._check_withholding(withholding)
        day = self._check_budget(amount, now, tz)
        plan = self._plan(amount, kind, now, self.available(now), self.normal_room(now))
        b = EntryBuilder()
        self._apply_plan(b, plan)
        self._count_spend(day, amount)
        self._pay_payees(b, paid, amount, now)
        entry = b.build(id=new_id("ent"), type="charge", org_id=self.org_id, created_at=now, amount=amount,
                        reference=reference, unique_key=charge_key(self.org_id, reference), note=text,
                        actor_id=actor_id, details=_charge_details(kind, paid, withholding))
        self._touch(now)
        self.events.append(WalletCharged(org_id=self.org_id, entry_id=entry.id, reference=reference, amount=amount))
        return entry

    def unlocked_charge_terms(self, amount: Decimal, now: datetime, *, payees: Payees = (),
                              withholding: bool = False, tz: tzinfo = PLATFORM_TZ) -> ChargeTerms | None:
        """The terms under which ``charge(amount, ...)`` decided on this (unlocked, possibly
        stale) copy is also the decision on the wallet as it will be, or None when the charge
        is not of the plainest shape: drawn from cash alone, no coupons (their order depends
        on every grant), no payees (other wallets), not crossing the low-balance threshold
        (that publishes an event once), today's spend already counted today. Call it before
        ``charge``, on the same copy and ``now``."""
        if payees or self.grants or self.low_balance_alerted or (withholding and not self.withholding_active):
            return None
        day = now.astimezone(tz).date()
        if self.spent_day != day:
            return None
        short = self.held - (self.credit_limit - self.credit_used)  # what cash must cover beyond the charge
        floor = max(amount, amount + short)  # cash pays it all; available and the holds' room stay >= 0
        if self.low_balance_threshold is not None:
            floor = max(floor, self.low_balance_threshold + amount + short)  # stays at or above the threshold
        ceiling = None if self.daily_budget is None else self.daily_budget - amount
        if self.cash < floor or (ceiling is not None and self.spent_today > ceiling):
            return None
        day_ends = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
        return ChargeTerms(org_id=self.org_id, amount=amount, cash_floor=floor, day=day, day_ends=day_ends,
                           spent_ceiling=ceiling,
                           credit_limit=self.credit_limit, credit_used=self.credit_used, held=self.held,
                           held_traffic=self.held_traffic, daily_budget=self.daily_budget,
                           low_balance_threshold=self.low_balance_threshold, needs_withholding=withholding)

    # -- holds ---------------------------------------------------------------------------------

    def _check_withholding(self, withholding: bool) -> None:
        if withholding and not self.withholding_active:
            raise errors.WithholdingAgreementRequired(
                "charging without a per-order payment needs an active withholding agreement")

    def place_hold(self, amount: Decimal, reference: str, expires_at: datetime, now: datetime,
                   actor_id: str | None = None, coupon_kind: str | None = None,
                   withholding: bool = False) -> tuple[Hold, JournalEntry]:
        """订单冻结: reserve part of ``available`` for a pending order until ``expires_at``."""
        amount = _positive(amount)
        reference = clean_reference(reference)
        kind = _kind(coupon_kind)
        self._check_withholding(withholding)
        if _aware(expires_at, "expires_at") <= now:
            raise errors.InvalidWalletInput("expires_at", "must be in the future", code="invalid_expiry")
        available = self.available(now)
        if amount > available:
            raise errors.InsufficientFunds(f"available {available} < {amount}", details={
                "available": str(available), "amount": str(amount)})
        # what a capture of this kind could draw on at any moment before the hold expires:
        # normal coupons (and, for a traffic hold, traffic coupons) that last that long, cash
        # and credit — less what the other holds reserve; normal holds cannot use traffic coupons
        def lasting(k: str) -> Decimal:
            return sum((g.remaining for g in self.grants
                        if g.kind == k and g.usable(now) and g.expires_at >= expires_at), ZERO)

        base = lasting("normal") + max(self.cash, ZERO) + (self.credit_limit - self.credit_used)
        spendable = base + lasting("traffic") - self.held
        if kind == "normal":
            spendable = min(spendable, base - (self.held - self.held_traffic))
        if amount > spendable:
            raise errors.InsufficientFunds(
                f"spendable {spendable} < {amount} for a {kind} hold until {expires_at.isoformat()}", details={
                    "available": str(available), "spendable": str(spendable), "amount": str(amount)})
        hold = Hold(id=new_id("hld"), org_id=self.org_id, reference=reference, amount=amount,
                    expires_at=expires_at, created_at=now, coupon_kind=kind)
        b = EntryBuilder()
        b.post(self._acct(HELD), amount)
        b.post(Account.platform(HOLDS), -amount)
        self.held += amount
        if kind == "traffic":
            self.held_traffic += amount
        entry = b.build(id=new_id("ent"), type="hold", org_id=self.org_id, created_at=now, amount=amount,
                        reference=reference, unique_key=f"hold:{self.org_id}:{reference}", actor_id=actor_id,
                        details={"hold_id": hold.id, "expires_at": expires_at.isoformat()})
        hold.entry_id = entry.id
        self._touch(now)
        return hold, entry

    def _unhold(self, b: EntryBuilder, hold: Hold) -> Decimal:
        left = hold.remaining
        b.post(self._acct(HELD), -left)
        b.post(Account.platform(HOLDS), left)
        self.held -= left
        if hold.coupon_kind == "traffic":
            self.held_traffic -= left
        return left

    def capture(self, hold: Hold, now: datetime, amount: Decimal | None = None, *, payees: Payees = (),
                tz: tzinfo = PLATFORM_TZ, actor_id: str | None = None, withholding: bool = False) -> JournalEntry:
        """Turn all or part of a hold into a charge; the rest is released in the same entry."""
        if hold.org_id != self.org_id:
            raise errors.HoldNotFound("no such hold")
        if hold.status != "active":
            raise errors.HoldNotActive(f"hold is {hold.status}")
        if now >= hold.expires_at:
            raise errors.HoldExpired("the hold expired; it is released, not captured")
        amount = hold.amount if amount is None else _positive(amount)
        if amount > hold.remaining:
            raise errors.InvalidWalletInput("amount", f"must not exceed the held {hold.remaining}",
                                            code="capture_exceeds_hold")
        paid = self._check_payees(payees, amount)
        self._check_withholding(withholding)
        day = self._check_budget(amount, now, tz)
        freed = hold.remaining if hold.coupon_kind == "normal" else ZERO  # its own reservation is not in the way
        plan = self._plan(amount, hold.coupon_kind, now, self.available(now) + hold.remaining,
                          self.normal_room(now) + freed)
        b = EntryBuilder()
        released = self._unhold(b, hold) - amount
        self._apply_plan(b, plan)
        self._count_spend(day, amount)
        self._pay_payees(b, paid, amount, now)
        entry = b.build(id=new_id("ent"), type="capture", org_id=self.org_id, created_at=now, amount=amount,
                        reference=hold.reference, unique_key=f"capture:{hold.id}", actor_id=actor_id,
                        details={**_charge_details(hold.coupon_kind, paid, False), "hold_id": hold.id,
                                 "released": str(released)})
        hold.status, hold.captured, hold.settled_at, hold.settle_entry_id = "captured", amount, now, entry.id
        self._touch(now)
        self.events.append(WalletCharged(org_id=self.org_id, entry_id=entry.id, reference=hold.reference,
                                         amount=amount))
        return entry

    def release(self, hold: Hold, now: datetime, *, expired: bool = False,
                actor_id: str | None = None) -> JournalEntry:
        if hold.org_id != self.org_id:
            raise errors.HoldNotFound("no such hold")
        if hold.status != "active":
            raise errors.HoldNotActive(f"hold is {hold.status}")
        if expired and now < hold.expires_at:
            raise errors.HoldNotActive("the hold has not expired yet")
        b = EntryBuilder()
        left = self._unhold(b, hold)
        entry = b.build(id=new_id("ent"), type="release", org_id=self.org_id, created_at=now, amount=left,
                        reference=hold.reference, unique_key=f"release:{hold.id}", actor_id=actor_id,
                        details={"hold_id": hold.id, "reason": "expired" if expired else "released"})
        hold.status = "expired" if expired else "released"
        hold.settled_at, hold.settle_entry_id = now, entry.id
        self._touch(now)
        return entry

    # -- credit, deposits, settings ------------------------------------------------------------

    def set_credit_limit(self, limit: Decimal, now: datetime, actor_id: str | None = None,
                         note: str | None = None) -> JournalEntry | None:
        """授信, set by the platform; never below what is already used."""
        limit = to_money(limit, "credit_limit")
        if limit < 0:
            raise errors.InvalidWalletInput("credit_limit", "must be >= 0", code="invalid_amount")
        if limit < self.credit_used:
            raise errors.CreditLimitBelowUsed(f"credit used {self.credit_used} exceeds the new limit {limit}",
                                              details={"credit_used": str(self.credit_used)})
        delta = limit - self.credit_limit
        if delta == 0:
            return None
        b = EntryBuilder()
        b.post(self._acct(CREDIT_LINE), delta)
        b.post(Account.platform(CREDIT_LINES), -delta)
        self.credit_limit = limit
        entry = b.build(id=new_id("ent"), type="adjustment", org_id=self.org_id, created_at=now, amount=abs(delta),
                        note=_note(note), actor_id=actor_id,
                        details={"setting": "credit_limit", "value": str(limit)})
        self._touch(now)
        return entry

    def set_deposit_due(self, due: Decimal, now: datetime, actor_id: str | None = None,
                        note: str | None = None) -> JournalEntry | None:
        due = to_money(due, "deposit_due")
        if due < 0:
            raise errors.InvalidWalletInput("deposit_due", "must be >= 0", code="invalid_amount")
        delta = due - self.deposit_due
        if delta == 0:
            return None
        b = EntryBuilder()
        b.post(self._acct(DEPOSIT_DUE), delta)
        b.post(Account.platform(DEPOSITS_DUE), -delta)
        self.deposit_due = due
        entry = b.build(id=new_id("ent"), type="adjustment", org_id=self.org_id, created_at=now, amount=abs(delta),
                        note=_note(note), actor_id=actor_id, details={"setting": "deposit_due", "value": str(due)})
        self._touch(now)
        return entry

    def pay_deposit(self, amount: Decimal | None, now: datetime, actor_id: str | None = None) -> JournalEntry:
        """The owner pays the deposit from cash; paid deposit is frozen."""
        outstanding = self.deposit_due - self.deposit_paid
        amount = outstanding if amount is None else _positive(amount)
        if amount <= 0 or amount > outstanding:
            raise errors.DepositExceedsDue(f"outstanding deposit is {max(outstanding, ZERO)}",
                                           details={"outstanding": str(max(outstanding, ZERO))})
        self._check_cash_out(amount, now, "deposit")
        b = EntryBuilder()
        self._take_cash(b, amount)
        b.post(self._acct(DEPOSIT), amount)
        self.deposit_paid += amount
        entry = b.build(id=new_id("ent"), type="deposit", org_id=self.org_id, created_at=now, amount=amount,
                        actor_id=actor_id, details={"action": "pay"})
        self._touch(now)
        return entry

    def refund_deposit(self, amount: Decimal | None, now: datetime, actor_id: str | None = None,
                       note: str | None = None) -> JournalEntry:
        """The platform returns paid deposit to cash (when the relation ends)."""
        amount = self.deposit_paid if amount is None else _positive(amount)
        if amount <= 0 or amount > self.deposit_paid:
            raise errors.DepositExceedsDue(f"paid deposit is {self.deposit_paid}",
                                           details={"deposit_paid": str(self.deposit_paid)})
        b = EntryBuilder()
        b.post(self._acct(DEPOSIT), -amount)
        self.deposit_paid -= amount
        self._pay_in(b, amount)
        entry = b.build(id=new_id("ent"), type="deposit", org_id=self.org_id, created_at=now, amount=amount,
                        note=_note(note), actor_id=actor_id, details={"action": "refund"})
        self._touch(now)
        return entry

    def set_daily_budget(self, budget: Decimal | None) -> None:
        if budget is not None:
            budget = to_money(budget, "daily_budget")
            if budget < 0:
                raise errors.InvalidWalletInput("daily_budget", "must be >= 0", code="invalid_amount")
        self.daily_budget = budget
        self.version += 1

    def set_low_balance_threshold(self, threshold: Decimal | None, now: datetime) -> None:
        """Setting a threshold the wallet is already below alerts at once (once)."""
        if threshold is not None:
            threshold = to_money(threshold, "threshold")
            if threshold < 0:
                raise errors.InvalidWalletInput("threshold", "must be >= 0", code="invalid_amount")
        if threshold != self.low_balance_threshold:
            self.low_balance_threshold = threshold
            self.low_balance_alerted = False
        self.version += 1
        self.evaluate_low_balance(now)

    def set_withholding(self, active: bool) -> None:
        self.withholding_active = active
        self.version += 1

    # -- statements --------------------------------------------------------------------------

    def line_for(self, entry: JournalEntry, now: datetime, tz: tzinfo = PLATFORM_TZ) -> StatementLine:
        return StatementLine(entry_id=entry.id, org_id=self.org_id, seq=self.version, type=entry.type,
                             created_at=entry.created_at,
                             local_day=entry.created_at.astimezone(tz).date().isoformat(),
                             amount=entry.net_for(self.org_id), breakdown=entry.breakdown(self.org_id),
                             after=self.figures(now), reference=entry.reference,
                             counterparty_org_id=(entry.counterparty_org_id if entry.org_id == self.org_id
                                                  else entry.org_id),
                             note=entry.note, details=entry.details)


@dataclasses.dataclass(frozen=True, slots=True)
class CashMove:
    """One statement line of a principal's wallet as a reclaim sees it."""

    change: Decimal  # the line's change of cash (after cash less the line before's)
    cash_after: Decimal
    type: str  # the line's entry type
    counterparty: str | None  # for an allocation line: the agency


# outflows that give the principal's own money back (a withdrawal refunds its own recharge;
# a revoke takes back an offline recharge): its own money goes first
_OWN_OUTFLOWS = frozenset({"refund", "revoke"})
# outflows whose money may come back (a deposit refunded, a withdrawal that failed)
_RETURNED = ("deposit", "refund")


def unspent_allocations(moves: Iterable[CashMove]) -> dict[str, Decimal]:
    """What is left unspent of the money each agency allocated to a principal, from the
    principal's statement lines in order (ADR 0011). An agency's allocations add to its
    share and its reclaims take from it. A spend (a charge, a capture, a deposit payment)
    takes the agencies' money first, the earliest allocating agency's first, then the
    principal's own; a withdrawal or a revoke takes the principal's own money first. Money
    that comes back (a deposit refunded, a withdrawal that failed) goes back to whoever it
    came from, oldest first. Any other inflow (a recharge, a payment received) is the
    principal's own. The shares never exceed the cash. So an agency takes back what it gave
    and was not spent — never the principal's own, nor another agency's."""
    shares: dict[str, Decimal] = {}  # in the order the agencies first allocated
    out: dict[str, list[tuple[str | None, Decimal]]] = {kind: [] for kind in _RETURNED}  # who paid (None: own)
    for move in moves:
        own = max(move.cash_after - move.change - sum(shares.values(), ZERO), ZERO)
        if move.type == "allocation" and move.counterparty is not None:
            shares[move.counterparty] = max(shares.get(move.counterparty, ZERO) + move.change, ZERO)
        elif move.change < 0:
            paid = _take(shares, own, -move.change, own_first=move.type in _OWN_OUTFLOWS)
            if move.type in out:
                out[move.type] += paid
        elif move.change > 0 and move.type in out:
            back, sources = move.change, out[move.type]
            while back > 0 and sources:
                who, amount = sources.pop(0)
                given = min(back, amount)
                if who is not None:
                    shares[who] = shares.get(who, ZERO) + given
                back -= given
                if amount > given:
                    sources.insert(0, (who, amount - given))
        excess = sum(shares.values(), ZERO) - move.cash_after
        for agency in reversed(list(shares)):  # never more than the cash (a safety net)
            if excess <= 0:
                break
            cut = min(excess, shares[agency])
            shares[agency] -= cut
            excess -= cut
    return shares


def _take(shares: dict[str, Decimal], own: Decimal, amount: Decimal,
          *, own_first: bool) -> list[tuple[str | None, Decimal]]:
    """Take ``amount`` out of the shares (earliest agency first) and the principal's own
    money, in the order the outflow's kind says; what came from whom."""
    taken: list[tuple[str | None, Decimal]] = []
    sources: list[str | None] = [None, *shares] if own_first else [*shares, None]
    for who in sources:
        if amount <= 0:
            break
        available = own if who is None else shares[who]
        part = min(amount, available)
        if part > 0:
            if who is None:
                own -= part
            else:
                shares[who] -= part
            taken.append((who, part))
            amount -= part
    return taken


def _charge_details(kind: str, payees: list[tuple[Wallet, Decimal]], withholding: bool) -> dict[str, str]:
    out = {"coupon_kind": kind}
    if payees:
        out["payees"] = ",".join(f"{w.org_id}:{amt}" for w, amt in payees)
    if withholding:
        out["withholding"] = "true"
    return out


def statement_lines(entry: JournalEntry, wallets: dict[str, Wallet], now: datetime,
                    tz: tzinfo = PLATFORM_TZ) -> list[StatementLine]:
    """One statement row per wallet the entry touched (and for the wallet it is about, even
    when only counter-accounts moved), with that wallet's figures after it."""
    org_ids = entry.wallet_org_ids()
    if entry.org_id not in org_ids and entry.org_id in wallets:
        org_ids.insert(0, entry.org_id)
    return [wallets[org_id].line_for(entry, now, tz) for org_id in org_ids]
