"""Idempotency-Key leases (application/shared/idempotency.py): a key whose request died is
taken over by a retry once its lease is stale, a holder that lost its key cannot commit,
and an effect that committed without an answer never happens twice."""
from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from adapters.postgres import tables as t
from application.shared.idempotency import LEASE, IdempotencyStore, lease_guard
from application.shared.uow import UnitOfWorkFactory, commit_guards
from application.wallet import RechargeService, WalletService
from domain.shared.errors import Conflict
from entrypoints.http.wallet import views
from tests.e2e.wallet.conftest import World, err

SECOND = timedelta(seconds=1)


def _now() -> datetime:
    return datetime.now(UTC)


def url(org_id: str, tail: str = "") -> str:
    return f"/api/v1/wallets/{org_id}{tail}"


def _store(world: World, do: Any) -> Any:
    with world.container.get(UnitOfWorkFactory)() as uow:
        out = do(uow.repo(IdempotencyStore))
        uow.commit()
    return out


def _record(world: World, scope: str, key: str) -> Any:
    with world.container.get(UnitOfWorkFactory)() as uow:
        return uow.connection.execute(select(t.idempotency_keys).where(  # type: ignore[attr-defined]
            t.idempotency_keys.c.scope == scope, t.idempotency_keys.c.key == key)).one_or_none()


def _charges(world: World, org_id: str) -> list[dict[str, Any]]:
    return world.entries(world.customer.api, org_id, type="charge")


def test_a_key_whose_request_died_after_its_effect_is_taken_over_once_its_lease_is_stale(
        world: World, monkeypatch) -> None:
    c = world.customer
    world.offline(c.org_id, "50.00")
    body = {"amount": "10.00", "reference": "died-1"}
    died_at = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    with freeze_time(died_at), monkeypatch.context() as m:
        m.setattr(views, "_entry", _killed)  # the charge committed, then the worker was killed
        with pytest.raises(KeyboardInterrupt):
            c.api.post(url(c.org_id, "/charges"), json=body, headers={"Idempotency-Key": "d-1"})
    record = _record(world, c.org_id, "d-1")
    assert (record.status, record.locked_at) == ("applied", died_at)

    with freeze_time(died_at + LEASE - SECOND):  # the holder may still be working
        r = c.api.post(url(c.org_id, "/charges"), json=body, headers={"Idempotency-Key": "d-1"})
        assert r.status_code == 409 and err(r) == "idempotency_key_in_progress"
    with freeze_time(died_at + LEASE):  # presumed dead: the retry runs, and the charge knows its repeat
        r = c.api.post(url(c.org_id, "/charges"), json=body, headers={"Idempotency-Key": "d-1"})
        assert r.status_code == 200 and r.get_json()["replayed"] is True
    again = c.api.post(url(c.org_id, "/charges"), json=body, headers={"Idempotency-Key": "d-1"})
    assert again.headers.get("Idempotent-Replayed") == "true" and again.get_json() == r.get_json()
    assert len(_charges(world, c.org_id)) == 1 and world.wallet(c.api, c.org_id)["cash"] == "40.00"


def test_a_retry_of_a_request_that_died_before_its_effect_runs_for_real(world: World, monkeypatch) -> None:
    c = world.customer
    body = {"amount": "7.00", "channel": "offline", "note": "slip 9"}
    died_at = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    with freeze_time(died_at), monkeypatch.context() as m:
        m.setattr(RechargeService, "recharge", _killed)  # killed before anything committed
        with pytest.raises(KeyboardInterrupt):
            world.finance.post(url(c.org_id, "/recharges"), json=body, headers={"Idempotency-Key": "r-died"})
    with freeze_time(died_at + LEASE - SECOND):
        r = world.finance.post(url(c.org_id, "/recharges"), json=body, headers={"Idempotency-Key": "r-died"})
        assert r.status_code == 409 and err(r) == "idempotency_key_in_progress"
    with freeze_time(died_at + LEASE):
        r = world.finance.post(url(c.org_id, "/recharges"), json=body, headers={"Idempotency-Key": "r-died"})
        assert r.status_code == 201, r.get_json()
    assert world.wallet(c.api, c.org_id)["cash"] == "7.00"


def _killed(*args: Any, **kwargs: Any) -> Any:
    raise KeyboardInterrupt  # as far as the request is concerned, its process is gone


