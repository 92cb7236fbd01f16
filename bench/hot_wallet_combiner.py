"""Protocols for one hot wallet charged by single-threaded processes: an experiment.

    .venv/bin/python bench/hot_wallet_combiner.py [--rounds 3] [--seconds 10] [--clients 8]
                                                  [--modes single,early,...]

The hot-wallet row of ``bench/wallet.py`` with 8 single-threaded worker processes stayed
below its goal while every charge was its own durable commit on one row. Threads of one
process already share a transaction (ADR 0006). This script measures other protocols on
the charge's bare unlocked statement (ADR 0010) with no application around it, so each
figure is an upper bound for what the service could gain. Interleaved in every round,
8 processes each, every charge preceded by the unlocked read of the wallet:

- **single**: the one statement that checks the terms, writes the charge and commits, the
  row locked until the commit is on disk (ADR 0010; the service with
  ``AGORA_WALLET_EARLY_LOCK_RELEASE=false``);
- **early**: the same statement committing asynchronously (``_PG_ADD_UNLOCKED_EARLY``),
  then the flush barrier (``_FLUSH_BARRIER``) in its own round trip: what the service does
  (ADR 0013);
- **early_pipelined**: the same idea sent as one psycopg pipeline (``BEGIN``, ``SET LOCAL
  synchronous_commit TO off``, the statement, ``COMMIT``, the barrier);
- **advisory**: one pipeline that first waits on a transaction-level advisory lock of the
  wallet, so the statement's snapshot is taken after the previous charge committed (no
  EvalPlanQual re-check of the row);
- **combined**: the request (the statement's parameters) goes into an UNLOGGED queue table
  and the process tries a session advisory lock on the wallet in the same statement. The
  holder leads: in one transaction it takes every queued request of the wallet, runs each
  one's statement (one pipeline), stores the others' answers in an UNLOGGED table, commits
  once (one WAL flush for the batch) and unlocks. The others wait on the lock in shared
  mode, then read and delete their answer; one that finds none tries to lead;
- **redis**: the same combining with the queue, the lock and the answers in Redis
  (``AGORA_BENCH_REDIS_URL``, default db 13, flushed): one round trip queues the request
  and tries the lock; the leader drains the queue in batches of up to 64, each in one
  transaction, and pushes every other request's answer to its own list;
- the **raw-SQL transfer** of ``bench/wallet.py`` (8 threads, 1,000 accounts) as the baseline.

Before measuring it checks which barriers really flush: ``pg_stat_wal.wal_sync`` over 200
sequential updates of one row, synchronous, asynchronous, asynchronous followed by a
transaction that only takes an xid, and asynchronous followed by ``_FLUSH_BARRIER``.
Besides charges per second it prints the whole machine's CPU per charge (``/proc/stat``,
over the measured seconds only). Afterwards the ledger must balance, the wallet's cached
cash must equal its postings and no request may be left over (exit 1 otherwise). It works
in its own scratch schema ``agora_bench_xcomb`` (dropped and recreated) of
``AGORA_BENCH_DATABASE_URL``.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import psycopg
import redis
import wallet as bench  # bench/wallet.py: set-up, the charge captured, the baseline

SCHEMA = "agora_bench_xcomb"
LOCK_KEY = 7_100_001  # the advisory lock standing for the one hot wallet
_TAKE = "DELETE FROM xcomb_queue WHERE org_id = %s RETURNING id, params"
_ENQUEUE = ("WITH q AS (INSERT INTO xcomb_queue (org_id, params) VALUES (%s, %s) RETURNING id) "
            "SELECT id, pg_try_advisory_lock(%s) FROM q")


def barrier_check(url: str) -> dict[str, int]:
    """WAL flushes (``pg_stat_wal.wal_sync``, the whole server: run it on a quiet one) over
    200 sequential updates of one row, by how each commits."""
    from adapters.postgres.wallet_repos import _FLUSH_BARRIER

    early = "UPDATE xcomb_row SET n = n + 1 FROM (SELECT set_config('synchronous_commit', 'off', true)) AS x"
    ways = {"synchronous commit": ("UPDATE xcomb_row SET n = n + 1", None),
            "asynchronous commit, no barrier": (early, None),
            "asynchronous, then a transaction that only takes an xid": (early, "SELECT pg_current_xact_id()"),
            "asynchronous, then the flush barrier": (early, _FLUSH_BARRIER)}
    out = {}
    with psycopg.connect(bench.libpq(url), autocommit=True) as conn:
        conn.execute("CREATE TABLE xcomb_row (n int)")
        conn.execute("INSERT INTO xcomb_row VALUES (0)")

        def syncs() -> int:
            conn.execute("SELECT pg_stat_force_next_flush()")
            time.sleep(0.6)  # past the statistics' flush interval
            return int(conn.execute("SELECT wal_sync FROM pg_stat_wal").fetchone()[0])  # type: ignore[index]

        for label, (statement, barrier) in ways.items():
            before = syncs()
            for _ in range(200):
                conn.execute(statement)
                if barrier:
                    conn.execute(barrier)
            out[label] = syncs() - before
    return out


def prepare(url: str) -> None:
    with psycopg.connect(bench.libpq(url), autocommit=True) as conn:
        conn.execute("CREATE UNLOGGED TABLE xcomb_queue (id bigserial PRIMARY KEY, org_id text NOT NULL, "
                     "params text NOT NULL)")
        conn.execute("CREATE UNLOGGED TABLE xcomb_answers (id bigint PRIMARY KEY, landed boolean NOT NULL)")


def lead(conn: psycopg.Connection[Any], org: str, mine: int) -> int:
    """Holding the wallet's advisory lock: every queued request in one transaction, one
    commit. Each statement must land (its terms hold: the wallet has funds and nothing else
    changes it). Our own request is among them, or an earlier leader answered it. Returns
    the batch's size."""
    from adapters.postgres.wallet_repos import _PG_ADD_UNLOCKED

    with conn.transaction(), conn.cursor() as cur:
        todo = cur.execute(_TAKE, (org,)).fetchall()
        cursors = []
        with conn.pipeline():
            for _, params in todo:
                c = conn.cursor()
                c.execute(_PG_ADD_UNLOCKED, json.loads(params))
                cursors.append(c)
        if any(c.fetchone() is None for c in cursors):
            raise RuntimeError("a combined charge did not land")
        others = [qid for qid, _ in todo if qid != mine]
        # not among them: a leader before took ours (we came to lead after not finding it)
        if len(others) == len(todo) and cur.execute(
                "DELETE FROM xcomb_answers WHERE id = %s RETURNING id", (mine,)).fetchone() is None:
            raise RuntimeError("a request was lost")
        if others:
            cur.execute("INSERT INTO xcomb_answers (id, landed) SELECT unnest(%s::bigint[]), true", (others,))
    conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    return len(todo)


