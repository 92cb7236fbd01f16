"""Department tree, members and positions; agency -> principal and vendor -> provider
relations; acting for a principal; the operation log filtered by operation."""
from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import NEW_PASSWORD, Api, Tenant


def err(r: Any) -> str:
    return r.get_json()["error"]["code"]  # type: ignore[no-any-return]


class Org:
    """Shortcuts for one organisation's identity endpoints."""

    def __init__(self, tenant: Tenant) -> None:
        self.id, self.api = tenant.org_id, tenant.api
        self.base = f"/api/v1/organizations/{tenant.org_id}"

    def dep(self, name: str, parent_id: str | None = None) -> str:
        r = self.api.post(f"{self.base}/departments", json={"name": name, "parent_id": parent_id})
        assert r.status_code == 201, r.get_json()
        assert r.get_json()["parent_id"] == parent_id
        return r.get_json()["id"]  # type: ignore[no-any-return]

    def user(self, login: str, roles: list[str] | None = None) -> str:
        r = self.api.post(f"{self.base}/users", json={"login": login, "name": login.title(),
                                                      "roles": roles or ["engineer"]})
        assert r.status_code == 201, r.get_json()
        return r.get_json()["id"]  # type: ignore[no-any-return]

    def tree(self) -> dict[str, str | None]:
        return {d["name"]: d["parent_id"] for d in self.api.get(f"{self.base}/departments").get_json()["items"]}

    def member(self, user_id: str) -> dict[str, Any]:
        return self.api.get(f"{self.base}/users/{user_id}").get_json()  # type: ignore[no-any-return]

    def members(self, dep_id: str) -> dict[str, str | None]:
        items = self.api.get(f"{self.base}/users?department_id={dep_id}&per_page=100").get_json()["items"]
        return {u["login"]: u["position"] for u in items}


@pytest.fixture
def vendor(tenant_factory: Any) -> Org:
    return Org(tenant_factory("Vendor", ["vendor"], "vadmin"))


# -- departments --------------------------------------------------------------------------

def test_department_tree_child_move_cycle_delete(vendor: Org) -> None:
    hq = vendor.dep("HQ")
    sales = vendor.dep("Sales", hq)
    east = vendor.dep("East", sales)
    assert vendor.tree() == {"HQ": None, "Sales": hq, "East": sales}

    r = vendor.api.patch(f"{vendor.base}/departments/{east}", json={"parent_id": hq, "name": "East China"})
    assert r.status_code == 200 and r.get_json()["parent_id"] == hq and r.get_json()["name"] == "East China"
    r = vendor.api.patch(f"{vendor.base}/departments/{east}", json={"name": "East"})  # rename keeps the parent
    assert r.get_json()["parent_id"] == hq

    for parent in (sales, hq):  # under its own child, or its own grandchild: a cycle
        r = vendor.api.patch(f"{vendor.base}/departments/{hq}", json={"parent_id": parent})
        assert r.status_code == 422 and err(r) == "department_cycle", r.get_json()
    vendor.api.patch(f"{vendor.base}/departments/{sales}", json={"parent_id": east})  # HQ > East > Sales
    r = vendor.api.patch(f"{vendor.base}/departments/{hq}", json={"parent_id": sales})
    assert r.status_code == 422 and err(r) == "department_cycle"
    r = vendor.api.patch(f"{vendor.base}/departments/{east}", json={"parent_id": east})
    assert r.status_code == 422 and err(r) == "department_cycle"
    assert vendor.tree() == {"HQ": None, "Sales": east, "East": hq}

    r = vendor.api.patch(f"{vendor.base}/departments/{sales}", json={"parent_id": None})  # to the top
    assert r.status_code == 200 and r.get_json()["parent_id"] is None

    r = vendor.api.post(f"{vendor.base}/departments", json={"name": "Orphan", "parent_id": "dep_nope"})
    assert r.status_code == 404 and err(r) == "department_not_found"

    # delete: not while it has children or members
    r = vendor.api.delete(f"{vendor.base}/departments/{hq}")
    assert r.status_code == 409 and err(r) == "department_not_empty" and "sub-departments" in r.get_json()[
        "error"]["message"]
    bob = vendor.user("bob")
    vendor.api.post(f"{vendor.base}/departments/{east}/members", json={"user_ids": [bob]})
    r = vendor.api.delete(f"{vendor.base}/departments/{east}")
    assert r.status_code == 409 and err(r) == "department_not_empty" and "members" in r.get_json()[
        "error"]["message"]
    vendor.api.post(f"{vendor.base}/departments/{east}/members/remove", json={"user_ids": [bob]})
    assert vendor.api.delete(f"{vendor.base}/departments/{east}").status_code == 204
    assert vendor.api.delete(f"{vendor.base}/departments/{hq}").status_code == 204
    assert vendor.tree() == {"Sales": None}
    r = vendor.api.delete(f"{vendor.base}/departments/{hq}")
    assert r.status_code == 404 and err(r) == "department_not_found"


