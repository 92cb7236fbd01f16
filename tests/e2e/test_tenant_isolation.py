"""Tenant isolation: a user and an API key of organisation A reach nothing of organisation B.

Every identity route is tried against B's resources, and with B's ids guessed under A's
own path. The answer is 403 or 404, B's data never appears in the body, and B's state
(users, departments, keys, relations, audit log) is unchanged afterwards. Where an id of
B is guessed, the answer must be the same as for an id that does not exist at all, so
the API is no oracle for what exists in other tenants.

A new route: add a ``Route`` to ``ROUTES``; ``test_every_identity_route_is_covered``
fails until one is there.
"""
from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from application.shared.notifications import InboxMessage, InboxRepository
from application.shared.uow import UnitOfWorkFactory
from tests.helpers import NEW_PASSWORD, Api, make_tenant


@dataclasses.dataclass(frozen=True)
class Route:
    method: str
    path: str  # placeholders: {A} {B} {a_user} {a_dep} {b_user} {b_dep} {b_key} {b_rel} {b_msg}
    body: Any = None
    headers: dict[str, str] | None = None
    # an id of B guessed in a path or body: compare with an id that exists nowhere
    guessed: str | None = None
    allowed: tuple[int, ...] = (403, 404)

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}" + (f" {json.dumps(self.body)}" if self.body is not None else "") + (
            " as-B" if self.headers else "")


ACT_AS_B = {"X-Act-As-Org": "{B}"}
MEMBERS_A = {"user_ids": ["{a_user}"]}

