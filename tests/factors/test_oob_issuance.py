"""FactorService.issue_oob: the throttles and the challenge are committed under
compare-and-swap, and the message reaches the gateway only after that commit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import pytest

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import Argon2CodeHasher
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.entitlements.accounts import Account, AccountStatus, Role
from securebox_auth.errors import ConcurrentUpdate
from securebox_auth.factors.oob import (
    Channel,
    IssueResult,
    OobMessage,
    OobRules,
    destination_key,
    keyed_destination_key,
)
from securebox_auth.identity import Principal
from securebox_auth.shell.base import USER_SENDS
from securebox_auth.shell.factors import FactorService
from securebox_auth.shell.gateways import DeliveryFailed, FileOutbox, Gateway
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import Change, PutAccount
from tests.support import NOW

P = Principal.parse("123456789", "01")
OTHER = Principal.parse("123456789", "02")
PHONE = "+33 6 12 34 56 78"


class RacingStore(MemoryStore):
    """Runs ``before`` once, just before the next commit: another request winning the race."""

    def __init__(self) -> None:
        super().__init__()
        self.before: list[Callable[[], object]] = []
        self.fail_commits = 0

    def commit(self, changes: Sequence[Change], events: Sequence[AuditEvent]) -> None:
        while self.before:
            self.before.pop()()
        if self.fail_commits:
            self.fail_commits -= 1
            raise ConcurrentUpdate("lost")
        super().commit(changes, events)


@dataclass
class Recorder:
    """A gateway that records what it was given, and what the store held at that moment."""

    store: MemoryStore
    sent: list[tuple[OobMessage, bool]] = field(default_factory=list)
    fail: bool = False

    def send(self, message: OobMessage) -> None:
        stored = self.store.get_factor_state(P, fc.OOB, message.reference) is not None
        self.sent.append((message, stored))
        if self.fail:
            raise DeliveryFailed("down")


S = TypeVar("S", bound=MemoryStore)


def _store(store: S, *principals: Principal, active: bool = True) -> S:
    status = AccountStatus.ACTIVE if active else AccountStatus.DISABLED
    accounts = [Account(p, Role.USER, NOW, status=status) for p in principals]
    store.commit([PutAccount(a.principal, 0, a) for a in accounts], [])
    return store


def _service(
    store: MemoryStore,
    hasher: Argon2CodeHasher,
    keyring: StaticKeyring,
    rules: OobRules | None = None,
    at: timedelta = timedelta(0),
) -> FactorService:
    return FactorService(
        store, clock=FixedClock(NOW + at), hasher=hasher, keys=keyring, oob_rules=rules
    )


def _issue(
    service: FactorService,
    gateway: Gateway,
    principal: Principal = P,
    destination: str = PHONE,
    code: str | None = None,
) -> IssueResult:
    return service.issue_oob(
        principal,
        channel=Channel.SMS,
        destination=destination,
        purpose="login",
        reference="attempt-1",
        gateway=gateway,
        code=code,
    )


def test_a_code_is_stored_then_sent_and_verifies(
    hasher: Argon2CodeHasher, keyring: StaticKeyring, tmp_path: Path
) -> None:
    store = _store(MemoryStore(), P)
    outbox = FileOutbox(tmp_path / "outbox.jsonl")
    issued = _issue(_service(store, hasher, keyring), outbox)
    assert issued.ok
    assert issued.challenge is not None
    assert issued.code is not None
    (sent,) = outbox.messages()
    assert sent["reference"] == issued.challenge.id
    assert issued.code.reveal() in sent["body"]
    stored = store.get_factor_state(P, fc.OOB, issued.challenge.id)
    assert stored is not None
    assert fc.oob_challenge_from_dict(stored.value) == issued.challenge
    user_log = store.get_factor_state(P, fc.OOB_SENDS, USER_SENDS)
    item = keyed_destination_key(keyring, Channel.SMS, "+336 1234 5678")
    target_log = store.get_factor_state(P, fc.OOB_SENDS, item)
    assert user_log is not None
    assert target_log is not None
    assert fc.send_log_from_dict(user_log.value).sent == (NOW,)
    assert fc.send_log_from_dict(target_log.value).sent == (NOW,)
    # the stored key is keyed: neither the number nor its plain hash appears
    assert destination_key(Channel.SMS, PHONE) not in item
    assert "612345678" not in item
    later = _service(store, hasher, keyring, at=timedelta(seconds=20))
    result = later.verify_oob(
        P, issued.challenge.id, issued.code.reveal(), purpose="login", reference="attempt-1"
    )
    assert result.ok
    events = [(s.event.action, s.event.outcome) for s in store.audit_log()]
    assert events == [("oob.issue", "success"), ("login.sms_code", "success")]


def test_the_throttles_refuse_without_sending(
    hasher: Argon2CodeHasher, keyring: StaticKeyring, tmp_path: Path
) -> None:
    store = _store(MemoryStore(), P)
    outbox = FileOutbox(tmp_path / "outbox.jsonl")
    rules = OobRules(per_user=2, per_destination=5, min_interval=timedelta(seconds=30))
    assert _issue(_service(store, hasher, keyring, rules), outbox).ok
    too_soon = _issue(_service(store, hasher, keyring, rules, timedelta(seconds=10)), outbox)
    assert too_soon.reason == "too_soon"
    assert too_soon.retry_after == NOW + timedelta(seconds=30)
    assert _issue(_service(store, hasher, keyring, rules, timedelta(minutes=1)), outbox).ok
    third = _issue(_service(store, hasher, keyring, rules, timedelta(minutes=2)), outbox)
    assert third.reason == "throttled_user"
    assert third.challenge is None
    assert len(outbox.messages()) == 2
    assert len(store.factor_states(P, fc.OOB)) == 2
    refused = [s.event for s in store.audit_log() if s.event.outcome == "refused"]
    assert [dict(e.details)["reason"] for e in refused] == ["too_soon", "throttled_user"]
    # the window slides: an hour after the first code, one more is allowed
    assert _issue(_service(store, hasher, keyring, rules, timedelta(minutes=60)), outbox).ok


def test_the_destination_log_is_kept_per_destination(
    hasher: Argon2CodeHasher, keyring: StaticKeyring, tmp_path: Path
) -> None:
    store = _store(MemoryStore(), P)
    outbox = FileOutbox(tmp_path / "outbox.jsonl")
    rules = OobRules(per_user=10, per_destination=1, min_interval=timedelta(0))
    assert _issue(_service(store, hasher, keyring, rules), outbox).ok
    again = _issue(_service(store, hasher, keyring, rules, timedelta(minutes=1)), outbox)
    assert again.reason == "throttled_destination"
    other_number = _service(store, hasher, keyring, rules, timedelta(minutes=2))
    assert _issue(other_number, outbox, destination="+33 7 00 00 00 01").ok
    assert len(outbox.messages()) == 2


def test_a_lost_race_is_retried_and_sends_once(
    hasher: Argon2CodeHasher, keyring: StaticKeyring
) -> None:
    store = _store(RacingStore(), P)
    recorder = Recorder(store)
    service = _service(store, hasher, keyring, OobRules(min_interval=timedelta(0)))
    store.fail_commits = 2
    issued = _issue(service, recorder)
    assert issued.ok
    assert issued.challenge is not None
    assert [(m.reference, held) for m, held in recorder.sent] == [(issued.challenge.id, True)]
    # a concurrent issuance commits first: the retry counts both sends, each sent once
    store.before.append(lambda: _issue(service, recorder))
    second = _issue(service, recorder)
    assert second.ok
    assert all(held for _, held in recorder.sent)
    assert len(recorder.sent) == 3
    user_log = store.get_factor_state(P, fc.OOB_SENDS, USER_SENDS)
    assert user_log is not None
    assert len(fc.send_log_from_dict(user_log.value).sent) == 3


def test_nothing_is_sent_when_the_commit_fails(
    hasher: Argon2CodeHasher, keyring: StaticKeyring
) -> None:
    store = _store(RacingStore(), P)
    recorder = Recorder(store)
    store.fail_commits = 1000
    with pytest.raises(ConcurrentUpdate):
        _issue(_service(store, hasher, keyring), recorder)
    assert recorder.sent == []
    assert store.factor_states(P, fc.OOB) == []


def test_a_delivery_failure_keeps_the_code_counted(
    hasher: Argon2CodeHasher, keyring: StaticKeyring
) -> None:
    store = _store(MemoryStore(), P)
    recorder = Recorder(store, fail=True)
    with pytest.raises(DeliveryFailed):
        _issue(_service(store, hasher, keyring), recorder)
    assert len(recorder.sent) == 1
    assert len(store.factor_states(P, fc.OOB)) == 1


def _shape(result: IssueResult) -> tuple[object, ...]:
    """What a caller can see of an answer, without the values that are random anyway."""
    challenge, message = result.challenge, result.message
    return (
        type(result),
        result.ok,
        result.reason,
        result.retry_after,
        None if challenge is None else (challenge.channel, challenge.purpose, challenge.expires_at),
        None if challenge is None else (len(challenge.id), challenge.consumed_at),
        None if message is None else (message.channel, message.destination, message.subject),
        None if message is None else len(message.body),
        None if result.code is None else len(result.code.reveal()),
        len(result.user_log.sent),
        len(result.destination_log.sent),
    )


def test_an_inactive_or_missing_account_gets_the_same_answer(
    hasher: Argon2CodeHasher, keyring: StaticKeyring
) -> None:
    """No existence oracle (ASVS 5.0 6.3.8): a missing (OTHER) or disabled (P, in the second
    store) account is answered like an active one, with the same work stored; nothing is
    sent and the code never verifies."""
    unknown = Principal.parse("123456789", "03")
    store = _store(MemoryStore(), P)
    _store(store, OTHER, active=False)
    recorder = Recorder(store)
    rules = OobRules(per_user=5, min_interval=timedelta(seconds=30))
    answers = {
        p: _issue(_service(store, hasher, keyring, rules), recorder, p) for p in (P, OTHER, unknown)
    }
    assert _shape(answers[OTHER]) == _shape(answers[P]) == _shape(answers[unknown])
    assert answers[P].ok
    assert [m.reference for m, _ in recorder.sent] == [answers[P].challenge.id]  # type: ignore[union-attr]
    for principal in (OTHER, unknown):
        assert len(store.factor_states(principal, fc.OOB)) == 1
        assert len(store.factor_states(principal, fc.OOB_SENDS)) == 2
    # throttled alike
    again = {
        p: _issue(_service(store, hasher, keyring, rules, timedelta(seconds=10)), recorder, p)
        for p in (P, OTHER, unknown)
    }
    assert _shape(again[OTHER]) == _shape(again[P]) == _shape(again[unknown])
    assert again[P].reason == "too_soon"
    # the stored code of a missing account never verifies
    issued = answers[unknown]
    assert issued.challenge is not None
    assert issued.code is not None
    later = _service(store, hasher, keyring, rules, timedelta(seconds=20))
    result = later.verify_oob(
        unknown, issued.challenge.id, issued.code.reveal(), purpose="login", reference="attempt-1"
    )
    assert not result.ok
    # only the audit tells
    issues = [s.event for s in store.audit_log() if s.event.action == "oob.issue"]
    outcomes = [(e.subject, e.outcome, dict(e.details).get("reason")) for e in issues[:3]]
    assert outcomes == [
        (P.key, "success", None),
        (OTHER.key, "refused", "inactive"),
        (unknown.key, "refused", "inactive"),
    ]
