"""Wallet charge throughput on PostgreSQL against two baselines, in one command:

    .venv/bin/python bench/wallet.py [--seconds 10] [--clients 8] [--wallets 1000] [--write-readme]

(a) baselines: pgbench's TPC-B-like transaction (``pgbench -c 8 -T 10`` on a scratch
    schema) and a raw-SQL two-account transfer (two UPDATEs in sorted lock order and a
    history INSERT per transaction) with 8 client threads;
(b) charges per second through ``WalletService.charge`` with 8 concurrent workers
    (processes, each with its own container and pool, as RQ workers run), on 1,000
    wallets and on 1 hot wallet; and once more on both as 2 processes of 4 threads (as
    gunicorn's gthread workers run), where concurrent charges on one wallet share a
    transaction (ADR 0006);
(c) the same through HTTP (``POST /api/v1/wallets/{org}/charges`` with API keys) under
    gunicorn with 2 workers (4 threads each, as ``agora serve``), 8 client threads on
    keep-alive connections (``LeanClient``: the load generator shares the CPUs).

Each figure is also printed as the whole machine's busy CPU per operation over its
measured window (``/proc/stat``), and the table gives its ratio to the raw transfer's.

Every figure is printed with its ratio to the raw-SQL transfer; afterwards the ledger
must sum to zero and every wallet's cached cash must equal its postings.

The database comes from ``AGORA_BENCH_DATABASE_URL`` (default
``postgresql://postgres@127.0.0.1:5432/agora_bench``). Everything lives in two scratch
schemas, ``agora_bench`` (application tables, migrated with Alembic) and
``pgbench_scratch``, which are dropped and recreated: nothing else is touched.
"""
from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing as mp
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/agora_bench"
APP_SCHEMA = "agora_bench"
PGBENCH_SCHEMA = "pgbench_scratch"
SECRET = "bench-secret-key-with-at-least-32-bytes!!"
README = ROOT / "bench" / "README.md"
GOALS = {"service": 0.50, "http": 0.25}


def with_schema(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema}')}"


