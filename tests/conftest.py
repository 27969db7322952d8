"""Shared fixtures: real argon2id (cheap profile), a real keyring, a frozen clock."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

import pytest
from hypothesis import settings

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import Argon2CodeHasher
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.shell.code import ConfidentialCodeService
from tests.support import NOW, CountingPasswordHasher, CountingStore, counting_hasher

# No hypothesis deadline: the tests assert on behaviour, never on wall-clock time.
settings.register_profile("default", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("SECUREBOX_HYPOTHESIS_PROFILE", "default"))


def pytest_configure(config: pytest.Config) -> None:
    # When a hypothesis test fails, hypothesis imports libcst to print the failing example
    # as a patch, and libcst still uses mypy_extensions.TypedDict, which warns. Under
    # filterwarnings=error that warning turns the report of the real failure into an
    # INTERNALERROR that hides the falsifying example; it says nothing about our code.
    config.addinivalue_line(
        "filterwarnings", "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
    )


#: Tests that need the machine's one ``pcscd`` (under the lock of ``tests/cards/conftest.py``):
#: with ``pytest -n 2`` (pytest-xdist, ``--dist loadgroup``) they all run on one worker, in
#: collection order, so none waits for the lock the other worker holds or skips for it.
PCSCD_FOLDERS: Final = (
    Path(__file__).parent / "cards",
    Path(__file__).parent / "server" / "live",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.path.is_relative_to(folder) for folder in PCSCD_FOLDERS):
            item.add_marker(pytest.mark.xdist_group("pcscd"))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def keyring() -> StaticKeyring:
    return StaticKeyring.generate()


@pytest.fixture
def pepper() -> StaticKeyring:
    """The ``hasher`` fixture's pepper: not ``keyring`` (a service refuses one key for two
    purposes, :class:`~securebox_auth.errors.KeyReuse`)."""
    return StaticKeyring.generate()


@pytest.fixture
def counted(pepper: StaticKeyring) -> tuple[Argon2CodeHasher, CountingPasswordHasher]:
    return counting_hasher(pepper)


@pytest.fixture
def hasher(counted: tuple[Argon2CodeHasher, CountingPasswordHasher]) -> Argon2CodeHasher:
    return counted[0]


@pytest.fixture
def argon2_counter(
    counted: tuple[Argon2CodeHasher, CountingPasswordHasher],
) -> CountingPasswordHasher:
    """Counts the argon2 verifications done by the ``hasher`` fixture."""
    return counted[1]


@pytest.fixture
def store() -> CountingStore:
    return CountingStore()


@pytest.fixture
def service(
    store: CountingStore, hasher: Argon2CodeHasher, clock: FixedClock
) -> ConfidentialCodeService:
    return ConfidentialCodeService(store, hasher, clock=clock)
