"""Combined charges (ADR 0006) answer exactly as the same charges one after the other.

Two twin wallets are funded alike (cash, coupons of both kinds, a credit line, a daily
budget). Hypothesis draws a sequence of charges — repeated references with the same or
another body, coupon kinds, payees, amounts past what is left, past the budget — and
runs it on one twin one charge per transaction and on the other as one combined batch.
Every caller's outcome (entry figures and breakdown, replayed or not, or the refusal),
the statement lines and the wallets' figures must be the same. Runs on SQLite and, in
the PostgreSQL suite, on PostgreSQL.
"""
from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

import adapters.postgres.wallet_repos as repos
from application.shared.access import Caller
from application.shared.uow import UnitOfWorkFactory
from application.wallet import RechargeService, WalletService
from application.wallet.services import EntryResult, _Charge
from domain.shared.errors import DomainError
from tests.integration.test_wallet_concurrency import (
    CLIENTS,
    FINANCE,
    api_key_caller,
    cached_equals_postings,
    make_org,
    outcome,
    run_clients,
)

ADMIN = Caller(org_id="org_platform", org_kinds=frozenset({"platform"}), roles=("platform_admin",),
               user_id="usr_admin")

charge = st.tuples(
    st.sampled_from(["r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8"]),  # few references: repeats happen
    st.sampled_from([Decimal("0.50"), Decimal("3.00"), Decimal("12.34"), Decimal("40.00"), Decimal("95.00")]),
    st.sampled_from([None, "traffic"]),
    st.sampled_from([None, Decimal("0.40")]),  # a payee's part (the supplier)
)


def twin(container: Any, name: str) -> str:
    org = make_org(container, name)
    wallets = container.get(WalletService)
    container.get(RechargeService).recharge(FINANCE, org, Decimal("60.00"), "offline", "prepaid")
    expires = datetime(2099, 1, 1, tzinfo=UTC)
    wallets.grant_coupon(ADMIN, org, "normal", Decimal("15.00"), expires)
    wallets.grant_coupon(ADMIN, org, "traffic", Decimal("10.00"), expires + timedelta(days=1))
    wallets.set_credit_limit(ADMIN, org, Decimal("30.00"))
    wallets.set_daily_budget(ADMIN, org, Decimal("150.00"))
    return org


def seen(outcome: EntryResult | BaseException) -> tuple[Any, ...]:
    """What a caller sees, without ids that differ between the twins."""
    if isinstance(outcome, BaseException):
        return ("refused", type(outcome).__name__, getattr(outcome, "code", None))
    line = outcome.line
    assert line is not None
    return ("ok", outcome.replayed, outcome.entry.amount, line.seq, line.amount, line.breakdown, line.after,
            dict(line.details).get("coupon_kind"), dict(line.details).get("payees", "").split(":")[-1])


def one_by_one(call: Callable[[], EntryResult]) -> EntryResult | BaseException:
    try:
        return call()
    except DomainError as exc:
        return exc


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(draws=st.lists(charge, min_size=2, max_size=14))
def test_a_combined_batch_answers_as_the_same_charges_one_by_one(container: Any, draws: list[Any]) -> None:
    wallets = container.get(WalletService)
    serial, combined, supplier = twin(container, "Serial"), twin(container, "Combined"), make_org(
        container, "Supplier", ("supplier",))

    def request(org: str, draw: Any) -> _Charge:
        ref, amount, kind, payee = draw
        payees = ((supplier, payee),) if payee is not None else ()
        return _Charge(org, amount, ref, kind, payees, False, None, None)

    expected = [one_by_one(lambda d=d: wallets._charge_one(request(serial, d))) for d in draws]
    got = wallets._charge_batch([request(combined, d) for d in draws])

    assert [seen(o) for o in got] == [seen(o) for o in expected]
    a, b = wallets.wallet(ADMIN, serial), wallets.wallet(ADMIN, combined)
    assert (a.figures, a.spent_today) == (b.figures, b.spent_today)
    assert [(g.kind, g.remaining) for g in a.grants] == [(g.kind, g.remaining) for g in b.grants]
    assert wallets.ledger_total() == 0


plain_charge = st.tuples(
    st.sampled_from([f"p{i}" for i in range(12)]),  # repeats now and then
    st.sampled_from([Decimal("0.50"), Decimal("3.00"), Decimal("12.34"), Decimal("40.00")]),
    st.sampled_from([None, "normal"]),
)