def test_bulk_members(vendor: Org) -> None:
    ops, dev = vendor.dep("Ops"), vendor.dep("Dev")
    u1, u2, u3 = vendor.user("uno"), vendor.user("dos"), vendor.user("tres")

    r = vendor.api.post(f"{vendor.base}/departments/{ops}/members", json={"user_ids": [u1, u2, u3, u1]})
    assert r.status_code == 200 and r.get_json() == {"changed": 3}
    assert vendor.members(ops) == {"uno": None, "dos": None, "tres": None}

    # adding moves a member from its department
    assert vendor.api.post(f"{vendor.base}/departments/{dev}/members", json={"user_ids": [u3]}).status_code == 200
    assert set(vendor.members(ops)) == {"uno", "dos"} and set(vendor.members(dev)) == {"tres"}

    # all or nothing: one unknown id and nobody moves
    r = vendor.api.post(f"{vendor.base}/departments/{dev}/members", json={"user_ids": [u1, "usr_nope"]})
    assert r.status_code == 404 and err(r) == "user_not_found"
    assert vendor.member(u1)["department_id"] == ops

    # removing skips those who are not members
    r = vendor.api.post(f"{vendor.base}/departments/{ops}/members/remove", json={"user_ids": [u1, u2, u3]})
    assert r.status_code == 200 and r.get_json() == {"changed": 2}
    assert vendor.members(ops) == {} and vendor.member(u1)["department_id"] is None
    assert vendor.member(u3)["department_id"] == dev

    r = vendor.api.post(f"{vendor.base}/departments/{ops}/members", json={"user_ids": []})
    assert r.status_code == 422 and "user_ids" in r.get_json()["error"]["details"]


def test_head_and_deputy(vendor: Org) -> None:
    ops, dev = vendor.dep("Ops"), vendor.dep("Dev")
    u1, u2, u3 = vendor.user("uno"), vendor.user("dos"), vendor.user("tres")
    vendor.api.post(f"{vendor.base}/departments/{ops}/members", json={"user_ids": [u1, u2, u3]})
    pos = f"{vendor.base}/departments/{ops}/position"

    r = vendor.api.put(pos, json={"user_id": u1, "position": "head"})
    assert r.status_code == 200 and r.get_json()["position"] == "head"
    assert vendor.api.put(pos, json={"user_id": u2, "position": "deputy"}).status_code == 200
    assert vendor.members(ops) == {"uno": "head", "dos": "deputy", "tres": None}

    # a new head replaces the old; the deputy who becomes head holds one position only
    assert vendor.api.put(pos, json={"user_id": u2, "position": "head"}).get_json()["position"] == "head"
    assert vendor.members(ops) == {"uno": None, "dos": "head", "tres": None}
    assert vendor.api.put(pos, json={"user_id": u3, "position": "deputy"}).status_code == 200
    assert vendor.api.put(pos, json={"user_id": u1, "position": "deputy"}).status_code == 200
    assert vendor.members(ops) == {"uno": "deputy", "dos": "head", "tres": None}
    assert vendor.api.put(pos, json={"user_id": u1, "position": None}).get_json()["position"] is None
    assert vendor.members(ops) == {"uno": None, "dos": "head", "tres": None}

    # only members hold positions; leaving the department ends the position
    outsider = vendor.user("outsider")
    r = vendor.api.put(pos, json={"user_id": outsider, "position": "head"})
    assert r.status_code == 409 and err(r) == "not_a_member"
    r = vendor.api.put(pos, json={"user_id": u3, "position": "boss"})
    assert r.status_code == 422 and "position" in r.get_json()["error"]["details"]
    vendor.api.post(f"{vendor.base}/departments/{dev}/members", json={"user_ids": [u2]})
    assert vendor.member(u2)["position"] is None and vendor.member(u2)["department_id"] == dev
    assert vendor.members(ops) == {"uno": None, "tres": None}


