"""What ends every session of an account ends it whatever was under way, and nothing else.

A state machine on the entry point (``Securebox``) with two users who log in (each login a
flow: identify, code, TOTP), leave logins half done, touch and log out of sessions, end
one session by the reference the list shows, "log out everywhere", change their code and
recover their account (a recovery asked for, its new code chosen later), while their
administrator removes them and gives their user number to a new person (who changes the
one-time code and is enrolled a TOTP afresh), and time passes within and beyond the idle
timeout and the flows' lifetime. A model written here, not the library's rules, says after
every step:

* each session answers (``live_session``) exactly when the model says it is live: not
  logged out, not ended by its reference, opened after the user's last "log out
  everywhere" or recovery, not idle longer than the policy allows (counted from the
  activity the store recorded: ADR 0029 writes it only every ``G``), not past its lifetime;
* each user's list of sessions (``sessions_of``) is exactly their live sessions, and ending
  by reference succeeds exactly for one of them (ADR 0067);
* a login flow moves on exactly when it is neither finished, nor past its lifetime, nor
  begun at or before its user's last "log out everywhere" or recovery, nor resting on a
  code its user has changed since (ADR 0067): a flow that verified the old code never
  opens a session;
* an assertion issued from a session is accepted downstream until its ``exp`` unless its
  user's sessions were all ended since its login (``TokenRevoked``);
* a recovery (asked for, its code chosen later) sets the code unless its user was removed
  or it was overtaken: begun at or before the user's last end-all, or before the account
  was created (the number given to a new person since; ADR 0069);
* a new code sent by the administrator ends every session and login of the user, like a
  recovery, and a code changed from a session ends every other session (ADR 0070);
* a removed user's code opens nothing, their recovery and code change are refused, and
  the store holds none of what they enrolled; the number's next holder inherits nothing
  (the previous holder's TOTP is refused, their flows and sessions stay ended);
* one user's events never touch the other's sessions or flows.

``SECUREBOX_ACCOUNT_EVENTS_EXAMPLES`` sets the number of examples (default 100, on the
memory store; the same machine on a SQLite file takes a tenth).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from securebox_auth import (
    PROFILE_TESTING,
    CodeAnswer,
    DerivedKeys,
    FixedClock,
    LoginState,
    Operator,
    Principal,
    Rights,
    Role,
    Securebox,
    TotpAnswer,
    from_toml,
    totp_code_at,
)
from securebox_auth.errors import (
    FlowExpired,
    FlowOutOfOrder,
    NotAuthenticated,
    NotPermitted,
)
from securebox_auth.flows.login import LOGIN_LIFETIME
from securebox_auth.policy.session import touch_granularity
from securebox_auth.policy.session_ids import session_key
from securebox_auth.shell.account_recovery import AccountRecovery
from securebox_auth.stores import factor_kinds as fk
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import AuthStore
from securebox_auth.tokens.claims import TokenExpired, TokenRevoked
from tests.shell.portal import CLIENT, CODE, MASTER, T0, enrol_users, totp_now, user
from tests.shell.sqlite_file import sqlite_file_store

EXAMPLES: Final = int(os.environ.get("SECUREBOX_ACCOUNT_EVENTS_EXAMPLES", "100"))
#: Strong authentication at every login, so that every login is left half done after its
#: code; no lockout reached (the machine never gives a wrong answer).
POLICY: Final = """
version = 1
name = "account-events"

[renewal]
every_days = 90
every_login = true