def test_a_holder_that_lost_its_key_cannot_commit(world: World) -> None:
    c = world.customer
    world.offline(c.org_id, "50.00")
    scope, now = c.org_id, datetime.now(UTC)
    assert _store(world, lambda s: s.reserve(scope, "slow", "h" * 64, "a" * 32, now - LEASE)) is None
    assert _store(world, lambda s: s.reserve(scope, "slow", "h" * 64, "b" * 32, now)) is None  # taken over
    wallets = world.container.get(WalletService)
    with commit_guards((lease_guard(scope, "slow", "a" * 32, _now),)), pytest.raises(Conflict) as refused:
        wallets.charge(None, c.org_id, Decimal("10.00"), "slow-1")
    assert refused.value.code == "idempotency_key_taken_over"
    with commit_guards((lease_guard(scope, "slow", "b" * 32, _now),)):  # the new holder can
        wallets.charge(None, c.org_id, Decimal("10.00"), "slow-1")
    assert len(_charges(world, c.org_id)) == 1 and world.wallet(c.api, c.org_id)["cash"] == "40.00"
    assert _record(world, scope, "slow").status == "applied"


def test_an_effect_whose_answer_was_lost_never_happens_twice(world: World, monkeypatch) -> None:
    c = world.customer
    body = {"amount": "5.00", "channel": "offline", "note": "slip 12"}
    real = views._recharge
    monkeypatch.setattr(views, "_recharge", lambda *a, **k: 1 / 0)  # fails after the recharge committed
    r = world.finance.post(url(c.org_id, "/recharges"), json=body, headers={"Idempotency-Key": "lost"})
    assert r.status_code == 500
    monkeypatch.setattr(views, "_recharge", real)
    assert world.wallet(c.api, c.org_id)["cash"] == "5.00"
    # an offline recharge does not know its repeats: the retry is refused, not credited again
    r = world.finance.post(url(c.org_id, "/recharges"), json=body, headers={"Idempotency-Key": "lost"})
    assert r.status_code == 409 and err(r) == "idempotency_key_applied"
    r = world.finance.post(url(c.org_id, "/recharges"), json=body, headers={"Idempotency-Key": "lost"})
    assert r.status_code == 409 and err(r) == "idempotency_key_applied"
    assert world.wallet(c.api, c.org_id)["cash"] == "5.00"

    # a charge knows its repeats by reference: the retry answers the entry it wrote
    real_entry = views._entry
    monkeypatch.setattr(views, "_entry", lambda *a, **k: 1 / 0)
    charge = {"amount": "2.00", "reference": "lost-1"}
    r = c.api.post(url(c.org_id, "/charges"), json=charge, headers={"Idempotency-Key": "lost-c"})
    assert r.status_code == 500
    monkeypatch.setattr(views, "_entry", real_entry)
    r = c.api.post(url(c.org_id, "/charges"), json=charge, headers={"Idempotency-Key": "lost-c"})
    assert r.status_code == 200 and r.get_json()["replayed"] is True
    assert len(_charges(world, c.org_id)) == 1 and world.wallet(c.api, c.org_id)["cash"] == "3.00"


def test_a_request_that_failed_before_its_effect_frees_its_key(world: World, monkeypatch) -> None:
    c = world.customer
    world.offline(c.org_id, "50.00")
    wallets = world.container.get(WalletService)
    real = WalletService.charge
    monkeypatch.setattr(WalletService, "charge", lambda *a, **k: 1 / 0)
    charge = {"amount": "2.00", "reference": "early-1"}
    r = c.api.post(url(c.org_id, "/charges"), json=charge, headers={"Idempotency-Key": "early"})
    assert r.status_code == 500
    monkeypatch.setattr(WalletService, "charge", real)
    assert _record(world, c.org_id, "early") is None
    r = c.api.post(url(c.org_id, "/charges"), json=charge, headers={"Idempotency-Key": "early"})
    assert r.status_code == 201
    assert wallets.ledger_total() == 0


