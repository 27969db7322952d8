"""The administration's user form says what is wrong in the page's language: the field by
its label and the problem as a catalog message, in French (the portal's language) and in
English; an error of the library is said by its code's fixed sentence, never its English
text."""

from __future__ import annotations

import html

import pytest

from tests.server.admin.conftest import Build
from tests.server.admin.test_users import NEW

#: (changed fields, the French sentence, the English one, what must not show in French)
CASES = [
    (
        {"civility": "sir"},
        "Civilité : M. ou Mme",
        "Civility: Mr or Mrs",
        "civility: Mr or Mrs",
    ),
    (
        {"mobile": "", "phone": ""},
        "au moins un numéro de téléphone",
        "at least one phone number",
        "at least one phone number",
    ),
    (
        {"phone": "12"},
        "Téléphone fixe : 6 à 15 chiffres, éventuellement précédés de +",
        "Landline phone: 6 to 15 digits, optionally after +",
        "digits",
    ),
    (
        {"email": "claire"},
        "E-mail : une adresse telle que nom@entreprise.example",
        "E-mail: an address such as name@company.example",
        "such as",
    ),
    (
        {"last_name": " "},
        "Nom : 1 à 100 caractères",
        "Last name: 1 to 100 characters",
        "characters",
    ),
    ({"role": "king"}, "Rôle : rôle inconnu", "Role: unknown role", "unknown role"),
    (
        {"channel": "pigeon"},
        "Le nouveau code est envoyé à l'utilisateur par : choisissez l\u2019un des moyens proposés",
        "The new code goes to the user by: choose one of the ways offered",
        "choose one",
    ),
    (
        {"user_number": "x!"},
        "L'identifiant ou le numéro utilisateur n'a pas le format attendu.",
        "The identifier or user number is not in the expected format.",
        "user number",
    ),
]


def _alert(text: str) -> str:
    start = text.index('role="alert"')
    return html.unescape(text[start : text.index("</div>", start)])


@pytest.mark.parametrize("language", ["fr", "en"])
def test_form_errors_are_in_the_page_language(admin_world: Build, language: str) -> None:
    """OWASP ASVS 5.0 V2.2.1 (input validated, the user told what is expected) and
    V16.5.1 (a message of our own, never the internals' text): each refused field is named
    by its label and explained in the page's language."""
    world = admin_world()
    world.login()
    world.client.headers["Accept-Language"] = language
    for changed, french, english, not_french in CASES:
        sent = world.post("/admin/users/new", {**NEW, **changed})
        assert sent.status_code == 400, (changed, sent.text)
        alert = _alert(sent.text)
        if language == "fr":
            assert f"Veuillez corriger le formulaire : {french}" in alert, (changed, alert)
            assert not_french not in alert, (changed, alert)
        else:
            assert f"Please correct the form: {english}" in alert, (changed, alert)
