"""``AuthStore.standing`` answers what ``get_account``, ``get_subscription`` and
``subscriptions_inviting`` answer, on every store, at the current versions."""

from __future__ import annotations

from dataclasses import replace

from securebox_auth.entitlements.model import InvitationStatus, Subscription
from securebox_auth.identity import ClientId, Principal
from securebox_auth.stores.protocols import AuthStore, PutAccount, PutSubscription
from tests.entitlements.world import ACCOUNTANT, ACCOUNTS, CLERK, A, B, sub_a, sub_b

C = ClientId("333333333")


def _fill(store: AuthStore) -> None:
    third = sub_a().invitations["inv-1"]
    other = Subscription(C).with_invitation(replace(third, id="inv-c"))
    store.commit(
        [
            PutSubscription(A, 0, sub_a()),
            PutSubscription(B, 0, sub_b()),
            PutSubscription(C, 0, other),
            *(PutAccount(p, 0, account) for p, account in ACCOUNTS.items()),
        ],
        [],
    )


def test_standing_is_the_three_reads(contract_store: AuthStore) -> None:
    _fill(contract_store)
    for principal, client, inviting in (
        (CLERK, A, False),
        (CLERK, A, True),
        (ACCOUNTANT, B, True),
        (ACCOUNTANT, A, False),
        (Principal.parse("999999999", "01"), ClientId("999999999"), True),
    ):
        found = contract_store.standing(principal, client, inviting=inviting)
        assert found.account == contract_store.get_account(principal)
        assert found.subscription == contract_store.get_subscription(client)
        expected = [
            s for s in contract_store.subscriptions_inviting(principal) if s.client_id != client
        ]
        assert list(found.inviting) == (expected if inviting else [])
    assert [
        s.client_id for s in contract_store.standing(ACCOUNTANT, B, inviting=True).inviting
    ] == [
        A,
        C,
    ]


def test_standing_follows_every_change(contract_store: AuthStore) -> None:
    _fill(contract_store)
    before = contract_store.standing(ACCOUNTANT, B, inviting=True)
    sub = contract_store.get_subscription(A)
    assert sub is not None
    revoked = replace(sub.value.invitations["inv-1"], status=InvitationStatus.REVOKED)
    contract_store.commit([PutSubscription(A, sub.version, sub.value.with_invitation(revoked))], [])
    after = contract_store.standing(ACCOUNTANT, B, inviting=True)
    assert after.inviting[0].invitations["inv-1"].status is InvitationStatus.REVOKED
    assert after.inviting[0] is not before.inviting[0]
    assert after.inviting[1] == before.inviting[1]