def follow(conn: psycopg.Connection[Any], mine: int) -> bool:
    """Wait for the leader (the lock in shared mode), then take the answer, if there is one."""
    with conn.pipeline():
        conn.execute("SELECT pg_advisory_lock_shared(%s)", (LOCK_KEY,))
        answer = conn.execute("DELETE FROM xcomb_answers WHERE id = %s RETURNING landed", (mine,))
        conn.execute("SELECT pg_advisory_unlock_shared(%s)", (LOCK_KEY,))
    return answer.fetchone() is not None


MODES = ("single", "early", "early_pipelined", "advisory", "combined", "redis")
LABELS = {"raw": "raw-SQL transfer, 1,000 accounts (baseline)",
          "single": "hot wallet: one statement, row locked through its flush (ADR 0010)",
          "early": "hot wallet: early lock release, barrier in its own round trip (ADR 0013)",
          "early_pipelined": "hot wallet: early lock release, all in one psycopg pipeline",
          "advisory": "hot wallet: queued on an advisory lock before the statement's snapshot",
          "combined": "hot wallet: combined across processes through PostgreSQL",
          "redis": "hot wallet: combined across processes through a Redis queue"}
REDIS_URL = os.environ.get("AGORA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")


def redis_lead(r: Any, conn: psycopg.Connection[Any], mine: str) -> int:
    """Holding the Redis lock: drain the queue in batches, each in one transaction and one
    commit, answer every other request on its own list, then unlock. Returns requests run."""
    from adapters.postgres.wallet_repos import _PG_ADD_UNLOCKED

    ran, own_done = 0, False
    while not own_done:  # drain while requests keep coming, until our own has run
        todo = r.lpop("xq", 64) or []
        if not todo:
            break  # a leader before took ours and will answer it
        reqs = [json.loads(x) for x in todo]
        with conn.transaction():
            cursors = []
            with conn.pipeline():
                for req in reqs:
                    c = conn.cursor()
                    c.execute(_PG_ADD_UNLOCKED, req["params"])
                    cursors.append(c)
            if any(c.fetchone() is None for c in cursors):
                raise RuntimeError("a combined charge did not land")
        with r.pipeline(transaction=False) as p:
            for req in reqs:
                if req["id"] == mine:
                    own_done = True
                else:
                    p.rpush("xa:" + req["id"], 1)
                    p.expire("xa:" + req["id"], 60)
            p.execute()
        ran += len(reqs)
    r.delete("xlock")
    if not own_done and r.blpop(["xa:" + mine], timeout=5) is None:
        raise RuntimeError("a request was lost")
    return ran


