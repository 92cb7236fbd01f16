"""Plain charges decided without the wallet's lock, on PostgreSQL (ADR 0010).

A charge decided on an unlocked read is written by one statement that applies it only if
the wallet still meets the decision's terms; otherwise the wallet's lock decides it again.
These tests make the two paths meet: under sixteen concurrent clients, and with another
command slipped in between a charge's read and its write.
"""
from __future__ import annotations

import contextlib
import dataclasses
import itertools
import threading
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from freezegun import freeze_time
from sqlalchemy import text

import adapters.postgres.wallet_repos as repos
from application.shared.access import Caller
from application.shared.settings import Settings
from application.shared.uow import UnitOfWorkFactory, commit_guards
from application.wallet import RechargeService, WalletService
from application.wallet.services import EntryResult, _Charge
from domain.shared.errors import DomainError
from domain.wallet.errors import DailyBudgetExceeded, InsufficientFunds
from tests.integration.test_wallet_concurrency import (
    CLIENTS,
    FINANCE,
    api_key_caller,
    cached_equals_postings,
    make_org,
    run_clients,
)

pytestmark = pytest.mark.postgres

ADMIN = Caller(org_id="org_platform", org_kinds=frozenset({"platform"}), roles=("platform_admin",),
               user_id="usr_admin")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, wallet_charge_batch=1)  # every charge on its own


