"""TOTP codes, SMS codes and recovery codes are one-time values whatever the path that
takes them: the login flow, a step-up flow or the factor services (``Securebox.factors``).
A state machine offers fresh, previous-step, replayed and wrong TOTP codes, SMS codes sent
for one flow and recovery codes, used and unused, to every path in any order, on one
principal, and holds:

* a TOTP step once accepted on any path is never accepted again on any path, nor any
  earlier step (RFC 6238 section 5.2: "the verifier MUST NOT accept the second attempt of
  the OTP after the successful validation has been issued for the first OTP");
* a wrong TOTP code is refused everywhere; the current step's code, never accepted before,
  is accepted everywhere (no path refuses what another would take);
* an SMS code sent for one flow is accepted by that flow only, once; another flow, or the
  same flow again, refuses it (PSD2 RTS art. 4(1): an authentication code is accepted
  only once; art. 5(1): it is specific to what it was issued for);
* a recovery code of the current set is accepted once, between any of the above, and then
  refused, as are the codes of a set replaced by a new one (NIST SP 800-63B-4 section
  3.1.2: a look-up secret is used once).

The lockout across paths has its own machine (``tests/factors/test_lockout_interleavings.py``):
here the refusals are kept below the policy's ``max_failures`` in every series (per element
and combined), so that a refusal always means "not this code", never "blocked". It runs on
the memory store, and fewer examples on a SQLite file (the SQL store's reads and
compare-and-swap). ``SECUREBOX_ONE_TIME_EXAMPLES`` sets the number of examples (default 30).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
)

from securebox_auth import (
    PROFILE_TESTING,
    CodeAnswer,
    DerivedKeys,
    FixedClock,
    LoginState,
    OobAnswer,
    OperationRequest,
    Securebox,
    StepUpState,
    TotpAnswer,
    from_toml,
)
from securebox_auth.errors import FlowExpired, NotAuthenticated, NotPermitted
from securebox_auth.factors.oob import Channel
from securebox_auth.factors.totp import TotpCredential, code_at
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import AuthStore
from tests.shell.portal import CLIENT, CODE, MASTER, PHONE, T0, Phone, enrol_users, user
from tests.shell.sqlite_file import sqlite_file_store

EXAMPLES: Final = int(os.environ.get("SECUREBOX_ONE_TIME_EXAMPLES", "30"))
#: Strong authentication at every login (so that every login asks for the TOTP code), and
#: an operation any of whose methods proves (so that a step-up takes a TOTP or SMS code).
POLICY: Final = """
version = 1
name = "one-time"

[renewal]
every_days = 90
every_login = true

[lockout]
max_failures = 5

