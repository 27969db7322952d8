"""The server's settings: one frozen value, read from ``SECUREBOX_*`` environment variables
over an optional TOML file (the environment wins), validated once at start-up.

=========================  ===================================  ==========================
environment                TOML key                             default
=========================  ===================================  ==========================
SECUREBOX_DATABASE_URL     database_url                         sqlite:///securebox.db
SECUREBOX_POLICY           policy                               the shipped psd2-default
SECUREBOX_MASTER_KEY_FILE  master_key_file                      (required unless demo)
SECUREBOX_PUBLIC_URL       public_url                           http://127.0.0.1:8000
SECUREBOX_TRUSTED_PROXIES  trusted_proxies (list)               none
SECUREBOX_SMTP_URL         smtp_url                             none
SECUREBOX_SMS_URL          sms_url                              none
SECUREBOX_DEMO             demo (bool)                          false
(TOML only)                [rate_limits] name = "5/minute;..."  ``DEFAULT_LIMITS``
=========================  ===================================  ==========================

``[rate_limits]`` overrides named limits (ADR 0026) with ``limits`` strings, e.g.
``"login.source" = "30/5 minutes;300/day"``; unknown names are refused. The limits are on
by default; ``rate_limits_enabled = false`` (``SECUREBOX_RATE_LIMITS_ENABLED``) is for
tests and only accepted in demo mode.

The master key file holds ``id:hex`` pairs (``DerivedKeys.from_hex``); in demo mode a
missing file is generated (mode 0600). ``SECUREBOX_SETTINGS`` names the TOML file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from securebox_auth.errors import ConfigurationError
from securebox_server.net.client_address import TrustedProxies
from securebox_server.rate_limits.limiter import DEFAULT_LIMITS, NamedLimit

__all__ = ["Settings", "load_settings"]

_PREFIX: Final = "SECUREBOX_"
_KEYS: Final = (
    "database_url",
    "policy",
    "master_key_file",
    "public_url",
    "trusted_proxies",
    "smtp_url",
    "sms_url",
    "demo",
    "rate_limits_enabled",
    "rate_limits",
)
DEFAULT_DATABASE: Final = "sqlite:///securebox.db"
DEFAULT_PUBLIC_URL: Final = "http://127.0.0.1:8000"
DEFAULT_POLICY: Final = (
    Path(__file__).resolve().parents[1] / "securebox_auth/policies/psd2-default.toml"
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a deployment chooses; nothing else is read from the environment."""

    database_url: str = DEFAULT_DATABASE
    policy: Path = DEFAULT_POLICY
    master_key_file: Path | None = None
    public_url: str = DEFAULT_PUBLIC_URL
    trusted_proxies: tuple[str, ...] = ()
    smtp_url: str | None = field(default=None, repr=False)
    sms_url: str | None = field(default=None, repr=False)
    demo: bool = False
    #: The database rate limits (ADR 0026); off only for tests, in demo mode.
    rate_limits_enabled: bool = True
    #: Named limits overriding ``DEFAULT_LIMITS``: ``(("login.source", "30/5 minutes"),)``.
    rate_limits: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        parts = urlsplit(self.public_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError("public_url: an http(s) URL such as https://portal.example")
        if not self.database_url.startswith(("sqlite:", "postgresql")):
            raise ConfigurationError("database_url: sqlite:///path or postgresql://...")
        if self.master_key_file is None and not self.demo:
            raise ConfigurationError("master_key_file: required outside demo mode")
        if not self.rate_limits_enabled and not self.demo:
            raise ConfigurationError("rate_limits_enabled = false is for tests: demo mode only")
        TrustedProxies.parse(self.trusted_proxies)
        self.limits()

    def limits(self) -> dict[str, str]:
        """``DEFAULT_LIMITS`` with the overrides, each string checked."""
        merged = dict(DEFAULT_LIMITS)
        for name, spec in self.rate_limits:
            if name not in DEFAULT_LIMITS:
                raise ConfigurationError(f"rate_limits: no limit named {name!r}")
            NamedLimit.parse(name, spec)
            merged[name] = spec
        return merged

    @property
    def tls(self) -> bool:
        """The public URL is https: cookies are ``Secure`` and ``__Host-``, HSTS is sent."""
        return urlsplit(self.public_url).scheme == "https"

    @property
    def origin(self) -> str:
        """The origin JSON writes must come from (``scheme://host[:port]``)."""
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"


def _bool(value: object, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in (
        "1",
        "true",
        "yes",
        "on",
        "0",
        "false",
        "no",
        "off",
        "",
    ):
        return value.lower() in ("1", "true", "yes", "on")
    raise ConfigurationError(f"{key}: true or false")


def load_settings(
    environ: Mapping[str, str] | None = None, file: str | os.PathLike[str] | None = None
) -> Settings:
    """Settings from ``file`` (TOML, or ``SECUREBOX_SETTINGS``) overlaid by ``environ``."""
    env = os.environ if environ is None else environ
    raw: dict[str, object] = {}
    path = file if file is not None else env.get(_PREFIX + "SETTINGS")
    if path:
        try:
            raw.update(tomllib.loads(Path(path).read_text(encoding="utf-8")))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"settings file: {exc}") from None
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise ConfigurationError(f"settings file: unknown keys {', '.join(unknown)}")
    for key in _KEYS:
        value = env.get(_PREFIX + key.upper())
        if value is not None:
            raw[key] = value
    proxies = raw.get("trusted_proxies", ())
    if isinstance(proxies, str):
        proxies = tuple(p.strip() for p in proxies.split(",") if p.strip())
    if not isinstance(proxies, list | tuple) or not all(isinstance(p, str) for p in proxies):
        raise ConfigurationError("trusted_proxies: a list of addresses")

    def text(key: str, default: str | None) -> str | None:
        value = raw.get(key, default)
        if value is not None and not isinstance(value, str):
            raise ConfigurationError(f"{key}: a string")
        return value

    table = raw.get("rate_limits", {})
    if not isinstance(table, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in table.items()
    ):
        raise ConfigurationError('rate_limits: a table of name = "limits" strings')
    key_file = text("master_key_file", None)
    return Settings(
        database_url=text("database_url", DEFAULT_DATABASE) or DEFAULT_DATABASE,
        policy=Path(text("policy", str(DEFAULT_POLICY)) or DEFAULT_POLICY),
        master_key_file=Path(key_file) if key_file else None,
        public_url=text("public_url", DEFAULT_PUBLIC_URL) or DEFAULT_PUBLIC_URL,
        trusted_proxies=tuple(proxies),
        smtp_url=text("smtp_url", None),
        sms_url=text("sms_url", None),
        demo=_bool(raw.get("demo", False), "demo"),
        rate_limits_enabled=_bool(raw.get("rate_limits_enabled", True), "rate_limits_enabled"),
        rate_limits=tuple(sorted(table.items())),
    )
