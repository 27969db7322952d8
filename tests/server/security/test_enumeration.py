"""Enumeration (OWASP ASVS 5.0 V6.3.8: "valid users cannot be deduced from failed
authentication challenges", by answer or by timing; 6.4.x for the recovery pages) on the
login pages, the recovery pages (the e-mail link, the forgotten identifier, the card and
the secret questions) and the invitation links.

Three claims per page: an unknown client, an unknown user of a known client, and a known
user with a wrong secret (code, e-mail address, mobile number, or for an invitation link:
an unknown, used or expired token or another user's link). Each gets the same status and
the same body once the per-request values are removed (:func:`normalised`: CSRF tokens,
flow and challenge ids, and the identifiers the visitor typed, echoed back), in the
default run. The timing tests (marked ``timing``, excluded from the default run) measure
each claim :data:`TRIES` times, interleaved (see :func:`_medians`), and compare medians.

The recovery timing tests of ``tests/server/recovery/test_timing.py`` (known vs unknown
user on ``/recovery/code``, known vs unknown SIREN on ``/recovery/identifier``) are
reused (their helpers) and completed here with the unknown client and the wrong secret.
"""

from __future__ import annotations

import random
import re
import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Final

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from securebox_auth.entitlements.accounts import Operator, Role
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutState
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores.protocols import PutLockout
from securebox_server.invitations.links import new_token
from securebox_server.invitations.service import Invitations
from tests.server.admin.world import (
    ADMIN,
    C2,
    COLLABORATOR,
    NEWCOMER,
    Admin,
    admin,  # noqa: F401 (a fixture, found by name)
)
from tests.server.box.conftest import box_url  # noqa: F401 (a fixture, found by name)
from tests.server.conftest import CLIENT, CODE, AppMaker, identify, open_user, token
from tests.server.jobs.conftest import (  # noqa: F401 (fixtures, found by name)
    SmsProvider,
    SmtpRelay,
    sms_hook,
    smtp_relay,
)
from tests.server.methods.conftest import CAP_USER, CapServer, _server
from tests.server.rate_limits.conftest import (  # noqa: F401 (a fixture, found by name)
    server_sqlite_url,
)
from tests.server.recovery.conftest import (  # noqa: F401 (fixtures, found by name)
    EMAIL,
    MOBILE,
    QUESTION_ANSWERS,
    QUESTION_NAME,
    SIREN,
    Rig,
    answered_rig,
    rig,
)
from tests.server.recovery.test_timing import TRIES as RECOVERY_TRIES
from tests.server.recovery.test_timing import _close
from tests.server.recovery.test_timing import _medians as _recovery_medians
from tests.stores.conftest import sqlite_template  # noqa: F401 (a fixture, found by name)

TRIES: Final = RECOVERY_TRIES  # SECUREBOX_TIMING_TRIES, 200 by default
#: well-formed identifiers that name nobody
UNKNOWN_CLIENT: Final = "987654321"
UNKNOWN_USER: Final = "07"
WRONG_CODE: Final = "69204718"

_VOLATILE: Final = [
    re.compile(r'(name="csrf_token" value=")[^"]*(")'),
    re.compile(r'(name="(?:flow_id|challenge_id|ceremony)" value=")[^"]*(")'),
    re.compile(r'(data-request-id=")[^"]*(")'),
    re.compile(r'(id="challenge"[^>]*>)[0-9]+(<)'),  # challenge digits (real or decoy)
]


def normalised(body: str, *typed: str) -> str:
    """``body`` without its per-request values (CSRF token, flow and challenge ids) and
    without the identifiers the visitor typed (``typed``: echoed back, not learnt)."""
    for pattern in _VOLATILE:
        body = pattern.sub(r"\1-\2", body)
    for value in typed:
        body = re.sub(rf"(?<![\w:-]){re.escape(value)}(?![\w:-])", "<typed>", body)
    return body


