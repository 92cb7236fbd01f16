"""A hypothesis state machine drives random sequences of every wallet operation against a
deliberately simple model and checks, after each step:

- the postings of every entry sum to zero, and so does the whole ledger;
- no figure breaks its bound: cash, each coupon grant, held and deposit >= 0,
  0 <= credit_used <= credit_limit;
- the cached figures equal the balances derived from the postings;
- the model and the wallets agree (figures, grants, holds, recharges, outcomes).
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from domain.shared.errors import DomainError
from domain.wallet import errors
from domain.wallet.ledger import (
    CASH,
    CREDIT,
    CREDIT_LINE,
    DEPOSIT,
    DEPOSIT_DUE,
    HELD,
    ZERO,
    JournalEntry,
    balances,
    ledger_total,
)
from domain.wallet.model import PLATFORM_TZ, CashMove, Recharge, Wallet, unspent_allocations

AGENCY, PRINCIPAL, SUPPLIER = "org_agency", "org_principal", "org_supplier"
ORGS = [AGENCY, PRINCIPAL, SUPPLIER]
START = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)

# small amounts, so that coupons, cash and credit all take part in the same charges
cents = st.integers(min_value=1, max_value=15_000).map(lambda c: Decimal(c) / 100)
small_cents = st.integers(min_value=1, max_value=5_000).map(lambda c: Decimal(c) / 100)
orgs = st.sampled_from(ORGS)
kinds = st.sampled_from(["normal", "traffic"])
pick = st.integers(min_value=0, max_value=1_000)


class Model:
    """The rules of spec wallet.md, written as plainly as possible."""

    def __init__(self) -> None:
        self.cash = dict.fromkeys(ORGS, ZERO)
        self.used = dict.fromkeys(ORGS, ZERO)
        self.limit = dict.fromkeys(ORGS, ZERO)
        self.held = dict.fromkeys(ORGS, ZERO)
        self.due = dict.fromkeys(ORGS, ZERO)
        self.paid = dict.fromkeys(ORGS, ZERO)
        self.budget: dict[str, Decimal | None] = dict.fromkeys(ORGS, None)
        self.spent: dict[str, tuple[object, Decimal]] = {o: (None, ZERO) for o in ORGS}
        self.withholding = dict.fromkeys(ORGS, False)
        # grant id -> [org, kind, remaining, expires_at, created_at, funder or None]; ties on
        # expiry and creation time are broken by grant id, as the wallet does
        self.grants: dict[str, list] = {}
        self.holds: dict[str, list] = {}  # id -> [org, amount, status, expires_at, kind]
        self.recharges: dict[str, list] = {}  # id -> [org, channel, amount, status, repaid, refunded]
        self.withdrawals: dict[str, list] = {}  # id -> [org, recharge id, amount, status]
        self.allocated = ZERO  # agency -> principal, net of reclaims

    def coupons(self, org: str, now: datetime, kind: str | None = None) -> Decimal:
        return sum((g[2] for g in self.grants.values()
                    if g[0] == org and g[2] > 0 and now < g[3] and (kind is None or g[1] == kind)), ZERO)

    def available(self, org: str, now: datetime) -> Decimal:
        return self.cash[org] + self.coupons(org, now) + self.limit[org] - self.used[org] - self.held[org]

    def pay_in(self, org: str, amount: Decimal) -> Decimal:
        repay = min(self.used[org], amount)
        self.used[org] -= repay
        self.cash[org] += amount - repay
        return repay

    def held_of(self, org: str, kind: str, but: str | None = None) -> Decimal:
        return sum((h[1] for hid, h in self.holds.items()
                    if h[0] == org and h[2] == "active" and h[4] == kind and hid != but), ZERO)

    def room(self, org: str, now: datetime, but: str | None = None) -> Decimal:
        """Normal coupons, cash and credit beyond what normal holds reserve (traffic coupons
        back only traffic holds); ``but`` leaves one hold out (the one being captured)."""
        return (self.coupons(org, now, "normal") + self.cash[org] + self.limit[org] - self.used[org]
                - self.held_of(org, "normal", but))

    def cash_out_ok(self, org: str, amount: Decimal, now: datetime) -> bool:
        return amount <= self.cash[org] and amount <= self.available(org, now) and amount <= self.room(org, now)

    def spend(self, org: str, amount: Decimal, kind: str, now: datetime, available: Decimal,
              payee: Decimal, withholding: bool, room: Decimal) -> type[DomainError] | None:
        """Predict and apply a charge; returns the error class a refusal must raise."""
        if withholding and not self.withholding[org]:
            return errors.WithholdingAgreementRequired
        day = now.astimezone(PLATFORM_TZ).date()
        spent = self.spent[org][1] if self.spent[org][0] == day else ZERO
        if self.budget[org] is not None and spent + amount > self.budget[org]:
            return errors.DailyBudgetExceeded
        if amount > available:
            return errors.InsufficientFunds
        order = sorted((g for g in self.grants.items() if g[1][0] == org and g[1][1] == kind
                        and g[1][2] > 0 and now < g[1][3]), key=lambda g: (g[1][3], g[1][4], g[0]))
        if kind == "traffic":
            order += sorted((g for g in self.grants.items() if g[1][0] == org and g[1][1] == "normal"
                             and g[1][2] > 0 and now < g[1][3]), key=lambda g: (g[1][3], g[1][4], g[0]))
        spendable = sum((g[1][2] for g in order), ZERO) + self.cash[org] + self.limit[org] - self.used[org]
        if amount > spendable:
            return errors.InsufficientFunds
        traffic = sum((g[1][2] for g in order if g[1][1] == "traffic"), ZERO) if kind == "traffic" else ZERO
        if amount - min(traffic, amount) > room:  # it would take what normal holds rely on
            return errors.InsufficientFunds
        left = amount
        for _, g in order:
            take = min(g[2], left)
            g[2] -= take
            left -= take
        take = min(self.cash[org], left)
        self.cash[org] -= take
        left -= take
        self.used[org] += left
        self.spent[org] = (day, spent + amount)
        if payee:
            self.pay_in(SUPPLIER, payee)
        return None


class WalletMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.wallets = {o: Wallet(org_id=o, created_at=START) for o in ORGS}
        self.entries: list[JournalEntry] = []
        self.model = Model()
        self.grants: dict[str, object] = {}
        self.holds: dict[str, object] = {}
        self.recharges: dict[str, Recharge] = {}
        self.withdrawals: dict[str, object] = {}

    # -- helpers --------------------------------------------------------------------------

    def principal_moves(self) -> list[CashMove]:
        """The principal's statement lines so far, as a reclaim reads them."""
        moves, cash = [], ZERO
        for e in self.entries:
            change = sum((p.amount for p in e.postings if p.account.owner == PRINCIPAL and p.account.name == CASH),
                         ZERO)
            if e.org_id != PRINCIPAL and PRINCIPAL not in e.wallet_org_ids():
                continue  # no line on the principal's wallet
            cash += change
            moves.append(CashMove(change, cash, e.type,
                                  e.counterparty_org_id if e.org_id == PRINCIPAL else e.org_id))
        return moves

    def _record(self, entry: JournalEntry | None) -> None:
        if entry is not None:
            self.entries.append(entry)

    def _expect(self, error: type[DomainError] | None, func, *args, **kwargs):
        """Run a domain call; it must fail with exactly the predicted error, or succeed."""
        before = {o: w.figures(self.now) for o, w in self.wallets.items()}
        if error is not None:
            with pytest.raises(error):
                func(*args, **kwargs)
            after = {o: w.figures(self.now) for o, w in self.wallets.items()}
            assert after == before, "a refused command changed a wallet"
            return None
        return func(*args, **kwargs)

    def _pick(self, pool: dict, i: int):
        if not pool:
            return None
        keys = list(pool)  # insertion order: ids are random, so sorting them is not reproducible
        return keys[i % len(keys)]

    @initialize(cash=st.lists(cents, min_size=2, max_size=2), limits=st.lists(cents, min_size=2, max_size=2),
                coupons=st.lists(st.tuples(st.sampled_from([AGENCY, PRINCIPAL]), kinds, small_cents,
                                           st.integers(min_value=1, max_value=30)), max_size=6))
    def seed_funds(self, cash: list[Decimal], limits: list[Decimal], coupons: list) -> None:
        """Start with money, credit and several coupons, so charges mix their sources."""
        for org, amount, limit in zip([AGENCY, PRINCIPAL], cash, limits, strict=True):
            self.offline_recharge(org, amount)
            self.set_credit_limit(org, limit)
        for org, kind, amount, hours in coupons:
            self.grant_coupon(org, kind, amount, hours, False)

    # -- time -------------------------------------------------------------------------------

    @rule(minutes=st.integers(min_value=1, max_value=300))
    def tick(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    # -- recharges ------------------------------------------------------------------------------

    @rule(org=orgs, amount=cents)
    def offline_recharge(self, org: str, amount: Decimal) -> None:
        recharge, entry = self.wallets[org].offline_recharge(amount, "bank transfer", self.now, "usr_finance")
        self._record(entry)
        self.recharges[recharge.id] = recharge
        repaid = self.model.pay_in(org, amount)
        self.model.recharges[recharge.id] = [org, "offline", amount, "paid", repaid, ZERO]
        assert recharge.credit_repaid == repaid

    @rule(org=orgs, amount=cents, mismatch=st.booleans(), repeat=st.booleans())
    def online_recharge(self, org: str, amount: Decimal, mismatch: bool, repeat: bool) -> None:
        wallet = self.wallets[org]
        recharge = Recharge.online_intent(org, "sandbox", amount, None, self.now, "usr_owner")
        self.recharges[recharge.id] = recharge
        self.model.recharges[recharge.id] = [org, "sandbox", amount, "pending", ZERO, ZERO]
        if mismatch:
            self._expect(errors.AmountMismatch, wallet.credit_recharge, recharge, amount + Decimal("0.01"),
                         "gw1", self.now)
            assert recharge.status == "pending" and recharge.flag
        entry = wallet.credit_recharge(recharge, amount, "gw1", self.now)
        self._record(entry)
        repaid = self.model.pay_in(org, amount)
        self.model.recharges[recharge.id][3:5] = ["paid", repaid]
        if repeat:  # the same notification again credits nothing
            assert wallet.credit_recharge(recharge, amount, "gw1", self.now) is None

    @rule(i=pick)
    def revoke(self, i: int) -> None:
        rid = self._pick(self.recharges, i)
        if rid is None:
            return
        org, channel, amount, status, repaid, _ = self.model.recharges[rid]
        m = self.model
        if channel != "offline" or status != "paid":
            error: type[DomainError] | None = errors.NotRevocable
        elif (amount - repaid > m.cash[org] or repaid > m.limit[org] - m.used[org]
              or amount > m.available(org, self.now) or amount > m.room(org, self.now)):
            error = errors.RevokeNotCovered
        else:
            error = None
        entry = self._expect(error, self.wallets[org].revoke_recharge, self.recharges[rid], self.now)
        if error is None:
            self._record(entry)
            m.cash[org] -= amount - repaid
            m.used[org] += repaid
            m.recharges[rid][3] = "revoked"

    @rule(i=pick, amount=small_cents)
    def withdraw(self, i: int, amount: Decimal) -> None:
        online = {k: v for k, v in self.recharges.items() if v.online}
        rid = self._pick(online, i)
        if rid is None:
            return
        org, _, r_amount, status, _, refunded = self.model.recharges[rid]
        m = self.model
        if status != "paid" or amount > r_amount - refunded:
            error: type[DomainError] | None = errors.NotRefundable
        elif not m.cash_out_ok(org, amount, self.now):
            error = errors.InsufficientFunds
        else:
            error = None
        result = self._expect(error, self.wallets[org].request_withdrawal, self.recharges[rid], amount, self.now)
        if error is None:
            withdrawal, entry = result
            self._record(entry)
            self.withdrawals[withdrawal.id] = withdrawal
            m.cash[org] -= amount
            m.recharges[rid][5] += amount
            m.withdrawals[withdrawal.id] = [org, rid, amount, "pending"]

    @rule(i=pick, succeeded=st.booleans())
    def settle_withdrawal(self, i: int, succeeded: bool) -> None:
        wid = self._pick(self.withdrawals, i)
        if wid is None:
            return
        w = self.withdrawals[wid]
        org, rid, amount, status = self.model.withdrawals[wid]
        entry = self.wallets[org].settle_withdrawal(w, self.recharges[rid], succeeded, "gateway says so", self.now)
        if status != "pending":
            assert entry is None
            return
        self._record(entry)
        self.model.withdrawals[wid][3] = "succeeded" if succeeded else "failed"
        if not succeeded:
            self.model.pay_in(org, amount)
            self.model.recharges[rid][5] -= amount

    # -- allocation -------------------------------------------------------------------------------

    @rule(amount=cents)
    def allocate(self, amount: Decimal) -> None:
        m = self.model
        error = None if m.cash_out_ok(AGENCY, amount, self.now) else errors.InsufficientFunds
        entry = self._expect(error, self.wallets[AGENCY].allocate_to, self.wallets[PRINCIPAL], amount, self.now)
        if error is None:
            self._record(entry)
            m.cash[AGENCY] -= amount
            m.pay_in(PRINCIPAL, amount)
            m.allocated += amount

    @rule(amount=cents)
    def reclaim(self, amount: Decimal) -> None:
        m = self.model
        # what of the allocation is unspent, from the principal's lines as the entries so far
        # left them (the fold itself is held against purses kept by hand in
        # test_unspent_allocation.py; here it meets every kind of entry the wallet writes)
        unspent = unspent_allocations(self.principal_moves()).get(AGENCY, ZERO)
        if amount > min(m.allocated, unspent):
            error: type[DomainError] | None = errors.ReclaimExceedsAllocated
        elif not m.cash_out_ok(PRINCIPAL, amount, self.now):
            error = errors.InsufficientFunds
        else:
            error = None
        entry = self._expect(error, self.wallets[AGENCY].reclaim_from, self.wallets[PRINCIPAL], amount,
                             m.allocated, self.now, unspent=unspent)
        if error is None:
            self._record(entry)
            m.cash[PRINCIPAL] -= amount
            m.pay_in(AGENCY, amount)
            m.allocated -= amount

    # -- coupons -------------------------------------------------------------------------------------

    @rule(org=orgs, kind=kinds, amount=small_cents, hours=st.integers(min_value=1, max_value=48),
          by_agency=st.booleans())
    def grant_coupon(self, org: str, kind: str, amount: Decimal, hours: int, by_agency: bool) -> None:
        m = self.model
        funder = self.wallets[AGENCY] if by_agency and org != AGENCY else None
        error = None
        if funder is not None and not m.cash_out_ok(AGENCY, amount, self.now):
            error = errors.InsufficientFunds
        expires = self.now + timedelta(hours=hours)
        result = self._expect(error, self.wallets[org].grant_coupon, kind, amount, expires, self.now, funder)
        if error is None:
            grant, entry = result
            self._record(entry)
            self.grants[grant.id] = grant
            m.grants[grant.id] = [org, kind, amount, expires, self.now, AGENCY if funder else None]
            if funder is not None:
                m.cash[AGENCY] -= amount

    @rule()
    def lapse_expired_coupons(self) -> None:
        for gid, g in list(self.model.grants.items()):
            org, _, remaining, expires, _, funder = g
            if remaining > 0 and self.now >= expires:
                entry = self.wallets[org].lapse_coupon(self.grants[gid], self.now,
                                                       self.wallets[funder] if funder else None)
                assert entry is not None and entry.amount == remaining
                self._record(entry)
                g[2] = ZERO
                if funder:
                    self.model.pay_in(funder, remaining)

    # -- charges and holds -----------------------------------------------------------------------------

    @rule(org=st.sampled_from([AGENCY, PRINCIPAL]), amount=cents, kind=kinds,
          payee_share=st.sampled_from([None, Decimal("0.5"), Decimal("1")]),
          withholding=st.sampled_from([False, False, False, True]))
    def charge(self, org: str, amount: Decimal, kind: str, payee_share: Decimal | None, withholding: bool) -> None:
        payee = (amount * payee_share).quantize(Decimal("0.01")) if payee_share else ZERO
        payees = [(self.wallets[SUPPLIER], payee)] if payee else []
        m = self.model
        self.seq_ref = getattr(self, "seq_ref", 0) + 1
        snapshot = (dict(m.cash), dict(m.used), {k: list(v) for k, v in m.grants.items()}, dict(m.spent))
        error = m.spend(org, amount, kind, self.now, m.available(org, self.now), payee, withholding,
                        m.room(org, self.now))
        if error is not None:
            m.cash, m.used, m.grants, m.spent = snapshot
        entry = self._expect(error, self.wallets[org].charge, amount, f"ref-{self.seq_ref}", self.now,
                             coupon_kind=kind, payees=payees, withholding=withholding)
        event(f"charge: {error.__name__ if error else 'ok'}")
        if error is None:
            self._record(entry)
            b = entry.breakdown()
            assert b.total == amount
            event(f"charge sources: {sum(1 for x in (b.cash, b.normal_coupon, b.traffic_coupon, b.post_pay) if x)}")
            assert entry.net_for(SUPPLIER) == payee

    @rule(org=st.sampled_from([AGENCY, PRINCIPAL]), amount=cents, hours=st.integers(min_value=1, max_value=24),
          kind=kinds)
    def place_hold(self, org: str, amount: Decimal, hours: int, kind: str) -> None:
        m = self.model
        expires = self.now + timedelta(hours=hours)
        # a hold must be capturable until it expires: only coupons its capture may use
        # (its kind and normal) that last until then count, less everything already held
        def lasting(k: str) -> Decimal:
            return sum((g[2] for g in m.grants.values() if g[0] == org and g[1] == k and g[2] > 0
                        and self.now < g[3] and g[3] >= expires), ZERO)

        base = lasting("normal") + m.cash[org] + m.limit[org] - m.used[org]
        spendable = base + lasting("traffic") - m.held[org]
        if kind == "normal":  # normal holds cannot use traffic coupons
            spendable = min(spendable, base - m.held_of(org, "normal"))
        error = None if amount <= m.available(org, self.now) and amount <= spendable else errors.InsufficientFunds
        self.seq_ref = getattr(self, "seq_ref", 0) + 1
        result = self._expect(error, self.wallets[org].place_hold, amount, f"order-{self.seq_ref}", expires,
                              self.now, coupon_kind=kind)
        if error is None:
            hold, entry = result
            self._record(entry)
            self.holds[hold.id] = hold
            m.holds[hold.id] = [org, amount, "active", expires, kind]
            m.held[org] += amount

    @rule(i=pick, share=st.sampled_from([Decimal("0.3"), Decimal("1")]), with_payee=st.booleans())
    def capture(self, i: int, share: Decimal, with_payee: bool) -> None:
        hid = self._pick(self.holds, i)
        if hid is None:
            return
        org, amount, status, expires, kind = self.model.holds[hid]
        take = max((amount * share).quantize(Decimal("0.01")), Decimal("0.01"))
        payee = (take / 2).quantize(Decimal("0.01")) if with_payee else ZERO
        payees = [(self.wallets[SUPPLIER], payee)] if payee else []
        m = self.model
        if status != "active":
            error: type[DomainError] | None = errors.HoldNotActive
        elif self.now >= expires:
            error = errors.HoldExpired
        else:
            snapshot = (dict(m.cash), dict(m.used), {k: list(v) for k, v in m.grants.items()}, dict(m.spent),
                        dict(m.held))
            room = m.room(org, self.now, but=hid)
            m.held[org] -= amount
            error = m.spend(org, take, kind, self.now, m.available(org, self.now), payee, False, room)
            if error is not None:
                m.cash, m.used, m.grants, m.spent, m.held = snapshot
        entry = self._expect(error, self.wallets[org].capture, self.holds[hid], self.now, take, payees=payees)
        if error is None:
            self._record(entry)
            m.holds[hid][2] = "captured"
            assert entry.breakdown().total == take

    @rule(i=pick)
    def release(self, i: int) -> None:
        hid = self._pick(self.holds, i)
        if hid is None:
            return
        org, amount, status, _, _ = self.model.holds[hid]
        error = None if status == "active" else errors.HoldNotActive
        entry = self._expect(error, self.wallets[org].release, self.holds[hid], self.now)
        if error is None:
            self._record(entry)
            self.model.holds[hid][2] = "released"
            self.model.held[org] -= amount

    @rule()
    def expire_holds(self) -> None:
        for hid, h in self.model.holds.items():
            org, amount, status, expires, _ = h
            if status == "active" and self.now >= expires:
                self._record(self.wallets[org].release(self.holds[hid], self.now, expired=True))
                h[2] = "expired"
                self.model.held[org] -= amount

    # -- credit, deposit, settings -------------------------------------------------------------------------

    @rule(org=orgs, limit=st.integers(min_value=0, max_value=20_000).map(lambda c: Decimal(c) / 100))
    def set_credit_limit(self, org: str, limit: Decimal) -> None:
        m = self.model
        error = errors.CreditLimitBelowUsed if limit < m.used[org] else None
        entry = self._expect(error, self.wallets[org].set_credit_limit, limit, self.now)
        if error is None:
            self._record(entry)
            m.limit[org] = limit

    @rule(org=orgs, due=st.integers(min_value=0, max_value=10_000).map(lambda c: Decimal(c) / 100))
    def set_deposit_due(self, org: str, due: Decimal) -> None:
        self._record(self.wallets[org].set_deposit_due(due, self.now))
        self.model.due[org] = due

    @rule(org=orgs, amount=st.one_of(st.none(), small_cents))
    def pay_deposit(self, org: str, amount: Decimal | None) -> None:
        m = self.model
        outstanding = m.due[org] - m.paid[org]
        pay = outstanding if amount is None else amount
        if pay <= 0 or pay > outstanding:
            error: type[DomainError] | None = errors.DepositExceedsDue
        elif not m.cash_out_ok(org, pay, self.now):
            error = errors.InsufficientFunds
        else:
            error = None
        entry = self._expect(error, self.wallets[org].pay_deposit, amount, self.now)
        if error is None:
            self._record(entry)
            m.cash[org] -= pay
            m.paid[org] += pay

    @rule(org=orgs, amount=st.one_of(st.none(), small_cents))
    def refund_deposit(self, org: str, amount: Decimal | None) -> None:
        m = self.model
        back = m.paid[org] if amount is None else amount
        error = errors.DepositExceedsDue if back <= 0 or back > m.paid[org] else None
        entry = self._expect(error, self.wallets[org].refund_deposit, amount, self.now)
        if error is None:
            self._record(entry)
            m.paid[org] -= back
            m.pay_in(org, back)

    @rule(budget=st.one_of(st.none(), cents))
    def set_budget(self, budget: Decimal | None) -> None:
        self.wallets[PRINCIPAL].set_daily_budget(budget)
        self.model.budget[PRINCIPAL] = budget

    @rule(active=st.booleans())
    def set_withholding(self, active: bool) -> None:
        self.wallets[PRINCIPAL].set_withholding(active)
        self.model.withholding[PRINCIPAL] = active

    @rule(org=orgs, threshold=st.one_of(st.none(), cents))
    def set_threshold(self, org: str, threshold: Decimal | None) -> None:
        self.wallets[org].set_low_balance_threshold(threshold, self.now)

    # -- invariants -----------------------------------------------------------------------------------

    @invariant()
    def every_entry_and_the_ledger_sum_to_zero(self) -> None:
        for e in self.entries:
            assert sum((p.amount for p in e.postings), ZERO) == 0
        assert ledger_total(self.entries) == 0

    @invariant()
    def figures_keep_their_bounds(self) -> None:
        for w in self.wallets.values():
            assert w.cash >= 0 and w.held >= 0 and w.deposit_paid >= 0
            assert 0 <= w.credit_used <= w.credit_limit
            assert all(g.remaining >= 0 for g in self.grants.values())

    @invariant()
    def cached_figures_equal_the_postings(self) -> None:
        bal = balances(p for e in self.entries for p in e.postings)
        for org, w in self.wallets.items():
            def acct(name: str, o: str = org) -> Decimal:
                return sum((v for a, v in bal.items() if a.owner == o and a.name == name), ZERO)
            assert acct(CASH) == w.cash
            assert -acct(CREDIT) == w.credit_used
            assert acct(CREDIT_LINE) == w.credit_limit
            assert acct(HELD) == w.held
            assert acct(DEPOSIT) == w.deposit_paid
            assert acct(DEPOSIT_DUE) == w.deposit_due
        for gid, g in self.grants.items():
            assert sum((v for a, v in bal.items() if a.grant_id == gid), ZERO) == g.remaining

    @invariant()
    def model_and_wallets_agree(self) -> None:
        m = self.model
        for org, w in self.wallets.items():
            assert (w.cash, w.credit_used, w.credit_limit, w.held, w.deposit_due, w.deposit_paid) == (
                m.cash[org], m.used[org], m.limit[org], m.held[org], m.due[org], m.paid[org]), org
            assert w.coupons(self.now) == m.coupons(org, self.now)
            assert w.available(self.now) == m.available(org, self.now)
            assert w.held_traffic == m.held_of(org, "traffic")
            assert w.normal_room(self.now) == m.room(org, self.now)
        for gid, g in self.grants.items():
            assert g.remaining == m.grants[gid][2]
        for hid, h in self.holds.items():
            assert h.status == m.holds[hid][2]
        for rid, r in self.recharges.items():
            assert (r.status, r.refunded) == (m.recharges[rid][3], m.recharges[rid][5])

    @invariant()
    def low_balance_alert_is_disarmed_without_threshold(self) -> None:
        for w in self.wallets.values():
            if w.low_balance_threshold is None:
                assert not w.low_balance_alerted


WalletMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=60, deadline=None,
                                           suppress_health_check=[HealthCheck.too_slow])
TestWalletLedger = WalletMachine.TestCase
