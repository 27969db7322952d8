"""stores/factor_codecs.py: every factor state survives a trip through a JSON document, and
through every store (as a PutFactorState)."""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import math
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.errors import MalformedInput, SecureboxError
from securebox_auth.factors.cap_card import CapCard
from securebox_auth.factors.cap_request import CapChallenge
from securebox_auth.factors.certificate import CertChallenge, CertCredential
from securebox_auth.factors.oob import Channel, OobChallenge, SendLog
from securebox_auth.factors.passkeys import Ceremony, CeremonyKind, Passkey, PasskeySet
from securebox_auth.factors.recovery import RecoveryCode, RecoverySet
from securebox_auth.factors.totp import TotpCredential
from securebox_auth.identity import Principal
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.protocols import AuthStore, PutFactorState, Versioned
from securebox_auth.testing.pki import TestPki
from tests.cards.capworld import make_world

T = TypeVar("T")
ALICE = Principal.parse("123456789", "01")
_WRAP = StaticKeyring.generate("w1")
_CARD = make_world().record
_PKI = TestPki(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
_LEAVES = (_PKI.issue("alice").der, _PKI.issue("bob").der)
_CERT_DOC = {
    "v": 1,
    "subject": "s",
    "fingerprint": "f",
    "intermediates": [],
    "enrolled_at": "2026-03-02T09:30:00+00:00",
}

zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=2)), timezone(-timedelta(hours=5, minutes=30))]
)
times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=zones
)
maybe_times = st.none() | times
text = st.text(max_size=40)
maybe_text = st.none() | text
blobs = st.binary(min_size=1, max_size=80)


def _totp_from_dict(document: Any) -> TotpCredential:
    return fc.totp_from_dict(document, keys=_WRAP, principal=ALICE, item="default")


def _round_trip(value: T, to_dict: Callable[[T], dict[str, Any]], from_dict: Callable[..., T]) -> T:
    document = json.loads(json.dumps(to_dict(value), allow_nan=False))
    back = from_dict(document)
    assert back == value
    assert to_dict(back) == document  # also the exact offsets and the format number
    return back


totps = st.builds(
    TotpCredential,
    secret=st.binary(min_size=20, max_size=64).map(
        lambda b: base64.b32encode(b).decode().rstrip("=")
    ),
    created_at=times,
    algorithm=st.sampled_from(["SHA1", "SHA256", "SHA512"]),
    digits=st.integers(6, 8),
    period=st.integers(15, 60),
    confirmed_at=maybe_times,
    last_step=st.none() | st.integers(0, 2**40),
)
oobs = st.builds(
    OobChallenge,
    id=text,
    principal=text,
    channel=st.sampled_from(list(Channel)),
    purpose=text,
    reference=text,
    digest=maybe_text,
    code_hash=text,
    issued_at=times,
    expires_at=times,
    wrong=st.integers(0, 10),
    consumed_at=maybe_times,
)
send_logs = st.lists(times, max_size=6).map(lambda ts: SendLog(tuple(ts)))
recoveries = st.builds(
    RecoverySet,
    codes=st.lists(st.builds(RecoveryCode, text, text, maybe_times), max_size=12).map(tuple),
    created_at=times,
    hint_key=text,
)
passkeys = st.builds(
    Passkey,
    credential_id=blobs,
    public_key=blobs,
    algorithm=st.integers(-300, 300),
    name=text,
    created_at=times,
    sign_count=st.integers(0, 2**32 - 1),
    user_verified=st.booleans(),
    backup_eligible=st.booleans(),
    aaguid=text,
    attestation=text,
    last_used_at=maybe_times,
    revoked_at=maybe_times,
    suspended_at=maybe_times,
)
passkey_sets = st.builds(PasskeySet, blobs, st.lists(passkeys, max_size=4).map(tuple))
ceremonies = st.builds(
    Ceremony,
    id=text,
    kind=st.sampled_from(list(CeremonyKind)),
    principal=text,
    challenge=blobs,
    require_uv=st.booleans(),
    issued_at=times,
    expires_at=times,
    path=text,
    operation=maybe_text,
    digest=maybe_text,
    nonce=st.none() | blobs,
    consumed_at=maybe_times,
)
cap_cards = st.builds(
    lambda atc, used: replace(_CARD, last_atc=atc, last_used_at=used),
    st.none() | st.integers(0, 0xFFFF),
    maybe_times,
)
cap_challenges = st.builds(
    CapChallenge,
    challenge_id=text,
    subject=text,
    card_id=text,
    value=st.from_regex(r"[0-9]{8}", fullmatch=True),
    purpose=text,
    digest=maybe_text,
    issued_at=times,
    expires_at=times,
    used_at=maybe_times,
)
cert_credentials = st.builds(
    CertCredential,
    subject=text,
    fingerprint=text,
    der=st.sampled_from(_LEAVES),
    intermediates=st.sampled_from([(), (_PKI.intermediate.der,)]),
    enrolled_at=times,
)
cert_challenges = st.builds(
    CertChallenge,
    challenge_id=text,
    client_id=text,
    user_number=text,
    nonce=st.binary(min_size=32, max_size=32),
    purpose=text,
    digest=maybe_text,
    audience=text,
    issued_at=times,
    expires_at=times,
    used_at=maybe_times,
)


