"""Policies written as TOML: :func:`to_toml` gives the normalised form.

Every key, durations in seconds, in a fixed order, so ``from_toml(to_toml(p)) == p`` and two
equal policies are written identically (the reader is :mod:`securebox_auth.policy.loader`,
which re-exports :func:`to_toml`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from typing import Final

from securebox_auth.policy.model import (
    OperationRule,
    Policy,
)

__all__ = ["FORMAT_VERSION", "to_toml"]

#: The policy file format the loader reads and this module writes.
FORMAT_VERSION: Final = 1

_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")

_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n",
                   "\f": "\\f", "\r": "\\r"}  # fmt: skip


def _string(value: str) -> str:
    out = []
    for ch in value:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else _string(name)


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, timedelta):
        return str(int(value.total_seconds()))
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, tuple):
        items = [_value(v) for v in value]
        one_line = "[" + ", ".join(items) + "]"
        if len(one_line) <= 80:
            return one_line
        return "[\n" + "".join(f"    {item},\n" for item in items) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")  # pragma: no cover


def _section(header: str | None, pairs: Iterable[tuple[str, object]]) -> str:
    lines = [] if header is None else [f"[{header}]"]
    lines += [f"{_key(k)} = {_value(v)}" for k, v in pairs]
    return "\n".join(lines) + "\n"


def to_toml(policy: Policy) -> str:
    """The normalised TOML form of ``policy``."""
    lock = policy.lockout
    code = policy.code
    oob = policy.oob
    parts = [
        "# securebox policy, normalised form (see docs/policy.md for every key)\n"
        + _section(
            None,
            [
                ("version", FORMAT_VERSION),
                ("name", policy.name),
                ("description", policy.description),
                ("unlisted_operations", policy.unlisted_operations.value),
            ],
        )
        # no [operation.*] table would mean "the default operations": say "none" explicitly
        + ("operation = {}\n" if not policy.operations else ""),
        _section("login", [("methods", policy.login.methods)]),
        _section(
            "renewal",
            [
                ("every_days", policy.renewal.every_days),
                ("every_login", policy.renewal.every_login),
            ],
        ),
    ]
    for channel, renewal in policy.renewal.channels:
        parts.append(
            _section(
                f"renewal.channel.{_key(channel)}",
                [("every_days", renewal.every_days), ("every_login", renewal.every_login)],
            )
        )
    parts += [
        _section(
            "session",
            [
                ("idle_timeout", policy.session.idle_timeout),
                ("absolute_lifetime", policy.session.absolute_lifetime),
            ],
        ),
        _section(
            "lockout",
            [
                ("max_failures", lock.max_failures),
                ("failure_window", lock.failure_window or timedelta(0)),
                ("temporary_block", lock.temporary_block or timedelta(0)),
                (
                    "max_temporary_blocks",
                    "never" if lock.max_temporary_blocks is None else lock.max_temporary_blocks,
                ),
            ],
        ),
        _section(
            "code",
            [
                ("length", code.length),
                ("history", code.history),
                ("max_repeat", code.max_repeat),
                ("max_sequence", code.max_sequence),
                ("refuse_dates", code.refuse_dates),
                ("min_identifier_overlap", code.min_identifier_overlap),
                ("one_time_code_lifetime", code.one_time_code_lifetime),
            ],
        ),
        _section(
            "totp",
            [
                ("digits", policy.totp.digits),
                ("period", policy.totp.period),
                ("algorithm", policy.totp.algorithm),
                ("window", policy.totp.window),
                ("secret_bytes", policy.totp.secret_bytes),
            ],
        ),
        _section(
            "oob",
            [
                ("digits", oob.digits),
                ("lifetime", oob.lifetime),
                ("max_wrong", oob.max_wrong),
                ("per_user", oob.per_user),
                ("per_destination", oob.per_destination),
                ("throttle_window", oob.throttle_window),
                ("min_interval", oob.min_interval),
                ("issuer", oob.issuer),
            ],
        ),
        _section("cap", [("window", policy.cap.window)]),
        _section(
            "recovery",
            [
                ("secret_questions", policy.recovery.secret_questions),
                ("reset_link_lifetime", policy.recovery.reset_link_lifetime),
            ],
        ),
        _section(
            "delegation",
            [
                (
                    "access_managers_manage_rights_and_codes",
                    policy.delegation.access_managers_manage_rights_and_codes,
                )
            ],
        ),
        _section(
            "acr",
            [
                ("simple", policy.acr.simple),
                ("strong", policy.acr.strong),
                ("phishing_resistant", policy.acr.phishing_resistant),
            ],
        ),
    ]
    for rule in policy.operations:
        pairs: list[tuple[str, object]] = [
            ("label", rule.label),
            ("cites", rule.cites),
            ("sensitive", rule.sensitive),
        ]
        plain = OperationRule(name=rule.name, sensitive=False, methods=())
        if rule.sensitive:
            pairs += [
                ("methods", rule.methods),
                ("min_categories", rule.min_categories),
                ("max_age", rule.max_age),
                ("single_use", rule.single_use),
                ("linking", rule.linking.value),
            ]
        else:  # only what differs from the defaults, which a non-sensitive rule ignores
            pairs += [
                (key, getattr(rule, key))
                for key in ("min_categories", "max_age")
                if getattr(rule, key) != getattr(plain, key)
            ]
        pairs.append(("payment", rule.payment))
        parts.append(_section(f"operation.{_key(rule.name)}", pairs))
    return "\n".join(parts)