def redis_charge(r: Any, conn: psycopg.Connection[Any], mine: str, params: dict[str, Any]) -> int:
    """Queue the request and try the lock in one round trip; lead, or wait a moment for
    the answer and try again."""
    with r.pipeline(transaction=False) as p:
        p.rpush("xq", json.dumps({"id": mine, "params": params}, default=str))
        p.set("xlock", mine, nx=True, px=2000)
        leader = p.execute()[1]
    while True:
        if leader:
            return redis_lead(r, conn, mine)
        if r.blpop(["xa:" + mine], timeout=0.005) is not None:
            return 0
        leader = r.set("xlock", mine, nx=True, px=2000)


def worker(args: tuple[str, str, str, list[Any], int, float, float, str]) -> tuple[int, list[int]]:
    from adapters.postgres.wallet_repos import _FLUSH_BARRIER, _PG_ADD_UNLOCKED, _PG_ADD_UNLOCKED_EARLY, _PG_GET_ONE

    mode, url, org, template, i, start_at, stop_at, run = args
    done, batches = 0, []
    r = redis.Redis.from_url(REDIS_URL)
    with psycopg.connect(bench.libpq(url), autocommit=True) as conn, conn.cursor() as cur:
        time.sleep(max(0.0, start_at - time.time()))
        while time.time() < stop_at:
            row = cur.execute(_PG_GET_ONE, (org,)).fetchone()
            tag = f"{run}-{i}-{done}"
            params = bench.unlocked_params(template, row, org, f"ent_x_{tag}", f"x-{tag}")
            if mode in ("single", "early"):
                if cur.execute(_PG_ADD_UNLOCKED_EARLY if mode == "early" else _PG_ADD_UNLOCKED,
                               params).fetchone() is None:
                    raise RuntimeError("a charge did not land")
                if mode == "early":
                    cur.execute(_FLUSH_BARRIER)
            elif mode in ("advisory", "early_pipelined"):
                with conn.pipeline():
                    cur.execute("BEGIN")
                    if mode == "advisory":
                        cur.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
                    else:
                        cur.execute("SET LOCAL synchronous_commit TO off")
                    charge = conn.cursor()
                    charge.execute(_PG_ADD_UNLOCKED, params)
                    cur.execute("COMMIT")
                    if mode == "early_pipelined":
                        cur.execute(_FLUSH_BARRIER)
                if charge.fetchone() is None:
                    raise RuntimeError("a charge did not land")
            elif mode == "redis":
                n = redis_charge(r, conn, tag, {k: (str(v) if k == "amount" else v) for k, v in params.items()})
                if n:
                    batches.append(n)
            else:
                mine, leader = cur.execute(_ENQUEUE, (org, json.dumps(params, default=str), LOCK_KEY)).fetchone()  # type: ignore
                while True:
                    if leader:
                        batches.append(lead(conn, org, mine))
                        break
                    if follow(conn, mine):
                        break
                    leader = cur.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0]  # type: ignore
            done += 1
    return done, batches


