"""The API's keys, derived from the deployment's master keyring so that every worker process
(and every restart) signs and seals with the same ones.

* **Assertion signing keys** (:func:`token_keys`): one Ed25519 key per master key id,
  ``HKDF-SHA256(master key, salt="securebox-server token keys v1", info=id)`` as the RFC 8032
  private seed. The ``kid`` is ``a-<master id>`` (the current master key signs; the older
  ones stay published in the JWKS until their master key is retired, so tokens in flight
  keep verifying across a rotation). Before this, ``Securebox.from_policy`` drew a fresh
  pair per process: with several workers the JWKS changed from one request to the next.
* **Flow ids** (:class:`FlowSealer`): the library's flow handle names the principal
  (``L:<client>:<user>:<id>``); the API never shows it. A flow id is the handle sealed with
  AES-256-GCM under a key of its own purpose (random 96-bit nonce, the flow kind as
  associated data): not guessable, the same shape for every principal, and tampering or a
  key from another deployment reads as "no such flow".
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass, field
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from joserfc.jwk import OKPKey

from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.errors import FlowExpired
from securebox_auth.tokens.assertions import TokenKeys

__all__ = ["FlowSealer", "derive", "token_keys"]

_SALT: Final = b"securebox-server api keys v1"
_NONCE: Final = 12
#: A sealed handle is at most this long (a handle is at most 256 characters).
_MAX_ID: Final = 512


def derive(master: bytes, label: str) -> bytes:
    """32 bytes of ``label``'s own purpose from one master key (HKDF-SHA256, RFC 5869)."""
    info = b"securebox-server/" + label.encode("ascii")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=info).derive(master)


def _signing_key(master: bytes, kid: str) -> OKPKey:
    seed = derive(master, "token-key")
    raw = base64.urlsafe_b64encode(seed).rstrip(b"=").decode("ascii")
    private = OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "d": raw, "x": _public(seed)})
    document = dict(private.as_dict(private=True))
    document.update({"kid": kid, "alg": "EdDSA", "use": "sig"})
    return OKPKey.import_key(document)


def _public(seed: bytes) -> str:
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def token_keys(master: StaticKeyring) -> TokenKeys:
    """The assertion keys of ``master`` (every master key id; the current one signs)."""
    ids = [master.current, *sorted(k for k in master.keys if k != master.current)][:8]
    keys = tuple(_signing_key(master.keys[i], f"a-{i}") for i in ids)
    return TokenKeys(keys, f"a-{master.current}")


@dataclass(frozen=True, slots=True)
class FlowSealer:
    """Seals a flow handle into an opaque id, and opens it again."""

    key: bytes = field(repr=False)

    @classmethod
    def of(cls, master: StaticKeyring) -> FlowSealer:
        return cls(derive(master.keys[master.current], "flow-id"))

    def seal(self, kind: str, handle: str) -> str:
        nonce = secrets.token_bytes(_NONCE)
        sealed = AESGCM(self.key).encrypt(nonce, handle.encode("utf-8"), kind.encode("ascii"))
        return base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")

    def open(self, kind: str, flow_id: str) -> str:
        """The handle behind ``flow_id``; anything else is :class:`FlowExpired`."""
        if not 0 < len(flow_id) <= _MAX_ID:
            raise FlowExpired("no such flow: start again")
        try:
            raw = base64.urlsafe_b64decode(flow_id + "=" * (-len(flow_id) % 4))
            plain = AESGCM(self.key).decrypt(raw[:_NONCE], raw[_NONCE:], kind.encode("ascii"))
            return plain.decode("utf-8")
        except (binascii.Error, ValueError, InvalidTag, UnicodeDecodeError):
            raise FlowExpired("no such flow: start again") from None
