"""A POST whose action is named by its path takes no fields: anything sent in its body is
refused with 422 naming the field (api.md: unknown fields are rejected), before anything is
looked up or changed — so the ids below need not exist."""
from __future__ import annotations

from typing import Any

import pytest

PATHS = [
    "/api/v1/me/messages/msg_x/read",
    "/api/v1/organizations/org_x/users/usr_x/reset-password",
    "/api/v1/relations/rel_x/accept",
    "/api/v1/relations/rel_x/terminate",
    "/api/v1/wallets/org_x/withholding-agreements/agr_x/confirm",
    "/api/v1/wallets/org_x/withholding-agreements/agr_x/revoke",
    "/api/v1/dispatch/queue/prj_x/dispatch",
    "/api/v1/flow-templates/tpl_x/publish",
    "/api/v1/flow-templates/tpl_x/approve",
    "/api/v1/holds/hld_x/release",
]


@pytest.mark.parametrize("path", PATHS)
def test_a_field_sent_to_a_bodyless_post_is_refused(platform: Any, path: str) -> None:
    r = platform.post(path, json={"junk": 1})
    assert r.status_code == 422, (r.status_code, r.get_json())
    assert r.get_json()["error"]["code"] == "validation_failed" and "junk" in r.get_json()["error"]["details"]
    assert platform.post(path).status_code != 422  # with no body it reaches the action (a 404 here)
