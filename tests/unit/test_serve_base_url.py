"""``agora serve`` on another port (``PORT=9000 make run``) hands out links to that port:
the sandbox pay page and the notify URL a gateway calls must reach this server."""
from __future__ import annotations

import os
from typing import Any

import pytest
from click.testing import CliRunner

from entrypoints import cli


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Run ``agora serve`` up to the point where it would become gunicorn."""
    seen: dict[str, Any] = {}

    def execvp(path: str, args: list[str]) -> None:
        seen["args"], seen["base_url"] = args, os.environ.get("AGORA_BASE_URL")

    monkeypatch.setattr(cli.os, "execvp", execvp)
    monkeypatch.delenv("AGORA_BASE_URL", raising=False)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    return seen


@pytest.mark.parametrize(("host", "port", "url"), [
    ("127.0.0.1", "9000", "http://127.0.0.1:9000"),
    ("0.0.0.0", "8765", "http://127.0.0.1:8765"),  # listening everywhere: loopback, with a warning
    ("agora.internal", "8000", "http://agora.internal:8000"),
])
def test_links_follow_the_port_agora_serves_on(served: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                               host: str, port: str, url: str) -> None:
    monkeypatch.setenv("AGORA_HOST", host)
    monkeypatch.setenv("AGORA_PORT", port)
    result = CliRunner().invoke(cli.main, ["serve", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert served["base_url"] == url
    assert ("AGORA_BASE_URL is not set" in result.output) == (host == "0.0.0.0")
    assert f"{host}:{port}" in served["args"]


def test_a_base_url_that_is_set_is_kept(served: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGORA_BASE_URL", "https://agora.example.com")
    result = CliRunner().invoke(cli.main, ["serve", "--port", "9000", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert served["base_url"] == "https://agora.example.com"
