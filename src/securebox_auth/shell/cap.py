"""EMV-CAP codes on a store: binding a card (proved by a first valid code) and checking
Identify, Respond, Sign and TDS codes. The card's counter and the challenge move in the
same commit as the lockout, so a code is accepted once."""

from __future__ import annotations

from datetime import datetime
from typing import Unpack

from securebox_auth.crypto.keys import KeyProvider
from securebox_auth.emv.issuer import IssuerKeyProvider
from securebox_auth.emv.profiles import CapMode
from securebox_auth.errors import ConfigurationError, NotPermitted
from securebox_auth.factors.cap import (
    CapCard,
    CapRequest,
    CapRules,
    CapVerdict,
    CardParameters,
    verify_cap,
)
from securebox_auth.factors.cap_card import enrol_card
from securebox_auth.factors.cap_linking import linked_request
from securebox_auth.factors.outcome import Outcome
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import Element, LockoutState
from securebox_auth.policy.linking import Payment
from securebox_auth.shell.base import FactorResult, FactorShell, ShellOptions, Step, Write
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.protocols import AuthStore

__all__ = ["CapService"]


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

    def verify(
        self,
        principal: Principal,
        card_id: str,
        code: str,
        *,
        challenge_id: str | None = None,
        request: CapRequest | None = None,
        linked: tuple[CapMode, Payment] | None = None,
    ) -> FactorResult:
        """One CAP code: see :meth:`securebox_auth.shell.factors.FactorService.verify_cap`."""
        if (challenge_id is None) == (request is None):
            raise ConfigurationError("a CAP code names a stored challenge, or passes a request")
        if linked is not None and challenge_id is None:
            raise ConfigurationError("a linked CAP code names its stored challenge")
        keys = [(fc.CAP_CARD, card_id)]
        if challenge_id is not None:
            keys.append((fc.CAP_CHALLENGE, challenge_id))
        mode = "respond" if request is None else request.mode.value
        if linked is not None:
            mode = linked[0].value

        def attempt(now: datetime) -> Step[FactorResult]:
            read = self._read(principal, keys)
            card = read.decoded(fc.CAP_CARD, card_id, fc.cap_card_from_dict)
            challenge = None
            if challenge_id is not None:
                challenge = read.decoded(fc.CAP_CHALLENGE, challenge_id, fc.cap_challenge_from_dict)
            if card is None:  # stored under the principal: that is what binds it to them
                return self._missing(read, now, f"cap.{mode}", "unknown_card", Element.CAP)
            if challenge_id is not None and challenge is None:
                return self._missing(read, now, f"cap.{mode}", "no_challenge", Element.CAP)
            cap_request = request
            if challenge is not None:
                cap_request = (
                    CapRequest.respond(challenge)
                    if linked is None
                    else linked_request(linked[0], challenge, linked[1])
                )
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

        return self._run(attempt)

    def _check(
        self, lockout: LockoutState, card: CapCard, request: CapRequest, code: str, now: datetime
    ) -> CapVerdict:
        return verify_cap(
            card, request, code, lockout=lockout, now=now, issuer=self.issuer,
            lockout_rules=self.lockout_rules, rules=self.rules,
        )  # fmt: skip
