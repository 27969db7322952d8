"""Secret questions through the real app: 404 under the shipped policy (and not linked);
with the option on, a logged-in user sets answers (proving the code) from the page the
profile links, then SIREN + name + answers (case, accents and spaces ignored) show the
identifier; a wrong answer, a wrong name and an unknown SIREN get one same refusal; the
answers are stored hashed only."""

from __future__ import annotations

import json
import re

from securebox_auth.stores.factor_kinds import SECRET_ANSWERS
from tests.server.conftest import CODE, identify, submit_code, token
from tests.server.recovery.conftest import SIREN, Rig

ANSWERS = {"answer_first_school": "École Jean Jaurès", "answer_childhood_street": "rue des Lilas"}
STRIP = re.compile(r'name="csrf_token" value="[0-9a-f]+"')


def test_off_under_the_shipped_policy(rig: Rig) -> None:
    assert rig.client.get("/recovery/questions").status_code == 404
    assert 'href="/recovery/questions"' not in rig.client.get("/recovery").text
    identify(rig.client)
    assert submit_code(rig.client).status_code == 303
    assert 'href="/recovery/questions/setup"' not in rig.client.get("/profile").text


def _post(rig: Rig, **values: str):  # type: ignore[no-untyped-def]
    page = rig.client.get("/recovery/questions")
    assert page.status_code == 200
    form = {"siren": SIREN, "name": "Martin", **ANSWERS, **values, "csrf_token": token(page.text)}
    return rig.client.post("/recovery/questions", data=form)


def test_questions_show_the_identifier(questions_rig: Rig) -> None:
    rig = questions_rig
    assert 'href="/recovery/questions"' in rig.client.get("/recovery").text
    identify(rig.client)
    assert submit_code(rig.client).status_code == 303
    # the profile links the answers' page (no page did: found by the crawl)
    assert 'href="/recovery/questions/setup"' in rig.client.get("/profile").text
    setup = rig.client.get("/recovery/questions/setup")
    assert setup.status_code == 200
    form = {"name": "  MARTIN ", **ANSWERS, "code": CODE, "csrf_token": token(setup.text)}
    saved = rig.client.post("/recovery/questions/setup", data=form)
    assert saved.status_code == 200, saved.text
    stored = rig.box.store.get_factor_state(rig.principal, SECRET_ANSWERS, "default")
    assert stored is not None
    text = json.dumps(dict(stored.value))
    assert "Lilas" not in text
    assert "MARTIN" not in text.upper()
    rig.client.cookies.clear()
    shown = _post(rig, answer_first_school="ecole  jean JAURES")
    assert shown.status_code == 200
    assert "123456789" in shown.text
    wrong = [
        _post(rig, answer_childhood_street="rue des Roses"),
        _post(rig, name="Dupont"),
        _post(rig, siren="552100554"),
    ]
    assert {w.status_code for w in wrong} == {400}
    assert len({STRIP.sub("", w.text) for w in wrong}) == 1
    assert "123456789" not in wrong[0].text
    rig.drain()
    notice = rig.smtp.relay.messages()[-1].get_content().lower()
    assert "identifiant" in notice
    assert "session" not in notice  # no session ends for an identifier
