"""Entitlement check latency, in memory, for a user with partial rights on 50 companies and
20 themes, and a third party invited on 10 of them.

Target: <= 10 µs per check (docs/performance targets). The bare primitive measured in the
same run is one HMAC-SHA256 over 69 bytes (~3.2 µs on the reference machine), so the target
is expressed as <= 3x that primitive; the absolute medians are printed too.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta

from harness import Comparison, compare

from securebox_auth.entitlements.accounts import Account, Role
from securebox_auth.entitlements.check import check
from securebox_auth.entitlements.model import (
    THIRD_PARTY_OPERATIONS,
    Company,
    CompanyScope,
    DocumentScope,
    Invitation,
    InvitationStatus,
    Operation,
    Rights,
    Subscription,
    Theme,
)
from securebox_auth.entitlements.resources import DocumentRef
from securebox_auth.identity import ClientId, Principal, Siren, UserNumber

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _siren(n: int) -> Siren:
    body = f"{100000000 + n * 7:09d}"[:8]
    for check_digit in range(10):
        candidate = body + str(check_digit)
        try:
            return Siren(candidate)
        except ValueError:
            continue
    raise AssertionError("no Luhn digit")  # pragma: no cover


def run(quick: bool = False) -> list[Comparison]:
    client = ClientId("123456789")
    companies = [_siren(n) for n in range(50)]
    themes = [Theme(f"theme-{n}") for n in range(20)]
    user = Principal(client, UserNumber("02"))
    accountant = Principal(ClientId("555000111"), UserNumber("01"))
    rights = Rights(
        CompanyScope(chosen=frozenset(companies)),
        DocumentScope(themes=frozenset(themes[:15])),
        frozenset({Operation.VIEW, Operation.DOWNLOAD}),
    )
    invitation = Invitation(
        id="inv-1",
        invitee=accountant,
        companies=frozenset(companies[:10]),
        documents=DocumentScope.all(),
        operations=THIRD_PARTY_OPERATIONS,
        invited_by=Principal(client, UserNumber("01")),
        created_at=NOW,
        expires_at=NOW + timedelta(days=14),
        status=InvitationStatus.ACCEPTED,
    )
    sub = Subscription(
        client,
        companies={c: Company(c, "c", NOW) for c in companies},
        themes=frozenset(themes),
        rights={user: rights},
        invitations={"inv-1": invitation},
    )
    actor = Account(user, Role.USER, NOW)
    third = Account(accountant, Role.PRINCIPAL_USER, NOW)
    doc = DocumentRef(client, companies[37], themes[12], "doc-1", "label", NOW)
    doc3 = DocumentRef(client, companies[7], themes[19], "doc-2", "label", NOW)
    key, message = b"k" * 32, b"m" * 69

    def bare() -> None:
        hmac.digest(key, message, "sha256")

    def user_check() -> None:
        check(actor, Operation.VIEW, doc, sub, NOW)

    def third_party_check() -> None:
        check(third, Operation.DOWNLOAD, doc3, sub, NOW)

    rounds, inner = (5, 2_000) if quick else (15, 10_000)
    assert check(actor, Operation.VIEW, doc, sub, NOW).allowed
    assert check(third, Operation.DOWNLOAD, doc3, sub, NOW).allowed
    return [
        compare(
            ("entitlement check, user 50 companies/20 themes", user_check),
            ("HMAC-SHA256 69 B", bare),
            target=3.0,
            rounds=rounds,
            inner=inner,
        ),
        compare(
            ("entitlement check, invited third party", third_party_check),
            ("HMAC-SHA256 69 B", bare),
            target=3.0,
            rounds=rounds,
            inner=inner,
        ),
    ]
