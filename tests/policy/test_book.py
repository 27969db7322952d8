"""PolicyBook: a default policy and the subscriptions that differ."""

from __future__ import annotations

import pytest

from securebox_auth.errors import ConfigurationError
from securebox_auth.identity import ClientId
from securebox_auth.policy import PSD2_DEFAULT
from securebox_auth.policy.book import PolicyBook
from securebox_auth.policy.shipped import shipped_policy


def test_subscriptions_get_their_own_policy_and_others_the_default() -> None:
    strict = shipped_policy("strict-example")
    book = PolicyBook(PSD2_DEFAULT, {ClientId("123456789"): strict})
    assert book.for_subscription(ClientId("123456789")) is strict
    assert book.for_subscription(ClientId("987654321")) is PSD2_DEFAULT
    assert strict.renewal.every_login
    assert not PSD2_DEFAULT.renewal.every_login


def test_a_book_is_validated() -> None:
    with pytest.raises(ConfigurationError):
        PolicyBook(PSD2_DEFAULT, {"123456789": PSD2_DEFAULT})  # type: ignore[dict-item]
