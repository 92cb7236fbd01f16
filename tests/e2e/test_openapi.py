"""The OpenAPI document is valid OpenAPI 3, lists every documented route, and the docs page
works offline."""
from __future__ import annotations

import re
from typing import Any

from openapi_spec_validator import validate

_PARAM = re.compile(r"<(?:[a-z_]+:)?([a-z_]+)>")


def spec_of(client: Any) -> dict[str, Any]:
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    return r.get_json()  # type: ignore[no-any-return]


def test_document_validates_as_openapi_3(client: Any) -> None:
    spec = spec_of(client)
    assert spec["openapi"].startswith("3.")
    validate(spec)  # raises OpenAPIValidationError with the path of the fault


def test_every_documented_route_is_present(app: Any, client: Any) -> None:
    paths = spec_of(client)["paths"]
    documented = 0
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if not rule.rule.startswith("/api/v1/"):
            continue
        meta = getattr(view, "_agora_doc", None)
        if meta is None:
            assert not rule.endpoint.startswith("identity."), f"{rule.rule} has no @doc"
            continue
        path = _PARAM.sub(r"{\1}", rule.rule)
        assert path in paths, f"{rule.rule} missing from the document"
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            op = paths[path][method.lower()]
            documented += 1
            assert op["summary"] == meta["summary"]
            assert str(meta["status"]) in op["responses"]
            names = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert names == set(_PARAM.findall(rule.rule))
            if meta["auth"]:
                assert op["security"] == [{"bearer": []}] and "401" in op["responses"]
            else:
                assert "security" not in op
            if meta["body"] is not None:
                assert "requestBody" in op
    assert documented >= 40


def test_operations_describe_their_schemas(client: Any) -> None:
    spec = spec_of(client)
    schemas = spec["components"]["schemas"]
    token = spec["paths"]["/api/v1/auth/token"]["post"]
    body = token["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    assert set(schemas[body]["required"]) == {"login", "password"}
    assert schemas[body].get("additionalProperties") is False  # unknown fields are refused
    ok = token["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    assert set(schemas[ok]["properties"]) == {"access_token", "token_type", "expires_in", "must_change_password"}
    assert "202" in token["responses"] and "429" in token["responses"]
    err = spec["paths"]["/api/v1/organizations/{org_id}"]["get"]["responses"]["404"]
    assert err["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    created = spec["paths"]["/api/v1/organizations/{org_id}/users"]["post"]["responses"]["201"]
    ref = created["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    assert "one_time_password" in schemas[ref]["properties"]
    users = spec["paths"]["/api/v1/organizations/{org_id}/users"]["get"]
    assert {p["name"] for p in users["parameters"] if p["in"] == "query"} >= {"page", "per_page", "status", "q"}


def test_docs_page_works_offline(client: Any) -> None:
    r = client.get("/api/v1/docs")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert "openapi.json" in html and "<script>" in html
    urls = re.findall(r"""(?:https?:)?//[A-Za-z0-9.\-]+""", html)
    external = [u for u in urls if not re.match(r"(?:https?:)?//(?:localhost|127\.0\.0\.1)\b", u)]
    assert external == [], f"the docs page loads from other hosts: {external}"
    assert not re.search(r"""<(?:script|link|img)[^>]+(?:src|href)=["'](?:https?:)?//""", html)


def test_replayed_charges_and_holds_are_documented(client: Any) -> None:
    """A repeat of a charge's or hold's reference answers 200 with the first result."""
    paths = spec_of(client)["paths"]
    for path in ("/api/v1/wallets/{org_id}/charges", "/api/v1/wallets/{org_id}/holds"):
        responses = paths[path]["post"]["responses"]
        assert {"200", "201", "409"} <= set(responses), path
        assert responses["200"]["content"] == responses["201"]["content"], path


def test_money_is_a_decimal_string_and_idempotent_posts_document_their_key(client: Any) -> None:
    spec = spec_of(client)
    schemas = spec["components"]["schemas"]
    charge_in = schemas["ChargeIn"]["properties"]["amount"]
    assert (charge_in["type"], charge_in["format"]) == ("string", "decimal")
    assert schemas["WalletOut"]["properties"]["cash"]["type"] == "string"
    charges = spec["paths"]["/api/v1/wallets/{org_id}/charges"]["post"]
    headers = {p["name"]: p for p in charges["parameters"] if p["in"] == "header"}
    assert set(headers) == {"Idempotency-Key", "X-Act-As-Org"}
    assert "idempotency_key_reused" in headers["Idempotency-Key"]["description"]
    assert "409" in charges["responses"]
    wallet = spec["paths"]["/api/v1/wallets/{org_id}"]["get"]
    assert "Idempotency-Key" not in {p["name"] for p in wallet["parameters"]}  # only where it is honoured
