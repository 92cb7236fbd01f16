"""Which wallets others charge hard (application/wallet/contention.py, ADR 0013)."""
from __future__ import annotations

from application.wallet.contention import Contention
from tests.unit.wallet.test_recent_wallets import Ticks


def watching(rate: float = 400, limit: int = 10_000) -> tuple[Contention, Ticks]:
    """A process's watch over wallets, windows of 250 ms, on a clock the test moves."""
    clock = Ticks()
    return Contention(rate=rate, window=0.25, limit=limit, monotonic=clock), clock


def measured(others: int, rate: float = 400) -> tuple[Contention, Ticks]:
    """One wallet measured over one 250 ms window: one landing of ours at each end, and
    ``others`` versions by other processes between them."""
    seen, clock = watching(rate)
    seen.landed("org_a", 10)
    clock.now += 0.25
    seen.landed("org_a", 11 + others)
    return seen, clock


def test_a_wallet_is_contended_once_others_moved_it_fast_enough_over_a_window() -> None:
    seen, clock = watching()
    seen.landed("org_a", 10)  # the first landing only starts a measurement
    clock.now += 0.25
    seen.landed("org_a", 11 + 100)  # ours (1) and 100 by others in 250 ms: exactly 400 a second
    assert seen.contended("org_a")
    assert not seen.contended("org_b")


def test_just_below_the_rate_is_not_contended() -> None:
    seen, _ = measured(99)  # 396 a second
    assert not seen.contended("org_a")


def test_this_process_own_charges_never_count_however_fast() -> None:
    seen, clock = watching(rate=1)
    version = 10
    seen.landed("org_a", version)
    for _ in range(100):
        clock.now += 0.0078125
        version += 4  # a batch of four of ours
        seen.landed("org_a", version, count=4)
    assert not seen.contended("org_a")


def test_landings_inside_the_window_add_up_until_it_closes() -> None:
    seen, clock = watching()
    seen.landed("org_a", 10)
    clock.now += 0.125
    seen.landed("org_a", 11 + 150)  # 150 by others so far, but only 125 ms: no verdict yet
    assert not seen.contended("org_a")
    clock.now += 0.125
    seen.landed("org_a", 162)  # 250 ms: 150 by others and 2 of ours: 600 a second
    assert seen.contended("org_a")


def test_one_slow_measurement_ends_it() -> None:
    seen, clock = measured(189)
    assert seen.contended("org_a")
    clock.now += 10
    seen.landed("org_a", 201)  # ten seconds with no one else
    assert not seen.contended("org_a")


def test_a_version_that_went_back_starts_over() -> None:
    seen, clock = watching()
    seen.landed("org_a", 500)
    clock.now += 0.25
    seen.landed("org_a", 3)  # another database, a restored wallet: no negative rate, a new mark
    clock.now += 0.25
    seen.landed("org_a", 4 + 100)
    assert seen.contended("org_a")


def test_rate_zero_treats_every_wallet_as_contended() -> None:
    assert Contention(rate=0).contended("org_never_seen")


def test_the_memory_is_bounded() -> None:
    seen, clock = watching(limit=3)
    seen.landed("org_a", 10)
    clock.now += 0.25
    seen.landed("org_a", 200)
    assert seen.contended("org_a")
    for org in ("org_b", "org_c", "org_d"):
        seen.landed(org, 1)
    assert not seen.contended("org_a")  # cleared with the rest, measured again from scratch
    assert len(seen._marks) == 1


def test_a_forgotten_wallet_is_measured_afresh() -> None:
    seen, clock = measured(189)
    seen.forget("org_a")  # its early release failed
    assert not seen.contended("org_a")
    clock.now += 0.25
    seen.landed("org_a", 300)  # only starts a new measurement
    assert not seen.contended("org_a")