@given(totps)
def test_totp_credentials(value: TotpCredential) -> None:
    """The seed is wrapped with a fresh nonce each time: everything else is as written."""
    written = fc.totp_to_dict(value, keys=_WRAP, principal=ALICE, item="default")
    document = json.loads(json.dumps(written, allow_nan=False))
    back = _totp_from_dict(document)
    assert back == value
    again = fc.totp_to_dict(back, keys=_WRAP, principal=ALICE, item="default")
    assert again["seed"]["sealed"] != document["seed"]["sealed"]
    assert {**again, "seed": None} == {**document, "seed": None}


@given(oobs)
def test_oob_challenges(value: OobChallenge) -> None:
    _round_trip(value, fc.oob_challenge_to_dict, fc.oob_challenge_from_dict)


@given(send_logs)
def test_send_logs(value: SendLog) -> None:
    _round_trip(value, fc.send_log_to_dict, fc.send_log_from_dict)


@given(recoveries)
def test_recovery_sets(value: RecoverySet) -> None:
    _round_trip(value, fc.recovery_to_dict, fc.recovery_from_dict)


@given(passkey_sets)
def test_passkey_sets(value: PasskeySet) -> None:
    _round_trip(value, fc.passkeys_to_dict, fc.passkeys_from_dict)


@given(ceremonies)
def test_webauthn_ceremonies(value: Ceremony) -> None:
    _round_trip(value, fc.ceremony_to_dict, fc.ceremony_from_dict)


@given(cap_cards)
def test_cap_cards(value: CapCard) -> None:
    back = _round_trip(value, fc.cap_card_to_dict, fc.cap_card_from_dict)
    assert back.prepared() == value.prepared()


@given(cap_challenges)
def test_cap_challenges(value: CapChallenge) -> None:
    _round_trip(value, fc.cap_challenge_to_dict, fc.cap_challenge_from_dict)


@given(cert_credentials)
def test_certificate_credentials(value: CertCredential) -> None:
    back = _round_trip(value, fc.cert_credential_to_dict, fc.cert_credential_from_dict)
    assert back.certificate == value.certificate
    assert back.chain == value.chain
    document = fc.cert_credential_to_dict(value)
    assert base64.b64decode(document["der"]) == value.der


@given(cert_challenges)
def test_certificate_challenges(value: CertChallenge) -> None:
    back = _round_trip(value, fc.cert_challenge_to_dict, fc.cert_challenge_from_dict)
    assert back.payload() == value.payload()


@given(times)
def test_the_renewal_clock(value: datetime) -> None:
    _round_trip(value, fc.renewal_to_dict, fc.renewal_from_dict)


_EDGES = [math.inf, -math.inf, 1e308, 2**70, -(2**70), -1, 0.5, True, "", "x", [], {}]
json_values = st.sampled_from(_EDGES) | st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
Path = tuple[str | int, ...]


def _paths(node: Any, here: Path = ()) -> list[Path]:
    """Every place in a JSON document: the keys of its objects, the items of its lists."""
    inner = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    found: list[Path] = []
    for key, value in inner:
        found += [(*here, key), *_paths(value, (*here, key))]
    return found


def _alter(data: st.DataObject, document: Any) -> Any:
    """The stored document with one to three of its places, at any depth, given another JSON
    value (infinities and huge integers first among them) or removed."""
    altered = copy.deepcopy(document)
    for path in data.draw(st.lists(st.sampled_from(_paths(document)), min_size=1, max_size=3)):
        parent = altered
        try:
            for step in path[:-1]:
                parent = parent[step]
            if data.draw(st.booleans()):
                parent[path[-1]] = data.draw(json_values)
            elif isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent.pop(path[-1])
        except (KeyError, IndexError, TypeError, AttributeError):
            continue  # an earlier change removed or replaced this place
    return altered


