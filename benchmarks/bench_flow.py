"""The whole portal journey through the public entry point ``Securebox.from_policy``, on
memory, SQLite and PostgreSQL, against one bare argon2id verification with the same
parameters measured in the same run (interleaved round by round).

One journey (docs/tutorial.md, with a policy that asks for strong authentication at every
login): start the login flow, the confidential code (argon2id), the TOTP code, the session
opened, a signed assertion (JWT) for a downstream API, a step-up to add a payee proved with a
passkey (dynamic linking: the passkey signs over the payee), the single-use grant consumed by
``execute``. One argon2id verification per journey, as in the baseline; the client's side
(the TOTP code, the authenticator's signature) is computed inside the timed call too, and
costs ~0.1 ms.

Target: the journey's rate >= 0.9x the bare argon2id rate, printed as a time ratio <= 1/0.9.
Rounds: 7 (quick: 3), 2 journeys per round, medians.

A reference row per SQL store gives the journey's floor on that machine: one bare argon2id
verification and the journey's eight user steps written by hand on the raw driver, each a
read and one durable transaction (a chain head locked, a compare-and-swap, an HMAC-sealed
event, the head moved: ``bench_consume.Hand``), against the bare verification alone. No
store that commits each step durably (issue 13: "one commit per user step") can do better
than this ratio on the machine measured; what the journey row adds to it is ours.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Final

import argon2
from backends import LABELS, available, new_store
from bench_consume import PRINCIPAL as HAND_PRINCIPAL
from bench_consume import Hand, _sessions
from harness import Comparison, compare

from securebox_auth import (
    PROFILE_2026,
    Argon2Parameters,
    AuditEvent,
    CodeAnswer,
    DerivedKeys,
    FixedClock,
    Grant,
    OperationRequest,
    Operator,
    PasskeyAnswer,
    Principal,
    Securebox,
    TotpAnswer,
    from_toml,
    totp_code_at,
)
from securebox_auth.factors.passkeys import RelyingParty
from securebox_auth.factors.totp import TotpCredential
from securebox_auth.policy.session_ids import session_key
from securebox_auth.stores.sql.store import SqlStore
from securebox_auth.testing import SoftAuthenticator

__all__ = ["POLICY", "Journey", "bare_verifier", "portal"]

#: The tutorial's portal, strong authentication at every login, a passkey for payees.
POLICY: Final = """
version = 1
name = "bench-portal"

[renewal]
every_days = 90
every_login = true

