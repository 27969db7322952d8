"""The login flow on a store: identify, answer factors, change a one-time code, open the
session (with the renewal clock, in the same commit).

Each user step is one commit (ADR 0023): an answer reads the flow, the factor's state and
the lockout, verifies (the factor service's ``decide`` entry, which commits nothing), and
commits the factor's new state, the lockout, the flow's next state (or the session with its
renewal clock) and every audit event together under compare-and-swap. A lost race reads and
decides the whole step again (an argon2 answer is reused for the same stored hash only), so
a one-time value consumed meanwhile is refused: never two accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from securebox_auth.audit import AuditEvent
from securebox_auth.errors import FlowError, FlowExpired, FlowOutOfOrder
from securebox_auth.factors.certificate import CertChallenge
from securebox_auth.factors.code import ChangeOutcome
from securebox_auth.factors.oob import Channel
from securebox_auth.flows import codec
from securebox_auth.flows.login import (
    AskCodeChange,
    CodeChanged,
    FactorFailed,
    FactorVerified,
    Finished,
    LoginAction,
    LoginEvent,
    LoginFlow,
    LoginState,
    LoginStep,
    Offer,
    OpenLoginSession,
    advance,
    start_login,
)
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutState
from securebox_auth.policy.decision import Decision
from securebox_auth.shell import records
from securebox_auth.shell.answers import Answer, claimed_method, decide_answer
from securebox_auth.shell.flow_base import Pending, ShellBase
from securebox_auth.shell.retry import retrying
from securebox_auth.stores.principal_reads import read_principal
from securebox_auth.stores.protocols import Change, Expect

__all__ = ["LoginPage", "LoginShell"]

KIND = codec.LOGIN_FLOW


@dataclass(frozen=True, slots=True)
class LoginPage:
    """What the portal shows next. ``handle`` names the flow for the next request;
    ``session_id`` is set once the login is done (set it in the cookie)."""

    handle: str = field(repr=False)
    flow: LoginFlow
    action: LoginAction
    session_id: str | None = field(default=None, repr=False)
    #: The last answer was refused (it never says which element was wrong).
    rejected: bool = False

    @property
    def state(self) -> LoginState:
        return self.flow.state

    @property
    def offered(self) -> tuple[str, ...]:
        return self.flow.offered

    @property
    def done(self) -> bool:
        return self.session_id is not None

    @property
    def decision(self) -> Decision | None:
        action = self.action
        if isinstance(action, OpenLoginSession):
            return action.decision
        if isinstance(action, Offer | Finished):
            return action.decision
        return None

    def explain(self) -> str:
        return self.flow.explain()


class LoginShell(ShellBase):
    """The login half of :class:`~securebox_auth.shell.securebox.Securebox`."""

    def start_login(
        self, client_id: object, user_number: object, *, channel: str = "web"
    ) -> LoginPage:
        """Identify (the principal may not exist: same answer, same offer)."""
        principal = self.codes.parse_principal(client_id, user_number)
        now = self.clock.now()
        step = start_login(self.policy, principal, channel=channel, now=now)
        flow = step.flow
        document = codec.login_flow_to_dict(flow)
        event = self._event(flow, "login.start", "success", {"channel": channel})
        self.store.commit([records.put(principal, KIND, flow.id, 0, document)], [event])
        return LoginPage(records.handle(KIND, principal, flow.id), flow, step.action)

    def login_flow(self, handle: str) -> LoginFlow:
        """The flow behind ``handle`` (for ``explain()``); expired flows are refused."""
        principal, flow_id = records.parse_handle(handle, KIND, self.codes.parse_principal)
        return self._load_login(principal, flow_id)[0]

    def answer_login(self, handle: str, answer: Answer) -> LoginPage:
        """Verify ``answer`` (one of the methods offered now) and move the flow on: the
        factor's state, the lockout, the flow (and the session with its renewal clock when
        the login is done) and their audit events in one commit (ADR 0023)."""
        principal, flow_id = records.parse_handle(handle, KIND, self.codes.parse_principal)
        read = self._load_login(principal, flow_id)
        flow = read[0]
        method = claimed_method(answer)
        if flow.state is LoginState.CODE_CHANGE or method not in flow.offered:
            raise FlowOutOfOrder(f"{method} is not expected now (flow is {flow.state.value})")
        decide = decide_answer(
            self, principal, answer, purpose="login", reference=records.flow_ref(flow_id)
        )
        first = [read]  # the first attempt commits against this read (a stale one conflicts)

        def attempt() -> LoginPage:
            # A lost race decides again from a fresh read: the factor's state, the lockout
            # and the flow; a one-time value another request consumed is then refused.
            now = self.clock.now()
            changes, events, verified = decide(now)
            pending = (changes, events)
            current, version = (
                first.pop() if first else self._load_login(principal, flow_id, pending)
            )
            if current.state is LoginState.CODE_CHANGE or method not in current.offered:
                self._settle(pending)  # moved on meanwhile: the verification still counts
                raise FlowOutOfOrder(f"{method} is not expected now")
            event: LoginEvent
            if verified.ok and verified.method in current.offered:
                event = FactorVerified(verified.method, change_required=verified.change_required)
            else:
                # a refusal, or e.g. a passkey without user verification where only
                # passkey_uv is offered
                event = FactorFailed(method if verified.ok else verified.method, verified.blocked)
            rejected = not isinstance(event, FactorVerified)
            try:
                return self._advance(
                    current, version, event, now, pending, rejected=rejected,
                    lockout=verified.lockout,
                )  # fmt: skip
            except FlowExpired:  # buried with the verification (counted) by _advance
                raise
            except FlowError:  # the flow refused the event: the verification still counts
                self._settle(pending)
                raise

        return retrying(attempt)

    def change_login_code(self, handle: str, current: object, new: object) -> LoginPage:
        """The forced change of a one-time code (proving it again); raises
        :class:`~securebox_auth.errors.WeakCode` for a refused new code."""
        principal, flow_id = records.parse_handle(handle, KIND, self.codes.parse_principal)
        flow, _ = self._load_login(principal, flow_id)
        if flow.state is not LoginState.CODE_CHANGE:
            raise FlowOutOfOrder(f"no code change is asked for (flow is {flow.state.value})")
        result = self.codes.change_code(
            principal.client_id.value, principal.user_number.value, current, new
        )
        if result.changed:
            return self._apply(principal, flow_id, CodeChanged())
        if result.outcome is ChangeOutcome.BLOCKED:
            return self._finish_blocked(principal, flow_id)
        return LoginPage(
            records.handle(KIND, principal, flow_id), flow, AskCodeChange(), rejected=True
        )

    def send_login_code(self, handle: str, *, channel: Channel, destination: str) -> str:
        """Send a one-time code for the second factor (only once the first factor was
        verified: a login never sends messages for an unverified claimant). Returns the
        challenge id to answer with :class:`~securebox_auth.shell.answers.OobAnswer`.
        ``destination`` names one of the principal's verified destinations on ``channel``
        (its key, or its value): any other is refused with
        :class:`~securebox_auth.errors.UnknownDestination` and nothing is sent."""
        principal, flow_id = records.parse_handle(handle, KIND, self.codes.parse_principal)
        flow, _ = self._load_login(principal, flow_id)
        if flow.state is not LoginState.SECOND_FACTOR or channel.method.name not in flow.offered:
            raise FlowOutOfOrder(f"no {channel.value} code is expected now")
        return self._send(
            principal, channel, destination, "login", records.flow_ref(flow_id), None, ()
        )

    def login_passkey_options(self, handle: str) -> tuple[dict[str, Any], str]:
        """The ``navigator.credentials.get`` options and the ceremony id to answer with
        :class:`~securebox_auth.shell.answers.PasskeyAnswer` (decoys for anyone without a
        passkey: the same answer whether the principal exists or not)."""
        flow = self._offering(handle, "passkey_uv")
        return self._passkey_options(flow.principal, "login", None, None)

    def login_certificate_challenge(self, handle: str) -> CertChallenge:
        """A challenge for the certificate (or smart card) to sign."""
        flow = self._offering(handle, "certificate", "smartcard_pin")
        return self._cert_challenge(flow.principal, "login", None)

    def login_cap_challenge(self, handle: str, card_id: str) -> tuple[str, str]:
        """A Respond challenge for the CAP card ``card_id``: its id (answer with
        ``CapAnswer(card_id, code, challenge_id, mode=CapMode.RESPOND)``) and the 8 digits
        the user types into the reader. Single use, for five minutes; a card that is not
        bound gets digits all the same (its code is then refused like a wrong one)."""
        flow = self._offering(handle, "cap_respond")
        challenge = self.factors.cap.issue_challenge(flow.principal, card_id, purpose="login")
        return challenge.challenge_id, challenge.value

    def _offering(self, handle: str, *methods: str) -> LoginFlow:
        principal, flow_id = records.parse_handle(handle, KIND, self.codes.parse_principal)
        flow, _ = self._load_login(principal, flow_id)
        if not any(m in flow.offered for m in methods):
            raise FlowOutOfOrder(f"{methods[0]} is not offered now")
        return flow

    # -- internals ----------------------------------------------------------------------------

    def _load_login(
        self, principal: Principal, flow_id: str, pending: Pending = ((), ())
    ) -> tuple[LoginFlow, int]:
        """The live flow and its version; a flow that is gone or expired raises
        :class:`~securebox_auth.errors.FlowExpired`, after committing the ``pending``
        verification of the step (with the expired flow's tombstone)."""
        found = self.store.get_factor_state(principal, KIND, flow_id)
        if found is None:
            self._settle(pending)
            raise FlowExpired("no such flow (finished, expired or unknown): start again")
        flow = codec.login_flow_from_dict(found.value, principal)
        if flow.expired(self.clock.now()):
            self._bury(principal, KIND, flow_id, found.version, "login.expired", pending)
            raise FlowExpired("the login took too long: start again")
        return flow, found.version

    def _finish_blocked(self, principal: Principal, flow_id: str) -> LoginPage:
        flow, version = self._load_login(principal, flow_id)
        self._bury(principal, KIND, flow_id, version, "login.blocked")
        ended = replace(flow, state=LoginState.FAILED, offered=())
        return LoginPage(records.handle(KIND, principal, flow_id), ended, Finished("blocked"))

    def _apply(self, principal: Principal, flow_id: str, event: LoginEvent) -> LoginPage:
        def attempt() -> LoginPage:
            flow, version = self._load_login(principal, flow_id)
            return self._advance(flow, version, event, self.clock.now(), ((), ()))

        return retrying(attempt)

    def _advance(
        self,
        flow: LoginFlow,
        version: int,
        event: LoginEvent,
        now: datetime,
        pending: Pending,
        *,
        rejected: bool = False,
        lockout: LockoutState | None = None,
    ) -> LoginPage:
        """Move ``flow`` on with ``event`` and commit it with the ``pending`` verification
        in one compare-and-swap commit (the session's too when the login is done)."""
        principal, flow_id = flow.principal, flow.id
        page_handle = records.handle(KIND, principal, flow_id)
        verified_changes, verified_events = pending
        # A failure moves the flow without the engine: nothing more to read. Otherwise the
        # engine decides; the enrolled methods (five reads) only shape what a login that is
        # not done yet offers, so they are read only when the decision is not to open it
        # (the pure flow runs again with them: same inputs, same result).
        facts = not isinstance(event, FactorFailed)
        last_sca: datetime | None = None
        renewal: Callable[[datetime], Change] | None = None
        ended_at = code_set_at = None
        guard: list[Change] = []
        if facts:
            # The renewal clock, the account, the end-all watermark and the code, in one
            # round trip on PostgreSQL: a flow outlives neither (ADR 0067).
            clock = self.factors.renewal
            read = read_principal(
                self.store, principal, lockout=False, code=True,
                factors=[clock.record_of(flow.channel), records.WATERMARK],
            )  # fmt: skip
            last_sca, renewal = clock.from_read(read, principal, flow.channel)
            ended_at = records.watermark_of(read.factors[records.WATERMARK])
            code_set_at = None if read.code is None else read.code.value.set_at
            if read.code is not None and flow.code_set_at is not None and _later_step(event):
                # the step rests on the code verified before: it commits only if the code
                # is still the one read (a change racing with this step is not missed)
                guard.append(Expect("code", principal, read.code.version))
            if lockout is None:  # the verification's, else as the pending changes leave it
                lockout = self._lockout_after(principal, verified_changes)
        else:
            lockout = None

        def decide(enrolled: frozenset[str] | None) -> LoginStep:
            return advance(
                self.policy, flow, event, now=now, last_sca=last_sca, lockout=lockout,
                enrolled=enrolled, sessions_ended_at=ended_at, code_set_at=code_set_at,
            )  # fmt: skip

        try:
            step = decide(None)
        except FlowExpired:  # outlived an end-all or its code: the flow ends here
            self._bury(principal, KIND, flow_id, version, "login.superseded", pending)
            raise
        if facts and not isinstance(step.action, OpenLoginSession):
            step = decide(self.enrolled(principal))
        after, action = step.flow, step.action
        events = [
            *verified_events,
            self._event(after, "login.step", after.state.value, {"event": type(event).__name__}),
        ]
        decision = LoginPage(page_handle, after, action).decision
        if decision is not None:
            events.append(self._decision_event(after, decision))
        changes: list[Change] = [*verified_changes, *guard]
        if isinstance(action, OpenLoginSession):
            changes.append(records.put(principal, KIND, flow_id, version, None))
            if action.renewed and renewal is not None:  # (always set when a login opens)
                changes.append(renewal(now))
            session_id = self.sessions.open(action.session, changes=changes, events=events)
            return LoginPage(page_handle, after, action, session_id, rejected)
        document = None if after.finished else codec.login_flow_to_dict(after)
        changes.append(records.put(principal, KIND, flow_id, version, document))
        self.store.commit(changes, events)
        return LoginPage(page_handle, after, action, None, rejected)

    def _event(
        self, flow: LoginFlow, action: str, outcome: str, details: dict[str, str]
    ) -> AuditEvent:
        who = flow.principal.key
        return AuditEvent.make(
            self.clock.now(),
            action,
            actor=who,
            subject=who,
            outcome=outcome,
            details={"flow": records.flow_ref(flow.id), **details},
        )

    def _decision_event(self, flow: LoginFlow, decision: Decision) -> AuditEvent:
        details = {"rules": ",".join(decision.rules), "methods": ",".join(flow.proven)}
        return self._event(flow, "login.decision", decision.kind, details)


def _later_step(event: LoginEvent) -> bool:
    """A verified step after the code's: neither the code's verification (its own guard on
    the code is in the verification's changes) nor the forced change (which wrote it)."""
    verifies_code = isinstance(event, FactorVerified) and event.method == "confidential_code"
    return not verifies_code and not isinstance(event, CodeChanged)
