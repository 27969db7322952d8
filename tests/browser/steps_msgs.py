"""Steps of the message, recovery, idle and keyboard journeys: a fresh user with a verified
phone number and e-mail address (prepared by the library, as the demo prepares user 05),
a policy with a short idle timeout, and keyboard moves with a longer reach than the login's."""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Final

from securebox_auth.clock import FixedClock, SystemClock
from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.factors.oob import Channel, keyed_destination_key
from securebox_auth.policy.loader import load_policy
from securebox_auth.policy.writer import to_toml
from securebox_auth.shell.oob import ENROL_PURPOSE
from securebox_auth.shell.securebox import Securebox
from securebox_server.settings import DEFAULT_POLICY
from tests.browser.driver import Tab
from tests.browser.server import DemoServer, User

__all__ = [
    "FOCUS_SHOWN",
    "UNLABELLED",
    "Reachable",
    "enter",
    "idle_policy",
    "tab_to",
    "type_and_enter",
    "user_with_destinations",
]

#: Presses of Tab allowed to reach an element (the home page's links are many).
MAX_TABS: Final = 40
FOCUS_SHOWN: Final = """() => {
  const e = document.activeElement, s = getComputedStyle(e);
  const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
  return outline || s.boxShadow !== 'none';
}"""
UNLABELLED: Final = """() => [...document.querySelectorAll(
    'input:not([type=hidden]), select, textarea')]
  .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label')).map(e => e.id || e.name)"""


@dataclass(frozen=True, slots=True)
class Reachable:
    """A user and the phone number and e-mail address they verified."""

    user: User
    phone: str
    email: str


def user_with_destinations(
    server: DemoServer, *, strong_days_ago: float | None = None
) -> Reachable:
    """A fresh user (code :data:`~tests.browser.server.CODE`; no strong login yet, or one
    ``strong_days_ago``: the first access, or past 90 days, asks for a second factor) with
    a verified phone number and e-mail address of their own, enrolled the library's way (a
    code sent there, then confirmed) on a clock two hours back, as the demo enrols user 05:
    the enrolment sends are out of the hourly throttle window and the 30 s interval between
    two codes."""
    user = server.user(strong_days_ago=strong_days_ago)
    n = user.client[-6:]
    phone, email = f"+33639{n}", f"user{n}@example.com"
    clock = FixedClock(SystemClock().now() - timedelta(hours=2))
    box = Securebox.from_policy(
        server.box.policy,
        store=server.box.store,
        keys=server.keys,
        clock=clock,
        gateways=server.box.gateways,
        argon2=PROFILE_TESTING,
    )
    oob = box.factors.oob
    for channel, destination in ((Channel.SMS, phone), (Channel.EMAIL, email)):
        code = f"{secrets.randbelow(10**oob.rules.digits):0{oob.rules.digits}d}"
        issued = oob.issue(
            user.principal,
            channel=channel,
            destination=destination,
            purpose=ENROL_PURPOSE,
            reference=keyed_destination_key(oob.keys, channel, destination),
            gateway=box.gateways[channel.value],
            code=code,
        )
        assert issued.challenge is not None
        confirmed = oob.confirm_destination(
            user.principal, issued.challenge.id, code, channel=channel, destination=destination
        )
        assert confirmed.ok, confirmed.reason
        clock.advance(timedelta(minutes=1))
    return Reachable(user, phone, email)


def idle_policy(path: Path, seconds: int) -> Path:
    """The demo's policy (the shipped psd2-default, codes by SMS and e-mail at login) with
    a session idle timeout of ``seconds`` (the loader accepts 1 s to 1 day), written to
    ``path``."""
    base = load_policy(DEFAULT_POLICY)
    policy = dataclasses.replace(
        base,
        login=dataclasses.replace(
            base.login, methods=(*base.login.methods, "sms_otp", "email_otp")
        ),
        session=dataclasses.replace(base.session, idle_timeout=timedelta(seconds=seconds)),
    )
    path.write_text(to_toml(policy), encoding="utf-8")
    assert load_policy(path).session.idle_timeout == timedelta(seconds=seconds)
    return path


def tab_to(tab: Tab, selector: str, *, limit: int = MAX_TABS) -> None:
    """Press Tab until the element ``selector`` has the focus; each element on the way
    shows it."""
    for _ in range(limit):
        tab.page.keyboard.press("Tab")
        focused = tab.page.evaluate("document.activeElement.outerHTML.slice(0, 80)")
        assert tab.page.evaluate(FOCUS_SHOWN), f"no visible focus on {focused} ({tab.path})"
        if tab.page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} not reached with {limit} presses of Tab on {tab.path}")


def enter(tab: Tab) -> None:
    """Enter on the focused link or field: the next page."""
    with tab.page.expect_navigation():
        tab.page.keyboard.press("Enter")
    tab.arrived()


def type_and_enter(tab: Tab, field_id: str, text: str) -> None:
    """Every field of the page labelled; Tab to ``field_id``, type ``text``, Enter."""
    assert tab.page.evaluate(UNLABELLED) == [], f"a field without a label on {tab.path}"
    tab_to(tab, f"#{field_id}")
    tab.page.keyboard.type(text)
    enter(tab)
