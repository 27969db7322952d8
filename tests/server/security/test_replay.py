"""Replay of one-time values through HTTP (issue 18, "Replay"): each is accepted once.

Two real ``securebox serve`` processes share one scratch PostgreSQL database
(:mod:`tests.server.security.replay_support`). For each value:

* sequentially: the same value posted twice (a second flow, on the other process) is refused;
* concurrently: the same value posted to both processes at the same instant (threads behind
  a barrier), ``SECUREBOX_REPLAY_ROUNDS`` rounds (default 2; the restart: 1): exactly one
  acceptance a round;
* after a restart: the value accepted, the process stopped by its group id and started again
  on the same database, the value replayed: refused.

The values covered: the TOTP code at login, the step-up grant
(``/operations/{id}/execute``, also while the order's page is opened elsewhere), the OOB
code (SMS, e-mail) at login, the CAP code at login, the passkey assertion at login, the
login flow after its completion, the certificate challenge signed with the certificate's key
(as the signing agent signs it), the recovery e-mail link (forgotten code), the senders'
``Idempotency-Key`` (one document, the stored answer replayed, a conflict for another
body) and a third party's invitation answered twice at once (raced only). References: OWASP
ASVS 5.0 2.3.3 (a business operation applied whole), 2.3.4 (no double booking), 6.4.1 (a
reset link expires once used), 6.5.1 (one-time passwords, OOB and TOTP codes usable once),
6.6.2 (an OOB code bound to its request), 6.7.2 (a fresh challenge each time), 7.2.4 (a new
session token at authentication), 7.5.3 (a further factor before a sensitive transaction);
PSD2 RTS art. 4(1) (an authentication code cannot be reused: a replayed code is refused),
art. 5(1) (the code is specific to the amount and payee of one operation).
``regulation.md`` of the shared design, "Replay".
"""

from __future__ import annotations

import base64
import html
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing
from datetime import UTC, datetime, timedelta
from functools import partial

import httpx
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from securebox_auth.emv.profiles import TerminalInput
from securebox_auth.entitlements.model import (
    THIRD_PARTY_OPERATIONS,
    DocumentScope,
    Invitation,
    InvitationStatus,
)
from securebox_auth.factors.oob import Channel
from securebox_auth.factors.totp_credential import TotpCredential
from securebox_auth.identity import Principal, Siren
from securebox_auth.testing.authenticator import SoftAuthenticator
from securebox_server.db.schema import BOX_DOCUMENTS
from securebox_server.invitations.links import InvitationLinks, Link, new_token
from securebox_server.stepup.orders import OrderBook
from tests.server.box.e2e.world import pdf, publish, sender_token
from tests.server.live.conftest import token, totp_now
from tests.server.live.material import bind_card, passkey
from tests.server.methods.conftest import EMAIL, PHONE
from tests.server.security.replay_support import (
    CODE,
    RESTARTS,
    ROUNDS,
    Pair,
    code_then_strong,
    form_of,
    luhn_siren,
    pair_of_servers,
    post,
    race,
    start_login,
)
from tests.stores.conftest import postgres_admin_url  # noqa: F401 (a fixture, by name)

ORDER = re.compile(r"/operations/([A-Za-z0-9_-]+)")
OPTIONS = re.compile(r'data-options="([^"]+)"')
CEREMONY = re.compile(r'name="ceremony" value="([^"]+)"')
HIDDEN = re.compile(r'name="(challenge|target)" value="([^"]*)"')
DATA_CHALLENGE = re.compile(r'data-challenge="([^"]*)"')
CHALLENGE = re.compile(r'name="challenge" value="([^"]*)"')
#: The date of the documents published (a second before the run, for every request).
ISSUED = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
#: Two new codes a recovery link may set (each passes the code rules).
NEW_CODES = ("58301917", "73920461")


@pytest.fixture(scope="module")
def pair(
    postgres_admin_url: str,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pair]:
    with pair_of_servers(postgres_admin_url, tmp_path_factory.mktemp("replay")) as started:
        yield started


def _next_totp(pair: Pair, credential: TotpCredential | None) -> str:
    """The next time step's code (the enrolment's confirmation used the current one; the
    policy accepts one step of drift)."""
    assert credential is not None
    return totp_now(credential, pair.box.clock.now() + timedelta(seconds=30))


def _accepted_login(answer: httpx.Response) -> bool:
    return answer.status_code == 303 and answer.headers.get("location") == "/home"


def _refused_login(answer: httpx.Response) -> bool:
    return answer.status_code in (400, 401, 403, 409, 429) and "location" not in answer.headers


def _one_login(pair: Pair, principal: Principal, answers: list[httpx.Response]) -> None:
    """Of the raced ``answers``, none a 5xx and exactly one login opened (one session)."""
    assert all(a.status_code < 500 for a in answers), [a.status_code for a in answers]
    accepted = [a for a in answers if _accepted_login(a)]
    assert len(accepted) == 1, [(a.status_code, a.headers.get("location")) for a in answers]
    assert len(pair.box.sessions_of(principal)) == 1


# -- TOTP at login ----------------------------------------------------------------------------


