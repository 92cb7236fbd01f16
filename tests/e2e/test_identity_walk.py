"""The identity walk of the foundation issue, end to end through the CLI and the HTTP API.

``agora admin create`` -> token -> vendor organisation and its admin -> first login with
the one-time password -> forced change -> department -> employee with a role -> API key
-> calls with that key; then the user life cycle, self-registration and role limits.
"""
from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from entrypoints.cli import main as agora
from tests.helpers import NEW_PASSWORD, Api, Tenant

ROOT_PASSWORD = "Root12345pw"
COMPANY_NO = "91310115MA1K3YJ12X"  # a well-formed unified social credit code
ID_CARD_NO = "11010519491231002X"  # a well-formed resident ID card number


def err(r: Any) -> str:
    return r.get_json()["error"]["code"]  # type: ignore[no-any-return]


def first_login(client: Any, login: str, otp: str, new_password: str = NEW_PASSWORD) -> Api:
    """Log in with a one-time password, change it, log in again."""
    r = client.post("/api/v1/auth/token", json={"login": login, "password": otp})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["must_change_password"] is True
    once = Api(client, r.get_json()["access_token"])
    r = once.post("/api/v1/auth/password", json={"old_password": otp, "new_password": new_password})
    assert r.status_code == 204, r.get_json()
    return Api(client).login(login, new_password)


