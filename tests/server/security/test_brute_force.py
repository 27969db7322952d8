"""Brute force through HTTP (issue 18, "Brute force"), the paths the existing tests leave:

* the TOTP code at login: five wrong codes, then the blocked page, for the right code too and
  for the next login's confidential code (``tests/server/test_blocked.py`` covers the
  confidential code; ``tests/server/rate_limits/`` the address limits before the lockout);
* "a locked account costs no hashing" through HTTP: argon2 verifications counted around the
  blocked answers (the library's own test is ``tests/test_code_service.py``);
* the recovery e-mail link page: guessed links from one address are throttled at
  ``recovery.link.source`` (30 an hour), the real link then waits too, and works after;
* the senders' OAuth token endpoint (the ingestion API's client credentials): bad client
  assertions for one claimed client throttled at ``oauth.token.account`` (20 a minute), for
  many claimed clients from one address at ``oauth.token.source`` (60 a minute), with the
  default limits (``tests/server/clients/test_endpoint.py`` checks good assertions at a
  lowered limit);
* CAP reader codes at login (the lockout at five, the address throttled first, no cryptogram
  computed for a blocked account) and on a step-up (Sign mode: the fifth wrong code refuses
  the operation and blocks);
* the recovery pages at their limits: ``/recovery/card`` and the forgotten identifier by SMS
  spend the login's failure budgets (an unknown source cannot block the account through
  them), the secret questions are throttled per SIREN and per address;
* refused bearer tokens on the box's APIs, per address (``api.bearer_failure.source``).

References: OWASP ASVS 5.0 6.3.1 (controls against credential stuffing and brute force),
6.5.1/6.5.5 (one-time codes and links), 2.4.1 (anti-automation: excessive calls throttled),
10.4.x (the token endpoint authenticates clients); PSD2 RTS art. 4(3)(b) (at most five
consecutive failed attempts, then a temporary or permanent block).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import pytest
from fastapi.testclient import TestClient

from securebox_auth.crypto.hashing import Argon2CodeHasher
from securebox_auth.emv.issuer import CryptogramRequest, SoftwareIssuerKeys
from securebox_auth.entitlements.accounts import Operator
from securebox_auth.factors.totp import code_at
from securebox_auth.factors.totp import code_at as totp_code_at
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import BlockStatus, block_status
from tests.cards.capworld import CapWorld
from tests.server.clients.helpers import (
    bearer,
    get_token,
    new_key,
    register_sender,
    token_response,
)
from tests.server.conftest import CLIENT, CODE, AppMaker, identify, open_user, submit_code, token
from tests.server.jobs.conftest import SmsProvider, SmtpRelay, sms_hook, smtp_relay  # noqa: F401
from tests.server.methods.conftest import CAP_USER, CapServer, _server
from tests.server.recovery.conftest import (
    MOBILE,
    QUESTION_ANSWERS,
    QUESTION_NAME,
    SIREN,
    Rig,
    _rig,
    answered_rig,
)
from tests.server.recovery.test_card import DIGITS, HIDDEN, _challenge, card  # noqa: F401
from tests.server.recovery.test_pages import ask_link, choose, last_link
from tests.server.stepup.conftest import World, cap_world, stepup_sqlite, world  # noqa: F401
from tests.server.stepup.test_cap import _cap as _stepup_cap
from tests.server.stepup.test_flows import TRANSFER

WRONG = "11111111"
LIMIT = 5  # the policy's consecutive failures (PSD2 RTS art. 4(3)(b))


def _strong_login_until_totp(w: World) -> str:
    """A login that asks the TOTP code after the confidential code; the TOTP page."""
    w.client.cookies.clear()
    identify(w.client)
    old = w.clock.now() - timedelta(days=200)
    w.box.store.commit([w.box.factors.renewal_change(w.principal, "web", old)], [])
    done = submit_code(w.client)
    assert done.status_code == 303, done.text
    page = w.client.get("/login/totp")
    assert page.status_code == 200, page.text
    text: str = page.text
    return text


def _totp(w: World, page: str, code: str) -> Any:
    return w.client.post(
        "/login/totp",
        data={"code": code, "csrf_token": token(page)},
        follow_redirects=False,
    )


def _wrong_totp(w: World) -> str:
    right = totp_code_at(w.totp, w.clock.now())
    return "000000" if right != "000000" else "111111"


def test_wrong_totp_codes_from_one_address_are_throttled_before_the_block(
    world: World,  # noqa: F811
) -> None:
    """With the default limits, one address gets four TOTP refusals (401), then waits (429,
    ``login.failure.source_account``: 4 a day): it cannot reach the fifth failure that
    would block the account, whose lockout stays open. ASVS 5.0 6.3.1, 2.4.1; PSD2 RTS art.
    4(3)(b)."""
    page = _strong_login_until_totp(world)
    statuses = [_totp(world, page, _wrong_totp(world)).status_code for _ in range(LIMIT + 1)]
    assert statuses == [401] * (LIMIT - 1) + [429, 429], statuses
    state = world.box.store.get_lockout(world.principal)
    assert state is not None
    assert state.value.failures == LIMIT - 1
    assert block_status(state.value, world.clock.now()) is BlockStatus.OPEN


def test_five_wrong_totp_codes_at_login_block_the_account(make_app: AppMaker) -> None:
    """Without the address limits (the lockout alone): four wrong TOTP codes are refused
    (401), the fifth brings the blocked page (403); then the right TOTP code and, in a new
    login, the right confidential code get the blocked page too (a right code does not
    forgive). ASVS 5.0 6.3.1; PSD2 RTS art. 4(3)(b)."""
    client, box, clock = make_app()
    principal, _ = open_user(box, strong=False)
    totp = box.enrol_first_totp(Operator("back-office"), principal)
    assert box.confirm_totp(principal, code_at(totp.credential, clock.now()))
    clock.advance(timedelta(seconds=60))
    identify(client)
    assert submit_code(client).headers["location"] == "/login/strong"
    right = code_at(totp.credential, clock.now())
    wrong = "000000" if right != "000000" else "111111"
    statuses = []
    for _ in range(LIMIT):
        page = client.get("/login/totp")
        answer = client.post(
            "/login/totp",
            data={"code": wrong, "csrf_token": token(page.text)},
            follow_redirects=False,
        )
        statuses.append(answer.status_code)
    assert statuses == [401] * (LIMIT - 1) + [403], statuses
    state = box.store.get_lockout(principal)
    assert state is not None
    assert block_status(state.value, clock.now()) is not BlockStatus.OPEN
    page = client.get("/login/totp")
    late = client.post(
        "/login/totp",
        data={"code": right, "csrf_token": token(page.text)},
        follow_redirects=False,
    )
    assert late.status_code in (401, 403, 409), late.text  # (the flow ended with the block)
    assert late.headers.get("location") != "/home"
    assert client.get("/home", follow_redirects=False).status_code != 200
    client.cookies.clear()
    identify(client)
    assert submit_code(client, CODE).status_code == 403


def test_a_locked_account_costs_no_hashing_through_http(
    make_app: AppMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every argon2 verification (``Argon2CodeHasher.verify`` and ``verify_dummy``) is
    counted: one per refused attempt before the block, none for the blocked answers, for the
    real user's right code and for an unknown user number alike. ASVS 5.0 6.3.1 (and 2.4.1,
    anti-automation: a locked account is not a hashing oracle nor a CPU sink); PSD2 RTS art.
    4(3)(b)."""
    calls: list[str] = []
    verify, dummy = Argon2CodeHasher.verify, Argon2CodeHasher.verify_dummy

    def counted_verify(self: Argon2CodeHasher, stored: str, who: Principal, code: str) -> bool:
        calls.append("verify")
        return verify(self, stored, who, code)

    def counted_dummy(self: Argon2CodeHasher, who: Principal, code: str) -> bool:
        calls.append("dummy")
        return dummy(self, who, code)

    monkeypatch.setattr(Argon2CodeHasher, "verify", counted_verify)
    monkeypatch.setattr(Argon2CodeHasher, "verify_dummy", counted_dummy)
    client, box, _ = make_app()
    open_user(box)
    for user, kind in (("01", "verify"), ("07", "dummy")):
        client.cookies.clear()
        identify(client, user=user)
        calls.clear()
        for attempt in range(1, LIMIT + 1):
            answer = submit_code(client, WRONG)
            assert answer.status_code == (403 if attempt == LIMIT else 401), (user, attempt)
        assert calls == [kind] * LIMIT, (user, calls)  # each failure hashed once (can fail)
        calls.clear()
        for code in (CODE, WRONG, "22222222"):
            client.cookies.clear()
            identify(client, user=user)
            assert submit_code(client, code).status_code == 403, (user, code)
        assert calls == [], (user, calls)


