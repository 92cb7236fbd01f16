"""The caller of a use case and the permission / data-scope checks every module uses.

``Caller`` is built by the entry point (a bearer token or an API key) and passed to
application services, which ask it rather than inspecting role names:

    caller.require("wallet.recharge", org_id=wallet.org_id)

Another tenant's resources answer ``NotFound`` (never reveal they exist).
"""
from __future__ import annotations

import dataclasses

from domain.identity.roles import permissions_of
from domain.shared.errors import Forbidden, NotFound


@dataclasses.dataclass(frozen=True)
class Caller:
    org_id: str
    org_kinds: frozenset[str]
    roles: tuple[str, ...]
    user_id: str | None = None  # None for API keys
    api_key_id: str | None = None
    acting_for_org_id: str | None = None  # agency user acting for a principal
    request_id: str | None = None

    @property
    def permissions(self) -> frozenset[str]:
        return permissions_of(self.roles)

    @property
    def is_platform(self) -> bool:
        return "platform" in self.org_kinds

    @property
    def is_platform_admin(self) -> bool:
        return self.is_platform and "platform_admin" in self.roles

    @property
    def effective_org_id(self) -> str:
        """The organisation the caller works in: its own, or the principal it acts for."""
        return self.acting_for_org_id or self.org_id

    def has(self, permission: str) -> bool:
        return permission in self.permissions

    def can_see_org(self, org_id: str) -> bool:
        return self.is_platform or org_id in (self.org_id, self.acting_for_org_id)

    def require_org(self, org_id: str, missing: type[NotFound] = NotFound) -> None:
        """Another tenant's data is unreachable: answer as if it did not exist (``missing``
        is the module's own not-found error, e.g. ``wallet_not_found``)."""
        if not self.can_see_org(org_id):
            raise missing(f"no such {missing.what}")

    def require(self, permission: str, *, org_id: str | None = None, missing: type[NotFound] = NotFound) -> None:
        if org_id is not None:
            self.require_org(org_id, missing)
        if not self.roles:
            raise Forbidden("a user without a role can do nothing until given one", code="no_role")
        if permission not in self.permissions:
            raise Forbidden(f"missing permission {permission}", code="permission_denied",
                            details={"permission": permission})