def _same(answers: Mapping[str, tuple[Response, tuple[str, ...]]]) -> None:
    """One status and one normalised body for every claim (else which claims differ)."""
    statuses = {label: r.status_code for label, (r, _) in answers.items()}
    assert len(set(statuses.values())) == 1, statuses
    bodies = {label: normalised(r.text, *typed) for label, (r, typed) in answers.items()}
    first = next(iter(bodies.values()))
    differ = [label for label, b in bodies.items() if b != first]
    assert not differ, (differ, _first_difference(first, bodies[differ[0]]))
    locations = {r.headers.get("location") for r, _ in answers.values()}
    assert len(locations) == 1, locations


def _first_difference(a: str, b: str) -> str:
    at = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
    return f"...{a[max(0, at - 80) : at + 80]!r} vs ...{b[max(0, at - 80) : at + 80]!r}"


# --- login -------------------------------------------------------------------------------

CLAIMS: Final = {
    "unknown client": (UNKNOWN_CLIENT, "01", CODE),
    "unknown user": (CLIENT, UNKNOWN_USER, CODE),
    "wrong code": (CLIENT, "01", WRONG_CODE),
}


def _typed(label: str) -> tuple[str, ...]:
    client_id, user, _ = CLAIMS[label]
    return f"{client_id}:{user}", client_id, user


def _login_steps(client: TestClient, client_id: str, user: str, code: str) -> list[Response]:
    """The three login pages a claim goes through: the client identifier, the user number,
    the code (each answer, and the code page shown before the answer)."""
    client.cookies.clear()
    page = client.get("/login")
    named = client.post("/login", data={"client_id": client_id, "csrf_token": token(page.text)})
    user_sent = client.post(
        "/login/user",
        data={"client_id": client_id, "user_number": user, "csrf_token": token(named.text)},
        follow_redirects=False,
    )
    method = client.get("/login/method")
    code_page = client.get("/login/code")
    answered = client.post("/login/code", data={"code": code, "csrf_token": token(code_page.text)})
    return [named, user_sent, method, code_page, answered]


def test_login_pages_answer_every_claim_alike(make_app: AppMaker) -> None:
    """ASVS 5.0 6.3.8 (and 6.3.1 / RTS art. 4(3)(b): the lockout counts unknown principals
    too): the client identifier, user number, method choice and code pages give an unknown
    client, an unknown user and a wrong code the same status and normalised body, up to
    and including the 5th refusal (the lockout's blocked page); no session opens."""
    client, box, _ = make_app()
    open_user(box)
    runs = {label: _login_steps(client, *claim) for label, claim in CLAIMS.items()}
    for step in range(5):
        _same({label: (run[step], _typed(label)) for label, run in runs.items()})
    refused = runs["wrong code"][-1]
    assert refused.status_code == 401
    assert not refused.cookies.get("sb-session")
    # the lockout (5 failures, the policy) blocks unknown principals exactly like known ones
    for _ in range(4):
        last = {label: _login_steps(client, *claim)[-1] for label, claim in CLAIMS.items()}
    _same({label: (last[label], _typed(label)) for label in CLAIMS})
    assert last["wrong code"].status_code == 403
    assert box.sessions_of(Principal.parse(CLIENT, "01")) == []


def _unlock(box: Securebox, principals: list[Principal]) -> None:
    """Forget the claims' failures (between measurements: 200 wrong codes would lock)."""
    changes = [PutLockout(p, box.store.get_lockout(p).version, LockoutState()) for p in principals]
    box.store.commit(changes, [])


def _medians(
    labels: list[str], run: Callable[[str], tuple[float, ...]], before: Callable[[], None]
) -> list[dict[str, float]]:
    """Method: :data:`TRIES` rounds; each round runs every claim once in a shuffled order
    (seeded), so drift, load and caches hit every claim alike; ``before()`` (untimed)
    resets state between runs; ``run(label)`` returns the ``perf_counter`` durations of
    the measured requests. The medians per claim and per measured request are returned."""
    order = random.Random(2026)
    timings: dict[str, list[tuple[float, ...]]] = {label: [] for label in labels}
    for _ in range(TRIES):
        for label in order.sample(labels, len(labels)):
            before()
            timings[label].append(run(label))
    width = len(next(iter(timings.values()))[0])
    found = [
        {label: statistics.median(t[i] for t in timings[label]) for label in labels}
        for i in range(width)
    ]
    print([{label: f"{m * 1e3:.2f} ms" for label, m in medians.items()} for medians in found])
    return found