def add_user(admin: Api, org_id: str, login: str, roles: list[str], **extra: Any) -> dict[str, Any]:
    r = admin.post(f"/api/v1/organizations/{org_id}/users",
                   json={"login": login, "name": login.title(), "roles": roles, **extra})
    assert r.status_code == 201, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def test_walk_from_cli_admin_to_api_key(client: Any, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # 1. the first platform admin, created by the CLI against the test database
    monkeypatch.setenv("AGORA_DATABASE_URL", db_url)
    # a production set-up names its gateway before its keys are in place: creating the
    # first admin needs only the database
    monkeypatch.setenv("AGORA_PAYMENT", "alipay")
    result = CliRunner().invoke(agora, ["admin", "create", "--login", "root", "--password", ROOT_PASSWORD])
    assert result.exit_code == 0, result.output
    created = json.loads(result.output.strip().splitlines()[-1])
    assert created["login"] == "root" and created["id"].startswith("usr") and created["org_id"]

    again = CliRunner().invoke(agora, ["admin", "create", "--login", "root", "--password", ROOT_PASSWORD])
    assert again.exit_code != 0 and "login_taken" in again.output

    weak = CliRunner().invoke(agora, ["admin", "create", "--login", "root2", "--password", "short"])
    assert weak.exit_code != 0 and "weak_password" in weak.output

    # 2. token
    r = client.post("/api/v1/auth/token", json={"login": "root", "password": ROOT_PASSWORD})
    assert r.status_code == 200, r.get_json()
    tok = r.get_json()
    assert tok["token_type"] == "Bearer" and tok["expires_in"] > 0 and tok["must_change_password"] is False
    root = Api(client, tok["access_token"])
    me = root.get("/api/v1/me").get_json()
    assert me["user"]["login"] == "root" and me["organization"]["id"] == created["org_id"]
    assert me["roles"] == ["platform_admin"] and "platform.orgs.manage" in me["permissions"]

    # 3. a vendor organisation and its admin
    r = root.post("/api/v1/organizations", json={"name": "Cloud Vendor", "kinds": ["vendor"],
                                                 "registration": {"type": "company", "number": COMPANY_NO}})
    assert r.status_code == 201, r.get_json()
    vendor = r.get_json()
    assert vendor["id"].startswith("org") and vendor["kinds"] == ["provider", "vendor"]
    assert vendor["registration"] == {"type": "company", "number": COMPANY_NO}
    r = root.post("/api/v1/organizations", json={"name": "Copy", "kinds": ["vendor"],
                                                 "registration": {"type": "company", "number": COMPANY_NO}})
    assert r.status_code == 409 and err(r) == "registration_taken"

    r = root.post(f"/api/v1/organizations/{vendor['id']}/users",
                  json={"login": "vadmin", "name": "Vendor Admin", "phone": "13800138001", "roles": []})
    assert r.status_code == 201, r.get_json()
    vadmin = r.get_json()
    otp = vadmin["one_time_password"]
    assert len(otp) == 8 and any(c.isdigit() for c in otp) and any(c.isalpha() for c in otp)
    assert vadmin["must_change_password"] is True
    assert vadmin["phone"] == "+8613800138001"
    assert set(vadmin["roles"]) == {"vendor_admin", "provider_admin"}  # the first user is the admin
    listed = root.get(f"/api/v1/organizations/{vendor['id']}/users").get_json()
    assert [u["login"] for u in listed["items"]] == ["vadmin"]
    assert "one_time_password" not in listed["items"][0] and "password_hash" not in listed["items"][0]

    # 4. first login with the one-time password: only /me and the password change are open
    r = client.post("/api/v1/auth/token", json={"login": "vadmin", "password": otp})
    assert r.status_code == 200 and r.get_json()["must_change_password"] is True
    once = Api(client, r.get_json()["access_token"])
    me = once.get("/api/v1/me")
    assert me.status_code == 200 and me.get_json()["user"]["must_change_password"] is True
    for blocked in (once.get(f"/api/v1/organizations/{vendor['id']}/users"),
                    once.post(f"/api/v1/organizations/{vendor['id']}/departments", json={"name": "X"}),
                    once.get(f"/api/v1/organizations/{vendor['id']}")):
        assert blocked.status_code == 403 and err(blocked) == "password_change_required"

    # 5. forced password change; the one-time token stops working
    r = once.post("/api/v1/auth/password", json={"old_password": otp, "new_password": otp})
    assert r.status_code == 422 and err(r) == "weak_password"
    r = once.post("/api/v1/auth/password", json={"old_password": "wrong-one1", "new_password": NEW_PASSWORD})
    assert r.status_code == 401 and err(r) == "invalid_credentials"
    r = once.post("/api/v1/auth/password", json={"old_password": otp, "new_password": NEW_PASSWORD})
    assert r.status_code == 204
    r = once.get("/api/v1/me")
    assert r.status_code == 401 and err(r) == "invalid_token"
    r = client.post("/api/v1/auth/token", json={"login": "vadmin", "password": otp})
    assert r.status_code == 401 and err(r) == "invalid_credentials"
    r = client.post("/api/v1/auth/token", json={"login": "vadmin", "password": NEW_PASSWORD})
    assert r.status_code == 200 and r.get_json()["must_change_password"] is False
    admin = Api(client, r.get_json()["access_token"])
    # logging in by phone works too, written as the user would type it
    r = client.post("/api/v1/auth/token", json={"login": "13800138001", "password": NEW_PASSWORD})
    assert r.status_code == 200, r.get_json()

    # 6. a department
    r = admin.post(f"/api/v1/organizations/{vendor['id']}/departments", json={"name": "Delivery"})
    assert r.status_code == 201, r.get_json()
    dep = r.get_json()
    assert dep["name"] == "Delivery" and dep["parent_id"] is None and dep["org_id"] == vendor["id"]

    # 7. an employee with a role in that department
    emp = add_user(admin, vendor["id"], "alice", ["engineer"], department_id=dep["id"], phone="13800138002")
    assert emp["roles"] == ["engineer"] and emp["department_id"] == dep["id"]
    alice = first_login(client, "alice", emp["one_time_password"], "Alice12345")
    me = alice.get("/api/v1/me").get_json()
    assert me["roles"] == ["engineer"] and me["permissions"] == ["workflow.nodes.work"]
    r = alice.get(f"/api/v1/organizations/{vendor['id']}/users")
    assert r.status_code == 403 and err(r) == "permission_denied"

    # 8. an API key, shown once
    r = admin.post(f"/api/v1/organizations/{vendor['id']}/api-keys", json={"name": "billing server"})
    assert r.status_code == 201, r.get_json()
    issued = r.get_json()
    key = issued["key"]
    assert key.startswith(f"agk_{issued['prefix']}_") and issued["active"] is True
    keys = admin.get(f"/api/v1/organizations/{vendor['id']}/api-keys").get_json()["items"]
    assert [k["prefix"] for k in keys] == [issued["prefix"]] and "key" not in keys[0]
    assert key not in json.dumps(keys)

    # 9. calls with that key
    bot = Api(client, key)
    r = bot.get("/api/v1/me")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["user"] is None and r.get_json()["organization"]["id"] == vendor["id"]
    r = bot.get(f"/api/v1/organizations/{vendor['id']}/users")
    assert r.status_code == 200
    assert sorted(u["login"] for u in r.get_json()["items"]) == ["alice", "vadmin"]
    assert r.get_json()["total"] == 2
    r = bot.get(f"/api/v1/organizations/{vendor['id']}/departments")
    assert [d["id"] for d in r.get_json()["items"]] == [dep["id"]]
    r = bot.patch("/api/v1/me", json={"email": "bot@example.com"})  # a key is no user
    assert r.status_code == 403 and err(r) == "permission_denied"

    # 10. a revoked key gets 401
    r = admin.delete(f"/api/v1/organizations/{vendor['id']}/api-keys/{issued['id']}")
    assert r.status_code == 200 and r.get_json()["active"] is False and r.get_json()["revoked_at"]
    r = bot.get("/api/v1/me")
    assert r.status_code == 401 and err(r) == "invalid_credentials"
    r = admin.delete(f"/api/v1/organizations/{vendor['id']}/api-keys/{issued['id']}")
    assert r.status_code == 409 and err(r) == "already_revoked"
    r = Api(client, key[:-2] + "xx").get("/api/v1/me")
    assert r.status_code == 401
    r = client.get("/api/v1/me")
    assert r.status_code == 401 and err(r) == "missing_credentials"

    # the operation log holds the walk
    ops = [a["operation"] for a in admin.get(
        f"/api/v1/organizations/{vendor['id']}/audit-log?per_page=100").get_json()["items"]]
    for op in ("user.create", "department.create", "api_key.issue", "api_key.revoke"):
        assert op in ops


@pytest.fixture
def vendor(tenant_factory: Any) -> Tenant:
    return tenant_factory("Vendor", ["vendor"], "vadmin")  # type: ignore[no-any-return]


@pytest.mark.parametrize("action", ["suspend", "cancel", "delete"])
def test_disabled_users_cannot_log_in(client: Any, vendor: Tenant, action: str) -> None:
    org = vendor.org_id
    bob = add_user(vendor.api, org, "bob", ["engineer"])
    bob_api = first_login(client, "bob", bob["one_time_password"])
    assert bob_api.get("/api/v1/me").status_code == 200

    if action == "delete":
        r = vendor.api.delete(f"/api/v1/organizations/{org}/users/{bob['id']}")
    else:
        r = vendor.api.post(f"/api/v1/organizations/{org}/users/{bob['id']}/{action}")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == {"suspend": "suspended", "cancel": "cancelled", "delete": "deleted"}[action]

    r = client.post("/api/v1/auth/token", json={"login": "bob", "password": NEW_PASSWORD})
    assert r.status_code == 401 and err(r) == "account_disabled"
    assert "access_token" not in r.get_json()
    r = bob_api.get("/api/v1/me")  # the token issued before stops working too
    assert r.status_code == 401 and err(r) == "account_disabled"


def test_restore_and_cancel_transitions(client: Any, vendor: Tenant) -> None:
    org, admin = vendor.org_id, vendor.api
    bob = add_user(admin, org, "bob", ["engineer"])
    first_login(client, "bob", bob["one_time_password"])
    url = f"/api/v1/organizations/{org}/users/{bob['id']}"

    r = admin.post(f"{url}/restore")  # restoring an active user is a wrong transition
    assert r.status_code == 409 and err(r) == "invalid_status_transition"
    assert admin.post(f"{url}/suspend").get_json()["status"] == "suspended"
    assert admin.post(f"{url}/restore").get_json()["status"] == "active"
    r = client.post("/api/v1/auth/token", json={"login": "bob", "password": NEW_PASSWORD})
    assert r.status_code == 200, r.get_json()

    assert admin.post(f"{url}/cancel").get_json()["status"] == "cancelled"
    r = admin.post(f"{url}/restore")
    assert r.status_code == 409 and err(r) == "invalid_status_transition"
    assert r.get_json()["error"]["details"] == {"status": "cancelled", "to": "active"}
    r = admin.post(f"{url}/suspend")
    assert r.status_code == 409 and err(r) == "invalid_status_transition"
    assert admin.get(url).get_json()["status"] == "cancelled"  # history stays

    # a deleted user is gone from the lists and from GET
    assert admin.delete(url).get_json()["status"] == "deleted"
    assert admin.get(url).status_code == 404
    logins = [u["login"] for u in admin.get(f"/api/v1/organizations/{org}/users").get_json()["items"]]
    assert logins == ["vadmin"]

    me = admin.get("/api/v1/me").get_json()["user"]["id"]
    r = admin.post(f"/api/v1/organizations/{org}/users/{me}/suspend")
    assert r.status_code == 409 and err(r) == "cannot_change_self"


def test_admin_reset_gives_a_new_one_time_password(client: Any, vendor: Tenant) -> None:
    org, admin = vendor.org_id, vendor.api
    bob = add_user(admin, org, "bob", ["engineer"])
    bob_api = first_login(client, "bob", bob["one_time_password"])

    r = admin.post(f"/api/v1/organizations/{org}/users/{bob['id']}/reset-password")
    assert r.status_code == 200, r.get_json()
    otp = r.get_json()["one_time_password"]
    assert len(otp) == 8 and otp != bob["one_time_password"] and r.get_json()["must_change_password"] is True

    assert bob_api.get("/api/v1/me").status_code == 401  # the old session ends
    r = client.post("/api/v1/auth/token", json={"login": "bob", "password": NEW_PASSWORD})
    assert r.status_code == 401 and err(r) == "invalid_credentials"
    again = first_login(client, "bob", otp, "Another12345")
    assert again.get("/api/v1/me").get_json()["user"]["must_change_password"] is False


def test_self_registration_makes_a_customer_with_an_admin(client: Any) -> None:
    payload: dict[str, Any] = {"name": "Zhang San Studio", "registration": {"type": "individual", "number": ID_CARD_NO},
               "admin": {"login": "zhangsan", "name": "Zhang San", "phone": "13900139000",
                         "password": "Zhang12345", "email": "zs@example.com"}}
    r = client.post("/api/v1/registrations", json=payload)
    assert r.status_code == 201, r.get_json()
    out = r.get_json()
    assert out["organization"]["kinds"] == ["customer"]
    assert out["organization"]["registration"] == {"type": "individual", "number": ID_CARD_NO}
    assert out["user"]["login"] == "zhangsan" and out["roles"] == ["customer_admin"]
    assert "password" not in json.dumps(out).replace("must_change_password", "")

    user = Api(client).login("zhangsan", "Zhang12345")
    me = user.get("/api/v1/me").get_json()
    assert me["roles"] == ["customer_admin"] and me["organization"]["id"] == out["organization"]["id"]
    assert me["user"]["must_change_password"] is False
    org = out["organization"]["id"]
    assert user.post(f"/api/v1/organizations/{org}/departments", json={"name": "Buyers"}).status_code == 201

    r = client.post("/api/v1/registrations", json={**payload, "admin": {**payload["admin"], "login": "other1",
                                                                        "phone": "13900139001"}})
    assert r.status_code == 409 and err(r) == "registration_taken"
    r = client.post("/api/v1/registrations", json={**payload, "registration": {"type": "individual",
                                                                               "number": "123"}})
    assert r.status_code == 422 and "registration.number" in r.get_json()["error"]["details"]
    r = client.post("/api/v1/registrations", json={**payload, "kinds": ["platform"]})
    assert r.status_code == 422 and r.get_json()["error"]["details"] == {"kinds": ["Unknown field."]}


def test_a_user_without_a_role_can_do_nothing(client: Any, vendor: Tenant) -> None:
    org = vendor.org_id
    nobody = add_user(vendor.api, org, "nobody", [])
    assert nobody["roles"] == []
    api = first_login(client, "nobody", nobody["one_time_password"])
    assert api.get("/api/v1/me").get_json()["permissions"] == []
    for r in (api.post(f"/api/v1/organizations/{org}/departments", json={"name": "X"}),
              api.get(f"/api/v1/organizations/{org}/users"),
              api.post(f"/api/v1/organizations/{org}/api-keys", json={})):
        assert r.status_code == 403 and err(r) == "no_role", r.get_json()

    r = vendor.api.patch(f"/api/v1/organizations/{org}/users/{nobody['id']}", json={"roles": ["provider_admin"]})
    assert r.status_code == 200 and r.get_json()["roles"] == ["provider_admin"]
    assert api.post(f"/api/v1/organizations/{org}/departments", json={"name": "X"}).status_code == 201


def test_agency_admin_manages_employees_not_owners(client: Any, tenant_factory: Any) -> None:
    agency = tenant_factory("Agency", ["agency"], "owner")
    org = agency.org_id
    assert agency.api.get("/api/v1/me").get_json()["roles"] == ["agency_owner"]
    adm = add_user(agency.api, org, "agadmin", ["agency_admin"])
    admin = first_login(client, "agadmin", adm["one_time_password"])

    for roles in (["agency_owner"], ["agency_admin"], ["agency_employee", "agency_owner"]):
        r = admin.post(f"/api/v1/organizations/{org}/users", json={"login": "boss2", "name": "B", "roles": roles})
        assert r.status_code == 403 and err(r) == "permission_denied", r.get_json()
    r = admin.post(f"/api/v1/organizations/{org}/users", json={"login": "emp1", "name": "E", "roles":
                                                               ["agency_employee"]})
    assert r.status_code == 201, r.get_json()
    emp_id = r.get_json()["id"]
    owner_id = agency.api.get("/api/v1/me").get_json()["user"]["id"]

    # nor promote an employee, nor touch the owner
    r = admin.patch(f"/api/v1/organizations/{org}/users/{emp_id}", json={"roles": ["agency_owner"]})
    assert r.status_code == 403 and err(r) == "permission_denied"
    for r in (admin.post(f"/api/v1/organizations/{org}/users/{owner_id}/suspend"),
              admin.post(f"/api/v1/organizations/{org}/users/{owner_id}/reset-password"),
              admin.patch(f"/api/v1/organizations/{org}/users/{owner_id}", json={"name": "X"})):
        assert r.status_code == 403 and err(r) == "permission_denied", r.get_json()
    assert admin.post(f"/api/v1/organizations/{org}/users/{emp_id}/suspend").get_json()["status"] == "suspended"
    # the owner may create another owner
    assert agency.api.post(f"/api/v1/organizations/{org}/users",
                           json={"login": "boss2", "name": "B", "roles": ["agency_owner"]}).status_code == 201


def test_roles_must_fit_the_organisation(vendor: Tenant) -> None:
    r = vendor.api.post(f"/api/v1/organizations/{vendor.org_id}/users",
                        json={"login": "plat", "name": "P", "roles": ["platform_admin"]})
    assert r.status_code == 422 and err(r) == "role_not_allowed"
    r = vendor.api.post(f"/api/v1/organizations/{vendor.org_id}/users",
                        json={"login": "x", "name": "P", "roles": []})
    assert r.status_code == 422
    r = vendor.api.post("/api/v1/organizations", json={"name": "Mine", "kinds": ["vendor"]})
    assert r.status_code == 403 and err(r) == "permission_denied"


def test_nul_characters_are_refused_not_crashing(client: Any, vendor: Tenant) -> None:
    """PostgreSQL cannot store NUL: every input with one is refused before the database."""
    org = vendor.org_id
    r = vendor.api.post(f"/api/v1/organizations/{org}/departments", json={"name": "Bad\x00name"})
    assert r.status_code == 422 and r.get_json()["error"]["details"] == {"name": ["must not contain NUL characters"]}
    r = vendor.api.post(f"/api/v1/organizations/{org}/departments/{org}/members", json={"user_ids": ["usr\x00"]})
    assert r.status_code == 422
    assert r.get_json()["error"]["details"] == {"user_ids": ["must not contain NUL characters"]}
    r = vendor.api.get(f"/api/v1/organizations/{org}/users?q=a%00b")
    assert r.status_code == 422 and "q" in r.get_json()["error"]["details"]
    r = vendor.api.get(f"/api/v1/organizations/{org}/users/usr%00x")
    assert r.status_code == 404 and err(r) == "not_found"
    r = client.post("/api/v1/auth/token", json={"login": "vadmin\x00", "password": "x"})
    assert r.status_code == 422
    r = Api(client, "agk_\x00bcdef12345_tail").get("/api/v1/me")
    assert r.status_code == 401 and err(r) == "invalid_credentials"


def test_self_registration_is_rate_limited_per_address(client):
    """A public endpoint: the 21st registration attempt in an hour from one address is refused."""
    from application.identity.services import REGISTRATIONS_PER_IP

    def attempt(i: int):
        return client.post("/api/v1/registrations", json={
            "name": f"Self {i}", "registration": {"type": "company", "number": f"91110000{i:010d}"},
            "admin": {"login": f"self{i}", "name": "Self", "phone": f"+86139{i:08d}", "password": "Secret12345"}})

    for i in range(REGISTRATIONS_PER_IP):
        r = attempt(i)
        assert r.status_code == 201, r.get_json()
    r = attempt(REGISTRATIONS_PER_IP)
    assert r.status_code == 429
    assert r.get_json()["error"]["code"] == "registration_rate_limited"
    assert r.headers["Retry-After"] == "3600"
