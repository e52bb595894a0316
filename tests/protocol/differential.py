"""Differential framing check: barehttp's parser against h11 on generated request streams.

Shared by ``test_differential.py`` (hypothesis, a fixed seed) and ``bench/fuzz.py``
(long random and coverage-guided runs). ``generate_stream`` builds pipelined
requests near the edges of the grammar from a ``Chooser``, so that the same
generator runs on hypothesis draws, on ``random.Random`` and on atheris bytes.

``check_stream`` returns a one-line description of a problem, or None:

- a crash: barehttp raised something other than ``HTTPError``;
- split dependence: the events (and error) differ with the bytes' split points;
- a disagreement: both parsers accept a message but differ on its method, target,
  version, body or where it ends; or barehttp accepts a message h11 refuses
  (the leniencies allowed, each with the RFC text that allows it: empty lines
  before a request in ``parse_with_h11``, whitespace before a chunk extension in
  ``is_allowed_leniency``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import h11

from barehttp.protocol.errors import HTTPError
from barehttp.protocol.events import BodyData, EndOfMessage, RequestHead
from barehttp.protocol.limits import Limits
from barehttp.protocol.parser import ParseState, RequestParser

T = TypeVar("T")


class Chooser(Protocol):
    """Where the generator's decisions come from."""

    def choice(self, options: Sequence[T]) -> T: ...
    def integer(self, low: int, high: int) -> int: ...


@dataclass(frozen=True)
class Parsed:
    """One complete message: what both parsers must agree on."""

    method: bytes
    target: bytes
    version: bytes  # b"1.0" or b"1.1"
    body: bytes
    keep_alive: bool


@dataclass
class Result:
    messages: list[Parsed]
    refused: bool  # an error before the end of the bytes
    error: str = ""


# -- generator -----------------------------------------------------------------

