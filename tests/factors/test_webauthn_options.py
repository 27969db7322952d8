"""``request_options`` gives what python-fido2's ``authenticate_begin`` gives (the mapping
and its JSON), over generated challenges, allow-lists, requirements and timeouts; and
``begin_authentication`` sends it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fido2.server import Fido2Server
from fido2.webauthn import (
    PublicKeyCredentialDescriptor,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialType,
    UserVerificationRequirement,
)
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.errors import ConfigurationError
from securebox_auth.factors.passkeys import PasskeySet, RelyingParty, decoy_credential_ids
from securebox_auth.factors.webauthn import begin_authentication
from securebox_auth.factors.webauthn_options import MIN_CHALLENGE, request_options
from securebox_auth.identity import Principal

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
RP = RelyingParty(id="bank.example", name="Bank", origins=frozenset({"https://bank.example"}))
RP_IDS = st.sampled_from(["bank.example", "login.bank.example", "localhost"])
IDS = st.lists(st.binary(min_size=1, max_size=80), max_size=6)
REQUIREMENTS = st.sampled_from(list(UserVerificationRequirement))
TIMEOUTS = st.none() | st.integers(min_value=1, max_value=600_000)


def _fido2(
    rp_id: str, challenge: bytes, ids: list[bytes], uv: UserVerificationRequirement,
    timeout: int | None,
) -> dict[str, Any]:  # fmt: skip
    server = Fido2Server(PublicKeyCredentialRpEntity(name="Bank", id=rp_id))
    server.timeout = timeout  # type: ignore[assignment]  # fido2 annotates it as None
    allowed = [
        PublicKeyCredentialDescriptor(type=PublicKeyCredentialType.PUBLIC_KEY, id=i) for i in ids
    ]
    options, _ = server.authenticate_begin(allowed, user_verification=uv, challenge=challenge)
    return dict(options)


@given(
    rp_id=RP_IDS, challenge=st.binary(min_size=MIN_CHALLENGE, max_size=64), ids=IDS,
    uv=REQUIREMENTS, timeout=TIMEOUTS,
)  # fmt: skip
def test_the_options_are_fido2s(
    rp_id: str, challenge: bytes, ids: list[bytes], uv: UserVerificationRequirement,
    timeout: int | None,
) -> None:  # fmt: skip
    ours = request_options(
        rp_id=rp_id, challenge=challenge, credential_ids=ids, user_verification=uv,
        timeout=timeout,
    )  # fmt: skip
    theirs = _fido2(rp_id, challenge, ids, uv, timeout)
    assert ours == theirs
    assert list(ours["publicKey"]) == list(theirs["publicKey"])  # the same keys, in order
    assert json.dumps(ours) == json.dumps(theirs)
    for entry in ours["publicKey"]["allowCredentials"]:
        assert type(entry["type"]) is PublicKeyCredentialType
    assert type(ours["publicKey"]["userVerification"]) is UserVerificationRequirement


@pytest.mark.parametrize("challenge", [b"", b"x" * (MIN_CHALLENGE - 1), "x" * 32, None])
def test_a_short_or_untyped_challenge_is_refused(challenge: object) -> None:
    with pytest.raises(ConfigurationError):
        request_options(
            rp_id="bank.example",
            challenge=challenge,  # type: ignore[arg-type]
            credential_ids=[],
            user_verification=UserVerificationRequirement.REQUIRED,
        )


@pytest.mark.parametrize("decoys", [False, True])
def test_begin_authentication_sends_fido2s_options(decoys: bool) -> None:
    """Through ``begin_authentication``, for a principal without passkeys: the mapping fido2
    gives for the same challenge, with the decoy ids as the allow-list when asked for, else
    an empty one."""
    keys = StaticKeyring.generate()
    principal = Principal.parse("123456", "01")
    options, ceremony = begin_authentication(
        RP, principal, PasskeySet.new(), now=NOW, decoys=keys if decoys else None
    )
    ids = list(decoy_credential_ids(keys, RP.id, principal.key)) if decoys else []
    uv = UserVerificationRequirement.REQUIRED
    assert options == _fido2(RP.id, ceremony.challenge, ids, uv, None)
    assert bool(options["publicKey"]["allowCredentials"]) is decoys
