"""Cursors: what is encoded comes back; whatever else a client sends is a clean 422."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu.kit.errors import Invalid
from kefu.kit.pagination import cursor_int, decode_cursor, decode_id_cursor, encode_cursor

keys = st.one_of(
    st.integers(min_value=0, max_value=2**63 - 1),
    st.datetimes().map(lambda d: d.isoformat()),
    st.text(max_size=30),
)


@given(st.lists(keys, min_size=1, max_size=3))
def test_round_trip(values: list[Any]) -> None:
    cursor = encode_cursor(values)
    assert "=" not in cursor and "/" not in cursor and "+" not in cursor
    assert decode_cursor(cursor, len(values)) == values


@given(st.text(max_size=60), st.integers(1, 3))
def test_anything_else_is_invalid_not_a_crash(cursor: str, size: int) -> None:
    try:
        values = decode_cursor(cursor, size)
    except Invalid as exc:
        assert exc.errors[0].loc == ["query", "cursor"]
        assert exc.status == 422
    else:
        assert isinstance(values, list) and len(values) == size


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_id_cursors(value: int) -> None:
    assert decode_id_cursor(encode_cursor([value])) == value


@pytest.mark.parametrize("value", [-1, 2**63, True, 1.5, "7", None, [1]])
def test_keys_must_be_64_bit_ids(value: Any) -> None:
    with pytest.raises(ValueError, match="not a key"):
        cursor_int(value)
    if value != 2**63:
        with pytest.raises(Invalid):
            decode_id_cursor(encode_cursor([value]))


def test_no_cursor_is_the_first_page() -> None:
    assert decode_id_cursor(None) is None
    assert decode_id_cursor("") is None