[operation.cheque_book_order]
methods = ["confidential_code", "totp", "sms_otp"]
"""
OPERATION: Final = OperationRequest("cheque_book_order")
WHO: Final = user(1)
STEP: Final = 30
#: The policy's ``max_failures``: no series (per element, or combined) may reach it.
MAX_FAILURES: Final = 5
TOTP_PATHS: Final = ("login", "step_up", "factors")
#: Codes that may be refused (a fresh code never is).
DOUBTFUL: Final = ("previous", "replay", "wrong")


@dataclass
class Sent:
    """An SMS code sent for a step-up flow."""

    handle: str
    session: str
    message_id: str
    code: str
    used: bool = False


class OneTimeAcrossPaths(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store: AuthStore = MemoryStore(audit_key=b"\x01" * 32)

    @initialize()
    def enrol(self) -> None:
        self.clock = FixedClock(T0)
        self.phone = Phone()
        self.box = Securebox.from_policy(
            from_toml(POLICY),
            store=self.store,
            keys=DerivedKeys.from_hex(MASTER),
            clock=self.clock,
            gateways={"sms": self.phone},
            argon2=PROFILE_TESTING,
        )
        seed = enrol_users(self.box, 1)[WHO]
        self.credential = TotpCredential(seed, created_at=T0)
        # the confirmation at enrolment accepted the step of T0
        self.last_step: int | None = self._step()
        self.last_code = self._code(0)
        # consecutive refusals per series, counted as the lockout could at most count them
        self.failures = {"totp": 0, "sms": 0, "recovery": 0, "combined": 0}
        # recovery codes: the current set (code -> used) and those of replaced sets
        self.recovery: dict[str, bool] = {}
        self.replaced: list[str] = []
        self.session: str | None = None
        self.sent: list[Sent] = []

    # -- the model -------------------------------------------------------------------------

    def _step(self, offset: int = 0) -> int:
        return int(self.clock.now().timestamp()) // STEP + offset

    def _code(self, offset: int) -> str:
        return code_at(self.credential, self.clock.now() + timedelta(seconds=STEP * offset))

    def _offer(self, kind: str) -> tuple[str, int | None]:
        """The code of ``kind`` and its step (``None`` for a wrong code)."""
        if kind == "fresh":
            if self.last_step is not None and self._step() <= self.last_step:
                self.clock.advance(timedelta(seconds=STEP))
            return self._code(0), self._step()
        if kind == "previous":
            return self._code(-1), self._step(-1)
        if kind == "replay":
            return self.last_code, self.last_step
        code = self._code(0)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        return wrong, None

    def _judge(self, kind: str, code: str, step: int | None, accepted: bool, path: str) -> None:
        fresh = step is not None and (self.last_step is None or step > self.last_step)
        if accepted:
            assert step is not None, f"{path}: a wrong code was accepted"
            assert fresh, f"{path}: step {step} accepted after step {self.last_step}"
            self.last_step, self.last_code = step, code
        else:
            assert kind != "fresh", f"{path}: the current step's new code was refused"
        self._count("totp", accepted)

    def _count(self, element: str, accepted: bool) -> None:
        if accepted:
            self.failures[element] = self.failures["combined"] = 0
        else:
            self.failures[element] += 1
            self.failures["combined"] += 1

    def may_refuse(self) -> bool:
        """Can one more refusal be afforded without reaching a block?"""
        return max(self.failures.values()) < MAX_FAILURES - 1

    # -- the paths ---------------------------------------------------------------------------

    def _login(self, answer: TotpAnswer) -> bool:
        page = self.box.start_login(CLIENT, WHO.user_number.value)
        page = self.box.answer_login(page.handle, CodeAnswer(CODE))
        assert page.state is LoginState.SECOND_FACTOR
        assert "totp" in page.offered
        page = self.box.answer_login(page.handle, answer)
        if page.rejected:
            assert page.session_id is None
            return False
        assert page.session_id is not None, page.explain()
        self.session = page.session_id
        return True

    def _challenged(self) -> str | None:
        """A new step-up flow asking for a proof, or ``None`` (no live session)."""
        if self.session is None:
            return None
        try:
            up = self.box.start_step_up(self.session, OPERATION)
            if up.state is not StepUpState.CHALLENGED:
                # the session's proofs are younger than the operation's five minutes: let
                # them age, keeping the session alive (idle timeout: five minutes)
                for _ in range(2):
                    self.clock.advance(timedelta(minutes=3))
                    self.box.touch(self.session)
                up = self.box.start_step_up(self.session, OPERATION)
        except NotAuthenticated:
            self.session = None
            return None
        assert up.state is StepUpState.CHALLENGED, up.explain()
        return up.handle

    def _step_up(self, answer: TotpAnswer, handle: str) -> bool:
        assert self.session is not None
        page = self.box.prove_step_up(self.session, handle, answer)
        return not page.rejected

    # -- rules -------------------------------------------------------------------------------

    @rule(path=st.sampled_from(TOTP_PATHS))
    def offer_fresh_totp(self, path: str) -> None:
        self.offer_totp(path, "fresh")

    @precondition(may_refuse)
    @rule(path=st.sampled_from(TOTP_PATHS), kind=st.sampled_from(DOUBTFUL))
    def offer_totp(self, path: str, kind: str) -> None:
        handle = self._challenged() if path == "step_up" else None
        if path == "step_up" and handle is None:
            path = "login"  # no session yet: log in instead
        code, step = self._offer(kind)
        if path == "login":
            accepted = self._login(TotpAnswer(code))
        elif path == "step_up":
            assert handle is not None
            accepted = self._step_up(TotpAnswer(code), handle)
        else:
            accepted = self.box.factors.verify_totp(WHO, code).ok
        self._judge(kind, code, step, accepted, path)
        event(f"TOTP {kind} on {path}: {'accepted' if accepted else 'refused'}")

    @precondition(may_refuse)
    @rule(first=st.sampled_from(TOTP_PATHS), second=st.sampled_from(TOTP_PATHS))
    def fresh_then_replayed_on_another_path(self, first: str, second: str) -> None:
        """One code on two paths, one after the other."""
        self.offer_totp(first, "fresh")
        self.offer_totp(second, "replay")

    @precondition(lambda self: self.session is not None)
    @rule()
    def new_recovery_codes(self) -> None:
        assert self.session is not None
        try:
            codes = self.box.generate_recovery_codes(self.session).reveal()
        except NotAuthenticated:
            self.session = None
            return
        self.replaced += list(self.recovery)
        self.recovery = dict.fromkeys(codes, False)

    @precondition(lambda self: not all(self.recovery.values()))
    @rule(data=st.data())
    def offer_unused_recovery_code(self, data: st.DataObject) -> None:
        unused = [c for c, used in self.recovery.items() if not used]
        self._offer_recovery(data.draw(st.sampled_from(unused), label="unused"), True)

    @precondition(may_refuse)
    @precondition(lambda self: any(self.recovery.values()) or bool(self.replaced))
    @rule(data=st.data())
    def offer_spent_recovery_code(self, data: st.DataObject) -> None:
        spent = [c for c, used in self.recovery.items() if used] + self.replaced
        self._offer_recovery(data.draw(st.sampled_from(spent), label="spent"), False)

    def _offer_recovery(self, code: str, expected: bool) -> None:
        """Recovery codes are taken by the factor service alone: neither a login nor a
        step-up offers them (they never count towards strong authentication)."""
        accepted = self.box.factors.recovery.verify(WHO, code).ok
        event(f"recovery code {'unused' if expected else 'spent'}: {accepted}")
        assert accepted is expected, f"recovery code accepted={accepted}"
        if accepted:
            self.recovery[code] = True
        self._count("recovery", accepted)

    @rule(seconds=st.sampled_from([1, 15, 29, 30, 31, 61]))
    def wait(self, seconds: int) -> None:
        self.clock.advance(timedelta(seconds=seconds))
        if self.session is not None:
            try:
                self.box.touch(self.session)
            except NotAuthenticated:
                self.session = None

    @precondition(lambda self: self.session is not None and len(self.sent) < 4)
    @rule()
    def send_sms(self) -> None:
        handle = self._challenged()
        if handle is None:
            return
        assert self.session is not None
        try:
            message_id = self.box.send_step_up_code(
                self.session, handle, channel=Channel.SMS, destination=PHONE
            )
        except NotPermitted:  # the policy's throttle of codes sent to one user
            event("SMS throttled")
            return
        self.sent.append(Sent(handle, self.session, message_id, self.phone.code))

    @precondition(lambda self: max(self.failures.values()) < MAX_FAILURES - 2)
    @rule()
    def sms_code_to_a_sibling_flow(self) -> None:
        """A code sent for flow A is refused by flow B of the same session, accepted by A
        once, then refused by A."""
        first = self._challenged()
        second = self._challenged()
        if first is None or second is None or self.session is None:
            return
        try:
            message_id = self.box.send_step_up_code(
                self.session, first, channel=Channel.SMS, destination=PHONE
            )
        except NotPermitted:
            event("SMS throttled")
            return
        answer = OobAnswer(message_id, self.phone.code)
        for handle, expected in ((second, False), (first, True), (first, False)):
            accepted = not self.box.prove_step_up(self.session, handle, answer).rejected
            assert accepted is expected, f"an SMS code for one flow: {accepted} on {handle}"
            self._count("sms", accepted)

    @precondition(lambda self: bool(self.sent))
    @precondition(may_refuse)
    @rule(data=st.data())
    def offer_sms(self, data: st.DataObject) -> None:
        sent = data.draw(st.sampled_from(self.sent), label="sent")
        flows = {s.handle: s.session for s in self.sent}
        handle = data.draw(st.sampled_from(list(flows)), label="to flow")
        session = flows[handle]
        try:
            self.box.touch(session)
            page = self.box.prove_step_up(session, handle, OobAnswer(sent.message_id, sent.code))
        except NotAuthenticated:  # that flow's session is over
            self.sent = [s for s in self.sent if s.session != session]
            return
        except FlowExpired:  # five minutes are over: nothing was verified
            self.sent = [s for s in self.sent if s.handle != handle]
            return
        accepted = not page.rejected
        same = "its own flow" if handle == sent.handle else "another flow"
        event(f"SMS code to {same}: {'accepted' if accepted else 'refused'}")
        if accepted:
            assert handle == sent.handle, "an SMS code proved a flow it was not sent for"
            assert not sent.used, "an SMS code was accepted twice"
            sent.used = True
        self._count("sms", accepted)


TestOneTimeAcrossPaths = OneTimeAcrossPaths.TestCase
TestOneTimeAcrossPaths.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class OneTimeAcrossPathsOnSqlite(OneTimeAcrossPaths):
    """The same on a SQLite file of its own, removed at the end of each example."""

    def __init__(self) -> None:
        super().__init__()
        self.store, self._clean_up = sqlite_file_store("securebox-one-time-", b"\x01" * 32)

    def teardown(self) -> None:
        self._clean_up()


TestOneTimeAcrossPathsOnSqlite = OneTimeAcrossPathsOnSqlite.TestCase
TestOneTimeAcrossPathsOnSqlite.settings = settings(
    max_examples=max(3, EXAMPLES // 6),
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