def measure(mode: str, url: str, org: str, template: list[Any], clients: int, seconds: int) -> dict[str, float]:
    start_at = time.time() + 1.5
    stop_at = start_at + seconds
    run = f"{random.randrange(16 ** 8):08x}"
    with mp.get_context("fork").Pool(clients) as pool:
        pending = pool.map_async(worker, [(mode, url, org, template, i, start_at, stop_at, run)
                                          for i in range(clients)])
        time.sleep(max(0.0, start_at - time.time()))
        cpu0 = bench.busy_seconds()
        time.sleep(max(0.0, stop_at - time.time()))
        cpu1 = bench.busy_seconds()
        results = pending.get()
    count = sum(n for n, _ in results)
    sizes = [b for _, bs in results for b in bs]
    return {"rate": count / seconds, "cpu_ms": 1000 * (cpu1 - cpu0) / max(count, 1),
            "batch": sum(sizes) / len(sizes) if sizes else 1.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--modes", default=",".join(MODES), help="which protocols, besides the baseline")
    args = parser.parse_args()
    url = os.environ.get("AGORA_BENCH_DATABASE_URL", bench.DEFAULT_URL)
    app_url = bench.with_schema(url, SCHEMA)
    bench.reset_schema(url, SCHEMA)
    world = bench.setup_app(app_url, 1)
    prepare(app_url)
    template = bench.capture_charge(app_url, world["hot"])
    print("WAL flushes over 200 updates of one row:")
    for label, count in barrier_check(app_url).items():
        print(f"  {label}: {count}")
    print(f"{args.clients} processes, {args.seconds}s each, {args.rounds} rounds, {os.cpu_count()} CPUs", flush=True)
    modes = [m for m in args.modes.split(",") if m]
    rows: dict[str, list[dict[str, float]]] = {"raw": [], **{m: [] for m in modes}}
    redis.Redis.from_url(REDIS_URL).flushdb()
    for r in range(args.rounds):
        cpu0 = bench.busy_seconds()  # the raw transfer's set-up (1,000 rows) counts too: a little high
        raw = bench.run_raw_transfer(app_url, args.clients, args.seconds)
        rows["raw"].append({"rate": raw, "cpu_ms": 1000 * (bench.busy_seconds() - cpu0) / (raw * args.seconds),
                            "batch": 1.0})
        for mode in modes:
            rows[mode].append(measure(mode, app_url, world["hot"], template, args.clients, args.seconds))
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]['rate']:,.0f}/s" for k, v in rows.items()), flush=True)
    base = bench.median([x["rate"] for x in rows["raw"]])
    print("\n| measurement | per second (median) | range | vs raw-SQL transfer | machine CPU per charge "
          "(median) | charges per commit |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for key in rows:
        label = LABELS.get(key, key)
        rates = [x["rate"] for x in rows[key]]
        print(f"| {label} | {bench.median(rates):,.0f} | {min(rates):,.0f}–{max(rates):,.0f} | "
              f"{bench.median(rates) / base:.0%} | {bench.median([x['cpu_ms'] for x in rows[key]]):.2f} ms | "
              f"{bench.median([x['batch'] for x in rows[key]]):.1f} |")
    with psycopg.connect(bench.libpq(app_url)) as conn:
        total, drift = conn.execute(
            "SELECT (SELECT COALESCE(sum(amount), 0) FROM ledger_postings), (SELECT count(*) FROM wallets w "
            "WHERE w.cash <> (SELECT COALESCE(sum(amount), 0) FROM ledger_postings p WHERE p.owner = w.org_id "
            "AND p.account = 'cash'))").fetchone()  # type: ignore[misc]
        stranded = conn.execute("SELECT (SELECT count(*) FROM xcomb_queue) + "
                                "(SELECT count(*) FROM xcomb_answers)").fetchone()[0]  # type: ignore[index]
    print(f"\nledger total {total}, wallets off their postings {drift}, requests or answers left over {stranded}")
    return 0 if total == 0 and drift == 0 and stranded == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
