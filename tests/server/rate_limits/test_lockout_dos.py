"""Issue 14's hole: with the shipped policy (5 failures block for 15 minutes, the 4th block
is permanent, failures count until a success), 20 wrong codes over 45 minutes block a known
user for good. Through the limits (:class:`LoginLimits`) in front of the library's code
login on a real SQLite store, an attacker from one address (or rotating through one IPv6
/64) for 24 hours never gets the account blocked for good, nor even temporarily, and the
user logs in from their own address at the end. Without the limits, the same attacker
blocks the account for good in 45 minutes (so the simulation can fail)."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from datetime import timedelta
from ipaddress import IPv6Address, IPv6Network
from typing import Final

import pytest

from securebox_auth import PROFILE_TESTING, CodeAnswer, FixedClock, Securebox, TotpAnswer
from securebox_auth.lockout.rules import BlockStatus, block_status
from securebox_auth.policy.shipped import shipped_policy
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.store import SqlStore
from securebox_server.net.client_address import IPAddress, parse_address, source_key
from securebox_server.rate_limits import (
    Limiter,
    LoginLimits,
    RateLimited,
    SqlRateLimitStorage,
    account_key,
)
from securebox_server.rate_limits.storage import open_rate_limit_engine
from tests.shell.portal import CLIENT, CODE, MASTER, T0, Phone, enrol_users, totp_now, user
from tests.stores.conftest import AUDIT_KEY

WRONG: Final = "13572468"
USER_HOME: Final = "198.51.100.7"
ATTACKER_V4: Final = "203.0.113.66"
ATTACKER_V6: Final = IPv6Network("2001:db8:66:1::/64")
#: The attacker tries every 5 minutes (faster tries are refused all the same).
STEP: Final = timedelta(minutes=5)


class World:
    def __init__(self, url: str, clock: FixedClock) -> None:
        self.clock = clock
        self.store_engine = create_engine(url)
        self.limits_engine = open_rate_limit_engine(url)
        self.store = SqlStore(self.store_engine, audit_key=AUDIT_KEY)
        self.box = Securebox.from_policy(
            shipped_policy("psd2-default"),
            store=self.store,
            keys=DerivedKeys.from_hex(MASTER),
            clock=clock,
            gateways={"sms": Phone()},
            argon2=PROFILE_TESTING,
        )
        self.guard = LoginLimits(Limiter(SqlRateLimitStorage(self.limits_engine, clock=clock)))
        self.who = user(1)
        self.seed = enrol_users(self.box, 1)[self.who]
        self.account = account_key(self.who)
        self.verified_failures = 0

    def close(self) -> None:
        self.store_engine.dispose()
        self.limits_engine.dispose()

    def status(self) -> BlockStatus:
        return block_status(self.store.get_lockout(self.who).value, self.clock.now())

    def code_attempt(self, source: str, code: str, *, limited: bool = True) -> bool:
        """One code login from ``source`` (a source key); whether a session came out.
        Refusals by the limits are what the server answers with 429."""
        if limited:
            self.guard.before_request(source, self.account)
        page = self.box.start_login(CLIENT, self.who.user_number.value)
        if limited:
            self.guard.before_answer(source, self.account)
        page = self.box.answer_login(page.handle, CodeAnswer(code))
        if page.rejected:
            self.verified_failures += 1
            if limited:
                self.guard.after_failure(source, self.account)
            return False
        if page.session_id is None:  # the code was right: the first access asks for TOTP
            page = self.box.answer_login(page.handle, TotpAnswer(totp_now(self.seed, self.clock)))
        assert page.session_id is not None, page.flow.explain()
        if limited:
            self.guard.after_success(source, self.account)
        return True


@pytest.fixture
def world(server_sqlite_url: str) -> Iterator[World]:
    world = World(server_sqlite_url, FixedClock(T0))
    world.clock.advance(timedelta(seconds=30))
    assert world.code_attempt(source_key(_v4(USER_HOME)), CODE)  # the user's own address
    yield world
    world.close()


def _v4(text: str) -> IPAddress:
    address = parse_address(text)
    assert address is not None
    return address


def _attacker_sources(kind: str) -> Callable[[], str]:
    if kind == "ipv4":
        return lambda: source_key(_v4(ATTACKER_V4))
    rng = random.Random(14)
    base = int(ATTACKER_V6.network_address)
    return lambda: source_key(IPv6Address(base + rng.getrandbits(64)))


@pytest.mark.parametrize("kind", ["ipv4", "ipv6"])
def test_one_source_for_24_hours_never_blocks_the_account(world: World, kind: str) -> None:
    source = _attacker_sources(kind)
    refused = answered = 0
    waits: list[int] = []
    start = world.clock.now()
    end = start + timedelta(hours=24)
    while world.clock.now() < end:
        if world.clock.now() - start == timedelta(hours=12):  # the user, during the attack
            assert world.code_attempt(source_key(_v4(USER_HOME)), CODE)
        try:
            world.code_attempt(source(), WRONG)
            answered += 1
        except RateLimited as limited:
            refused += 1
            waits.append(limited.retry_after)
        assert world.status() is BlockStatus.OPEN  # never blocked, not even for 15 minutes
        world.clock.advance(STEP)
    assert world.verified_failures == 4  # login.failure.source_account: 4 a day
    assert refused == 24 * 60 // 5 - 4
    assert answered == 4
    assert 1 <= min(waits) <= max(waits) <= 86400  # "try again in ...": within the day
    assert world.code_attempt(source_key(_v4(USER_HOME)), CODE)  # the user logs in
    assert world.store.get_lockout(world.who).value.failures == 0


def test_without_the_limits_the_same_attacker_blocks_for_good_in_45_minutes(
    world: World,
) -> None:
    source = source_key(_v4(ATTACKER_V4))
    start = world.clock.now()
    while world.status() is not BlockStatus.PERMANENT:
        if world.status() is BlockStatus.OPEN:
            world.code_attempt(source, WRONG, limited=False)
        else:
            world.clock.advance(timedelta(minutes=15))
    assert world.verified_failures == 20
    assert world.clock.now() - start == timedelta(minutes=45)
    assert not world.code_attempt(source_key(_v4(USER_HOME)), CODE, limited=False)


def test_many_sources_spend_one_budget_and_the_users_own_address_still_works(
    world: World,
) -> None:
    """A distributed attacker (a new address for every try) spends the account's budget
    for unknown sources (9 failures in 30 days): one temporary block at most, never the
    final warning; the user's known address is not limited by it. A *new* address of the
    user's is refused until the budget frees up: that is the residual cost (ADR 0026)."""
    rng = random.Random(26)
    was_blocked = False
    end = world.clock.now() + timedelta(hours=24)
    while world.clock.now() < end:
        source = f"192.0.2.{rng.randrange(256)}" if rng.random() < 0.5 else None
        source = source or source_key(IPv6Address(rng.getrandbits(128)))
        with contextlib.suppress(RateLimited):
            world.code_attempt(source, WRONG)
        status = world.status()
        assert status is not BlockStatus.PERMANENT
        was_blocked |= status is BlockStatus.TEMPORARY
        world.clock.advance(2 * STEP)
    assert world.verified_failures == 9
    assert was_blocked  # the 5th failure blocked for 15 minutes
    assert world.store.get_lockout(world.who).value.temporary_blocks == 1
    with pytest.raises(RateLimited):
        world.code_attempt(source_key(_v4("100.64.0.1")), CODE)  # the user, travelling
    assert world.code_attempt(source_key(_v4(USER_HOME)), CODE)  # the user, at home


def test_a_flood_of_identifications_does_not_refuse_the_user_at_home(world: World) -> None:
    """Starting logins without answering spends the attacker's own limits and the account's
    limit for unknown sources, never the user's at a known address."""
    attacker, home = source_key(_v4(ATTACKER_V4)), source_key(_v4(USER_HOME))
    refused = 0
    for _ in range(60):
        try:
            world.guard.before_request(attacker, world.account)
            world.box.start_login(CLIENT, world.who.user_number.value)
        except RateLimited:
            refused += 1
    # login.account: 20 in 5 minutes from unknown sources, 2 spent by the first login
    assert refused == 60 - 18
    with pytest.raises(RateLimited):
        world.guard.before_request(source_key(_v4("100.64.0.1")), world.account)
    assert world.code_attempt(home, CODE)