[operation.payee_management]
methods = ["cap_sign", "passkey_uv"]
single_use = true
linking = "payee"
"""
TARGET: Final = 1 / 0.9
#: The journey's user steps, each one durable commit (start the login, the code, the TOTP
#: code, the assertion, start the step-up, the passkey's options, its proof, execute).
STEPS: Final = 8
CODE: Final = "47120938"
PAYEE: Final = OperationRequest("payee_management", payee="FR7630006000011234567890189")
RP: Final = RelyingParty(
    id="bank.example", name="Bank", origins=frozenset({"https://bank.example"})
)


def bare_verifier(params: Argon2Parameters) -> Callable[[], object]:
    """One argon2id verification with ``params`` (argon2-cffi, no pepper, no store)."""
    bare = argon2.PasswordHasher(
        time_cost=params.time_cost,
        memory_cost=params.memory_cost_kib,
        parallelism=params.parallelism,
        hash_len=params.hash_len,
        salt_len=params.salt_len,
    )
    secret = b"\x01" * 32
    encoded = bare.hash(secret)
    return lambda: bare.verify(encoded, secret)


class Journey:
    """A user of ``box``, enrolled with a code, a TOTP seed and a passkey."""

    def __init__(
        self, box: Securebox, clock: FixedClock, principal: Principal, *, passkey: bool = True
    ) -> None:
        self.box, self.clock, self.principal = box, clock, principal
        client, user = principal.client_id.value, principal.user_number.value
        self.client, self.user = client, user
        letter = box.codes.create_subscription(Operator("bench"), principal)
        enrolment = box.enrol_first_totp(Operator("bench"), principal)
        self.totp: TotpCredential = enrolment.credential
        assert box.confirm_totp(principal, totp_code_at(self.totp, clock.now()))
        self._tick()
        page = box.start_login(client, user)
        page = box.answer_login(page.handle, CodeAnswer(letter.reveal()))
        page = box.change_login_code(page.handle, letter.reveal(), CODE)
        page = box.answer_login(page.handle, TotpAnswer(totp_code_at(self.totp, clock.now())))
        assert page.session_id is not None, page.explain()
        self.authenticator = SoftAuthenticator()
        if not passkey:
            return
        options, ceremony = box.begin_passkey_registration(
            page.session_id, user_name=f"{client}-{user}", display_name="bench"
        )
        response = self.authenticator.create(options)
        assert box.finish_passkey_registration(page.session_id, ceremony, response).ok
        box.end(page.session_id)
        self._tick()

    def _tick(self) -> None:
        """The next TOTP step (a code is accepted once)."""
        self.clock.advance(timedelta(seconds=31))

    def login(self) -> str:
        """Code + TOTP: the session identifier."""
        box = self.box
        page = box.start_login(self.client, self.user)
        page = box.answer_login(page.handle, CodeAnswer(CODE))
        code = totp_code_at(self.totp, self.clock.now())
        page = box.answer_login(page.handle, TotpAnswer(code))
        assert page.session_id is not None, page.explain()
        return page.session_id

    def run(self) -> None:
        """The whole journey (one argon2id verification)."""
        box = self.box
        session_id = self.login()
        assert box.assertion(session_id, audience="payments-api")
        up = box.start_step_up(session_id, PAYEE)
        options, ceremony = box.step_up_passkey_options(session_id, up.handle)
        up = box.prove_step_up(
            session_id, up.handle, PasskeyAnswer(ceremony, self.authenticator.get(options))
        )
        assert up.ready, up.explain()
        assert up.session_id is not None
        assert box.execute(up.session_id, up.handle).executed
        self._tick()


def portal(kind: str, params: Argon2Parameters, *, audit_key: bytes) -> Securebox:
    """The entry point on a new store of ``kind``."""
    store = new_store(kind, audit_key)
    return Securebox.from_policy(
        from_toml(POLICY),
        store=store,
        keys=DerivedKeys.from_hex("m1:" + "5a" * 32),
        clock=FixedClock(),
        argon2=params,
        relying_party=RP,
    )


def run(quick: bool = False) -> list[Comparison]:
    params = PROFILE_2026
    bare = bare_verifier(params)
    rounds = 3 if quick else 7
    results = []
    for kind in available():
        box = portal(kind, params, audit_key=b"\x07" * 32)
        assert isinstance(box.clock, FixedClock)
        journey = Journey(box, box.clock, Principal.parse("123456789", "01"))
        results.append(
            compare(
                (f"portal journey via Securebox [{LABELS[kind]}]", journey.run),
                ("bare argon2id verify (same parameters)", bare),
                target=TARGET,
                rounds=rounds,
                inner=2,
            )
        )
        if isinstance(box.store, SqlStore):
            results.append(_floor(box.store, kind, bare, rounds))
    return results


def _floor(store: SqlStore, kind: str, bare: Callable[[], object], rounds: int) -> Comparison:
    """One argon2id verification and :data:`STEPS` steps by hand (a read, one durable
    transaction each), against the verification alone: the journey's floor here."""
    now = FixedClock().now()
    grant = Grant("payment.initiate", HAND_PRINCIPAL, None, now, now + timedelta(minutes=5), ())
    keys = iter([session_key(s) for s in _sessions(store, grant, STEPS * (2 * rounds + 4))])
    event = AuditEvent.make(now, "bench.step", actor="bench", subject="bench", outcome="success")
    payload = repr(event).encode()
    hand = Hand(store)

    def floor() -> None:
        bare()
        for _ in range(STEPS):
            hand.consume(next(keys), payload)

    try:
        return compare(
            (f"(reference) floor: argon2id + {STEPS} steps by hand [{LABELS[kind]}]", floor),
            ("bare argon2id verify (same parameters)", bare),
            target=float("inf"),
            rounds=rounds,
            inner=2,
        )
    finally:
        hand.close()