# -- agency -> principal -----------------------------------------------------------------------

@pytest.fixture
def agency(tenant_factory: Any) -> Org:
    return Org(tenant_factory("Channel Agency", ["agency"], "owner"))


@pytest.fixture
def merchant(tenant_factory: Any) -> Org:
    return Org(tenant_factory("Corner Shop", ["merchant"], "shop"))


def test_principal_invite_accept_act_terminate(client: Any, agency: Org, merchant: Org, vendor: Org) -> None:
    act = {"X-Act-As-Org": merchant.id}
    r = agency.api.post(f"{agency.base}/principals", json={"principal_org_id": merchant.id})
    assert r.status_code == 201, r.get_json()
    rel = r.get_json()
    assert (rel["kind"], rel["from_org_id"], rel["to_org_id"], rel["status"]) == (
        "agency_principal", agency.id, merchant.id, "invited")
    r = agency.api.post(f"{agency.base}/principals", json={"principal_org_id": merchant.id})
    assert r.status_code == 409 and err(r) == "relation_exists"
    r = agency.api.post(f"{agency.base}/principals", json={"principal_org_id": vendor.id})
    assert r.status_code == 422 and err(r) == "not_a_merchant"
    r = vendor.api.post(f"{vendor.base}/principals", json={"principal_org_id": merchant.id})
    assert r.status_code == 403

    # not yet authorised: acting for the merchant is refused as if it did not exist
    r = agency.api.get("/api/v1/me", headers=act)
    assert r.status_code == 404 and err(r) == "principal_not_found"
    r = agency.api.post(f"/api/v1/relations/{rel['id']}/accept")
    assert r.status_code == 403  # the inviter cannot accept for the merchant

    seen = merchant.api.get(f"{merchant.base}/agencies").get_json()["items"]
    assert [(x["id"], x["status"]) for x in seen] == [(rel["id"], "invited")]
    r = merchant.api.post(f"/api/v1/relations/{rel['id']}/accept")
    assert r.status_code == 200 and r.get_json()["status"] == "authorized"
    r = merchant.api.post(f"/api/v1/relations/{rel['id']}/accept")
    assert r.status_code == 409 and err(r) == "invalid_status_transition"
    listed = agency.api.get(f"{agency.base}/principals?status=authorized").get_json()["items"]
    assert [x["to_org_id"] for x in listed] == [merchant.id]
    assert agency.api.get(f"{agency.base}/principals?status=invited").get_json()["items"] == []

    # acting for the authorised principal
    me = agency.api.get("/api/v1/me", headers=act)
    assert me.status_code == 200 and me.get_json()["acting_for_org_id"] == merchant.id
    assert me.get_json()["organization"]["id"] == agency.id
    r = agency.api.get(f"/api/v1/organizations/{merchant.id}", headers=act)
    assert r.status_code == 200 and r.get_json()["name"] == "Corner Shop"
    orgs = agency.api.get("/api/v1/organizations", headers=act).get_json()["items"]
    assert sorted(o["id"] for o in orgs) == sorted([agency.id, merchant.id])
    r = agency.api.get(f"/api/v1/organizations/{merchant.id}")  # without the header: another tenant
    assert r.status_code == 404
    # acting gives operation, not the principal's administration: no taking over its users
    shop_admin = merchant.api.get("/api/v1/me").get_json()["user"]["id"]
    for r in (agency.api.get(f"{merchant.base}/users", headers=act),
              agency.api.post(f"{merchant.base}/users/{shop_admin}/reset-password", headers=act),
              agency.api.post(f"{merchant.base}/users", headers=act,
                              json={"login": "mole", "name": "M", "roles": ["merchant_admin"]}),
              agency.api.post(f"{merchant.base}/api-keys", headers=act, json={}),
              agency.api.patch(merchant.base, headers=act, json={"name": "Ours now"})):
        assert r.status_code == 403 and err(r) == "permission_denied", r.get_json()
    assert merchant.api.get("/api/v1/me").status_code == 200  # the shop's admin is untouched

    # employees may act for principals; dedicated employees only for bound ones (none yet)
    emp = agency.user("emp", ["agency_employee"])
    ded = agency.user("ded", ["agency_dedicated_employee"])
    assert emp and ded
    for login, expected in (("emp", 200), ("ded", 403)):
        otp = agency.api.post(f"{agency.base}/users/{emp if login == 'emp' else ded}/reset-password"
                              ).get_json()["one_time_password"]
        first = Api(client).login(login, otp)
        first.post("/api/v1/auth/password", json={"old_password": otp, "new_password": NEW_PASSWORD})
        api = Api(client).login(login, NEW_PASSWORD)
        r = api.get("/api/v1/me", headers=act)
        assert r.status_code == expected, r.get_json()
    # a merchant clerk of another org naming the merchant: not an agency at all
    r = vendor.api.get("/api/v1/me", headers=act)
    assert r.status_code in (403, 404)

    # either side ends it; acting ends with it
    r = merchant.api.post(f"/api/v1/relations/{rel['id']}/terminate")
    assert r.status_code == 200 and r.get_json()["status"] == "terminated"
    r = agency.api.get("/api/v1/me", headers=act)
    assert r.status_code == 404 and err(r) == "principal_not_found"
    r = agency.api.post(f"/api/v1/relations/{rel['id']}/terminate")
    assert r.status_code == 409 and err(r) == "invalid_status_transition"
    # a new invitation after the end
    r = agency.api.post(f"{agency.base}/principals", json={"principal_org_id": merchant.id})
    assert r.status_code == 201 and r.get_json()["status"] == "invited"
    r = agency.api.post(f"/api/v1/relations/{r.get_json()['id']}/terminate")  # the agency may end it too
    assert r.status_code == 200 and r.get_json()["status"] == "terminated"


