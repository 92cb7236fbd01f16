"""Ids: 26 Crockford base32 characters, time first, so they sort by creation time."""
from __future__ import annotations

from unittest import mock

from hypothesis import given
from hypothesis import strategies as st

from domain.shared import ids


def reference(number: int, length: int) -> str:
    """Base32 the slow, obvious way: one digit at a time."""
    digits = []
    for _ in range(length):
        number, digit = divmod(number, 32)
        digits.append(ids._ALPHABET[digit])
    return "".join(reversed(digits))


@given(st.integers(0, 2**50 - 1), st.integers(0, 2**80 - 1))
def test_the_time_and_the_random_parts_encode_digit_for_digit(millis: int, rand: int) -> None:
    assert ids._encode(millis, 10) == reference(millis, 10)
    assert ids._encode(rand, 16) == reference(rand, 16)


def test_an_id_is_its_prefix_and_26_characters_of_the_alphabet() -> None:
    value = ids.new_id("ent")
    prefix, body = value.split("_")
    assert prefix == "ent" and len(body) == 26 and set(body) <= set(ids._ALPHABET)
    assert len(ids.new_id()) == 26


def test_ids_sort_by_the_millisecond_they_were_made_in() -> None:
    made = []
    for millis in (1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_032, 1_800_000_000_000):
        with mock.patch.object(ids.time, "time", return_value=millis / 1000), \
                mock.patch.object(ids.os, "urandom", return_value=b"\xff" * 10 if millis % 2 else b"\0" * 10):
            made.append(ids.new_id("x"))
    assert made == sorted(made) and len(set(made)) == 4
