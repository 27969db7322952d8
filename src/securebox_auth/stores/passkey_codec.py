"""Passkeys and WebAuthn ceremonies to and from stored documents (re-exported from
:mod:`securebox_auth.stores.factor_codecs`, which describes the format)."""

from __future__ import annotations

from typing import Any

from securebox_auth.factors.passkeys import Ceremony, CeremonyKind, Passkey, PasskeySet
from securebox_auth.stores.codec_base import (
    FORMAT,
    Doc,
    hex_from_or_none,
    hex_or_none,
    integer_from,
    read_document,
    time_from,
    time_from_or_none,
    time_text,
    time_text_or_none,
)

__all__ = ["ceremony_from_dict", "ceremony_to_dict", "passkeys_from_dict", "passkeys_to_dict"]


# -- passkeys and WebAuthn ceremonies --------------------------------------------------------


def _passkey(p: Passkey) -> dict[str, Any]:
    return {
        "credential_id": p.credential_id.hex(),
        "public_key": p.public_key.hex(),
        "algorithm": p.algorithm,
        "name": p.name,
        "created_at": time_text(p.created_at),
        "sign_count": p.sign_count,
        "user_verified": p.user_verified,
        "backup_eligible": p.backup_eligible,
        "aaguid": p.aaguid,
        "attestation": p.attestation,
        "last_used_at": time_text_or_none(p.last_used_at),
        "revoked_at": time_text_or_none(p.revoked_at),
        "suspended_at": time_text_or_none(p.suspended_at),
    }


def _passkey_from(d: Doc) -> Passkey:
    return Passkey(
        credential_id=bytes.fromhex(d["credential_id"]),
        public_key=bytes.fromhex(d["public_key"]),
        algorithm=integer_from(d["algorithm"]),
        name=str(d["name"]),
        created_at=time_from(d["created_at"]),
        sign_count=integer_from(d["sign_count"]),
        user_verified=bool(d["user_verified"]),
        backup_eligible=bool(d["backup_eligible"]),
        aaguid=str(d["aaguid"]),
        attestation=str(d["attestation"]),
        last_used_at=time_from_or_none(d["last_used_at"]),
        revoked_at=time_from_or_none(d["revoked_at"]),
        suspended_at=time_from_or_none(d["suspended_at"]),
    )


def passkeys_to_dict(passkeys: PasskeySet) -> dict[str, Any]:
    return {
        "v": FORMAT,
        "user_handle": passkeys.user_handle.hex(),
        "passkeys": [_passkey(p) for p in passkeys.passkeys],
    }


def passkeys_from_dict(doc: Doc) -> PasskeySet:
    return read_document(
        "passkey set",
        doc,
        lambda d: PasskeySet(
            bytes.fromhex(d["user_handle"]), tuple(_passkey_from(p) for p in d["passkeys"])
        ),
    )


def ceremony_to_dict(ceremony: Ceremony) -> dict[str, Any]:
    return {
        "v": FORMAT,
        "id": ceremony.id,
        "kind": ceremony.kind.value,
        "principal": ceremony.principal,
        "challenge": ceremony.challenge.hex(),
        "require_uv": ceremony.require_uv,
        "issued_at": time_text(ceremony.issued_at),
        "expires_at": time_text(ceremony.expires_at),
        "path": ceremony.path,
        "operation": ceremony.operation,
        "digest": ceremony.digest,
        "nonce": hex_or_none(ceremony.nonce),
        "consumed_at": time_text_or_none(ceremony.consumed_at),
    }


def ceremony_from_dict(doc: Doc) -> Ceremony:
    return read_document(
        "WebAuthn ceremony",
        doc,
        lambda d: Ceremony(
            id=str(d["id"]),
            kind=CeremonyKind(d["kind"]),
            principal=str(d["principal"]),
            challenge=bytes.fromhex(d["challenge"]),
            require_uv=bool(d["require_uv"]),
            issued_at=time_from(d["issued_at"]),
            expires_at=time_from(d["expires_at"]),
            path=str(d["path"]),
            operation=None if d["operation"] is None else str(d["operation"]),
            digest=None if d["digest"] is None else str(d["digest"]),
            nonce=hex_from_or_none(d["nonce"]),
            consumed_at=time_from_or_none(d["consumed_at"]),
        ),
    )