def libpq(url: str) -> str:
    """psycopg wants a libpq URL (no SQLAlchemy driver suffix)."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


def checkpoint(url: str) -> None:
    """Flush dirty pages before a measurement, so no run pays for the previous one's writes
    (needs a superuser; skipped otherwise)."""
    try:
        with psycopg.connect(libpq(url), autocommit=True) as conn:
            conn.execute("CHECKPOINT")
    except psycopg.Error:
        pass


def reset_schema(url: str, schema: str) -> None:
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy: PostgreSQL, the application and the load
    generator alike (Linux ``/proc/stat``: user, nice, system, irq and softirq time; not idle,
    I/O wait or time stolen by the hypervisor; 0 elsewhere)."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:8]]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq = ticks
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


# the machine's busy CPU seconds over the last measurement's window (set by each runner)
last_window = {"busy": 0.0}


def run_threads(clients: int, seconds: int, loop: Any) -> float:
    """Start ``clients`` threads running ``loop(i, started, keep_going) -> count`` together
    for ``seconds``; the total count per second."""
    start = threading.Barrier(clients + 1)
    deadline = [0.0]
    counts = [0] * clients

    failed: list[BaseException] = []

    def client(i: int) -> None:
        try:
            counts[i] = loop(i, start.wait, lambda: time.perf_counter() < deadline[0])
        except BaseException as exc:  # a measurement that broke must not read as a slow one
            failed.append(exc)
            start.abort()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    deadline[0] = time.perf_counter() + seconds
    began, cpu = time.perf_counter(), busy_seconds()
    with contextlib.suppress(threading.BrokenBarrierError):  # a client failed before the start
        start.wait()
    for t in threads:
        t.join()
    last_window["busy"] = busy_seconds() - cpu
    if failed:
        raise RuntimeError(f"{len(failed)} of {clients} clients failed") from failed[0]
    return sum(counts) / (time.perf_counter() - began)


# -- (a) baselines ---------------------------------------------------------------------------

def run_pgbench(url: str, clients: int, seconds: int) -> float | None:
    exe = shutil.which("pgbench")
    if exe is None:
        print("pgbench not found: skipped", file=sys.stderr)
        return None
    parts = urlsplit(libpq(url))
    conn = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432), "-U", parts.username or "postgres",
            (parts.path or "/postgres").lstrip("/")]
    env = {**os.environ, "PGOPTIONS": f"-c search_path={PGBENCH_SCHEMA}"}
    if parts.password:
        env["PGPASSWORD"] = parts.password
    reset_schema(url, PGBENCH_SCHEMA)
    subprocess.run([exe, "-i", "-q", "-s", "1", *conn], env=env, check=True, capture_output=True)
    cpu = busy_seconds()
    out = subprocess.run([exe, "-c", str(clients), "-j", str(min(clients, os.cpu_count() or 1)), "-T", str(seconds),
                          *conn], env=env, check=True, capture_output=True, text=True).stdout
    last_window["busy"] = busy_seconds() - cpu
    match = re.search(r"tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)",
                      out)
    with psycopg.connect(libpq(url), autocommit=True) as c:
        c.execute(f"DROP SCHEMA IF EXISTS {PGBENCH_SCHEMA} CASCADE")
    return float(match.group(1)) if match else None


def run_raw_transfer(url: str, clients: int, seconds: int, accounts: int = 1000, hot: bool = False) -> float:
    """Two-account transfers: lock both rows in sorted order, move money, log it. ``hot``:
    every transfer goes from account 1 to account 2 (the hot-wallet reference)."""
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_history, bench_accounts")
        conn.execute("CREATE TABLE bench_accounts (id int PRIMARY KEY, balance numeric(18,2) NOT NULL "
                     "CHECK (balance >= 0))")
        conn.execute("CREATE TABLE bench_history (id bigserial PRIMARY KEY, src int NOT NULL, dst int NOT NULL, "
                     "amount numeric(18,2) NOT NULL, at timestamptz NOT NULL DEFAULT now())")
        conn.execute("INSERT INTO bench_accounts SELECT g, 1000000 FROM generate_series(1, %s) g", (accounts,))
    def loop(i: int, started: Any, going: Any) -> int:
        rnd, done = random.Random(i), 0
        with psycopg.connect(libpq(url)) as conn:
            started()
            while going():
                a, b = (1, 2) if hot else rnd.sample(range(1, accounts + 1), 2)
                amount = Decimal("0.01")
                with conn.transaction():
                    # sorted lock order, as the wallet does: no deadlocks
                    for acct, delta in sorted(((a, -amount), (b, amount))):
                        conn.execute("UPDATE bench_accounts SET balance = balance + %s WHERE id = %s", (delta, acct))
                    conn.execute("INSERT INTO bench_history (src, dst, amount) VALUES (%s, %s, %s)", (a, b, amount))
                done += 1
        return done

    rate = run_threads(clients, seconds, loop)
    with psycopg.connect(libpq(url)) as conn:
        total = conn.execute("SELECT sum(balance) FROM bench_accounts").fetchone()[0]  # type: ignore[index]
        assert total == accounts * 1000000, f"raw transfer lost money: {total}"
    return rate


# -- setup of the application ------------------------------------------------------------------

def app_settings(app_url: str) -> Any:
    from application.shared.settings import Settings

    return Settings(database_url=app_url, run_scheduler=False, jobs_sync=False, secret_key=SECRET,
                    storage_dir=str(ROOT / "var" / "bench-files"))


def setup_app(app_url: str, wallets: int) -> dict[str, Any]:
    """Migrate, create orgs with funded wallets and an API key each."""
    from adapters.postgres.migrate import upgrade
    from application.identity import IdentityService
    from application.shared.access import Caller
    from application.shared.uow import UnitOfWorkFactory
    from application.wallet import RechargeService
    from domain.identity.model import Organization
    from domain.identity.ports import OrganizationRepository
    from entrypoints.container import build_container

    upgrade(app_url)
    container = build_container(app_settings(app_url))
    now = datetime.now(UTC)
    platform = Organization.create("Bench Platform", ["platform"], now)
    orgs = [Organization.create(f"Bench Customer {i}", ["customer"], now) for i in range(wallets + 1)]
    with container.get(UnitOfWorkFactory)() as uow:
        repo = uow.repo(OrganizationRepository)
        repo.add(platform)
        for org in orgs:
            repo.add(org)
        uow.commit()
    finance = Caller(org_id=platform.id, org_kinds=frozenset({"platform"}), roles=("platform_finance",),
                     user_id="usr_bench")
    admin = Caller(org_id=platform.id, org_kinds=frozenset({"platform"}), roles=("platform_admin",),
                   user_id="usr_bench")
    recharges, identity = container.get(RechargeService), container.get(IdentityService)
    keys: dict[str, str] = {}
    for org in orgs:
        recharges.recharge(finance, org.id, Decimal("100000000.00"), "offline", "bench float")
        keys[org.id] = identity.issue_api_key(admin, org.id, "bench").secret
    container.get(UnitOfWorkFactory).engine.dispose()  # type: ignore[attr-defined]
    ids = [o.id for o in orgs]
    return {"spread": ids[:wallets], "hot": ids[wallets], "keys": keys}


# -- (a'') the charge's own statements, bare ------------------------------------------------------------

def capture_charge(app_url: str, org_id: str) -> list[Any]:
    """The parameters of the entry statement of one real charge (made through the service),
    to replay its exact statements without the application."""
    import adapters.postgres.wallet_repos as repos
    from application.shared.access import Caller
    from application.shared.uow import UnitOfWorkFactory
    from application.wallet import WalletService
    from entrypoints.container import build_container

    captured: list[Any] = []
    original = repos.SqlLedger._add_pg

    def spy(self: Any, entry: Any, lines: Any, wallets: Any) -> bool:
        captured[:] = [self._entry_values(entry), self._posting_values(entry),
                       [self._line_values(ln) for ln in lines], [{"org_id": w.org_id, **repos._figures(w)}
                                                                 for w in wallets]]
        return original(self, entry, lines, wallets)

    repos.SqlLedger._add_pg = spy  # type: ignore[method-assign]
    try:
        container = build_container(app_settings(app_url))
        caller = Caller(org_id=org_id, org_kinds=frozenset({"customer"}), roles=("customer_admin",), api_key_id="key")
        container.get(WalletService).charge(caller, org_id, Decimal("0.01"), "bare-template")
        container.get(UnitOfWorkFactory).engine.dispose()  # type: ignore[attr-defined]
    finally:
        repos.SqlLedger._add_pg = original  # type: ignore[method-assign]
    return [json.loads(repos._json(part)) for part in captured]


def run_bare_charges(app_url: str, org_ids: list[str], template: list[Any], clients: int, seconds: int) -> float:
    """The statements a charge sends — ``SELECT ... FOR UPDATE`` of the wallet, the entry
    statement, ``COMMIT`` — from a loop with no application around them (psycopg, threads,
    rows patched from a captured real charge): what the data model alone costs."""
    from adapters.postgres.wallet_repos import _LOCK_COLUMNS, _PG_ADD_ONE, _PG_LOCK_ONE

    entry_t, postings_t, lines_t, figures_t = template
    cash_at, version_at = _LOCK_COLUMNS.index("cash"), _LOCK_COLUMNS.index("version")
    run = f"{random.randrange(16 ** 8):08x}"

    def loop(i: int, started: Any, going: Any) -> int:
        rnd, done = random.Random(2000 + i), 0
        with psycopg.connect(libpq(app_url)) as conn:
            started()
            while going():
                org = org_ids[rnd.randrange(len(org_ids))] if len(org_ids) > 1 else org_ids[0]
                entry_id, ref = f"ent_bare_{run}_{i}_{done}", f"bare-{run}-{i}-{done}"
                with conn.transaction(), conn.cursor() as cur:
                    cur.execute(_PG_LOCK_ONE, (org,))
                    row = cur.fetchone()
                    assert row is not None
                    cash, version = row[cash_at] - Decimal("0.01"), row[version_at] + 1
                    entry = {**entry_t, "id": entry_id, "org_id": org, "reference": ref,
                             "unique_key": f"charge:{org}:{ref}"}
                    postings = [{**p, "entry_id": entry_id, "owner": org if p["owner"] == entry_t["org_id"]
                                 else p["owner"]} for p in postings_t]
                    lines = [{**ln, "org_id": org, "entry_id": entry_id, "seq": version, "after_cash": str(cash),
                              "reference": ref} for ln in lines_t]
                    figures = [{**f, "org_id": org, "cash": str(cash), "version": version} for f in figures_t]
                    cur.execute(_PG_ADD_ONE, (json.dumps(entry), json.dumps(postings), json.dumps(lines),
                                              json.dumps(figures), org))
                    assert cur.fetchone() is not None
                done += 1
        return done

    return run_threads(clients, seconds, loop)


def unlocked_params(template: list[Any], row: Any, org: str, entry_id: str, ref: str) -> dict[str, Any]:
    """The unlocked statement's parameters (ADR 0010) for one charge of 0.01 on ``org``,
    decided on its wallet ``row`` (``_PG_GET_ONE``'s columns), rows patched from the
    captured ``template``."""
    from adapters.postgres.wallet_repos import _LOCK_COLUMNS

    entry_t, postings_t, lines_t, _ = template
    col = {name: i for i, name in enumerate(_LOCK_COLUMNS)}
    amount, now = Decimal("0.01"), datetime.now(UTC)
    entry = {**entry_t, "id": entry_id, "org_id": org, "reference": ref, "unique_key": f"charge:{org}:{ref}"}
    postings = [{**p, "entry_id": entry_id, "owner": org if p["owner"] == entry_t["org_id"] else p["owner"]}
                for p in postings_t]
    line = {**lines_t[0], "org_id": org, "entry_id": entry_id, "reference": ref}
    return dict(amount=amount, org_id=org, cash_floor=amount, credit_limit=row[col["credit_limit"]],
                credit_used=row[col["credit_used"]], held=row[col["held"]], held_traffic=row[col["held_traffic"]],
                daily_budget=None, day=row[col["spent_day"]], spent_ceiling=None, low_balance_threshold=None,
                needs_withholding=False, now=now, day_ends=now + timedelta(days=1), unique_key=entry["unique_key"],
                entry=json.dumps(entry), postings=json.dumps(postings), line=json.dumps(line))


def run_bare_unlocked(app_url: str, org_ids: list[str], template: list[Any], clients: int, seconds: int) -> float:
    """The statements of a charge decided without the lock (ADR 0010) — the unlocked select
    of the wallet, then the one statement that checks the terms, applies the charge and
    commits (autocommit) — from the same kind of bare loop. On one hot wallet, as the
    service does on a contended one (ADR 0013), the statement commits without waiting for
    the flush and the flush barrier follows."""
    from adapters.postgres.wallet_repos import _FLUSH_BARRIER, _PG_ADD_UNLOCKED, _PG_ADD_UNLOCKED_EARLY, _PG_GET_ONE

    early = len(org_ids) == 1

    run = f"{random.randrange(16 ** 8):08x}"

    def loop(i: int, started: Any, going: Any) -> int:
        rnd, done = random.Random(4000 + i), 0
        with psycopg.connect(libpq(app_url), autocommit=True) as conn:
            started()
            while going():
                org = org_ids[rnd.randrange(len(org_ids))] if len(org_ids) > 1 else org_ids[0]
                with conn.cursor() as cur:
                    cur.execute(_PG_GET_ONE, (org,))
                    row = cur.fetchone()
                    assert row is not None
                    cur.execute(_PG_ADD_UNLOCKED_EARLY if early else _PG_ADD_UNLOCKED, unlocked_params(
                        template, row, org, f"ent_unl_{run}_{i}_{done}", f"unl-{run}-{i}-{done}"))
                    assert cur.fetchone() is not None, "the terms did not hold"
                    if early:
                        cur.execute(_FLUSH_BARRIER)
                done += 1
        return done

    return run_threads(clients, seconds, loop)


# -- (b) the application service ------------------------------------------------------------------

def service_worker(args: tuple[str, list[str], int, int, float, float, bool]) -> tuple[int, list[str]]:
    """One worker process: its own container and pool, ``threads`` threads charging (one
    thread as an RQ worker runs; several as a gunicorn gthread worker does). References
    are new in every run (a repeated one would be answered as a replay)."""
    app_url, org_ids, worker, threads, start_at, stop_at, unlocked = args
    run = f"{start_at:.3f}"
    import dataclasses

    from application.shared.access import Caller
    from application.wallet import WalletService
    from entrypoints.container import build_container

    container = build_container(dataclasses.replace(app_settings(app_url), wallet_unlocked_charges=unlocked))
    wallets = container.get(WalletService)
    callers = {o: Caller(org_id=o, org_kinds=frozenset({"customer"}), roles=("customer_admin",), api_key_id="key")
               for o in org_ids}
    counts = [0] * threads
    errors: list[str] = []
    amount = Decimal("0.01")

    def loop(t: int) -> None:
        rnd = random.Random(worker * 100 + t)
        time.sleep(max(0.0, start_at - time.time()))
        while time.time() < stop_at:
            org = org_ids[rnd.randrange(len(org_ids))] if len(org_ids) > 1 else org_ids[0]
            try:
                wallets.charge(callers[org], org, amount, f"b{run}.{worker}.{t}-{counts[t]}")
                counts[t] += 1
            except Exception as exc:  # counted and reported
                errors.append(f"{type(exc).__name__}: {exc}"[:200])

    pool = [threading.Thread(target=loop, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    return sum(counts), errors[:5]


def run_service(app_url: str, org_ids: list[str], clients: int, seconds: int,
                threads: int = 1, unlocked: bool = True) -> tuple[float, list[str]]:
    """``clients`` concurrent workers as ``clients // threads`` processes of ``threads`` threads;
    ``unlocked=False``: every charge decided under the lock (ADR 0010 off)."""
    ctx = mp.get_context("fork")
    start_at = time.time() + 3.0  # every worker builds its container first
    stop_at = start_at + seconds
    procs = clients // threads
    with ctx.Pool(procs) as pool:
        pending = pool.map_async(service_worker, [(app_url, org_ids, i, threads, start_at, stop_at, unlocked)
                                                  for i in range(procs)])
        time.sleep(max(0.0, start_at - time.time()))  # the window the workers charge in, not their start
        cpu = busy_seconds()
        time.sleep(max(0.0, stop_at - time.time()))
        last_window["busy"] = busy_seconds() - cpu
        results = pending.get()
    errors = [e for _, errs in results for e in errs]
    return sum(n for n, _ in results) / seconds, errors


# -- (c) HTTP under gunicorn ------------------------------------------------------------------------

def start_gunicorn(app_url: str, port: int, workers: int, threads: int = 4) -> subprocess.Popen[bytes]:
    """gunicorn as ``agora serve`` runs it (its worker class, settings and metrics
    directory: ``entrypoints.cli.gunicorn_args``), with ``threads`` per worker."""
    from entrypoints.cli import gunicorn_args

    saved = dict(os.environ)
    try:  # gunicorn_args puts the workers' metrics directory in os.environ: only gunicorn's
        args = gunicorn_args("127.0.0.1", port, workers)
        metrics = {k: os.environ[k] for k in ("PROMETHEUS_MULTIPROC_DIR", "AGORA_OWNED_METRICS_DIR")
                   if k in os.environ}
    finally:
        os.environ.clear()
        os.environ.update(saved)
    args[args.index("--threads") + 1] = str(threads)
    env = {**os.environ, **metrics, "AGORA_DATABASE_URL": app_url, "AGORA_RUN_SCHEDULER": "false",
           "AGORA_SECRET_KEY": SECRET, "AGORA_PAYMENT": "sandbox",
           "AGORA_STORAGE_DIR": str(ROOT / "var" / "bench-files"), "PYTHONPATH": str(ROOT)}
    env.pop("AGORA_REDIS_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", *args, "--log-level", "warning"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    for _ in range(150):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGTERM)  # the whole group: its on_exit removes the metrics directory
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    if metrics.get("AGORA_OWNED_METRICS_DIR"):
        shutil.rmtree(metrics["AGORA_OWNED_METRICS_DIR"], ignore_errors=True)
    raise RuntimeError("gunicorn did not start")


class LeanClient:
    """A keep-alive HTTP/1.1 client that does as little as a client can (pre-encoded
    requests, a status line and Content-Length read off the response), so the load
    generator, which shares the CPUs with the server and the database, takes as little
    of them as it can: ``http.client`` costs about as much CPU per request as Flask's
    routing does. The server still parses and answers full HTTP."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.buf = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        return sock

    def post(self, path: str, body: bytes, headers: str, method: str = "POST") -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = self._connect()
        request = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(body)}\r\n{headers}\r\n").encode() + body
        try:
            self.sock.sendall(request)
            while b"\r\n\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("server closed the connection")
                self.buf += chunk
            head, _, rest = self.buf.partition(b"\r\n\r\n")
            status = int(head[9:12])
            lower = head.lower()
            at = lower.find(b"content-length:")
            length = int(head[at + 15:head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None]) \
                if at >= 0 else 0
            while len(rest) < length:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("server closed the connection")
                rest += chunk
            self.buf = rest[length:]
            if b"connection: close" in lower:
                self.close()
            return status, rest[:length]
        except OSError:
            self.close()
            raise

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None


