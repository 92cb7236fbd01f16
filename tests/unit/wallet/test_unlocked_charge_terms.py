"""ADR 0010: a charge decided on an unlocked, possibly stale copy of a wallet is written only
under ``ChargeTerms``. These tests hold the terms against the domain itself: on *any*
wallet that meets them — whatever cash and spend other charges left — ``Wallet.charge``
takes exactly the decision that was written. If a rule of the charge changes and the
terms do not follow, hypothesis finds the wallet where they part."""
from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from domain.shared.errors import DomainError
from domain.wallet.events import WalletCharged
from domain.wallet.model import PLATFORM_TZ, CouponGrant, Wallet

NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
TODAY = NOW.astimezone(PLATFORM_TZ).date()
D = Decimal

cents = st.integers(min_value=0, max_value=5_000).map(lambda c: D(c) / 100)
# hypothesis draws the low end most often: this one's low end is 200.00
wide = st.integers(min_value=0, max_value=20_000).map(lambda c: D(20_000 - c) / 100)
now_and_then = st.integers(0, 4).map(lambda n: n == 3)  # about one in five, not hypothesis's favourite 0
maybe = st.one_of(st.none(), cents)


@st.composite
def wallets(draw: st.DrawFn) -> Wallet:
    """Wallets of every shape, most of them plain enough to get terms (so the property is
    tested on many wallets, not skipped): cash up to 200.00 against holds, credit and a
    threshold up to 50.00 each; a coupon grant, an alert or another spend day now and then."""
    limit = draw(cents)
    used = min(draw(cents), limit)
    held = draw(cents)
    w = Wallet(org_id="org_a", created_at=NOW - timedelta(days=1),
               cash=draw(wide), credit_limit=limit, credit_used=used, held=held,
               held_traffic=min(draw(cents), held), daily_budget=draw(st.one_of(st.none(), wide)),
               spent_day=draw(st.sampled_from([TODAY - timedelta(days=1), None])) if draw(now_and_then) else TODAY,
               spent_today=draw(cents), low_balance_threshold=draw(maybe),
               low_balance_alerted=draw(now_and_then), withholding_active=not draw(now_and_then),
               version=draw(st.integers(0, 50)))
    if draw(now_and_then):
        w.grants.append(CouponGrant(id="cpn_1", org_id="org_a", kind=draw(st.sampled_from(["normal", "traffic"])),
                                    amount=D("5.00"), remaining=D("5.00"), expires_at=NOW + timedelta(days=3),
                                    granted_by="platform", created_at=NOW - timedelta(days=1)))
    return w


def plain(**kw: object) -> Wallet:
    fields: dict[str, object] = dict(org_id="org_a", created_at=NOW, cash=D("100.00"), spent_day=TODAY)
    fields.update(kw)
    return Wallet(**fields)  # type: ignore[arg-type]


def postings(entry: object) -> list[tuple[str, str, Decimal]]:
    return [(p.account.owner, p.account.name, p.amount) for p in entry.postings]  # type: ignore[attr-defined]


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
# the floor's parts, each binding at the floor itself: holds beyond the spare credit, the
# threshold on top of them, and the budget's ceiling
@example(w=plain(cash=D("60.00"), held=D("50.00"), credit_limit=D("20.00"), credit_used=D("5.00")),
         amount=D("12.00"), withholding=False, kind=None, cash_up=D(0), spent_down=D(0), data=None)
@example(w=plain(cash=D("80.00"), held=D("30.00"), low_balance_threshold=D("25.00")),
         amount=D("10.00"), withholding=False, kind="traffic", cash_up=D(0), spent_down=D(0), data=None)
@example(w=plain(daily_budget=D("50.00"), spent_today=D("30.00")),
         amount=D("20.00"), withholding=False, kind=None, cash_up=D(0), spent_down=D(0), data=None)
@given(w=wallets(), amount=st.integers(1, 3_000).map(lambda c: D(c) / 100), withholding=st.booleans(),
       kind=st.sampled_from([None, "normal", "traffic"]), cash_up=cents, spent_down=cents, data=st.data())
def test_any_wallet_that_meets_the_terms_gets_the_same_decision(
        w: Wallet, amount: Decimal, withholding: bool, kind: str | None, cash_up: Decimal, spent_down: Decimal,
        data: st.DataObject | None) -> None:
    terms = w.unlocked_charge_terms(amount, NOW, withholding=withholding)
    event("left to the lock" if terms is None else "terms")  # --hypothesis-show-statistics
    if terms is None:
        return
    decided = copy.deepcopy(w)
    entry = decided.charge(amount, "order-1", NOW, coupon_kind=kind, withholding=withholding)  # must not raise
    # the wallet as another process may have left it: cash anywhere from the floor up,
    # today's spend anywhere up to the ceiling, every other figure as the terms say
    later = copy.deepcopy(w)
    later.cash = terms.cash_floor + (cash_up if data is None else data.draw(st.sampled_from([D(0), cash_up])))
    if terms.spent_ceiling is not None:
        later.spent_today = max(terms.spent_ceiling - spent_down, D(0))
    else:
        later.spent_today = spent_down
    cash, spent = later.cash, later.spent_today
    try:
        again = later.charge(amount, "order-1", NOW, coupon_kind=kind, withholding=withholding)
    except DomainError as refused:  # pragma: no cover - a failure of the terms
        raise AssertionError(f"the terms admitted a wallet the domain refuses: {refused}") from refused
    assert postings(again) == postings(entry)
    assert again.breakdown("org_a") == entry.breakdown("org_a")
    assert dict(again.details) == dict(entry.details)
    assert [type(e) for e in later.events] == [WalletCharged]
    # what the write applies: cash less the amount, the spend counted on the day, nothing else
    assert later.cash == cash - terms.amount
    assert later.spent_today == spent + amount and later.spent_day == terms.day
    assert not later.low_balance_alerted
    assert (later.credit_limit, later.credit_used, later.held, later.held_traffic) == (
        terms.credit_limit, terms.credit_used, terms.held, terms.held_traffic)