def _timed(call: Callable[[], Response]) -> tuple[float, Response]:
    began = time.perf_counter()
    answer = call()
    return time.perf_counter() - began, answer


@pytest.mark.timing
def test_login_takes_the_same_time_for_every_claim(make_app: AppMaker) -> None:
    """ASVS 5.0 6.3.8 (timing): the user-number answer (the flow starts) and the code
    answer (argon2 whether or not the principal exists) take the same time for an unknown
    client, an unknown user and a wrong code. Method: :func:`_medians` (200 interleaved
    rounds, lockouts reset untimed between runs), medians within 20 % of the largest."""
    client, box, _ = make_app()
    open_user(box)
    principals = [Principal.parse(c, u) for c, u, _ in CLAIMS.values()]

    def run(label: str) -> tuple[float, ...]:
        client_id, user, code = CLAIMS[label]
        client.cookies.clear()
        page = client.get("/login")
        named = client.post("/login", data={"client_id": client_id, "csrf_token": token(page.text)})
        user_time, sent = _timed(
            lambda: client.post(
                "/login/user",
                data={"client_id": client_id, "user_number": user, "csrf_token": token(named.text)},
                follow_redirects=False,
            )
        )
        assert sent.status_code == 303
        code_page = client.get("/login/code")
        code_time, answered = _timed(
            lambda: client.post(
                "/login/code", data={"code": code, "csrf_token": token(code_page.text)}
            )
        )
        assert answered.status_code == 401
        return user_time, code_time

    for medians in _medians(list(CLAIMS), run, lambda: _unlock(box, principals)):
        _close(medians)


# --- recovery ----------------------------------------------------------------------------


def _link_forms() -> dict[str, dict[str, str]]:
    known = {"client_id": CLIENT, "user_number": "01", "email": EMAIL}
    return {
        "known": known,
        "unknown client": {**known, "client_id": UNKNOWN_CLIENT},
        "unknown user": {**known, "user_number": UNKNOWN_USER},
        "wrong e-mail": {**known, "email": "mallory@example.org"},
    }


def _identifier_forms() -> dict[str, dict[str, str]]:
    known = {"siren": SIREN, "mobile": MOBILE, "code": CODE}
    return {
        "known": known,
        "unknown siren": {**known, "siren": "552100554"},
        "wrong mobile": {**known, "mobile": "+33698765432"},
        "wrong code": {**known, "code": WRONG_CODE},
    }


def test_recovery_pages_answer_every_claim_alike(rig: Rig) -> None:  # noqa: F811
    """ASVS 5.0 6.3.8, 6.4.x (recovery): ``/recovery/code`` answers an unknown client
    (missing from ``tests/server/recovery/test_pages.py``), an unknown user and a wrong
    e-mail address like the real claim, and ``/recovery/identifier`` a wrong mobile number
    like the others; only the real claims send anything."""
    csrf = token(rig.client.get("/recovery/code").text)
    for path, forms in (
        ("/recovery/code", _link_forms()),
        ("/recovery/identifier", _identifier_forms()),
    ):
        answers = {
            label: (
                rig.client.post(path, data={**form, "csrf_token": csrf}),
                (form.get("client_id", ""), form.get("user_number", "")),
            )
            for label, form in forms.items()
        }
        _same(answers)
        assert answers["known"][0].status_code == 200
    rig.drain()
    assert len(rig.smtp.relay.messages()) == 2  # the link, and the identifier's notice
    assert len(rig.sms.received) == 1  # the identifier, to the real mobile only


@pytest.mark.timing
def test_a_link_request_takes_the_same_time_for_every_claim(rig: Rig) -> None:  # noqa: F811
    """ASVS 5.0 6.3.8 (timing), the four claims of ``/recovery/code`` (the recovery
    suite's timing test compares known and unknown user only). Method: the recovery
    suite's ``_medians`` (200 interleaved rounds, the mail handed over untimed)."""
    _close(_recovery_medians(rig, "/recovery/code", _link_forms()))