ROUTES = [
    # organisation B itself
    Route("GET", "/api/v1/organizations/{B}"),
    Route("PATCH", "/api/v1/organizations/{B}", {"name": "Pwned"}),
    Route("PATCH", "/api/v1/organizations/{B}", {"require_sms_login": True}),
    # B's users
    Route("GET", "/api/v1/organizations/{B}/users"),
    Route("POST", "/api/v1/organizations/{B}/users", {"login": "intruder", "name": "I", "roles": []}),
    Route("GET", "/api/v1/organizations/{B}/users/{b_user}"),
    Route("PATCH", "/api/v1/organizations/{B}/users/{b_user}", {"name": "Pwned"}),
    Route("DELETE", "/api/v1/organizations/{B}/users/{b_user}"),
    Route("POST", "/api/v1/organizations/{B}/users/{b_user}/suspend"),
    Route("POST", "/api/v1/organizations/{B}/users/{b_user}/restore"),
    Route("POST", "/api/v1/organizations/{B}/users/{b_user}/cancel"),
    Route("POST", "/api/v1/organizations/{B}/users/{b_user}/reset-password"),
    # B's departments
    Route("GET", "/api/v1/organizations/{B}/departments"),
    Route("POST", "/api/v1/organizations/{B}/departments", {"name": "Intruders"}),
    Route("PATCH", "/api/v1/organizations/{B}/departments/{b_dep}", {"name": "Pwned"}),
    Route("DELETE", "/api/v1/organizations/{B}/departments/{b_dep}"),
    Route("POST", "/api/v1/organizations/{B}/departments/{b_dep}/members", {"user_ids": ["{b_user}"]}),
    Route("POST", "/api/v1/organizations/{B}/departments/{b_dep}/members/remove", {"user_ids": ["{b_user}"]}),
    Route("PUT", "/api/v1/organizations/{B}/departments/{b_dep}/position",
          {"user_id": "{b_user}", "position": "head"}),
    # B's API keys
    Route("GET", "/api/v1/organizations/{B}/api-keys"),
    Route("POST", "/api/v1/organizations/{B}/api-keys", {"name": "mine now"}),
    Route("DELETE", "/api/v1/organizations/{B}/api-keys/{b_key}"),
    # B's relations
    Route("GET", "/api/v1/organizations/{B}/principals"),
    Route("POST", "/api/v1/organizations/{B}/principals", {"principal_org_id": "{M}"}),
    Route("GET", "/api/v1/organizations/{B}/agencies"),
    Route("GET", "/api/v1/organizations/{B}/providers"),
    Route("POST", "/api/v1/organizations/{B}/providers", {"provider_org_id": "{A}"}),
    Route("POST", "/api/v1/relations/{b_rel}/accept", guessed="b_rel"),
    Route("POST", "/api/v1/relations/{b_rel}/terminate", guessed="b_rel"),
    # B's operation log
    Route("GET", "/api/v1/organizations/{B}/audit-log"),
    Route("GET", "/api/v1/organizations/{B}/audit-log?operation=user.create"),
    # a message of B's user
    Route("POST", "/api/v1/me/messages/{b_msg}/read", guessed="b_msg"),
    # acting for B, which is no principal of A
    Route("GET", "/api/v1/organizations/{B}/users", headers=ACT_AS_B),
    Route("GET", "/api/v1/organizations/{A}/users", headers=ACT_AS_B),
    Route("GET", "/api/v1/me", headers=ACT_AS_B),
    # B's ids guessed under A's own path
    Route("GET", "/api/v1/organizations/{A}/users/{b_user}", guessed="b_user"),
    Route("PATCH", "/api/v1/organizations/{A}/users/{b_user}", {"name": "Pwned"}, guessed="b_user"),
    Route("PATCH", "/api/v1/organizations/{A}/users/{b_user}", {"roles": ["vendor_admin"]}, guessed="b_user"),
    Route("DELETE", "/api/v1/organizations/{A}/users/{b_user}", guessed="b_user"),
    Route("POST", "/api/v1/organizations/{A}/users/{b_user}/suspend", guessed="b_user"),
    Route("POST", "/api/v1/organizations/{A}/users/{b_user}/restore", guessed="b_user"),
    Route("POST", "/api/v1/organizations/{A}/users/{b_user}/cancel", guessed="b_user"),
    Route("POST", "/api/v1/organizations/{A}/users/{b_user}/reset-password", guessed="b_user"),
    Route("PATCH", "/api/v1/organizations/{A}/departments/{b_dep}", {"name": "Pwned"}, guessed="b_dep"),
    Route("DELETE", "/api/v1/organizations/{A}/departments/{b_dep}", guessed="b_dep"),
    Route("POST", "/api/v1/organizations/{A}/departments/{b_dep}/members", MEMBERS_A, guessed="b_dep"),
    Route("POST", "/api/v1/organizations/{A}/departments/{b_dep}/members/remove", MEMBERS_A, guessed="b_dep"),
    Route("PUT", "/api/v1/organizations/{A}/departments/{b_dep}/position",
          {"user_id": "{a_user}", "position": "head"}, guessed="b_dep"),
    Route("POST", "/api/v1/organizations/{A}/departments/{a_dep}/members", {"user_ids": ["{b_user}"]},
          guessed="b_user"),
    Route("POST", "/api/v1/organizations/{A}/departments/{a_dep}/members/remove", {"user_ids": ["{b_user}"]},
          guessed="b_user"),
    Route("PUT", "/api/v1/organizations/{A}/departments/{a_dep}/position",
          {"user_id": "{b_user}", "position": "head"}, guessed="b_user"),
    Route("DELETE", "/api/v1/organizations/{A}/api-keys/{b_key}", guessed="b_key"),
    # B's ids guessed in bodies of A's own requests: refused exactly like an unknown id
    Route("POST", "/api/v1/organizations/{A}/departments", {"name": "Child", "parent_id": "{b_dep}"},
          guessed="b_dep"),
    Route("PATCH", "/api/v1/organizations/{A}/departments/{a_dep}", {"parent_id": "{b_dep}"}, guessed="b_dep"),
    Route("POST", "/api/v1/organizations/{A}/users", {"login": "newbie", "name": "N", "roles": [],
                                                      "department_id": "{b_dep}"},
          guessed="b_dep", allowed=(403, 404, 422)),
    Route("PATCH", "/api/v1/organizations/{A}/users/{a_user}", {"department_id": "{b_dep}"},
          guessed="b_dep", allowed=(403, 404, 422)),
]

# routes whose every use names no other tenant: nothing of B to reach through them
NOT_TENANT_SCOPED = {
    ("POST", "/api/v1/auth/token"), ("POST", "/api/v1/auth/password"), ("POST", "/api/v1/auth/password-resets"),
    ("POST", "/api/v1/auth/password-resets/<challenge_id>/confirm"), ("GET", "/api/v1/me"),
    ("PATCH", "/api/v1/me"), ("GET", "/api/v1/me/messages"), ("POST", "/api/v1/organizations"),
    ("GET", "/api/v1/organizations"), ("POST", "/api/v1/registrations"), ("GET", "/api/v1/roles"),
}


