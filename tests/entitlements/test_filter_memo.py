"""The memo of visibility filters (ADR 0022) relies on the filter not depending on the
time; it serves an entry only for the very objects it was computed from, and stays bounded."""

from __future__ import annotations

import gc
import weakref
from datetime import timedelta

import pytest

from securebox_auth.entitlements.model import InvitationStatus, Operation
from securebox_auth.entitlements.visibility import visibility_filter
from securebox_auth.errors import ConfigurationError
from securebox_auth.shell.filter_memo import FilterMemo
from tests.entitlements.world import ACCOUNTANT, ACCOUNTS, CLERK, NOW, sub_a, sub_b


@pytest.mark.parametrize("status", [*InvitationStatus, None])
def test_the_filter_does_not_depend_on_the_time(status: InvitationStatus | None) -> None:
    subs = [sub_a(status), sub_b()]
    for account in ACCOUNTS.values():
        now = visibility_filter(account, subs, NOW)
        for shift in (14, 400, 20 * 365, -400):
            assert visibility_filter(account, subs, NOW + timedelta(days=shift)) == now


def test_an_entry_serves_only_the_same_objects_and_the_memo_is_bounded() -> None:
    memo = FilterMemo(2)
    accountant = ACCOUNTS[ACCOUNTANT]
    subs = [sub_a(), sub_b()]
    first = memo.filter(accountant, subs, Operation.VIEW, NOW)
    assert not first.empty
    assert memo.filter(accountant, subs, Operation.VIEW, NOW) is first
    revoked = [sub_a(InvitationStatus.REVOKED), sub_b()]
    assert memo.filter(accountant, revoked, Operation.VIEW, NOW) != first
    assert memo.filter(ACCOUNTS[CLERK], subs, Operation.VIEW, NOW) != first
    assert len(memo) == 2
    with pytest.raises(ConfigurationError):
        FilterMemo(-1)


def test_the_memo_keeps_no_subscription_alive() -> None:
    memo = FilterMemo(4)
    subs = [sub_a(), sub_b()]
    refs = [weakref.ref(s) for s in subs]
    memo.filter(ACCOUNTS[ACCOUNTANT], subs, Operation.VIEW, NOW)
    del subs
    gc.collect()
    assert all(r() is None for r in refs)
    again = [sub_a(), sub_b()]  # new objects, possibly at the same addresses
    assert memo.filter(ACCOUNTS[ACCOUNTANT], again, Operation.VIEW, NOW) == visibility_filter(
        ACCOUNTS[ACCOUNTANT], again, NOW
    )
