"""``securebox token``: the local signing helper for certificates on PKCS#11 tokens.

* ``securebox token certificate --module SO [--token LABEL | --slot READER]``: print the
  token's certificate as PEM (to enrol it; no PIN needed);
* ``securebox token sign-challenge --module SO ... [CHALLENGE]``: read a challenge (the
  base64url of :meth:`~securebox_auth.factors.certificate.CertChallenge.payload`, as the
  portal shows it) from the argument or standard input, ask the PIN without echo, and print
  ``{"signature": ..., "certificate": ...}`` (base64url, the certificate as DER) for the
  portal;
* ``securebox token agent --module SO ... --origin https://portal.example``: the same
  signing as a small HTTP server on 127.0.0.1 that the portal's page calls
  (:mod:`securebox_auth.cards.token_agent`).

Works with any PKCS#11 module path (SoftHSM2, OpenSC, a vendor's). Needs the ``pkcs11``
extra; the module is imported only when a command runs.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.serialization import Encoding

from securebox_auth.cards.prompt import ask_secret
from securebox_auth.errors import MalformedInput

if TYPE_CHECKING:
    from securebox_auth.cards.pkcs11_client import TokenSelector, TokenSignature

__all__ = [
    "b64url",
    "challenge_payload",
    "common_options",
    "register",
    "signed_answer",
    "token_selector",
]

_MAX_PAYLOAD = 4096


def b64url(data: bytes) -> str:
    """Unpadded base64url text."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def challenge_payload(text: str) -> bytes:
    """The payload bytes of a base64url challenge (1 to 4096 bytes), or MalformedInput."""
    text = text.strip()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise MalformedInput("a challenge is base64url text") from None
    if not raw or len(raw) > _MAX_PAYLOAD:
        raise MalformedInput("a challenge is 1 to 4096 bytes")
    return raw


def token_selector(args: argparse.Namespace) -> TokenSelector:
    """The token the common options (:func:`common_options`) name."""
    from securebox_auth.cards.pkcs11_client import TokenSelector  # noqa: PLC0415 - optional

    key_id = None
    if args.key_id:
        try:
            key_id = bytes.fromhex(args.key_id)
        except ValueError:
            raise MalformedInput("--key-id is hexadecimal") from None
    return TokenSelector(
        module=args.module,
        token_label=args.token,
        slot_description=args.slot,
        key_id=key_id,
        key_label=args.key_label,
    )


def _certificate(args: argparse.Namespace) -> int:
    from securebox_auth.cards.pkcs11_client import read_certificate  # noqa: PLC0415

    cert = read_certificate(token_selector(args))
    sys.stdout.write(cert.public_bytes(Encoding.PEM).decode("ascii"))
    return 0


def signed_answer(signed: TokenSignature) -> dict[str, str]:
    """What the portal receives: the signature and the certificate (DER), base64url."""
    return {
        "signature": b64url(signed.signature),
        "certificate": b64url(signed.certificate.public_bytes(Encoding.DER)),
    }


def _sign(args: argparse.Namespace) -> int:
    from securebox_auth.cards.pkcs11_client import sign_challenge  # noqa: PLC0415

    payload = challenge_payload(args.challenge if args.challenge else sys.stdin.readline())
    pin = ask_secret("Token PIN: ")
    signed = sign_challenge(payload, pin, token_selector(args))
    print(json.dumps(signed_answer(signed)))
    return 0


def common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--module", required=True, help="path of the PKCS#11 module (.so)")
    parser.add_argument("--token", help="token label")
    parser.add_argument("--slot", help="reader name (slot description prefix)")
    parser.add_argument("--key-id", help="CKA_ID of the key, hexadecimal")
    parser.add_argument("--key-label", help="CKA_LABEL of the key")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = subparsers.add_parser("token", help="sign certificate challenges with a PKCS#11 token")
    commands = token.add_subparsers(title="token commands", metavar="COMMAND", required=True)
    cert = commands.add_parser("certificate", help="print the token's certificate (PEM)")
    common_options(cert)
    cert.set_defaults(handler=_certificate)
    sign = commands.add_parser("sign-challenge", help="sign a challenge after asking the PIN")
    common_options(sign)
    sign.add_argument("challenge", nargs="?", help="base64url challenge (default: stdin)")
    sign.set_defaults(handler=_sign)
    from securebox_auth.cards.agent_cli import register_agent  # noqa: PLC0415 - no cycle

    register_agent(commands)
