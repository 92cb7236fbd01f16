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

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.shared.access import Caller
from application.wallet import RechargeService, WalletService
from application.wallet.services import EntryResult, _Charge
from domain.shared.errors import DomainError
from tests.integration.test_wallet_concurrency import FINANCE, make_org

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
