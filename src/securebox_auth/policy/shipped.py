"""The policies and scenario suites shipped inside the package.

``securebox_auth/policies/`` holds the three profiles (``psd2-default``, ``psd2-180-days``,
``strict-example``) and their scenario suites, so a pip user can lint, test and start from
them without a source checkout::

    securebox policy lint psd2-default
    securebox policy test psd2-default            # runs the shipped suite of that profile

:func:`shipped_policy` loads one by name; :func:`resolve_policy_path` is how the CLI reads its
``POLICY`` argument: an existing file first, otherwise a shipped name.
"""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

from securebox_auth.errors import PolicyError
from securebox_auth.policy.loader import load_policy
from securebox_auth.policy.model import Policy

__all__ = [
    "SHIPPED_POLICIES",
    "resolve_policy_path",
    "shipped_policy",
    "shipped_policy_path",
    "shipped_scenarios",
]

#: The names of the shipped profiles.
SHIPPED_POLICIES: tuple[str, ...] = ("psd2-default", "psd2-180-days", "strict-example")


def _root() -> Path:
    # The package is installed as files (wheel or editable), so the resource is a real path.
    with as_file(files("securebox_auth") / "policies") as path:
        return Path(path)


def shipped_policy_path(name: str) -> Path:
    """The file of the shipped profile ``name``; :class:`PolicyError` for another name."""
    if name not in SHIPPED_POLICIES:
        raise PolicyError(
            "", f"no shipped policy is called {name!r} (shipped: {', '.join(SHIPPED_POLICIES)})"
        )
    return _root() / f"{name}.toml"


def shipped_policy(name: str) -> Policy:
    """Load the shipped profile ``name``."""
    return load_policy(shipped_policy_path(name))


def shipped_scenarios(name: str) -> Path:
    """The directory of the scenario suite of the shipped profile ``name``: the suite of
    ``psd2-default`` is the top of ``scenarios/``, the others have a folder of their own."""
    shipped_policy_path(name)
    scenarios = _root() / "scenarios"
    return scenarios if name == "psd2-default" else scenarios / name


def resolve_policy_path(argument: str) -> Path:
    """A policy file named on the command line: an existing path, else a shipped name."""
    path = Path(argument)
    if path.exists() or argument not in SHIPPED_POLICIES:
        return path
    return shipped_policy_path(argument)
