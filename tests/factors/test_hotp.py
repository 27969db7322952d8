"""HOTP (RFC 4226) and the base32 seed decoding: RFC vectors, and equality with pyotp,
pyca/cryptography's HOTP and the standard library's base32 over generated inputs."""

from __future__ import annotations

import base64
import hashlib

import pyotp
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.twofactor.hotp import HOTP
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.errors import MalformedInput, SecureboxError
from securebox_auth.factors.hotp import HASHES, decode_seed, hotp
from tests.factors.test_totp import RFC4226, RFC6238, SHA1_KEY, SHA256_KEY, SHA512_KEY

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_CRYPTOGRAPHY: dict[str, hashes.SHA1 | hashes.SHA256 | hashes.SHA512] = {
    "SHA1": hashes.SHA1(),  # noqa: S303 - RFC 6238's default HMAC, not a signature hash
    "SHA256": hashes.SHA256(),
    "SHA512": hashes.SHA512(),
}


@pytest.mark.parametrize(("counter", "expected"), list(enumerate(RFC4226)))
def test_rfc4226_appendix_d(counter: int, expected: str) -> None:
    assert hotp(SHA1_KEY, counter) == expected


@pytest.mark.parametrize(("at", "sha1", "sha256", "sha512"), RFC6238)
def test_rfc6238_appendix_b(at: int, sha1: str, sha256: str, sha512: str) -> None:
    step = at // 30
    assert hotp(SHA1_KEY, step, digits=8, algorithm="SHA1") == sha1
    assert hotp(SHA256_KEY, step, digits=8, algorithm="SHA256") == sha256
    assert hotp(SHA512_KEY, step, digits=8, algorithm="SHA512") == sha512


@given(
    key=st.binary(min_size=16, max_size=64),
    counter=st.integers(min_value=0, max_value=2**64 - 1),
    digits=st.sampled_from([6, 7, 8]),
    algorithm=st.sampled_from(sorted(HASHES)),
)
def test_equal_to_pyotp_and_to_cryptography(
    key: bytes, counter: int, digits: int, algorithm: str
) -> None:
    ours = hotp(key, counter, digits=digits, algorithm=algorithm)
    text = base64.b32encode(key).decode()
    digest = getattr(hashlib, HASHES[algorithm])
    assert ours == pyotp.HOTP(text, digits=digits, digest=digest).at(counter)
    reference = HOTP(key, digits, _CRYPTOGRAPHY[algorithm])
    assert ours.encode() == reference.generate(counter)


@pytest.mark.parametrize(
    ("counter", "digits", "algorithm"),
    [(-1, 6, "SHA1"), (2**64, 6, "SHA1"), (0, 5, "SHA1"), (0, 9, "SHA1"), (0, 6, "MD5"),
     (0, 6, "sha1")],
)  # fmt: skip
def test_out_of_range_parameters_are_typed_errors(
    counter: int, digits: int, algorithm: str
) -> None:
    with pytest.raises(MalformedInput):
        hotp(SHA1_KEY, counter, digits=digits, algorithm=algorithm)


@given(st.binary(min_size=1, max_size=80))
def test_decode_reads_what_base32_writes(raw: bytes) -> None:
    text = base64.b32encode(raw).decode().rstrip("=")
    assert decode_seed(text) == raw


def _as_the_standard_library(text: str) -> None:
    padded = text + "=" * (-len(text) % 8)
    try:
        expected = base64.b32decode(padded)
    except ValueError:
        with pytest.raises(MalformedInput):
            decode_seed(text)
    else:
        assert decode_seed(text) == expected


@given(st.text(alphabet=ALPHABET, min_size=1, max_size=130))
def test_decode_is_the_standard_librarys_on_every_text_of_the_alphabet(text: str) -> None:
    # Any length the standard library accepts once padded (its last character's unused bits
    # dropped the same way), and a typed error for the lengths that leave a partial byte.
    _as_the_standard_library(text)


@pytest.mark.parametrize(
    "text",
    ["", "jbswy3dpehpk3pxp", "JBSWY3DP EHPK3PXP", " JBSWY3DPEHPK3PXP", "JBSWY3DP_EHPK3PXP",
     "JBSWY3DPEHPK3PX=", "JBSWY3DPEHPK3PX0", "JBSWY3DPEHPK3PX1", "JBSWY3DPEHPK3PX8",
     "JBSWY3DPEHPK3PXÉ", "JBSWY3DPEHPK3PX\u0661", "JBSWY3DPEHPK3PXPA"],
)  # fmt: skip
def test_decode_refuses_anything_but_unpadded_upper_case_base32(text: str) -> None:
    # int(text, 32) alone would take lower case, spaces, underscores and other scripts'
    # digits; the alphabet check before it must not.
    with pytest.raises(MalformedInput):
        decode_seed(text)


@given(st.one_of(st.none(), st.integers(), st.binary(), st.lists(st.text())))
def test_decode_of_a_non_text_is_a_typed_error(value: object) -> None:
    with pytest.raises(SecureboxError):
        decode_seed(value)  # type: ignore[arg-type]


@given(st.text(max_size=120))
def test_decode_of_any_text_is_base32_or_a_typed_error(text: str) -> None:
    # Whatever the text (other scripts' digits, spaces, padding, lower case): the standard
    # library's answer for unpadded upper-case base32, MalformedInput for everything else.
    if text and set(text) <= set(ALPHABET):
        _as_the_standard_library(text)
    else:
        with pytest.raises(MalformedInput):
            decode_seed(text)
