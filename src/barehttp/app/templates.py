"""HTML templates: `string.Template` files where every value is escaped unless marked safe."""

from __future__ import annotations

import html
import os
import string
from pathlib import Path

DEFAULT_TEMPLATE_DIR = Path(__file__).parent / "templates"


class Markup(str):
    """Text already safe to put in HTML as it is: the output of `render` or `escape`.

    Only code builds a `Markup`, never user input, so `render` trusts it verbatim.
    """

    __slots__ = ()


TemplateValue = str | int | Markup


def escape(value: TemplateValue) -> Markup:
    """`value` as HTML text: `&<>"'` become entities; `Markup` passes unchanged.

    Quotes are escaped too, so a value is also safe inside a quoted attribute.
    """
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def join(parts: list[Markup], separator: str = "\n") -> Markup:
    """Concatenate safe fragments (the separator is code, not input)."""
    return Markup(separator.join(parts))


class TemplateError(Exception):
    """A template file is missing or names a value the caller did not give."""


class Templates:
    """Every `*.html` file of one directory, read once and rendered on demand.

    `$name` or `${name}` in a file is replaced by the escaped value of `name`;
    `$$` is a literal dollar sign.
    """

    def __init__(self, directory: str | os.PathLike[str] = DEFAULT_TEMPLATE_DIR) -> None:
        self.directory = Path(directory)
        # Each template with its placeholder names, found once here: templates never
        # change after loading, so render() need not rescan the text on every call.
        self._templates: dict[str, tuple[string.Template, frozenset[str]]] = {}
        for path in sorted(self.directory.glob("*.html")):
            template = string.Template(path.read_text(encoding="utf-8"))
            if not template.is_valid():
                raise TemplateError(f"template {path.name} has a malformed placeholder")
            self._templates[path.stem] = (template, frozenset(template.get_identifiers()))
        if not self._templates:
            raise TemplateError(f"no *.html templates in {self.directory}")

    def names(self) -> list[str]:
        """The loaded template names (file names without `.html`)."""
        return sorted(self._templates)

    def placeholders(self, name: str) -> set[str]:
        """The value names template `name` expects."""
        _, identifiers = self._template(name)
        return set(identifiers)

    def render(self, name: str, /, **values: TemplateValue) -> Markup:
        """Template `name` with every value escaped (`Markup` values kept as they are).

        `name` is positional-only, so a template may itself use `$name`.

        Raises:
            TemplateError: no such template, or a placeholder without a value.
        """
        template, identifiers = self._template(name)
        missing = identifiers - values.keys()
        if missing:
            raise TemplateError(f"template {name!r} needs {', '.join(sorted(missing))}")
        return Markup(template.substitute({key: escape(value) for key, value in values.items()}))

    def _template(self, name: str) -> tuple[string.Template, frozenset[str]]:
        try:
            return self._templates[name]
        except KeyError:
            raise TemplateError(f"no template named {name!r}") from None