def _recovery_rig(make_app: AppMaker, relay: SmtpRelay, sms: SmsProvider, tmp: Path) -> Any:
    return _rig(make_app, relay, sms, tmp, rate_limits_enabled=True)


def test_guessed_recovery_links_are_throttled_per_address(
    make_app: AppMaker,
    smtp_relay: SmtpRelay,  # noqa: F811
    sms_hook: SmsProvider,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Thirty guessed links from one address are answered 410; the next request from that
    address, the real link included, is throttled (429 with Retry-After) and the code is not
    changed; an hour later the real link works. ASVS 5.0 6.3.1, 2.4.1; PSD2 RTS art. 4(3)."""
    rig = _recovery_rig(make_app, smtp_relay, sms_hook, tmp_path)
    ask_link(rig)
    link = last_link(rig)
    for n in range(30):
        guess = rig.client.get(f"/recovery/link/{n:04d}{'x' * 40}")
        assert guess.status_code == 410, (n, guess.status_code)
    refused = rig.client.get(f"/recovery/link/{link}")
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["retry-after"]) > 0
    assert choose(rig, link, "58301917").status_code == 429
    assert not rig.box.codes.login(CLIENT, "01", "58301917").authenticated
    rig.clock.advance(timedelta(hours=1, seconds=1))
    assert choose(rig, link, "58301917").status_code == 200
    assert rig.box.codes.login(CLIENT, "01", "58301917").authenticated


def test_bad_assertions_for_one_client_are_throttled_at_the_default_limit(
    make_app: AppMaker,
) -> None:
    """Assertions signed with a key that is not the client's: refused 401 twenty times
    (``oauth.token.account``: 20 a minute), then 429 with Retry-After, the right key too;
    another client is not affected; a minute later the client gets its token. ASVS 5.0
    2.4.1, 6.3.1."""
    client, _, clock = make_app(rate_limits_enabled=True)
    sender = register_sender(client)
    stranger, _ = new_key(sender.alg)
    for n in range(20):
        answer = token_response(client, sender, key=stranger)
        assert answer.status_code == 401, (n, answer.text)
        assert answer.json()["error"] == "invalid_client"
    throttled = token_response(client, sender, key=stranger)
    assert throttled.status_code == 429, throttled.text
    assert int(throttled.headers["retry-after"]) > 0
    assert token_response(client, sender).status_code == 429  # the right key waits too
    assert token_response(client, register_sender(client, "insurer")).status_code == 200
    clock.advance(timedelta(minutes=1, seconds=1))
    assert token_response(client, sender).status_code == 200


def test_bad_assertions_for_many_claimed_clients_are_throttled_per_address(
    make_app: AppMaker,
) -> None:
    """One address claiming a new unknown client each time (the RFC 7523 ``iss``/``sub``):
    sixty refusals (``oauth.token.source``: 60 a minute), then 429; another address still
    gets its token. ASVS 5.0 2.4.1, 6.3.1."""
    client, _, _ = make_app(rate_limits_enabled=True)
    real = register_sender(client)
    attacker = TestClient(client.app, raise_server_exceptions=False, client=("192.0.2.66", 1))
    statuses = []
    for n in range(61):
        name = f"ghost{n:03d}"
        answer = token_response(attacker, real, iss=name, sub=name)
        statuses.append(answer.status_code)
    assert statuses[:60] == [401] * 60, statuses
    assert statuses[60] == 429, statuses
    assert token_response(attacker, real).status_code == 429
    other = TestClient(client.app, raise_server_exceptions=False, client=("192.0.2.7", 1))
    assert token_response(other, real).status_code == 200


# --- CAP reader codes at login -------------------------------------------------------------


@pytest.fixture
def cap_open(tmp_path: Path, migrated_sqlite: Path) -> Iterator[CapServer]:
    """The CAP server (user 04 with a bound card) without the address limits."""
    yield from _server(tmp_path, migrated_sqlite, None, rate_limits_enabled=False)


@pytest.fixture
def cap_limited(tmp_path: Path, migrated_sqlite: Path) -> Iterator[CapServer]:
    """The CAP server with the default database limits on its fixed clock."""
    yield from _server(tmp_path, migrated_sqlite, None, rate_limits_enabled=True)


def _cap_answer(client: TestClient, code: str) -> Any:
    page = client.get("/login/cap")
    assert page.status_code == 200, page.text
    return client.post(
        "/login/cap", data={"code": code, "csrf_token": token(page.text)}, follow_redirects=False
    )


def _cap_lockout(server: CapServer) -> Any:
    state = server.box.store.get_lockout(Principal.parse(CLIENT, CAP_USER))
    assert state is not None
    return state.value


def test_five_wrong_cap_codes_at_login_block_the_account(cap_open: CapServer) -> None:
    """Without the address limits (the lockout alone): four wrong reader codes are refused
    (401), the fifth brings the blocked page (403); then the reader's right code, in the
    same flow and in a new login, gets the blocked page too and no session opens. ASVS 5.0
    6.3.1; PSD2 RTS art. 4(3)(b)."""
    client = cap_open.client
    identify(client, user=CAP_USER)
    statuses = [_cap_answer(client, WRONG).status_code for _ in range(LIMIT)]
    assert statuses == [401] * (LIMIT - 1) + [403], statuses
    assert block_status(_cap_lockout(cap_open), cap_open.clock.now()) is not BlockStatus.OPEN
    right = cap_open.code()
    client.cookies.clear()
    identify(client, user=CAP_USER)
    late = _cap_answer(client, right)
    assert late.status_code == 403, late.text
    assert late.headers.get("location") != "/home"
    assert client.get("/home", follow_redirects=False).status_code != 200


def test_wrong_cap_codes_from_one_address_are_throttled_before_the_block(
    cap_limited: CapServer,
) -> None:
    """With the default limits, one address gets four CAP refusals (401), then waits (429
    with Retry-After, ``login.failure.source_account``: 4 a day), the lockout stays open;
    the user, from another address, logs in with the reader's right code. ASVS 5.0 6.3.1,
    2.4.1; PSD2 RTS art. 4(3)(b); ADR 0026 (rate limit before lockout)."""
    client = cap_limited.client
    identify(client, user=CAP_USER)
    answers = [_cap_answer(client, WRONG) for _ in range(LIMIT + 1)]
    statuses = [a.status_code for a in answers]
    assert statuses == [401] * (LIMIT - 1) + [429, 429], statuses
    assert int(answers[-1].headers["retry-after"]) > 0
    assert _cap_lockout(cap_limited).failures == LIMIT - 1
    assert block_status(_cap_lockout(cap_limited), cap_limited.clock.now()) is BlockStatus.OPEN
    right = cap_limited.code()
    app = cap_limited.client.app
    with TestClient(app, raise_server_exceptions=False, client=("192.0.2.7", 1)) as user:
        identify(user, user=CAP_USER)
        done = _cap_answer(user, right)
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/home"
    assert _cap_lockout(cap_limited).failures == 0


def test_a_blocked_account_costs_no_cap_verification(
    cap_open: CapServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every cryptogram the issuer computes to check a code is counted
    (``SoftwareIssuerKeys.cryptogram``): some for each refused code before the block, none
    for the blocked answers (wrong codes and the reader's right code). ASVS 5.0 6.3.1, 2.4.1
    (a blocked account is neither an oracle nor a CPU sink); PSD2 RTS art. 4(3)(b)."""
    calls: list[str] = []
    compute = SoftwareIssuerKeys.cryptogram

    def counted(self: SoftwareIssuerKeys, key_ref: str, request: CryptogramRequest) -> bytes:
        calls.append(key_ref)
        return compute(self, key_ref, request)

    monkeypatch.setattr(SoftwareIssuerKeys, "cryptogram", counted)
    client = cap_open.client
    identify(client, user=CAP_USER)
    for attempt in range(1, LIMIT + 1):
        calls.clear()
        answer = _cap_answer(client, WRONG)
        assert answer.status_code == (403 if attempt == LIMIT else 401), attempt
        assert calls, attempt  # each refused code was checked (can fail)
    right = cap_open.code()
    for code in (WRONG, "22222222", right):
        client.cookies.clear()
        identify(client, user=CAP_USER)
        calls.clear()
        assert _cap_answer(client, code).status_code == 403, code
        assert calls == [], (code, calls)


# --- recovery pages ------------------------------------------------------------------------

CardRig = tuple[CapServer, SmtpRelay, SmsProvider]


def _card_answers(client: TestClient, form: dict[str, str], codes: int) -> list[Any]:
    """``codes`` wrong reader codes on one card recovery flow (each answer's new form)."""
    answers = []
    for _ in range(codes):
        answer = client.post("/recovery/card/answer", data={**form, "code": WRONG})
        answers.append(answer)
        if answer.status_code != 401 or 'name="flow_id"' not in answer.text:
            break  # throttled, or the flow ended (a page without a new challenge)
        form = {**dict(HIDDEN.findall(answer.text)), "csrf_token": token(answer.text)}
    return answers


def test_wrong_card_recovery_codes_from_one_address_stop_before_the_block(
    card: CardRig,  # noqa: F811
) -> None:
    """``/recovery/card`` counts wrong reader codes on the account's lockout (shared with
    the login), so it spends the login's failure budgets too: one address gets a flow's
    three refusals (the third ends the flow), one more refusal in a new flow, then 429
    with Retry-After (``login.failure.source_account``: 4 a day) while the lockout stays
    open; the user, from another address, recovers with the card right after. Before the
    fix, a stranger's fifth code blocked the account (and a few days of it, for good).
    ASVS 5.0 6.3.1, 2.4.1; PSD2 RTS art. 4(3)(b); ADR 0026."""
    server, _, sms = card
    _, form = _challenge(server, CAP_USER)
    first = _card_answers(server.client, form, 4)
    assert [a.status_code for a in first] == [401] * 3, [a.status_code for a in first]
    assert "flow_id" not in first[-1].text  # the third refusal ended the flow
    _, form = _challenge(server, CAP_USER)
    second = _card_answers(server.client, form, 3)
    assert [a.status_code for a in second] == [401, 429], [a.status_code for a in second]
    assert int(second[-1].headers["retry-after"]) > 0
    assert _cap_lockout(server).failures == LIMIT - 1
    assert block_status(_cap_lockout(server), server.clock.now()) is BlockStatus.OPEN
    app = server.client.app
    with TestClient(app, raise_server_exceptions=False, client=("192.0.2.7", 1)) as user:
        page = user.get("/recovery/card")
        shown = user.post(
            "/recovery/card",
            data={"client_id": CLIENT, "user_number": CAP_USER, "csrf_token": token(page.text)},
        )
        digits = DIGITS.search(shown.text)
        assert digits is not None, shown.text
        answer = {**dict(HIDDEN.findall(shown.text)), "csrf_token": token(shown.text)}
        done = user.post(
            "/recovery/card/answer", data={**answer, "code": server.code("respond", digits[1])}
        )
        assert done.status_code == 200, done.text
    server.client.app.state.recovery.dispatcher.drain()  # type: ignore[attr-defined]
    assert [m["to"] for m in sms.received] == [MOBILE]


@pytest.fixture
def limited_rig(
    make_app: AppMaker,
    smtp_relay: SmtpRelay,  # noqa: F811
    sms_hook: SmsProvider,  # noqa: F811
    tmp_path: Path,
) -> Rig:
    """The recovery rig with the default limits and secret questions allowed by policy
    (the user's answers set), on the fixed clock."""
    return answered_rig(make_app, smtp_relay, sms_hook, tmp_path, rate_limits_enabled=True)


def _elsewhere(rig: Rig) -> TestClient:
    """The user's own browser, at another address."""
    return TestClient(rig.client.app, raise_server_exceptions=False, client=("192.0.2.7", 1))


def _identifier(client: TestClient, code: str, siren: str = SIREN) -> Any:
    page = client.get("/recovery/identifier")
    form = {"siren": siren, "mobile": MOBILE, "code": code, "csrf_token": token(page.text)}
    return client.post("/recovery/identifier", data=form)


def test_forgotten_identifier_by_sms_is_throttled_and_never_blocks(limited_rig: Rig) -> None:
    """A stranger who knows the SIREN and the mobile number sends wrong codes from one
    address: the same page (200) each time; four count on the lockout (the login's failure
    budget of an unknown source, ``login.failure.source_account``: 4 a day), the fifth is
    answered as a claim of nobody (nothing counted, the lockout stays open), the sixth
    is throttled (429 with Retry-After, ``recovery.identifier.account``: 5 an hour per
    SIREN). The user, from another address, waits too (the limit is the company's) and
    gets the identifier by SMS an hour later. Before the fix the fifth code blocked the
    account. ASVS 5.0 6.3.1, 2.4.1, 6.4.x; PSD2 RTS art. 4(3)(b); ADR 0026, 0040."""
    rig = limited_rig
    statuses = [_identifier(rig.client, WRONG).status_code for _ in range(LIMIT + 1)]
    assert statuses == [200] * LIMIT + [429], statuses
    throttled = _identifier(rig.client, WRONG)
    assert int(throttled.headers["retry-after"]) > 0
    state = rig.box.store.get_lockout(rig.principal)
    assert state is not None
    assert state.value.failures == LIMIT - 1
    assert block_status(state.value, rig.clock.now()) is BlockStatus.OPEN
    with _elsewhere(rig) as user:
        assert _identifier(user, CODE).status_code == 429
        rig.clock.advance(timedelta(hours=1, seconds=1))
        assert _identifier(user, CODE).status_code == 200
    rig.drain()
    assert [m["to"] for m in rig.sms.received] == [MOBILE]
    assert CLIENT in rig.sms.received[0]["text"]


def _questions(client: TestClient, siren: str = SIREN, **answers: str) -> Any:
    page = client.get("/recovery/questions")
    assert page.status_code == 200, page.text
    given = {f"answer_{q}": a for q, a in {**QUESTION_ANSWERS, **answers}.items()}
    form = {"siren": siren, "name": QUESTION_NAME, **given, "csrf_token": token(page.text)}
    return client.post("/recovery/questions", data=form)


def test_secret_question_guesses_are_throttled_per_company_and_address(
    limited_rig: Rig,
) -> None:
    """Secret questions on (a policy option): wrong answers for one SIREN get the same
    refusal (400) five times, then 429 with Retry-After (``recovery.identifier.account``:
    5 an hour per SIREN), the right answers too, from the user's own address as well (the
    limit is the company's); an hour later the user sees the identifier. One address trying
    other companies is throttled at ``recovery.identifier.source`` (10 an hour). Answers
    are not counted by the lockout (no account is known before they match), so a stranger
    blocks nothing. ASVS 5.0 6.3.1, 2.4.1, 6.4.x; ADR 0026, 0040."""
    rig = limited_rig
    answers = [_questions(rig.client, childhood_street="rue des Roses") for _ in range(6)]
    assert [a.status_code for a in answers] == [400] * 5 + [429]
    assert int(answers[-1].headers["retry-after"]) > 0
    assert CLIENT not in answers[-1].text
    with _elsewhere(rig) as user:
        assert _questions(user).status_code == 429
        others = [_questions(user, siren=f"55210055{n}").status_code for n in range(10)]
        assert others == [400] * 10, others  # (the refused claim above consumed nothing)
        assert _questions(user, siren="552100554").status_code == 429  # the address: 10/hour
        rig.clock.advance(timedelta(hours=1, seconds=1))
        shown = _questions(user)
        assert shown.status_code == 200, shown.text
        assert CLIENT in shown.text
    state = rig.box.store.get_lockout(rig.principal)
    assert state is None or state.value.failures == 0


# --- bearer tokens on the box's APIs ---------------------------------------------------------

BAD_TOKENS: Final = 60  # api.bearer_failure.source: 60 a minute


def test_bad_bearer_tokens_from_one_address_are_throttled(make_app: AppMaker) -> None:
    """Guessed access tokens on ``/api/v1/sender/types`` from one address: sixty refusals
    (401 ``invalid_token`` with RFC 6750's challenge), then 429 with Retry-After, an RFC
    9457 problem document (``rate_limited``); the valid token from that same address still
    works (only refusals are counted and refused: a sender behind the same address is not
    denied); another address still gets 401; a minute later the first does too. ASVS 5.0
    2.4.1 (anti-automation), 6.3.1; RFC 6750 section 3.1."""
    client, _, clock = make_app(rate_limits_enabled=True)
    sender = register_sender(client)
    good = bearer(get_token(client, sender))
    attacker = TestClient(client.app, raise_server_exceptions=False, client=("192.0.2.66", 1))
    statuses = []
    for n in range(BAD_TOKENS + 1):
        answer = attacker.get("/api/v1/sender/types", headers=bearer(f"sbx_at_guess{n:04d}"))
        statuses.append(answer.status_code)
    assert statuses == [401] * BAD_TOKENS + [429], statuses
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "rate_limited"
    assert int(answer.headers["retry-after"]) > 0
    assert attacker.get("/api/v1/sender/types", headers=good).status_code == 200
    other = TestClient(client.app, raise_server_exceptions=False, client=("192.0.2.7", 1))
    refused = other.get("/api/v1/sender/types", headers=bearer("sbx_at_other"))
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    clock.advance(timedelta(minutes=1, seconds=1))
    assert attacker.get("/api/v1/sender/types", headers=bearer("sbx_at_x")).status_code == 401


def test_five_wrong_cap_codes_on_a_step_up_block_the_account(
    cap_world: tuple[World, CapWorld],  # noqa: F811
) -> None:
    """A transfer signed with the CAP reader (Sign mode, the amount bound): four wrong codes
    are refused (401, a new challenge each time), the fifth refuses the operation (403) and
    blocks the account (the lockout is shared with the login); the page offers no new
    challenge and nothing is executed. ASVS 5.0 6.3.1; PSD2 RTS art.
    4(3)(b) and art. 5 (dynamic linking)."""
    stepup, _ = cap_world
    stepup.login()
    order, _ = stepup.enter("/transfers/new", TRANSFER)
    statuses = [_stepup_cap(stepup, order, "cap_sign", lambda _: WRONG) for _ in range(LIMIT)]
    assert statuses == [401] * (LIMIT - 1) + [403], statuses
    state = stepup.box.store.get_lockout(stepup.principal)
    assert state is not None
    assert block_status(state.value, stepup.clock.now()) is not BlockStatus.OPEN
    page = stepup.client.get(f"/operations/{order}/proof/cap_sign")
    assert page.status_code != 200 or "Challenge" not in page.text
    assert stepup.execute(order).status_code != 200
