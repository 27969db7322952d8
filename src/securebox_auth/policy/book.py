"""Policies per subscription: a default and the subscriptions that differ.

Some banks apply strong authentication at every login for some customers, or a 180-day
renewal for others. A :class:`PolicyBook` says which policy governs which subscription; the
shells ask it with the client identifier of the principal they decide for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from securebox_auth.errors import ConfigurationError
from securebox_auth.identity import ClientId
from securebox_auth.policy.model import Policy

__all__ = ["PolicyBook"]


@dataclass(frozen=True, slots=True)
class PolicyBook:
    default: Policy
    subscriptions: Mapping[ClientId, Policy] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.default, Policy):
            raise ConfigurationError("a policy book needs a default Policy")
        if not isinstance(self.subscriptions, Mapping):
            raise ConfigurationError("a policy book maps ClientId to Policy")
        for client_id, policy in self.subscriptions.items():
            if not isinstance(client_id, ClientId) or not isinstance(policy, Policy):
                raise ConfigurationError("a policy book maps ClientId to Policy")
        object.__setattr__(self, "subscriptions", MappingProxyType(dict(self.subscriptions)))

    def for_subscription(self, client_id: ClientId) -> Policy:
        """The policy that governs ``client_id``."""
        return self.subscriptions.get(client_id, self.default)
