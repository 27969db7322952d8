"""Issuer keys: where card keys live, and the one operation verification needs from them.

A CAP verifier needs each card's master key, which is derived from an issuer master key
(IMK) and the card's PAN. Banks keep IMKs in a hardware security module (HSM) that derives
card keys inside and computes or checks cryptograms without ever releasing a key. The
:class:`IssuerKeyProvider` Protocol is that interface, and nothing more:

* :meth:`~IssuerKeyProvider.enrol_card` receives the clear PAN once, derives the card key
  and returns an opaque **key reference**, which the application stores in the card
  record. The application never keeps the PAN (only a keyed hash and the last four digits).
* :meth:`~IssuerKeyProvider.cryptogram` computes one application cryptogram with the card
  key named by a reference (derive the session key, MAC the data), as an HSM's "verify
  ARQC" command does.

An HSM plugs in by implementing these two methods (``docs/factors/cap.md`` shows how, for
instance with a key reference that is the card key wrapped under the HSM's storage key, as
payment HSMs return it).

:class:`SoftwareIssuerKeys` is the software provider. Its IMKs come from an encrypted file
(scrypt from a passphrase, then AES-256-GCM); each card key is wrapped with AES-256-GCM
under a wrapping key of the same file and *is* its key reference, so the provider keeps no
per-card state. Keys never appear in ``repr``, in exceptions or in logs.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import CipherContext
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from securebox_auth.crypto.keys import KEY_CHECK_MESSAGE
from securebox_auth.emv.derivation import SessionKeyMethod, icc_master_key, session_key_from
from securebox_auth.emv.des import ecb_encryptor
from securebox_auth.emv.mac import Padding, retail_mac
from securebox_auth.errors import ConfigurationError, MalformedInput

__all__ = ["CryptogramRequest", "IssuerKeyProvider", "SoftwareIssuerKeys"]

_FILE_FORMAT: Final = "securebox/issuer-keys/v1"
_WRAP_AAD: Final = b"securebox/cap/card-key/v1\x00"
_REF_PREFIX: Final = "v1"
_CACHE_SIZE: Final = 1024
DEFAULT_SCRYPT_N: Final = 2**15


@dataclass(frozen=True, slots=True)
class CryptogramRequest:
    """One application cryptogram to compute: the session key's inputs and the data."""

    session: SessionKeyMethod
    padding: Padding
    atc: int
    un: bytes
    data: bytes