def test_a_plain_cash_wallet_qualifies_and_its_floor_covers_holds_and_the_threshold() -> None:
    w = Wallet(org_id="org_a", created_at=NOW, cash=D("100.00"), credit_limit=D("20.00"), credit_used=D("5.00"),
               held=D("30.00"), spent_day=TODAY, spent_today=D("7.00"), daily_budget=D("50.00"),
               low_balance_threshold=D("10.00"))
    terms = w.unlocked_charge_terms(D("12.00"), NOW)
    assert terms is not None
    # 12 from cash; cash must also cover the holds beyond the spare credit (30 - 15) and keep
    # available (cash + 15 - 30 - 12) at or above the threshold 10
    assert terms.cash_floor == D("37.00")
    assert terms.spent_ceiling == D("38.00") and terms.day == TODAY
    assert terms.day_ends == datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # Shanghai midnight


def test_shapes_the_terms_leave_to_the_lock() -> None:
    payee = plain(org_id="org_b")
    assert plain().unlocked_charge_terms(D("1.00"), NOW) is not None
    assert plain().unlocked_charge_terms(D("1.00"), NOW, payees=[(payee, D("0.50"))]) is None
    assert plain(cash=D("0.99")).unlocked_charge_terms(D("1.00"), NOW) is None  # would need credit
    assert plain(spent_day=TODAY - timedelta(days=1)).unlocked_charge_terms(D("1.00"), NOW) is None  # new day
    assert plain(spent_day=None).unlocked_charge_terms(D("1.00"), NOW) is None
    assert plain(low_balance_alerted=True).unlocked_charge_terms(D("1.00"), NOW) is None
    assert plain(low_balance_threshold=D("99.50")).unlocked_charge_terms(D("1.00"), NOW) is None  # would cross
    assert plain(daily_budget=D("5.00"), spent_today=D("4.50")).unlocked_charge_terms(D("1.00"), NOW) is None
    assert plain().unlocked_charge_terms(D("1.00"), NOW, withholding=True) is None  # no agreement
    with_coupon = plain()
    with_coupon.grants.append(CouponGrant(id="cpn_1", org_id="org_a", kind="normal", amount=D("5.00"),
                                          remaining=D("5.00"), expires_at=NOW + timedelta(days=1),
                                          granted_by="platform", created_at=NOW))
    assert with_coupon.unlocked_charge_terms(D("1.00"), NOW) is None
    # at Shanghai midnight the day changes: the first charge of the day goes under the lock
    midnight = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
    assert plain().unlocked_charge_terms(D("1.00"), midnight - timedelta(microseconds=1)) is not None
    assert plain().unlocked_charge_terms(D("1.00"), midnight) is None
    assert plain(spent_day=date(2026, 3, 2)).unlocked_charge_terms(D("1.00"), midnight) is not None


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(w=wallets(), amounts=st.lists(st.integers(1, 1_500).map(lambda c: D(c) / 100), min_size=2, max_size=5),
       withholding=st.lists(st.booleans(), min_size=5, max_size=5), cash_up=cents, spent_down=cents)
def test_a_batch_decided_one_by_one_under_the_terms_of_its_total_is_the_same_on_any_wallet_that_meets_them(
        w: Wallet, amounts: list[Decimal], withholding: list[bool], cash_up: Decimal, spent_down: Decimal) -> None:
    """A combined batch of plain charges (ADR 0006 meets ADR 0010) is decided charge after
    charge on the read and written under the terms for its total: on any wallet that meets
    those, the same charges one after the other take the same decisions."""
    modes = withholding[:len(amounts)]
    terms = w.unlocked_charge_terms(sum(amounts, D(0)), NOW, withholding=any(modes))
    event("left to the lock" if terms is None else "terms")
    if terms is None:
        return
    decided = copy.deepcopy(w)
    entries = [decided.charge(a, f"order-{i}", NOW, withholding=m)
               for i, (a, m) in enumerate(zip(amounts, modes, strict=True))]  # must not raise
    later = copy.deepcopy(w)
    later.cash = terms.cash_floor + cash_up
    later.spent_today = (max(terms.spent_ceiling - spent_down, D(0)) if terms.spent_ceiling is not None
                         else spent_down)
    cash, spent = later.cash, later.spent_today
    for i, (a, m, entry) in enumerate(zip(amounts, modes, entries, strict=True)):
        try:
            again = later.charge(a, f"order-{i}", NOW, withholding=m)
        except DomainError as refused:  # pragma: no cover - a failure of the terms
            raise AssertionError(f"charge {i} of the batch refused under its terms: {refused}") from refused
        assert postings(again) == postings(entry)
        assert again.breakdown("org_a") == entry.breakdown("org_a")
    assert [type(e) for e in later.events] == [WalletCharged] * len(amounts)
    # what the write applies for the batch: cash less the total, the total counted on the day
    assert later.cash == cash - terms.amount and later.spent_today == spent + terms.amount
    assert not later.low_balance_alerted
