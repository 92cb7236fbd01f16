"""Opaque string ids: sortable by creation time (ULID-like), URL safe."""
from __future__ import annotations

import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]  # 10 bits -> 2 characters


def _encode(number: int, length: int) -> str:
    """``length`` (even) base32 characters of ``number``, most significant first."""
    return "".join([_PAIRS[(number >> shift) & 1023] for shift in range(5 * length - 10, -1, -10)])


def new_id(prefix: str = "") -> str:
    """A 26-character time-ordered id, e.g. ``org_01j...``; unguessable random tail."""
    millis = int(time.time() * 1000)
    rand = int.from_bytes(os.urandom(10), "big")
    body = _encode(millis, 10) + _encode(rand, 16)
    return f"{prefix}_{body}" if prefix else body
