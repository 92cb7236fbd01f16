"""What an agency may reclaim from a principal: the allocated money not yet spent. The
fold over the principal's statement lines (``unspent_allocation``) is held against a model
that keeps two purses — the agency's money and the principal's own — where every outflow
spends the agency's purse first."""
from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from domain.wallet.model import CashMove, unspent_allocation

D = Decimal
amounts = st.integers(1, 5_000).map(lambda c: D(c) / 100)
steps = st.lists(st.tuples(st.sampled_from(["allocate", "reclaim", "own_in", "out"]), amounts), max_size=40)


@given(steps)
def test_the_fold_over_the_lines_equals_two_purses_that_spend_the_agency_money_first(
        ops: list[tuple[str, Decimal]]) -> None:
    agency, own = D(0), D(0)
    moves: list[CashMove] = []
    for op, amount in ops:
        if op == "allocate":
            agency += amount
            change = amount
        elif op == "reclaim":
            amount = min(amount, agency)  # a reclaim never takes more than is unspent
            if not amount:
                continue
            agency -= amount
            change = -amount
        elif op == "own_in":
            own += amount
            change = amount
        else:  # a charge, a withdrawal ...: the agency's purse first
            amount = min(amount, agency + own)
            if not amount:
                continue
            from_agency = min(amount, agency)
            agency, own = agency - from_agency, own - (amount - from_agency)
            change = -amount
        moves.append(CashMove(change=change, cash_after=agency + own, by_agency=op in ("allocate", "reclaim")))
        assert unspent_allocation(moves) == agency


def test_the_principal_own_money_is_never_reclaimable() -> None:
    moves = [CashMove(D("20.00"), D("20.00"), True),  # allocated
             CashMove(D("-20.00"), D("0.00"), False),  # spent
             CashMove(D("20.00"), D("20.00"), False)]  # the principal's own recharge
    assert unspent_allocation(moves) == D("0.00")
    assert unspent_allocation(moves[:1]) == D("20.00")
    assert unspent_allocation([]) == D("0.00")
