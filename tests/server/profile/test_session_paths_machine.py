"""Every way of ending a session agrees, whatever the order (a Hypothesis state machine
through the real app).

Two users of one subscription log in on several "devices", in the browser (cookie) and
through the login API (bearer token). In any order, a session ends another of the same
user by its reference (page or API), ends every other (page or API), logs out, logs out
everywhere, changes the confidential code (which ends every other session, ASVS 5.0
7.4.3), or tries to end a session of the other user by its reference; time passes, within
the idle timeout (activity keeps a session) or beyond it (every session ends). Against a
model of the rules written here, after every step:

* a session answers (``GET /api/v1/session``, and ``/profile`` in the browser) exactly
  when the model says it is live; an ended browser session is sent to the login page;
* every live session lists exactly the live sessions of its user (``GET
  /api/v1/profile/sessions`` and the sessions page), itself marked current, never a session
  of another user;
* the other user's sessions are never touched by what one user does.

``SECUREBOX_SESSION_PATHS_EXAMPLES`` sets the number of examples (10 by default, about
0.5 s each; CI runs 50, ``nox -s machines`` 1,000).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from securebox_auth.entitlements.accounts import Operator
from securebox_auth.identity import Principal
from securebox_auth.policy.session_ids import session_key
from tests.server.api.box_app import build_app, close
from tests.server.api.helpers import answer, bearer, start
from tests.server.box.conftest import ADMIN, PRINCIPAL, World, make_world
from tests.server.box.test_lifecycle_machine import _template
from tests.server.conftest import CODE, identify, submit_code, token

EXAMPLES = int(os.environ.get("SECUREBOX_SESSION_PATHS_EXAMPLES", "10"))
USERS = (PRINCIPAL, ADMIN)
#: The new codes, in turn (more than the 5 previous codes a new one must differ from).
CODES = (
    "73915824", "52918473", "84062917", "39571026", "61829405", "27049386", "95183074",
    "40628519", "18394752", "76251039", "58406213", "93017648", "26839571", "49162087",
)  # fmt: skip
IDLE = timedelta(minutes=5)  # the default policy's idle timeout
REF = re.compile(r"/profile/sessions/([0-9a-f]{16})/end")


@dataclass
class Device:
    """One session: a browser (``browser`` holds its cookie) or an API token."""

    name: str
    who: Principal
    browser: TestClient | None
    headers: dict[str, str]
    ref: str
    live: bool = True

    @property
    def web(self) -> bool:
        return self.browser is not None


class SessionPaths(RuleBasedStateMachine):
    devices = Bundle("devices")

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp())
        shutil.copyfile(_template(), self.folder / "box.db")
        url = f"sqlite:///{self.folder / 'box.db'}"
        self.world: World = make_world(url)
        self.client, _ = build_app(self.world, url)
        self.client.__enter__()
        self.code: dict[Principal, str] = {}
        for who in USERS:
            letter = self.world.box.codes.regenerate_code(Operator("back-office"), who)
            assert self.world.box.codes.change_code(
                who.client_id.value, who.user_number.value, letter.reveal(), CODE
            ).changed
            self.code[who] = CODE
        self.world.clock.advance(timedelta(milliseconds=1))  # the letters ended the sessions
        self.all: list[Device] = []
        self.changes = 0

    def teardown(self) -> None:
        try:
            for device in self.all:
                if device.browser is not None:
                    device.browser.close()
            self.client.__exit__(None, None, None)
            close(self.client)
        finally:
            self.world.documents.engine.dispose()
            shutil.rmtree(self.folder, ignore_errors=True)

    # -- the model ----------------------------------------------------------------------

    def live(self, who: Principal) -> set[str]:
        return {d.ref for d in self.all if d.who == who and d.live}

    def _strong_recently(self, who: Principal) -> None:
        """A recent strong login on the web channel: the code alone logs in."""
        box = self.world.box
        box.store.commit([box.factors.renewal_change(who, "web", box.clock.now())], [])

    def get(self, device: Device, path: str) -> Any:
        if device.browser is not None:
            return device.browser.get(path, follow_redirects=False)
        return self.client.get(path, headers=device.headers)

    def _csrf(self, device: Device) -> str:
        assert device.browser is not None
        page = device.browser.get("/profile/sessions")
        assert page.status_code == 200, page.text
        return token(page.text)

    # -- what happens -------------------------------------------------------------------

    @rule(target=devices, who=st.sampled_from(USERS), web=st.booleans())
    def log_in(self, who: Principal, web: bool) -> Device:
        self.world.clock.advance(timedelta(seconds=1))  # a login takes time
        self._strong_recently(who)
        name = f"{who.user_number.value}-{'web' if web else 'api'}-{len(self.all)}"
        if web:
            browser = TestClient(self.client.app, base_url="http://testserver")
            identify(browser, who.client_id.value, who.user_number.value)
            done = submit_code(browser, self.code[who])
            assert done.status_code == 303, done.text
            assert done.headers["location"] == "/home", done.headers["location"]
            mine = [s for s in browser.get("/api/v1/profile/sessions").json() if s["current"]]
            assert len(mine) == 1, mine
            device = Device(name, who, browser, {}, mine[0]["ref"])
        else:
            flow = start(self.client, who.client_id.value, who.user_number.value)
            done = answer(self.client, flow, method="confidential_code", code=self.code[who])
            assert done.status_code == 200, done.text
            assert done.json()["state"] == "done", done.text
            session_id = done.json()["session"]["token"]
            device = Device(name, who, None, bearer(session_id), session_key(session_id)[:16])
        self.all.append(device)
        return device

    @rule(actor=devices, other=devices, page=st.booleans())
    def end_one(self, actor: Device, other: Device, page: bool) -> None:
        """``actor`` ends ``other`` by its reference (the sessions page's form in a browser,
        or the API): only a session of the same user, and only a live actor."""
        if page and actor.web:
            assert actor.browser is not None
            if not actor.live:
                ended = actor.browser.post(
                    f"/profile/sessions/{other.ref}/end",
                    data={"csrf_token": "x"},
                    follow_redirects=False,
                )
                assert ended.status_code in (303, 403), ended.text
                return
            ended = actor.browser.post(
                f"/profile/sessions/{other.ref}/end",
                data={"csrf_token": self._csrf(actor)},
                follow_redirects=False,
            )
            mine = other.who == actor.who and other.live
            # an ended session or another user's: the page again, "already ended"
            assert ended.status_code == (303 if mine else 404), (actor, other, ended.text)
        else:
            answer_ = (
                actor.browser.delete(
                    f"/api/v1/profile/sessions/{other.ref}",
                    headers={"Origin": "http://testserver"},
                )
                if actor.browser is not None
                else self.client.delete(
                    f"/api/v1/profile/sessions/{other.ref}", headers=actor.headers
                )
            )
            if not actor.live:
                assert answer_.status_code == 401, answer_.text
                return
            mine = other.who == actor.who and other.live
            assert answer_.status_code == (204 if mine else 404), (actor, other, answer_.text)
        if other.who == actor.who:
            other.live = False

    @rule(actor=devices, page=st.booleans())
    def end_others(self, actor: Device, page: bool) -> None:
        if not actor.live:
            return
        if page and actor.browser is not None:
            done = actor.browser.post(
                "/profile/sessions/others/end",
                data={"csrf_token": self._csrf(actor)},
                follow_redirects=False,
            )
            assert done.status_code == 303, done.text
        else:
            others = len(self.live(actor.who)) - 1
            if actor.browser is not None:
                done = actor.browser.post(
                    "/api/v1/profile/sessions/end-others", headers={"Origin": "http://testserver"}
                )
            else:
                done = self.client.post(
                    "/api/v1/profile/sessions/end-others", headers=actor.headers
                )
            assert done.status_code == 200, done.text
            assert done.json() == {"ended": others}
        for device in self.all:
            if device.who == actor.who and device is not actor:
                device.live = False

    @rule(actor=devices)
    def log_out(self, actor: Device) -> None:
        if not actor.live:
            return
        if actor.browser is not None:
            csrf = self._csrf(actor)
            done = actor.browser.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
            assert done.status_code == 303, done.text
        else:
            done = self.client.delete("/api/v1/session", headers=actor.headers)
            assert done.status_code == 204, done.text
        actor.live = False

    @rule(actor=devices)
    def log_out_everywhere(self, actor: Device) -> None:
        if not actor.live or actor.browser is None:
            return
        csrf = self._csrf(actor)
        done = actor.browser.post(
            "/logout/everywhere", data={"csrf_token": csrf}, follow_redirects=False
        )
        assert done.status_code == 303, done.text
        for device in self.all:
            if device.who == actor.who:
                device.live = False

    @rule(actor=devices)
    def change_code(self, actor: Device) -> None:
        """A new confidential code on the profile page: every other session ends."""
        if not actor.live or actor.browser is None:
            return
        self.changes += 1
        new = CODES[self.changes % len(CODES)]
        page = actor.browser.get("/profile/code")
        assert page.status_code == 200, page.text
        done = actor.browser.post(
            "/profile/code",
            data={
                "current": self.code[actor.who],
                "new": new,
                "confirm": new,
                "csrf_token": token(page.text),
            },
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
        self.code[actor.who] = new
        for device in self.all:
            if device.who == actor.who and device is not actor:
                device.live = False

    @rule(by=st.sampled_from([timedelta(minutes=4), IDLE + timedelta(seconds=1)]))
    def time_passes(self, by: timedelta) -> None:
        """Within the idle timeout, the checks after each step keep the live sessions
        active; beyond it, every session ends."""
        self.world.clock.advance(by)
        if by >= IDLE:
            for device in self.all:
                device.live = False

    # -- what must hold ------------------------------------------------------------------

    @invariant()
    def sessions_answer_as_the_model_says(self) -> None:
        for device in self.all:
            found = self.get(device, "/api/v1/session")
            assert found.status_code == (200 if device.live else 401), (device, found.text)
            if device.live:
                assert found.json()["principal"] == device.who.key
            if device.browser is not None:
                profile = device.browser.get("/profile", follow_redirects=False)
                if device.live:
                    assert profile.status_code == 200, profile.text
                else:
                    assert profile.status_code == 303, profile.text
                    assert profile.headers["location"].startswith("/login")

    @invariant()
    def every_live_session_lists_its_users_live_sessions(self) -> None:
        for device in self.all:
            if not device.live:
                continue
            listed = self.get(device, "/api/v1/profile/sessions")
            assert listed.status_code == 200, listed.text
            refs = {s["ref"] for s in listed.json()}
            assert refs == self.live(device.who), device
            current = [s["ref"] for s in listed.json() if s["current"]]
            assert current == [device.ref]
            if device.browser is not None:
                page = device.browser.get("/profile/sessions")
                assert page.status_code == 200, page.text
                # every session has its "end" form (the current one's logs out)
                assert set(REF.findall(page.text)) == refs


SessionPaths.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestSessionPaths = SessionPaths.TestCase
