"""Test harness.

The database is chosen by ``AGORA_TEST_DATABASE_URL`` (default: a SQLite file in a
temp dir), so the same suite runs on SQLite (``make test``) and on PostgreSQL
(``.ci/run``). The schema is built with the Alembic migrations, as in production,
and emptied between tests. Jobs run inline after commit (``jobs_sync``), SMS and
e-mail go to recording fakes.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import injector
import pytest
from sqlalchemy import text

from adapters.notifications.console import RecordingEmail, RecordingSms
from adapters.postgres.migrate import upgrade
from adapters.postgres.tables import metadata
from adapters.postgres.uow import make_engine
from adapters.security.passwords import FastHasher
from application.shared.notifications import EmailSender, SmsSender
from application.shared.settings import Settings
from domain.identity.ports import PasswordHasher
from entrypoints.container import build_container
from entrypoints.http.app import create_app

_TMP = Path(tempfile.mkdtemp(prefix="agora-test-"))
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
DB_URL = os.environ.get("AGORA_TEST_DATABASE_URL") or f"sqlite:///{_TMP}/agora-{_WORKER}.db"
REDIS_URL = os.environ.get("AGORA_TEST_REDIS_URL")
IS_POSTGRES = DB_URL.startswith("postgresql")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "postgres" in item.keywords and not IS_POSTGRES:
            item.add_marker(pytest.mark.skip(reason="PostgreSQL-only: runs in .ci/run's PostgreSQL pass"))
        if "redis" in item.keywords and not REDIS_URL:
            item.add_marker(pytest.mark.skip(reason="needs AGORA_TEST_REDIS_URL: runs in .ci/run's Redis pass"))


@pytest.fixture(scope="session")
def db_url() -> str:
    engine = make_engine(DB_URL)
    if IS_POSTGRES:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade(DB_URL)
    return DB_URL


@pytest.fixture(scope="session")
def engine(db_url: str) -> Any:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def truncate_all(engine: Any) -> None:
    names = [t.name for t in reversed(metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE"))
        else:
            for n in names:
                conn.execute(text(f'DELETE FROM "{n}"'))


@pytest.fixture(autouse=True)
def _clean_db(request: pytest.FixtureRequest) -> Iterator[None]:
    uses_db = "engine" in request.fixturenames or "db_url" in request.fixturenames
    engine = request.getfixturevalue("engine") if uses_db else None  # asked for now, torn down after us
    yield
    if engine is not None:
        truncate_all(engine)


@pytest.fixture
def sms() -> RecordingSms:
    return RecordingSms()


@pytest.fixture
def email() -> RecordingEmail:
    return RecordingEmail()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, redis_url=None, jobs_sync=True, run_scheduler=False,
                    secret_key="test-secret-key-with-at-least-32-bytes!", storage_dir=str(tmp_path / "files"))


@pytest.fixture
def overrides(sms: RecordingSms, email: RecordingEmail) -> list[injector.Module]:
    def configure(binder: injector.Binder) -> None:
        binder.bind(SmsSender, to=sms)
        binder.bind(EmailSender, to=email)
        binder.bind(PasswordHasher, to=FastHasher())

    return [configure]  # type: ignore[list-item]


@pytest.fixture
def container(settings: Settings, overrides: list[injector.Module], engine: Any) -> injector.Injector:
    return build_container(settings, *overrides)


@pytest.fixture
def app(settings: Settings, container: injector.Injector) -> Any:
    application = create_app(settings, container=container)
    application.testing = True
    return application


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


from tests.helpers import *  # noqa: E402,F403 - shared fixtures (api, platform admin, orgs)
