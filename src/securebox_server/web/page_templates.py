"""The page templates, compiled once per language: a literal message is translated when its
template compiles, not at every render.

A template asks for about 45 messages a page with ``_("...")``; through Jinja2's i18n
extension each was a call at render time (``Context.call``, the alias, the catalog's
``gettext``: a sixth of a home page's template time in its profile). Here every language
of :data:`~securebox_server.i18n.LANGUAGES` has its own :class:`~jinja2.Environment`
(an overlay of one base: the same loader, globals and filters, a cache of its own), whose
:class:`LiteralMessages` extension rewrites, in the template's token stream, each
``_("literal")`` into the literal's translation: Jinja2 then escapes it once, when the
template compiles (ADR 0071). A call with anything else (a variable, ``ngettext``, keyword
arguments) is left to the render, with the request's catalog, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment
from jinja2.ext import Extension
from jinja2.lexer import (
    TOKEN_DOT,
    TOKEN_LPAREN,
    TOKEN_NAME,
    TOKEN_RPAREN,
    TOKEN_STRING,
    Token,
    TokenStream,
)

from securebox_server import i18n

__all__ = ["LiteralMessages", "PageTemplates", "per_language"]

#: The token types of ``_("literal")``, in order.
_CALL = (TOKEN_NAME, TOKEN_LPAREN, TOKEN_STRING, TOKEN_RPAREN)


class LiteralMessages(Extension):
    """Replace ``_("literal")`` by the literal's translation in the environment's
    language (its ``literal_gettext``; without one, the templates are left as written)."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.extend(literal_gettext=None)

    def filter_stream(self, stream: TokenStream) -> Iterable[Token]:
        gettext: Callable[[str], str] | None = getattr(self.environment, "literal_gettext", None)
        if gettext is None:
            return stream
        return _translated(list(stream), gettext)


def _translated(tokens: list[Token], gettext: Callable[[str], str]) -> Iterable[Token]:
    index, end = 0, len(tokens)
    while index < end:
        token = tokens[index]
        call = tokens[index : index + 4]
        if (
            token.value == "_"
            and tuple(part.type for part in call) == _CALL
            and (index == 0 or tokens[index - 1].type != TOKEN_DOT)
        ):
            yield Token(token.lineno, TOKEN_STRING, gettext(call[2].value))
            index += 4
            continue
        yield token
        index += 1


@dataclass(frozen=True, slots=True)
class PageTemplates:
    """The base environment (its ``globals`` are every language's) and one environment a
    language."""

    base: Environment
    languages: Mapping[str, Environment]

    @property
    def globals(self) -> dict[str, Any]:
        return self.base.globals

    def of(self, lang: str) -> Environment:
        """The templates of ``lang`` (the default language's for any other)."""
        return self.languages.get(lang) or self.languages[i18n.DEFAULT]


def per_language(base: Environment) -> PageTemplates:
    """An overlay of ``base`` a language, each translating its literal messages. ``base``
    must not have compiled a template yet (an overlay starts with a copy of its cache)."""
    languages = {}
    for lang in i18n.LANGUAGES:
        overlay = base.overlay(extensions=[LiteralMessages])
        overlay.literal_gettext = i18n.translations(lang).gettext  # type: ignore[attr-defined]
        languages[lang] = overlay
    return PageTemplates(base, languages)
