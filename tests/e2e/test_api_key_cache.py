"""API keys are remembered per process for a few seconds (ApiKeyCache): what that changes
and what it must not change."""
from __future__ import annotations

from typing import Any

import pytest

from application.identity.api_key_cache import ApiKeyCache, VerifiedKey
from application.shared.settings import Settings
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from tests.helpers import Api


class Ticking:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _key(n: int = 1) -> VerifiedKey:
    return VerifiedKey(key_id=f"key_{n}", key_hash=f"hash{n}", org_id="org_1", org_kinds=frozenset({"customer"}))


def test_cache_forgets_after_its_ttl_and_on_request() -> None:
    cache = ApiKeyCache(Settings(api_key_cache_seconds=10))
    cache.now = clock = Ticking()
    cache.put("aaa", _key())
    clock.t += 9.999
    assert cache.get("aaa") == _key()
    clock.t += 0.001
    assert cache.get("aaa") is None  # expired at exactly ttl
    cache.put("aaa", _key())
    cache.forget("aaa")
    assert cache.get("aaa") is None


def test_a_moved_revocation_count_forgets_everything() -> None:
    cache = ApiKeyCache(Settings(api_key_cache_seconds=300, api_key_revocation_check_seconds=2))
    cache.now = clock = Ticking()
    assert cache.revocations_due()
    cache.revocations_seen(3)
    cache.put("a", _key())
    assert not cache.revocations_due()
    clock.t += 2
    assert cache.revocations_due()
    cache.revocations_seen(3)  # nothing revoked meanwhile: keep what is known
    assert cache.get("a") is not None
    clock.t += 2
    cache.revocations_seen(4)
    assert cache.get("a") is None


def test_cache_is_bounded_and_can_be_off() -> None:
    cache = ApiKeyCache(Settings(api_key_cache_seconds=10))
    cache.max_entries = 2
    cache.put("a", _key(1))
    cache.put("b", _key(2))
    assert cache.get("a") is not None  # a is now the most recently used
    cache.put("c", _key(3))
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None
    off = ApiKeyCache(Settings(api_key_cache_seconds=0))
    off.put("a", _key())
    assert off.get("a") is None


@pytest.fixture
def vendor_key(tenant_factory: Any) -> tuple[Any, str, dict[str, Any]]:
    vendor = tenant_factory("Key Vendor", ["vendor"], "kvadmin", ["vendor_admin", "provider_admin"])
    r = vendor.api.post(f"/api/v1/organizations/{vendor.org_id}/api-keys", json={"name": "billing"})
    assert r.status_code == 201, r.get_json()
    return vendor, r.get_json()["key"], r.get_json()


def test_revocation_applies_at_once_here_and_within_seconds_in_other_processes(
        client: Any, settings: Settings, overrides: list[Any], vendor_key: tuple[Any, str, dict[str, Any]]) -> None:
    vendor, key, issued = vendor_key
    # a second "process": its own container, app and key memory, the same database
    other_app = create_app(settings, container=build_container(settings, *overrides))
    other_cache = other_app.extensions["injector"].get(ApiKeyCache)
    other_cache.now = clock = Ticking()
    here, there = Api(client, key), Api(other_app.test_client(), key)
    assert here.get("/api/v1/me").status_code == 200
    assert there.get("/api/v1/me").status_code == 200  # now remembered over there

    # a wrong secret with a remembered prefix is still refused: the hash is compared each time
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    r = there.as_token(forged).get("/api/v1/me")
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "invalid_credentials"

    r = vendor.api.delete(f"/api/v1/organizations/{vendor.org_id}/api-keys/{issued['id']}")
    assert r.status_code == 200
    assert here.get("/api/v1/me").status_code == 401  # the revoking process forgot it at once
    clock.t += settings.api_key_revocation_check_seconds - 0.5
    assert there.get("/api/v1/me").status_code == 200  # documented: until its next check
    clock.t += 0.5
    r = there.get("/api/v1/me")
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "invalid_credentials"


def test_last_used_at_is_recorded(client: Any, vendor_key: tuple[Any, str, dict[str, Any]]) -> None:
    vendor, key, issued = vendor_key
    assert issued["last_used_at"] is None
    assert Api(client, key).get("/api/v1/me").status_code == 200
    keys = vendor.api.get(f"/api/v1/organizations/{vendor.org_id}/api-keys").get_json()["items"]
    assert keys[0]["last_used_at"] is not None
