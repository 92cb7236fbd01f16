"""api.md: unknown fields in a request body are refused with 422 naming the field. Every
write route of the API is asked with one made-up field and ids that do not exist: the body
is checked before anything is looked up, so each answers 422 ``validation_failed`` naming
``junk`` — including the POSTs whose action is named by their path alone (they parse an
empty schema). A new route that forgets to parse its body fails here."""
from __future__ import annotations

import re
from typing import Any

NOT_JSON = {
    "/api/v1/payments/<channel>/notify",  # the gateway's own form, verified by its signature
    "/api/v1/projects/<project_id>/nodes/<node_id>/files",  # multipart: a JSON body is 422 on `file`
    "/api/v1/products/<product_id>/providers",  # a JSON array: an object is 400 malformed_json
}


def write_routes(app: Any) -> list[tuple[str, str]]:
    return sorted((method, rule.rule) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1")
                  and rule.rule not in NOT_JSON for method in rule.methods & {"POST", "PUT", "PATCH"})


def test_every_write_route_refuses_a_field_it_does_not_know(app: Any, platform: Any) -> None:
    routes = write_routes(app)
    assert len(routes) > 60 and ("POST", "/api/v1/relations/<rel_id>/accept") in routes
    wrong = []
    for method, rule in routes:
        path = re.sub(r"<[^>]+>", "x_nothing", rule)
        r = getattr(platform, method.lower())(path, json={"junk": 1})
        body = r.get_json() or {}
        if r.status_code != 422 or "junk" not in body.get("error", {}).get("details", {}):
            wrong.append((method, rule, r.status_code, body.get("error", {}).get("code")))
    assert wrong == [], wrong