class IssuerKeyProvider(Protocol):
    """Card keys held by the issuer (an HSM, or :class:`SoftwareIssuerKeys`)."""

    def enrol_card(self, pan: str, psn: str) -> str:
        """Derive the card master key of ``pan``/``psn`` and return an opaque reference to
        it (at most 200 printable ASCII characters). The PAN is not kept."""
        ...

    def cryptogram(self, key_ref: str, request: CryptogramRequest) -> bytes:
        """The 8-byte application cryptogram of ``request`` under the card key ``key_ref``;
        ``KeyError`` when the reference is unknown or not valid."""
        ...


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftwareIssuerKeys:
    """Issuer master keys in memory, loaded from an encrypted file. Thread-safe."""

    __slots__ = ("_cache", "_current", "_imks", "_wrap", "_wrap_key")

    def __init__(self, imks: Mapping[str, bytes], current: str, wrap_key: bytes) -> None:
        if not imks or current not in imks:
            raise ConfigurationError("the current IMK id must name one of the IMKs")
        for imk_id, imk in imks.items():
            if not imk_id.isidentifier() or not isinstance(imk, bytes) or len(imk) != 16:
                raise ConfigurationError("IMKs are 16 bytes under identifier-like ids")
        if len(wrap_key) != 32:
            raise ConfigurationError("the wrapping key has 32 bytes")
        self._imks = dict(imks)
        self._current = current
        self._wrap_key = bytes(wrap_key)
        self._wrap = AESGCM(self._wrap_key)
        self._cache = threading.local()

    @classmethod
    def generate(cls, imk_id: str = "imk1") -> SoftwareIssuerKeys:
        """Fresh random keys (demos and tests)."""
        return cls({imk_id: secrets.token_bytes(16)}, imk_id, secrets.token_bytes(32))

    # -- the encrypted file ------------------------------------------------------------

    def save(self, path: Path, passphrase: str, *, scrypt_n: int = DEFAULT_SCRYPT_N) -> None:
        """Write the keys to ``path`` (mode 0600), encrypted under ``passphrase``."""
        plain = json.dumps(
            {
                "current": self._current,
                "imks": {k: v.hex() for k, v in self._imks.items()},
                "wrap_key": self._wrap_key.hex(),
            }
        ).encode()
        salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
        key = _kdf(passphrase, salt, scrypt_n)
        body = {
            "format": _FILE_FORMAT,
            "kdf": {"name": "scrypt", "n": scrypt_n, "r": 8, "p": 1, "salt": _b64(salt)},
            "nonce": _b64(nonce),
            "ciphertext": _b64(AESGCM(key).encrypt(nonce, plain, _FILE_FORMAT.encode())),
        }
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(body, out, indent=2)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, passphrase: str) -> SoftwareIssuerKeys:
        """Open a file written by :meth:`save`."""
        try:
            body = json.loads(Path(path).read_text(encoding="utf-8"))
            if body.get("format") != _FILE_FORMAT or body["kdf"]["name"] != "scrypt":
                raise ConfigurationError("not a securebox issuer key file")
            key = _kdf(passphrase, _unb64(body["kdf"]["salt"]), int(body["kdf"]["n"]))
            plain = AESGCM(key).decrypt(
                _unb64(body["nonce"]), _unb64(body["ciphertext"]), _FILE_FORMAT.encode()
            )
            data = json.loads(plain)
            imks = {k: bytes.fromhex(v) for k, v in data["imks"].items()}
            return cls(imks, data["current"], bytes.fromhex(data["wrap_key"]))
        except InvalidTag:
            raise ConfigurationError("wrong passphrase, or a damaged issuer key file") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            problem = type(exc).__name__
            raise ConfigurationError(f"cannot read the issuer key file ({problem})") from None

    # -- the provider ------------------------------------------------------------------

    def personalisation_key(self, pan: str, psn: str, *, imk_id: str | None = None) -> bytes:
        """The card master key, clear, to personalise a card (a software card here; a real
        issuer sends it to the personalisation bureau under a transport key)."""
        return icc_master_key(self._imks[imk_id or self._current], pan, psn)

    def enrol_card(self, pan: str, psn: str) -> str:
        mk = icc_master_key(self._imks[self._current], pan, psn)
        nonce = secrets.token_bytes(12)
        sealed = self._wrap.encrypt(nonce, mk, _WRAP_AAD + self._current.encode())
        return f"{_REF_PREFIX}.{self._current}.{_b64(nonce + sealed)}"

    def _card_key(self, key_ref: str) -> tuple[bytes, CipherContext]:
        cache: OrderedDict[str, tuple[bytes, CipherContext]] | None = getattr(
            self._cache, "keys", None
        )
        if cache is None:
            cache = self._cache.keys = OrderedDict()
        hit = cache.get(key_ref)
        if hit is not None:
            cache.move_to_end(key_ref)
            return hit
        try:
            prefix, imk_id, blob = key_ref.split(".")
            raw = _unb64(blob)
            if prefix != _REF_PREFIX or imk_id not in self._imks:
                raise KeyError("unknown card key reference")
            mk = self._wrap.decrypt(raw[:12], raw[12:], _WRAP_AAD + imk_id.encode())
        except (ValueError, InvalidTag, binascii.Error, AttributeError):
            raise KeyError("unknown card key reference") from None
        entry = (mk, ecb_encryptor(mk))
        cache[key_ref] = entry
        if len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)
        return entry

    def cryptogram(self, key_ref: str, request: CryptogramRequest) -> bytes:
        mk, context = self._card_key(key_ref)
        sk = session_key_from(context, request.session, request.atc, request.un) or mk
        return retail_mac(sk, request.data, request.padding)

    def key_check_values(self) -> dict[str, bytes]:
        """The check value of the card-key wrapping key (see :func:`securebox_auth.crypto.keys.
        ensure_distinct_keys`): it must differ from every application key."""
        return {"card-key-wrapping": hmac.digest(self._wrap_key, KEY_CHECK_MESSAGE, "sha256")}

    def __repr__(self) -> str:
        return f"SoftwareIssuerKeys(imks={sorted(self._imks)!r}, current={self._current!r})"


def _kdf(passphrase: str, salt: bytes, n: int) -> bytes:
    if not isinstance(passphrase, str) or not passphrase:
        raise MalformedInput("a passphrase is needed for the issuer key file")
    if n < 2**10 or n & (n - 1):
        raise ConfigurationError("scrypt n is a power of two of at least 1024")
    return Scrypt(salt=salt, length=32, n=n, r=8, p=1).derive(passphrase.encode())
