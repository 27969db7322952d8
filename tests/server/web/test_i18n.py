"""French by default and by Accept-Language, English on request, the user's choice wins."""

from __future__ import annotations

from securebox_server.i18n import negotiate
from tests.server.conftest import AppMaker, token


def test_negotiate() -> None:
    assert negotiate(None, "en-GB,en;q=0.9,fr;q=0.8") == "en"
    assert negotiate(None, "de, fr;q=0.5") == "fr"
    assert negotiate("en", "fr") == "en"
    assert negotiate(None, "xx;q=bad") == "fr"


def test_pages_follow_the_language(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    fr = client.get("/login", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert '<html lang="fr">' in fr.text
    assert "Mémoriser mon identifiant" in fr.text
    assert "Ne communiquez jamais vos codes confidentiels" in fr.text
    en = client.get("/login", headers={"Accept-Language": "en"})
    assert '<html lang="en">' in en.text
    assert "Remember my identifier" in en.text
    client.post(
        "/preferences/language", data={"lang": "en", "back": "/login", "csrf_token": token(fr.text)}
    )
    chosen = client.get("/login", headers={"Accept-Language": "fr"})
    assert '<html lang="en">' in chosen.text


def test_accessible_version_toggle(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    page = client.get("/login")
    assert "accessible.css" not in page.text
    client.post(
        "/preferences/accessible",
        data={"on": "1", "back": "https://evil.example/", "csrf_token": token(page.text)},
        follow_redirects=False,
    )
    assert "accessible.css" in client.get("/login").text
