"""audit.py: events and the keyed hash chain."""

from __future__ import annotations

import itertools
import json
import re
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from securebox_auth.audit import (
    GENESIS,
    AuditChainBroken,
    AuditEvent,
    SealedEvent,
    seal,
    verify_chain,
)
from securebox_auth.clock import FixedClock
from securebox_auth.entitlements.accounts import Role
from securebox_auth.errors import InvalidTime, MalformedInput, WeakCode
from securebox_auth.factors.code import CodeOutcome
from securebox_auth.identity import Principal
from securebox_auth.shell.audit_chains import verify_audit_chains
from securebox_auth.shell.code import ConfidentialCodeService
from tests.support import BACK_OFFICE, CLIENT, NOW, STRONG_CODES, WRONG_CODE, CountingStore

KEY = b"\x42" * 32


def _event(n: int, outcome: str = "failure") -> AuditEvent:
    return AuditEvent.make(
        NOW + timedelta(seconds=n),
        "login.code",
        actor=f"{CLIENT}:01",
        subject=f"{CLIENT}:01",
        outcome=outcome,
        details={"reason": "wrong_code", "failures": str(n)},
    )


def _chain(length: int = 6, key: bytes = KEY) -> list[SealedEvent]:
    chain: list[SealedEvent] = []
    for n in range(1, length + 1):
        chain.append(seal(key, chain[-1] if chain else None, _event(n)))
    return chain


# -- events --------------------------------------------------------------------------------


def test_canonical_form_is_stable_json() -> None:
    event = AuditEvent.make(
        datetime(2026, 3, 2, 10, 30, tzinfo=timezone(timedelta(hours=1))),
        "code.change",
        actor="a",
        subject="s",
        outcome="success",
        details={"z": "1", "a": "2"},
    )
    assert event.at == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert event.details == (("a", "2"), ("z", "1"))
    body = json.loads(event.canonical())
    assert body == {
        "at": "2026-03-02T09:30:00.000000+00:00",
        "action": "code.change",
        "actor": "a",
        "subject": "s",
        "outcome": "success",
        "details": [["a", "2"], ["z", "1"]],
    }
    assert event.canonical() == replace(event).canonical()


@pytest.mark.parametrize(
    "key",
    ["code", "CODE", "pin", "Password", "secret", "otp", "new_code", "one-time-code", "old_PIN"],
)
def test_events_refuse_secret_looking_details(key: str) -> None:
    with pytest.raises(MalformedInput):
        AuditEvent.make(NOW, "x", actor="a", subject="s", outcome="o", details={key: "1"})


@pytest.mark.parametrize("key", ["reason", "failures", "codename_free", "encoder", "pinned"])
def test_details_that_only_contain_the_letters_are_fine(key: str) -> None:
    AuditEvent.make(NOW, "x", actor="a", subject="s", outcome="o", details={key: "1"})


def test_event_detail_values_are_text() -> None:
    with pytest.raises(MalformedInput):
        AuditEvent(NOW, "x", "a", "s", "o", (("failures", 1),))  # type: ignore[arg-type]


def test_event_time_must_be_aware() -> None:
    with pytest.raises(InvalidTime):
        AuditEvent.make(NOW.replace(tzinfo=None), "x", actor="a", subject="s", outcome="o")


# -- the chain -----------------------------------------------------------------------------


def test_a_clean_chain_verifies() -> None:
    chain = _chain()
    assert [s.sequence for s in chain] == [1, 2, 3, 4, 5, 6]
    assert chain[0].previous == GENESIS
    assert all(b.previous == a.mac for a, b in itertools.pairwise(chain))
    assert verify_chain(KEY, chain) == 6
    assert verify_chain(KEY, chain, expected_head=chain[-1].mac) == 6
    assert verify_chain(KEY, iter(chain)) == 6


def test_an_empty_chain_verifies_against_genesis() -> None:
    assert verify_chain(KEY, []) == 0
    assert verify_chain(KEY, [], expected_head=GENESIS) == 0
    with pytest.raises(AuditChainBroken):
        verify_chain(KEY, [], expected_head=_chain(1)[0].mac)


def test_mac_is_hidden_from_repr() -> None:
    sealed = _chain(1)[0]
    assert sealed.mac not in repr(sealed)