def plain_twin(container: Any, name: str) -> str:
    """Cash only, a daily budget and a low-balance threshold: on PostgreSQL a batch on it is
    written unlocked in one statement (ADR 0010) when it fits the terms of its total."""
    org = make_org(container, name)
    wallets = container.get(WalletService)
    container.get(RechargeService).recharge(FINANCE, org, Decimal("150.00"), "offline", "prepaid")
    wallets.set_daily_budget(ADMIN, org, Decimal("120.00"))
    wallets.set_low_balance_threshold(ADMIN, org, Decimal("20.00"))
    wallets._charge_one(_Charge(org, Decimal("1.00"), "first-of-the-day", None, (), False, None, None))
    return org


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(draws=st.lists(plain_charge, min_size=2, max_size=8))
def test_a_combined_batch_of_plain_charges_answers_as_the_same_charges_one_by_one(
        container: Any, draws: list[Any]) -> None:
    wallets = container.get(WalletService)
    serial, combined = plain_twin(container, "Plain Serial"), plain_twin(container, "Plain Combined")
    expected = [one_by_one(lambda d=d: wallets._charge_one(_Charge(serial, d[1], d[0], d[2], (), False, None, None)))
                for d in draws]
    outcomes: list[str] = []
    wallets.on_unlocked_charge(outcomes.append)
    got = wallets._charge_batch([_Charge(combined, amount, ref, kind, (), False, None, None)
                                 for ref, amount, kind in draws])
    event(f"batch: {outcomes[0] if outcomes else 'no unlocked path'}")  # --hypothesis-show-statistics
    assert [seen(o) for o in got] == [seen(o) for o in expected]
    a, b = wallets.wallet(ADMIN, serial), wallets.wallet(ADMIN, combined)
    assert (a.figures, a.spent_today, a.low_balance_alerted) == (b.figures, b.spent_today, b.low_balance_alerted)
    assert wallets.ledger_total() == 0


def test_a_repeat_inside_a_batch_answers_the_first_and_a_changed_repeat_is_refused(container: Any) -> None:
    wallets = container.get(WalletService)
    org = twin(container, "Repeats")
    got = wallets._charge_batch([
        _Charge(org, Decimal("5.00"), "order-1", None, (), False, None, None),
        _Charge(org, Decimal("5.00"), "order-1", None, (), False, None, None),  # the same again
        _Charge(org, Decimal("6.00"), "order-1", None, (), False, None, None),  # another body
        _Charge(org, Decimal("120.00"), "order-2", None, (), False, None, None),  # more than is left
    ])
    first, again, changed, too_much = got
    assert isinstance(first, EntryResult) and not first.replayed
    assert isinstance(again, EntryResult) and again.replayed and again.entry.id == first.entry.id
    assert getattr(changed, "code", None) == "duplicate_reference"
    assert getattr(too_much, "code", None) == "insufficient_funds"
    # an earlier transaction's reference is a replay too
    later = wallets._charge_batch([_Charge(org, Decimal("5.00"), "order-1", None, (), False, None, None),
                                   _Charge(org, Decimal("1.00"), "order-3", None, (), False, None, None)])
    assert isinstance(later[0], EntryResult) and later[0].replayed and later[0].entry.id == first.entry.id
    assert isinstance(later[1], EntryResult) and not later[1].replayed
    view = wallets.wallet(ADMIN, org)
    assert view.spent_today == Decimal("6.00")  # 5.00 + 1.00: nothing counted twice


@pytest.mark.postgres
def test_sixteen_threads_charging_one_wallet_combined_and_unlocked_get_exactly_what_it_affords(
        container: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads of one process on one wallet: the combiner batches them and each batch of
    plain charges is written unlocked in one statement (ADR 0006 with ADR 0010), while
    the lock path takes what does not fit. Exactly what the wallet affords goes through."""
    org = make_org(container, "Hot Combined Co")
    container.get(RechargeService).recharge(FINANCE, org, Decimal("370.00"), "offline", "prepaid")
    wallets, caller = container.get(WalletService), api_key_caller(org)
    wallets.charge(caller, org, Decimal("10.00"), "first-of-the-day")  # starts the day's spend: locked
    sizes: list[int] = []
    original = repos.SqlLedger.add_unlocked

    def sized(self: Any, entries: Any, lines: Any, terms: Any, **kwargs: Any) -> Any:
        landed = original(self, entries, lines, terms, **kwargs)
        if landed is not None:
            sizes.append(len(entries))
        return landed

    monkeypatch.setattr(repos.SqlLedger, "add_unlocked", sized)

    def work(i: int) -> list[str]:
        return [outcome(lambda k=k: wallets.charge(caller, org, Decimal("10.00"), f"order-{i}-{k}")) for k in range(5)]

    counts = Counter(o for per in run_clients(work) for o in per)
    assert counts == {"ok": 36, "insufficient_funds": CLIENTS * 5 - 36}, counts
    assert max(sizes, default=0) > 1, sizes  # batches were written unlocked, several charges a statement
    view = wallets.wallet(ADMIN, org)
    assert (view.figures.cash, view.spent_today) == (Decimal("0.00"), Decimal("370.00"))
    with container.get(UnitOfWorkFactory)() as uow:
        lines = list(uow.connection.execute(text(  # type: ignore[attr-defined]
            "SELECT seq, created_at, after_cash, amount FROM wallet_lines WHERE org_id = :o ORDER BY seq"),
            {"o": org}))
    assert [ln.seq for ln in lines] == list(range(1, len(lines) + 1))
    assert all(a.created_at <= b.created_at for a, b in itertools.pairwise(lines))
    assert all(b.after_cash == a.after_cash + b.amount for a, b in itertools.pairwise(lines))
    cached_equals_postings(container)
