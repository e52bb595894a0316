import pytest

from barehttp.web.errors import MethodNotAllowed, NotFound
from barehttp.web.request import Request
from barehttp.web.response import Response
from barehttp.web.router import Match, RequestHandler, Router, compile_pattern
from tests.web.fakes import make_request


def named(name: str) -> RequestHandler:
    def handler(request: Request) -> Response:
        return Response.text(name)

    handler.__name__ = name
    return handler


@pytest.fixture
def router() -> Router:
    router = Router()
    router.add("GET", "/", named("index"))
    router.add(["GET", "POST"], "/users", named("users"))
    router.add("GET", "/users/me", named("me"))
    router.add("GET", "/users/{user_id}", named("user"))
    router.add("DELETE", "/users/{user_id}", named("delete-user"))
    router.add("GET", "/files/{name:path}", named("file"))
    router.add("GET", "/probe", named("probe-get"))
    router.add("HEAD", "/probe", named("probe-head"))
    router.add("POST", "/submit", named("submit"))
    router.mount("/static", named("static"))
    router.mount("/static/images/", named("images"))
    return router


@pytest.mark.parametrize(
    ("method", "path", "handler", "params"),
    [
        ("GET", "/", "index", {}),
        ("POST", "/users", "users", {}),
        ("GET", "/users/me", "me", {}),
        ("GET", "/users/42", "user", {"user_id": "42"}),
        ("DELETE", "/users/42", "delete-user", {"user_id": "42"}),
        ("GET", "/users/caf\u00e9", "user", {"user_id": "caf\u00e9"}),
        ("GET", "/files/a/b/c.txt", "file", {"name": "a/b/c.txt"}),
        ("HEAD", "/users/42", "user", {"user_id": "42"}),
        ("HEAD", "/probe", "probe-head", {}),
        ("GET", "/probe", "probe-get", {}),
        ("GET", "/static/site.css", "static", {"path": "site.css"}),
        ("POST", "/static/", "static", {"path": ""}),
        ("GET", "/static/images/logo.png", "images", {"path": "logo.png"}),
    ],
    ids=[
        "root",
        "second-method",
        "literal-before-parameter",
        "parameter",
        "same-path-other-method",
        "decoded-parameter",
        "path-converter-takes-slashes",
        "head-answered-by-get",
        "explicit-head-route-wins",
        "get-not-taken-by-head-route",
        "mount",
        "mount-any-method-empty-rest",
        "longest-mount-wins",
    ],
)
def test_resolves(
    router: Router, method: str, path: str, handler: str, params: dict[str, str]
) -> None:
    resolution = router.resolve(method, path)
    assert resolution.handler.__name__ == handler
    assert resolution.params == params


@pytest.mark.parametrize(
    "path",
    ["/nope", "/users/", "/users/42/extra", "/files/", "/staticfile", "/USERS"],
    ids=[
        "unknown",
        "empty-segment",
        "extra-segment",
        "path-converter-needs-one-char",
        "mount-prefix-is-a-directory",
        "case-sensitive",
    ],
)
def test_not_found(router: Router, path: str) -> None:
    with pytest.raises(NotFound) as raised:
        router.resolve("GET", path)
    assert raised.value.status == 404


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/users", ("GET", "HEAD", "OPTIONS", "POST")),
        ("POST", "/users/42", ("DELETE", "GET", "HEAD", "OPTIONS")),
        ("GET", "/submit", ("OPTIONS", "POST")),
        ("HEAD", "/submit", ("OPTIONS", "POST")),
        ("get", "/", ("GET", "HEAD", "OPTIONS")),
    ],
    ids=[
        "put-on-collection",
        "union-over-routes",
        "post-only-has-no-head",
        "head-without-get",
        "methods-case-sensitive",
    ],
)
def test_method_not_allowed(
    router: Router, method: str, path: str, allowed: tuple[str, ...]
) -> None:
    with pytest.raises(MethodNotAllowed) as raised:
        router.resolve(method, path)
    assert raised.value.status == 405
    assert raised.value.allowed_methods == allowed


