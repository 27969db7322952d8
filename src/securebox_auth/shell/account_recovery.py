"""Account recovery on a store (the shell of :mod:`securebox_auth.recovery`): replace a
forgotten code, once a recovery flow passed its challenge, and end every session.

Nothing here opens a session or records a strong authentication (:data:`~securebox_auth.
recovery.flow.GRANTS`): the next login follows the policy. A code is replaced in one
compare-and-swap commit with its audit event, guarded on the account; then every session
of the principal ends (:meth:`~securebox_auth.shell.securebox.Securebox.end_all`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from securebox_auth.audit import AuditEvent
from securebox_auth.errors import NotPermitted
from securebox_auth.factors.code import CodeCredential, OneTimeCode
from securebox_auth.identity import Principal
from securebox_auth.recovery import answers as qa
from securebox_auth.recovery import reset
from securebox_auth.shell.retry import commit_retrying
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores.factor_kinds import SECRET_ANSWERS
from securebox_auth.stores.protocols import Change, Expect, PutCode, PutFactorState

__all__ = ["AccountRecovery"]

_ITEM = "default"


class AccountRecovery:
    """Recovery's writes on the library of ``box`` (its store, clock, policy, hasher)."""

    def __init__(self, box: Securebox) -> None:
        self.box = box

    def _credential(self, principal: Principal) -> tuple[CodeCredential | None, list[Change]]:
        store = self.box.store
        account = store.get_account(principal)
        if account is None or not account.value.active:
            raise NotPermitted("this account cannot be recovered")
        code = store.get_code(principal)
        return (code.value if code else None), [Expect("account", principal, account.version)]

    def _put(
        self, principal: Principal, credential: CodeCredential, events: Sequence[AuditEvent]
    ) -> tuple[list[Change], list[AuditEvent]]:
        found = self.box.store.get_code(principal)
        version = found.version if found else 0
        return [PutCode(principal, version, credential)], list(events)

    def reset_code(
        self,
        principal: Principal,
        new_code: object,
        *,
        via: str,
        consume: Callable[[], None] | None = None,
    ) -> None:
        """The user chose ``new_code`` after a passed recovery (``via``: ``"email"``).
        The code is checked first (:class:`~securebox_auth.errors.WeakCode` uses nothing);
        then ``consume`` uses up the recovery (the single-use step: it raises when another
        request used it first); then the code is replaced under a guard on the account and
        the code (:class:`~securebox_auth.errors.ConcurrentUpdate` if either changed
        meanwhile) and every session ends."""
        codes = self.box.codes
        now = self.box.clock.now()
        previous, guards = self._credential(principal)
        credential, event = reset.chosen_code(
            previous, principal, new_code, now=now, hasher=codes.hasher, rules=codes.rules,
            via=via,
        )  # fmt: skip
        if consume is not None:
            consume()
        changes, events = self._put(principal, credential, (event,))
        self.box.store.commit([*guards, *changes], events)
        self.box.end_all(principal)

    def issue_code(self, principal: Principal, *, via: str) -> OneTimeCode:
        """A new one-time code after a passed recovery (``via``: ``"card"``), to send to
        the user's registered mobile; every session ends."""
        codes = self.box.codes

        def attempt(now: datetime) -> tuple[list[Change], list[AuditEvent], OneTimeCode]:
            previous, guards = self._credential(principal)
            code, credential, events = reset.one_time_code(
                previous, principal, now=now, hasher=codes.hasher, rules=codes.rules, via=via
            )
            changes, audit = self._put(principal, credential, events)
            return [*guards, *changes], audit, code

        code = commit_retrying(self.box.store, self.box.clock, attempt, what="code")
        self.box.end_all(principal)
        return code

    # -- secret questions (a policy option) ----------------------------------------------

    def _require_questions(self) -> None:
        if not self.box.policy.recovery.secret_questions:
            raise NotPermitted("secret questions are not allowed by the policy")

    def set_answers(self, principal: Principal, name: str, answers: Mapping[str, object]) -> None:
        """Store the hashes of the user's answers and of their name (normalised)."""
        self._require_questions()
        hasher = self.box.codes.hasher
        hashed = qa.hash_answers(principal, answers, hasher)
        document = {
            "name": hasher.hash(principal, "name\n" + qa.normalise_answer(name)),
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

    def questions_of(self, principal: Principal) -> tuple[str, ...]:
        """The question ids the user set (the same fixed list for anyone else)."""
        found = self.box.store.get_factor_state(principal, SECRET_ANSWERS, _ITEM)
        stored = found.value.get("answers") if found else None
        return tuple(sorted(stored)) if isinstance(stored, dict) else ()

    def check_answers(
        self, principal: Principal, name: object, given: Mapping[str, object],
        questions: Sequence[str],
    ) -> bool:  # fmt: skip
        """The name and every answer right; the same argon2 work for anyone (unknown users
        and wrong names are compared against hashes nobody knows)."""
        self._require_questions()
        hasher = self.box.codes.hasher
        found = self.box.store.get_factor_state(principal, SECRET_ANSWERS, _ITEM)
        document = found.value if found else {}
        stored_name = document.get("name")
        stored_answers = document.get("answers")
        material = "name\n" + qa.normalise_answer(name if isinstance(name, str) else "-")
        if isinstance(stored_name, str):
            name_ok = hasher.verify(stored_name, principal, material)
        else:
            name_ok = hasher.verify_dummy(principal, material)
        stored = (
            qa.SecretAnswers({str(k): str(v) for k, v in stored_answers.items()})
            if isinstance(stored_answers, dict)
            else None
        )
        answers_ok = qa.verify_answers(principal, stored, given, hasher, questions)
        return name_ok and answers_ok
