"""What an agency may reclaim from a principal: the money it allocated and was not spent
(ADR 0011). The fold over the principal's statement lines (``unspent_allocations``) is held
against purses kept by hand — one per agency and the principal's own — and against the
cases a review found: several agencies, a deposit paid and refunded, withdrawals."""
from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from domain.wallet.model import CashMove, unspent_allocations

D = Decimal
amounts = st.integers(1, 5_000).map(lambda c: D(c) / 100)
steps = st.lists(st.tuples(st.sampled_from(["allocate", "reclaim", "own_in", "spend", "withdraw"]),
                           st.sampled_from(["A", "B"]), amounts), max_size=40)


@given(steps)
def test_the_fold_equals_purses_kept_by_hand(ops: list[tuple[str, str, Decimal]]) -> None:
    """Spends take the agencies' money first (the first to allocate first), withdrawals
    the principal's own first; each agency's reclaim only its own purse."""
    purse: dict[str, Decimal] = {}
    own = D(0)
    moves: list[CashMove] = []
    for op, agency, amount in ops:
        if op == "allocate":
            purse[agency] = purse.get(agency, D(0)) + amount
            moves.append(CashMove(amount, sum(purse.values()) + own, "allocation", agency))
            continue
        if op == "reclaim":
            amount = min(amount, purse.get(agency, D(0)))
            if not amount:
                continue
            purse[agency] -= amount
            moves.append(CashMove(-amount, sum(purse.values()) + own, "allocation", agency))
            continue
        if op == "own_in":
            own += amount
            moves.append(CashMove(amount, sum(purse.values()) + own, "recharge", None))
            continue
        amount = min(amount, sum(purse.values()) + own)
        if not amount:
            continue
        left = amount
        order = [None, *purse] if op == "withdraw" else [*purse, None]
        for who in order:
            part = min(left, own if who is None else purse[who])
            if who is None:
                own -= part
            else:
                purse[who] -= part
            left -= part
        moves.append(CashMove(-amount, sum(purse.values()) + own, "refund" if op == "withdraw" else "charge", None))
    shares = unspent_allocations(moves)
    assert {a: v for a, v in shares.items() if v} == {a: v for a, v in purse.items() if v}


def line(change: str, after: str, kind: str, agency: str | None = None) -> CashMove:
    return CashMove(D(change), D(after), kind, agency)


def test_the_principal_own_money_is_never_reclaimable() -> None:
    moves = [line("20", "20", "allocation", "A"), line("-20", "0", "charge"), line("20", "20", "recharge")]
    assert unspent_allocations(moves).get("A") == D(0)
    assert unspent_allocations(moves[:1]) == {"A": D(20)}
    assert unspent_allocations([]) == {}


def test_another_agencys_reclaim_takes_its_own_share_only() -> None:
    moves = [line("50", "50", "allocation", "A"), line("50", "100", "allocation", "B"),
             line("-50", "50", "allocation", "B")]  # B takes its 50 back
    assert unspent_allocations(moves) == {"A": D(50), "B": D(0)}


def test_a_spend_takes_the_first_agencys_money_first_and_leaves_the_others() -> None:
    moves = [line("50", "50", "allocation", "A"), line("50", "100", "allocation", "B"),
             line("-70", "30", "charge")]
    assert unspent_allocations(moves) == {"A": D(0), "B": D(30)}


def test_a_deposit_refund_goes_back_to_whoever_paid_it() -> None:
    moves = [line("100", "100", "allocation", "A"), line("-100", "0", "deposit"),  # paid with A's money
             line("60", "60", "deposit"), line("40", "100", "deposit")]  # refunded in two parts
    assert unspent_allocations(moves) == {"A": D(100)}
    own_then_a = [line("30", "30", "recharge"), line("70", "100", "allocation", "A"),
                  line("-100", "0", "deposit"), line("100", "100", "deposit")]
    assert unspent_allocations(own_then_a) == {"A": D(70)}  # A's 70 went in first, and comes back to A


def test_withdrawals_take_the_principal_own_money_first_and_a_failed_one_returns_it() -> None:
    moves = [line("100", "100", "recharge"), line("100", "200", "allocation", "A"),
             line("-60", "140", "refund"),  # the principal withdraws part of its own recharge
             line("-10", "130", "refund"), line("10", "140", "refund")]  # a withdrawal that failed
    assert unspent_allocations(moves) == {"A": D(100)}
    # a failed withdrawal's money goes back where it came from: here partly A's
    spent_own = [line("20", "20", "recharge"), line("100", "120", "allocation", "A"),
                 line("-30", "90", "refund"), line("30", "120", "refund")]
    assert unspent_allocations(spent_own) == {"A": D(100)}
