"""Property-based run of schemathesis over the wallet endpoints (``make fuzz``).

    AGORA_FUZZ=1 .venv/bin/pytest tests/fuzz -p no:xdist          (make fuzz)

Every documented wallet, payments, agency overview/statement and exports operation gets
generated requests (valid and invalid), sent in-process to the test app (database, fakes,
the sandbox payment gateway) against a prepared world: a customer with a funded wallet
(offline and paid online recharges, a charge, a hold, a coupon, a withholding agreement,
a withdrawal, an export), an agency with an authorised, funded merchant principal, a
supplier to pay. Each case is sent as the caller that can reach it (the customer's admin,
the platform admin or finance, the agency owner), chosen from the generated case, so the
happy paths and their 2xx bodies are reached as well as the refusals. A 500, a status the
document does not list, a body that does not match its documented schema, or a wrong
content type fails, and so does an export the API accepted (202) whose job then failed
(jobs run inline here). ``test_export_filter_edges`` pins export filters at the edges.
``AGORA_FUZZ_WALLET_EXAMPLES`` (default: ``AGORA_FUZZ_EXAMPLES``, else 25) sets the
examples per operation; ``AGORA_FUZZ_SEED=random`` explores new inputs instead of the
reproducible default.
"""
from __future__ import annotations

import dataclasses
import os
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from adapters.payment.sandbox import SandboxGateway, client_transport
from application.shared.settings import Settings
from application.wallet.payments import PaymentGateways
from entrypoints.http.app import create_app
from tests.e2e.wallet.conftest import add_user
from tests.fuzz.test_schemathesis import fingerprint
from tests.helpers import Api, make_tenant

EXAMPLES = int(os.environ.get("AGORA_FUZZ_WALLET_EXAMPLES", os.environ.get("AGORA_FUZZ_EXAMPLES", "25")))
TAGS = "^(wallet|payments|agency overview|exports)$"

_doc_app = create_app(Settings(database_url="sqlite://", run_scheduler=False))
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _doc_app).include(tag_regex=TAGS)

_AMOUNT = re.compile(r"-?[0-9]+(\.[0-9]{1,2})?")


@dataclasses.dataclass
class WalletWorld:
    tokens: dict[str, str]  # caller name -> bearer token
    ids: dict[str, str]


def _ok(r: Any, status: int = 201) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.get_json())
    return r.get_json()  # type: ignore[no-any-return]