METHODS = [b"GET"] * 4 + [b"POST"] * 4 + [b"PUT", b"OPTIONS", b"M-SEARCH", b"get", b"CONNECT"]
TARGETS = [
    b"/",
    b"/a/b?x=1&y=%20",
    b"/%41%zz",
    b"*",
    b"http://example.com/p?q",
    b"http://example.com",
    b"example.com:443",
    b"/caf\xe9",
    b"/a#frag",
    b"/a b",
    b"/a\x7f",
    b"//",
    b"/?",
]
VERSIONS = [b"HTTP/1.1"] * 6 + [b"HTTP/1.0"] * 2 + [b"HTTP/1.2", b"HTTP/2.0", b"http/1.1"]
SEPARATORS = [b" "] * 12 + [b"  ", b"\t"]
EOLS = [b"\r\n"] * 20 + [b"\n", b"\r"]
HOSTS = [[b"Host: example.com"]] * 8 + [
    [],
    [b"Host:"],
    [b"Host: a", b"Host: b"],
    [b"Host: a b"],
    [b"Host: [::1]:80"],
    [b"Host: user@a"],
]
CONTENT_LENGTH_FORMS = [b"%d"] * 6 + [b"0%d", b" %d ", b"%d, %d", b"+%d", b"%d,", b"%dx"]
TRANSFER_ENCODINGS = [[b"Transfer-Encoding: chunked"]] * 6 + [
    [b"Transfer-Encoding: Chunked"],
    [b"Transfer-Encoding: chunked,"],
    [b"Transfer-Encoding: ,chunked"],
    [b"Transfer-Encoding: , ,chunked, "],
    [b"Transfer-Encoding: gzip, chunked"],
    [b"Transfer-Encoding: chunked, gzip"],
    [b"Transfer-Encoding: identity"],
    [b"Transfer-Encoding: chunked", b"Transfer-Encoding:"],
    [b"Transfer-Encoding:", b"Transfer-Encoding: chunked"],
    [b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked"],
    [b"Transfer-Encoding: chunked", b"Content-Length: 3"],
    [b"Transfer-Encoding : chunked"],
    [b"Transfer-Encoding: \x0bchunked"],
]
EXTRA_FIELDS = [
    b"X-A: 1",
    b"Accept: */*",
    b"X-Obs: caf\xe9",
    b"X-Tab: a\tb",
    b"X-Empty:",
    b" folded",
    b"X-Space : v",
    b": no-name",
    b"X-Nul: a\x00b",
    b"Connection: close",
    b"Connection: keep-alive",
    b"Connection: ,,close",
    b"Expect: 100-continue",
    b"Expect: teapot",
    b"Content-Length: 0",
]
CHUNK_SIZE_FORMS = [b"%x"] * 6 + [b"%X", b"00%x", b"%x ", b" %x", b"0x%x", b"-%x"]
CHUNK_EXTENSIONS = [
    b"",
    b";a",
    b";a=b",
    b' ;q="x;\\"y"',
    b";",
    b';a="x',
    b";a=\xe9",
    b";a=",
    b"; a = b",
    b";a\rb",
]
TRAILERS = [b"X-T: 1", b"X-Obs: \xe9", b" folded", b"Bad Name: x", b"Content-Length: 5"]
BODY_BYTES = [b"hello", b"\r\n", b"0\r\n\r\n", b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", b"x"]


def _pick(chooser: Chooser, options: Sequence[T]) -> T:
    """The first option (the valid one) seven times in eight, else any."""
    return options[0] if chooser.integer(0, 7) else chooser.choice(options)


def _body(chooser: Chooser) -> bytes:
    return b"".join(chooser.choice(BODY_BYTES) for _ in range(chooser.integer(0, 3)))


def _chunked_body(chooser: Chooser) -> bytes:
    out = b""
    for _ in range(chooser.integer(0, 3)):
        data = _body(chooser) or b"z"
        size = len(data) + chooser.choice([0] * 10 + [-1, 1])
        out += _pick(chooser, CHUNK_SIZE_FORMS) % max(size, 0) + _pick(chooser, CHUNK_EXTENSIONS)
        out += _pick(chooser, EOLS) + data + _pick(chooser, EOLS)
    out += b"0" + _pick(chooser, CHUNK_EXTENSIONS) + _pick(chooser, EOLS)
    for _ in range(chooser.choice([0, 0, 0, 1, 2])):
        out += _pick(chooser, TRAILERS) + _pick(chooser, EOLS)
    return out + _pick(chooser, EOLS)


def generate_request(chooser: Chooser) -> bytes:
    """One request near the edges: mostly valid, each part sometimes broken."""
    separator = _pick(chooser, SEPARATORS)
    line = chooser.choice(METHODS) + separator + _pick(chooser, TARGETS)
    line += _pick(chooser, SEPARATORS) + _pick(chooser, VERSIONS)
    lines = [line, *_pick(chooser, HOSTS)]
    lines += [_pick(chooser, EXTRA_FIELDS) for _ in range(chooser.choice([0, 0, 1, 2]))]
    framing = chooser.choice(["none", "none", "length", "length", "chunked", "chunked"])
    body = b""
    if framing == "length":
        body = _body(chooser)
        declared = len(body) + chooser.choice([0] * 10 + [-1, 1])
        form = _pick(chooser, CONTENT_LENGTH_FORMS)
        value = form % ((declared, declared) if form.count(b"%d") == 2 else declared)
        lines += [b"Content-Length: " + value] * chooser.choice([1, 1, 1, 1, 2])
    elif framing == "chunked":
        lines += _pick(chooser, TRANSFER_ENCODINGS)
        body = _chunked_body(chooser)
    eol = _pick(chooser, EOLS)
    prefix = chooser.choice([b""] * 8 + [b"\r\n"])
    return prefix + eol.join(lines) + eol + _pick(chooser, EOLS) + body


def generate_stream(chooser: Chooser) -> bytes:
    """One to three pipelined requests, sometimes cut short."""
    data = b"".join(generate_request(chooser) for _ in range(chooser.integer(1, 3)))
    if chooser.integer(0, 9) == 0:
        data = data[: chooser.integer(0, len(data))]
    return data


def generate_splits(chooser: Chooser, length: int) -> list[int]:
    return [chooser.integer(1, max(1, length - 1)) for _ in range(chooser.integer(0, 6))]


# -- parsers -------------------------------------------------------------------


def parse_with_barehttp(
    data: bytes, splits: Sequence[int] = (), limits: Limits | None = None
) -> tuple[list[tuple[object, ...]], int | None, Result]:
    """The event log and error status (to compare splits), and the messages."""
    parser = RequestParser(limits)
    log: list[tuple[object, ...]] = []
    messages: list[Parsed] = []
    head: RequestHead | None = None
    body = bytearray()
    cuts = sorted({cut for cut in splits if 0 < cut < len(data)})
    pieces = [data[start:end] for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    try:
        for piece in pieces:
            events = parser.feed(piece)
            while True:
                for event in events:
                    if isinstance(event, RequestHead):
                        head = event
                        log.append(("head", event.method, event.target, event.http_version))
                    elif isinstance(event, BodyData):
                        body += event.data
                    elif isinstance(event, EndOfMessage):
                        assert head is not None
                        log.append(("body", bytes(body), event.trailers.items()))
                        messages.append(
                            Parsed(
                                head.method.encode(),
                                head.target.encode("latin-1"),
                                head.http_version[5:].encode(),
                                bytes(body),
                                head.keep_alive,
                            )
                        )
                        head = None
                        body.clear()
                if parser.state is ParseState.FAILED:
                    parser.feed(b"")  # raises the error met after these events
                if parser.state is not ParseState.DONE:
                    break
                parser.start_next()
                events = parser.feed(b"")
    except HTTPError as error:
        if head is not None:
            log.append(("partial", bytes(body)))
        return log, error.status, Result(messages, True, error.message)
    return log, None, Result(messages, False)


def parse_with_h11(data: bytes) -> Result:
    """Complete messages per h11 as a server: one h11 connection per message, fed what
    the previous one left (its ``trailing_data``), until one must close."""
    messages: list[Parsed] = []
    while True:
        # RFC 9112 §2.2: "a server that is expecting to receive and parse a request-line
        # SHOULD ignore at least one empty line (CRLF) received prior to the
        # request-line". barehttp does (before every request); h11 refuses any, so
        # they are dropped before h11 sees them. The one leniency allowed over h11.
        while data.startswith(b"\r\n"):
            data = data[2:]
        if not data:
            return Result(messages, False)
        connection = h11.Connection(h11.SERVER, max_incomplete_event_size=1 << 20)
        connection.receive_data(data)
        request: h11.Request | None = None
        body = bytearray()
        try:
            while True:
                event = connection.next_event()
                if event is h11.NEED_DATA or event is h11.PAUSED:
                    return Result(messages, False)
                if isinstance(event, h11.Request):
                    request = event
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    break
        except h11.RemoteProtocolError as error:
            return Result(messages, True, str(error))
        assert request is not None
        # RFC 9110 §2.5: a higher 1.x minor version is answered as 1.1, as here.
        version = request.http_version if request.http_version == b"1.0" else b"1.1"
        keep_alive = connection.their_state is h11.DONE
        messages.append(Parsed(request.method, request.target, version, bytes(body), keep_alive))
        if not keep_alive:
            return Result(messages, False)
        data = connection.trailing_data[0]


# -- comparison ----------------------------------------------------------------


def is_allowed_leniency(reference: Result) -> bool:
    """True when h11 refused for a reason the RFC allows (the grammar allows the bytes)."""
    # RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name ... ): whitespace before
    # the ";" of an extension is in the grammar ("1 ;a=b"); h11 refuses it, barehttp takes it.
    return "illegal chunk header" in reference.error and (
        " ;" in reference.error or "\\t;" in reference.error
    )


def compare(barehttp: Result, reference: Result, name: str = "h11") -> str | None:
    """A description of a framing disagreement, or None."""
    ours, theirs = barehttp.messages, reference.messages
    # Both stop at the first message after which the connection must close.
    for index, (mine, other) in enumerate(zip(ours, theirs, strict=False)):
        if (mine.method, mine.target, mine.version, mine.body) != (
            other.method,
            other.target,
            other.version,
            other.body,
        ):
            return f"message {index} differs from {name}: {mine} != {other}"
        if not mine.keep_alive or not other.keep_alive:
            return None
    if len(ours) > len(theirs) and reference.refused and not is_allowed_leniency(reference):
        return f"barehttp accepts message {len(theirs)}, {name} refuses: {reference.error}"
    return None


def check_stream(data: bytes, splits: Sequence[int], limits: Limits | None = None) -> str | None:
    """Crash, split dependence, or disagreement with h11, as one line (None: all well)."""
    try:
        whole_log, whole_status, ours = parse_with_barehttp(data, (), limits)
        split_log, split_status, _ = parse_with_barehttp(data, splits, limits)
        bytewise = parse_with_barehttp(data, range(1, len(data)), limits)[:2]
    except Exception as error:  # anything but HTTPError is a crash
        return f"crash: {type(error).__name__}: {error}"
    if (split_log, split_status) != (whole_log, whole_status):
        return f"split dependence at {sorted(set(splits))}: {whole_status} vs {split_status}"
    if bytewise != (whole_log, whole_status):
        return "split dependence when fed byte by byte"
    return compare(ours, parse_with_h11(data))


def minimize(data: bytes, is_failing: Callable[[bytes], bool]) -> bytes:
    """Drop bytes while the failure remains (greedy, chunks halving down to one byte)."""
    size = max(1, len(data) // 2)
    while size >= 1:
        index = 0
        while index < len(data):
            candidate = data[:index] + data[index + size :]
            if candidate != data and is_failing(candidate):
                data = candidate
            else:
                index += size
        size //= 2
    return data
