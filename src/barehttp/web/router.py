"""Router: method + path patterns with ``{param}`` segments, 404 vs 405, HEAD, mounts."""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import quote, unquote_to_bytes

from barehttp.web.errors import MethodNotAllowed, NotFound
from barehttp.web.request import Request
from barehttp.web.response import RedirectResponse, Response

RequestHandler = Callable[[Request], Response]

# "{name}" matches one segment; "{name:path}" matches the rest of the path, slashes included.
_PARAMETER = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?}")
_CONVERTERS = {"str": "[^/]+", "path": ".+"}
# Stands for a slash decoded from "%2F" inside a segment while routing: it matches
# no "/" of a pattern or mount prefix. NUL, because a path holding one is refused
# (400) before routing, so it never stands for itself.
ENCODED_SLASH = "\x00"
_HAS_ENCODED_SLASH = re.compile("%2[fF]")


class Match(enum.Enum):
    NONE = enum.auto()  # path differs: 404 if nothing else matches
    PARTIAL = enum.auto()  # path matches, method does not: 405
    FULL = enum.auto()


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The regex for a route pattern such as ``/users/{user_id}/files/{name:path}``.

    Raises:
        ValueError: for a pattern not starting with "/", stray braces, an unknown
            converter, or a parameter named twice.
    """
    if not pattern.startswith("/"):
        raise ValueError(f"route pattern must start with '/': {pattern!r}")
    parts: list[str] = []
    names: set[str] = set()
    position = 0
    for parameter in _PARAMETER.finditer(pattern):
        parts.append(_escape_literal(pattern[position : parameter.start()], pattern))
        name, converter = parameter.group(1), parameter.group(2) or "str"
        if converter not in _CONVERTERS:
            raise ValueError(f"unknown converter {converter!r} in {pattern!r}")
        if name in names:
            raise ValueError(f"parameter {name!r} appears twice in {pattern!r}")
        names.add(name)
        parts.append(f"(?P<{name}>{_CONVERTERS[converter]})")
        position = parameter.end()
    parts.append(_escape_literal(pattern[position:], pattern))
    return re.compile("".join(parts))


def _escape_literal(literal: str, pattern: str) -> str:
    if "{" in literal or "}" in literal:
        raise ValueError(f"malformed parameter in route pattern {pattern!r}")
    return re.escape(literal)


@dataclass(frozen=True, slots=True)
class Route:
    pattern: str
    methods: frozenset[str]
    handler: RequestHandler
    regex: re.Pattern[str] = field(repr=False)

    def match(self, method: str, path: str) -> tuple[Match, dict[str, str]]:
        found = self.regex.fullmatch(path)
        if found is None:
            return Match.NONE, {}
        return (Match.FULL if method in self.methods else Match.PARTIAL), found.groupdict()


@dataclass(frozen=True, slots=True)
class Resolution:
    """The handler chosen for a request and the parameters it gets."""

    handler: RequestHandler
    params: dict[str, str]


class Router:
    """Routes in the order added; the first full match wins.

    A GET route also answers HEAD unless a HEAD route matches first (RFC 9110
    §9.3.2), and OPTIONS is answered with ``Allow`` for any routed path. Mounts
    are tried after routes, longest prefix first; a GET or HEAD for a mount's
    prefix without its trailing slash is redirected to the slash form. A Router
    is itself a ``(Request) -> Response`` handler.
    """

    def __init__(self) -> None:
        self._routes: list[Route] = []
        self._mounts: list[tuple[str, RequestHandler]] = []

    def add(self, methods: str | Iterable[str], pattern: str, handler: RequestHandler) -> Route:
        method_set = frozenset([methods] if isinstance(methods, str) else methods)
        if not method_set:
            raise ValueError(f"route {pattern!r} has no methods")
        route = Route(pattern, method_set, handler, compile_pattern(pattern))
        self._routes.append(route)
        return route

    def mount(self, prefix: str, handler: RequestHandler) -> None:
        """Send every request under ``prefix`` to ``handler``, any method.

        The handler finds the rest of the path, still decoded, in ``request.params["path"]``.
        GET or HEAD of the prefix without its slash ("/images") is redirected to
        "/images/" unless a route matches that path.
        """
        if not prefix.startswith("/"):
            raise ValueError(f"mount prefix must start with '/': {prefix!r}")
        prefix = prefix.rstrip("/") + "/"  # "/images" must not swallow "/imagesXYZ"
        self._mounts.append((prefix, handler))
        self._mounts.sort(key=lambda mount: len(mount[0]), reverse=True)

    def resolve(self, method: str, path: str) -> Resolution:
        """Pick the handler for ``method`` and decoded ``path`` (see `routing_path`).

        Raises:
            NotFound: nothing matches the path.
            MethodNotAllowed: routes match the path, but none takes the method.
        """
        if path == "*":  # asterisk-form, which the parser lets through for OPTIONS only
            # RFC 9110 §9.3.7: OPTIONS * asks about the server in general.
            return Resolution(_answer_options(self._server_methods()), {})
        allowed: set[str] = set()
        head_fallback: Resolution | None = None
        for route in self._routes:
            match, params = route.match(method, path)
            if match is Match.FULL:
                return Resolution(route.handler, params)
            if match is Match.PARTIAL:
                allowed |= route.methods
                if method == "HEAD" and head_fallback is None and "GET" in route.methods:
                    head_fallback = Resolution(route.handler, params)
        if head_fallback is not None:
            return head_fallback
        if allowed:
            allowed |= {"HEAD", "OPTIONS"} if "GET" in allowed else {"OPTIONS"}
            if method == "OPTIONS":
                return Resolution(_answer_options(sorted(allowed)), {})
            raise MethodNotAllowed(allowed)
        for prefix, handler in self._mounts:
            if path.startswith(prefix):
                return Resolution(handler, {"path": path[len(prefix) :]})
            # A directory redirect, as nginx and Apache do. Other methods keep the
            # usual answer: a client should not resend a body to a guessed URL.
            if path == prefix[:-1] and method in ("GET", "HEAD"):
                return Resolution(_redirect_to_mount(prefix), {})
        raise NotFound()

    def _server_methods(self) -> list[str]:
        """Every method some route takes; mounts serve GET and HEAD."""
        methods = {"OPTIONS"}
        for route in self._routes:
            methods |= route.methods
        if self._mounts or "GET" in methods:
            methods |= {"GET", "HEAD"}
        return sorted(methods)

    def __call__(self, request: Request) -> Response:
        resolution = self.resolve(request.method, routing_path(request))
        request.params = {
            name: value.replace(ENCODED_SLASH, "/") for name, value in resolution.params.items()
        }
        return resolution.handler(request)


def routing_path(request: Request) -> str:
    """The decoded path, split on the slashes as sent: "%2F" is never a separator.

    RFC 3986 §2.2: a percent-encoded reserved character is data, not a delimiter.
    Were "/api%2Fusage" routed as "/api/usage", a front proxy that filters "/api/"
    on the raw path would be bypassed. Decoded slashes become `ENCODED_SLASH`, so
    they match parameters (given back as "/") but no literal "/"; StaticFiles
    decodes segment by segment too.

    Raises:
        BadRequest: the decoded path is not UTF-8 or holds NUL (`Request.path`).
    """
    path = request.path  # validates the whole path first
    raw_path = request.raw_path
    if not _HAS_ENCODED_SLASH.search(raw_path):
        return path
    return "/".join(
        unquote_to_bytes(segment.encode("latin-1")).decode("utf-8").replace("/", ENCODED_SLASH)
        for segment in raw_path.split("/")
    )


def _redirect_to_mount(prefix: str) -> RequestHandler:
    # The registered prefix, never the Host header or raw path: no open redirect.
    location = quote(prefix)  # the prefix is compared decoded, so "%" must become "%25"

    def redirect(request: Request) -> Response:
        query = request.query_string
        target = f"{location}?{query}" if query else location
        return RedirectResponse(target, 308)  # RFC 9110 §15.4.9: permanent, keeps the method

    return redirect


def _answer_options(allowed: list[str]) -> RequestHandler:
    def answer(request: Request) -> Response:
        return Response(b"", 200, [("Allow", ", ".join(allowed))])

    return answer