def warm_up(port: int, org_ids: list[str], keys: dict[str, str], clients: int, rounds: int = 6) -> float:
    """Steady state before measuring: every key authenticates ``rounds`` times (so both
    workers have most keys in their key memory, as a long-running server does);
    returns the seconds it took."""
    todo = [o for o in org_ids for _ in range(rounds)]
    began = time.perf_counter()

    def client(i: int) -> None:
        conn = LeanClient(port)
        for org in todo[i::clients]:
            status, data = conn.post("/api/v1/me", b"", f"Authorization: Bearer {keys[org]}\r\n", method="GET")
            assert status == 200, data[:200]
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - began


def run_http(port: int, org_ids: list[str], keys: dict[str, str], clients: int, seconds: int
             ) -> tuple[float, list[str]]:
    errors: list[str] = []
    auth = {o: f"Authorization: Bearer {keys[o]}\r\n" for o in org_ids}
    run = f"{random.randrange(16 ** 8):08x}"

    def loop(i: int, started: Any, going: Any) -> int:
        rnd, done, sent = random.Random(1000 + i), 0, 0
        conn = LeanClient(port)
        started()
        while going():
            org = org_ids[rnd.randrange(len(org_ids))] if len(org_ids) > 1 else org_ids[0]
            body = b'{"amount": "0.01", "reference": "h%s-%d-%d"}' % (run.encode(), i, sent)
            sent += 1
            try:
                status, data = conn.post(f"/api/v1/wallets/{org}/charges", body, auth[org])
                if status == 201:
                    done += 1
                else:
                    errors.append(f"{status}: {data[:200]!r}")
            except (OSError, ValueError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                conn.close()  # what is left in its buffer would garble the next answer
        conn.close()
        return done

    return run_threads(clients, seconds, loop), errors[:5]


# -- checks and report -------------------------------------------------------------------------------

def check_ledger(url: str) -> dict[str, Any]:
    with psycopg.connect(libpq(url)) as conn:
        conn.execute(f"SET search_path = {APP_SCHEMA}")
        total = conn.execute("SELECT COALESCE(sum(amount), 0) FROM ledger_postings").fetchone()[0]  # type: ignore
        unbalanced = conn.execute("SELECT count(*) FROM (SELECT entry_id FROM ledger_postings GROUP BY entry_id "
                                  "HAVING sum(amount) <> 0) x").fetchone()[0]  # type: ignore[index]
        drift = conn.execute(
            "SELECT count(*) FROM wallets w LEFT JOIN (SELECT owner, sum(amount) s FROM ledger_postings "
            "WHERE account = 'cash' GROUP BY owner) p ON p.owner = w.org_id WHERE w.cash <> COALESCE(p.s, 0)"
        ).fetchone()[0]  # type: ignore[index]
        entries = conn.execute("SELECT count(*) FROM ledger_entries WHERE type = 'charge'").fetchone()[0]  # type: ignore
    return {"ledger_total": total, "unbalanced_entries": unbalanced, "wallets_off_postings": drift,
            "charges": entries}


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


Row = tuple[str, str, str, str | None]  # label, key of the figure, goal, key of its "same shape" reference


def table(rows: list[Row], rounds: list[dict[str, float | None]]) -> str:
    """Each figure as the median over the rounds (and its range), with the median of its
    per-round ratios to that round's raw-SQL transfer and, for the hot wallet, to that
    round's raw-SQL transfer on one hot pair of accounts (the same shape of contention):
    the host's speed drifts during a run, so a ratio is only taken within one round. Beside
    them the whole machine's busy CPU per operation over the measured window (PostgreSQL,
    the application and the load generator: all share the CPUs), and its per-round ratio
    to the raw transfer's: where the rows are CPU-bound, a rate of 50% of the raw transfer
    needs at most 2x its CPU per operation, whatever the host's drift."""
    lines = ["| measurement | per second (median) | range | vs raw-SQL transfer | vs raw-SQL, same shape "
             "| machine CPU each (median) | CPU vs raw transfer | goal |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for label, key, goal, own in rows:
        got = [(v, r["raw"], r[own] if own else None) for r in rounds if (v := r.get(key)) is not None]
        if not got:
            lines.append(f"| {label} | skipped | | | | | | {goal} |")
            continue
        values = [v for v, _, _ in got]
        spread = f"{min(values):,.0f}–{max(values):,.0f}" if len(values) > 1 else ""
        ratio = median([v / base for v, base, _ in got if base])
        same = f"{median([v / o for v, _, o in got if o]):.0%}" if own else ""
        cpus = [(c, r.get("raw:cpu")) for r in rounds if (c := r.get(f"{key}:cpu")) is not None]
        cpu = f"{median([c for c, _ in cpus]):.2f} ms" if cpus else ""
        cpu_ratio = f"{median([c / b for c, b in cpus if b]):.1f}x" if cpus and key != "raw" else ""
        lines.append(f"| {label} | {median(values):,.0f} | {spread} | {ratio:.0%} | {same} | {cpu} | {cpu_ratio} "
                     f"| {goal} |")
    return "\n".join(lines)


def one_round(args: argparse.Namespace, url: str, app_url: str, world: dict[str, Any], template: list[Any],
              port: int | None) -> dict[str, float | None]:
    """Every measurement once, in the same order each round."""
    n, secs, st = args.clients, args.seconds, args.service_threads
    got: dict[str, float | None] = {}
    errors: list[str] = []

    def note(key: str, label: str, value: float | None, errs: Sequence[str] = ()) -> None:
        got[key] = value
        got[f"{key}:cpu"] = 1000 * last_window["busy"] / (value * secs) if value else None
        errors.extend(errs)
        cpu = f", machine CPU {got[f'{key}:cpu']:.2f} ms each" if value else ""
        print(f"  {label}: {'skipped' if value is None else f'{value:,.0f}/s'}{cpu} {list(errs)[:1] or ''}",
              flush=True)

    checkpoint(url)
    note("pgbench", "pgbench TPC-B-like", run_pgbench(url, n, secs))
    checkpoint(url)
    note("raw", "raw-SQL transfer", run_raw_transfer(app_url, n, secs))
    checkpoint(url)
    note("raw_hot", "raw-SQL transfer, one hot pair of accounts", run_raw_transfer(app_url, n, secs, hot=True))
    checkpoint(url)
    note("bare", f"the charge's statements, bare, {args.wallets} wallets",
         run_bare_charges(app_url, world["spread"], template, n, secs))
    checkpoint(url)
    note("bare_hot", "the charge's statements, bare, 1 hot wallet",
         run_bare_charges(app_url, [world["hot"]], template, n, secs))
    checkpoint(url)
    note("bare_unlocked", f"the unlocked charge's statements, bare, {args.wallets} wallets",
         run_bare_unlocked(app_url, world["spread"], template, n, secs))
    checkpoint(url)
    note("bare_unlocked_hot", "the unlocked charge's statements, bare, 1 hot wallet",
         run_bare_unlocked(app_url, [world["hot"]], template, n, secs))
    checkpoint(url)
    note("service", f"service, {args.wallets} wallets", *run_service(app_url, world["spread"], n, secs))
    checkpoint(url)
    note("service_hot", "service, 1 hot wallet", *run_service(app_url, [world["hot"]], n, secs))
    checkpoint(url)
    note("service_hot_locked", "service, 1 hot wallet, every charge under the lock",
         *run_service(app_url, [world["hot"]], n, secs, unlocked=False))
    checkpoint(url)
    note("service_threads", f"service, {args.wallets} wallets, {n // st} processes x {st} threads",
         *run_service(app_url, world["spread"], n, secs, threads=st))
    checkpoint(url)
    note("service_hot_threads", f"service, 1 hot wallet, {n // st} processes x {st} threads",
         *run_service(app_url, [world["hot"]], n, secs, threads=st))
    if port is not None:
        # the key memory forgets a key 5 minutes after its lookup (AGORA_API_KEY_CACHE_SECONDS):
        # a round starts minutes after the last, so the keys are looked up again first
        took = warm_up(port, world["spread"] + [world["hot"]], world["keys"], n)
        print(f"  warm-up: every API key authenticated 6 times ({took:.1f}s, not measured)", flush=True)
        checkpoint(url)
        note("http", f"HTTP, {args.wallets} wallets", *run_http(port, world["spread"], world["keys"], n, secs))
        checkpoint(url)
        note("http_hot", "HTTP, 1 hot wallet", *run_http(port, [world["hot"]], world["keys"], n, secs))
    got["errors"] = len(errors)
    if errors:
        print(f"  errors seen by clients (first ones): {errors[:5]}", flush=True)
    return got


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--wallets", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3,
                        help="every measurement this many times, interleaved; the table shows medians")
    parser.add_argument("--http-workers", type=int, default=2)
    parser.add_argument("--http-threads", type=int, default=4, help="threads per gunicorn worker (agora serve: 4)")
    parser.add_argument("--service-threads", type=int, default=4,
                        help="threads per process for the extra rows of (b), as gunicorn's gthread workers run "
                             "(on the hot wallet charges combine, ADR 0006)")
    parser.add_argument("--port", type=int, default=18765)
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--write-readme", action="store_true", help="put the results table into bench/README.md")
    args = parser.parse_args()
    url = os.environ.get("AGORA_BENCH_DATABASE_URL", DEFAULT_URL)
    app_url = with_schema(url, APP_SCHEMA)
    n, secs, st = args.clients, args.seconds, args.service_threads

    print(f"database {urlsplit(url).hostname}:{urlsplit(url).port}{urlsplit(url).path}, {n} clients, {secs}s each, "
          f"{args.rounds} rounds, {os.cpu_count()} CPUs", flush=True)
    reset_schema(url, APP_SCHEMA)
    print(f"setting up {args.wallets + 1} wallets ...", flush=True)
    world = setup_app(app_url, args.wallets)
    template = capture_charge(app_url, world["hot"])
    proc = None if args.skip_http else start_gunicorn(app_url, args.port, args.http_workers, args.http_threads)
    rounds: list[dict[str, float | None]] = []
    try:
        for k in range(args.rounds):
            print(f"round {k + 1} of {args.rounds}", flush=True)
            rounds.append(one_round(args, url, app_url, world, template, None if proc is None else args.port))
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)

    checks = check_ledger(url)
    w = args.http_workers
    raw_goal = f">= {GOALS['service']:.0%}"
    rows: list[Row] = [
        ("(a) pgbench TPC-B-like", "pgbench", "baseline", None),
        ("(a) raw-SQL two-account transfer", "raw", "baseline (100%)", None),
        ("(a') raw-SQL transfer between one hot pair of accounts", "raw_hot", "reference for the hot wallet", None),
        (f"(a'') the charge's own statements, bare, {args.wallets} wallets", "bare", "what the data model costs",
         "raw"),
        ("(a'') the charge's own statements, bare, 1 hot wallet", "bare_hot", "what the data model costs",
         "raw_hot"),
        (f"(a'') the unlocked charge's statements (ADR 0010), bare, {args.wallets} wallets", "bare_unlocked",
         "what the data model costs", "raw"),
        ("(a'') the unlocked charge's statements (ADR 0010), bare, 1 hot wallet", "bare_unlocked_hot",
         "what the data model costs", "raw_hot"),
        (f"(b) service charges, {args.wallets} wallets", "service", raw_goal, "raw"),
        ("(b) service charges, 1 hot wallet", "service_hot", raw_goal, "raw_hot"),
        ("(b) service charges, 1 hot wallet, every charge under the lock (ADR 0010 off)", "service_hot_locked",
         "for comparison", "raw_hot"),
        (f"(b) service charges, {args.wallets} wallets, {n // st} processes x {st} threads", "service_threads",
         raw_goal, "raw"),
        (f"(b) service charges, 1 hot wallet, {n // st} processes x {st} threads (combined)", "service_hot_threads",
         raw_goal, "raw_hot"),
        (f"(c) HTTP charges (gunicorn {w} workers), {args.wallets} wallets", "http", f">= {GOALS['http']:.0%}",
         "raw"),
        (f"(c) HTTP charges (gunicorn {w} workers), 1 hot wallet", "http_hot", f">= {GOALS['http']:.0%}",
         "raw_hot"),
    ]
    report = table(rows, rounds)
    print()
    print(report)
    print()
    print(f"ledger after the run: {checks}")
    ok = (checks["ledger_total"] == 0 and checks["unbalanced_entries"] == 0 and checks["wallets_off_postings"] == 0
          and not any(r["errors"] for r in rounds))
    print("ledger sums to zero, every entry balances, cached figures equal the postings, no client saw an error"
          if ok else "CHECK FAILED")
    if args.write_readme:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        block = (f"<!-- wallet-results -->\nRun {stamp}: {os.cpu_count()} CPUs shared by PostgreSQL, the workers "
                 f"and the clients; {n} clients, {secs}s per measurement, {args.rounds} rounds (medians).\n\n"
                 f"{report}\n\nAfter the run: ledger total {checks['ledger_total']}, unbalanced entries "
                 f"{checks['unbalanced_entries']}, wallets whose cached cash differs from their postings "
                 f"{checks['wallets_off_postings']}, {checks['charges']} charge entries.\n<!-- /wallet-results -->")
        text = README.read_text() if README.exists() else "# Benchmarks\n"
        if "<!-- wallet-results -->" not in text:
            text = text.rstrip("\n") + "\n\n## Wallet\n\n<!-- wallet-results -->\n<!-- /wallet-results -->\n"
        README.write_text(re.sub(r"<!-- wallet-results -->.*<!-- /wallet-results -->", lambda _: block, text,
                                 flags=re.S))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