# -- vendor -> provider -------------------------------------------------------------------------

def test_vendor_provider_links_are_kept_by_the_platform(platform: Api, tenant_factory: Any, vendor: Org) -> None:
    provider = Org(tenant_factory("Fixers", ["provider"], "fixer"))
    customer = Org(tenant_factory("Buyer", ["customer"], "buyer"))
    url = f"{vendor.base}/providers"

    r = vendor.api.post(url, json={"provider_org_id": provider.id})
    assert r.status_code == 403 and err(r) == "permission_denied"
    r = provider.api.post(url, json={"provider_org_id": provider.id})
    assert r.status_code == 403

    r = platform.post(url, json={"provider_org_id": provider.id})
    assert r.status_code == 201, r.get_json()
    link = r.get_json()
    assert (link["kind"], link["from_org_id"], link["to_org_id"], link["status"]) == (
        "vendor_provider", vendor.id, provider.id, "authorized")
    r = platform.post(url, json={"provider_org_id": provider.id})
    assert r.status_code == 409 and err(r) == "relation_exists"
    r = platform.post(url, json={"provider_org_id": customer.id})
    assert r.status_code == 422 and err(r) == "not_a_provider"
    r = platform.post(f"{customer.base}/providers", json={"provider_org_id": provider.id})
    assert r.status_code == 422 and err(r) == "not_a_vendor"
    r = platform.post(url, json={"provider_org_id": "org_nope"})
    assert r.status_code == 422 and err(r) == "unknown_organization"

    assert [x["to_org_id"] for x in vendor.api.get(url).get_json()["items"]] == [provider.id]

    for api in (vendor.api, provider.api):
        r = api.post(f"/api/v1/relations/{link['id']}/terminate")
        assert r.status_code == 403, r.get_json()
    r = provider.api.post(f"/api/v1/relations/{link['id']}/accept")
    assert r.status_code == 409  # nothing to accept: the platform's link is already in force
    r = platform.post(f"/api/v1/relations/{link['id']}/terminate")
    assert r.status_code == 200 and r.get_json()["status"] == "terminated"
    assert vendor.api.get(f"{url}?status=authorized").get_json()["items"] == []
    r = platform.post(url, json={"provider_org_id": provider.id})
    assert r.status_code == 201 and r.get_json()["status"] == "authorized" and r.get_json()["id"] == link["id"]


