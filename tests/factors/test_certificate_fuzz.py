"""Fuzzing the certificate parsers: certificates (PEM, DER, forwarded by a proxy), trust
bundles, CRLs and OCSP responses. Whatever the bytes, only typed errors
(:class:`~securebox_auth.errors.SecureboxError`) come out of the public entry points."""

from __future__ import annotations

import base64
import contextlib
import warnings
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.errors import SecureboxError
from securebox_auth.factors.certificate import (
    CertCredential,
    ProxyTrust,
    Revocation,
    certificate_from_proxy,
    enrol_certificate,
)
from securebox_auth.factors.x509_trust import (
    CrlCache,
    TrustSettings,
    add_crl,
    load_certificate,
    revocation_status,
    verify_chain,
)
from securebox_auth.identity import Principal
from securebox_auth.testing.pki import TestPki
from tests.fuzzing import fuzz
from tests.support import NOW

pytestmark = pytest.mark.fuzz
P = Principal.parse("123456789", "01")
PKI = TestPki(NOW)
GOOD = PKI.issue("alice")
TRUST = TrustSettings(anchors=(PKI.root.cert,))
REVOCATION = Revocation(
    crls=add_crl(CrlCache(), PKI.crl(), PKI.intermediate.cert, now=NOW),
)
SEEDS: dict[str, bytes] = {
    "leaf": GOOD.der,
    "intermediate": PKI.intermediate.der,
    "crl": PKI.crl(),
}


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` with a few bytes flipped, set, inserted or removed, or cut short."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "set", "insert", "delete", "cut"]))
        if action == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif action == "set":
            data[i] = draw(st.sampled_from([0x00, 0x01, 0x02, 0x03, 0x05, 0x30, 0x80, 0xFF]))
        elif action == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=4))
        elif action == "delete":
            del data[i]
        else:
            del data[i:]
    return bytes(data)


def pem(der: bytes, label: str = "CERTIFICATE") -> bytes:
    body = base64.encodebytes(der).decode().replace("\n", "")
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----\n".encode()


def certificate_inputs() -> st.SearchStrategy[Any]:
    der = st.sampled_from(["leaf", "intermediate"]).flatmap(lambda k: mutated(SEEDS[k]))
    return st.one_of(
        der,
        der.map(pem),
        st.binary(max_size=300),
        st.text(max_size=300),
        st.just(GOOD.pem.decode()).map(lambda t: t.replace("A", "é", 1)),
        st.binary(max_size=40).map(pem),
        st.one_of(st.none(), st.integers(), st.lists(st.binary(max_size=4), max_size=2)),
    )


def _typed_only(call: Any, *args: Any, **kwargs: Any) -> None:
    with contextlib.suppress(SecureboxError):
        call(*args, **kwargs)


@fuzz(100)
@given(data=certificate_inputs())
def test_load_certificate_raises_only_typed_errors(data: Any) -> None:
    _typed_only(load_certificate, data)


@fuzz(100)
@given(
    data=certificate_inputs(),
    chain=st.one_of(st.just([PKI.intermediate.pem]), st.lists(certificate_inputs(), max_size=2)),
)
def test_enrolment_raises_only_typed_errors(data: Any, chain: list[Any]) -> None:
    _typed_only(
        enrol_certificate,
        P,
        data,
        intermediates=chain,
        trust=TRUST,
        revocation=REVOCATION,
        now=NOW,
    )


@fuzz(100)
@given(data=mutated(GOOD.der))
def test_a_loaded_certificate_is_usable_or_refused(data: bytes) -> None:
    """What :func:`load_certificate` accepts can be used: chain verification, the stored
    credential and revocation raise only typed errors."""
    try:
        cert = load_certificate(data)
    except SecureboxError:
        return
    try:
        identity = verify_chain(cert, [PKI.intermediate.cert], trust=TRUST, now=NOW)
        revocation_status(identity, now=NOW, crls=REVOCATION.crls)
    except SecureboxError:
        pass
    _typed_only(
        CertCredential,
        subject=P.key,
        fingerprint="0" * 64,
        der=data,
        intermediates=(PKI.intermediate.der,),
        enrolled_at=NOW,
    )


@fuzz(100)
@given(
    forwarded=st.one_of(
        certificate_inputs().filter(lambda x: isinstance(x, str)),
        mutated(GOOD.pem).map(lambda b: b.decode("latin-1")),
        st.text(alphabet="%0123456789ABCDEFabcdef-", max_size=60),
    )
)
def test_forwarded_certificates_raise_only_typed_errors(forwarded: str) -> None:
    _typed_only(
        certificate_from_proxy,
        forwarded,
        proxy_identity="proxy",
        proxy_trust=ProxyTrust(proxies=frozenset({"proxy"})),
    )


@fuzz(100)
@given(data=st.one_of(mutated(SEEDS["crl"]), st.binary(max_size=200)))
def test_crls_raise_only_typed_errors(data: bytes) -> None:
    _typed_only(add_crl, CrlCache(), data, PKI.intermediate.cert, now=NOW)


@fuzz(100)
@given(data=st.one_of(mutated(pem(GOOD.der) + pem(PKI.root.der)), st.binary(max_size=200)))
def test_trust_bundles_raise_only_typed_errors(data: bytes) -> None:
    _typed_only(TrustSettings.from_pem, data)


@pytest.mark.parametrize("version", [0x03, 0x7F])
def test_an_unknown_certificate_version_is_malformed_input(version: int) -> None:
    der = bytearray(GOOD.der)
    # tbsCertificate starts with [0] { INTEGER 2 } (v3): A0 03 02 01 02
    at = bytes(der).index(b"\xa0\x03\x02\x01\x02")
    der[at + 4] = version
    with pytest.raises(SecureboxError):
        load_certificate(bytes(der))


OCSP_LEAF = PKI.issue("ocsp")
OCSP_IDENTITY = verify_chain(OCSP_LEAF.cert, [PKI.intermediate.cert], trust=TRUST, now=NOW)


@fuzz(100)
@given(data=st.one_of(mutated(PKI.ocsp(OCSP_LEAF.cert)), st.binary(max_size=200)))
def test_ocsp_responses_raise_only_typed_errors(data: bytes) -> None:
    _typed_only(
        revocation_status,
        OCSP_IDENTITY,
        now=NOW,
        ocsp_responses={OCSP_LEAF.cert.serial_number: data},
        check=("leaf",),
    )


@pytest.mark.parametrize("tag", [0x03, 0x0D, 0x1F])
def test_a_name_attribute_of_an_unexpected_type_is_malformed_input(tag: int) -> None:
    """0x03 (BIT STRING) made cryptography raise TypeError, 0x0D KeyError (found by fuzzing)."""
    der = bytearray(GOOD.der)
    at = bytes(der).index(b"\x0c\x0eTest Client CA")
    der[at] = tag
    with pytest.raises(SecureboxError):
        load_certificate(bytes(der))


@pytest.mark.parametrize("first", [0x00, 0x80, 0xFF])
def test_a_serial_number_that_is_not_positive_is_malformed_input(first: int) -> None:
    """RFC 5280 4.1.2.2: the serial is a positive integer. cryptography loads a zero or
    negative one with a deprecation warning (an error in a future release; found by
    fuzzing): refused now, whatever the warnings filters say."""
    der = bytearray(GOOD.der)
    # after the version [0] { INTEGER 2 } comes the serial: 02 len bytes...
    at = bytes(der).index(b"\xa0\x03\x02\x01\x02") + 5
    assert der[at] == 0x02
    length = der[at + 1]
    der[at + 2 : at + 2 + length] = bytes([first]) + bytes(length - 1)
    with pytest.raises(SecureboxError):
        load_certificate(bytes(der))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(SecureboxError):
            load_certificate(bytes(der))