def _two_at_the_totp_prompt(
    pair: Pair, first: int, second: int
) -> tuple[Principal, str, list[tuple[httpx.Client, str]]]:
    """A new overdue user with TOTP; two browsers (on processes ``first`` and ``second``)
    at the TOTP prompt of their own login flows, each with its form's CSRF token."""
    principal, credential = pair.overdue(totp=True)
    ready = []
    for which in (first, second):
        browser = pair.browser(which)
        code_then_strong(browser, principal)
        ready.append((browser, form_of(browser, "/login/totp")))
    return principal, _next_totp(pair, credential), ready


def test_totp_code_at_login_is_accepted_once(pair: Pair) -> None:
    """ASVS 6.5.1; RTS art. 4(1): a TOTP code accepted at one login is
    refused at another login of the same user on the other process (not a new session)."""
    principal, code, ready = _two_at_the_totp_prompt(pair, 0, 1)
    (one, csrf_one), (two, csrf_two) = ready
    with closing(one), closing(two):
        assert _accepted_login(post(one, "/login/totp", csrf_one, code=code))
        again = post(two, "/login/totp", csrf_two, code=code)
        assert _refused_login(again), (again.status_code, again.headers)
        assert two.get("/home", follow_redirects=False).status_code == 303  # not logged in
        assert len(pair.box.sessions_of(principal)) == 1


def test_totp_code_at_login_raced_on_two_processes_is_accepted_once(pair: Pair) -> None:
    """ASVS 6.5.1; RTS art. 4(1): the same code posted to both processes at once:
    exactly one login opens, every round."""
    for _ in range(ROUNDS):
        principal, code, ready = _two_at_the_totp_prompt(pair, 0, 1)
        (one, csrf_one), (two, csrf_two) = ready
        with closing(one), closing(two):
            answers = race(
                partial(post, one, "/login/totp", csrf_one, code=code),
                partial(post, two, "/login/totp", csrf_two, code=code),
            )
        accepted = [a for a in answers if _accepted_login(a)]
        assert len(accepted) == 1, [(a.status_code, a.headers.get("location")) for a in answers]
        assert sum(_refused_login(a) for a in answers) == 1
        assert len(pair.box.sessions_of(principal)) == 1


# -- the OOB code (SMS, e-mail) at login -------------------------------------------------------


def _oob_sent(
    pair: Pair, channel: Channel, which: int
) -> tuple[Principal, httpx.Client, dict[str, str], str]:
    """A new overdue user with a verified destination; a browser on process ``which`` at
    the 90-day prompt asked a code by message: (principal, browser, the form's fields with
    the code received and the CSRF token, the destination)."""
    principal, _ = pair.overdue()
    to = EMAIL if channel is Channel.EMAIL else PHONE
    pair.enrol_destination(principal, channel, to)
    browser = pair.browser(which)
    code_then_strong(browser, principal)
    path = f"/login/{channel.value}"
    page = browser.get(path)
    assert page.status_code == 200, page.text
    sent = browser.post(
        f"{path}/send", data={**dict(HIDDEN.findall(page.text)), "csrf_token": token(page.text)}
    )
    assert sent.status_code == 200, sent.text
    fields = dict(HIDDEN.findall(sent.text))
    assert fields.get("challenge"), sent.text
    fields |= {"code": pair.last_code(channel, to), "csrf_token": token(sent.text)}
    return principal, browser, fields, path


def _second_flow(
    pair: Pair, principal: Principal, path: str, which: int
) -> tuple[httpx.Client, str]:
    """Another browser of the same user (on process ``which``) at the same prompt."""
    browser = pair.browser(which)
    code_then_strong(browser, principal)
    return browser, form_of(browser, path)


@pytest.mark.parametrize("channel", [Channel.SMS, Channel.EMAIL])
def test_oob_code_at_login_is_accepted_once(pair: Pair, channel: Channel) -> None:
    """ASVS 6.5.1, 6.6.2 (the code bound to its request); RTS art. 4(1): a code received by
    SMS or e-mail, accepted once, is refused when posted again with its challenge from
    another login flow of the same user on the other process, and when the flow's own
    cookies from before the acceptance post it again."""
    principal, browser, fields, path = _oob_sent(pair, channel, 0)
    other, csrf = _second_flow(pair, principal, path, 1)
    twin = pair.twin(browser, 1)  # the flow's cookies, kept from before the acceptance
    with closing(browser), closing(other), closing(twin):
        done = browser.post(path, data=fields, follow_redirects=False)
        assert _accepted_login(done), (done.status_code, done.headers)
        replayed = twin.post(path, data=fields, follow_redirects=False)
        assert not _accepted_login(replayed), (replayed.status_code, replayed.headers)
        assert replayed.status_code < 500
        again = other.post(path, data={**fields, "csrf_token": csrf}, follow_redirects=False)
        assert _refused_login(again), (again.status_code, again.headers)
        assert other.get("/home", follow_redirects=False).status_code == 303
    assert len(pair.box.sessions_of(principal)) == 1


def test_oob_code_at_login_raced_on_two_processes_is_accepted_once(pair: Pair) -> None:
    """ASVS 6.5.1; RTS art. 4(1): the code and its challenge posted at once to both
    processes, by the flow's browser and by a second flow of the same user: exactly one
    login opens, every round."""
    for _ in range(ROUNDS):
        principal, browser, fields, path = _oob_sent(pair, Channel.SMS, 0)
        other, csrf = _second_flow(pair, principal, path, 1)
        with closing(browser), closing(other):
            answers = race(
                partial(browser.post, path, data=fields, follow_redirects=False),
                partial(other.post, path, data={**fields, "csrf_token": csrf},
                        follow_redirects=False),
            )  # fmt: skip
        _one_login(pair, principal, answers)


