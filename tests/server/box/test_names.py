"""box/names.py: themes by their translated label (a theme without one shows its id),
senders by their API client's registered name, on the pages, in the user API and in the
digests."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from securebox_server.box.names import THEME_LABELS, theme_label
from securebox_server.i18n import translations
from securebox_server.jobs.digest import Item, compose_mail
from tests.server.box.conftest import SENDER, T0
from tests.server.box.test_pages import PRINCIPAL, Site, site  # noqa: F401 (fixture)
from tests.server.clients.helpers import clients_of, new_key

FR = translations("fr").gettext
EN = translations("en").gettext


def test_known_themes_have_labels_in_both_languages() -> None:
    assert theme_label(FR, "statements") == "Relevés de compte"
    assert theme_label(EN, "statements") == "Account statements"
    assert theme_label(FR, "payroll") == "Paie"
    for theme in THEME_LABELS:
        assert theme_label(FR, theme) != THEME_LABELS[theme]  # translated
        assert theme_label(EN, theme) == THEME_LABELS[theme]


@given(st.from_regex(r"[a-z0-9][a-z0-9_-]{0,39}", fullmatch=True))
def test_a_theme_without_a_label_shows_its_id(theme: str) -> None:
    if theme not in THEME_LABELS:
        assert theme_label(FR, theme) == theme
        assert theme_label(EN, theme) == theme


def test_a_digest_names_the_theme_and_the_sender() -> None:
    item = Item("Relevé mars", "732829320", T0, sender="Banque Exemple", theme="statements")
    mail = compose_mail(
        "new_document", [item], to="a@b.example", language="fr",
        public_url="https://box.example/", message="<m@box.example>",
    )  # fmt: skip
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Relevé mars (Relevés de compte, Banque Exemple, 732829320," in text


def test_pages_and_api_show_labels_and_sender_names(site: Site) -> None:  # noqa: F811
    clients_of(site.client).add_sender(SENDER, "Banque Exemple", jwks=new_key("ES256")[1])
    doc_id = site.publish(label="March payslip")
    browser = site.browser(PRINCIPAL)
    for url in ("/home", "/documents", f"/documents/{doc_id}"):
        page = browser.get(url)
        assert page.status_code == 200
        assert "Banque Exemple" in page.text, url
        assert "Payroll" in page.text, url
    french = browser.get(f"/documents/{doc_id}", headers={"Accept-Language": "fr"})
    assert "Paie" in french.text