@pytest.fixture
def landings(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How the unlocked writes went: ``landed`` or ``declined`` (terms broken, key taken)."""
    seen: Counter[str] = Counter()
    original = repos.SqlLedger.add_unlocked

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        landed = original(self, *args, **kwargs)
        seen["landed" if landed is not None else "declined"] += 1
        return landed

    monkeypatch.setattr(repos.SqlLedger, "add_unlocked", counting)
    return seen


def owner_of(org: str) -> Caller:
    return Caller(org_id=org, org_kinds=frozenset({"customer"}), roles=("customer_admin",), user_id="usr_o")


def funded(container: Any, name: str, cash: str) -> str:
    org = make_org(container, name)
    container.get(RechargeService).recharge(FINANCE, org, Decimal(cash), "offline", "prepaid")
    return org


def outcome(call: Any) -> str:
    try:
        call()
        return "ok"
    except (InsufficientFunds, DailyBudgetExceeded) as refused:
        return refused.code
    except Exception as exc:  # anything else reaching a client fails the test
        return f"{type(exc).__name__}: {exc}"


def lines_of(container: Any, org: str) -> list[Any]:
    with container.get(UnitOfWorkFactory)() as uow:
        return list(uow.connection.execute(text(  # type: ignore[attr-defined]
            "SELECT seq, created_at, after_cash, amount FROM wallet_lines WHERE org_id = :o ORDER BY seq"),
            {"o": org}))


def test_unlocked_charges_get_exactly_what_the_wallet_affords(container: Any, landings: Counter[str]) -> None:
    org = funded(container, "Hot Unlocked Co", "370.00")
    wallets = container.get(WalletService)
    caller = api_key_caller(org)
    wallets.charge(caller, org, Decimal("10.00"), "first-of-the-day")  # counts today's spend: under the lock
    assert landings == {}

    def work(i: int) -> list[str]:
        return [outcome(lambda k=k: wallets.charge(caller, org, Decimal("10.00"), f"order-{i}-{k}"))
                for k in range(5)]

    reported: Counter[str] = Counter()
    wallets.on_unlocked_charge(lambda outcome: reported.update([outcome]))
    counts = Counter(o for per in run_clients(work) for o in per)
    assert counts == {"ok": 36, "insufficient_funds": CLIENTS * 5 - 36}, counts
    assert landings["landed"] >= 1, landings  # the unlocked path did the work, not only the lock
    # every attempt was reported: the landed ones, the writes that found the terms broken,
    # and the refusals (the wallet could not afford them), sent to the lock
    assert reported["landed"] == landings["landed"] and reported["declined"] == landings["declined"]
    assert sum(reported.values()) == CLIENTS * 5
    assert reported["not_plain"] + reported["declined"] >= CLIENTS * 5 - 36
    view = wallets.wallet(ADMIN, org)
    assert (view.figures.cash, view.figures.available) == (Decimal("0.00"), Decimal("0.00"))
    assert view.spent_today == Decimal("370.00")
    # the statement: one line per change, seq without gaps, dates in seq order, each balance
    # the previous one less the charge
    lines = lines_of(container, org)
    assert [ln.seq for ln in lines] == list(range(1, len(lines) + 1))
    assert all(a.created_at <= b.created_at for a, b in itertools.pairwise(lines))
    assert all(b.after_cash == a.after_cash + b.amount for a, b in itertools.pairwise(lines))
    cached_equals_postings(container)


def warmed_up(container: Any, name: str) -> tuple[str, WalletService, Caller]:
    """A wallet with 100.00 whose first charge of the day (10.00, under the lock: it starts
    the day's spend) is done, so the next plain charge goes without the lock."""
    org = funded(container, name, "100.00")
    wallets = container.get(WalletService)
    caller = api_key_caller(org)
    wallets.charge(caller, org, Decimal("10.00"), "warm-up")
    return org, wallets, caller


def interleave(monkeypatch: pytest.MonkeyPatch, meanwhile: Any) -> dict[str, Any]:
    """Run ``meanwhile()`` — in another thread, so in another transaction — after the next
    unlocked charge has read and decided, just before its statement is sent. The answer
    holds what ``meanwhile`` returned and what that charge's statement wrote (``landed``)."""
    original = repos.SqlLedger.add_unlocked
    seen: dict[str, Any] = {}

    def late(self: Any, *args: Any, **kwargs: Any) -> Any:
        first = "meanwhile" not in seen
        if first:
            seen["meanwhile"] = None
            t = threading.Thread(target=lambda: seen.update(meanwhile=meanwhile()))
            t.start()
            t.join(30)
        landed = original(self, *args, **kwargs)
        if first:
            seen["landed"] = landed
        return landed

    monkeypatch.setattr(repos.SqlLedger, "add_unlocked", late)
    return seen


def test_a_hold_placed_after_the_read_sends_the_charge_back_to_the_lock(
        container: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    org, wallets, caller = warmed_up(container, "Stale Read Co")
    seen = interleave(monkeypatch, lambda: wallets.hold(
        caller, org, Decimal("85.00"), "big-order", datetime.now(UTC) + timedelta(hours=1)))
    with pytest.raises(InsufficientFunds):  # decided again on 90.00 cash with 85.00 held
        wallets.charge(caller, org, Decimal("10.00"), "late-order")
    assert seen["meanwhile"].hold.status == "active" and seen["landed"] is None  # the statement wrote nothing
    view = wallets.wallet(ADMIN, org)
    assert (view.figures.cash, view.figures.held, view.figures.available) == (
        Decimal("90.00"), Decimal("85.00"), Decimal("5.00"))
    assert [ln.seq for ln in lines_of(container, org)] == [1, 2, 3]  # recharge, warm-up, hold
    cached_equals_postings(container)


def test_a_charge_that_meets_its_terms_lands_on_the_newest_cash(
        container: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    org, wallets, caller = warmed_up(container, "Moving Cash Co")
    seen = interleave(monkeypatch, lambda: wallets.charge(caller, org, Decimal("30.00"), "meanwhile"))
    result = wallets.charge(caller, org, Decimal("10.00"), "decided-on-90")
    assert seen["meanwhile"].line.after.cash == Decimal("60.00")
    assert seen["landed"] is not None  # written without the lock, on top of the other charge
    assert result.line is not None and result.line.after.cash == Decimal("50.00") and result.line.seq == 4
    assert wallets.wallet(ADMIN, org).figures.cash == Decimal("50.00")
    cached_equals_postings(container)


def test_a_coupon_granted_after_the_read_is_drawn_first_under_the_lock(
        container: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    org, wallets, caller = warmed_up(container, "Coupon Race Co")
    interleave(monkeypatch, lambda: wallets.grant_coupon(
        ADMIN, org, "normal", Decimal("4.00"), datetime.now(UTC) + timedelta(days=3)))
    result = wallets.charge(caller, org, Decimal("10.00"), "after-the-grant")
    breakdown = result.entry.breakdown(org)
    assert (breakdown.normal_coupon, breakdown.cash) == (Decimal("4.00"), Decimal("6.00"))
    cached_equals_postings(container)


def test_a_credit_limit_lowered_after_the_read_sends_the_charge_back_to_the_lock(
        container: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    org, wallets, caller = warmed_up(container, "Credit Race Co")  # 90.00 cash
    wallets.set_credit_limit(ADMIN, org, Decimal("20.00"))
    wallets.hold(caller, org, Decimal("80.00"), "big-order", datetime.now(UTC) + timedelta(hours=1))
    # read: 90 cash + 20 spare credit - 80 held leaves 30; the platform then lowers the limit to 0
    seen = interleave(monkeypatch, lambda: wallets.set_credit_limit(ADMIN, org, Decimal("0.00")))
    with pytest.raises(InsufficientFunds):  # 90 - 80 = 10 < 15 on the wallet as it is
        wallets.charge(caller, org, Decimal("15.00"), "decided-with-credit")
    assert seen["landed"] is None
    view = wallets.wallet(ADMIN, org)
    assert (view.figures.cash, view.figures.available) == (Decimal("90.00"), Decimal("10.00"))


def test_a_daily_budget_set_after_the_read_sends_the_charge_back_to_the_lock(
        container: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    org, wallets, caller = warmed_up(container, "Budget Race Co")  # 10.00 spent today
    owner = owner_of(org)
    seen = interleave(monkeypatch, lambda: wallets.set_daily_budget(owner, org, Decimal("15.00")))
    with pytest.raises(DailyBudgetExceeded):
        wallets.charge(caller, org, Decimal("10.00"), "decided-without-budget")
    assert seen["landed"] is None
    assert wallets.wallet(ADMIN, org).spent_today == Decimal("10.00")


def test_a_charge_read_before_shanghai_midnight_and_written_after_the_new_day_began_goes_to_the_lock(
        container: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    midnight = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # 2026-12-02 00:00 in Shanghai
    with freeze_time(midnight - timedelta(seconds=1)) as frozen:
        org, wallets, caller = warmed_up(container, "Midnight Co")  # 10.00 spent on 12-01

        def new_day_begins() -> Any:
            frozen.move_to(midnight)
            return wallets.charge(caller, org, Decimal("5.00"), "first-of-12-02")  # under the lock: a new day

        seen = interleave(monkeypatch, new_day_begins)
        result = wallets.charge(caller, org, Decimal("10.00"), "read-on-12-01")
        view = wallets.wallet(ADMIN, org)
    assert seen["landed"] is None  # decided for 12-01, which had ended: nothing written
    assert result.entry.created_at == midnight and result.line is not None and result.line.local_day == "2026-12-02"
    assert view.spent_today == Decimal("15.00")  # both counted on 12-02, none on the day that ended


def test_a_charge_read_before_midnight_is_not_dated_into_a_day_its_spend_was_not_counted_in(
        container: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A recharge (which does not touch the day's spend) lands just after midnight, between
    the read and the write: the entry would be dated on the new day (after the wallet's last
    change) while its spend counted on the old one, escaping the new day's budget."""
    midnight = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    with freeze_time(midnight - timedelta(milliseconds=500)) as frozen:
        org, wallets, caller = warmed_up(container, "Midnight Recharge Co")

        def recharge_after_midnight() -> Any:
            frozen.move_to(midnight + timedelta(milliseconds=200))
            return container.get(RechargeService).recharge(FINANCE, org, Decimal("1.00"), "offline", "top-up")

        seen = interleave(monkeypatch, recharge_after_midnight)
        result = wallets.charge(caller, org, Decimal("10.00"), "read-on-12-01")
        view = wallets.wallet(ADMIN, org)
    assert seen["landed"] is None  # declined: the wallet's last change is dated on 12-02
    assert result.line is not None and result.line.local_day == "2026-12-02"
    assert view.spent_today == Decimal("10.00")  # counted on 12-02, where it is dated


def test_a_repeated_reference_is_answered_by_the_lock_path_without_a_second_entry(
        container: Any, landings: Counter[str]) -> None:
    org, wallets, caller = warmed_up(container, "Repeat Co")
    first = wallets.charge(caller, org, Decimal("10.00"), "order-x")
    again = wallets.charge(caller, org, Decimal("10.00"), "order-x")
    assert landings == {"landed": 1, "declined": 1}  # the repeat matched no row: nothing written
    assert not first.replayed and again.replayed and again.entry.id == first.entry.id
    assert wallets.wallet(ADMIN, org).figures.cash == Decimal("80.00")


def test_a_reference_charged_while_the_statement_waits_for_the_row_is_a_repeat(
        container: Any, monkeypatch: pytest.MonkeyPatch, landings: Counter[str]) -> None:
    """Another transaction holds the wallet's row and writes an entry with the same key; the
    statement (its key check already passed) waits, then fails on the entry's unique key:
    read as a repeat, nothing written, and the lock path answers with the other entry."""
    org, wallets, caller = warmed_up(container, "Key Race Co")
    locked, release = threading.Event(), threading.Event()

    def other_transaction() -> None:
        with container.get(UnitOfWorkFactory)() as uow:
            conn = uow.connection  # type: ignore[attr-defined]
            conn.execute(text("SELECT 1 FROM wallets WHERE org_id = :o FOR UPDATE"), {"o": org})
            conn.execute(text(
                "INSERT INTO ledger_entries (id, type, org_id, created_at, amount, reference, unique_key, note, "
                "details) VALUES ('ent_other', 'charge', :o, now(), 10.00, 'order-y', :k, '', :d)"),
                {"o": org, "k": f"charge:{org}:order-y", "d": '{"coupon_kind": "normal"}'})
            conn.execute(text(
                "INSERT INTO ledger_postings (entry_id, n, owner, account, amount, created_at) VALUES "
                "('ent_other', 0, :o, 'cash', -10.00, now()), ('ent_other', 1, 'platform', 'revenue', 10.00, now())"),
                {"o": org})
            locked.set()
            release.wait(10)
            uow.commit()

    original = repos.SqlLedger.add_unlocked
    other = threading.Thread(target=other_transaction)

    def racing(self: Any, *args: Any, **kwargs: Any) -> Any:
        other.start()
        locked.wait(10)
        threading.Timer(0.5, release.set).start()  # commits while the statement waits for the row
        return original(self, *args, **kwargs)

    monkeypatch.setattr(repos.SqlLedger, "add_unlocked", racing)
    result = wallets.charge(caller, org, Decimal("10.00"), "order-y")
    other.join(10)
    assert landings == {"declined": 1}  # the statement failed on the key: nothing written
    assert result.replayed and result.entry.id == "ent_other"
    assert wallets.wallet(ADMIN, org).figures.cash == Decimal("90.00")


# each guard of the statement on its own: a column the decision relied on changes between
# the read and the write (written straight into the row, so nothing else moves with it)
GUARDED_CHANGES = {
    "cash below the floor": "cash = 15.00",  # floor: 10 + held 62 - spare credit 50 = 22
    "held": "held = held + 1.00",
    "held for traffic": "held_traffic = 1.00",
    "credit limit": "credit_limit = credit_limit + 1.00",
    "credit used": "credit_used = 1.00",
    "coupons": "coupons_traffic = 1.00",
    "daily budget": "daily_budget = 1000.00",
    "spend over the ceiling": "spent_today = 495.00",
    "spend day": "spent_day = spent_day + 1",
    "threshold": "low_balance_threshold = 1.00",
    "alert": "low_balance_alerted = true",
    "withholding agreement": "withholding_active = false",
    "last change an hour later": "updated_at = updated_at + interval '1 hour'",
}


@pytest.mark.parametrize("change", list(GUARDED_CHANGES), ids=list(GUARDED_CHANGES))
def test_the_write_declines_when_any_figure_the_decision_relied_on_changed(
        container: Any, monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    org, wallets, _ = warmed_up(container, "Guarded Co")
    # every figure the terms compare is set, so each change below breaks exactly one guard
    with container.get(UnitOfWorkFactory)() as uow:
        uow.connection.execute(text(  # type: ignore[attr-defined]
            "UPDATE wallets SET withholding_active = true, daily_budget = 500.00, held = 62.00, credit_limit = 50.00 "
            "WHERE org_id = :o"), {"o": org})
        uow.commit()

    def meanwhile() -> None:
        with container.get(UnitOfWorkFactory)() as uow:
            uow.connection.execute(text(f"UPDATE wallets SET {GUARDED_CHANGES[change]} "  # type: ignore[attr-defined]
                                        "WHERE org_id = :o"), {"o": org})
            uow.commit()

    seen = interleave(monkeypatch, meanwhile)
    with contextlib.suppress(DomainError):  # refused on the changed figures, as the lock path decides
        wallets.charge(None, org, Decimal("10.00"), "guarded", withholding=True)  # the lock decides again
    assert "landed" in seen and seen["landed"] is None


def test_a_charge_whose_commit_guard_fails_leaves_nothing_written(
        container: Any, landings: Counter[str]) -> None:
    """With an Idempotency-Key lease (a commit guard) the unlocked statement commits with it,
    in one transaction: a guard that fails takes the charge back with it."""
    org, wallets, caller = warmed_up(container, "Guarded Commit Co")
    ran: list[str] = []

    def lease_lost(uow: Any) -> None:
        ran.append("lease_lost")
        raise RuntimeError("the key's lease was taken over")

    def lease_held(uow: Any) -> None:
        ran.append("lease_held")

    with commit_guards((lease_lost,)), pytest.raises(RuntimeError):
        wallets.charge(caller, org, Decimal("10.00"), "lost-lease")
    assert landings["landed"] == 1 and ran[0] == "lease_lost"  # written in the transaction, then rolled back
    assert wallets.wallet(ADMIN, org).figures.cash == Decimal("90.00")
    with commit_guards((lease_held,)):
        result = wallets.charge(caller, org, Decimal("10.00"), "held-lease")
    assert landings["landed"] == 2 and not result.replayed and ran[-1] == "lease_held"
    assert wallets.wallet(ADMIN, org).figures.cash == Decimal("80.00")
    cached_equals_postings(container)


def test_concurrent_unlocked_charges_never_pass_the_daily_budget(container: Any, landings: Counter[str]) -> None:
    org = funded(container, "Budget Co", "1000.00")
    wallets = container.get(WalletService)
    owner = owner_of(org)
    wallets.set_daily_budget(owner, org, Decimal("105.00"))
    caller = api_key_caller(org)
    wallets.charge(caller, org, Decimal("5.00"), "first")
    results = [o for per in run_clients(lambda i: [
        outcome(lambda k=k: wallets.charge(caller, org, Decimal("10.00"), f"b-{i}-{k}")) for k in range(2)])
        for o in per]
    assert Counter(results) == {"ok": 10, "daily_budget_exceeded": CLIENTS * 2 - 10}, Counter(results)
    assert landings["landed"] >= 1, landings
    assert wallets.wallet(ADMIN, org).spent_today == Decimal("105.00")
    cached_equals_postings(container)


def test_a_low_balance_alert_is_published_once_when_concurrent_charges_cross_the_threshold(
        container: Any, landings: Counter[str]) -> None:
    org = funded(container, "Threshold Co", "200.00")
    wallets = container.get(WalletService)
    owner = owner_of(org)
    wallets.set_low_balance_threshold(owner, org, Decimal("50.00"))
    caller = api_key_caller(org)
    wallets.charge(caller, org, Decimal("1.00"), "first")
    results = run_clients(lambda i: outcome(lambda: wallets.charge(caller, org, Decimal("10.00"), f"t-{i}")))
    assert Counter(results) == {"ok": CLIENTS}, Counter(results)
    assert landings["landed"] >= 1, landings
    view = wallets.wallet(ADMIN, org)
    assert view.figures.cash == Decimal("39.00") and view.low_balance_alerted
    with container.get(UnitOfWorkFactory)() as uow:
        alerts = uow.connection.execute(text(  # type: ignore[attr-defined]
            "SELECT count(*) FROM outbox WHERE event_name = 'WalletLowBalance'")).scalar_one()
    assert alerts >= 1
    assert alerts == len(container.get(UnitOfWorkFactory).registry.handlers_for("WalletLowBalance"))
    cached_equals_postings(container)


def test_with_the_setting_off_every_charge_is_decided_under_the_lock(
        container: Any, settings: Settings, overrides: list[Any], landings: Counter[str]) -> None:
    from entrypoints.container import build_container

    org = funded(container, "Locked Only Co", "100.00")
    locked = build_container(dataclasses.replace(settings, wallet_unlocked_charges=False), *overrides)
    wallets = locked.get(WalletService)
    caller = api_key_caller(org)
    for k in range(3):
        wallets.charge(caller, org, Decimal("10.00"), f"o-{k}")
    assert landings == {}
    assert wallets.wallet(ADMIN, org).figures.cash == Decimal("70.00")


def test_unlocked_charges_among_every_other_command_keep_every_figure_true(
        container: Any, landings: Counter[str]) -> None:
    """Eight clients on one wallet mix plain charges (mostly unlocked) with everything that
    changes what a charge relies on: holds placed, captured and released, recharges,
    coupon grants, a rising credit limit, a changing daily budget. Afterwards every cached
    figure must equal what the ledger and the holds and grants say."""
    import random

    org = funded(container, "Busy Co", "500.00")
    wallets, recharges = container.get(WalletService), container.get(RechargeService)
    owner = owner_of(org)
    caller = api_key_caller(org)
    wallets.charge(caller, org, Decimal("1.00"), "first")
    limit = [Decimal("0.00")]
    expected = (InsufficientFunds, DailyBudgetExceeded)

    def work(i: int) -> list[str]:
        rnd, out, mine = random.Random(i), [], []
        for k in range(25):
            op = rnd.random()
            try:
                if op < 0.6:
                    wallets.charge(caller, org, Decimal(rnd.randint(1, 900)) / 100, f"m-{i}-{k}")
                elif op < 0.7:
                    mine.append(wallets.hold(caller, org, Decimal(rnd.randint(1, 2000)) / 100, f"h-{i}-{k}",
                                             datetime.now(UTC) + timedelta(hours=1)).hold.id)
                elif op < 0.78 and mine:
                    wallets.release(caller, mine.pop())
                elif op < 0.83 and mine:
                    wallets.capture(caller, mine.pop(), None)
                elif op < 0.88:
                    recharges.recharge(FINANCE, org, Decimal(rnd.randint(100, 5000)) / 100, "offline", "top-up")
                elif op < 0.92:
                    wallets.grant_coupon(ADMIN, org, rnd.choice(["normal", "traffic"]),
                                         Decimal(rnd.randint(1, 500)) / 100, datetime.now(UTC) + timedelta(days=2))
                elif op < 0.96:
                    limit[0] += Decimal("5.00")  # raised only: lowering it is an administrative call (ADR 0007)
                    wallets.set_credit_limit(ADMIN, org, limit[0])
                else:
                    wallets.set_daily_budget(owner, org, rnd.choice([None, Decimal("400.00"), Decimal("2000.00")]))
                out.append("ok")
            except expected as refused:
                out.append(refused.code)
            except Exception as exc:  # anything else reaching a client fails the test
                out.append(f"{type(exc).__name__}: {exc}")
        return out

    results = Counter(o for per in run_clients(work, clients=8) for o in per)
    assert set(results) <= {"ok", "insufficient_funds", "daily_budget_exceeded"}, results
    assert landings["landed"] >= 1, landings
    cached_equals_postings(container)
    with container.get(UnitOfWorkFactory)() as uow:
        conn = uow.connection  # type: ignore[attr-defined]
        w = conn.execute(text("SELECT * FROM wallets WHERE org_id = :o"), {"o": org}).one()
        held = conn.execute(text("SELECT COALESCE(SUM(amount - captured), 0) FROM wallet_holds "
                                 "WHERE org_id = :o AND status = 'active'"), {"o": org}).scalar_one()
        coupons = dict(conn.execute(text(
            "SELECT kind, SUM(remaining) FROM wallet_coupon_grants WHERE org_id = :o AND lapsed_at IS NULL "
            "GROUP BY kind"), {"o": org}).all())
        spent = conn.execute(text(
            "SELECT COALESCE(SUM(e.amount), 0) FROM ledger_entries e JOIN wallet_lines l ON l.entry_id = e.id "
            "AND l.org_id = e.org_id WHERE e.org_id = :o AND e.type IN ('charge', 'capture') AND l.local_day = :d"),
            {"o": org, "d": w.spent_day.isoformat()}).scalar_one()
        credit_used = -conn.execute(text("SELECT COALESCE(SUM(amount), 0) FROM ledger_postings "
                                         "WHERE owner = :o AND account = 'credit'"), {"o": org}).scalar_one()
    assert w.held == held
    assert (w.coupons_normal, w.coupons_traffic) == (coupons.get("normal", 0), coupons.get("traffic", 0))
    assert w.spent_today == spent and w.credit_used == credit_used
    lines = lines_of(container, org)
    # seq is the wallet's version after the entry (settings such as the budget bump it too)
    assert all(a.seq < b.seq for a, b in itertools.pairwise(lines)) and lines[-1].seq <= w.version
    assert all(a.created_at <= b.created_at for a, b in itertools.pairwise(lines))
    assert lines[-1].after_cash == w.cash


# -- batches: charges combined in one process (ADR 0006) written unlocked ------------------------

def plain_batch(org: str, *amounts: str, refs: Sequence[str] = (), guards: tuple[Any, ...] = ()) -> list[_Charge]:
    names = list(refs) or [f"batch-{i}" for i in range(len(amounts))]
    return [_Charge(org, Decimal(a), r, None, (), False, None, None, guards)
            for a, r in zip(amounts, names, strict=True)]


def charged(results: Sequence[Any]) -> list[tuple[int, Decimal, bool]]:
    """What each caller of a batch saw: its line's seq and cash after, and whether replayed."""
    out = []
    for r in results:
        assert isinstance(r, EntryResult), r
        assert r.line is not None
        out.append((r.line.seq, r.line.after.cash, r.replayed))
    return out


def test_a_batch_of_plain_charges_is_written_unlocked_in_one_statement(
        container: Any, landings: Counter[str]) -> None:
    org, wallets, _ = warmed_up(container, "Batch Co")  # 90.00, lines 1 (recharge) and 2 (warm-up)
    results = wallets._charge_batch(plain_batch(org, "10.00", "20.00", "5.00"))
    assert landings == {"landed": 1}  # one statement for the three
    assert charged(results) == [(3, Decimal("80.00"), False), (4, Decimal("60.00"), False),
                                (5, Decimal("55.00"), False)]
    assert len({r.entry.created_at for r in results}) == 1  # one write, one date
    view = wallets.wallet(ADMIN, org)
    assert (view.figures.cash, view.spent_today) == (Decimal("55.00"), Decimal("45.00"))
    # what the callers were told is what the statement says
    assert [(ln.seq, ln.after_cash, ln.amount) for ln in lines_of(container, org)][2:] == [
        (3, Decimal("80.00"), Decimal("-10.00")), (4, Decimal("60.00"), Decimal("-20.00")),
        (5, Decimal("55.00"), Decimal("-5.00"))]
    cached_equals_postings(container)


def test_a_batch_lands_on_top_of_a_charge_written_between_its_read_and_its_write(
        container: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    org, wallets, caller = warmed_up(container, "Batch Race Co")  # 90.00
    seen = interleave(monkeypatch, lambda: wallets.charge(caller, org, Decimal("30.00"), "meanwhile"))
    results = wallets._charge_batch(plain_batch(org, "10.00", "15.00"))
    assert seen["meanwhile"].line.seq == 3 and seen["landed"] is not None
    # decided as seq 3 and 4 on 90.00, landed as 4 and 5 on 60.00
    assert charged(results) == [(4, Decimal("50.00"), False), (5, Decimal("35.00"), False)]
    lines = lines_of(container, org)
    assert [ln.seq for ln in lines] == [1, 2, 3, 4, 5]
    assert all(b.after_cash == a.after_cash + b.amount for a, b in itertools.pairwise(lines))
    assert [(ln.seq, ln.after_cash) for ln in lines[3:]] == [(4, Decimal("50.00")), (5, Decimal("35.00"))]
    cached_equals_postings(container)


def test_a_batch_the_wallet_cannot_afford_whole_is_decided_under_the_lock(
        container: Any, landings: Counter[str]) -> None:
    org, wallets, _ = warmed_up(container, "Batch Short Co")  # 90.00
    first, second, third = wallets._charge_batch(plain_batch(org, "50.00", "30.00", "20.00"))
    assert landings == {}  # refused on the read: nothing was sent unlocked
    assert charged([first, second]) == [(3, Decimal("40.00"), False), (4, Decimal("10.00"), False)]
    assert isinstance(third, InsufficientFunds)
    assert wallets.wallet(ADMIN, org).figures.cash == Decimal("10.00")
    cached_equals_postings(container)


def test_a_batch_with_a_reference_charged_before_is_declined_and_the_lock_replays_it(
        container: Any, landings: Counter[str]) -> None:
    org, wallets, caller = warmed_up(container, "Batch Repeat Co")  # 90.00
    first = wallets.charge(caller, org, Decimal("10.00"), "order-1")  # unlocked, alone
    results = wallets._charge_batch(plain_batch(org, "10.00", "7.00", refs=["order-1", "order-2"]))
    assert landings == {"landed": 1, "declined": 1}  # the batch's statement found order-1 taken
    assert results[0].replayed and results[0].entry.id == first.entry.id
    assert charged(results[1:]) == [(4, Decimal("73.00"), False)]
    # a reference twice in one batch: the lock path answers the second as a repeat
    again = wallets._charge_batch(plain_batch(org, "3.00", "3.00", refs=["order-3", "order-3"]))
    assert landings == {"landed": 1, "declined": 1}  # not even tried unlocked
    assert charged(again) == [(5, Decimal("70.00"), False), (5, Decimal("70.00"), True)]
    assert wallets.wallet(ADMIN, org).spent_today == Decimal("30.00")
    cached_equals_postings(container)


def test_a_hold_placed_after_a_batch_read_sends_the_whole_batch_to_the_lock(
        container: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    org, wallets, caller = warmed_up(container, "Batch Hold Co")  # 90.00
    seen = interleave(monkeypatch, lambda: wallets.hold(
        caller, org, Decimal("70.00"), "big-order", datetime.now(UTC) + timedelta(hours=1)))
    first, second = wallets._charge_batch(plain_batch(org, "15.00", "10.00"))
    assert seen["landed"] is None  # the terms no longer held: nothing written unlocked
    assert charged([first]) == [(4, Decimal("75.00"), False)]  # 90 - 15, with 70 held: 5 left
    assert isinstance(second, InsufficientFunds)
    cached_equals_postings(container)


def test_a_batch_whose_commit_guard_fails_leaves_nothing_written(
        container: Any, landings: Counter[str]) -> None:
    org, wallets, _ = warmed_up(container, "Batch Guard Co")  # 90.00

    def lease_lost(uow: Any) -> None:
        raise RuntimeError("the key's lease was taken over")

    with pytest.raises(RuntimeError):  # the combiner then runs each charge on its own
        wallets._charge_batch(plain_batch(org, "10.00", "20.00", guards=(lease_lost,)))
    assert landings == {"landed": 1}  # written in the guards' transaction, then rolled back
    assert wallets.wallet(ADMIN, org).figures.cash == Decimal("90.00")
    assert [ln.seq for ln in lines_of(container, org)] == [1, 2]
    cached_equals_postings(container)