@pytest.mark.timing
def test_an_identifier_request_takes_the_same_time_for_every_claim(rig: Rig) -> None:  # noqa: F811
    """ASVS 5.0 6.3.8 (timing), the four claims of ``/recovery/identifier`` (wrong mobile
    and wrong code added to the recovery suite's known vs unknown SIREN). Method: as
    above."""
    _close(_recovery_medians(rig, "/recovery/identifier", _identifier_forms()))


# --- invitation links --------------------------------------------------------------------


def _invitations(world: Admin) -> Invitations:
    found: Invitations = world.app.state.invitations
    return found


def _declared_link(world: Admin) -> str:
    """A pending invitation of NEWCOMER on C2 declared by the administrator; its path."""
    boss = world.login(ADMIN)
    data = {
        "siren": "552 100 554",
        "name": "Cabinet Martin",
        "email": "martin@cabinet.example",
        "companies": [C2.value],
        "client_id": NEWCOMER.client_id.value,
        "user_number": NEWCOMER.user_number.value,
    }
    started = world.post(boss, "/admin/third-parties", "/admin/third-parties", data)
    assert world.approve(boss, started).status_code == 200
    return world.link(world.mails()[-1])


def _dead_links(world: Admin, path: str) -> dict[str, str]:
    """Paths of an unknown token, a used link and an expired link (rows added to the links
    table next to the real one, for the same invitee)."""
    links = _invitations(world).links
    real = links.by_token(path.rsplit("/", 1)[1])
    assert real is not None
    now = world.clock.now()
    used, expired = new_token(), new_token()
    links.add(replace(real, invitation_id="used-1", created_at=now), used)
    assert links.use("used-1", now)
    gone = now - timedelta(days=30)
    links.add(replace(real, invitation_id="old-1", created_at=gone, expires_at=gone), expired)
    return {
        "unknown token": f"/invitations/{new_token()}",
        "used link": f"/invitations/{used}",
        "expired link": f"/invitations/{expired}",
    }


@pytest.mark.parametrize("box_url", ["sqlite"], indirect=True)
def test_invitation_links_answer_every_claim_alike(admin: Admin) -> None:  # noqa: F811
    """ASVS 5.0 6.3.8 (and 8.2.2, no cross-tenant disclosure): an unknown token, a used
    link and an expired link get one 404 page, anonymous or logged in; to a logged-in
    user who is not the invitee, the real link's page is that same 404 page (nothing says
    the link exists or who invited). The real link, logged out, only asks to log in."""
    path = _declared_link(admin)
    dead = _dead_links(admin, path)
    anonymous = admin.browser()
    _same({label: (anonymous.get(p), (p,)) for label, p in dead.items()})
    assert anonymous.get(dead["used link"]).status_code == 404
    stranger = admin.login(COLLABORATOR)
    every = {**dead, "another's link": path}
    answers = {label: (stranger.get(p), (p,)) for label, p in every.items()}
    _same(answers)
    assert answers["another's link"][0].status_code == 404
    assert "Cabinet Martin" not in answers["another's link"][0].text
    page = stranger.get("/home")
    for p in (*dead.values(), path):  # answering: the same refusal, nothing recorded
        refused = stranger.post(f"{p}/accept", data={"csrf_token": token(page.text)})
        assert refused.status_code == 404
    stored = admin.box.store.get_subscription(NEWCOMER.client_id)
    assert stored is not None


@pytest.mark.timing
@pytest.mark.parametrize("box_url", ["sqlite"], indirect=True)
def test_invitation_links_take_the_same_time(admin: Admin) -> None:  # noqa: F811
    """ASVS 5.0 6.3.8 (timing): for a logged-in user who is not the invitee, an unknown
    token, a used link, an expired link and another user's pending link answer 404 in the
    same time. Method: :func:`_medians` (200 interleaved rounds), medians within 20 %."""
    path = _declared_link(admin)
    paths = {**_dead_links(admin, path), "another's link": path}
    stranger = admin.login(COLLABORATOR)

    def run(label: str) -> tuple[float, ...]:
        elapsed, answer = _timed(lambda: stranger.get(paths[label]))
        assert answer.status_code == 404
        return (elapsed,)

    for medians in _medians(list(paths), run, lambda: None):
        _close(medians)


# --- recovery by card and by secret questions ----------------------------------------------

