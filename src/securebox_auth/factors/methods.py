"""Authentication methods and the factor categories they prove.

PSD2 strong customer authentication (SCA) needs elements from two *independent* categories
among knowledge, possession and inherence (PSD2 art. 4(30), RTS arts. 6-9). Each
:class:`AuthMethod` declares:

* ``categories``: the categories one successful use proves (a CAP code proves the card and its
  PIN: possession + knowledge);
* ``amr``: its RFC 8176 "Authentication Method Reference" values, for tokens and audit;
* ``dynamic_linking``: whether the code it produces can be bound to an operation's amount and
  payee (RTS art. 5) - the user sees the data and the code is computed over it;
* ``phishing_resistant``: whether the proof is bound to the relying party (origin-bound
  WebAuthn, TLS client certificates), as NIST SP 800-63B-4 uses the term;
* ``counts_for_sca``: whether its categories count at all. Recovery codes do not: they are a
  way back into an account, never an element of strong authentication.

The catalogue (:data:`METHODS`) is closed: a policy naming another method is refused. The
choices for the ``amr`` values RFC 8176 does not cover exactly are explained in
``docs/policy.md`` (section "Methods").
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from securebox_auth.errors import MalformedInput

__all__ = [
    "CAP_IDENTIFY",
    "CAP_RESPOND",
    "CAP_SIGN",
    "CERTIFICATE",
    "CONFIDENTIAL_CODE",
    "EMAIL_OTP",
    "METHODS",
    "PASSKEY_NO_UV",
    "PASSKEY_UV",
    "RECOVERY_CODE",
    "SMARTCARD_PIN",
    "SMS_OTP",
    "TOTP",
    "AuthMethod",
    "FactorCategory",
    "categories_from_mask",
    "categories_of",
    "category_mask",
    "get_method",
    "is_strong",
]


class FactorCategory(enum.Enum):
    KNOWLEDGE = "knowledge"
    POSSESSION = "possession"
    INHERENCE = "inherence"


@dataclass(frozen=True, slots=True)
class AuthMethod:
    """One way to authenticate, as the policy engine sees it (the verifier lives in
    :mod:`securebox_auth.factors`)."""

    name: str
    categories: frozenset[FactorCategory]
    amr: tuple[str, ...]
    dynamic_linking: bool = False
    phishing_resistant: bool = False
    counts_for_sca: bool = True
    label: str = ""

    @property
    def counted_categories(self) -> frozenset[FactorCategory]:
        """The categories this method contributes to SCA (none for recovery codes)."""
        return self.categories if self.counts_for_sca else frozenset()

    @property
    def strong(self) -> bool:
        """True when this method alone is strong customer authentication."""
        return len(self.counted_categories) >= 2


_K = FactorCategory.KNOWLEDGE
_P = FactorCategory.POSSESSION
_I = FactorCategory.INHERENCE

#: The numeric confidential code: one knowledge factor ("simple" authentication).
CONFIDENTIAL_CODE: Final = AuthMethod(
    name="confidential_code",
    categories=frozenset({_K}),
    amr=("pwd",),
    label="confidential code",
)

#: EMV-CAP "CODE" mode (mode 1, identify): card in the reader (possession) + card PIN
#: (knowledge, checked offline by the card). A one-time code from a hardware key.
CAP_IDENTIFY: Final = AuthMethod(
    name="cap_identify",
    categories=frozenset({_P, _K}),
    amr=("hwk", "pin", "otp"),
    label="CAP reader, identify mode",
)

#: EMV-CAP challenge/response (mode 2): the same factors over a server challenge. The user
#: types an opaque number, so the code is not linked to data the user can read.
CAP_RESPOND: Final = AuthMethod(
    name="cap_respond",
    categories=frozenset({_P, _K}),
    amr=("hwk", "pin", "otp"),
    label="CAP reader, respond mode",
)

#: EMV-CAP sign mode: the user types the amount and the payee reference into the reader, and
#: the code is computed over them: dynamic linking (RTS art. 5).
CAP_SIGN: Final = AuthMethod(
    name="cap_sign",
    categories=frozenset({_P, _K}),
    amr=("hwk", "pin", "otp"),
    dynamic_linking=True,
    label="CAP reader, sign mode",
)

#: An X.509 certificate on a USB token, unlocked by its PIN; can sign the operation's data.
CERTIFICATE: Final = AuthMethod(
    name="certificate",
    categories=frozenset({_P, _K}),
    amr=("hwk", "pin"),
    dynamic_linking=True,
    phishing_resistant=True,
    label="certificate on a USB token",
)

#: A smartcard (business card, eID) with its PIN, signing through a reader.
SMARTCARD_PIN: Final = AuthMethod(
    name="smartcard_pin",
    categories=frozenset({_P, _K}),
    amr=("sc", "hwk", "pin"),
    dynamic_linking=True,
    phishing_resistant=True,
    label="smartcard with PIN",
)

#: A TOTP application or token (RFC 6238): possession of the seeded device only.
TOTP: Final = AuthMethod(
    name="totp",
    categories=frozenset({_P}),
    amr=("otp",),
    label="authenticator application (TOTP)",
)

#: A passkey with user verification. The UV flag says a PIN or a biometric was checked on the
#: authenticator, not which: it counts as one independent category beside possession, recorded
#: as inherence. ``pop`` because the server cannot tell a hardware key from a synced one.
PASSKEY_UV: Final = AuthMethod(
    name="passkey_uv",
    categories=frozenset({_P, _I}),
    amr=("pop", "user", "mfa"),
    dynamic_linking=True,
    phishing_resistant=True,
    label="passkey with user verification",
)

#: A passkey with user presence only: possession of the key.
PASSKEY_NO_UV: Final = AuthMethod(
    name="passkey_no_uv",
    categories=frozenset({_P}),
    amr=("pop", "user"),
    dynamic_linking=True,
    phishing_resistant=True,
    label="passkey without user verification",
)

#: A one-time code sent by SMS to the registered mobile number: possession of the SIM. The
#: message shows the amount and payee when it is sent for an operation.
SMS_OTP: Final = AuthMethod(
    name="sms_otp",
    categories=frozenset({_P}),
    amr=("sms",),
    dynamic_linking=True,
    label="code received by SMS",
)

#: A one-time code sent by e-mail. RFC 8176 has no e-mail value; ``mca`` (multiple-channel
#: authentication) is the one that describes it. A mailbox is reachable from any device, so
#: this is a weak possession element; the linter warns when an operation accepts it.
EMAIL_OTP: Final = AuthMethod(
    name="email_otp",
    categories=frozenset({_P}),
    amr=("mca",),
    label="code received by e-mail",
)

#: A saved recovery code (look-up secret). RFC 8176 has no look-up-secret value; it is a
#: secret the user holds, hence ``pwd``. It never counts towards SCA.
RECOVERY_CODE: Final = AuthMethod(
    name="recovery_code",
    categories=frozenset({_K}),
    amr=("pwd",),
    counts_for_sca=False,
    label="recovery code",
)

#: Every method the policy engine knows, by name.
METHODS: Final[Mapping[str, AuthMethod]] = MappingProxyType(
    {
        m.name: m
        for m in (
            CONFIDENTIAL_CODE,
            CAP_IDENTIFY,
            CAP_RESPOND,
            CAP_SIGN,
            CERTIFICATE,
            SMARTCARD_PIN,
            TOTP,
            PASSKEY_UV,
            PASSKEY_NO_UV,
            SMS_OTP,
            EMAIL_OTP,
            RECOVERY_CODE,
        )
    }
)


_BIT: Final = {
    FactorCategory.KNOWLEDGE: 1,
    FactorCategory.POSSESSION: 2,
    FactorCategory.INHERENCE: 4,
}
_MASKS: Final = {name: sum(_BIT[c] for c in m.counted_categories) for name, m in METHODS.items()}
_FROM_MASK: Final = tuple(
    frozenset(c for c, bit in _BIT.items() if mask & bit) for mask in range(8)
)


def category_mask(names: Iterable[str]) -> int:
    """The categories that the methods called ``names`` prove together, as a bit mask
    (knowledge 1, possession 2, inherence 4): the engine's fast path. Raises
    :class:`MalformedInput` for an unknown name."""
    mask = 0
    try:
        for name in names:
            mask |= _MASKS[name]
    except (KeyError, TypeError):
        raise MalformedInput("unknown authentication method") from None
    return mask


def categories_from_mask(mask: int) -> frozenset[FactorCategory]:
    """The categories of a mask from :func:`category_mask`."""
    return _FROM_MASK[mask & 7]


def get_method(name: str) -> AuthMethod:
    """The method called ``name``; raises :class:`MalformedInput` for an unknown name."""
    try:
        return METHODS[name]
    except (KeyError, TypeError):
        raise MalformedInput(f"unknown authentication method {name!r}") from None


def categories_of(methods: Iterable[AuthMethod]) -> frozenset[FactorCategory]:
    """The categories a set of methods proves together (recovery codes contribute none)."""
    found: set[FactorCategory] = set()
    for m in methods:
        found |= m.counted_categories
    return frozenset(found)


def is_strong(methods: Iterable[AuthMethod]) -> bool:
    """True when ``methods`` together prove two independent categories."""
    return len(categories_of(methods)) >= 2