# -- the CAP code at login ----------------------------------------------------------------------


def _cap_code(pair: Pair) -> tuple[Principal, str]:
    """A new user with a CAP card bound the bank's way, and an Identify code of the card's
    (its application transaction counter is past the binding's)."""
    principal, _ = pair.user()
    name = principal.client_id.value
    card = bind_card(pair.box, principal, pair.home / f"card-{name}.json", f"card-{name}")
    return principal, card.code(TerminalInput.identify())


def _at_the_cap_prompt(pair: Pair, principal: Principal, which: int) -> tuple[httpx.Client, str]:
    browser = pair.browser(which)
    start_login(browser, principal)
    return browser, form_of(browser, "/login/cap")


def test_cap_code_at_login_is_accepted_once(pair: Pair) -> None:
    """ASVS 6.5.1; RTS art. 4(1): a CAP Identify code (bound to the card's counter) that
    opened a login is refused at another login of the same user on the other process."""
    principal, code = _cap_code(pair)
    one, csrf_one = _at_the_cap_prompt(pair, principal, 0)
    two, csrf_two = _at_the_cap_prompt(pair, principal, 1)
    with closing(one), closing(two):
        assert _accepted_login(post(one, "/login/cap", csrf_one, code=code))
        again = post(two, "/login/cap", csrf_two, code=code)
        assert _refused_login(again), (again.status_code, again.headers)
        assert two.get("/home", follow_redirects=False).status_code == 303
    assert len(pair.box.sessions_of(principal)) == 1


def test_cap_code_at_login_raced_on_two_processes_is_accepted_once(pair: Pair) -> None:
    """ASVS 6.5.1; RTS art. 4(1): the same CAP code posted by two login flows to both
    processes at once: exactly one login opens, every round."""
    for _ in range(ROUNDS):
        principal, code = _cap_code(pair)
        one, csrf_one = _at_the_cap_prompt(pair, principal, 0)
        two, csrf_two = _at_the_cap_prompt(pair, principal, 1)
        with closing(one), closing(two):
            answers = race(
                partial(post, one, "/login/cap", csrf_one, code=code),
                partial(post, two, "/login/cap", csrf_two, code=code),
            )
        accepted = [a for a in answers if _accepted_login(a)]
        assert len(accepted) == 1, [(a.status_code, a.headers.get("location")) for a in answers]
        assert sum(_refused_login(a) for a in answers) == 1
        assert len(pair.box.sessions_of(principal)) == 1


# -- the passkey assertion at login --------------------------------------------------------------


def _at_prompt(pair: Pair, principal: Principal, path: str) -> tuple[httpx.Client, httpx.Response]:
    """A browser on process 0 whose login of ``principal`` is at the prompt ``path``,
    and that prompt's page."""
    browser = pair.browser(0)
    start_login(browser, principal)
    page = browser.get(path)
    assert page.status_code == 200, page.text
    return browser, page


def _passkey_signed(pair: Pair) -> tuple[Principal, httpx.Client, dict[str, str]]:
    """A new user with a passkey; a browser on process 0 at the passkey prompt, and the
    form its authenticator signed for that page's challenge (ceremony, assertion, CSRF)."""
    principal, _ = pair.user()
    device = passkey(pair.box, principal, pair.public_url)
    browser, page = _at_prompt(pair, principal, "/login/passkey")
    options, ceremony = OPTIONS.search(page.text), CEREMONY.search(page.text)
    assert options is not None, page.text
    assert ceremony is not None, page.text
    credential = device.get(json.loads(html.unescape(options.group(1))))
    form = {"ceremony": ceremony.group(1), "credential": json.dumps(credential)}
    return principal, browser, {**form, "csrf_token": token(page.text)}


def _signed_once(
    pair: Pair, principal: Principal, browser: httpx.Client, form: dict[str, str], path: str
) -> None:
    """The signed ``form`` (a passkey assertion, a certificate signature) posted by its
    flow's ``browser`` at ``path`` opens a login; posted again by the flow's cookies from
    before (on process 1) and by another login flow of the same user, it opens nothing."""
    twin = pair.twin(browser, 1)
    other = pair.browser(1)
    start_login(other, principal)
    csrf = form_of(other, path)
    with closing(browser), closing(twin), closing(other):
        done = browser.post(path, data=form, follow_redirects=False)
        assert _accepted_login(done), (done.status_code, done.headers)
        for replayed in (
            twin.post(path, data=form, follow_redirects=False),
            other.post(path, data={**form, "csrf_token": csrf}, follow_redirects=False),
        ):
            assert not _accepted_login(replayed), (replayed.status_code, replayed.headers)
            assert replayed.status_code < 500
        assert other.get("/home", follow_redirects=False).status_code == 303
    assert len(pair.box.sessions_of(principal)) == 1


def test_passkey_assertion_at_login_is_accepted_once(pair: Pair) -> None:
    """ASVS 6.5.1, 6.7.2 (a fresh challenge each time); RTS art. 4(1): a passkey assertion
    that opened a login, posted again by the same flow's cookies (kept from before) on the
    other process, or by another login flow of the same user, opens nothing."""
    principal, browser, form = _passkey_signed(pair)
    _signed_once(pair, principal, browser, form, "/login/passkey")