@dataclasses.dataclass
class World:
    platform: Api
    ids: dict[str, str]
    secrets: list[str]  # strings of B that must never show up in A's answers
    a_user_api: Api
    a_key_api: Api

    def fill(self, value: Any, ids: dict[str, str] | None = None) -> Any:
        ids = ids or self.ids
        if isinstance(value, str):
            return value.format(**ids)
        if isinstance(value, list):
            return [self.fill(v, ids) for v in value]
        if isinstance(value, dict):
            return {k: self.fill(v, ids) for k, v in value.items()}
        return value

    def snapshot_b(self) -> dict[str, Any]:
        """Everything of B, as the platform sees it."""
        b, p = self.ids["B"], self.platform
        out = {name: p.get(f"/api/v1/organizations/{b}{suffix}").get_json() for name, suffix in [
            ("org", ""), ("users", "/users?per_page=100"), ("departments", "/departments"),
            ("keys", "/api-keys"), ("principals", "/principals"), ("providers", "/providers"),
            ("audit", "/audit-log?per_page=100")]}
        out["b_user"] = p.get(f"/api/v1/organizations/{b}/users/{self.ids['b_user']}").get_json()
        return out


@pytest.fixture
def world(client: Any, platform: Api, container: Any) -> World:
    a = make_tenant(platform, "Org A", ["vendor", "agency"], "aadmin")
    b = make_tenant(platform, "Org B", ["vendor", "agency"], "badmin")
    ids = {"A": a.org_id, "B": b.org_id}

    r = platform.post("/api/v1/organizations", json={"name": "Corner Shop", "kinds": ["merchant"]})
    ids["M"] = r.get_json()["id"]
    r = platform.post("/api/v1/organizations", json={"name": "Fixers", "kinds": ["provider"]})
    provider = r.get_json()["id"]
    assert platform.post(f"/api/v1/organizations/{b.org_id}/providers",
                         json={"provider_org_id": provider}).status_code == 201

    for side, tenant in (("a", a), ("b", b)):
        org = tenant.org_id
        r = tenant.api.post(f"/api/v1/organizations/{org}/departments", json={"name": f"{side.upper()} Secret Dept"})
        assert r.status_code == 201, r.get_json()
        ids[f"{side}_dep"] = r.get_json()["id"]
        r = tenant.api.post(f"/api/v1/organizations/{org}/users",
                            json={"login": f"{side}worker", "name": f"{side.upper()} Worker", "roles": ["engineer"],
                                  "department_id": ids[f"{side}_dep"],
                                  "phone": "1380013800" + ("1" if side == "a" else "2")})
        assert r.status_code == 201, r.get_json()
        ids[f"{side}_user"] = r.get_json()["id"]
        r = tenant.api.post(f"/api/v1/organizations/{org}/api-keys", json={"name": f"{side} key"})
        assert r.status_code == 201
        ids[f"{side}_key"] = r.get_json()["id"]
        ids[f"{side}_key_secret"] = r.get_json()["key"]
        ids[f"{side}_key_prefix"] = r.get_json()["prefix"]

    r = b.api.post(f"/api/v1/organizations/{b.org_id}/principals", json={"principal_org_id": ids["M"]})
    assert r.status_code == 201, r.get_json()
    ids["b_rel"] = r.get_json()["id"]

    with container.get(UnitOfWorkFactory)() as uow:
        uow.repo(InboxRepository).add(InboxMessage(id="msg_b_secret_1", user_id=ids["b_user"], title="for B only",
                                                   body="B's secret message", created_at=datetime.now(UTC)))
        uow.commit()
    ids["b_msg"] = "msg_b_secret_1"

    b_admin_id = b.api.get("/api/v1/me").get_json()["user"]["id"]
    secrets = [ids["B"], ids["b_user"], ids["b_dep"], ids["b_key"], ids["b_key_prefix"], ids["b_key_secret"],
               ids["b_rel"], b_admin_id, "badmin", "bworker", "B Worker", "B Secret Dept", "Org B",
               "+8613800138002", "B's secret message"]
    return World(platform, ids, secrets, a.api, Api(client, ids["a_key_secret"]))


