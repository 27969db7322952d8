"""EMV-CAP codes on a store: binding a card (proved by a first valid code) and checking
Identify, Respond, Sign and TDS codes. The card's counter and the challenge move in the
same commit as the lockout, so a code is accepted once. Challenges (Respond at login, or
derived from an operation's digest for a step-up) are issued here and stored as factor
state (kind ``cap_challenge``), spent by the first verification that names them."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Final, Unpack

from securebox_auth.crypto.keys import KeyProvider
from securebox_auth.emv.issuer import IssuerKeyProvider
from securebox_auth.emv.profiles import CapMode, TerminalInput
from securebox_auth.errors import ConfigurationError, NotFound, NotPermitted
from securebox_auth.factors.cap import (
    CapCard,
    CapRequest,
    CapRules,
    CapVerdict,
    CardParameters,
    verify_cap,
)
from securebox_auth.factors.cap_card import enrol_card
from securebox_auth.factors.cap_decoy import DECOY_OWNER, answer_decoy, issue_decoy
from securebox_auth.factors.cap_linking import (
    issue_linked_challenge,
    linked_request,
    new_link_nonce,
)
from securebox_auth.factors.cap_request import CapChallenge, issue_challenge, new_challenge_value
from securebox_auth.factors.outcome import Outcome
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import Element, LockoutState
from securebox_auth.policy.linking import Payment
from securebox_auth.shell.base import (
    Document,
    FactorResult,
    FactorShell,
    ShellOptions,
    Step,
    Write,
)
from securebox_auth.shell.retry import Attempt
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.protocols import AuthStore, Change, PutFactorState, Versioned

__all__ = ["CHALLENGE_LIFETIME", "CapService", "LinkedOperation"]

#: How long a CAP challenge can be answered (the user reads it, types it, types the PIN).
CHALLENGE_LIFETIME: Final = timedelta(minutes=5)

#: The operation a linked CAP code is presented with: the payment (Sign, TDS or Respond) or
#: the operation's digest alone (Respond, for a payee or a batch).
LinkedOperation = Payment | str


class CapService(FactorShell):
    """CAP cards of the principals of ``store``; ``issuer`` holds the card keys."""

    def __init__(
        self,
        store: AuthStore,
        issuer: IssuerKeyProvider,
        *,
        rules: CapRules | None = None,
        **options: Unpack[ShellOptions],
    ) -> None:
        super().__init__(store, **options)
        self.issuer = issuer
        self.rules = rules or CapRules()

    def bind_card(
        self,
        principal: Principal,
        *,
        card_id: str,
        pan: str,
        psn: str,
        parameters: CardParameters,
        pan_keys: KeyProvider,
        code: str,
        request: CapRequest | None = None,
        last_atc: int | None = None,
        actor: str | None = None,
    ) -> FactorResult:
        """Bind a card to ``principal``, proved by a first valid code of that card
        (``request``: Identify by default). The card is stored (kind ``cap_card``, item
        ``card_id``, inserted at version 0: an id already bound to this principal raises
        :class:`~securebox_auth.errors.NotPermitted`) only when the code is right, with its
        counter past that code, audited ``cap.enrol``; a wrong code is counted like any
        wrong CAP code and nothing is stored."""
        if self.store.get_factor_state(principal, fc.CAP_CARD, card_id) is not None:
            raise NotPermitted("this card is already bound")
        card, enrolled = enrol_card(
            card_id=card_id, subject=principal.key, pan=pan, psn=psn, parameters=parameters,
            issuer=self.issuer, pan_keys=pan_keys, now=self.clock.now(), last_atc=last_atc,
            actor=actor,
        )  # fmt: skip
        key = (fc.CAP_CARD, card_id)

        def attempt(now: datetime) -> Step[FactorResult]:
            read = self._read(principal, (key,))
            if read.states[key] is not None:
                raise NotPermitted("this card is already bound")
            verdict = self._check(
                read.lockout.value, card, request or CapRequest.identify(), code, now
            )
            writes: list[Write] = []
            events = verdict.events
            if verdict.ok and read.active:
                writes.append((*key, fc.cap_card_to_dict(verdict.card)))
                events = (*events, enrolled)
            outcome = Outcome(verdict.outcome.value)
            if outcome is Outcome.ACCEPTED and not read.active:
                outcome = Outcome.REJECTED
            result = self._result(
                outcome, principal, now, verdict.reason, verdict.lockout, verdict.alert
            )
            return read.changes(verdict.lockout, writes), events, result

        return self._run(attempt)

    def issue_challenge(
        self, principal: Principal, card_id: str, *, purpose: str = "login"
    ) -> CapChallenge:
        """A single-use Respond challenge (8 random digits) for ``card_id`` of ``principal``,
        stored (kind ``cap_challenge``, version 0) and audited ``cap.challenge``. A card
        that is not bound (or a principal that does not exist) gets a decoy challenge of
        the same shape, committed the same way but into a decoy row nothing else reads
        (:mod:`securebox_auth.factors.cap_decoy`, audited with outcome ``decoy``):
        its code is refused like a wrong one and spends it, so neither the answer nor its
        time tells whether the card is bound (ADR 0010)."""
        return self._issue(principal, card_id, purpose, None)

    def issue_linked_challenge(
        self, principal: Principal, card_id: str, *, digest: str, purpose: str
    ) -> CapChallenge:
        """A single-use challenge bound to an operation's ``digest`` (its 8 digits derived
        from the digest and a fresh nonce, :mod:`securebox_auth.factors.cap_linking`),
        stored and audited like :meth:`issue_challenge`. The card must be bound
        (:class:`~securebox_auth.errors.NotFound` otherwise: a step-up is for a principal
        already authenticated)."""
        return self._issue(principal, card_id, purpose, digest)

    def _issue(
        self, principal: Principal, card_id: str, purpose: str, digest: str | None
    ) -> CapChallenge:
        challenge_id = secrets.token_urlsafe(24)
        value, nonce = new_challenge_value(), new_link_nonce()  # drawn once, not per retry
        key = (fc.CAP_CARD, card_id)

        def attempt(now: datetime) -> Step[CapChallenge]:
            read = self._read(principal, (key,))
            card = read.decoded(*key, fc.cap_card_from_dict)
            lifetime = CHALLENGE_LIFETIME
            if card is None:
                if digest is not None:
                    raise NotFound("no such CAP card is bound to this principal")
                challenge, event = issue_decoy(
                    principal.key, card_id, challenge_id=challenge_id, value=value,
                    purpose=purpose, now=now, lifetime=lifetime,
                )  # fmt: skip
                return [read.guard, _decoy_put(None, challenge)], (event,), challenge
            if digest is None:
                challenge, event = issue_challenge(
                    card, challenge_id=challenge_id, value=value, purpose=purpose, now=now,
                    lifetime=lifetime,
                )  # fmt: skip
            else:
                challenge, event = issue_linked_challenge(
                    card, challenge_id=challenge_id, nonce=nonce, digest=digest,
                    purpose=purpose, now=now, lifetime=lifetime,
                )  # fmt: skip
            document = fc.cap_challenge_to_dict(challenge)
            put = PutFactorState(principal, fc.CAP_CHALLENGE, challenge_id, 0, document)
            return [read.guard, put], (event,), challenge

        return self._run(attempt)

    def _decoy_read(self, challenge_id: str) -> Versioned[Document] | None:
        """The decoy row of ``challenge_id`` (:mod:`securebox_auth.factors.cap_decoy`)."""
        return self.store.get_factor_state(DECOY_OWNER, fc.CAP_DECOY, challenge_id)

    def verify(
        self,
        principal: Principal,
        card_id: str,
        code: str,
        *,
        challenge_id: str | None = None,
        request: CapRequest | None = None,
        linked: tuple[CapMode, LinkedOperation] | None = None,
    ) -> FactorResult:
        """One CAP code: see :meth:`securebox_auth.shell.factors.FactorService.verify_cap`."""
        return self._run(
            self.decide(
                principal, card_id, code, challenge_id=challenge_id, request=request, linked=linked
            )
        )

    def decide(
        self,
        principal: Principal,
        card_id: str,
        code: str,
        *,
        challenge_id: str | None = None,
        request: CapRequest | None = None,
        linked: tuple[CapMode, LinkedOperation] | None = None,
    ) -> Attempt[FactorResult]:
        """:meth:`verify` without its commit (a flow commits it with its own, ADR 0023).

        Without ``linked``, a stored challenge is a Respond challenge of a login: one issued
        for an operation's digest is refused (``challenge_mismatch``, counted), so a code
        made for a step-up never opens a login."""
        if (challenge_id is None) == (request is None):
            raise ConfigurationError("a CAP code names a stored challenge, or passes a request")
        if linked is not None and challenge_id is None:
            raise ConfigurationError("a linked CAP code names its stored challenge")
        if linked is not None and isinstance(linked[1], str) and linked[0] is not CapMode.RESPOND:
            raise ConfigurationError(
                "a CAP code linked to a digest alone is a Respond code (Sign and TDS "
                "codes are presented with their payment)"
            )
        keys = [(fc.CAP_CARD, card_id)]
        if challenge_id is not None:
            keys.append((fc.CAP_CHALLENGE, challenge_id))
        mode = "respond" if request is None else request.mode.value
        if linked is not None:
            mode = linked[0].value

        def attempt(now: datetime) -> Step[FactorResult]:
            read = self._read(principal, keys)
            # read for a real card too: the same reads whoever is claimed
            decoy = None if challenge_id is None else self._decoy_read(challenge_id)
            card = read.decoded(fc.CAP_CARD, card_id, fc.cap_card_from_dict)
            challenge = None
            if challenge_id is not None:
                challenge = read.decoded(fc.CAP_CHALLENGE, challenge_id, fc.cap_challenge_from_dict)
            if card is None:  # stored under the principal: that is what binds it to them
                step = self._missing(read, now, f"cap.{mode}", "unknown_card", Element.CAP)
                if decoy is None or challenge_id is None or step[2].outcome is Outcome.BLOCKED:
                    return step
                stored = fc.cap_challenge_from_dict(decoy.value)
                spent = answer_decoy(stored, principal.key, challenge_id, now)
                if spent is None:
                    return step
                # the decoy is spent like a real challenge, in the commit of the failure
                changes, events, result = step
                return [*changes, _decoy_put(decoy, spent)], events, result
            if challenge_id is not None and challenge is None:
                return self._missing(read, now, f"cap.{mode}", "no_challenge", Element.CAP)
            cap_request = request
            if challenge is not None:
                cap_request = _request(challenge, linked)
            assert cap_request is not None
            verdict = self._check(read.lockout.value, card, cap_request, code, now)
            writes: list[Write] = [(fc.CAP_CARD, card_id, fc.cap_card_to_dict(verdict.card))]
            if challenge_id is not None and verdict.challenge is not None:
                writes.append(
                    (fc.CAP_CHALLENGE, challenge_id, fc.cap_challenge_to_dict(verdict.challenge))
                )
            outcome = Outcome(verdict.outcome.value)
            result = self._result(
                outcome, principal, now, verdict.reason, verdict.lockout, verdict.alert,
                verdict.method, digest=verdict.digest if verdict.ok else None,
            )  # fmt: skip
            return read.changes(verdict.lockout, writes), verdict.events, result

        return attempt

    def _check(
        self, lockout: LockoutState, card: CapCard, request: CapRequest, code: str, now: datetime
    ) -> CapVerdict:
        return verify_cap(
            card, request, code, lockout=lockout, now=now, issuer=self.issuer,
            lockout_rules=self.lockout_rules, rules=self.rules,
        )  # fmt: skip


def _decoy_put(stored: Versioned[Document] | None, challenge: CapChallenge) -> Change:
    """Insert (``stored`` ``None``) or write back the decoy row of ``challenge``."""
    version = 0 if stored is None else stored.version
    document = fc.cap_challenge_to_dict(challenge)
    return PutFactorState(DECOY_OWNER, fc.CAP_DECOY, challenge.challenge_id, version, document)


def _request(challenge: CapChallenge, linked: tuple[CapMode, LinkedOperation] | None) -> CapRequest:
    """What a code for a stored ``challenge`` was computed over, with the digest presented
    now (none at login: a challenge bound to a digest then fails as ``challenge_mismatch``)."""
    if linked is None:
        return CapRequest(TerminalInput.respond(challenge.value), challenge, None)
    mode, operation = linked
    if isinstance(operation, str):
        return CapRequest(TerminalInput.respond(challenge.value), challenge, operation)
    return linked_request(mode, challenge, operation)
