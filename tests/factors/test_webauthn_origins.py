"""WebAuthn Level 3, sections 7.1 and 7.2: ``crossOrigin`` and ``topOrigin`` are refused
unless the relying party allows embedding by that top-level origin, on both engines and on
registration; and the checks fido2 leaves to its caller (backup flags, user handle)."""

from __future__ import annotations

import hashlib
import json
import struct
from typing import Any, Literal

import pytest

from securebox_auth.errors import ConfigurationError
from securebox_auth.factors.outcome import Outcome
from securebox_auth.factors.webauthn import (
    AuthenticationVerdict,
    PasskeyFailure,
    PasskeySet,
    RelyingParty,
    begin_authentication,
    begin_registration,
    finish_authentication,
    finish_registration,
)
from securebox_auth.factors.webauthn_fast import b64url_decode, b64url_encode
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutRules, LockoutState
from securebox_auth.testing.authenticator import SoftAuthenticator
from tests.support import NOW

P = Principal.parse("123456789", "01")
ORIGIN = "https://bank.example"
AGGREGATOR = "https://aggregator.example"
PLAIN = RelyingParty(id="bank.example", name="Bank", origins=frozenset({ORIGIN}))
EMBEDDED = RelyingParty(
    id="bank.example",
    name="Bank",
    origins=frozenset({ORIGIN}),
    top_origins=frozenset({AGGREGATOR}),
)
Engine = Literal["fast", "fido2"]
ENGINES: list[Engine] = ["fast", "fido2"]


def _register(rp: RelyingParty, auth: SoftAuthenticator, **answer: Any) -> Any:
    options, ceremony, owned = begin_registration(
        rp, P, None, now=NOW, user_name="u", display_name="d"
    )
    return finish_registration(rp, ceremony, owned, P, auth.create(options, **answer), now=NOW)


def _login(
    rp: RelyingParty, auth: SoftAuthenticator, passkeys: PasskeySet, engine: Engine, **answer: Any
) -> AuthenticationVerdict:
    options, ceremony = begin_authentication(rp, P, passkeys, now=NOW)
    return finish_authentication(
        rp,
        ceremony,
        passkeys,
        LockoutState(),
        P,
        auth.get(options, **answer),
        now=NOW,
        lockout_rules=LockoutRules(),
        engine=engine,
    )


REFUSED_EVERYWHERE: list[tuple[str, dict[str, object], PasskeyFailure]] = [
    ("cross origin", {"crossOrigin": True}, PasskeyFailure.CROSS_ORIGIN),
    (
        "cross origin, foreign top",
        {"crossOrigin": True, "topOrigin": "https://evil.example"},
        PasskeyFailure.CROSS_ORIGIN,
    ),
    ("top origin alone", {"topOrigin": AGGREGATOR}, PasskeyFailure.CROSS_ORIGIN),
    ("cross origin as text", {"crossOrigin": "true"}, PasskeyFailure.CROSS_ORIGIN),
    ("cross origin null", {"crossOrigin": None}, PasskeyFailure.CROSS_ORIGIN),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("name", "extra", "reason"), REFUSED_EVERYWHERE, ids=[c[0] for c in REFUSED_EVERYWHERE]
)
def test_cross_origin_assertions_are_refused_without_an_allow_list(
    engine: Engine, name: str, extra: dict[str, object], reason: PasskeyFailure
) -> None:
    auth = SoftAuthenticator()
    passkeys = _register(PLAIN, auth).passkeys
    verdict = _login(PLAIN, auth, passkeys, engine, client_extra=extra)
    assert verdict.outcome is Outcome.REJECTED, name
    assert verdict.reason is reason
    assert verdict.lockout.failures == 1


EMBEDDED_CASES: list[tuple[str, dict[str, object], PasskeyFailure | None]] = [
    ("allowed top origin", {"crossOrigin": True, "topOrigin": AGGREGATOR}, None),
    ("same origin", {}, None),
    (
        "foreign top origin",
        {"crossOrigin": True, "topOrigin": "https://evil.example"},
        PasskeyFailure.WRONG_TOP_ORIGIN,
    ),
    ("no top origin sent", {"crossOrigin": True}, PasskeyFailure.WRONG_TOP_ORIGIN),
    (
        "top origin as a list",
        {"crossOrigin": True, "topOrigin": [AGGREGATOR]},
        PasskeyFailure.WRONG_TOP_ORIGIN,
    ),
    ("top origin without cross origin", {"topOrigin": AGGREGATOR}, PasskeyFailure.CROSS_ORIGIN),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("name", "extra", "reason"), EMBEDDED_CASES, ids=[c[0] for c in EMBEDDED_CASES]
)
def test_an_allow_list_of_top_origins_admits_only_those(
    engine: Engine, name: str, extra: dict[str, object], reason: PasskeyFailure | None
) -> None:
    auth = SoftAuthenticator()
    passkeys = _register(EMBEDDED, auth).passkeys
    verdict = _login(EMBEDDED, auth, passkeys, engine, client_extra=extra)
    assert verdict.reason is reason, name
    assert verdict.ok is (reason is None)


