"""Templates compiled per language (:mod:`securebox_server.web.page_templates`): a literal
``_("...")`` is translated when the template compiles, escaped once, and gives the page
the render-time translation gave; any other call is left to the render."""

from __future__ import annotations

import pytest
from jinja2 import DictLoader, Environment

from securebox_server import i18n
from securebox_server.web.page_templates import PageTemplates, per_language
from securebox_server.web.pages import TEMPLATES, build_environment

SOURCE = """{{ _("Log out") }}|{{ _('Your space') }}|{{ _(name) }}|{{ box._("Log out") }}|\
{{ ngettext("%(num)d document on this page.", "%(num)d documents on this page.", n) \
| format(num=n) }}|{{ _("Log out") ~ "!" }}"""


def _templates(source: str) -> PageTemplates:
    base = Environment(
        loader=DictLoader({"page.html": source}),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
    )
    return per_language(base)


class Box:
    def _(self, message: str) -> str:
        return f"[{message}]"


def _render(environment: Environment, lang: str) -> str:
    catalog = i18n.translations(lang)
    return environment.get_template("page.html").render(
        gettext=catalog.gettext, ngettext=catalog.ngettext, name="Your space", n=2, box=Box()
    )


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_a_literal_message_is_translated_when_the_template_compiles(lang: str) -> None:
    templates = _templates(SOURCE)
    compiled = templates.of(lang).compile(SOURCE, raw=True)
    gettext = i18n.translations(lang).gettext
    # the two literals are text of the compiled template, escaped once (none has a quote)
    assert f"yield {gettext('Log out') + '|' + gettext('Your space') + '|'!r}" in compiled
    assert compiled.count("context.call((undefined(name='_')") == 1  # _(name): at render
    # the same page as the render-time translations of the base environment give
    assert _render(templates.of(lang), lang) == _render(templates.base, lang)


def test_the_languages_differ_and_others_fall_back_to_the_default() -> None:
    templates = _templates(SOURCE)
    french, english = (_render(templates.of(lang), lang) for lang in ("fr", "en"))
    assert english.startswith("Log out|Your space|Your space|[Log out]|2 documents")
    assert french != english
    assert templates.of("de") is templates.of(i18n.DEFAULT)


def test_a_translation_is_escaped_once() -> None:
    templates = _templates('{{ _("Log out") }}|{{ _("Log out") | length }}')
    environment = templates.of("en")
    environment.literal_gettext = lambda message: "<b>\"Tom\" & 'Jerry'</b>"  # type: ignore[attr-defined]
    page = environment.get_template("page.html").render()
    assert page == "&lt;b&gt;&#34;Tom&#34; &amp; &#39;Jerry&#39;&lt;/b&gt;|22"


def test_the_server_compiles_each_language_apart_with_the_same_globals() -> None:
    templates = build_environment()
    assert set(templates.languages) == set(i18n.LANGUAGES)
    environments = list(templates.languages.values())
    assert len({id(environment.cache) for environment in environments}) == len(environments)
    templates.globals["probe"] = "shared"
    assert all(environment.globals["probe"] == "shared" for environment in environments)
    assert TEMPLATES.is_dir()
