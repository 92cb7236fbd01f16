"""Ports the identity use cases need from the outside world."""
from __future__ import annotations

import abc
import dataclasses
from datetime import datetime


@dataclasses.dataclass(frozen=True)
class TokenClaims:
    user_id: str
    org_id: str
    issued_at: datetime
    expires_at: datetime
    credential_version: str  # changes when the password changes: older tokens stop working


class TokenIssuer(abc.ABC):
    @abc.abstractmethod
    def issue(self, user_id: str, org_id: str, now: datetime, credential_version: str) -> tuple[str, int]:
        """A bearer token and its lifetime in seconds."""

    @abc.abstractmethod
    def verify(self, token: str, now: datetime) -> TokenClaims | None:
        """Claims of a valid, unexpired token; None otherwise."""