# -- operation log -------------------------------------------------------------------------------

def test_audit_log_filtered_by_operation(vendor: Org) -> None:
    hq = vendor.dep("HQ")
    vendor.dep("Sales", hq)
    bob = vendor.user("bob")
    vendor.api.post(f"{vendor.base}/departments/{hq}/members", json={"user_ids": [bob]})

    log = vendor.api.get(f"{vendor.base}/audit-log?operation=department.create").get_json()
    assert log["total"] == 2 and {a["operation"] for a in log["items"]} == {"department.create"}
    assert {a["summary"] for a in log["items"]} == {"created department HQ", "created department Sales"}
    me = vendor.api.get("/api/v1/me").get_json()["user"]["id"]
    assert {a["actor_id"] for a in log["items"]} == {me}
    assert all(a["org_id"] == vendor.id and a["at"] for a in log["items"])

    members = vendor.api.get(f"{vendor.base}/audit-log?operation=department.members").get_json()
    assert members["total"] == 1 and members["items"][0]["target"] == hq
    everything = vendor.api.get(f"{vendor.base}/audit-log?per_page=100").get_json()
    assert {"department.create", "department.members", "user.create"} <= {a["operation"] for a in
                                                                          everything["items"]}
    assert vendor.api.get(f"{vendor.base}/audit-log?operation=nothing.like.this").get_json()["total"] == 0
    by_actor = vendor.api.get(f"{vendor.base}/audit-log?actor_id={me}&per_page=100").get_json()
    assert by_actor["total"] == len([a for a in everything["items"] if a["actor_id"] == me])
    r = vendor.api.get(f"{vendor.base}/audit-log?from=not-a-date")
    assert r.status_code == 422 and "from" in r.get_json()["error"]["details"]
    later = vendor.api.get(f"{vendor.base}/audit-log?from=2999-01-01T00:00:00%2B08:00").get_json()
    assert later["total"] == 0 and later["items"] == []
    # its export refuses, when asked, the filters its job could not run
    for filters, field in (({"from": "0001-01-01T00:00:00+23:59"}, "filters.from"),
                           ({"operation": ["department.create"]}, "filters.operation"),
                           ({"actor_id": {"id": 1}}, "filters.actor_id")):
        r = vendor.api.post("/api/v1/exports", json={"kind": "audit_log", "org_id": vendor.id, "filters": filters})
        assert r.status_code == 422 and field in r.get_json()["error"]["details"], r.get_json()
    r = vendor.api.post("/api/v1/exports", json={"kind": "audit_log", "org_id": vendor.id,
                                                 "filters": {"operation": "department.create"}})
    assert r.status_code == 202 and r.get_json()["status"] == "done" and r.get_json()["row_count"] == 2
