"""Proxy headers: who the client is, and which scheme it used, behind trusted proxies.

A reverse proxy (nginx, a cloud load balancer) connects to us itself, so the
peer address is the proxy's and the scheme is whatever the proxy spoke to us.
It reports the original request in ``Forwarded`` (RFC 7239) or in the de facto
``X-Forwarded-For`` / ``X-Forwarded-Proto`` / ``X-Forwarded-Host``.

Anyone can send these headers, so they are believed only from a trusted peer
(``--forwarded-allow-ips``). Each proxy appends the address it got the request
from, so the list reads client, proxy1, proxy2, ...; walking it from the right,
every trusted hop is skipped and the first address not trusted is the client
(a client's own fake entries sit to the left of it and are never reached).

Pure: strings in, a ``ForwardedRequest`` out; no sockets.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from barehttp.protocol.grammar import HOST, token

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_FORWARDED_ALLOW_IPS = "127.0.0.1,::1"
# Bounds the work one request can cause: a proxy chain longer than this is not believed.
MAX_FORWARDED_HOPS = 32

# RFC 7239 §4: forwarded-pair = token "=" value; value = token / quoted-string.
# The quoted form is read leniently here (any escaped character), as before.
_PAIR = re.compile(rf'\s*({token})=({token}|"(?:[^"\\]|\\.)*")\s*')
_PROTO = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")  # RFC 3986 §3.1 scheme


class TrustedProxies:
    """The peers whose proxy headers are believed: addresses, CIDR ranges, or every peer."""

    __slots__ = ("_networks", "trusts_everyone")

    def __init__(self, networks: Sequence[Network] = (), *, trusts_everyone: bool = False) -> None:
        self._networks = tuple(networks)
        self.trusts_everyone = trusts_everyone

    @classmethod
    def parse(cls, text: str) -> TrustedProxies:
        """``"127.0.0.1,::1"``, ``"10.0.0.0/8, fd00::/8"``, ``"*"`` or ``""`` (nobody).

        Raises:
            ValueError: naming the entry that is not an address or a range.
        """
        entries = [entry.strip() for entry in text.split(",") if entry.strip()]
        if "*" in entries:
            return cls(trusts_everyone=True)
        networks: list[Network] = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(f"not an IP address or CIDR range: {entry!r}") from None
        return cls(networks)

    def is_trusted(self, address: str) -> bool:
        if self.trusts_everyone:
            return True
        parsed = parse_address(address)
        if parsed is None:
            return False
        if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
            parsed = parsed.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
        return any(parsed in network for network in self._networks)


@dataclass(frozen=True, slots=True)
class ForwardedRequest:
    """What the proxies report; None where they report nothing usable."""

    client: str | None = None
    scheme: str | None = None
    host: str | None = None


@dataclass(frozen=True, slots=True)
class _Hop:
    node: str  # "for" of this hop: the address the proxy got the request from
    proto: str | None = None
    host: str | None = None


def parse_address(text: str) -> Address | None:
    """An IP address from a node (``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``, ``::1``)."""
    text = text.strip()
    if text.startswith("["):  # RFC 7239 §6: IPv6 in brackets, maybe with a port
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # IPv4 with a port
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def parse_forwarded(value: str) -> list[_Hop] | None:
    """The hops of a ``Forwarded`` value (RFC 7239 §4), None if it is malformed.

    Element order is hop order; a pair repeated in one element is an error
    (§4: "each parameter MUST NOT occur more than once per forwarded-element").
    """
    hops: list[_Hop] = []
    for element in _split_outside_quotes(value, ","):
        pairs: dict[str, str] = {}
        for pair in _split_outside_quotes(element, ";"):
            if not pair.strip():
                continue
            match = _PAIR.fullmatch(pair)
            if match is None:
                return None
            name = match.group(1).lower()
            if name in pairs:
                return None
            raw = match.group(2)
            pairs[name] = re.sub(r"\\(.)", r"\1", raw[1:-1]) if raw.startswith('"') else raw
        hops.append(_Hop(pairs.get("for", ""), pairs.get("proto"), pairs.get("host")))
    return hops


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _x_forwarded_hops(
    for_values: list[str], proto_values: list[str], host_values: list[str]
) -> list[_Hop]:
    nodes = _list_items(for_values)
    protos = _list_items(proto_values)
    hosts = _list_items(host_values)

    if not nodes:  # X-Forwarded-Proto alone (from a TLS-terminating proxy, say)
        return [_Hop("", protos[-1] if protos else None, hosts[-1] if hosts else None)]

    def matching(values: list[str], index: int) -> str | None:
        # One value per hop: the hop's own. Otherwise (nginx sets one value with
        # proxy_set_header) the right-most, the one the nearest proxy wrote.
        if len(values) == len(nodes):
            return values[index]
        return values[-1] if values else None

    return [
        _Hop(node, matching(protos, index), matching(hosts, index))
        for index, node in enumerate(nodes)
    ]


def _list_items(values: list[str]) -> list[str]:
    """The items of a comma-separated field, over all its lines (RFC 9110 §5.6.1)."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def resolve_forwarded(
    peer: str,
    fields: list[tuple[str, str]],
    trusted: TrustedProxies,
    *,
    is_peer_trusted: bool | None = None,
) -> ForwardedRequest:
    """What trusted proxies say about the request ``peer`` sent us.

    ``fields`` are the request's header fields (names lower-case). ``Forwarded``
    wins over the ``X-Forwarded-*`` fields when both are present.
    ``is_peer_trusted`` overrides the check of ``peer`` against ``trusted``.
    """
    if not (trusted.is_trusted(peer) if is_peer_trusted is None else is_peer_trusted):
        return ForwardedRequest()
    forwarded = [value for name, value in fields if name == "forwarded"]
    hops: list[_Hop] | None
    if forwarded:
        hops = parse_forwarded(",".join(forwarded))
    else:
        hops = _x_forwarded_hops(
            [value for name, value in fields if name == "x-forwarded-for"],
            [value for name, value in fields if name == "x-forwarded-proto"],
            [value for name, value in fields if name == "x-forwarded-host"],
        )
    if not hops or len(hops) > MAX_FORWARDED_HOPS:
        return ForwardedRequest()
    chosen = hops[0]
    for hop in reversed(hops):  # right to left: skip the trusted proxies
        chosen = hop
        if not trusted.is_trusted(hop.node):
            break
    address = parse_address(chosen.node)
    return ForwardedRequest(
        client=str(address) if address is not None else None,
        scheme=_valid_scheme(chosen.proto),
        host=chosen.host if chosen.host and HOST.fullmatch(chosen.host) else None,
    )


def _valid_scheme(proto: str | None) -> str | None:
    if proto is None or not _PROTO.fullmatch(proto):
        return None
    proto = proto.lower()
    return proto if proto in ("http", "https") else None
