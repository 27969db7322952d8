"""A receiver is a library account of its subscription with rights on its companies only:
the library's entitlements decide what it sees, and revoking the client closes it."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest

from securebox_auth.entitlements.accounts import Operator, Role
from securebox_auth.entitlements.model import Company, Operation, Theme
from securebox_auth.entitlements.resources import DocumentRef
from securebox_auth.errors import MalformedInput
from securebox_auth.identity import ClientId, Principal, Siren, UserNumber
from securebox_auth.stores.protocols import PutSubscription
from securebox_server.clients.accounts import RECEIVER_OPERATIONS
from securebox_server.clients.model import RECEIVER_SCOPES, ClientKind
from tests.server.clients.conftest import Parts
from tests.server.clients.helpers import new_key, self_signed

MINE, OTHER, ELSEWHERE = Siren("552100554"), Siren("732829320"), Siren("542051180")
BANK = Operator("back-office")


def _subscription(parts: Parts) -> ClientId:
    """A fresh subscription holding MINE and OTHER."""
    client_id = ClientId(str(secrets.randbelow(900_000_000) + 100_000_000))
    parts.box.codes.create_subscription(BANK, Principal(client_id, UserNumber("01")))
    found = parts.box.store.get_subscription(client_id)
    assert found is not None
    now = parts.clock.now()
    sub = found.value
    for siren in (MINE, OTHER):
        sub = sub.with_company(Company(siren, f"Company {siren}", now))
    parts.box.store.commit([PutSubscription(client_id, found.version, sub)], [])
    return client_id


def _doc(client_id: ClientId, company: Siren) -> DocumentRef:
    at = datetime(2025, 12, 1, tzinfo=UTC)
    return DocumentRef(
        client_id, company, Theme("statements"), secrets.token_hex(16), "Statement", at
    )


def test_a_receiver_sees_its_companies_only(parts: Parts) -> None:
    client_id = _subscription(parts)
    _, jwks = new_key()
    receiver = parts.clients.add_receiver(BANK, client_id, [MINE], "ERP", jwks=jwks)
    assert receiver.kind is ClientKind.RECEIVER
    assert receiver.scopes == RECEIVER_SCOPES
    assert receiver.subscription == client_id
    principal = receiver.principal
    assert principal is not None
    assert principal.user_number.value == "9999"
    account = parts.box.store.get_account(principal)
    assert account is not None
    assert account.value.role is Role.USER
    assert account.value.active
    assert parts.box.store.get_code(principal) is None  # nobody logs in to the portal with it
    rights = parts.box.store.get_subscription(client_id).value.rights_of(principal)  # type: ignore[union-attr]
    assert rights.operations == RECEIVER_OPERATIONS
    reads = parts.box.entitlements
    assert reads.check(principal, Operation.VIEW, _doc(client_id, MINE)).allowed
    assert reads.check(principal, Operation.DOWNLOAD, _doc(client_id, MINE)).allowed
    assert not reads.check(principal, Operation.VIEW, _doc(client_id, OTHER)).allowed
    assert not reads.check(principal, Operation.SHARE, _doc(client_id, MINE)).allowed
    events = [e.event.action for e in parts.box.store.audit_log(client_id.value)]
    assert "account.create" in events
    # a second receiver takes the next number down
    second = parts.clients.add_receiver(BANK, client_id, [OTHER], "BI", jwks=jwks)
    assert second.principal is not None
    assert second.principal.user_number.value == "9998"


def test_revoking_a_receiver_closes_its_account(parts: Parts) -> None:
    client_id = _subscription(parts)
    _, jwks = new_key()
    receiver = parts.clients.add_receiver(BANK, client_id, [MINE], "ERP", jwks=jwks)
    principal = receiver.principal
    assert principal is not None
    assert parts.clients.revoke(receiver.client_id, operator=BANK)
    account = parts.box.store.get_account(principal)
    assert account is not None
    assert not account.value.active
    assert not parts.box.entitlements.check(
        principal, Operation.VIEW, _doc(client_id, MINE)
    ).allowed


def test_companies_outside_the_subscription_are_refused(parts: Parts) -> None:
    client_id = _subscription(parts)
    _, jwks = new_key()
    before = len(parts.box.store.accounts_of(client_id))
    for companies in ([ELSEWHERE], [], [MINE, ELSEWHERE]):
        with pytest.raises(MalformedInput):
            parts.clients.add_receiver(BANK, client_id, companies, "ERP", jwks=jwks)
    with pytest.raises(MalformedInput):
        parts.clients.add_receiver(BANK, ClientId("999999999"), [MINE], "ERP", jwks=jwks)
    assert len(parts.box.store.accounts_of(client_id)) == before


def test_a_failed_registration_leaves_no_open_account(parts: Parts) -> None:
    client_id = _subscription(parts)
    pem = self_signed("erp")[1]
    parts.clients.add_sender("bank", "Back office", certificate_pem=pem)
    with pytest.raises(MalformedInput):
        parts.clients.add_receiver(BANK, client_id, [MINE], "ERP", certificate_pem=pem)
    service = [
        a for a in parts.box.store.accounts_of(client_id) if a.principal.user_number.value == "9999"
    ]
    assert all(not a.active for a in service)