def test_options_lists_allowed_methods(router: Router) -> None:
    resolution = router.resolve("OPTIONS", "/users/7")
    response = resolution.handler(make_request("OPTIONS", "/users/7"))
    assert response.status == 200
    assert response.get_header("allow") == "DELETE, GET, HEAD, OPTIONS"


def test_options_asterisk_lists_every_method_of_the_server(router: Router) -> None:
    # RFC 9110 §9.3.7: OPTIONS * is about the server, not a resource.
    response = router.resolve("OPTIONS", "*").handler(make_request("OPTIONS", "*"))
    assert response.status == 200
    assert response.get_header("allow") == "DELETE, GET, HEAD, OPTIONS, POST"


def test_options_asterisk_with_only_mounts() -> None:
    router = Router()
    router.mount("/", named("files"))
    response = router.resolve("OPTIONS", "*").handler(make_request("OPTIONS", "*"))
    assert response.get_header("allow") == "GET, HEAD, OPTIONS"


def test_explicit_options_route_wins() -> None:
    router = Router()
    router.add("OPTIONS", "/x", named("custom"))
    assert router.resolve("OPTIONS", "/x").handler.__name__ == "custom"


def test_first_added_route_wins() -> None:
    router = Router()
    router.add("GET", "/{anything}", named("first"))
    router.add("GET", "/fixed", named("second"))
    assert router.resolve("GET", "/fixed").handler.__name__ == "first"


def test_routes_take_precedence_over_mounts() -> None:
    router = Router()
    router.mount("/", named("fallback"))
    router.add("POST", "/form", named("form"))
    assert router.resolve("POST", "/form").handler.__name__ == "form"
    assert router.resolve("GET", "/other").handler.__name__ == "fallback"
    with pytest.raises(MethodNotAllowed):
        router.resolve("GET", "/form")


def test_router_call_sets_params_and_uses_decoded_path() -> None:
    router = Router()
    seen: list[dict[str, str]] = []

    def handler(request: Request) -> Response:
        seen.append(request.params)
        return Response.text("ok")

    router.add("GET", "/users/{name}", handler)
    router(make_request("GET", "/users/J%C3%BCrgen"))
    assert seen == [{"name": "J\u00fcrgen"}]


@pytest.mark.parametrize(
    ("pattern", "path", "params"),
    [
        ("/a.b", "/a.b", {}),
        ("/a.b", "/axb", None),
        ("/v{version}/items", "/v2/items", {"version": "2"}),
        ("/{a}/{b}", "/x/y", {"a": "x", "b": "y"}),
        ("/{a:str}", "/x", {"a": "x"}),
        ("/(x)", "/(x)", {}),
    ],
    ids=[
        "regex-dot-is-literal",
        "regex-dot-does-not-match-any",
        "parameter-inside-segment",
        "two-parameters",
        "explicit-str-converter",
        "parentheses-literal",
    ],
)
def test_compile_pattern(pattern: str, path: str, params: dict[str, str] | None) -> None:
    found = compile_pattern(pattern).fullmatch(path)
    assert (found.groupdict() if found else None) == params


@pytest.mark.parametrize(
    "pattern",
    ["users", "/{a}/{a}", "/{a:int}", "/{a", "/a}", "/{}", "/{1a}"],
    ids=[
        "no-leading-slash",
        "duplicate-parameter",
        "unknown-converter",
        "unclosed-brace",
        "stray-close",
        "empty-name",
        "name-not-identifier",
    ],
)
def test_compile_pattern_rejects(pattern: str) -> None:
    with pytest.raises(ValueError):
        compile_pattern(pattern)


@pytest.mark.parametrize(
    ("route_methods", "method", "match"),
    [(["GET"], "GET", Match.FULL), (["GET"], "POST", Match.PARTIAL)],
    ids=["full", "partial"],
)
def test_route_match_kinds(route_methods: list[str], method: str, match: Match) -> None:
    route = Router().add(route_methods, "/x", named("x"))
    assert route.match(method, "/x")[0] is match
    assert route.match(method, "/y")[0] is Match.NONE


def test_route_needs_methods_and_mount_needs_slash() -> None:
    with pytest.raises(ValueError):
        Router().add([], "/x", named("x"))
    with pytest.raises(ValueError):
        Router().mount("static", named("x"))


