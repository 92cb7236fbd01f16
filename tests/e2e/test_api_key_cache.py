"""API keys are remembered per process (ApiKeyCache): what that changes
and what it must not change."""
from __future__ import annotations

from typing import Any

import pytest

from adapters.postgres.identity_repos import SqlOrganizations
from application.identity.api_key_cache import ApiKeyCache, VerifiedKey
from application.identity.services import IdentityService
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
    cache.put("aaa", _key(), cache.generation)
    clock.t += 9.999
    assert cache.get("aaa") == _key()
    clock.t += 0.001
    assert cache.get("aaa") is None  # expired at exactly ttl
    cache.put("aaa", _key(), cache.generation)
    cache.forget("aaa")
    assert cache.get("aaa") is None


def test_a_moved_revocation_count_forgets_everything() -> None:
    cache = ApiKeyCache(Settings(api_key_cache_seconds=300, api_key_revocation_check_seconds=2))
    cache.now = clock = Ticking()
    assert cache.revocations_due()
    cache.revocations_seen(3)
    cache.put("a", _key(), cache.generation)
    assert not cache.revocations_due()
    clock.t += 2
    assert cache.revocations_due()
    cache.revocations_seen(3)  # nothing revoked meanwhile: keep what is known
    assert cache.get("a") is not None
    clock.t += 2
    cache.revocations_seen(4)
    assert cache.get("a") is None


def test_a_lookup_older_than_a_forget_is_not_remembered() -> None:
    cache = ApiKeyCache(Settings(api_key_cache_seconds=300))
    before = cache.generation  # read before the database lookup
    cache.forget("other")  # e.g. a revocation in this process while the lookup ran
    cache.put("a", _key(), before)
    assert cache.get("a") is None
    before = cache.generation
    cache.revocations_seen(1)  # the first reading of the count voids earlier lookups too
    cache.put("a", _key(), before)
    assert cache.get("a") is None
    cache.put("a", _key(), cache.generation)
    assert cache.get("a") is not None


def test_cache_is_bounded_and_can_be_off() -> None:
    cache = ApiKeyCache(Settings(api_key_cache_seconds=10))
    cache.max_entries = 2
    cache.put("a", _key(1), cache.generation)
    cache.put("b", _key(2), cache.generation)
    assert cache.get("a") is not None  # a is now the most recently used
    cache.put("c", _key(3), cache.generation)
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None
    off = ApiKeyCache(Settings(api_key_cache_seconds=0))
    off.put("a", _key(), off.generation)
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


@pytest.mark.postgres  # needs two writers at once (SQLite serialises units of work)
def test_a_revocation_committed_during_a_lookup_wins(client: Any, monkeypatch: pytest.MonkeyPatch,
                                                    vendor_key: tuple[Any, str, dict[str, Any]]) -> None:
    """The lookup read the key while active, then records its use: it must neither undo the
    revocation (writing the row it read) nor accept the key."""
    vendor, key, issued = vendor_key
    real_get = SqlOrganizations.get
    fired: list[int] = []

    def get(self: Any, org_id: str) -> Any:  # between the lookup's read of the key and its write
        if not fired:
            fired.append(1)
            r = vendor.api.delete(f"/api/v1/organizations/{vendor.org_id}/api-keys/{issued['id']}")
            assert r.status_code == 200, r.get_json()
        return real_get(self, org_id)

    monkeypatch.setattr(SqlOrganizations, "get", get)
    r = Api(client, key).get("/api/v1/me")
    monkeypatch.setattr(SqlOrganizations, "get", real_get)
    assert r.status_code == 401 and fired
    listed = vendor.api.get(f"/api/v1/organizations/{vendor.org_id}/api-keys").get_json()["items"]
    assert listed[0]["active"] is False and listed[0]["revoked_at"] is not None
    client.application.extensions["injector"].get(ApiKeyCache).clear()
    assert Api(client, key).get("/api/v1/me").status_code == 401


def test_a_lookup_that_outlives_a_revocation_check_is_not_remembered(
        client: Any, settings: Settings, overrides: list[Any], vendor_key: tuple[Any, str, dict[str, Any]]) -> None:
    """Request 1 reads the key (active); the key is revoked; request 2 of the same process
    sees the revocation count move and forgets; request 1 must not then store its answer."""
    vendor, key, issued = vendor_key
    other_app = create_app(settings, container=build_container(settings, *overrides))
    inj = other_app.extensions["injector"]
    inj.get(ApiKeyCache).now = clock = Ticking()
    identity = inj.get(IdentityService)
    there = Api(other_app.test_client(), key)
    real_verify = identity._verify_api_key
    calls: list[int] = []

    def verify(prefix: str, digest: str) -> Any:
        found = real_verify(prefix, digest)
        if not calls:
            calls.append(1)
            assert vendor.api.delete(
                f"/api/v1/organizations/{vendor.org_id}/api-keys/{issued['id']}").status_code == 200
            clock.t += settings.api_key_revocation_check_seconds
            assert there.get("/api/v1/me").status_code == 401  # request 2: count moved, memory cleared
        return found

    identity._verify_api_key = verify  # type: ignore[method-assign]
    assert there.get("/api/v1/me").status_code == 200  # request 1 answers with what it read
    clock.t += 1
    assert there.get("/api/v1/me").status_code == 401  # ... but did not remember it
