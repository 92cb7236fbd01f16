"""The combiner (application/wallet/combining.py) with plain functions in place of charges:
who leads, what is batched together, and that every caller gets its own outcome."""
from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from application.wallet.combining import Combiner


class Refused(Exception):
    pass


class Recorder:
    """run_batch / run_one that record what ran together. The first run blocks until
    ``release`` is set, so the test can queue requests behind a running leader."""

    def __init__(self, fail_batches: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.ones: list[int] = []
        self.release = threading.Event()
        self.started = threading.Event()
        self.fail_batches = fail_batches
        self.threads: set[int] = set()

    def _gate(self) -> None:
        self.threads.add(threading.get_ident())
        self.started.set()
        self.release.wait(timeout=10)

    def run_batch(self, requests: Sequence[int]) -> list[int | BaseException]:
        self._gate()
        self.batches.append(list(requests))
        if self.fail_batches:
            raise RuntimeError("the database went away")
        return [Refused(r) if r < 0 else r * 10 for r in requests]

    def run_one(self, request: int) -> int:
        self._gate()
        self.ones.append(request)
        if request < 0:
            raise Refused(request)
        return request * 10


def call(combiner: Combiner[int, int], key: str, request: int, results: dict[int, object]) -> threading.Thread:
    def run() -> None:
        try:
            results[request] = combiner.submit(key, request)
        except Refused as exc:
            results[request] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def wait_queued(combiner: Combiner[int, int], key: str, count: int) -> None:
    for _ in range(1000):
        with combiner._lock:
            queue = combiner._queues.get(key)
            if queue is not None and len(queue) >= count:
                return
        threading.Event().wait(0.005)
    raise AssertionError(f"{count} requests never queued on {key}")


def behind_a_leader(rec: Recorder, combiner: Combiner[int, int], followers: Sequence[int]) -> dict[int, object]:
    """Request 1 leads on "w1" and its run blocks; ``followers`` queue behind it one by one,
    in order; then the run is released and every caller's outcome collected."""
    results: dict[int, object] = {}
    threads = [call(combiner, "w1", 1, results)]
    assert rec.started.wait(5)  # the leader is inside its (blocked) run
    for r in followers:
        threads.append(call(combiner, "w1", r, results))
        wait_queued(combiner, "w1", len(threads) - 1)
    rec.release.set()
    for t in threads:
        t.join(5)
    return results


def test_a_lone_request_runs_at_once_in_its_callers_thread() -> None:
    rec = Recorder()
    rec.release.set()
    combiner = Combiner(rec.run_batch, rec.run_one, max_batch=16)
    assert combiner.submit("w1", 7) == 70
    assert rec.ones == [7] and rec.batches == []
    assert rec.threads == {threading.get_ident()}
    assert combiner._queues == {}  # nothing left behind


def test_requests_queued_behind_a_leader_run_together_in_arrival_order_each_with_its_own_outcome() -> None:
    rec = Recorder()
    combiner = Combiner(rec.run_batch, rec.run_one, max_batch=16)
    results = behind_a_leader(rec, combiner, (2, -3, 4))
    assert rec.ones == [1]
    assert rec.batches == [[2, -3, 4]]  # one batch, in the order they arrived
    assert results[1] == 10 and results[2] == 20 and results[4] == 40
    assert isinstance(results[-3], Refused)  # only the refused request sees its error
    assert (combiner.batches, combiner.combined) == (1, 3)
    assert combiner._queues == {}


def test_batches_are_capped_and_leadership_passes_to_the_next_waiter() -> None:
    rec = Recorder()
    combiner = Combiner(rec.run_batch, rec.run_one, max_batch=2)
    observed: list[int] = []
    combiner.on_batch = observed.append
    results = behind_a_leader(rec, combiner, (2, 3, 4, 5, 6))
    assert rec.batches == [[2, 3], [4, 5]]
    assert rec.ones == [1, 6]  # a batch of one runs as a lone request
    assert observed == [2, 2]  # metrics hear of each combined batch, not of lone requests
    assert results == {r: r * 10 for r in range(1, 7)}
    assert len(rec.threads) >= 3  # each batch was led by one of its own callers


def test_different_keys_do_not_wait_for_each_other() -> None:
    gate, started = threading.Event(), threading.Event()

    def run_one(request: int) -> int:
        if request == 1:  # only w1's request blocks
            started.set()
            gate.wait(10)
        return request * 10

    combiner: Combiner[int, int] = Combiner(lambda reqs: [r * 10 for r in reqs], run_one, max_batch=16)
    results: dict[int, object] = {}
    blocked = call(combiner, "w1", 1, results)
    assert started.wait(5)
    second = call(combiner, "w2", 2, results)  # another wallet: led by its own caller at once
    second.join(5)
    assert not second.is_alive() and results == {2: 20}  # while w1's leader is still blocked
    gate.set()
    blocked.join(5)
    assert results == {1: 10, 2: 20}


def test_a_batch_that_fails_as_a_whole_runs_each_request_on_its_own() -> None:
    rec = Recorder(fail_batches=True)
    combiner = Combiner(rec.run_batch, rec.run_one, max_batch=16)
    observed: list[int] = []
    combiner.on_batch = observed.append
    results = behind_a_leader(rec, combiner, (2, -3))
    assert rec.batches == [[2, -3]]
    assert rec.ones == [1, 2, -3]
    assert results[1] == 10 and results[2] == 20 and isinstance(results[-3], Refused)
    assert combiner.batches == 0 and observed == []  # a failed batch is not counted as combined


def test_max_batch_one_turns_combining_off() -> None:
    rec = Recorder()
    rec.release.set()
    combiner = Combiner(rec.run_batch, rec.run_one, max_batch=1)
    assert [combiner.submit("w1", r) for r in (1, 2)] == [10, 20]
    assert rec.batches == [] and combiner._queues == {}


def test_an_interrupted_leader_still_answers_and_releases_its_followers() -> None:
    gate = threading.Event()

    def run_one(request: int) -> int:
        if request == 1:
            gate.wait(5)
            raise KeyboardInterrupt  # not an Exception: escapes the leader
        return request

    def run_batch(requests: Sequence[int]) -> list[int | BaseException]:
        return list(requests)

    combiner: Combiner[int, int] = Combiner(run_batch, run_one, max_batch=16)
    results: dict[int, object] = {}
    caught: list[BaseException] = []

    def leader() -> None:
        try:
            combiner.submit("w1", 1)
        except KeyboardInterrupt as exc:
            caught.append(exc)

    lead = threading.Thread(target=leader)
    lead.start()
    wait_queued(combiner, "w1", 0)
    followers = [call(combiner, "w1", r, results) for r in (2, 3)]
    wait_queued(combiner, "w1", 2)
    gate.set()
    for t in (lead, *followers):
        t.join(5)
    assert not any(t.is_alive() for t in (lead, *followers))
    assert caught and results == {2: 2, 3: 3}  # the next waiter led the rest
    assert combiner._queues == {}


@pytest.mark.parametrize("threads", [8, 32])
def test_many_threads_each_get_exactly_their_own_result(threads: int) -> None:
    lock = threading.Lock()
    ran: list[int] = []

    def run_batch(requests: Sequence[int]) -> list[int | BaseException]:
        with lock:
            ran.extend(requests)
        return [r + 1000 for r in requests]

    def run_one(request: int) -> int:
        with lock:
            ran.append(request)
        return request + 1000

    combiner: Combiner[int, int] = Combiner(run_batch, run_one, max_batch=4)
    barrier = threading.Barrier(threads)
    results: dict[int, int] = {}

    def client(i: int) -> None:
        barrier.wait()
        for k in range(50):
            request = i * 1000 + k
            results[request] = combiner.submit("hot", request)

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(30)
    assert len(results) == threads * 50
    assert all(v == k + 1000 for k, v in results.items())
    assert sorted(ran) == sorted(results)  # every request ran exactly once
    assert combiner._queues == {}