def test_passkey_assertion_raced_on_two_processes_is_accepted_once(pair: Pair) -> None:
    """ASVS 6.5.1; RTS art. 4(1): one assertion posted by one flow to both processes at
    once: exactly one login opens, every round."""
    for _ in range(ROUNDS):
        principal, browser, form = _passkey_signed(pair)
        twin = pair.twin(browser, 1)
        with closing(browser), closing(twin):
            answers = race(
                partial(browser.post, "/login/passkey", data=form, follow_redirects=False),
                partial(twin.post, "/login/passkey", data=form, follow_redirects=False),
            )
        _one_login(pair, principal, answers)


# -- the login flow id after completion -------------------------------------------------------


def _at_the_code_prompt(pair: Pair) -> tuple[Principal, httpx.Client, httpx.Client, str]:
    """A new user (strong login recent: the code alone completes the login); a browser on
    process 0 at the code prompt, its twin (same cookies: the same flow) on process 1."""
    principal, _ = pair.user()
    browser = pair.browser(0)
    start_login(browser, principal)
    csrf = form_of(browser, "/login/code")
    return principal, browser, pair.twin(browser, 1), csrf


def test_completed_login_flow_is_not_completed_again(pair: Pair) -> None:
    """ASVS 7.2.4 (a new session token at authentication), 6.5.1; RTS art. 4(1): the
    flow's cookie kept from before the completion and its last step posted again (on the
    other process) opens no second session."""
    principal, browser, twin, csrf = _at_the_code_prompt(pair)
    with closing(browser), closing(twin):
        assert _accepted_login(post(browser, "/login/code", csrf, code=CODE))
        again = post(twin, "/login/code", csrf, code=CODE)
        assert not _accepted_login(again), (again.status_code, again.headers)
        assert again.status_code < 500
        assert twin.get("/home", follow_redirects=False).status_code == 303
    assert len(pair.box.sessions_of(principal)) == 1


def test_login_flow_raced_on_two_processes_completes_once(pair: Pair) -> None:
    """ASVS 7.2.4, 6.5.1; RTS art. 4(1): the last step of one flow posted to both
    processes at once: exactly one session opens, every round."""
    for _ in range(ROUNDS):
        principal, browser, twin, csrf = _at_the_code_prompt(pair)
        with closing(browser), closing(twin):
            answers = race(
                partial(post, browser, "/login/code", csrf, code=CODE),
                partial(post, twin, "/login/code", csrf, code=CODE),
            )
        _one_login(pair, principal, answers)


# -- the step-up grant ------------------------------------------------------------------------


def _logged_in(pair: Pair, principal: Principal, which: int) -> httpx.Client:
    """A code-only session of ``principal`` on process ``which``."""
    browser = pair.browser(which)
    start_login(browser, principal)
    logged = post(browser, "/login/code", form_of(browser, "/login/code"), code=CODE)
    assert logged.headers.get("location") == "/home", logged.text
    return browser


def _approved(browser: httpx.Client, device: SoftAuthenticator, sent: httpx.Response) -> str:
    """The order ``sent`` redirected to, approved with the passkey ``device``: its id."""
    assert sent.status_code == 303, sent.text
    found = ORDER.fullmatch(sent.headers["location"])
    assert found is not None, sent.headers
    order = found.group(1)
    path = f"/operations/{order}/proof/passkey_uv"
    page = browser.get(path)
    assert page.status_code == 200, page.text
    options, ceremony = OPTIONS.search(page.text), CEREMONY.search(page.text)
    assert options is not None, page.text
    assert ceremony is not None, page.text
    response = device.get(json.loads(html.unescape(options.group(1))))
    proved = post(browser, path, token(page.text), ceremony=ceremony.group(1),
                  response=json.dumps(response))  # fmt: skip
    assert proved.status_code == 303, proved.text
    return order


def _approved_payee(pair: Pair, which: int) -> tuple[Principal, httpx.Client, str, str]:
    """A code-only session on process ``which``; a new payee entered and approved with a
    passkey (the payee form asks one): (principal, browser, order id, the payee's IBAN)."""
    principal, _ = pair.user()
    device = passkey(pair.box, principal, pair.public_url)
    browser = _logged_in(pair, principal, which)
    iban = "DE89370400440532013000"
    sent = post(browser, "/payees/new", form_of(browser, "/payees/new"),
                name=f"Payee {principal.client_id.value}", iban=iban)  # fmt: skip
    return principal, browser, _approved(browser, device, sent), iban


def _execute(browser: httpx.Client, order: str) -> httpx.Response:
    csrf = form_of(browser, f"/operations/{order}")
    return browser.post(f"/operations/{order}/execute", data={"csrf_token": csrf})


def _payees(pair: Pair, principal: Principal) -> list[str]:
    return [p.iban for p in OrderBook(pair.box.store.engine).payees(principal)]  # type: ignore[attr-defined]


def _done(pair: Pair, principal: Principal, order: str) -> bool:
    book = OrderBook(pair.box.store.engine)  # type: ignore[attr-defined]
    return book.get(principal, order).status == "done"


