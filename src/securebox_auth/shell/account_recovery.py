"""Account recovery on a store (the shell of :mod:`securebox_auth.flows.recovery`): replace a
forgotten code, once a recovery flow passed its challenge, and end every session.

Nothing here opens a session or records a strong authentication (:data:`~securebox_auth.
flows.recovery.GRANTS`): the next login follows the policy. A code is replaced in one
compare-and-swap commit with its audit event, guarded on the account, in which every
session of the principal ends (as :meth:`~securebox_auth.shell.securebox.Securebox.end_all`
does); a one-time code is committed, then every session ends.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from securebox_auth.audit import AuditEvent
from securebox_auth.errors import FlowExpired, NotPermitted
from securebox_auth.factors import code_reset as reset
from securebox_auth.factors import secret_answers as qa
from securebox_auth.factors.code import CodeCredential, OneTimeCode
from securebox_auth.identity import Principal
from securebox_auth.shell.records import end_every_session, sessions_not_before
from securebox_auth.shell.retry import commit_retrying
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores.factor_kinds import SECRET_ANSWERS
from securebox_auth.stores.protocols import (
    Change,
    Expect,
    PutCode,
    PutFactorState,
)

__all__ = ["NOBODY", "AccountRecovery"]

_ITEM = "default"
#: The principal an unmatched claim is checked against, and does the same statements on:
#: no account has it (client identifiers of six zeros are never issued).
NOBODY = Principal.parse("000000", "0")


class AccountRecovery:
    """Recovery's writes on the library of ``box`` (its store, clock, policy, hasher)."""

    def __init__(self, box: Securebox) -> None:
        self.box = box

    def _credential(
        self, principal: Principal, begun_at: datetime | None = None
    ) -> tuple[CodeCredential | None, Callable[[CodeCredential], list[Change]]]:
        """The current credential of an active account, and the writes of its successor:
        the new code under the version read, guarded on the account's version (a change
        of either meanwhile refuses the commit). A recovery ``begun_at`` an instant before
        the account was created (the user number given to another person since) or not
        after every session of the account was last ended (a removal, a "log out
        everywhere", another recovery) is overtaken: :class:`FlowExpired` (ADR 0069)."""
        store = self.box.store
        account = store.get_account(principal)
        if account is None or not account.value.active:
            raise NotPermitted("this account cannot be recovered")
        if begun_at is not None:
            ended = sessions_not_before(store, principal)
            if begun_at < account.value.created_at or (ended is not None and begun_at <= ended):
                raise FlowExpired("this recovery was overtaken by a change of the account")
        code = store.get_code(principal)
        guard = Expect("account", principal, account.version)

        def writes(credential: CodeCredential) -> list[Change]:
            return [guard, PutCode(principal, code.version if code else 0, credential)]

        return (code.value if code else None), writes

    def code_reset(
        self,
        principal: Principal,
        new_code: object,
        *,
        via: str,
        now: datetime,
        begun_at: datetime | None = None,
    ) -> tuple[list[Change], list[AuditEvent]]:
        """What choosing ``new_code`` after a passed recovery writes, for one commit (ADR
        0023): the new code under a guard on the account and the code read, every live
        session ended (by compare-and-swap on the version read) and the sessions'
        ``not_before`` watermark (a login being opened meanwhile is refused too), with the
        reset's and the sessions' audit events. The code is checked first
        (:class:`~securebox_auth.errors.WeakCode`: nothing to write). ``begun_at``, when
        the recovery began: one overtaken since is refused (:meth:`_credential`); a removal
        or a re-creation of the account racing with it changes the account this commit is
        guarded on, so it decides again."""
        codes = self.box.codes
        store = self.box.store
        previous, writes = self._credential(principal, begun_at)
        credential, event = reset.chosen_code(
            previous, principal, new_code, now=now, hasher=codes.hasher, rules=codes.rules,
            via=via,
        )  # fmt: skip
        ended, sessions = end_every_session(store, principal, now, reason="recovery")
        return [*writes(credential), *ended], [event, sessions]

    def reset_code(
        self,
        principal: Principal,
        new_code: object,
        *,
        via: str,
        consume: Callable[[], None] | None = None,
        begun_at: datetime | None = None,
    ) -> None:
        """The user chose ``new_code`` after a passed recovery (``via``: ``"email"``).
        The code is checked first (:class:`~securebox_auth.errors.WeakCode` uses nothing);
        then ``consume`` uses up the recovery (the single-use step: it raises when another
        request used it first); then the code is replaced and every session ends in one
        commit (:meth:`code_reset`; :class:`~securebox_auth.errors.ConcurrentUpdate` if the
        account, the code or a session changed meanwhile). A server that keeps its recovery
        flows in the same database commits :meth:`code_reset` with its own single-use write
        instead (one transaction: no spent recovery with the old code). ``begun_at`` as in
        :meth:`code_reset`."""
        now = self.box.clock.now()
        changes, events = self.code_reset(principal, new_code, via=via, now=now, begun_at=begun_at)
        if consume is not None:
            consume()
        self.box.store.commit(changes, events)

    def issue_code(self, principal: Principal, *, via: str) -> OneTimeCode:
        """A new one-time code after a passed recovery (``via``: ``"card"``), to send to
        the user's registered mobile; every session ends in the same commit."""
        codes, store = self.box.codes, self.box.store

        def attempt(now: datetime) -> tuple[list[Change], list[AuditEvent], OneTimeCode]:
            previous, writes = self._credential(principal)
            code, credential, events = reset.one_time_code(
                previous, principal, now=now, hasher=codes.hasher, rules=codes.rules, via=via
            )
            ended, sessions = end_every_session(store, principal, now, reason="recovery")
            return [*writes(credential), *ended], [*events, sessions], code

        return commit_retrying(store, self.box.clock, attempt, what="code")

    # -- secret questions (a policy option) ----------------------------------------------

    def _require_questions(self) -> None:
        if not self.box.policy.recovery.secret_questions:
            raise NotPermitted("secret questions are not allowed by the policy")

    def _name_mac(self, key_id: str, name: object) -> str:
        keys = self.box.factors.keys
        if keys is None:
            raise NotPermitted("secret questions need the application keys")
        plain = qa.normalise_answer(name if isinstance(name, str) else "-")
        return keys.mac(key_id, b"recovery-name\n" + plain.encode()).hex()

    def set_answers(self, principal: Principal, name: str, answers: Mapping[str, object]) -> None:
        """Store the user's name as a keyed MAC (found without argon2 work) and the hashes
        of their answers (peppered argon2id); both normalised, neither kept in clear."""
        self._require_questions()
        keys = self.box.factors.keys
        if keys is None:
            raise NotPermitted("secret questions need the application keys")
        key_id = keys.current_key_id
        hashed = qa.hash_answers(principal, answers, self.box.codes.hasher)
        document = {
            "name_key": key_id,
            "name_mac": self._name_mac(key_id, name),
            "answers": dict(hashed.hashes),
        }
        now = self.box.clock.now()
        found = self.box.store.get_factor_state(principal, SECRET_ANSWERS, _ITEM)
        version = found.version if found else 0
        event = AuditEvent.make(
            now, "recovery.answers_set", actor=principal.key, subject=principal.key,
            outcome="success",
        )  # fmt: skip
        self.box.store.commit(
            [PutFactorState(principal, SECRET_ANSWERS, _ITEM, version, document)], [event]
        )

    def _document(self, principal: Principal) -> Mapping[str, object]:
        found = self.box.store.get_factor_state(principal, SECRET_ANSWERS, _ITEM)
        return found.value if found else {}

    def name_matches(self, principal: Principal, name: object) -> bool:
        """Whether ``name`` (normalised) is the one the user set, compared in constant time."""
        document = self._document(principal)
        key_id, stored = document.get("name_key"), document.get("name_mac")
        if not isinstance(key_id, str) or not isinstance(stored, str):
            return False
        return hmac.compare_digest(self._name_mac(key_id, name), stored)

    def check_answers(
        self, principal: Principal | None, given: Mapping[str, object], questions: Sequence[str]
    ) -> bool:
        """Every answer right; ``None`` (no user matched) does the same argon2 work against
        hashes nobody knows, so the time says nothing."""
        self._require_questions()
        stored_answers = self._document(principal).get("answers") if principal else None
        stored = (
            qa.SecretAnswers({str(k): str(v) for k, v in stored_answers.items()})
            if isinstance(stored_answers, dict)
            else None
        )
        target = principal or NOBODY
        return qa.verify_answers(target, stored, given, self.box.codes.hasher, questions)
