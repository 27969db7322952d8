"""Passkey state: the relying party's settings, the stored credentials and ceremonies, and
their management (list, rename, revoke, reinstate after a clone alarm).

Everything stored is a frozen value with plain fields (bytes, text, integers, aware
datetimes), so a store can (de)serialise it column by column. Management functions are pure:
they return the new :class:`PasskeySet` and the audit event for the shell to commit.

The values are in :mod:`.passkey_model`, their management and the credential descriptors
in :mod:`.passkey_admin`; this module re-exports both, so every name is importable here.
"""

from __future__ import annotations

from securebox_auth.factors.passkey_admin import (
    PasskeyInfo,
    decoy_credential_ids,
    decoy_descriptors,
    descriptors,
    list_passkeys,
    reinstate_passkey,
    rename_passkey,
    revoke_passkey,
    usable_ids,
    uv_requirement,
)
from securebox_auth.factors.passkey_model import (
    Ceremony,
    CeremonyKind,
    Passkey,
    PasskeySet,
    RelyingParty,
    UnknownPasskey,
)

__all__ = [
    "Ceremony",
    "CeremonyKind",
    "Passkey",
    "PasskeyInfo",
    "PasskeySet",
    "RelyingParty",
    "UnknownPasskey",
    "decoy_credential_ids",
    "decoy_descriptors",
    "descriptors",
    "list_passkeys",
    "reinstate_passkey",
    "rename_passkey",
    "revoke_passkey",
    "usable_ids",
    "uv_requirement",
]