def test_step_up_grant_executes_once(pair: Pair) -> None:
    """ASVS 6.5.1, 7.5.3; RTS art. 4(1), art. 5(1): the approved operation executed a
    second time (the same session, on the other process) is refused; the payee is saved
    once."""
    principal, browser, order, iban = _approved_payee(pair, 0)
    with closing(browser), pair.twin(browser, 1) as other:
        done = _execute(browser, order)
        assert done.status_code == 200, done.text
        again = _execute(other, order)
        assert again.status_code in (403, 409), again.text
    assert _payees(pair, principal) == [iban]
    assert _done(pair, principal, order)


def test_step_up_grant_raced_on_two_processes_executes_once(pair: Pair) -> None:
    """ASVS 6.5.1, 7.5.3; RTS art. 4(1), art. 5(1): the same approved operation executed on
    both processes at once: exactly one 200 and one payee saved, every round."""
    for _ in range(ROUNDS):
        principal, browser, order, iban = _approved_payee(pair, 0)
        with closing(browser), pair.twin(browser, 1) as other:
            csrf = form_of(browser, f"/operations/{order}")
            path = f"/operations/{order}/execute"
            answers = race(
                partial(browser.post, path, data={"csrf_token": csrf}),
                partial(other.post, path, data={"csrf_token": csrf}),
            )
        statuses = sorted(a.status_code for a in answers)
        assert statuses[0] == 200, statuses
        assert statuses[1] in (401, 403, 409), statuses  # 401: the flow was consumed
        assert _payees(pair, principal) == [iban]
        assert _done(pair, principal, order)


def _open_until(viewer: httpx.Client, order: str, executed: threading.Event) -> int:
    """Open the order's page until ``executed``; how many times."""
    opened = 0
    while not executed.is_set():
        assert viewer.get(f"/operations/{order}").status_code < 500
        opened += 1
    return opened


def _execute_then(browser: httpx.Client, order: str, executed: threading.Event) -> int:
    """Execute the order; ``executed`` set once answered."""
    try:
        return _execute(browser, order).status_code
    finally:
        executed.set()


def test_step_up_grant_executed_while_the_order_is_opened_ends_done(pair: Pair) -> None:
    """ASVS 2.3.3 (a business operation applied whole, once), 7.5.3; RTS art. 5(1): the
    order's page opened again and again on the other process while the operation executes
    (a request that finds the consumed grant's flow gone) never turns the executed order
    into a refused one: the 200 means the order is done and the payee saved, every
    round."""
    for _ in range(ROUNDS):
        principal, browser, order, iban = _approved_payee(pair, 0)
        executed = threading.Event()
        viewers = [pair.twin(browser, 1) for _ in range(3)]
        with closing(browser), ExitStack() as stack:
            for viewer in viewers:
                stack.enter_context(closing(viewer))
            status, *_ = race(
                partial(_execute_then, browser, order, executed),
                *(partial(_open_until, v, order, executed) for v in viewers),
            )
        assert status == 200, status
        assert _done(pair, principal, order)
        assert _payees(pair, principal) == [iban]


# -- the certificate challenge signature at login ---------------------------------------------


def _certificate_signed(pair: Pair) -> tuple[Principal, httpx.Client, dict[str, str]]:
    """A new user with a certificate of the test PKI; a browser on process 0 at the
    certificate prompt, and the form with the page's challenge signed by the certificate's
    key (ECDSA P-256, as the signing agent signs it) and the CSRF token."""
    principal, _ = pair.user()
    issued = pair.certificate(principal)
    browser, page = _at_prompt(pair, principal, "/login/certificate")
    payload, challenge = DATA_CHALLENGE.search(page.text), CHALLENGE.search(page.text)
    assert payload is not None, page.text
    assert challenge is not None, page.text
    raw = html.unescape(payload.group(1))
    data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    key = issued.key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
    form = {
        "challenge": challenge.group(1),
        "signature": base64.urlsafe_b64encode(signature).rstrip(b"=").decode(),
        "certificate": "",
        "csrf_token": token(page.text),
    }
    return principal, browser, form


def test_certificate_signature_at_login_is_accepted_once(pair: Pair) -> None:
    """ASVS 6.5.1, 6.7.2 (a fresh challenge each time); RTS art. 4(1): a signed certificate
    challenge that opened a login, posted again by the same flow's cookies (kept from
    before) on the other process, or by another login flow of the same user, opens
    nothing."""
    principal, browser, form = _certificate_signed(pair)
    _signed_once(pair, principal, browser, form, "/login/certificate")


def test_certificate_signature_raced_on_two_processes_is_accepted_once(pair: Pair) -> None:
    """ASVS 6.5.1, 6.7.2; RTS art. 4(1): one signed challenge posted by the flow to process
    0 and by another login flow of the same user to process 1 at once: exactly one login
    opens, every round."""
    for _ in range(ROUNDS):
        principal, browser, form = _certificate_signed(pair)
        other = pair.browser(1)
        start_login(other, principal)
        theirs = {**form, "csrf_token": form_of(other, "/login/certificate")}
        with closing(browser), closing(other):
            answers = race(
                partial(browser.post, "/login/certificate", data=form, follow_redirects=False),
                partial(other.post, "/login/certificate", data=theirs, follow_redirects=False),
            )
        _one_login(pair, principal, answers)


# -- the recovery e-mail link (forgotten code) --------------------------------------------------