def _call(api: Api, method: str, path: str, body: Any, headers: dict[str, str] | None) -> Any:
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["json"] = body
    return getattr(api, method.lower())(path, **kwargs)


@pytest.mark.parametrize("who", ["user", "api_key"])
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.id)
def test_a_cannot_reach_b(world: World, route: Route, who: str) -> None:
    api = world.a_user_api if who == "user" else world.a_key_api
    before = world.snapshot_b()
    path, body, headers = world.fill(route.path), world.fill(route.body), world.fill(route.headers)

    r = _call(api, route.method, path, body, headers)

    assert r.status_code in route.allowed, (r.status_code, r.get_json())
    text = r.get_data(as_text=True)
    leaked = [s for s in world.secrets if s in text]
    assert not leaked, f"B's data in the answer: {leaked}: {text}"
    assert set(r.get_json()) == {"error"} and r.get_json()["error"]["code"]
    assert world.snapshot_b() == before, "B changed"

    if route.guessed:
        # the same request with an id that exists nowhere answers the same: no existence oracle
        unknown = dict(world.ids, **{route.guessed: route.guessed.split("_")[-1] + "_doesnotexist0000000000"})
        r2 = _call(api, route.method, world.fill(route.path, unknown), world.fill(route.body, unknown),
                   world.fill(route.headers, unknown))
        assert (r2.status_code, r2.get_json()["error"]["code"]) == (r.status_code, r.get_json()["error"]["code"])


@pytest.mark.parametrize("who", ["user", "api_key"])
def test_lists_of_a_hold_only_a(world: World, who: str) -> None:
    api = world.a_user_api if who == "user" else world.a_key_api
    a = world.ids["A"]
    for path in ("/api/v1/organizations", "/api/v1/organizations?kind=vendor", "/api/v1/organizations?name=Org",
                 f"/api/v1/organizations/{a}/users?per_page=100", f"/api/v1/organizations/{a}/departments",
                 f"/api/v1/organizations/{a}/api-keys", f"/api/v1/organizations/{a}/principals",
                 f"/api/v1/organizations/{a}/audit-log?per_page=100", "/api/v1/me", "/api/v1/me/messages"):
        r = api.get(path)
        assert r.status_code == 200, (path, r.get_json())
        text = r.get_data(as_text=True)
        assert not [s for s in world.secrets if s in text], (path, text)
    orgs = api.get("/api/v1/organizations").get_json()
    assert [o["id"] for o in orgs["items"]] == [a] and orgs["total"] == 1
    users = api.get(f"/api/v1/organizations/{a}/users").get_json()["items"]
    assert sorted(u["login"] for u in users) == ["aadmin", "aworker"]


def test_b_still_works_for_b(world: World, client: Any) -> None:
    """The guard is not simply 'everything refused': B's own admin reaches what A could not."""
    b_api = Api(client).login("badmin", NEW_PASSWORD)
    b = world.ids["B"]
    assert b_api.get(f"/api/v1/organizations/{b}/users/{world.ids['b_user']}").status_code == 200
    assert Api(client, world.ids["b_key_secret"]).get(f"/api/v1/organizations/{b}/api-keys").status_code == 200


def test_every_identity_route_is_covered(app: Any) -> None:
    """A new identity route must be added to ROUTES (or to NOT_TENANT_SCOPED)."""
    covered = {(r.method, r.path) for r in ROUTES}
    covered_rules = set()
    for method, path in covered:
        rule = path.split("?")[0]
        for name in ("A", "B"):
            rule = rule.replace("{" + name + "}", "<org_id>")
        rule = (rule.replace("{b_user}", "<user_id>").replace("{a_user}", "<user_id>")
                .replace("{b_dep}", "<dep_id>").replace("{a_dep}", "<dep_id>").replace("{b_key}", "<key_id>")
                .replace("{b_rel}", "<rel_id>").replace("{b_msg}", "<message_id>"))
        covered_rules.add((method, rule))
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("identity."):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if (method, rule.rule) not in covered_rules and (method, rule.rule) not in NOT_TENANT_SCOPED:
                missing.append(f"{method} {rule.rule}")
    assert not missing, f"add these routes to ROUTES in {__name__}: {missing}"
