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
SECUREBOX_OUTBOX           outbox (demo mode only)              none
SECUREBOX_DEMO             demo (bool)                          false
SECUREBOX_CAP_ISSUER_FILE  cap_issuer_file                      none (no CAP login)
SECUREBOX_DEMO_CARDS_DIR   demo_cards_dir                       none (demo mode only)
=========================  ===================================  ==========================

``cap_issuer_file`` is a :class:`~securebox_auth.emv.issuer.SoftwareIssuerKeys` file (the
CAP card keys, encrypted under ``SECUREBOX_CAP_ISSUER_PASSPHRASE`` / ``cap_issuer_passphrase``,
required with the file outside demo mode); ``demo_cards_dir`` holds the demo's
software CAP cards driven by the virtual reader page (refused outside demo mode).

The master key file holds ``id:hex`` pairs (``DerivedKeys.from_hex``); in demo mode a
missing file is generated (mode 0600). ``SECUREBOX_SETTINGS`` names the TOML file.
``smtp_url`` and ``sms_url`` are described in :mod:`securebox_server.delivery`; ``outbox``
(a file receiving the SMS and e-mail of channels without a gateway, codes in clear) is
refused outside demo mode.
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
from securebox_server.delivery import sms_gateway, smtp_gateway

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
    "outbox",
    "demo",
    "cap_issuer_file",
    "cap_issuer_passphrase",
    "demo_cards_dir",
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
    #: Demo mode only: the file that receives the one-time codes of channels without a gateway.
    outbox: Path | None = None
    demo: bool = False
    cap_issuer_file: Path | None = None
    cap_issuer_passphrase: str | None = field(default=None, repr=False)
    demo_cards_dir: Path | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.public_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError("public_url: an http(s) URL such as https://portal.example")
        if not self.database_url.startswith(("sqlite:", "postgresql")):
            raise ConfigurationError("database_url: sqlite:///path or postgresql://...")
        if self.master_key_file is None and not self.demo:
            raise ConfigurationError("master_key_file: required outside demo mode")
        if self.demo_cards_dir is not None and not self.demo:
            raise ConfigurationError("demo_cards_dir: demo mode only")
        if self.cap_issuer_file is not None and not self.cap_issuer_passphrase and not self.demo:
            raise ConfigurationError("cap_issuer_passphrase: required with cap_issuer_file")
        if self.outbox is not None and not self.demo:
            raise ConfigurationError("outbox: demo mode only (it keeps codes in clear)")
        if self.smtp_url:
            smtp_gateway(self.smtp_url)  # a bad URL stops the start-up
        if self.sms_url:
            sms_gateway(self.sms_url)

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

    key_file = text("master_key_file", None)
    issuer_file, cards_dir = text("cap_issuer_file", None), text("demo_cards_dir", None)
    outbox = text("outbox", None)
    return Settings(
        database_url=text("database_url", DEFAULT_DATABASE) or DEFAULT_DATABASE,
        policy=Path(text("policy", str(DEFAULT_POLICY)) or DEFAULT_POLICY),
        master_key_file=Path(key_file) if key_file else None,
        public_url=text("public_url", DEFAULT_PUBLIC_URL) or DEFAULT_PUBLIC_URL,
        trusted_proxies=tuple(proxies),
        smtp_url=text("smtp_url", None),
        sms_url=text("sms_url", None),
        outbox=Path(outbox) if outbox else None,
        demo=_bool(raw.get("demo", False), "demo"),
        cap_issuer_file=Path(issuer_file) if issuer_file else None,
        cap_issuer_passphrase=text("cap_issuer_passphrase", None),
        demo_cards_dir=Path(cards_dir) if cards_dir else None,
    )