def _recovery_link(pair: Pair) -> tuple[Principal, str]:
    """A new user with a verified e-mail address who asked for a recovery link (the form
    on process 0); the link's token, read from the mail the SMTP server received."""
    principal, _ = pair.user()
    address = f"r{principal.client_id.value}@bank.example"
    pair.enrol_destination(principal, Channel.EMAIL, address)
    with closing(pair.browser(0)) as browser:
        asked = post(browser, "/recovery/code", form_of(browser, "/recovery/code"),
                     client_id=principal.client_id.value,
                     user_number=principal.user_number.value, email=address)  # fmt: skip
        assert asked.status_code == 200, asked.text
    return principal, pair.mailed_link(address)


def _choose(browser: httpx.Client, link: str, code: str) -> httpx.Response:
    """The new code chosen through the link (its form's CSRF token read first)."""
    csrf = form_of(browser, f"/recovery/link/{link}")
    return post(browser, f"/recovery/link/{link}", csrf, code=code, confirm=code)


def _code_is(pair: Pair, principal: Principal, code: str) -> bool:
    client, user = principal.client_id.value, principal.user_number.value
    return pair.box.codes.login(client, user, code).authenticated


def test_recovery_link_resets_the_code_once(pair: Pair) -> None:
    """ASVS 6.4.1 (a reset link expires once used), 6.5.1; RTS art. 4(1): the link that
    reset the code, opened or posted again on the other process with another code, is gone
    (410); the code is the first one chosen."""
    principal, link = _recovery_link(pair)
    with closing(pair.browser(0)) as one, closing(pair.browser(1)) as two:
        csrf = form_of(two, f"/recovery/link/{link}")  # the form, opened before the reset
        done = _choose(one, link, NEW_CODES[0])
        assert done.status_code == 200, done.text
        again = post(two, f"/recovery/link/{link}", csrf, code=NEW_CODES[1],
                     confirm=NEW_CODES[1])  # fmt: skip
        assert again.status_code == 410, again.text
        assert two.get(f"/recovery/link/{link}").status_code == 410
    assert _code_is(pair, principal, NEW_CODES[0])
    assert not _code_is(pair, principal, NEW_CODES[1])


def test_recovery_link_raced_on_two_processes_resets_once(pair: Pair) -> None:
    """ASVS 6.4.1, 6.5.1; RTS art. 4(1): one link posted to both processes at once, each
    with its own new code: exactly one reset (one 200, one 410) and the code is the
    winner's, every round."""
    for _ in range(ROUNDS):
        principal, link = _recovery_link(pair)
        path = f"/recovery/link/{link}"
        with closing(pair.browser(0)) as one, closing(pair.browser(1)) as two:
            forms = [form_of(one, path), form_of(two, path)]
            answers = race(
                *(
                    partial(post, browser, path, csrf, code=new, confirm=new)
                    for browser, csrf, new in zip((one, two), forms, NEW_CODES, strict=True)
                )
            )
        statuses = [a.status_code for a in answers]
        assert sorted(statuses) == [200, 410], statuses
        winner = NEW_CODES[statuses.index(200)]
        loser = NEW_CODES[statuses.index(410)]
        assert _code_is(pair, principal, winner)
        assert not _code_is(pair, principal, loser)


# -- the ingestion API's Idempotency-Key ---------------------------------------------------------


def _sender(pair: Pair) -> tuple[Siren, str]:
    """A new company in a new subscription, and an access token of the sender (a signed
    client assertion, on process 0)."""
    principal, _ = pair.user()
    siren = luhn_siren(int(principal.client_id.value))
    pair.company(principal, siren)
    with closing(pair.api(0)) as http:
        return siren, sender_token(http, pair.sender, pair.box.clock, pair.public_url)


def _publish(pair: Pair, which: int, bearer: str, siren: Siren, key: str, n: int) -> httpx.Response:
    """The PDF number ``n`` published to ``siren`` on process ``which`` under ``key`` (the
    same request each time: the same metadata, :data:`ISSUED`)."""
    with closing(pair.api(which)) as http:
        return publish(http, bearer, pdf(n), key=key, companies=(siren,), issued_at=ISSUED)


def _published(answer: httpx.Response) -> str:
    """The one document id of a ``201``."""
    assert answer.status_code == 201, answer.text
    ((result),) = answer.json()["results"]
    assert result["status"] == "published", result
    document: str = result["document_id"]
    return document


def _documents_of(pair: Pair, siren: Siren) -> int:
    query = sa.select(sa.func.count()).where(BOX_DOCUMENTS.c.company == siren.value)
    with pair.documents.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def test_idempotency_key_replayed_gives_the_stored_answer(pair: Pair) -> None:
    """ASVS 2.3.3 (a business operation applied whole, once), 2.3.4 (no double booking):
    the same key and request posted again, on the other process, answers the
    same ``201`` marked ``Idempotent-Replayed`` and publishes nothing more; another body
    under the key is ``422 idempotency_conflict``."""
    siren, bearer = _sender(pair)
    key = f"once-{siren.value}"
    first = _publish(pair, 0, bearer, siren, key, 1)
    document = _published(first)
    assert "Idempotent-Replayed" not in first.headers
    again = _publish(pair, 1, bearer, siren, key, 1)
    assert _published(again) == document
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    other = _publish(pair, 1, bearer, siren, key, 2)
    assert other.status_code == 422, other.text
    assert other.json()["code"] == "idempotency_conflict"
    assert _documents_of(pair, siren) == 1


