"""The WebSocket opening handshake (RFC 6455 §4.2): 101, 400 and 426, keys, subprotocols."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wsproto.utilities import generate_accept_token

from barehttp.protocol.errors import HTTPError
from barehttp.protocol.events import RequestHead
from barehttp.protocol.parser import RequestParser
from barehttp.protocol.websocket_errors import BadUpgrade, UpgradeRequired
from barehttp.protocol.websocket_handshake import (
    accept_upgrade,
    compute_accept,
    format_client_request,
    is_upgrade_request,
    parse_extensions,
    parse_upgrade_request,
    select_subprotocol,
)
from barehttp.protocol.websocket_limits import WebSocketLimits
from tests.protocol.helpers import request

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3's sample nonce
UPGRADE_FIELDS = (
    "Upgrade: websocket",
    "Connection: Upgrade",
    f"Sec-WebSocket-Key: {KEY}",
    "Sec-WebSocket-Version: 13",
)


def head_of(data: bytes) -> RequestHead:
    events = RequestParser().feed(data)
    assert isinstance(events[0], RequestHead)
    return events[0]


def upgrade(*fields: str, line: str = "GET /chat HTTP/1.1", drop: str = "") -> RequestHead:
    """A valid upgrade request with ``fields`` added and the field named ``drop`` left out."""
    kept = [field for field in UPGRADE_FIELDS if not drop or not field.startswith(drop + ":")]
    return head_of(request(line, *kept, *fields))


def test_accept_key_of_rfc_example() -> None:
    # RFC 6455 §1.3: this key gives this accept value.
    assert compute_accept(KEY) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@settings(max_examples=200, deadline=None, database=None)
@given(nonce=st.binary(min_size=16, max_size=16))
def test_accept_key_matches_wsproto(nonce: bytes) -> None:
    key = base64.b64encode(nonce).decode()
    assert compute_accept(key) == generate_accept_token(key.encode()).decode()


def test_valid_upgrade_gives_101_fields() -> None:
    acceptance = accept_upgrade(parse_upgrade_request(upgrade()))
    assert acceptance.fields == (
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
    )
    assert acceptance.deflate is None and acceptance.subprotocol is None
    assert acceptance.format_head() == (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    )


VALID_VARIANTS = [
    pytest.param(("Upgrade: WebSocket",), "Upgrade", id="upgrade-token-case-insensitive"),
    pytest.param(("Upgrade: h2c, websocket",), "Upgrade", id="upgrade-list-includes-websocket"),
    pytest.param(("Connection: keep-alive, Upgrade",), "Connection", id="connection-list"),
    pytest.param(("Connection: upgrade",), "Connection", id="connection-token-case-insensitive"),
    pytest.param(("Sec-WebSocket-Version:  13 ",), "Sec-WebSocket-Version", id="version-ows"),
    pytest.param(("Origin: http://example.com",), "", id="origin-is-the-app's-business"),
    pytest.param(("Content-Length: 0",), "", id="empty-content-is-no-content"),
]


@pytest.mark.parametrize(("fields", "drop"), VALID_VARIANTS)
def test_accepts_valid_variants(fields: tuple[str, ...], drop: str) -> None:
    assert parse_upgrade_request(upgrade(*fields, drop=drop)).key == KEY


# (extra fields, field left out, request line): each breaks one rule of §4.2.1 -> 400
MALFORMED = [
    pytest.param((), "", "POST /chat HTTP/1.1", id="method-not-get"),
    pytest.param((), "", "GET /chat HTTP/1.0", id="http-1.0"),
    pytest.param((), "Upgrade", "GET / HTTP/1.1", id="upgrade-missing"),
    pytest.param(("Upgrade: h2c",), "Upgrade", "GET / HTTP/1.1", id="upgrade-not-websocket"),
    pytest.param((), "Connection", "GET / HTTP/1.1", id="connection-missing"),
    pytest.param(
        ("Connection: keep-alive",), "Connection", "GET / HTTP/1.1", id="no-upgrade-token"
    ),
    pytest.param((), "Sec-WebSocket-Key", "GET / HTTP/1.1", id="key-missing"),
    pytest.param((f"Sec-WebSocket-Key: {KEY}",), "", "GET / HTTP/1.1", id="key-repeated"),
    pytest.param(
        ("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j",),
        "Sec-WebSocket-Key",
        "GET / HTTP/1.1",
        id="key-decodes-to-15-bytes",
    ),
    pytest.param(
        ("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ",),
        "Sec-WebSocket-Key",
        "GET / HTTP/1.1",
        id="key-unpadded",
    ),
    pytest.param(
        ("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ!==",),
        "Sec-WebSocket-Key",
        "GET / HTTP/1.1",
        id="key-not-base64",
    ),
    pytest.param(
        ("Sec-WebSocket-Key: " + base64.b64encode(b"x" * 17).decode(),),
        "Sec-WebSocket-Key",
        "GET / HTTP/1.1",
        id="key-decodes-to-17-bytes",
    ),
    pytest.param((), "Sec-WebSocket-Version", "GET / HTTP/1.1", id="version-missing"),
    pytest.param(("Sec-WebSocket-Version: 13",), "", "GET / HTTP/1.1", id="version-repeated"),
    pytest.param(("Content-Length: 5",), "", "GET / HTTP/1.1", id="request-with-content"),
    pytest.param(("Transfer-Encoding: chunked",), "", "GET / HTTP/1.1", id="chunked-request"),
    pytest.param(
        ("Sec-WebSocket-Protocol: a b",), "", "GET / HTTP/1.1", id="subprotocol-not-token"
    ),
    pytest.param(("Sec-WebSocket-Extensions: x;;y",), "", "GET / HTTP/1.1", id="extensions-bad"),
]


@pytest.mark.parametrize(("fields", "drop", "line"), MALFORMED)
def test_malformed_upgrade_gets_400(fields: tuple[str, ...], drop: str, line: str) -> None:
    head = upgrade(*fields, line=line, drop=drop)
    with pytest.raises(BadUpgrade) as caught:
        parse_upgrade_request(head)
    assert caught.value.status == 400
    assert isinstance(caught.value, HTTPError)


@pytest.mark.parametrize("version", ["8", "12", "14", "13, 8", "abc"])
def test_other_version_gets_426_naming_13(version: str) -> None:
    head = upgrade(f"Sec-WebSocket-Version: {version}", drop="Sec-WebSocket-Version")
    with pytest.raises(UpgradeRequired) as caught:
        parse_upgrade_request(head)
    assert caught.value.status == 426
    assert ("Sec-WebSocket-Version", "13") in caught.value.headers
    assert ("Upgrade", "websocket") in caught.value.headers  # RFC 9110 §15.5.22


def test_is_upgrade_request_looks_only_at_upgrade() -> None:
    assert is_upgrade_request(upgrade(drop="Sec-WebSocket-Key"))
    assert not is_upgrade_request(head_of(request("GET / HTTP/1.1")))


def test_subprotocols_in_client_order_across_fields() -> None:
    head = upgrade("Sec-WebSocket-Protocol: chat, superchat", "Sec-WebSocket-Protocol: v2")
    assert parse_upgrade_request(head).subprotocols == ("chat", "superchat", "v2")


def test_select_subprotocol_prefers_server_order() -> None:
    assert select_subprotocol(["a", "b", "c"], ["c", "b"]) == "c"
    assert select_subprotocol(["a"], ["b"]) is None


def test_chosen_subprotocol_is_echoed() -> None:
    parsed = parse_upgrade_request(upgrade("Sec-WebSocket-Protocol: chat, superchat"))
    acceptance = accept_upgrade(parsed, subprotocol="superchat")
    assert ("Sec-WebSocket-Protocol", "superchat") in acceptance.fields
    assert acceptance.subprotocol == "superchat"


def test_subprotocol_not_offered_is_refused() -> None:
    parsed = parse_upgrade_request(upgrade("Sec-WebSocket-Protocol: chat"))
    with pytest.raises(ValueError, match="not offered"):
        accept_upgrade(parsed, subprotocol="other")


def test_extra_fields_are_checked() -> None:
    parsed = parse_upgrade_request(upgrade())
    acceptance = accept_upgrade(parsed, extra_fields=[("Set-Cookie", "a=b")])
    assert acceptance.fields[-1] == ("Set-Cookie", "a=b")
    with pytest.raises(ValueError):
        accept_upgrade(parsed, extra_fields=[("X", "a\r\nb")])
    with pytest.raises(ValueError):
        accept_upgrade(parsed, extra_fields=[("sec-websocket-accept", "x")])


EXTENSION_HEADERS = [
    pytest.param(["permessage-deflate"], [("permessage-deflate", ())], id="bare-name"),
    pytest.param(
        ["permessage-deflate; client_max_window_bits, permessage-deflate"],
        [
            ("permessage-deflate", (("client_max_window_bits", None),)),
            ("permessage-deflate", ()),
        ],
        id="two-offers-in-one-field",
    ),
    pytest.param(
        ['x; a=1 ; b="2"', "y"], [("x", (("a", "1"), ("b", "2"))), ("y", ())], id="quoted-value"
    ),
    pytest.param([", x ,, "], [("x", ())], id="empty-list-elements"),
    pytest.param([""], [], id="empty-field"),
]


@pytest.mark.parametrize(("values", "expected"), EXTENSION_HEADERS)
def test_parses_extension_offers(values: list[str], expected: list[object]) -> None:
    assert parse_extensions(values) == expected


@pytest.mark.parametrize(
    "value",
    ["x;", "x; a=", 'x; a="b c"', "x y", "x; a=1 b", '"x"', 'x; a="1'],
    ids=[
        "dangling-semicolon",
        "no-value",
        "quoted-non-token",
        "space-in-list",
        "junk-after-param",
        "quoted-name",
        "unterminated-quote",
    ],
)
def test_rejects_malformed_extension_header(value: str) -> None:
    with pytest.raises(BadUpgrade):
        parse_extensions([value])


def test_deflate_negotiated_when_offered_and_allowed() -> None:
    parsed = parse_upgrade_request(
        upgrade("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
    )
    acceptance = accept_upgrade(parsed)
    assert ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits=15") in (
        acceptance.fields
    )
    assert acceptance.deflate is not None
    refused = accept_upgrade(parsed, deflate=False)
    assert refused.deflate is None
    assert all(name != "Sec-WebSocket-Extensions" for name, _ in refused.fields)


def test_deflate_window_limited_by_limits() -> None:
    parsed = parse_upgrade_request(
        upgrade("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
    )
    acceptance = accept_upgrade(parsed, limits=WebSocketLimits(deflate_max_window_bits=10))
    assert acceptance.deflate is not None
    assert acceptance.deflate.client_max_window_bits == 10


def test_client_request_parses_back() -> None:
    data = format_client_request(
        "example.com", "/chat", KEY, subprotocols=["a", "b"], extensions="permessage-deflate"
    )
    parsed = parse_upgrade_request(head_of(data))
    assert parsed.key == KEY
    assert parsed.subprotocols == ("a", "b")
    assert parsed.extensions == (("permessage-deflate", ()),)
