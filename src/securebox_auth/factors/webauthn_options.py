"""The options of ``navigator.credentials.get`` for a login or a step-up, built without
python-fido2's objects.

:func:`request_options` gives the mapping ``dict(Fido2Server.authenticate_begin(...)[0])``
gives (fido2 2.x), key for key and value for value: the challenge and the credential ids in
base64url without padding, the credential type and the user-verification requirement as
fido2's string enums, no ``timeout`` unless the server sets one. fido2 builds four objects
on the way (the descriptors twice, the request options, their wrapper), and each runs
``typing.get_type_hints`` on its class when built: that was about 40 % of a passkey login
through the store in memory (``docs/performance.md``), for a dictionary of four keys.

``tests/factors/test_webauthn_options.py`` holds the two equal over generated challenges,
allow-lists and requirements (the mapping and its JSON).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from fido2.webauthn import PublicKeyCredentialType, UserVerificationRequirement

from securebox_auth.errors import ConfigurationError
from securebox_auth.factors.webauthn_fast import b64url_encode

__all__ = ["MIN_CHALLENGE", "request_options"]

#: fido2's shortest custom challenge (WebAuthn asks for at least 16 random bytes).
MIN_CHALLENGE: Final = 16
_PUBLIC_KEY: Final = PublicKeyCredentialType.PUBLIC_KEY


def request_options(
    *,
    rp_id: str,
    challenge: bytes,
    credential_ids: Sequence[bytes],
    user_verification: UserVerificationRequirement,
    timeout: int | None = None,
) -> dict[str, Any]:
    """``{"publicKey": {...}}`` for ``navigator.credentials.get``: ``challenge`` (16 bytes
    or more), ``rp_id``, ``credential_ids`` as ``allowCredentials`` (in order; an empty
    list is sent as one), ``user_verification``, ``timeout`` in milliseconds when given.

    Raises :class:`~securebox_auth.errors.ConfigurationError` for a challenge that is not
    bytes or is shorter than :data:`MIN_CHALLENGE` (fido2 refuses it too)."""
    if type(challenge) is not bytes or len(challenge) < MIN_CHALLENGE:
        raise ConfigurationError(f"a WebAuthn challenge is {MIN_CHALLENGE} bytes or more")
    public_key: dict[str, Any] = {"challenge": b64url_encode(challenge)}
    if timeout is not None:
        public_key["timeout"] = timeout
    public_key["rpId"] = rp_id
    public_key["allowCredentials"] = [
        {"type": _PUBLIC_KEY, "id": b64url_encode(credential_id)}
        for credential_id in credential_ids
    ]
    public_key["userVerification"] = user_verification
    return {"publicKey": public_key}
