from __future__ import annotations
import zlib
from typing import Any
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance
from application.shared.settings import Settings
from entrypoints.http.app import create_app
from tests.helpers import Api

_doc_app = create_app(Settings(database_url="sqlite://", run_scheduler=False))
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _doc_app).include(tag_regex="^(wallet|payments|exports)$")

@pytest.fixture
def ids(world) -> dict[str, str]:
    c = world.customer
    world.offline(c.org_id, "1000.00")
    hold = c.api.post(f"/api/v1/wallets/{c.org_id}/holds", json={"amount": "1.00", "reference": "h", "expires_at": "2099-01-01T00:00:00+00:00"}).get_json()["id"]
    rec = world.offline(c.org_id, "1.00")
    return {"org_id": c.org_id, "hold_id": hold, "recharge_id": rec["id"], "channel": "sandbox", "entry_id": rec["entry_id"]}

@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_wallet_api(case: Any, app: Any, world: Any, ids: dict[str, str]) -> None:
    pick = zlib.crc32(repr((case.path_parameters, case.body, case.query)).encode()) % 4
    if pick and case.path_parameters:
        for k, v in ids.items():
            if k in case.path_parameters:
                case.path_parameters[k] = v
    token = world.admin.token if pick == 3 else world.customer.api.token
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error, content_type_conformance, response_schema_conformance, status_code_conformance])
from tests.e2e.wallet.conftest import world  # noqa
