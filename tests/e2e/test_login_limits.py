"""SMS login challenge, forgotten password by SMS and login rate limits, at their boundaries.

Time is frozen with freezegun (``tick=False``) and moved by hand; the service reads it
through ``Clock.now()``. Codes are read from the recording SMS sender.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from adapters.notifications.console import RecordingSms
from tests.helpers import NEW_PASSWORD, Api, Tenant

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 10, 9, 30, 0, tzinfo=SHANGHAI)
PHONE = "13800138009"
E164 = "+8613800138009"
PASSWORD = "Worker12345"


def err(r: Any) -> str:
    return r.get_json()["error"]["code"]  # type: ignore[no-any-return]


def login(client: Any, **body: Any) -> Any:
    return client.post("/api/v1/auth/token", json={"login": "worker", "password": PASSWORD, **body})


def last_code(sms: RecordingSms) -> str:
    msg = sms.sent[-1]
    assert msg.phone == E164
    code = msg.params["code"]
    assert len(code) == 6 and code.isdigit() and code in msg.text
    return str(code)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


@pytest.fixture(autouse=True)
def clock() -> Iterator[Any]:
    """Frozen before any other fixture, so every token and code is issued in frozen time
    (a token from the real clock would look issued in the future)."""
    with freeze_time(T0 - timedelta(hours=2), tick=False) as frozen:
        yield frozen


@pytest.fixture
def worker(client: Any, tenant_factory: Any) -> Tenant:
    """A vendor that requires an SMS code at every login, and its employee 'worker' with a phone."""
    vendor = tenant_factory("Vendor", ["vendor"], "vadmin")
    org = vendor.org_id
    r = vendor.api.post(f"/api/v1/organizations/{org}/users",
                        json={"login": "worker", "name": "Worker", "phone": PHONE, "roles": ["engineer"]})
    assert r.status_code == 201, r.get_json()
    otp = r.get_json()["one_time_password"]
    first = Api(client).login("worker", otp)
    assert first.post("/api/v1/auth/password",
                      json={"old_password": otp, "new_password": PASSWORD}).status_code == 204
    r = vendor.api.patch(f"/api/v1/organizations/{org}", json={"require_sms_login": True})
    assert r.status_code == 200 and r.get_json()["require_sms_login"] is True
    return vendor  # type: ignore[no-any-return]


def challenge(client: Any, sms: RecordingSms) -> tuple[str, str]:
    r = login(client)
    assert r.status_code == 202, r.get_json()
    body = r.get_json()
    assert "access_token" not in body and body["phone_hint"] == "+86****8009"
    return body["challenge_id"], last_code(sms)


# -- SMS login challenge ---------------------------------------------------------------

def test_sms_code_is_accepted_until_just_before_five_minutes(clock: Any, client: Any, worker: Tenant,
                                                             sms: RecordingSms) -> None:
    clock.move_to(T0)
    r = login(client)
    assert r.status_code == 202
    assert datetime.fromisoformat(r.get_json()["expires_at"]) == T0 + timedelta(minutes=5)
    cid, code = r.get_json()["challenge_id"], last_code(sms)
    assert len(sms.sent) == 1
    clock.tick(timedelta(minutes=4, seconds=59))
    r = login(client, challenge_id=cid, sms_code=code)
    assert r.status_code == 200, r.get_json()
    assert Api(client, r.get_json()["access_token"]).get("/api/v1/me").get_json()["user"]["login"] == "worker"
    r = login(client, challenge_id=cid, sms_code=code)  # a code works once
    assert r.status_code == 401 and err(r) == "sms_code_invalid"


def test_sms_code_expires_at_exactly_five_minutes(clock: Any, client: Any, worker: Tenant, sms: RecordingSms) -> None:
    clock.move_to(T0)
    cid, code = challenge(client, sms)
    clock.tick(timedelta(minutes=5))
    r = login(client, challenge_id=cid, sms_code=code)
    assert r.status_code == 401 and err(r) == "sms_code_expired"
    assert "access_token" not in r.get_json()
    cid2, code2 = challenge(client, sms)  # a new code can be had
    assert cid2 != cid
    r = login(client, challenge_id=cid2, sms_code=code2)
    assert r.status_code == 200, r.get_json()


def test_five_wrong_codes_exhaust_the_challenge(clock: Any, client: Any, worker: Tenant, sms: RecordingSms) -> None:
    clock.move_to(T0)
    cid, code = challenge(client, sms)
    for left in (4, 3, 2, 1, 0):
        r = login(client, challenge_id=cid, sms_code=wrong(code))
        assert r.status_code == 401 and err(r) == "sms_code_invalid", r.get_json()
        assert r.get_json()["error"]["details"] == {"attempts_left": left}
    r = login(client, challenge_id=cid, sms_code=code)
    assert r.status_code == 401 and err(r) == "sms_attempts_exceeded"


def test_four_wrong_codes_then_the_right_one(clock: Any, client: Any, worker: Tenant, sms: RecordingSms) -> None:
    clock.move_to(T0)
    cid, code = challenge(client, sms)
    for _ in range(4):
        assert login(client, challenge_id=cid, sms_code=wrong(code)).status_code == 401
    assert login(client, challenge_id=cid, sms_code=code).status_code == 200


def test_challenge_needs_the_right_password_and_its_own_user(clock: Any, client: Any, worker: Tenant,
                                                              sms: RecordingSms) -> None:
    clock.move_to(T0)
    cid, code = challenge(client, sms)
    r = client.post("/api/v1/auth/token", json={"login": "worker", "password": "Wrong12345",
                                                "challenge_id": cid, "sms_code": code})
    assert r.status_code == 401 and err(r) == "invalid_credentials"
    r = client.post("/api/v1/auth/token", json={"login": "vadmin", "password": NEW_PASSWORD,
                                                "challenge_id": cid, "sms_code": code})
    assert r.status_code == 401 and err(r) == "challenge_not_found"  # another user's challenge
    r = login(client, challenge_id=cid, sms_code="12345")
    assert r.status_code == 422 and r.get_json()["error"]["details"] == {"sms_code": ["must be 6 digits"]}
    assert login(client, challenge_id=cid, sms_code=code).status_code == 200


def test_at_most_one_code_a_minute(clock: Any, client: Any, worker: Tenant, sms: RecordingSms) -> None:
    clock.move_to(T0)
    challenge(client, sms)
    clock.tick(timedelta(seconds=59))
    r = login(client)
    assert r.status_code == 429 and err(r) == "sms_rate_limited"
    assert int(r.headers["Retry-After"]) >= 1
    assert len(sms.sent) == 1
    clock.tick(timedelta(seconds=1))
    r = login(client)
    assert r.status_code == 202, r.get_json()
    assert len(sms.sent) == 2


def test_at_most_ten_codes_a_shanghai_day(clock: Any, client: Any, worker: Tenant, sms: RecordingSms) -> None:
    day = datetime(2026, 3, 11, tzinfo=SHANGHAI)  # local midnight = 2026-03-10T16:00Z
    clock.move_to(day - timedelta(minutes=1))
    challenge(client, sms)  # 23:59 the day before: counts for that day only
    for i in range(10):
        clock.move_to(day + timedelta(minutes=i))
        challenge(client, sms)
    clock.move_to(day + timedelta(hours=23, minutes=59, seconds=59))
    r = login(client)
    assert r.status_code == 429 and err(r) == "sms_rate_limited", r.get_json()
    assert "a day" in r.get_json()["error"]["message"]
    assert len(sms.sent) == 11
    clock.move_to(day + timedelta(days=1))  # local midnight: a new day
    challenge(client, sms)
    assert len(sms.sent) == 12


# -- forgotten password by SMS -----------------------------------------------------------

def test_forgotten_password_by_sms(clock: Any, client: Any, worker: Tenant, sms: RecordingSms) -> None:
    clock.move_to(T0)
    # a session from before: the token of an earlier SMS login
    cid, code = challenge(client, sms)
    old_token = login(client, challenge_id=cid, sms_code=code).get_json()["access_token"]
    old = Api(client, old_token)
    assert old.get("/api/v1/me").status_code == 200
    clock.tick(timedelta(minutes=1))

    r = client.post("/api/v1/auth/password-resets", json={"login": PHONE})  # by phone, as typed
    assert r.status_code == 202, r.get_json()
    reset_id = r.get_json()["challenge_id"]
    code = last_code(sms)
    assert "reset" in sms.sent[-1].text

    # the login challenge id cannot confirm a reset, nor a wrong code
    r = client.post(f"/api/v1/auth/password-resets/{cid}/confirm",
                    json={"sms_code": code, "new_password": "Fresh12345"})
    assert r.status_code == 401 and err(r) == "challenge_not_found"
    r = client.post(f"/api/v1/auth/password-resets/{reset_id}/confirm",
                    json={"sms_code": wrong(code), "new_password": "Fresh12345"})
    assert r.status_code == 401 and err(r) == "sms_code_invalid"
    r = client.post(f"/api/v1/auth/password-resets/{reset_id}/confirm",
                    json={"sms_code": code, "new_password": "weak"})
    assert r.status_code == 422 and err(r) == "weak_password"

    r = client.post(f"/api/v1/auth/password-resets/{reset_id}/confirm",
                    json={"sms_code": code, "new_password": "Fresh12345"})
    assert r.status_code == 204, r.get_json()
    r = old.get("/api/v1/me")
    assert r.status_code == 401 and err(r) == "invalid_token"
    assert login(client).status_code == 401  # the old password is gone
    r = client.post(f"/api/v1/auth/password-resets/{reset_id}/confirm",
                    json={"sms_code": code, "new_password": "Other12345"})
    assert r.status_code == 401 and err(r) == "sms_code_invalid"  # used once

    clock.tick(timedelta(minutes=1))
    r = client.post("/api/v1/auth/token", json={"login": "worker", "password": "Fresh12345"})
    assert r.status_code == 202  # still an SMS login organisation
    r = client.post("/api/v1/auth/token", json={"login": "worker", "password": "Fresh12345",
                                                "challenge_id": r.get_json()["challenge_id"],
                                                "sms_code": last_code(sms)})
    assert r.status_code == 200 and r.get_json()["must_change_password"] is False


def test_reset_code_expires_at_five_minutes(clock: Any, client: Any, worker: Tenant, sms: RecordingSms) -> None:
    clock.move_to(T0)
    r = client.post("/api/v1/auth/password-resets", json={"login": "worker"})
    assert r.status_code == 202
    reset_id, code = r.get_json()["challenge_id"], last_code(sms)
    clock.tick(timedelta(minutes=5))
    r = client.post(f"/api/v1/auth/password-resets/{reset_id}/confirm",
                    json={"sms_code": code, "new_password": "Fresh12345"})
    assert r.status_code == 401 and err(r) == "sms_code_expired"
    r = client.post("/api/v1/auth/password-resets", json={"login": "nobody-here"})
    assert r.status_code == 404 and err(r) == "user_not_found"


# -- login rate limiting -----------------------------------------------------------------

@pytest.fixture
def plain_user(tenant_factory: Any) -> Tenant:
    return tenant_factory("Vendor", ["vendor"], "vadmin")  # type: ignore[no-any-return]


def bad(client: Any) -> Any:
    return client.post("/api/v1/auth/token", json={"login": "vadmin", "password": "Wrong12345"})


def good(client: Any) -> Any:
    return client.post("/api/v1/auth/token", json={"login": "vadmin", "password": NEW_PASSWORD})


def test_five_failures_in_fifteen_minutes_lock_until_the_window_ends(clock: Any, client: Any,
                                                                     plain_user: Tenant) -> None:
    clock.move_to(T0)
    for i in range(5):
        clock.move_to(T0 + timedelta(minutes=i))
        r = bad(client)
        assert r.status_code == 401 and err(r) == "invalid_credentials"
    clock.move_to(T0 + timedelta(minutes=4, seconds=1))
    r = good(client)  # even the right password is refused now
    assert r.status_code == 429 and err(r) == "login_rate_limited"
    assert r.headers["Retry-After"] == "659"  # until T0 + 15:00, when the first failure leaves the window
    assert r.get_json()["error"]["details"] == {"retry_after": 659}
    assert "access_token" not in r.get_json()

    clock.move_to(T0 + timedelta(minutes=14, seconds=59))
    r = good(client)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"

    clock.move_to(T0 + timedelta(minutes=15))
    r = good(client)
    assert r.status_code == 200, r.get_json()


def test_a_success_clears_the_failure_counter(clock: Any, client: Any, plain_user: Tenant) -> None:
    clock.move_to(T0)
    for _ in range(4):
        assert bad(client).status_code == 401
    assert good(client).status_code == 200
    for _ in range(4):
        assert bad(client).status_code == 401
    r = bad(client)  # the fifth failure since the success is still just a failure
    assert r.status_code == 401 and err(r) == "invalid_credentials"
    r = bad(client)
    assert r.status_code == 429 and err(r) == "login_rate_limited"
    assert r.headers["Retry-After"] == "900"


def test_failures_of_one_login_do_not_lock_another(clock: Any, client: Any, plain_user: Tenant) -> None:
    clock.move_to(T0)
    for _ in range(5):
        assert client.post("/api/v1/auth/token",
                           json={"login": "someone-else", "password": "Wrong12345"}).status_code == 401
    r = client.post("/api/v1/auth/token", json={"login": "someone-else", "password": "Wrong12345"})
    assert r.status_code == 429  # unknown logins are limited the same way
    assert good(client).status_code == 200