def test_a_combined_batch_commits_only_with_every_charges_key(world: World) -> None:
    """The leader of a combined batch commits for its followers: the keys of the charges it
    writes are fenced in the batch's commit (a refused one's is not), and one lost key
    fails the batch (each charge then runs alone)."""
    from application.wallet.services import _Charge

    c = world.customer
    world.offline(c.org_id, "50.00")
    scope, now = c.org_id, datetime.now(UTC)
    for key, lease in (("b-1", "a" * 32), ("b-2", "b" * 32)):
        assert _store(world, lambda s, k=key, le=lease: s.reserve(scope, k, "h" * 64, le, now)) is None
    _store(world, lambda s: s.reserve(scope, "b-2", "h" * 64, "c" * 32, now + LEASE))  # b-2 taken over
    wallets = world.container.get(WalletService)
    ok = _Charge(c.org_id, Decimal("1.00"), "batch-1", None, (), False, None, None,
                 (lease_guard(scope, "b-1", "a" * 32, _now),))
    lost = _Charge(c.org_id, Decimal("2.00"), "batch-2", None, (), False, None, None,
                   (lease_guard(scope, "b-2", "b" * 32, _now),))
    assert _store(world, lambda s: s.reserve(scope, "b-3", "h" * 64, "d" * 32, now)) is None
    refused = _Charge(c.org_id, Decimal("999.00"), "batch-3", None, (), False, None, None,
                      (lease_guard(scope, "b-3", "d" * 32, _now),))
    with pytest.raises(Conflict):
        wallets._charge_batch([ok, lost])
    assert _charges(world, c.org_id) == []  # nothing of the batch committed
    outcomes = wallets._charge_batch([refused, ok])  # a refused charge takes no effect: its key is not fenced
    assert outcomes[0].code == "insufficient_funds"  # type: ignore[union-attr]
    assert (_record(world, scope, "b-3").status, _record(world, scope, "b-1").status) == ("in_progress", "applied")
    assert [e["reference"] for e in _charges(world, c.org_id)] == ["batch-1"]
    ok = dataclasses.replace(ok, reference="batch-1b")
    assert wallets._charge_one(ok).entry.amount == Decimal("1.00")
    with pytest.raises(Conflict):
        wallets._charge_one(lost)
    assert sorted(e["reference"] for e in _charges(world, c.org_id)) == ["batch-1", "batch-1b"]
    assert (_record(world, scope, "b-1").status, _record(world, scope, "b-2").status) == ("applied", "in_progress")


def test_an_online_recharge_the_gateway_refused_can_be_retried_with_its_key(world: World, monkeypatch) -> None:
    from application.wallet.payments import GatewayError, PaymentGateways

    c = world.customer
    gateway = world.container.get(PaymentGateways).get("sandbox")
    real = gateway.create_payment

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise GatewayError("down for maintenance")

    body, key = {"amount": "20.00", "channel": "sandbox"}, {"Idempotency-Key": "online-1"}
    monkeypatch.setattr(gateway, "create_payment", refuse)
    r = c.api.post(url(c.org_id, "/recharges"), json=body, headers=key)
    assert r.status_code == 503 and err(r) == "gateway_unavailable"
    monkeypatch.setattr(gateway, "create_payment", real)
    r = c.api.post(url(c.org_id, "/recharges"), json=body, headers=key)  # nothing took effect: it runs
    assert r.status_code == 201 and r.get_json()["payment_url"]
    again = c.api.post(url(c.org_id, "/recharges"), json=body, headers=key)
    assert again.headers.get("Idempotent-Replayed") == "true" and again.get_json()["id"] == r.get_json()["id"]


def test_a_holder_that_commits_renews_its_lease(world: World) -> None:
    c = world.customer
    world.offline(c.org_id, "50.00")
    scope, start = c.org_id, datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    assert _store(world, lambda s: s.reserve(scope, "renew", "h" * 64, "a" * 32, start)) is None
    later = start + LEASE - SECOND  # a slow request commits its effect just before its lease ends
    with commit_guards((lease_guard(scope, "renew", "a" * 32, lambda: later),)):
        world.container.get(WalletService).charge(None, c.org_id, Decimal("1.00"), "renew-1")
    # a retry one lease after the start finds a holder that was alive a second ago
    assert _store(world, lambda s: s.reserve(scope, "renew", "h" * 64, "b" * 32, start + LEASE)).status == "applied"
    assert _store(world, lambda s: s.reserve(scope, "renew", "h" * 64, "b" * 32, later + LEASE)) is None
    assert _record(world, scope, "renew").status == "replaying"


def test_a_key_left_in_progress_by_code_without_leases_is_never_run_again(world: World) -> None:
    c = world.customer
    scope, long_ago = c.org_id, datetime(2026, 11, 30, tzinfo=UTC)
    with world.container.get(UnitOfWorkFactory)() as uow:  # as the code before leases wrote it
        uow.connection.execute(t.idempotency_keys.insert().values(  # type: ignore[attr-defined]
            scope=scope, key="legacy", request_hash="h" * 64, status="in_progress", created_at=long_ago))
        uow.commit()
    assert _store(world, lambda s: s.reserve(scope, "legacy", "h" * 64, "a" * 32, datetime.now(UTC))
                  ).status == "in_progress"  # its holder has no fence: a retry could double it


def test_deeply_nested_json_is_malformed_not_a_server_error(world: World) -> None:
    c = world.customer
    deep = "[" * 100_000 + "]" * 100_000
    r = c.api.post(url(c.org_id, "/charges"), data=deep, headers={"Content-Type": "application/json",
                                                                  "Idempotency-Key": "deep"})
    assert r.status_code == 400 and err(r) == "malformed_json"
