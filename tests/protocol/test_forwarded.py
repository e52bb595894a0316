"""Proxy headers: trusted peers, the right-most untrusted address, RFC 7239 Forwarded."""

from __future__ import annotations

import pytest

from barehttp.protocol.forwarded import (
    MAX_FORWARDED_HOPS,
    ForwardedRequest,
    TrustedProxies,
    parse_address,
    resolve_forwarded,
)

LOCAL = TrustedProxies.parse("127.0.0.1,::1")
PRIVATE = TrustedProxies.parse("127.0.0.1, 10.0.0.0/8, fd00::/8")
EVERYONE = TrustedProxies.parse("*")


@pytest.mark.parametrize(
    ("trusted", "address", "expected"),
    [
        (LOCAL, "127.0.0.1", True),
        (LOCAL, "::1", True),
        (LOCAL, "::ffff:127.0.0.1", True),
        (LOCAL, "127.0.0.2", False),
        (LOCAL, "unknown", False),
        (PRIVATE, "10.20.30.40", True),
        (PRIVATE, "fd12::1", True),
        (PRIVATE, "11.0.0.1", False),
        (EVERYONE, "203.0.113.9", True),
        (TrustedProxies.parse(""), "127.0.0.1", False),
    ],
    ids=[
        "ipv4",
        "ipv6",
        "ipv4-mapped",
        "other-loopback",
        "not-an-address",
        "cidr-v4",
        "cidr-v6",
        "outside-cidr",
        "star",
        "empty-list-trusts-nobody",
    ],
)
def test_trusts_listed_addresses_and_ranges(
    trusted: TrustedProxies, address: str, expected: bool
) -> None:
    assert trusted.is_trusted(address) is expected


@pytest.mark.parametrize("text", ["10.0.0.0/33", "example.com", "1.2.3"])
def test_refuses_a_bad_allow_list_entry_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match="not an IP address or CIDR range"):
        TrustedProxies.parse(f"127.0.0.1,{text}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("192.0.2.1:8080", "192.0.2.1"),
        ("[2001:db8::1]:4711", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("unknown", None),
        ("_hidden", None),
        ("", None),
    ],
)
def test_parses_node_addresses(text: str, expected: str | None) -> None:
    parsed = parse_address(text)
    assert (str(parsed) if parsed is not None else None) == expected


PEER = "127.0.0.1"