@pytest.mark.parametrize(
    ("rp", "extra", "reason"),
    [
        (PLAIN, {"crossOrigin": True}, PasskeyFailure.CROSS_ORIGIN),
        (PLAIN, {"crossOrigin": True, "topOrigin": AGGREGATOR}, PasskeyFailure.CROSS_ORIGIN),
        (PLAIN, {"topOrigin": AGGREGATOR}, PasskeyFailure.CROSS_ORIGIN),
        (
            EMBEDDED,
            {"crossOrigin": True, "topOrigin": "https://evil.example"},
            PasskeyFailure.WRONG_TOP_ORIGIN,
        ),
        (EMBEDDED, {"crossOrigin": True, "topOrigin": AGGREGATOR}, None),
    ],
)
def test_registration_checks_cross_origin_too(
    rp: RelyingParty, extra: dict[str, object], reason: PasskeyFailure | None
) -> None:
    verdict = _register(rp, SoftAuthenticator(), client_extra=extra)
    assert verdict.reason is reason
    assert verdict.ok is (reason is None)
    assert (verdict.passkey is None) is (reason is not None)


def _signed(auth: SoftAuthenticator, response: dict[str, Any], flags: int) -> dict[str, Any]:
    """``response`` with other authenticator flags, signed again by ``auth``."""
    copy: dict[str, Any] = json.loads(json.dumps(response))
    inner = copy["response"]
    client = inner["clientDataJSON"]
    auth_data = hashlib.sha256(b"bank.example").digest() + struct.pack(">BI", flags, 7)
    message = auth_data + hashlib.sha256(b64url_decode(client)).digest()
    inner["authenticatorData"] = b64url_encode(auth_data)
    inner["signature"] = b64url_encode(auth.sign(message))
    return copy


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("flags", "ok"),
    [(0x05 | 0x10, False), (0x05 | 0x18, True), (0x05 | 0x08, True), (0x05, False)],
)
def test_backed_up_without_backup_eligibility_is_refused(
    engine: Engine, flags: int, ok: bool
) -> None:
    auth = SoftAuthenticator()
    passkeys = _register(PLAIN, auth).passkeys
    options, ceremony = begin_authentication(PLAIN, P, passkeys, now=NOW)
    response = _signed(auth, auth.get(options), flags)
    verdict = finish_authentication(
        PLAIN,
        ceremony,
        passkeys,
        LockoutState(),
        P,
        response,
        now=NOW,
        lockout_rules=LockoutRules(),
        engine=engine,
    )
    # the credential was registered backup eligible (BE): an assertion without BE is not
    # from it (WebAuthn Level 3 section 7.2), nor is BS without BE from any authenticator
    assert verdict.ok is ok
    if not ok:
        assert verdict.reason is PasskeyFailure.BAD_FLAGS


@pytest.mark.parametrize("engine", ENGINES)
def test_a_user_handle_must_name_the_owner(engine: Engine) -> None:
    auth = SoftAuthenticator()
    passkeys = _register(PLAIN, auth).passkeys
    for handle, ok in ((b"\x00" * 32, False), (b"", False), (passkeys.user_handle, True)):
        options, ceremony = begin_authentication(PLAIN, P, passkeys, now=NOW)
        response = auth.get(options)
        response["response"]["userHandle"] = b64url_encode(handle)
        verdict = finish_authentication(
            PLAIN,
            ceremony,
            passkeys,
            LockoutState(),
            P,
            response,
            now=NOW,
            lockout_rules=LockoutRules(),
            engine=engine,
        )
        assert verdict.ok is ok, handle
        if not ok:
            assert verdict.reason is PasskeyFailure.UNKNOWN_USER_HANDLE


@pytest.mark.parametrize(
    "top",
    [["http://aggregator.example"], ["https://aggregator.example/path"], ["aggregator"], [7]],
)
def test_top_origins_are_validated(top: list[Any]) -> None:
    with pytest.raises(ConfigurationError):
        RelyingParty(
            id="bank.example", name="Bank", origins=frozenset({ORIGIN}), top_origins=frozenset(top)
        )
