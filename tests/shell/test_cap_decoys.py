"""Decoy CAP challenges in the shell (:class:`securebox_auth.shell.cap.CapService`): a
principal without the card (an unknown user, a user without a card) costs the same store
work as the card holder, challenge and wrong answer alike: the same reads, one commit of
the same shape (the guard, the challenge row, the audit event; then the lockout and the
spent challenge), so neither the answer nor its time tells who holds a card. The decoy
rows stay bounded and out of reach of every read of the claimed principal (ADR 0010)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Final

import pytest

from securebox_auth import PROFILE_TESTING, DerivedKeys, FixedClock, Operator, Securebox
from securebox_auth.audit import AuditEvent
from securebox_auth.emv.profiles import TerminalInput
from securebox_auth.entitlements.accounts import Role
from securebox_auth.factors.cap_decoy import DECOY_OWNER
from securebox_auth.shell.cap import CHALLENGE_LIFETIME, CapService
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.protocols import AuthStore, Change, PutFactorState
from securebox_auth.stores.sql.purge import purge_spent
from securebox_auth.stores.sql.store import SqlStore
from tests.cards.capworld import CapWorld, make_world
from tests.shell.counting import CountingStore
from tests.shell.portal import MASTER, T0, Phone, portal_policy, user

WRONG: Final = "69204718"
#: card holder, account without a card, no account
CLAIMS: Final = {"holder": user(1), "no card": user(2), "unknown": user(9)}
#: how many decoys the purge test issues (SECUREBOX_CAP_DECOYS)
DECOYS: Final = int(os.environ.get("SECUREBOX_CAP_DECOYS", "40"))

Shape = tuple[tuple[str, ...], tuple[str, ...]]


class ShapeStore(CountingStore):
    """A counting store that also keeps, per commit, what it changed (the change types, a
    factor change by its kind) and the audit actions: the commit's shape."""

    def __init__(self, inner: AuthStore) -> None:
        super().__init__(inner)
        self.shapes: list[Shape] = []

    def commit(self, changes: Sequence[Change], events: Sequence[AuditEvent]) -> None:
        kinds = tuple(
            f"put:{c.kind}" if isinstance(c, PutFactorState) else type(c).__name__ for c in changes
        )
        self.shapes.append((kinds, tuple(e.action for e in events)))
        super().commit(changes, events)


@pytest.fixture
def world() -> CapWorld:
    return make_world("uk")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def counted(
    shell_store: AuthStore, world: CapWorld, clock: FixedClock
) -> tuple[ShapeStore, CapService]:
    box = Securebox.from_policy(
        portal_policy(), store=shell_store, keys=DerivedKeys.from_hex(MASTER),
        clock=clock, gateways={"sms": Phone()}, argon2=PROFILE_TESTING,
        cap_issuer=world.issuer,
    )  # fmt: skip
    operator = Operator("back-office")
    box.codes.create_subscription(operator, CLAIMS["holder"])
    box.codes.create_account(operator, CLAIMS["no card"], Role.USER)
    record = world.record
    box.factors.put_state(
        CLAIMS["holder"], fc.CAP_CARD, record.card_id, fc.cap_card_to_dict(record)
    )
    store = ShapeStore(shell_store)
    return store, CapService(store, world.issuer, clock=box.clock)


def _shape(shape: Shape) -> Shape:
    """A commit's shape with the factor kinds of a challenge row made one (a real
    challenge's row and a decoy's are the same size, in different places)."""
    kinds, actions = shape
    same = tuple(
        "put:challenge" if k in {"put:cap_challenge", "put:cap_decoy"} else k for k in kinds
    )
    return same, actions


def test_a_decoy_costs_the_same_reads_and_commits_as_a_card(
    counted: tuple[ShapeStore, CapService], world: CapWorld
) -> None:
    """ASVS 5.0 6.3.8 (no enumeration, by timing): for the holder, a user without a card
    and an unknown user, a Respond challenge and two wrong answers to it each make the
    same reads and exactly one commit of the same shape (the second answer: the challenge
    is spent, nothing but the counted failure)."""
    store, cap = counted
    card_id = world.record.card_id
    seen: dict[str, list[tuple[Counter[str], int, Shape]]] = {}
    for label, who in CLAIMS.items():
        card = card_id if label == "holder" else "no-card"
        steps = []
        before = store.commits
        issued, reads = store.counted_reads(lambda: cap.issue_challenge(who, card))  # noqa: B023
        steps.append((reads, store.commits - before, _shape(store.shapes[-1])))
        for _ in range(2):
            before = store.commits
            result, reads = store.counted_reads(
                lambda: cap.verify(who, card, WRONG, challenge_id=issued.challenge_id)  # noqa: B023
            )
            assert not result.ok
            steps.append((reads, store.commits - before, _shape(store.shapes[-1])))
        seen[label] = steps
    assert [count for _, count, _ in seen["holder"]] == [1, 1, 1]
    assert seen["holder"][0][2] == (("Expect", "put:challenge"), ("cap.challenge",))
    assert seen["holder"][1][2][0] == ("Expect", "PutLockout", "put:challenge")
    assert seen["holder"][2][2][0] == ("Expect", "PutLockout")
    for label in ("no card", "unknown"):
        assert seen[label] == seen["holder"], label


def test_a_decoy_is_out_of_reach_and_purged_once_expired(
    counted: tuple[ShapeStore, CapService], clock: FixedClock
) -> None:
    """ASVS 5.0 6.3.8 with bounded storage (ADR 0010): decoys are stored under the decoy
    owner only (no challenge of the claimed principal appears), the right digits typed
    for a decoy are still refused, and on SQL the purge job deletes every decoy once
    expired (:data:`DECOYS` of them), so invented principals leave nothing behind."""
    store, cap = counted
    who = CLAIMS["unknown"]
    for _ in range(DECOYS):
        last = cap.issue_challenge(who, "no-card")
    assert list(store.factor_states(who, fc.CAP_CHALLENGE)) == []
    assert list(store.factor_states(CLAIMS["no card"], fc.CAP_CHALLENGE)) == []
    assert len(list(store.factor_states(DECOY_OWNER, fc.CAP_DECOY))) == DECOYS
    refused = cap.verify(who, "no-card", last.value, challenge_id=last.challenge_id)
    assert not refused.ok
    assert refused.reason == "unknown_card"
    inner = store.inner
    if not isinstance(inner, SqlStore):
        return
    clock.advance(CHALLENGE_LIFETIME + timedelta(seconds=1))
    purged = purge_spent(inner.engine, now=clock.now(), idle_timeout=timedelta(hours=1))
    assert purged.one_time >= DECOYS
    assert list(store.factor_states(DECOY_OWNER, fc.CAP_DECOY)) == []


def test_a_decoy_challenge_is_never_a_real_one(
    counted: tuple[ShapeStore, CapService], world: CapWorld
) -> None:
    """ASVS 5.0 6.3.8 and RTS art. 4: a decoy's id, answered by the card holder with a
    code of the card over the decoy's digits, is refused (no challenge of the holder has
    that id) and counted."""
    store, cap = counted
    decoy = cap.issue_challenge(CLAIMS["no card"], world.record.card_id)
    code = world.code(TerminalInput.respond(decoy.value))
    holder = CLAIMS["holder"]
    result = cap.verify(holder, world.record.card_id, code, challenge_id=decoy.challenge_id)
    assert not result.ok
    assert store.get_lockout(holder).value.failures == 1