[operation.entitlements_management]
methods = ["confidential_code", "totp"]
"""
#: The subscription's principal user, who removes and adds the two users of the machine.
ADMIN: Final = user(1)
USERS: Final = (user(2), user(3))
#: What a person enrols or proves (listed here, not taken from the library).
PERSONAL: Final = (
    fk.TOTP, fk.RECOVERY, fk.PASSKEYS, fk.CAP_CARD, fk.CERTIFICATE, fk.OOB_DESTINATION,
    fk.SECRET_ANSWERS, fk.RENEWAL, fk.OOB_SENDS,
)  # fmt: skip
#: The lifetime of an assertion the entry point issues (``issue_assertion``'s default).
ASSERTION_TTL: Final = timedelta(minutes=5)
#: New codes chosen at recoveries and changes, in turn (each strong, none the initial one).
NEW_CODES: Final = (
    "58301926", "69412037", "70523148", "81634259", "92745360", "36925814", "74185296",
    "15973582", "26084693", "37195704", "48206815", "59317926",
)  # fmt: skip


@dataclass
class Flow:
    """A login in progress, as the model knows it."""

    handle: str
    who: Principal
    created_at: datetime
    stage: str = "code"  # "code", "totp", or "gone" (finished, refused or buried)
    code_version: int = -1  # which of its user's codes the flow verified


@dataclass
class Device:
    """A session, as the model knows it."""

    session_id: str = field(repr=False)
    who: Principal
    auth_time: datetime
    recorded_activity: datetime
    ended: bool = False  # logged out, ended by reference, or by an end-all

    @property
    def ref(self) -> str:
        return session_key(self.session_id)[:16]


@dataclass
class Issued:
    """An assertion (JWT) issued from a session, as the model knows it."""

    token: str = field(repr=False)
    who: Principal
    auth_time: datetime
    expires_at: datetime


@dataclass
class Recovery:
    """A recovery begun (its link asked for), as the model knows it."""

    who: Principal
    begun_at: datetime


class AccountEvents(RuleBasedStateMachine):
    flows = Bundle("flows")
    devices = Bundle("devices")
    recoveries = Bundle("recoveries")

    def __init__(self) -> None:
        super().__init__()
        self.store: AuthStore = MemoryStore(audit_key=b"\x02" * 32)

    @initialize()
    def enrol(self) -> None:
        self.clock = FixedClock(T0)
        self.box = Securebox.from_policy(
            from_toml(POLICY),
            store=self.store,
            keys=DerivedKeys.from_hex(MASTER),
            clock=self.clock,
            argon2=PROFILE_TESTING,
        )
        self.seeds = enrol_users(self.box, 1 + len(USERS))
        self.clock.advance(timedelta(minutes=1))
        self.session_rules = self.box.policy.session
        self.codes = dict.fromkeys(USERS, CODE)
        self.code_versions = dict.fromkeys(USERS, 0)
        self.ended_at: dict[Principal, datetime | None] = dict.fromkeys(USERS)
        self.removed: set[Principal] = set()
        self.created_at = dict.fromkeys(USERS, T0)
        self.new_codes = 0
        self.all_devices: list[Device] = []
        self.all_flows: list[Flow] = []
        self.assertions: list[Issued] = []
        self.verifier = self.box.assertion_verifier("api")

    # -- the model ----------------------------------------------------------------------------

    def _live(self, device: Device) -> bool:
        now, cut = self.clock.now(), self.ended_at[device.who]
        return not (
            device.ended
            or (cut is not None and device.auth_time <= cut)
            or now - device.recorded_activity > self.session_rules.idle_timeout
            or now - device.auth_time > self.session_rules.absolute_lifetime
        )

    def _refused(self, flow: Flow, stage: str, answer: CodeAnswer | TotpAnswer) -> bool:
        """Whether ``flow`` refuses ``answer``, checked: a finished flow or one past its
        lifetime is gone ("start again"), a method the flow does not offer now is out of
        order, a removed user's answer is refused as a wrong one (the flow stays, or ends
        once the failures block the account: nothing tells a removed user from another),
        and a flow begun at or before its user's last end-all is gone once a factor was
        verified for it (ADR 0067)."""
        cut = self.ended_at[flow.who]
        if flow.stage == "gone" or self.clock.now() >= flow.created_at + LOGIN_LIFETIME:
            with pytest.raises(FlowExpired):
                self.box.answer_login(flow.handle, answer)
            flow.stage = "gone"
            return True
        if flow.stage != stage:
            with pytest.raises(FlowOutOfOrder):
                self.box.answer_login(flow.handle, answer)
            return True
        if flow.who in self.removed:
            page = self.box.answer_login(flow.handle, answer)
            assert page.session_id is None, page.explain()
            waiting = LoginState.FIRST_FACTOR if stage == "code" else LoginState.SECOND_FACTOR
            assert page.state in (waiting, LoginState.FAILED), page.explain()
            if page.state is LoginState.FAILED:
                flow.stage = "gone"
            event(f"a removed user's {stage} is refused")
            return True
        if cut is not None and flow.created_at <= cut:
            with pytest.raises(FlowExpired, match="ended meanwhile"):
                self.box.answer_login(flow.handle, answer)
            event(f"a login begun before an end-all is refused at its {stage}")
            flow.stage = "gone"
            return True
        if flow.stage == "totp" and flow.code_version != self.code_versions[flow.who]:
            with pytest.raises(FlowExpired, match="code was changed"):
                self.box.answer_login(flow.handle, answer)
            event("a login on a code changed since is refused")
            flow.stage = "gone"
            return True
        return False

    def _end_everything_of(self, who: Principal) -> None:
        self.ended_at[who] = self.clock.now()
        for device in self.all_devices:
            if device.who == who:
                device.ended = True

    # -- logins -------------------------------------------------------------------------------

    def _new_flow(self, who: Principal) -> Flow:
        page = self.box.start_login(CLIENT, who.user_number.value)
        assert page.state is LoginState.FIRST_FACTOR
        flow = Flow(page.handle, who, self.clock.now())
        self.all_flows.append(flow)
        return flow

    @rule(target=flows, who=st.sampled_from(USERS))
    def start_login(self, who: Principal) -> Flow:
        return self._new_flow(who)

    @rule(target=devices, who=st.sampled_from(USERS))
    def log_in(self, who: Principal) -> Device | MultipleResults[Device]:
        """A whole login at once, a second from now: identify, the code, then the next TOTP
        step's code. It opens a session unless the user was removed."""
        self.clock.advance(timedelta(seconds=1))
        flow = self._new_flow(who)
        self.answer_code(flow)
        if who in self.removed:
            assert flow.stage in ("code", "gone")
            return multiple()
        found = self.answer_totp(flow)
        assert isinstance(found, Device)
        return found

    @rule(target=flows, who=st.sampled_from(USERS))
    def half_log_in(self, who: Principal) -> Flow:
        """A login left after its code (a second from now), waiting for the TOTP."""
        self.clock.advance(timedelta(seconds=1))
        flow = self._new_flow(who)
        self.answer_code(flow)
        assert flow.stage in (("code", "gone") if who in self.removed else ("totp",))
        return flow

    @rule(flow=flows)
    def answer_code(self, flow: Flow) -> None:
        """The user's current code; a flow that cannot move on refuses it, and a removed
        user's code is refused as a wrong one (the flow stays where it was)."""
        if self._refused(flow, "code", CodeAnswer(self.codes[flow.who])):
            return
        page = self.box.answer_login(flow.handle, CodeAnswer(self.codes[flow.who]))

        assert page.session_id is None
        assert page.state is LoginState.SECOND_FACTOR, page.explain()
        flow.stage = "totp"
        flow.code_version = self.code_versions[flow.who]

    @rule(target=devices, flow=flows)
    def answer_totp(self, flow: Flow) -> Device | MultipleResults[Device]:
        """The next TOTP step's code (30 s later: a step is accepted once)."""
        self.clock.advance(timedelta(seconds=30))
        code = TotpAnswer(totp_now(self.seeds[flow.who], self.clock))
        if self._refused(flow, "totp", code):
            return multiple()
        page = self.box.answer_login(flow.handle, code)
        assert page.session_id is not None, page.explain()
        flow.stage = "gone"
        now = self.clock.now()
        device = Device(page.session_id, flow.who, now, now)
        event("a session opened")
        self.all_devices.append(device)
        return device

    # -- sessions -----------------------------------------------------------------------------

    @rule(device=devices)
    def touch(self, device: Device) -> None:
        if not self._live(device):
            with pytest.raises(NotAuthenticated):
                self.box.touch(device.session_id)
            return
        self.box.touch(device.session_id)
        now = self.clock.now()
        if now - device.recorded_activity >= touch_granularity(self.session_rules):
            device.recorded_activity = now

    @rule(device=devices)
    def issue_assertion(self, device: Device) -> None:
        """An assertion for a downstream API: only from a live session, and it records the
        session's activity (unbounded: the issue is a request of its own)."""
        if not self._live(device):
            with pytest.raises(NotAuthenticated):
                self.box.assertion(device.session_id, audience="api")
            return
        token = self.box.assertion(device.session_id, audience="api")
        now = self.clock.now()
        device.recorded_activity = now
        self.assertions.append(Issued(token, device.who, device.auth_time, now + ASSERTION_TTL))

    @rule(device=consumes(devices))
    def log_out(self, device: Device) -> None:
        """A log out ends a stored session, live or idle; one already ended is refused."""
        if device.ended:
            with pytest.raises(NotAuthenticated):
                self.box.end(device.session_id)
            return
        self.box.end(device.session_id)
        device.ended = True

    @rule(actor=st.sampled_from(USERS), device=devices)
    def end_by_reference(self, actor: Principal, device: Device) -> None:
        ended = self.box.sessions.end_by_ref(actor, device.ref)
        assert ended == (device.who == actor and self._live(device)), (actor, device)
        if ended:
            event("a session ended by its reference")
            device.ended = True

    @rule(who=st.sampled_from(USERS))
    def log_out_everywhere(self, who: Principal) -> None:
        self.box.end_all(who)
        self._end_everything_of(who)

    def _new_code(self, who: Principal) -> str:
        """The next new code, a second from now (a code is set at an instant of its own)."""
        self.clock.advance(timedelta(seconds=1))
        new = NEW_CODES[self.new_codes]
        self.new_codes += 1
        return new

    @rule(target=recoveries, who=st.sampled_from(USERS))
    def ask_for_a_recovery(self, who: Principal) -> Recovery:
        """A recovery begins (the e-mail link is asked for); its code is chosen later."""
        return Recovery(who, self.clock.now())

    @precondition(lambda self: self.new_codes < len(NEW_CODES))
    @rule(recovery=consumes(recoveries))
    def recover(self, recovery: Recovery) -> None:
        """A new code chosen after a passed recovery: every session and login of the user
        ends, and the old code is refused from now on; unless the user was removed, or the
        recovery was overtaken since it began: every session ended (a removal, an end-all,
        another recovery) or the number given to a new person (ADR 0069)."""
        who = recovery.who
        new = self._new_code(who)
        reset = AccountRecovery(self.box).reset_code
        cut = self.ended_at[who]
        if who in self.removed:
            with pytest.raises(NotPermitted):
                reset(who, new, via="email", begun_at=recovery.begun_at)
            return
        if recovery.begun_at < self.created_at[who] or (
            cut is not None and recovery.begun_at <= cut
        ):
            with pytest.raises(FlowExpired, match="overtaken"):
                reset(who, new, via="email", begun_at=recovery.begun_at)
            event("an overtaken recovery is refused")
            return
        reset(who, new, via="email", begun_at=recovery.begun_at)
        self.codes[who] = new
        self.code_versions[who] += 1
        self._end_everything_of(who)

    @precondition(lambda self: self.new_codes < len(NEW_CODES))
    @rule(who=st.sampled_from(USERS))
    def change_code(self, who: Principal) -> None:
        """The user changes their code (proving the current one): the sessions stay (the
        server ends the others itself), a login that verified the old code cannot finish."""
        new = self._new_code(who)
        changed = self.box.codes.change_code(CLIENT, who.user_number.value, self.codes[who], new)
        assert changed.changed == (who not in self.removed)
        if not changed.changed:
            return
        self.codes[who] = new
        self.code_versions[who] += 1

    @precondition(lambda self: self.new_codes < len(NEW_CODES))
    @rule(device=devices)
    def change_code_from_a_session(self, device: Device) -> None:
        """The user changes their code from one of their live sessions (the profile): every
        other session of theirs ends in the change's commit, this one lives (ADR 0070); a
        login that verified the old code cannot finish."""
        who = device.who
        new = self._new_code(who)
        if who in self.removed or not self._live(device):
            return  # the server asks only from a live session
        number = who.user_number.value
        change = self.box.codes.change_code
        assert change(CLIENT, number, self.codes[who], new, keep_session=device.session_id).changed
        self.codes[who] = new
        self.code_versions[who] += 1
        for other in self.all_devices:
            if other.who == who and other is not device:
                other.ended = True
        event("a code changed from a session")

    # -- the administrator ----------------------------------------------------------------------

    def _admin_session(self) -> str:
        """The administrator logs in (code and TOTP, the next step's code)."""
        self.clock.advance(timedelta(seconds=31))
        page = self.box.start_login(CLIENT, ADMIN.user_number.value)
        page = self.box.answer_login(page.handle, CodeAnswer(CODE))
        code = totp_now(self.seeds[ADMIN], self.clock)
        page = self.box.answer_login(page.handle, TotpAnswer(code))
        assert page.session_id is not None, page.explain()
        return page.session_id

    @rule(who=st.sampled_from(USERS))
    def remove(self, who: Principal) -> None:
        """The administrator removes the user (again, if removed already): every session
        and login of theirs ends, and what they enrolled is erased."""
        self.box.entitlements.remove_user(self._admin_session(), who)
        self._end_everything_of(who)
        self.removed.add(who)

    @precondition(lambda self: self.new_codes < len(NEW_CODES))
    @rule(who=st.sampled_from(USERS))
    def send_a_new_code(self, who: Principal) -> None:
        """The administrator sends the user a new code (they forgot theirs, or someone else
        may know it): every session and login of theirs ends (ADR 0070), a recovery begun
        before is overtaken; the user changes the letter's code at their next login. A
        removed user is nobody's to send a code to."""
        admin = self._admin_session()
        if who in self.removed:
            with pytest.raises(NotPermitted, match="removed"):
                self.box.entitlements.regenerate_code(admin, who)
            return
        letter = self.box.entitlements.regenerate_code(admin, who)
        self._end_everything_of(who)
        self.code_versions[who] += 1  # the letter's code: a flow on the old one cannot finish
        new = self._new_code(who)
        number = who.user_number.value
        assert self.box.codes.change_code(CLIENT, number, letter.reveal(), new).changed
        self.codes[who] = new
        self.code_versions[who] += 1
        event("a new code sent by the administrator")

    @precondition(lambda self: self.removed and self.new_codes < len(NEW_CODES))
    @rule(data=st.data())
    def give_the_number_to_a_new_person(self, data: st.DataObject) -> None:
        """The administrator adds a removed user's number again, for a new person, who
        changes the one-time code and is enrolled a TOTP; the previous holder's TOTP code
        then opens nothing."""
        who = data.draw(st.sampled_from(sorted(self.removed, key=str)))
        first = self.box.entitlements.add_user(self._admin_session(), who, Role.USER, Rights())
        self.created_at[who] = self.clock.now()
        new = self._new_code(who)
        number = who.user_number.value
        assert self.box.codes.change_code(CLIENT, number, first.reveal(), new).changed
        totp = self.box.enrol_first_totp(Operator("back-office"), who)
        assert self.box.confirm_totp(who, totp_code_at(totp.credential, self.clock.now()))
        old_seed = self.seeds[who]
        self.removed.discard(who)
        self.codes[who] = new
        self.code_versions[who] += 1
        self.seeds[who] = totp.credential.secret
        # the previous holder's authenticator, at the next step
        self.clock.advance(timedelta(seconds=30))
        page = self.box.start_login(CLIENT, number)
        page = self.box.answer_login(page.handle, CodeAnswer(new))
        assert page.state is LoginState.SECOND_FACTOR, page.explain()
        page = self.box.answer_login(page.handle, TotpAnswer(totp_now(old_seed, self.clock)))
        assert page.session_id is None, page.explain()
        event("a user number given to a new person")

    @rule(
        by=st.sampled_from(
            [
                timedelta(seconds=1),
                timedelta(seconds=50),
                timedelta(minutes=4),
                timedelta(minutes=5, seconds=1),
                timedelta(minutes=10),
                timedelta(hours=13),
            ]
        )
    )
    def time_passes(self, by: timedelta) -> None:
        self.clock.advance(by)

    # -- what holds after every step ----------------------------------------------------------

    @invariant()
    def sessions_answer_as_the_model_says(self) -> None:
        if not hasattr(self, "box"):
            return
        for device in self.all_devices:
            if self._live(device):
                self.box.live_session(device.session_id)
            else:
                with pytest.raises(NotAuthenticated):
                    self.box.live_session(device.session_id)

    @invariant()
    def assertions_verify_as_the_model_says(self) -> None:
        """Until its ``exp`` an assertion is accepted, unless its user's sessions were all
        ended since its login (``TokenRevoked``, ADR 0067); a log out or an end by
        reference does not reach it (documented: keep lifetimes short). Once seen expired
        it is dropped."""
        if not hasattr(self, "box"):
            return
        now, kept = self.clock.now(), []
        for issued in self.assertions:
            cut = self.ended_at[issued.who]
            if now >= issued.expires_at:
                with pytest.raises(TokenExpired):
                    self.verifier.verify(issued.token, subject=issued.who)
                continue
            kept.append(issued)
            if cut is not None and issued.auth_time <= cut:
                with pytest.raises(TokenRevoked):
                    self.verifier.verify(issued.token, subject=issued.who)
                event("an assertion of a session ended by an end-all is revoked")
            else:
                assert self.verifier.verify(issued.token, subject=issued.who).subject == issued.who
        self.assertions = kept

    @invariant()
    def a_removed_user_holds_nothing_they_enrolled(self) -> None:
        if not hasattr(self, "box"):
            return
        for who in self.removed:
            held = self.store.factor_states_of(who, PERSONAL)
            assert held == {kind: [] for kind in PERSONAL}, who

    @invariant()
    def each_user_lists_exactly_their_live_sessions(self) -> None:
        if not hasattr(self, "box"):
            return
        for who in USERS:
            listed = sorted(ref for ref, _ in self.box.sessions_of(who))
            live = sorted(d.ref for d in self.all_devices if d.who == who and self._live(d))
            assert listed == live, who


SETTINGS: Final = settings(
    max_examples=EXAMPLES,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)  # fmt: skip

TestAccountEvents = AccountEvents.TestCase
TestAccountEvents.settings = SETTINGS


class AccountEventsOnSqlite(AccountEvents):
    """The same machine on a SQLite file of its own (the SQL store's reads and
    compare-and-swap), removed at the end of each example."""

    def __init__(self) -> None:
        super().__init__()
        self.store, self._clean_up = sqlite_file_store("securebox-account-events-", b"\x02" * 32)

    def teardown(self) -> None:
        self._clean_up()


TestAccountEventsOnSqlite = AccountEventsOnSqlite.TestCase
TestAccountEventsOnSqlite.settings = settings(SETTINGS, max_examples=max(EXAMPLES // 10, 2))
