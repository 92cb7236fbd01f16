"""argon2id password hashing (argon2-cffi)."""
from __future__ import annotations

from argon2 import PasswordHasher as Argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from domain.identity.ports import PasswordHasher


class Argon2Hasher(PasswordHasher):
    def __init__(self, time_cost: int = 2, memory_cost: int = 19456, parallelism: int = 1) -> None:
        # OWASP's argon2id minimum: 19 MiB, 2 iterations, 1 lane
        self._ph = Argon2(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)

    def hash(self, password: str) -> str:
        return self._ph.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._ph.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


class FastHasher(Argon2Hasher):
    """Cheap argon2 parameters for tests; never bound in production."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
