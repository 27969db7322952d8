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
    "CREDENTIALS",
    "ERASED_WITH_ACCOUNT",
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

#: What a person enrolled or proved they hold: while any of it is stored under a user
#: number, the number is not given to another person (``EntitlementService.add_user``
#: raises ``AccountExists``): the new holder would log in with the previous one's
#: authenticator, or be sent codes at the previous one's phone.
CREDENTIALS: Final = (
    TOTP, RECOVERY, PASSKEYS, CAP_CARD, CERTIFICATE, OOB_DESTINATION, SECRET_ANSWERS
)  # fmt: skip
#: What ``EntitlementService.remove_user`` erases in the removal's own commit: the
#: credentials, the record of the last strong authentication per channel and the send
#: counters of the one-time codes (NIST SP 800-63B §6.4: the binding of a subscriber's
#: authenticators is revoked when they are no longer eligible; GDPR art. 5(1)(c): nothing
#: kept that no one may use). The audit trail keeps the record of what was bound.
ERASED_WITH_ACCOUNT: Final = (*CREDENTIALS, RENEWAL, OOB_SENDS)