_CODECS: list[tuple[st.SearchStrategy[Any], Callable[[Any], Any], Callable[[Any], Any]]] = [
    (
        totps,
        lambda v: fc.totp_to_dict(v, keys=_WRAP, principal=ALICE, item="default"),
        _totp_from_dict,
    ),
    (oobs, fc.oob_challenge_to_dict, fc.oob_challenge_from_dict),
    (send_logs, fc.send_log_to_dict, fc.send_log_from_dict),
    (recoveries, fc.recovery_to_dict, fc.recovery_from_dict),
    (passkey_sets, fc.passkeys_to_dict, fc.passkeys_from_dict),
    (ceremonies, fc.ceremony_to_dict, fc.ceremony_from_dict),
    (cap_cards, fc.cap_card_to_dict, fc.cap_card_from_dict),
    (cap_challenges, fc.cap_challenge_to_dict, fc.cap_challenge_from_dict),
    (cert_credentials, fc.cert_credential_to_dict, fc.cert_credential_from_dict),
    (cert_challenges, fc.cert_challenge_to_dict, fc.cert_challenge_from_dict),
    (times, fc.renewal_to_dict, fc.renewal_from_dict),
]


@pytest.mark.parametrize(
    ("values", "to_dict", "from_dict"), _CODECS, ids=[c[2].__name__ for c in _CODECS]
)
@given(data=st.data())
def test_altered_documents_read_back_or_raise_malformed_input(
    values: st.SearchStrategy[Any],
    to_dict: Callable[[Any], Any],
    from_dict: Callable[[Any], Any],
    data: st.DataObject,
) -> None:
    """A stored document edited in the database (any field, any depth, any JSON value) reads
    back or raises one of the project's errors (MalformedInput; for a TOTP seed also
    UnknownKey or SealedSecretInvalid): never OverflowError, KeyError, TypeError..."""
    written = json.loads(json.dumps(to_dict(data.draw(values)), allow_nan=False))
    altered = _alter(data, written)
    with contextlib.suppress(SecureboxError):
        from_dict(altered)


@pytest.mark.parametrize(
    ("from_dict", "document"),
    [
        (_totp_from_dict, {}),
        (_totp_from_dict, {"v": 2}),
        (_totp_from_dict, {"v": 3}),
        (_totp_from_dict, {"v": 1, "secret": "x"}),
        (_totp_from_dict, {"v": 2, "seed": {"alg": "A256GCM", "kid": "w1", "sealed": "!"}}),
        (fc.oob_challenge_from_dict, {"v": 1, "channel": "pigeon"}),
        (fc.passkeys_from_dict, {"v": 1, "user_handle": "zz", "passkeys": []}),
        (fc.cap_card_from_dict, {"v": 1, "card": {}}),
        (fc.renewal_from_dict, {"v": 1, "last_sca": 12}),
        (fc.recovery_from_dict, []),
        (fc.cert_credential_from_dict, {**_CERT_DOC, "der": "not base64!"}),
        (fc.cert_credential_from_dict, {**_CERT_DOC, "der": "AAAA"}),
        (fc.cert_challenge_from_dict, {"v": 1, "nonce": "00"}),
    ],
)
def test_foreign_documents_are_refused(
    from_dict: Callable[[Any], object], document: object
) -> None:
    with pytest.raises(MalformedInput):
        from_dict(document)


def test_a_factor_state_survives_every_store(contract_store: AuthStore) -> None:
    """The documents are JSON objects every store keeps as they were written."""
    store = contract_store
    challenge = CapChallenge(
        challenge_id="c1",
        subject="123456789/01",
        card_id="card-1",
        value="12345678",
        purpose="login",
        digest=None,
        issued_at=datetime(2026, 3, 2, 9, 30, tzinfo=timezone(timedelta(hours=2))),
        expires_at=datetime(2026, 3, 2, 9, 35, tzinfo=UTC),
    )
    values = [
        (fc.CAP_CARD, "card-1", fc.cap_card_to_dict(_CARD)),
        (fc.CAP_CHALLENGE, "c1", fc.cap_challenge_to_dict(challenge)),
    ]
    store.commit([PutFactorState(ALICE, k, i, 0, d) for k, i, d in values], [])
    card = store.get_factor_state(ALICE, fc.CAP_CARD, "card-1")
    assert card is not None
    assert fc.cap_card_from_dict(card.value) == _CARD
    found = store.get_factor_state(ALICE, fc.CAP_CHALLENGE, "c1")
    assert found is not None
    assert fc.cap_challenge_from_dict(found.value) == challenge
    assert found == Versioned(fc.cap_challenge_to_dict(challenge), 1)
