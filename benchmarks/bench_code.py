"""A confidential-code login through the core service and its store, and a code-only login
flow through the entry point, on memory, SQLite and PostgreSQL, against one bare argon2id
verification with the same parameters measured in the same run (interleaved).

* core: ``ConfidentialCodeService.login`` (read the credential and the lockout state,
  verify, commit the outcome and its audit event). Target 1.05x on every store: one commit
  costs ~0.1-1 ms against ~30 ms of argon2id.
* flow: ``Securebox.start_login`` + ``answer_login`` with the code alone (a recent strong
  login lets it in): the flow record, the verdict and the session. Targets: 1.10x in
  memory, 1.35x on the SQL stores, whose durable commits each wait for the disk.

The whole journey (code, TOTP, assertion, step-up) is bench_flow's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from backends import LABELS, available, new_store
from bench_flow import POLICY, Journey, bare_verifier
from harness import Comparison, compare

from securebox_auth import (
    PROFILE_2026,
    Argon2CodeHasher,
    Argon2Parameters,
    CodeAnswer,
    ConfidentialCodeService,
    DerivedKeys,
    FixedClock,
    Operator,
    Principal,
    Role,
    Securebox,
    StaticKeyring,
    from_toml,
)

CODE = "47120938"
PRINCIPAL = Principal.parse("123456789", "01")
AUDIT_KEY = b"\x07" * 32


def _core_login(kind: str, params: Argon2Parameters) -> Callable[[], None]:
    store = new_store(kind, AUDIT_KEY)
    hasher = Argon2CodeHasher(StaticKeyring.generate(), params)
    service = ConfidentialCodeService(store, hasher, clock=FixedClock())
    one_time = service.create_account(Operator("bench"), PRINCIPAL, Role.USER)
    service.change_code("123456789", "01", one_time.reveal(), CODE)

    def login() -> None:
        assert service.login("123456789", "01", CODE).authenticated

    return login


def _flow_login(kind: str, params: Argon2Parameters) -> Callable[[], None]:
    clock = FixedClock()
    box = Securebox.from_policy(
        from_toml(POLICY.replace("every_login = true", "every_login = false")),
        store=new_store(kind, AUDIT_KEY),
        keys=DerivedKeys.from_hex("m1:" + "5a" * 32),
        clock=clock,
        argon2=params,
    )
    Journey(box, clock, PRINCIPAL, passkey=False)  # a strong login: the code alone next

    def login() -> None:
        page = box.start_login("123456789", "01")
        page = box.answer_login(page.handle, CodeAnswer(CODE))
        assert page.session_id is not None, page.explain()
        clock.advance(timedelta(seconds=1))

    return login


def run(quick: bool = False) -> list[Comparison]:
    params = PROFILE_2026
    baseline = ("bare argon2id verify (same parameters)", bare_verifier(params))
    rounds = 5 if quick else 15
    results = []
    for kind in available():
        label = LABELS[kind]
        results.append(
            compare(
                (f"code login via core [{label}]", _core_login(kind, params)),
                baseline,
                target=1.05,
                rounds=rounds,
                inner=3,
            )
        )
        results.append(
            compare(
                (f"code-only login flow via Securebox [{label}]", _flow_login(kind, params)),
                baseline,
                target=1.10 if kind == "memory" else 1.35,
                rounds=rounds,
                inner=3,
            )
        )
    return results