def test_idempotency_key_raced_on_two_processes_publishes_once(pair: Pair) -> None:
    """ASVS 2.3.3, 2.3.4: the same key and request posted to both processes at once: two
    ``201`` naming the same document (one of them the replay), one document; the same key
    with two different bodies at once: one ``201``, one ``422`` conflict, every round."""
    for _ in range(ROUNDS):
        siren, bearer = _sender(pair)
        key = f"race-{siren.value}"
        answers = race(*(partial(_publish, pair, w, bearer, siren, key, 1) for w in (0, 1)))
        assert len({_published(a) for a in answers}) == 1
        replayed = sorted(str(a.headers.get("Idempotent-Replayed")) for a in answers)
        assert replayed == ["None", "true"], replayed
        assert _documents_of(pair, siren) == 1
        key = f"conflict-{siren.value}"
        answers = race(*(partial(_publish, pair, w, bearer, siren, key, 10 + w) for w in (0, 1)))
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [201, 422], [(a.status_code, a.text) for a in answers]
        assert _documents_of(pair, siren) == 2


# -- the third party's invitation --------------------------------------------------------------


def _invited(pair: Pair) -> tuple[Principal, Principal, str, str, SoftAuthenticator]:
    """A pending invitation of a new subscription (its company) for the principal user of
    another one, who has a passkey, and its link as the invitation mail carries it:
    (inviter, invitee, invitation id, link token, the invitee's passkey)."""
    inviter, _ = pair.user()
    invitee, _ = pair.user()
    device = passkey(pair.box, invitee, pair.public_url)
    siren = luhn_siren(int(inviter.client_id.value))
    pair.company(inviter, siren)
    invitation_id, link = f"inv-{siren.value}", new_token()
    now = pair.box.clock.now()
    pair.invite(inviter, Invitation(
        id=invitation_id, invitee=invitee, companies=frozenset({siren}),
        documents=DocumentScope.all(), operations=THIRD_PARTY_OPERATIONS, invited_by=inviter,
        created_at=now, expires_at=now + timedelta(days=14), status=InvitationStatus.PENDING,
    ))  # fmt: skip
    InvitationLinks(pair.box.store.engine).add(  # type: ignore[attr-defined]
        Link(invitation_id, inviter.client_id, siren, "Cabinet", "cabinet@example.org", invitee,
             False, now, now + timedelta(days=14), None),
        link,
    )  # fmt: skip
    return inviter, invitee, invitation_id, link, device


def _answered(
    pair: Pair, invitee: Principal, link: str, device: SoftAuthenticator, which: int, what: str
) -> tuple[httpx.Client, str]:
    """A session of the invitee on process ``which`` that opened the link and answered
    ``what`` (``accept``, ``decline``), approved with the passkey: (browser, order id)."""
    browser = _logged_in(pair, invitee, which)
    csrf = form_of(browser, f"/invitations/{link}")
    sent = post(browser, f"/invitations/{link}/{what}", csrf)
    return browser, _approved(browser, device, sent)


def _status(pair: Pair, inviter: Principal, invitation_id: str) -> InvitationStatus:
    found = pair.box.store.get_subscription(inviter.client_id)
    assert found is not None
    return found.value.invitations[invitation_id].status


def test_invitation_answered_on_two_processes_at_once_is_answered_once(pair: Pair) -> None:
    """ASVS 2.3.4 (no double booking), 6.4.1 (a link that expires once used), 8.2.1; RTS
    art. 4(1): the invitee's acceptance (process 0) and refusal (process 1) of one
    invitation, each approved with a passkey, executed at the same instant: one is done
    (200), the other refused (403); the invitation has the winner's answer; the link is
    spent on both processes (404), and a later acceptance through it starts nothing,
    every round."""
    for _ in range(ROUNDS):
        inviter, invitee, invitation_id, link, device = _invited(pair)
        one, accepting = _answered(pair, invitee, link, device, 0, "accept")
        two, declining = _answered(pair, invitee, link, device, 1, "decline")
        with closing(one), closing(two):
            answers = race(partial(_execute, one, accepting), partial(_execute, two, declining))
            statuses = [a.status_code for a in answers]
            assert sorted(statuses) == [200, 403], statuses
            won = InvitationStatus.ACCEPTED if statuses[0] == 200 else InvitationStatus.DECLINED
            assert _status(pair, inviter, invitation_id) is won
            for browser in (one, two):
                assert browser.get(f"/invitations/{link}").status_code == 404
            again = post(one, f"/invitations/{link}/accept", form_of(one, "/home"))
            assert again.status_code == 404, again.text
        assert _status(pair, inviter, invitation_id) is won


# -- after a restart ---------------------------------------------------------------------------


