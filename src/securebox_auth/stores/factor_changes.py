"""The changes a store applies to factor states (:class:`PutFactorState`,
:class:`DropFactorState`) and the canonical JSON text every store keeps of a state.
Re-exported by :mod:`securebox_auth.stores.protocols`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from securebox_auth.errors import MalformedInput
from securebox_auth.identity import Principal

__all__ = [
    "FACTOR_ITEM_MAX",
    "FACTOR_KIND_MAX",
    "DropFactorState",
    "PutFactorState",
    "decode_factor_state",
    "encode_factor_state",
]

#: Longest factor kind and item identifier a store accepts.
FACTOR_KIND_MAX = 32
FACTOR_ITEM_MAX = 128


def _check_key(kind: object, item: object) -> None:
    if not (isinstance(kind, str) and 0 < len(kind) <= FACTOR_KIND_MAX):
        raise MalformedInput(f"a factor kind is 1-{FACTOR_KIND_MAX} characters")
    if not (isinstance(item, str) and 0 < len(item) <= FACTOR_ITEM_MAX):
        raise MalformedInput(f"a factor item is 1-{FACTOR_ITEM_MAX} characters")


@dataclass(frozen=True, slots=True)
class PutFactorState:
    """The durable state of one factor item of a principal: a JSON document produced by the
    factor's own codec (:mod:`securebox_auth.stores.factor_codecs`), under
    ``(principal, kind, item)``. ``kind`` names the factor (``"totp"``, ``"oob"``,
    ``"recovery"``, ``"passkeys"``, ``"cap_card"``, ``"cap_challenge"``, ``"renewal"``...),
    ``item`` one record of it (a credential id, a challenge id, a channel).

    ``state=None`` deletes the item with the semantics of an ended session: it reads as
    absent afterwards and its key can never be used again (a later change expecting version
    0 conflicts), so a consumed challenge can never be replayed by re-inserting it. Deleting
    an item that was never stored is refused with :class:`~securebox_auth.errors.
    MalformedInput`. The document must be a JSON object (string keys; strings, numbers,
    booleans, null, lists and objects): it comes back as plain ``dict``/``list`` values.
    """

    principal: Principal
    kind: str
    item: str
    expected_version: int
    state: Mapping[str, object] | None

    def __post_init__(self) -> None:
        _check_key(self.kind, self.item)
        if self.state is None and self.expected_version == 0:
            raise MalformedInput("only a stored factor state can be deleted")
        if self.state is not None and not isinstance(self.state, Mapping):
            raise MalformedInput("a factor state is a mapping")


@dataclass(frozen=True, slots=True)
class DropFactorState:
    """Remove one stored factor item of a principal, at ``expected_version``, so that its
    key may be stored again from version 0: what a person enrolled is erased with their
    account (``EntitlementService.remove_user``), and the next holder of the user number
    enrols afresh under the same items (``"default"``, a channel).

    Unlike ``PutFactorState(..., state=None)``, whose key never comes back, a dropped
    key may be reused: never drop a one-time record (a challenge, a flow), whose
    tombstone is what refuses its replay. Dropping an item that was never stored is
    refused with :class:`~securebox_auth.errors.MalformedInput`."""

    principal: Principal
    kind: str
    item: str
    expected_version: int

    def __post_init__(self) -> None:
        _check_key(self.kind, self.item)
        if isinstance(self.expected_version, bool) or not (
            isinstance(self.expected_version, int) and self.expected_version > 0
        ):
            raise MalformedInput("only a stored factor state can be dropped")


def encode_factor_state(state: Mapping[str, object]) -> str:
    """The canonical JSON text of a factor state (what every store keeps)."""
    try:
        return json.dumps(
            state, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
        )
    except (TypeError, ValueError):
        raise MalformedInput("a factor state is not a JSON document") from None


def decode_factor_state(text: str) -> dict[str, object]:
    try:
        found = json.loads(text)
    except ValueError:
        raise MalformedInput("the stored factor state is not valid JSON") from None
    if not isinstance(found, dict):
        raise MalformedInput("the stored factor state is not a JSON object")
    return found
