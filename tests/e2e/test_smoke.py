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


def test_metrics_count_combined_charge_batches(client, container):
    from application.wallet import WalletService
    from entrypoints.metrics import REGISTRY

    def sample(name):
        return REGISTRY.get_sample_value(name) or 0.0

    before = sample("agora_wallet_charge_batches_total"), sample("agora_wallet_charges_combined_total")
    combiner = container.get(WalletService)._charges
    combiner.on_batch(3)  # what the combiner reports after a batch of three charges shared a transaction
    combiner.on_batch(5)
    body = client.get("/metrics").get_data(as_text=True)
    assert f"agora_wallet_charge_batches_total {before[0] + 2}" in body
    assert f"agora_wallet_charges_combined_total {before[1] + 8}" in body
    assert "agora_http_requests_total" in body


def test_metrics_count_unlocked_charge_attempts_by_outcome(client, container):
    from application.wallet import WalletService
    from entrypoints.metrics import REGISTRY

    def sample(outcome):
        return REGISTRY.get_sample_value("agora_wallet_unlocked_charges_total", {"outcome": outcome}) or 0.0

    before = sample("landed"), sample("declined")
    report = container.get(WalletService)._on_unlocked  # what the service tells after each attempt (ADR 0010)
    report("landed")
    report("landed")
    report("declined")
    body = client.get("/metrics").get_data(as_text=True)
    assert f'agora_wallet_unlocked_charges_total{{outcome="landed"}} {before[0] + 2}' in body
    assert f'agora_wallet_unlocked_charges_total{{outcome="declined"}} {before[1] + 1}' in body


def test_metrics_count_charges_released_early(client, container):
    from application.wallet import WalletService
    from entrypoints.metrics import REGISTRY

    before = REGISTRY.get_sample_value("agora_wallet_early_released_charges_total") or 0.0
    report = container.get(WalletService)._on_early  # told after each early release (ADR 0013)
    report(1)
    report(3)
    body = client.get("/metrics").get_data(as_text=True)
    assert f"agora_wallet_early_released_charges_total {before + 4}" in body


def test_metrics_count_and_time_requests_by_method_route_and_status(client):
    from entrypoints.metrics import REGISTRY

    def count(route, status):
        labels = {"method": "GET", "route": route, "status": status}
        return REGISTRY.get_sample_value("agora_http_requests_total", labels) or 0.0

    def timed(route):
        return REGISTRY.get_sample_value("agora_http_request_seconds_count", {"method": "GET", "route": route}) or 0.0

    before = count("/healthz", "200"), count("unmatched", "404"), timed("/healthz"), timed("unmatched")
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert client.get("/no/such/route").status_code == 404
    assert count("/healthz", "200") == before[0] + 3 and timed("/healthz") == before[2] + 3
    assert count("unmatched", "404") == before[1] + 1 and timed("unmatched") == before[3] + 1


def test_each_request_is_logged_once_as_json_with_its_id_route_and_client(client):
    import io
    import json
    import logging

    from entrypoints.logging import JsonFormatter

    out = io.StringIO()
    handler = logging.StreamHandler(out)  # formats inside the request, as the real handler does
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("agora.http")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)  # setLevel, not .level =: it clears the logger's cache
    try:
        r = client.get("/healthz", headers={"X-Request-Id": "req-42", "User-Agent": "probe/1.0"})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert r.headers["X-Request-Id"] == "req-42"
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == "req-42"
    assert (line["method"], line["path"], line["route"], line["status"]) == ("GET", "/healthz", "/healthz", 200)
    assert line["remote_addr"] == "127.0.0.1" and line["user_agent"] == "probe/1.0"
    assert line["duration_ms"] >= 0