def test_one_time_values_are_refused_after_a_restart(pair: Pair) -> None:
    """ASVS 6.5.1, 6.4.1, 6.7.2, 7.2.4, 2.3.4; RTS art. 4(1), art. 5(1): what records a use
    (the TOTP step, the consumed grant, the spent challenge, link or flow, the idempotency
    row) is in the database, not in the process: a TOTP code accepted before the restart
    and the execution of an approved operation, replayed to the process stopped (by its
    group id) and started again on the same database, are refused; so is an SMS code
    accepted before the restart, posted with its challenge from another flow, and a CAP
    code posted by another flow; and the values of :func:`_accepted_before_a_restart`
    (passkey assertion, certificate signature, login flow, recovery link, idempotency
    key)."""
    for _ in range(RESTARTS):
        principal, code, ready = _two_at_the_totp_prompt(pair, 0, 0)
        (one, csrf_one), (two, csrf_two) = ready
        payer, browser, order, iban = _approved_payee(pair, 0)
        texted, phone, fields, path = _oob_sent(pair, Channel.SMS, 0)
        later, csrf = _second_flow(pair, texted, path, 0)
        carded, cap = _cap_code(pair)
        first, csrf_first = _at_the_cap_prompt(pair, carded, 0)
        second, csrf_second = _at_the_cap_prompt(pair, carded, 0)
        with ExitStack() as stack:
            for opened in (one, two, browser, phone, later, first, second):
                stack.enter_context(closing(opened))
            assert _accepted_login(post(one, "/login/totp", csrf_one, code=code))
            assert _execute(browser, order).status_code == 200
            assert _accepted_login(phone.post(path, data=fields, follow_redirects=False))
            assert _accepted_login(post(first, "/login/cap", csrf_first, code=cap))
            more = _accepted_before_a_restart(pair, stack)
            pair.restart(0)
            more()
            card = post(second, "/login/cap", csrf_second, code=cap)
            assert _refused_login(card), (card.status_code, card.headers)
            sms = later.post(path, data={**fields, "csrf_token": csrf}, follow_redirects=False)
            assert _refused_login(sms), (sms.status_code, sms.headers)
            again = post(two, "/login/totp", csrf_two, code=code)
            assert _refused_login(again), (again.status_code, again.headers)
            assert one.get("/home", follow_redirects=False).status_code == 200  # still on
            replayed = _execute(browser, order)
            assert replayed.status_code in (403, 409), replayed.text
        assert len(pair.box.sessions_of(principal)) == 1
        assert _payees(pair, payer) == [iban]
        assert _done(pair, payer, order)
        assert len(pair.box.sessions_of(texted)) == 1
        assert len(pair.box.sessions_of(carded)) == 1


def _accepted_before_a_restart(pair: Pair, stack: ExitStack) -> Callable[[], None]:
    """Accepted on process 0: a passkey assertion, a signed certificate challenge, the
    last step of a login flow, a recovery link, a publication under an idempotency key
    (the browsers closed by ``stack``). Answers the check to run once process 0 was
    restarted: the replays (the flows' cookies kept from before, another flow of the same
    user for the certificate) open nothing, the link is gone (410) and the code is the
    first one chosen, the key gives its stored answer and a conflict for another body."""
    keyed, keyed_browser, keyed_form = _passkey_signed(pair)
    signed, signed_browser, signed_form = _certificate_signed(pair)
    other = pair.browser(0)
    start_login(other, signed)
    other_csrf = form_of(other, "/login/certificate")
    coded, coded_browser, _, code_csrf = _at_the_code_prompt(pair)
    reset, link = _recovery_link(pair)
    siren, bearer = _sender(pair)
    key = f"restart-{siren.value}"
    twins = [pair.twin(b, 0) for b in (keyed_browser, signed_browser, coded_browser)]
    chooser, late = pair.browser(0), pair.browser(0)
    for browser in (keyed_browser, signed_browser, coded_browser, other, *twins, chooser, late):
        stack.enter_context(closing(browser))
    keyed_twin, signed_twin, coded_twin = twins
    late_csrf = form_of(late, f"/recovery/link/{link}")  # opened before the reset
    done = keyed_browser.post("/login/passkey", data=keyed_form, follow_redirects=False)
    assert _accepted_login(done), (done.status_code, done.headers)
    done = signed_browser.post("/login/certificate", data=signed_form, follow_redirects=False)
    assert _accepted_login(done), (done.status_code, done.headers)
    assert _accepted_login(post(coded_browser, "/login/code", code_csrf, code=CODE))
    assert _choose(chooser, link, NEW_CODES[0]).status_code == 200
    document = _published(_publish(pair, 0, bearer, siren, key, 1))

    def check() -> None:
        for replayed in (
            keyed_twin.post("/login/passkey", data=keyed_form, follow_redirects=False),
            signed_twin.post("/login/certificate", data=signed_form, follow_redirects=False),
            other.post("/login/certificate", data={**signed_form, "csrf_token": other_csrf},
                       follow_redirects=False),
            post(coded_twin, "/login/code", code_csrf, code=CODE),
        ):  # fmt: skip
            assert not _accepted_login(replayed), (replayed.status_code, replayed.headers)
            assert replayed.status_code < 500
        gone = post(late, f"/recovery/link/{link}", late_csrf, code=NEW_CODES[1],
                    confirm=NEW_CODES[1])  # fmt: skip
        assert gone.status_code == 410, gone.text
        again = _publish(pair, 0, bearer, siren, key, 1)
        assert _published(again) == document
        assert again.headers.get("Idempotent-Replayed") == "true"
        conflict = _publish(pair, 0, bearer, siren, key, 2)
        assert conflict.status_code == 422, conflict.text
        for principal in (keyed, signed, coded):
            assert len(pair.box.sessions_of(principal)) == 1
        assert _code_is(pair, reset, NEW_CODES[0])
        assert not _code_is(pair, reset, NEW_CODES[1])
        assert _documents_of(pair, siren) == 1

    return check


__all__: list[str] = []
