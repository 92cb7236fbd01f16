"""Smoke: health, OpenAPI, the error body for unknown fields."""


def test_healthz_reports_database(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.get_json()["checks"]["database"] == "ok"


def test_unknown_field_is_rejected_with_field_named(platform):
    r = platform.post("/api/v1/organizations", json={"name": "X", "kinds": ["vendor"], "bogus": 1})
    assert r.status_code == 422
    assert r.get_json()["error"]["code"] == "validation_failed"
    assert r.get_json()["error"]["details"] == {"bogus": ["Unknown field."]}


def test_tenant_factory_walks_first_login(tenant_factory):
    t = tenant_factory("Vendor A", ["vendor"], "vadmin")
    me = t.api.get("/api/v1/me").get_json()
    assert me["organization"]["id"] == t.org_id
    assert "vendor_admin" in me["roles"]


def test_metrics_show_this_process_charge_combining(client, container):
    from application.wallet import WalletService

    combiner = container.get(WalletService)._charges
    combiner.batches, combiner.combined = 3, 11  # as if three batches of charges had shared transactions
    body = client.get("/metrics").get_data(as_text=True)
    assert "agora_wallet_charge_batches 3.0" in body
    assert "agora_wallet_charges_combined 11.0" in body
    assert "agora_http_requests_total" in body
