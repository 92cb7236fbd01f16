"""Fixtures and helpers shared by e2e tests: a tiny API client and ready-made tenants."""
from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from application.platform import PlatformSetup

ADMIN_PASSWORD = "Admin12345"
NEW_PASSWORD = "Changed12345"


@dataclasses.dataclass
class Api:
    """A test client that remembers a bearer token."""

    client: Any
    token: str | None = None

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        out = dict(headers or {})
        if self.token and "Authorization" not in out:
            out["Authorization"] = f"Bearer {self.token}"
        return out

    def get(self, url: str, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        return self.client.get(url, headers=self._headers(headers), **kw)

    def post(self, url: str, json: Any = None, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        return self.client.post(url, json=json, headers=self._headers(headers), **kw)

    def put(self, url: str, json: Any = None, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        return self.client.put(url, json=json, headers=self._headers(headers), **kw)

    def patch(self, url: str, json: Any = None, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        return self.client.patch(url, json=json, headers=self._headers(headers), **kw)

    def delete(self, url: str, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        return self.client.delete(url, headers=self._headers(headers), **kw)

    def as_token(self, token: str) -> Api:
        return Api(self.client, token)

    def login(self, login: str, password: str) -> Api:
        r = self.client.post("/api/v1/auth/token", json={"login": login, "password": password})
        assert r.status_code == 200, r.get_json()
        return Api(self.client, r.get_json()["access_token"])


@dataclasses.dataclass
class Tenant:
    org_id: str
    admin_login: str
    api: Api


@pytest.fixture
def platform(client: Any, container: Any) -> Api:
    """A logged-in platform admin."""
    container.get(PlatformSetup).create_platform_admin("root", ADMIN_PASSWORD)
    return Api(client).login("root", ADMIN_PASSWORD)


def make_tenant(platform: Api, name: str, kinds: list[str], admin_login: str,
                roles: list[str] | None = None) -> Tenant:
    """An organisation with an admin who has changed the one-time password."""
    r = platform.post("/api/v1/organizations", json={"name": name, "kinds": kinds})
    assert r.status_code == 201, r.get_json()
    org_id = r.get_json()["id"]
    r = platform.post(f"/api/v1/organizations/{org_id}/users",
                      json={"login": admin_login, "name": f"{name} admin", "roles": roles or []})
    assert r.status_code == 201, r.get_json()
    otp = r.get_json()["one_time_password"]
    first = Api(platform.client).login(admin_login, otp)
    r = first.post("/api/v1/auth/password", json={"old_password": otp, "new_password": NEW_PASSWORD})
    assert r.status_code == 204, r.get_json()
    return Tenant(org_id, admin_login, Api(platform.client).login(admin_login, NEW_PASSWORD))


@pytest.fixture
def tenant_factory(platform: Api) -> Any:
    def make(name: str, kinds: list[str], admin_login: str, roles: list[str] | None = None) -> Tenant:
        return make_tenant(platform, name, kinds, admin_login, roles)
    return make
