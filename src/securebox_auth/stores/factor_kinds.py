"""The factor kinds a :class:`~securebox_auth.stores.protocols.PutFactorState` is stored under,
and what its ``item`` is for each.

Plain constants with no import, so code that only needs to name a kind (the entitlement
shell asking whether a previous holder left credentials behind) does not load the factors
and their codecs (:mod:`securebox_auth.stores.factor_codecs` re-exports them).
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CAP_CARD",
    "CAP_CHALLENGE",
    "CAP_DECOY",
    "CERTIFICATE",
    "CERT_CHALLENGE",
    "OOB",
    "OOB_DESTINATION",
    "OOB_SENDS",
    "PASSKEYS",
    "PASSKEY_ID",
    "RECOVERY",
    "RENEWAL",
    "SECRET_ANSWERS",
    "TOTP",
    "WEBAUTHN_CEREMONY",
]

TOTP: Final = "totp"  # item: the credential name ("default")
OOB: Final = "oob"  # item: the challenge id
OOB_SENDS: Final = "oob_sends"  # item: "user", or a destination key (oob.destination_key)
RECOVERY: Final = "recovery"  # item: "default" (a new set replaces the old one)
PASSKEYS: Final = "passkeys"  # item: "default" (the principal's PasskeySet)
WEBAUTHN_CEREMONY: Final = "webauthn_ceremony"  # item: the ceremony id
CAP_CARD: Final = "cap_card"  # item: the card id
CAP_CHALLENGE: Final = "cap_challenge"  # item: the challenge id
#: item: the decoy challenge id; only under the reserved owner of factors.cap_decoy
CAP_DECOY: Final = "cap_decoy"
CERTIFICATE: Final = "certificate"  # item: "default" (the enrolled certificate)
CERT_CHALLENGE: Final = "cert_challenge"  # item: the challenge id
RENEWAL: Final = "renewal"  # item: the channel
OOB_DESTINATION: Final = "oob_destination"  # item: a verified destination (keyed key)
PASSKEY_ID: Final = "passkey_id"  # item: the digest of a registered credential id
SECRET_ANSWERS: Final = "secret_answers"  # noqa: S105 (a kind name; item: "default")
