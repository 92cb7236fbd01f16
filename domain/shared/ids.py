"""Opaque string ids: sortable by creation time (ULID-like), URL safe."""
from __future__ import annotations

import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def _encode(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, rem = divmod(number, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def new_id(prefix: str = "") -> str:
    """A 26-character time-ordered id, e.g. ``org_01j...``; unguessable random tail."""
    millis = int(time.time() * 1000)
    rand = int.from_bytes(os.urandom(10), "big")
    body = _encode(millis, 10) + _encode(rand, 16)
    return f"{prefix}_{body}" if prefix else body