#: card recovery claims: (client identifier, user number, code); 04 has the demo card
CARD_CLAIMS: Final = {
    "unknown client": (UNKNOWN_CLIENT, CAP_USER),
    "unknown user": (CLIENT, UNKNOWN_USER),
    "no card": (CLIENT, "01"),
    "wrong code": (CLIENT, CAP_USER),
}
HIDDEN: Final = re.compile(r'name="(flow_id|challenge_id)" value="([A-Za-z0-9_-]+)"')


@pytest.fixture
def card_box(tmp_path: Path, migrated_sqlite: Path) -> Iterator[CapServer]:
    """The CAP server (user 04 with the demo card; 01 an account without a card), without
    the address limits: the claims are answered many times."""
    for server in _server(tmp_path, migrated_sqlite, None, rate_limits_enabled=False):
        who = Principal.parse(CLIENT, "01")
        server.box.codes.create_account(Operator("back-office"), who, Role.USER)
        yield server


def _card_claim(client: TestClient, label: str) -> tuple[Response, dict[str, str]]:
    """The claim's identifiers given on ``/recovery/card``: the challenge page and the
    answer form (its flow, challenge and CSRF token)."""
    client_id, user = CARD_CLAIMS[label]
    page = client.get("/recovery/card")
    shown = client.post(
        "/recovery/card",
        data={"client_id": client_id, "user_number": user, "csrf_token": token(page.text)},
    )
    return shown, {**dict(HIDDEN.findall(shown.text)), "csrf_token": token(shown.text)}


def _card_typed(label: str) -> tuple[str, ...]:
    return CARD_CLAIMS[label]


def test_card_recovery_answers_every_claim_alike(card_box: CapServer) -> None:
    """ASVS 5.0 6.3.8, 6.4.x: ``/recovery/card`` shows an unknown client, an unknown user,
    a user without a card and the card holder the same challenge page (decoy digits), and
    answers a wrong reader code the same refusal (401, a new challenge), twice; nothing is
    sent."""
    client = card_box.client
    started = {label: _card_claim(client, label) for label in CARD_CLAIMS}
    _same({label: (page, _card_typed(label)) for label, (page, _) in started.items()})
    assert started["wrong code"][0].status_code == 200
    forms = {label: form for label, (_, form) in started.items()}
    for _ in range(2):
        answers = {
            label: client.post("/recovery/card/answer", data={**form, "code": WRONG_CODE})
            for label, form in forms.items()
        }
        _same({label: (r, _card_typed(label)) for label, r in answers.items()})
        assert answers["wrong code"].status_code == 401
        forms = {
            label: {**dict(HIDDEN.findall(r.text)), "csrf_token": token(r.text)}
            for label, r in answers.items()
        }


@pytest.mark.timing
def test_a_card_recovery_answer_takes_the_same_time_for_every_claim(
    card_box: CapServer,
) -> None:
    """ASVS 5.0 6.3.8 (timing): a wrong reader code on ``/recovery/card/answer`` takes the
    same time whether the claim names the card holder (the issuer's cryptograms are
    computed), a user without a card, an unknown user or an unknown client (decoy
    challenges, committed and spent like real ones: ADR 0010). Method: :func:`_medians`
    (200 interleaved rounds, the flow started and the lockout reset untimed), medians
    within 20 % of the largest."""
    client = card_box.client
    holder = [Principal.parse(CLIENT, CAP_USER)]
    forms: dict[str, dict[str, str]] = {}

    def before() -> None:
        _unlock(card_box.box, holder)

    def run(label: str) -> tuple[float, ...]:
        _, forms[label] = _card_claim(client, label)
        elapsed, answer = _timed(
            lambda: client.post("/recovery/card/answer", data={**forms[label], "code": WRONG_CODE})
        )
        assert answer.status_code == 401
        return (elapsed,)

    for medians in _medians(list(CARD_CLAIMS), run, before):
        _close(medians)


_CHALLENGE_ID: Final = re.compile(r'name="challenge_id" value="([A-Za-z0-9_-]+)"')