def images_router() -> Router:
    router = Router()
    router.mount("/images/", named("images"))
    return router


def answer(router: Router, method: str, target: str) -> Response:
    return router(make_request(method, target))


@pytest.mark.parametrize(
    ("method", "target", "location"),
    [
        ("GET", "/images", "/images/"),
        ("HEAD", "/images", "/images/"),
        ("GET", "/images?x=1&y=a%20b", "/images/?x=1&y=a%20b"),
    ],
    ids=["get", "head", "query-kept"],
)
def test_mount_prefix_without_slash_redirects(method: str, target: str, location: str) -> None:
    response = answer(images_router(), method, target)
    assert response.status == 308
    assert response.get_header("location") == location
    assert response.body == b""


def test_mount_redirect_location_is_the_prefix_not_the_request() -> None:
    router = Router()
    router.mount("/caf\u00e9 100%/", named("odd"))
    response = answer(router, "GET", "/caf%c3%a9%20100%25")  # not echoed back
    assert response.status == 308
    assert response.get_header("location") == "/caf%C3%A9%20100%25/"
    request = make_request("GET", "/images", [("Host", "evil.example")])
    assert images_router()(request).get_header("location") == "/images/"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
def test_mount_redirect_is_only_for_get_and_head(method: str) -> None:
    with pytest.raises(NotFound):
        images_router().resolve(method, "/images")


def test_mount_redirect_needs_the_exact_prefix() -> None:
    router = images_router()
    for path in ("/imagesX", "/image", "/Images", "/images.png"):
        with pytest.raises(NotFound):
            router.resolve("GET", path)


def test_explicit_route_wins_over_mount_redirect() -> None:
    router = images_router()
    router.add("GET", "/images", named("gallery"))
    assert answer(router, "GET", "/images").status == 200
    assert router.resolve("GET", "/images").handler.__name__ == "gallery"
    assert router.resolve("HEAD", "/images").handler.__name__ == "gallery"
    with pytest.raises(MethodNotAllowed):  # the route's 405, not a redirect
        router.resolve("POST", "/images")


def test_route_with_other_method_keeps_405_over_mount_redirect() -> None:
    router = images_router()
    router.add("POST", "/images", named("upload"))
    with pytest.raises(MethodNotAllowed) as raised:
        router.resolve("GET", "/images")
    assert raised.value.allowed_methods == ("OPTIONS", "POST")


def test_mount_redirect_beats_a_shorter_mount() -> None:
    router = images_router()
    router.mount("/", named("root"))
    assert answer(router, "GET", "/images").status == 308
    assert router.resolve("POST", "/images").handler.__name__ == "root"
    assert router.resolve("GET", "/imagesX").params == {"path": "imagesX"}


def test_nested_mount_prefix_redirects(router: Router) -> None:
    response = answer(router, "GET", "/static/images")
    assert response.get_header("location") == "/static/images/"
    assert answer(router, "GET", "/static").get_header("location") == "/static/"


# An encoded slash is data inside one segment, never a separator (RFC 3986 §2.2).


def routed(router: Router, target: str) -> str:
    """The text of the handler that answers GET ``target``."""
    return router(make_request("GET", target)).body.decode()


@pytest.mark.parametrize(
    "target", ["/users%2Fme", "/users%2fme", "/static%2Fsite.css", "%2Fusers"], ids=str
)
def test_encoded_slash_does_not_reach_a_literal_route(router: Router, target: str) -> None:
    with pytest.raises(NotFound):
        router(make_request("GET", target))


def test_encoded_slash_stays_inside_a_parameter(router: Router) -> None:
    request = make_request("GET", "/users/a%2Fb")
    assert router(request).body.decode() == "user"
    assert request.params == {"user_id": "a/b"}


def test_encoded_slash_in_a_path_parameter_is_given_back_decoded(router: Router) -> None:
    request = make_request("GET", "/files/dir/a%2Fb.txt")
    assert router(request).body.decode() == "file"
    assert request.params == {"name": "dir/a/b.txt"}


def test_plain_and_other_escapes_still_route(router: Router) -> None:
    assert routed(router, "/users/%6De") == "me"  # "%6D" is "m", a plain character
    assert routed(router, "/%75sers/me") == "me"