@pytest.fixture
def wallet_world(platform: Api, client: Any, container: Any) -> WalletWorld:
    gateway = container.get(PaymentGateways).get("sandbox")
    assert isinstance(gateway, SandboxGateway)
    gateway.transport = client_transport(client)  # its notifications reach our notify endpoint
    gateway.sleep = lambda seconds: None  # its retry backoff, not the run's time

    platform_org = platform.get("/api/v1/me").get_json()["organization"]["id"]
    finance = add_user(platform, platform_org, "fuzzfinance", ["platform_finance"])
    customer = make_tenant(platform, "Fuzz Customer", ["customer"], "fuzzcustomer")
    supplier = make_tenant(platform, "Fuzz Supplier", ["supplier"], "fuzzsupplier")
    agency = make_tenant(platform, "Fuzz Agency", ["agency"], "fuzzagency")
    merchant = make_tenant(platform, "Fuzz Merchant", ["merchant"], "fuzzmerchant")
    rel = _ok(agency.api.post(f"/api/v1/organizations/{agency.org_id}/principals",
                              json={"principal_org_id": merchant.org_id}))["id"]
    _ok(merchant.api.post(f"/api/v1/relations/{rel}/accept"), 200)

    c, w = customer.api, f"/api/v1/wallets/{customer.org_id}"
    offline = _ok(finance.post(f"{w}/recharges", json={"amount": "1000.00", "channel": "offline", "note": "fz"}))
    online = _ok(c.post(f"{w}/recharges", json={"amount": "200.00", "channel": "sandbox"}))
    _ok(client.post(f"/sandbox/pay/{online['payment_url'].rstrip('/').rsplit('/', 1)[1]}",
                    json={"outcome": "paid", "mode": "normal"}), 200)
    withdrawal = _ok(c.post(f"{w}/withdrawals", json={"amount": "10.00", "reason": "fz"}))
    charge = _ok(c.post(f"{w}/charges", json={"amount": "5.00", "reference": "fz-charge"}))
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    hold = _ok(c.post(f"{w}/holds", json={"amount": "20.00", "reference": "fz-hold", "expires_at": soon}))
    _ok(platform.post(f"{w}/coupons", json={"kind": "normal", "amount": "10.00",
                                            "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat()}))
    _ok(platform.put(f"{w}/deposit", json={"deposit_due": "100.00"}), 200)
    _ok(c.post(f"{w}/deposit/payments", json={"amount": "30.00"}))
    agreement = _ok(c.post(f"{w}/withholding-agreements", json={"account": "fz@example.com", "account_name": "Fz",
                                                               "account_type": "enterprise"}))
    export = _ok(c.post("/api/v1/exports", json={"kind": "wallet_entries", "org_id": customer.org_id}), 202)

    _ok(finance.post(f"/api/v1/wallets/{agency.org_id}/recharges",
                     json={"amount": "500.00", "channel": "offline", "note": "fz"}))
    _ok(agency.api.post(f"/api/v1/wallets/{agency.org_id}/allocations",
                        json={"to_org_id": merchant.org_id, "amount": "100.00"}))
    _ok(merchant.api.post(f"/api/v1/wallets/{merchant.org_id}/charges",
                          json={"amount": "3.00", "reference": "fz-m-charge"}))
    agency_export = _ok(agency.api.post("/api/v1/exports", json={"kind": "agency_entries"}), 202)

    tokens = {"customer": str(c.token), "admin": str(platform.token), "finance": str(finance.token),
              "agency": str(agency.api.token)}
    ids = {"customer_org": customer.org_id, "supplier_org": supplier.org_id, "agency_org": agency.org_id,
           "merchant_org": merchant.org_id, "offline_recharge": offline["id"], "online_recharge": online["id"],
           "withdrawal": withdrawal["id"], "entry": charge["id"], "hold": hold["id"], "agreement": agreement["id"],
           "export": export["id"], "agency_export": agency_export["id"]}
    return WalletWorld(tokens, ids)


MONEY = ("amount", "credit_limit", "deposit_due", "daily_budget", "threshold")
# each export kind with its filters (api.md "Exports", "Agency overview"; the projects list's filters)
EXPORT_FILTERS = {
    "wallet_entries": ("type", "from", "to", "reference", "purpose"),
    "agency_entries": ("type", "from", "to", "reference", "org_id", "purpose"),
    "agency_spend": ("from", "to", "q", "purpose"),
    "agency_consumption": ("granularity", "from", "to", "org_id", "purpose"),
    "audit_log": ("operation", "actor_id", "from", "to"),
    "projects": ("tab", "order_no", "provider_org_id", "product_id", "customer_org_id", "stage", "operator_id",
                 "overdue"),
}
EXPORT_KINDS = tuple(EXPORT_FILTERS)
# moments at the edges of what a date or timestamp may spell (api.md: outside 1900-9998 is 422)
EDGE_MOMENTS = ("0001-01-01", "9999-12-31", "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59",
                "1899-12-31T23:59:59+00:00", "2024-02-29", "2024-02-29T12:00:00+08:00")


def _amount(crc: int) -> str:
    return f"{crc % 3000 // 100}.{crc % 100:02d}" if crc % 3000 >= 100 else "1.00"


def _caller(path: str, method: str, pick: int) -> str:
    if path.startswith("/api/v1/agency/") or path.endswith(("/allocations", "/reclaims")):
        return "customer" if pick == 0 else "agency"  # a customer is refused (403)
    if path.startswith("/api/v1/exports"):
        return ("customer", "agency", "finance", "customer", "agency", "admin")[pick]
    if path.endswith(("/credit-limit", "/deposit", "/deposit/refunds", "/confirm")) or (
            method == "POST" and path == "/api/v1/wallets/{org_id}/coupons"):
        return ("customer", "admin", "admin", "admin", "finance", "agency")[pick]
    if method == "POST" and path == "/api/v1/wallets/{org_id}/withholding-agreements":
        return ("customer", "agency", "agency", "agency", "admin", "customer")[pick]  # one is pending already
    return ("customer", "customer", "customer", "admin", "finance", "agency")[pick]


def aim(case: Any, world: WalletWorld) -> str:
    """Deterministically (by the generated case) pick the caller, and keep the generated
    ids, amounts, dates and idempotency key or swap in real ones (one case in six keeps
    them); answers the caller's bearer token."""
    crc = fingerprint(case, case.headers)
    pick = crc % 6
    ids, path = world.ids, case.path
    caller = _caller(path, case.method.upper(), pick)
    if pick == 0 and crc % 12 < 6:
        return world.tokens[caller]
    if case.headers:
        if "Idempotency-Key" in case.headers:  # generated keys repeat across cases: 409 idempotency_key_reused
            case.headers["Idempotency-Key"] = f"fz-{crc:08x}"
        if "X-Act-As-Org" in case.headers and caller == "agency" and crc % 4:
            case.headers["X-Act-As-Org"] = ids["merchant_org"]  # a principal it may act for
    org = ids["merchant_org"] if caller == "agency" else ids["customer_org"]
    if caller == "agency" and (path.endswith(("/allocations", "/reclaims", "/withholding-agreements"))):
        org = ids["agency_org"]  # its own wallet
    real = {"org_id": org, "hold_id": ids["hold"], "entry_id": ids["entry"], "withdrawal_id": ids["withdrawal"],
            "agreement_id": ids["agreement"], "channel": "sandbox",
            "recharge_id": ids["online_recharge"] if crc % 2 else ids["offline_recharge"],
            "export_id": ids["agency_export"] if caller == "agency" else ids["export"]}
    params = case.path_parameters or {}
    for name in params:
        if name in real:
            params[name] = real[name]
    if isinstance(case.query, dict):
        q = case.query
        if "org_id" in q:
            q["org_id"] = ids["merchant_org"]
        today = datetime.now(UTC).date()
        if ("from" in q or "to" in q or "granularity" in q) and crc % 4:  # a short range that ends today
            q.setdefault("from", "")
            q.setdefault("to", "")
            q["from"], q["to"] = str(today - timedelta(days=crc % 40)), str(today)
            if "period" in q:
                q["period"] = "range"
    if isinstance(case.body, dict):
        b = case.body
        for name in MONEY:
            if name in b and not (b[name] is None or (isinstance(b[name], str) and _AMOUNT.fullmatch(b[name]))):
                b[name] = _amount(crc)
        for name in ("to_org_id", "from_org_id"):
            if name in b:
                b[name] = ids["merchant_org"]
        if "recharge_id" in b and b["recharge_id"] is not None:
            b["recharge_id"] = ids["online_recharge"]
        if isinstance(b.get("payees"), list):
            b["payees"] = [{"org_id": ids["supplier_org"], "amount": "0.01"}] * min(2, len(b["payees"]))
        if "expires_at" in b and crc % 3:
            b["expires_at"] = (datetime.now(UTC) + timedelta(days=1 + crc % 30)).isoformat()
        if "account_type" in b:
            b["account_type"] = "enterprise"
        if path == "/api/v1/exports" and "kind" in b:
            _aim_export(b, crc, caller, ids)
    return world.tokens[caller]


def _aim_export(b: dict[str, Any], crc: int, caller: str, ids: dict[str, str]) -> None:
    """A real kind for the caller's organisation; its filters empty, or the generated
    values under the kind's own filter names (with moments at the edges for from/to)."""
    b["kind"] = kind = EXPORT_KINDS[crc % len(EXPORT_KINDS)]
    if "org_id" in b:
        b["org_id"] = ids["agency_org"] if caller == "agency" else ids["customer_org"]
    today = datetime.now(UTC).date()
    if crc % 3 == 0:
        b["filters"] = {"from": str(today - timedelta(days=7)), "to": str(today)} \
            if kind in ("agency_spend", "agency_consumption") else {}
    elif crc % 3 == 1 and isinstance(b.get("filters"), dict):
        names = EXPORT_FILTERS[kind]
        values = list(b["filters"].values())
        b["filters"] = {names[(crc + i) % len(names)]: v for i, v in enumerate(values)}
        for i, name in enumerate(("from", "to")):
            if name in b["filters"] and crc % 2:
                b["filters"][name] = EDGE_MOMENTS[(crc // 7 + i) % len(EDGE_MOMENTS)]


@schemathesis.check
def export_job_not_failed(ctx: Any, response: Any, case: Any) -> bool | None:
    """Export jobs run inline in tests (``jobs_sync``): a job the API accepted (202) and that
    then failed hides an error the request should have been refused for (422) or a bug
    (api.md: 500 only for real bugs). The job's ``error`` says only that it failed: the
    exception is in the captured ``agora.exports`` log."""
    if case.path.startswith("/api/v1/exports") and response.status_code in (200, 202):
        try:
            data = response.json()
        except ValueError:  # a download: a file, not a job
            return None
        if isinstance(data, dict) and data.get("status") == "failed":
            raise AssertionError(f"export {data.get('id')} ({data.get('kind')}, filters {data.get('filters')}) "
                                 f"was accepted and failed: {str(data.get('error'))[:300]}")
    return None


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          export_job_not_failed]


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=os.environ.get("AGORA_FUZZ_SEED") != "random",
          suppress_health_check=list(HealthCheck), database=None)
def test_wallet_api(case: Any, app: Any, wallet_world: WalletWorld) -> None:
    token = aim(case, wallet_world)
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


# Export filters at the edges, found by this run and by probing around it: each must be
# refused (422 invalid_filter naming filters.<name>) or give an export that is done — never
# a 500, never an accepted job that then fails.
EXPORT_EDGES: list[tuple[str, str, dict[str, Any]]] = [
    ("customer", "wallet_entries", {"to": "9999-12-31"}),
    ("agency", "agency_entries", {"to": "9999-12-31"}),
    ("customer", "wallet_entries", {"from": "0001-01-01"}),
    ("agency", "agency_entries", {"from": "9999-12-31T23:59:59-23:59"}),
    ("customer", "audit_log", {"from": "0001-01-01T00:00:00+23:59"}),
    ("customer", "audit_log", {"operation": ["charge"]}),
    ("customer", "audit_log", {"actor_id": {"id": 1}}),
    ("admin", "projects", {"overdue": []}),
    ("admin", "projects", {"stage": 5}),
    ("admin", "projects", {"customer_org_id": [1]}),
]


@pytest.mark.parametrize(("caller", "kind", "filters"), EXPORT_EDGES,
                         ids=[f"{kind}-{sorted(f.items())}" for _, kind, f in EXPORT_EDGES])
def test_export_filter_edges(caller: str, kind: str, filters: dict[str, Any], client: Any,
                             wallet_world: WalletWorld) -> None:
    api = Api(client, wallet_world.tokens[caller])
    org = {"customer": wallet_world.ids["customer_org"], "agency": wallet_world.ids["agency_org"]}.get(caller)
    r = api.post("/api/v1/exports", json={"kind": kind, "org_id": org, "filters": filters})
    got = r.get_json(silent=True)
    assert r.status_code in (202, 422), (r.status_code, got)
    if r.status_code == 422:
        assert set(got["error"]) == {"code", "message", "details"}, got
        assert got["error"]["code"] == "invalid_filter", got
        assert all(k.startswith("filters.") for k in got["error"]["details"]), got
        return
    job = api.get(f"/api/v1/exports/{got['id']}").get_json()  # jobs run inline in tests
    assert job["status"] == "done", f"accepted, then {job['status']}: {job.get('error')}"
