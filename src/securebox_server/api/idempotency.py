"""The ``Idempotency-Key`` request header (IETF draft-ietf-httpapi-idempotency-key-header).

The draft makes the value an RFC 8941 Structured Field String (``"8e03978e-40d5"``, in
double quotes); most clients in the wild (Stripe's, for one) send it bare. Both are taken:
:func:`parse_key` is pure, and answers the key's text or raises :class:`MalformedInput`
(a 400 problem: the draft's "missing or malformed key"). The key is 1 to 100 printable
ASCII characters (what ``box_publications.key`` holds); a sender makes a fresh one (a
UUID) per document it means to publish once.
"""

from __future__ import annotations

from typing import ClassVar, Final

from securebox_auth.errors import MalformedInput

__all__ = ["HEADER", "MAX_KEY", "IdempotencyKeyMissing", "parse_key"]

HEADER: Final = "Idempotency-Key"
MAX_KEY: Final = 100


class IdempotencyKeyMissing(MalformedInput):
    """A publication without its ``Idempotency-Key`` (the draft's 400)."""

    code: ClassVar[str] = "idempotency_key_missing"
    status_hint: ClassVar[int] = 400


def _unquote(value: str) -> str:
    """The content of an RFC 8941 sf-string (section 4.2.5): ``\\"`` and ``\\\\`` are the
    only escapes, and nothing may follow the closing quote."""
    out: list[str] = []
    index = 1
    while index < len(value):
        char = value[index]
        if char == "\\":
            if index + 1 >= len(value) or value[index + 1] not in '"\\':
                raise MalformedInput("Idempotency-Key: bad escape in the string")
            out.append(value[index + 1])
            index += 2
            continue
        if char == '"':
            if index != len(value) - 1:
                raise MalformedInput("Idempotency-Key: text after the closing quote")
            return "".join(out)
        out.append(char)
        index += 1
    raise MalformedInput("Idempotency-Key: the string is not closed")


def parse_key(header: str | None) -> str:
    """The idempotency key of the header's value (see the module documentation)."""
    if header is None or not header.strip(" \t"):
        raise IdempotencyKeyMissing("an Idempotency-Key header is required")
    value = header.strip(" \t")
    if not value.isascii() or any(not 0x20 <= ord(c) <= 0x7E for c in value):
        raise MalformedInput("Idempotency-Key: printable ASCII only")
    if value.startswith('"'):
        key = _unquote(value)
    elif any(c in value for c in ' "\\'):
        raise MalformedInput("Idempotency-Key: quote a key holding spaces or quotes")
    else:
        key = value
    if not 1 <= len(key) <= MAX_KEY:
        raise MalformedInput(f"Idempotency-Key: 1 to {MAX_KEY} characters")
    return key
