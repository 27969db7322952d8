"""Several hosts behind nginx, one PostgreSQL (issue 19, "Scale beyond one machine"):
:mod:`tests.server.scale.cluster` builds it (network namespaces when the run may, else
loopback addresses; the test prints which), three hosts of ``securebox serve --workers 2``.

The first tests talk to the hosts directly (host A, B, C by address, bypassing nginx), so
that "begun on A, finished on B" is certain: a session made on A opens pages on B and C
and its CSRF token is accepted there; a login begun on A (the code) is finished on B (the
TOTP); a step-up entered on A is proved on B and executed on C, once; a rate limit filled
through A and B refuses on C. The last test runs a load through nginx
(:mod:`tests.server.scale.load`) and kills host A with SIGKILL in the middle; a login and a
step-up begun on A before the kill are finished through nginx after it; afterwards no GET
answered 5xx, the POSTs cut in flight are at most one a lane and answered 502, every
acknowledged login has its session and every acknowledged publication its document (none
twice), ``securebox audit verify`` passes, and host A, restarted, serves the sessions the
others made.

Run it with ``-m scale`` (left out of the default run; ``-s`` prints the load's figures);
``tools/scale_cluster.py`` runs the same for longer.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from securebox_auth.identity import Principal
from securebox_auth.testing.authenticator import SoftAuthenticator
from tests.server.live.conftest import token, totp_now
from tests.server.live.material import passkey
from tests.server.live.test_live import _answer, _code_login
from tests.server.live.test_live_stepup import TRANSFER, _enter, _execute, passkey_proof
from tests.server.scale.cluster import Cluster, Front, Host, cluster
from tests.server.scale.load import Plan, audit_verify, check, documents_count, report, run

pytestmark = [pytest.mark.scale, pytest.mark.slow]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with cluster(tmp_path_factory.mktemp("scale")) as made:
        print(f"\nscale: network {made.network.kind} {made.network.note}", file=sys.stderr)
        yield made


def on(browser: httpx.Client, host: Host | Front) -> httpx.Client:
    """``browser`` moved to ``host``: its cookies (made for another host's address) copied
    to this one's, its requests sent there."""
    for cookie in list(browser.cookies.jar):
        browser.cookies.set(cookie.name, cookie.value or "", domain=host.address, path="/")
    browser.base_url = httpx.URL(host.base)
    return browser


def browser_on(deployed: Cluster, host: Host) -> httpx.Client:
    """A browser at an address of its own (the gateway is a trusted proxy), on ``host``."""
    return on(deployed.people.browser(), host)


def _totp_user(deployed: Cluster) -> tuple[Principal, str]:
    people = deployed.people
    long_ago = deployed.box.clock.now() - timedelta(days=91)
    principal, _, credential = people.user(totp=True, strong_at=long_ago)
    assert credential is not None
    # the next time step's code (the enrolment's confirmation used this one)
    return principal, totp_now(credential, deployed.box.clock.now() + timedelta(seconds=30))


def test_a_session_made_on_one_host_works_on_the_others(deployed: Cluster) -> None:
    a, b, c = deployed.hosts
    principal, _, _ = deployed.people.user()
    with browser_on(deployed, a) as browser:
        assert _code_login(browser, principal).headers["location"] == "/home"
        page = browser.get("/home")
        assert principal.client_id.value in page.text
        for host in (b, c):
            home = on(browser, host).get("/home", follow_redirects=False)
            assert home.status_code == 200
            assert principal.client_id.value in home.text
        for csrf, answers in ((token(page.text), {303}), ("0" * 64, {400, 403})):
            sent = browser.post(  # a form of A's page (its CSRF token), posted on C
                "/preferences/language",
                data={"lang": "en", "back": "/home", "csrf_token": csrf},
                follow_redirects=False,
            )
            assert sent.status_code in answers, csrf


def test_a_login_begun_on_one_host_is_finished_on_another(deployed: Cluster) -> None:
    a, b, c = deployed.hosts
    principal, code = _totp_user(deployed)
    with browser_on(deployed, a) as browser:
        assert _code_login(browser, principal).headers["location"] == "/login/strong"
        assert "/login/totp" in browser.get("/login/strong").text
        done = _answer(on(browser, b), "/login/totp", code=code)
        assert done.headers["location"] == "/home"
        assert on(browser, c).get("/home", follow_redirects=False).status_code == 200
    (session,) = deployed.box.sessions_of(principal)
    assert session[1].strong


def _step_up(deployed: Cluster, browser: httpx.Client, enter: Host) -> Stepping:
    """A transfer entered on ``enter`` by a code-only session holding a passkey."""
    principal, _, _ = deployed.people.user()
    assert _code_login(on(browser, enter), principal).headers["location"] == "/home"
    device = passkey(deployed.box, principal, deployed.public_url)
    order, page = _enter(browser, "/transfers/new", TRANSFER)
    assert "1250.50 EUR" in page
    return Stepping(order, device)


@dataclass(frozen=True)
class Stepping:
    order: str
    device: SoftAuthenticator

    def prove(self, browser: httpx.Client) -> None:
        """The passkey proof (on the browser's current host)."""
        _, sent = passkey_proof(browser, self.order, self.device)
        assert sent.status_code == 303, sent.text


def test_a_step_up_entered_on_one_host_is_proved_and_run_on_others(deployed: Cluster) -> None:
    a, b, c = deployed.hosts
    with browser_on(deployed, a) as browser:
        stepping = _step_up(deployed, browser, a)
        stepping.prove(on(browser, b))
        order = stepping.order
        done = _execute(on(browser, c), order)
        assert done.status_code == 200, done.text
        assert "1250.50 EUR" in done.text
        again = _execute(on(browser, a), order)
        assert again.status_code == 409  # consumed on C: not run a second time on A


def test_a_rate_limit_is_counted_across_hosts(deployed: Cluster) -> None:
    """``login.source`` (30 per 5 minutes, kept at its default): 30 identifications from one
    address through A and B in turn, the 31st refused on C, and again on A."""
    a, b, c = deployed.hosts
    with browser_on(deployed, a) as browser:
        answers = []
        for n in range(32):
            browser.cookies.clear()  # a new flow each time
            on(browser, (a, b, c, a)[0 if n == 31 else 2 if n == 30 else n % 2])
            page = browser.get("/login")
            form = {"client_id": "600000001", "user_number": f"{n % 99 + 1:02d}"}
            form["csrf_token"] = token(page.text)
            answers.append(browser.post("/login/user", data=form, follow_redirects=False))
        assert [x.status_code for x in answers[:30]] == [303] * 30
        assert [x.status_code for x in answers[30:]] == [429, 429]
        assert 1 <= int(answers[30].headers["retry-after"]) <= 300


def test_a_host_killed_under_load(deployed: Cluster, tmp_path: Path) -> None:
    a, b, _ = deployed.hosts
    people = deployed.people
    users = [people.user()[0] for _ in range(3)]
    browsers = [people.browser(keep_alive=True) for _ in range(2)]
    for browser in browsers:
        assert _code_login(browser, people.user()[0]).headers["location"] == "/home"
    # begun on A before the kill: a login (the code given) and a step-up (entered)
    pending, code = _totp_user(deployed)
    with browser_on(deployed, a) as left, browser_on(deployed, a) as right:
        assert _code_login(left, pending).headers["location"] == "/login/strong"
        stepping = _step_up(deployed, right, a)
        before = documents_count(deployed)
        result = run(deployed, Plan(), users, browsers)
        print(f"\n{report(result)}", file=sys.stderr)
        assert a.process is not None
        assert a.process.poll() is not None  # killed
        # finished through nginx after the kill: on B or C, whichever nginx chose
        for browser in (left, right):
            on(browser, deployed.front)
        assert _answer(left, "/login/totp", code=code).headers["location"] == "/home"
        assert left.get("/home", follow_redirects=False).status_code == 200
        stepping.prove(right)
        assert _execute(right, stepping.order).status_code == 200
        assert _execute(right, stepping.order).status_code == 409
    for browser in browsers:
        browser.close()
    assert check(deployed, result, before) == []
    assert result.stats["login"].operations > 0
    assert result.stats["publish"].operations > 0
    assert "audit chains verified" in audit_verify(deployed)
    # A comes back and serves what the others made (nothing was kept on A)
    a.start(deployed.settings, 2)
    a.wait_ready()
    with browser_on(deployed, b) as browser:
        principal, _, _ = people.user()
        assert _code_login(browser, principal).headers["location"] == "/home"
        assert on(browser, a).get("/home", follow_redirects=False).status_code == 200