CASES: list[tuple[str, str, list[tuple[str, str]], TrustedProxies, ForwardedRequest]] = [
    (
        "untrusted-peer-is-left-alone",
        "203.0.113.5",
        [("x-forwarded-for", "198.51.100.1"), ("x-forwarded-proto", "https")],
        LOCAL,
        ForwardedRequest(),
    ),
    ("no-headers", PEER, [], LOCAL, ForwardedRequest()),
    (
        "x-forwarded-for-one-hop",
        PEER,
        [("x-forwarded-for", "198.51.100.1"), ("x-forwarded-proto", "https")],
        LOCAL,
        ForwardedRequest("198.51.100.1", "https"),
    ),
    (
        "right-most-untrusted-wins-over-spoofed-left",
        PEER,
        [("x-forwarded-for", "6.6.6.6, 198.51.100.1")],
        LOCAL,
        ForwardedRequest("198.51.100.1"),
    ),
    (
        "trusted-hops-are-skipped",
        PEER,
        [("x-forwarded-for", "6.6.6.6, 198.51.100.1, 10.0.0.2, 10.0.0.3")],
        PRIVATE,
        ForwardedRequest("198.51.100.1"),
    ),
    (
        "repeated-field-lines-join",
        PEER,
        [("x-forwarded-for", "198.51.100.1"), ("x-forwarded-for", "10.0.0.2")],
        PRIVATE,
        ForwardedRequest("198.51.100.1"),
    ),
    (
        "all-trusted-gives-left-most",
        PEER,
        [("x-forwarded-for", "10.0.0.1, 10.0.0.2")],
        PRIVATE,
        ForwardedRequest("10.0.0.1"),
    ),
    (
        "star-trusts-every-hop",
        "203.0.113.5",
        [("x-forwarded-for", "198.51.100.1, 192.0.2.9")],
        EVERYONE,
        ForwardedRequest("198.51.100.1"),
    ),
    (
        "ipv6-client",
        "::1",
        [("x-forwarded-for", "2001:db8::7")],
        LOCAL,
        ForwardedRequest("2001:db8::7"),
    ),
    (
        "proto-per-hop-matches-client-hop",
        PEER,
        [("x-forwarded-for", "198.51.100.1, 10.0.0.2"), ("x-forwarded-proto", "https, http")],
        PRIVATE,
        ForwardedRequest("198.51.100.1", "https"),
    ),
    (
        "single-proto-is-the-nearest-proxy",
        PEER,
        [("x-forwarded-for", "198.51.100.1, 10.0.0.2"), ("x-forwarded-proto", "HTTPS")],
        PRIVATE,
        ForwardedRequest("198.51.100.1", "https"),
    ),
    (
        "proto-alone",
        PEER,
        [("x-forwarded-proto", "https")],
        LOCAL,
        ForwardedRequest(None, "https"),
    ),
    (
        "unknown-proto-ignored",
        PEER,
        [("x-forwarded-for", "198.51.100.1"), ("x-forwarded-proto", "gopher")],
        LOCAL,
        ForwardedRequest("198.51.100.1"),
    ),
    (
        "x-forwarded-host",
        PEER,
        [("x-forwarded-for", "198.51.100.1"), ("x-forwarded-host", "example.com:8443")],
        LOCAL,
        ForwardedRequest("198.51.100.1", None, "example.com:8443"),
    ),
    (
        "bad-host-ignored",
        PEER,
        [("x-forwarded-for", "198.51.100.1"), ("x-forwarded-host", "evil.com/path")],
        LOCAL,
        ForwardedRequest("198.51.100.1"),
    ),
    (
        "not-an-address-keeps-peer",
        PEER,
        [("x-forwarded-for", "unknown"), ("x-forwarded-proto", "https")],
        LOCAL,
        ForwardedRequest(None, "https"),
    ),
    (
        "forwarded-rfc7239",
        PEER,
        [("forwarded", 'for=198.51.100.1;proto=https;host="example.com"')],
        LOCAL,
        ForwardedRequest("198.51.100.1", "https", "example.com"),
    ),
    (
        "forwarded-ipv6-with-port",
        PEER,
        [("forwarded", 'For="[2001:db8:cafe::17]:4711";Proto=HTTPS')],
        LOCAL,
        ForwardedRequest("2001:db8:cafe::17", "https"),
    ),
    (
        "forwarded-chain-right-most-untrusted",
        PEER,
        [("forwarded", "for=6.6.6.6;proto=http, for=198.51.100.1;proto=https, for=10.0.0.2")],
        PRIVATE,
        ForwardedRequest("198.51.100.1", "https"),
    ),
    (
        "forwarded-wins-over-x-forwarded",
        PEER,
        [("x-forwarded-for", "192.0.2.200"), ("forwarded", "for=198.51.100.1")],
        LOCAL,
        ForwardedRequest("198.51.100.1"),
    ),
    (
        "forwarded-quoted-comma-is-not-a-separator",
        PEER,
        [("forwarded", 'for=198.51.100.1;host="a,b"')],
        LOCAL,
        ForwardedRequest("198.51.100.1", None, "a,b"),
    ),
    (
        "forwarded-malformed-is-ignored",
        PEER,
        [("forwarded", "for=198.51.100.1;proto")],
        LOCAL,
        ForwardedRequest(),
    ),
    (
        "forwarded-repeated-parameter-is-malformed",
        PEER,
        [("forwarded", "for=198.51.100.1;for=192.0.2.1")],
        LOCAL,
        ForwardedRequest(),
    ),
    (
        "too-many-hops-not-believed",
        PEER,
        [("x-forwarded-for", ", ".join(["198.51.100.1"] * (MAX_FORWARDED_HOPS + 1)))],
        LOCAL,
        ForwardedRequest(),
    ),
]


@pytest.mark.parametrize(
    ("peer", "fields", "trusted", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_resolves_client_scheme_and_host(
    peer: str,
    fields: list[tuple[str, str]],
    trusted: TrustedProxies,
    expected: ForwardedRequest,
) -> None:
    assert resolve_forwarded(peer, fields, trusted) == expected
