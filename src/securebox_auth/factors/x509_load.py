"""Loading X.509 certificates so that bad input raises only :class:`MalformedInput`.

``cryptography`` parses a certificate's fields lazily: a certificate that loads can still
raise ``InvalidVersion``, ``ValueError``, ``KeyError`` or ``UnsupportedAlgorithm`` when its
version, names, key or extensions are first read (found by fuzzing). :func:`load_certificate`
reads them all at once, inside one narrow ``try``.

``cryptography`` also loads, with a ``CryptographyDeprecationWarning``, certificates that a
future release will refuse (a serial number that is zero or negative, forbidden by RFC 5280
section 4.1.2.2; found by fuzzing): they are refused now, as malformed.
"""

from __future__ import annotations

import warnings
from typing import Final

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.utils import CryptographyDeprecationWarning

from securebox_auth.errors import MalformedInput

__all__ = ["UNREADABLE", "decode_fields", "load_certificate"]

#: What ``cryptography`` raises on a certificate it cannot read, at load time or lazily when
#: a field is first used: caught only around ``cryptography``'s parsers and their fields.
UNREADABLE: Final = (
    ValueError,
    KeyError,  # a name attribute with an unknown string type
    TypeError,  # a name attribute of a type its OID does not allow (a BIT STRING)
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
    UnsupportedAlgorithm,
)


def load_certificate(data: bytes | str) -> x509.Certificate:
    """A certificate from PEM (text or bytes) or DER bytes; raise :class:`MalformedInput`
    unless every field securebox reads (version, names, validity, public key, signature
    algorithm, extensions) can be decoded, so that no later use of it raises."""
    raw = data.encode("ascii", "replace") if isinstance(data, str) else data
    if not isinstance(raw, bytes | bytearray):
        raise MalformedInput("a certificate is PEM text or DER bytes")
    raw = bytes(raw)
    try:
        with warnings.catch_warnings():
            # what a future cryptography refuses is refused now (the explicit serial check
            # below keeps the rule if another thread restores the filters meanwhile)
            warnings.simplefilter("error", CryptographyDeprecationWarning)
            if b"-----BEGIN CERTIFICATE-----" in raw:
                cert = x509.load_pem_x509_certificate(raw)
            else:
                cert = x509.load_der_x509_certificate(raw)
            decode_fields(cert)
    except (*UNREADABLE, CryptographyDeprecationWarning):
        raise MalformedInput("unreadable certificate") from None
    if cert.serial_number <= 0:
        raise MalformedInput("unreadable certificate")
    return cert


def decode_fields(cert: x509.Certificate) -> None:
    """Decode every field securebox reads; ``cryptography`` parses some only when first
    used, so an unreadable one raises here (one of :data:`UNREADABLE`) rather than later."""
    _ = (cert.version, cert.serial_number, cert.not_valid_before_utc, cert.not_valid_after_utc)
    _ = (cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(), cert.extensions)
    _ = (cert.public_key(), cert.signature_algorithm_oid, cert.signature_hash_algorithm)