@pytest.mark.parametrize("index", [0, 2, 5])
@pytest.mark.parametrize(
    "edit",
    [
        {"outcome": "success"},
        {"actor": "987654321:01"},
        {"action": "login.other"},
        {"details": (("failures", "0"), ("reason", "wrong_code"))},
        {"at": NOW + timedelta(days=1)},
    ],
)
def test_an_edited_event_is_detected(index: int, edit: dict[str, object]) -> None:
    chain = _chain()
    chain[index] = replace(chain[index], event=replace(chain[index].event, **edit))  # type: ignore[arg-type]
    with pytest.raises(AuditChainBroken) as exc:
        verify_chain(KEY, chain)
    assert exc.value.sequence == index + 1


@pytest.mark.parametrize("index", [0, 2, 4])
def test_a_deleted_event_is_detected(index: int) -> None:
    chain = _chain()
    del chain[index]
    with pytest.raises(AuditChainBroken):
        verify_chain(KEY, chain)


def test_a_deleted_event_cannot_be_hidden_by_renumbering() -> None:
    chain = _chain()
    del chain[2]
    # renumber and relink what follows, as an attacker without the key can
    fixed = chain[:2]
    for sealed in chain[2:]:
        fixed.append(replace(sealed, sequence=fixed[-1].sequence + 1, previous=fixed[-1].mac))
    with pytest.raises(AuditChainBroken) as exc:
        verify_chain(KEY, fixed)
    assert exc.value.sequence == 3


@pytest.mark.parametrize("index", [0, 3, 6])
def test_an_inserted_event_is_detected(index: int) -> None:
    chain = _chain()
    previous = chain[index - 1] if index else None
    forged = seal(secrets.token_bytes(32), previous, _event(99, "success"))
    chain.insert(index, forged)
    with pytest.raises(AuditChainBroken) as exc:
        verify_chain(KEY, chain)
    assert exc.value.sequence == index + 1


def test_reordered_events_are_detected() -> None:
    chain = _chain()
    chain[1], chain[2] = chain[2], chain[1]
    with pytest.raises(AuditChainBroken):
        verify_chain(KEY, chain)


def test_the_wrong_key_is_detected() -> None:
    with pytest.raises(AuditChainBroken) as exc:
        verify_chain(b"\x43" * 32, _chain())
    assert exc.value.sequence == 1


def test_a_truncated_tail_is_detected_with_the_expected_head() -> None:
    chain = _chain()
    head = chain[-1].mac
    truncated = chain[:-2]
    assert verify_chain(KEY, truncated) == 4  # undetectable without a remembered head
    with pytest.raises(AuditChainBroken, match="expected head"):
        verify_chain(KEY, truncated, expected_head=head)


# -- a real flow ---------------------------------------------------------------------------


def test_no_event_of_a_real_login_flow_contains_a_code(
    service: ConfidentialCodeService, store: CountingStore, clock: FixedClock
) -> None:
    alice = Principal.parse(CLIENT, "01")
    codes: set[str] = {WRONG_CODE, *STRONG_CODES[:3]}

    one_time = service.create_account(BACK_OFFICE, alice, Role.USER)
    codes.add(one_time.reveal())
    assert service.login(CLIENT, "01", one_time.reveal()).outcome is CodeOutcome.CHANGE_REQUIRED
    with pytest.raises(WeakCode):
        service.change_code(CLIENT, "01", one_time.reveal(), "12345678")
    assert service.change_code(CLIENT, "01", one_time.reveal(), STRONG_CODES[0]).changed
    assert service.login(CLIENT, "01", STRONG_CODES[0]).authenticated
    with pytest.raises(WeakCode):  # reuse of the current code
        service.change_code(CLIENT, "01", STRONG_CODES[0], STRONG_CODES[0])
    assert service.change_code(CLIENT, "01", STRONG_CODES[0], STRONG_CODES[1]).changed
    for _ in range(6):
        service.login(CLIENT, "01", WRONG_CODE)
    service.login("987654321", "01", STRONG_CODES[2])  # nobody
    clock.advance(timedelta(hours=1))
    again = service.regenerate_code(BACK_OFFICE, alice)
    codes.add(again.reveal())
    service.login(CLIENT, "01", again.reveal())

    sealed = list(store.audit_log())
    assert len(sealed) > 15
    assert verify_audit_chains(store.audit_key, store).total == len(sealed)
    actions = {s.event.action for s in sealed}
    assert {
        "account.create",
        "code.issue",
        "login.code",
        "code.change",
        "lockout.blocked",
        "lockout.unblock",
    } <= actions
    digit_runs = set()
    for s in sealed:
        text = s.event.canonical().decode()
        digit_runs.update(re.findall(r"[0-9]+", text))
        for code in codes:
            assert code not in text
    # sanity of the search itself: identifiers do show up in the digits found
    assert CLIENT in digit_runs
