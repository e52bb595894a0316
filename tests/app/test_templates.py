"""Templates: every value escaped unless marked safe; missing values are errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from barehttp.app.templates import Markup, TemplateError, Templates, escape, join


@pytest.fixture
def templates(tmp_path: Path) -> Templates:
    (tmp_path / "greet.html").write_text('<p title="$title">Hello, $name! $$5</p>\n')
    (tmp_path / "box.html").write_text("<div>$inner</div>")
    return Templates(tmp_path)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ('" onmouseover="x', "&quot; onmouseover=&quot;x"),
        ("it's", "it&#x27;s"),
        ("a & b", "a &amp; b"),
        (42, "42"),
    ],
    ids=["tag", "double-quote", "single-quote", "ampersand", "int"],
)
def test_escape_makes_text_inert(value: str | int, expected: str) -> None:
    assert escape(value) == expected
    assert isinstance(escape(value), Markup)


def test_render_escapes_every_value_in_text_and_attributes(templates: Templates) -> None:
    html = templates.render("greet", title='x" onclick="evil()', name="<b>Bob</b>")
    assert html == (
        '<p title="x&quot; onclick=&quot;evil()">Hello, &lt;b&gt;Bob&lt;/b&gt;! $5</p>\n'
    )


def test_markup_is_inserted_verbatim_and_render_output_nests(templates: Templates) -> None:
    inner = templates.render("greet", title="t", name="<i>")
    html = templates.render("box", inner=inner)
    assert html.startswith('<div><p title="t">Hello, &lt;i&gt;!')
    assert templates.render("box", inner=Markup("<hr>")) == "<div><hr></div>"


def test_a_plain_str_subclass_is_not_trusted(templates: Templates) -> None:
    class Sneaky(str):
        pass

    assert templates.render("box", inner=Sneaky("<hr>")) == "<div>&lt;hr&gt;</div>"


def test_missing_value_is_an_error_naming_it(templates: Templates) -> None:
    with pytest.raises(TemplateError, match="name"):
        templates.render("greet", title="t")


def test_unknown_template_is_an_error(templates: Templates) -> None:
    with pytest.raises(TemplateError, match="nope"):
        templates.render("nope")


def test_malformed_placeholder_fails_at_load(tmp_path: Path) -> None:
    (tmp_path / "bad.html").write_text("costs $5")
    with pytest.raises(TemplateError, match=r"bad\.html"):
        Templates(tmp_path)


def test_empty_directory_fails_at_load(tmp_path: Path) -> None:
    with pytest.raises(TemplateError):
        Templates(tmp_path)


def test_join_keeps_markup() -> None:
    assert join([Markup("<li>a</li>"), Markup("<li>b</li>")], "") == "<li>a</li><li>b</li>"


def test_shipped_templates_load_and_layout_is_phone_ready() -> None:
    templates = Templates()
    assert {"layout", "signup", "signin", "home_user", "home_visitor", "not_found"} <= set(
        templates.names()
    )
    assert templates.placeholders("layout") == {"title", "nav", "content"}
    page = templates.render("layout", title="<T>", nav=Markup(""), content=Markup(""))
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "<title>&lt;T&gt;" in page
