"""The two paths of the field parser agree (RFC 9112 §5).

A header section is checked in one pass by ``grammar.FIELD_BLOCK`` (the fast path)
and, when that fails, line by line by ``parse_field_line`` (the slow path, which
names the offending line). Both are built from the same grammar pieces, but only
this test holds them together: for generated blocks, the fast path accepts exactly
the blocks whose every line the slow path accepts, and yields the same fields.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from barehttp.protocol import grammar
from barehttp.protocol.errors import BadRequest
from barehttp.protocol.fields import parse_field_line
from barehttp.protocol.parser import _parse_field_block

# Bytes chosen to sit on both sides of every rule: tchar and its neighbours, the
# separators, whitespace, the controls a value may not hold, DEL and obs-text.
_NAME_BYTES = st.sampled_from(
    list(b"aZ09!#$%&'*+-.^_`|~") + list(b' \t"(),/:;<=>?@[\\]{}\x00\x7f\x80\xff')
)
_VALUE_BYTES = st.sampled_from(
    [*b'aZ09 \t!"~:;,', 0x00, 0x01, 0x08, 0x0A, 0x0D, 0x1F, 0x7F, 0x80, 0xA0, 0xFF]
)
_name = st.lists(_NAME_BYTES, max_size=6).map(bytes)
_value = st.lists(_VALUE_BYTES, max_size=8).map(bytes)
_line = st.one_of(
    st.tuples(_name, _value).map(lambda nv: nv[0] + b":" + nv[1]),
    _name,  # no colon at all
    st.tuples(st.sampled_from([b" ", b"\t"]), _name, _value).map(  # obs-fold
        lambda snv: snv[0] + snv[1] + b":" + snv[2]
    ),
)
_block = st.lists(_line, min_size=1, max_size=4).map(b"\r\n".join)


def _slow_path(block: bytes) -> list[tuple[str, str]] | None:
    try:
        return [parse_field_line(line) for line in block.split(b"\r\n")]
    except BadRequest:
        return None


@settings(max_examples=600, deadline=None, database=None)
@given(_block)
@example(b"a: b\r\nc:d")
@example(b"a : b")
@example(b" a: b")
@example(b"a: b\x00")
@example(b"a:\xff \t")
@example(b"a: b\rc: d")
@example(b"a: b\nc: d")
def test_fast_and_slow_field_paths_agree(block: bytes) -> None:
    slow = _slow_path(block)
    fast_accepts = grammar.FIELD_BLOCK.fullmatch(block) is not None
    assert fast_accepts == (slow is not None), block
    if slow is None or any(name == "host" for name, _ in slow):
        return  # the block parser checks Host values on top; not a field-syntax rule
    fields, _framing = _parse_field_block(block, max_count=100)
    assert fields == slow, block
