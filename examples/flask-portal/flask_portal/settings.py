"""What the portal is configured with: where its databases are, the securebox master key,
the CAP card issuer's keys, the clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from securebox_auth import PROFILE_2026, Argon2Parameters, Clock, SystemClock
from securebox_auth.emv.issuer import IssuerKeyProvider

__all__ = ["POLICY", "PortalSettings"]

#: The portal's policy: every authentication rule it follows.
POLICY: Final = Path(__file__).with_name("policy.toml")


@dataclass(frozen=True, slots=True)
class PortalSettings:
    """``instance`` holds the portal's SQLite database (``portal.db``, its own tables) and
    securebox's (``securebox.db``) unless the URLs say otherwise. ``master_key`` is the
    securebox master key (``"id:hex"``, from a secret store in production); ``cap_issuer``
    computes the CAP cards' cryptograms (an HSM in production)."""

    instance: Path
    master_key: str = field(repr=False)
    cap_issuer: IssuerKeyProvider = field(repr=False)
    clock: Clock = field(default_factory=SystemClock)
    argon2: Argon2Parameters = PROFILE_2026
    policy: Path = POLICY
    #: ``Secure`` on the session cookies (off only for plain-HTTP development on loopback).
    secure_cookies: bool = True
    #: The demo's extra pages (a software CAP reader): never in production.
    demo: bool = False
    portal_database_url: str | None = None
    securebox_database_url: str | None = None

    @property
    def portal_url(self) -> str:
        return self.portal_database_url or f"sqlite:///{self.instance / 'portal.db'}"

    @property
    def securebox_url(self) -> str:
        return self.securebox_database_url or f"sqlite:///{self.instance / 'securebox.db'}"