@pytest.mark.timing
def test_a_cap_login_challenge_and_wrong_answer_take_the_same_time_for_every_claim(
    card_box: CapServer,
) -> None:
    """ASVS 5.0 6.3.8 (timing): on the CAP login (``/login/cap/respond``), the challenge
    page (a real challenge committed for the card holder, a decoy for the others) and a
    wrong reader code (the holder's challenge spent with the counted failure, a decoy's
    the same way) take the same time for the card holder, a user without a card, an
    unknown user and an unknown client. Method: :func:`_medians` (200 interleaved rounds,
    the login identified and the lockouts reset untimed), medians within 20 % of the
    largest, for the challenge page and for the answer."""
    client = card_box.client
    principals = [Principal.parse(c, u) for c, u in CARD_CLAIMS.values()]

    def run(label: str) -> tuple[float, ...]:
        client_id, user = CARD_CLAIMS[label]
        client.cookies.clear()
        identify(client, client_id, user)
        page_time, page = _timed(lambda: client.get("/login/cap/respond"))
        assert page.status_code == 200
        found = _CHALLENGE_ID.search(page.text)
        assert found is not None
        form = {"code": WRONG_CODE, "challenge_id": found.group(1), "csrf_token": token(page.text)}
        answer_time, answer = _timed(lambda: client.post("/login/cap/respond", data=form))
        assert answer.status_code == 401
        return page_time, answer_time

    for medians in _medians(list(CARD_CLAIMS), run, lambda: _unlock(card_box.box, principals)):
        _close(medians)


#: secret-question claims: the form's fields over the user's right ones
QUESTION_CLAIMS: Final = {
    "unknown siren": {"siren": "552100554"},
    "wrong name": {"name": "Dupont"},
    "wrong answer": {"answer_childhood_street": "rue des Roses"},
}
QUESTION_RIGHT: Final = {
    "siren": SIREN,
    "name": QUESTION_NAME,
    **{f"answer_{q}": answer for q, answer in QUESTION_ANSWERS.items()},
}


@pytest.fixture
def questions_box(
    make_app: AppMaker,
    smtp_relay: SmtpRelay,  # noqa: F811
    sms_hook: SmsProvider,  # noqa: F811
    tmp_path: Path,
) -> Rig:
    """The recovery rig with secret questions allowed by policy, the user's answers set."""
    return answered_rig(make_app, smtp_relay, sms_hook, tmp_path)


def _question_claim(world: Rig, label: str, csrf: str) -> Response:
    form = {**QUESTION_RIGHT, **QUESTION_CLAIMS[label], "csrf_token": csrf}
    answer: Response = world.client.post("/recovery/questions", data=form)
    return answer


def test_secret_questions_answer_every_claim_alike(questions_box: Rig) -> None:
    """ASVS 5.0 6.3.8, 6.4.x: an unknown SIREN, a wrong name and a wrong answer get the
    same refusal (400) and normalised body (the SIREN and name typed are echoed); the right
    answers show the identifier (so the test can fail)."""
    world = questions_box
    csrf = token(world.client.get("/recovery/questions").text)
    answers = {
        label: (_question_claim(world, label, csrf), (QUESTION_RIGHT["siren"], "552100554"))
        for label in QUESTION_CLAIMS
    }
    _same(answers)
    assert answers["wrong answer"][0].status_code == 400
    shown = world.client.post("/recovery/questions", data={**QUESTION_RIGHT, "csrf_token": csrf})
    assert shown.status_code == 200
    assert CLIENT in shown.text


@pytest.mark.timing
def test_secret_questions_take_the_same_time_for_every_claim(questions_box: Rig) -> None:
    """ASVS 5.0 6.3.8 (timing): an unknown SIREN, a wrong name (no candidate: the answers
    are checked against hashes nobody knows) and a wrong answer (the user's hashes) take the
    same time (argon2id in every case). Method: :func:`_medians` (200 interleaved rounds),
    medians within 20 % of the largest."""
    world = questions_box
    csrf = token(world.client.get("/recovery/questions").text)

    def run(label: str) -> tuple[float, ...]:
        elapsed, answer = _timed(lambda: _question_claim(world, label, csrf))
        assert answer.status_code == 400
        return (elapsed,)

    for medians in _medians(list(QUESTION_CLAIMS), run, lambda: None):
        _close(medians)
