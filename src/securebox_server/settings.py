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
SECUREBOX_METRICS_FROM     metrics_from (list)                  127.0.0.1, ::1
SECUREBOX_SMTP_URL         smtp_url                             none
SECUREBOX_SMS_URL          sms_url                              none
SECUREBOX_OUTBOX           outbox (demo mode only)              none
SECUREBOX_DEMO             demo (bool)                          false
SECUREBOX_CAP_ISSUER_FILE  cap_issuer_file                      none (no CAP login)
SECUREBOX_DEMO_CARDS_DIR   demo_cards_dir                       none (demo mode only)
SECUREBOX_AGENT_URL        agent_url                            http://127.0.0.1:8731
SECUREBOX_BLOB_STORE       blob_store                           database
SECUREBOX_API_TOKEN_SECONDS api_token_seconds                   600 (API clients' tokens)
SECUREBOX_CODE_LETTERS_DIR code_letters_dir                     none (no letters of codes)
(TOML only)                [rate_limits] name = "5/minute;..."  ``DEFAULT_LIMITS``
=========================  ===================================  ==========================

``blob_store`` is where the digital box keeps document bodies (ADR 0030): ``database`` (in
the database, with their rows) or ``file:/absolute/folder`` (files, written and fsynced
before the document's commit).

``cap_issuer_file`` is a :class:`~securebox_auth.emv.issuer.SoftwareIssuerKeys` file (the
CAP card keys, encrypted under ``SECUREBOX_CAP_ISSUER_PASSPHRASE`` / ``cap_issuer_passphrase``,
required with the file outside demo mode); ``demo_cards_dir`` holds the demo's
software CAP cards driven by the virtual reader page (refused outside demo mode).

Certificate login: ``SECUREBOX_CERTIFICATE_ANCHORS`` / ``certificate_anchors`` (a PEM bundle
of the anchors client certificates chain to; none: no certificate login),
``SECUREBOX_CERTIFICATE_CRLS`` / ``certificate_crls`` (CRL files, PEM or DER, each issued by
a certificate of the anchors bundle, read at start-up: restart when they are renewed),
``SECUREBOX_CERTIFICATE_REVOCATION`` (``fail_closed``, the default, or ``fail_open``: what an
unknown revocation status means) and ``SECUREBOX_CERTIFICATE_HEADER`` (the header a trusted
proxy forwards the mutual-TLS client certificate in, ``X-SSL-Client-Cert``).

``[rate_limits]`` overrides named limits (ADR 0026) with ``limits`` strings, e.g.
``"login.source" = "30/5 minutes;300/day"``; unknown names are refused. The limits are on
by default; ``rate_limits_enabled = false`` (``SECUREBOX_RATE_LIMITS_ENABLED``) is for
tests and only accepted in demo mode.

Audit chains (ADR 0021, :mod:`securebox_server.audit_anchor`): ``audit_anchor_seconds``
(``SECUREBOX_AUDIT_ANCHOR_SECONDS``; 0, off, by default, 60 in demo mode) is the period of
the anchoring task; ``audit_checkpoint_file`` and ``audit_checkpoint_key_file`` (an Ed25519
private key, PEM) add a signed checkpoint of the global chain to each round.

Time (ADR 0042): security decisions read a clock that never goes back, its high-water mark
shared through the database; ``clock_mark_ms`` (``SECUREBOX_CLOCK_MARK_MS``, 1000 by
default, 0 to 60000) is how often at most a process exchanges its mark with the others.

Notifications (the jobs worker, ADR 0033): ``notification_attempts``
(``SECUREBOX_NOTIFICATION_ATTEMPTS``, 8 by default, 1 to 100) is how many times a digest is
tried before its rows are ``dead``.

The master key file holds ``id:hex`` pairs (``DerivedKeys.from_hex``); in demo mode a
missing file is generated (mode 0600). ``SECUREBOX_SETTINGS`` names the TOML file.
``smtp_url`` and ``sms_url`` are described in :mod:`securebox_server.delivery`; ``outbox``
(a file receiving the SMS and e-mail of channels without a gateway, codes in clear) is
refused outside demo mode.

``metrics_from`` lists the addresses or networks that may read ``/metrics`` (Prometheus);
others get the 404 of an unknown page. Only direct scrapes count: a request carrying a
forwarding header from a peer that is not a trusted proxy is refused, so a reverse proxy on
the same host does not open the metrics to the Internet.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from securebox_auth.errors import ConfigurationError
from securebox_server.delivery import sms_gateway, smtp_gateway
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
    "metrics_from",
    "smtp_url",
    "sms_url",
    "outbox",
    "demo",
    "cap_issuer_file",
    "cap_issuer_passphrase",
    "demo_cards_dir",
    "agent_url",
    "certificate_anchors",
    "certificate_crls",
    "certificate_revocation",
    "certificate_header",
    "rate_limits_enabled",
    "rate_limits",
    "audit_anchor_seconds",
    "audit_checkpoint_file",
    "audit_checkpoint_key_file",
    "notification_attempts",
    "blob_store",
    "api_token_seconds",
    "code_letters_dir",
    "clock_mark_ms",
)
DEFAULT_DATABASE: Final = "sqlite:///securebox.db"
DEFAULT_PUBLIC_URL: Final = "http://127.0.0.1:8000"
#: Who may read ``/metrics`` by default: the host itself.
DEFAULT_METRICS_FROM: Final = ("127.0.0.1", "::1")
#: Where ``securebox token agent`` listens by default (docs/certificates-login.md).
DEFAULT_AGENT_URL: Final = "http://127.0.0.1:8731"
DEFAULT_CERTIFICATE_HEADER: Final = "X-SSL-Client-Cert"
DEFAULT_POLICY: Final = (
    Path(__file__).resolve().parents[1] / "securebox_auth/policies/psd2-default.toml"
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a deployment chooses; nothing else is read from the environment."""

    #: The store: ``sqlite:///path`` (the demo, one process) or ``postgresql://...``.
    database_url: str = DEFAULT_DATABASE
    #: The policy file (docs/policy.md); the shipped ``psd2-default`` by default.
    policy: Path = DEFAULT_POLICY
    #: ``id:hex`` pairs, the current key first; every key of the server derives from it.
    master_key_file: Path | None = None
    #: The address users type; ``https://`` turns on ``__Host-`` cookies and HSTS.
    public_url: str = DEFAULT_PUBLIC_URL
    #: Reverse proxies whose ``X-Forwarded-For`` and certificate header are believed.
    trusted_proxies: tuple[str, ...] = ()
    #: The addresses or networks that may read ``/metrics`` (direct scrapes only: a request
    #: forwarded by a proxy is refused unless the proxy is trusted and its client is here).
    metrics_from: tuple[str, ...] = DEFAULT_METRICS_FROM
    #: The SMTP gateway of e-mail codes and notifications (securebox_server.delivery).
    smtp_url: str | None = field(default=None, repr=False)
    #: The SMS gateway (an HTTP webhook, securebox_server.delivery).
    sms_url: str | None = field(default=None, repr=False)
    #: Demo mode only: the file that receives the one-time codes of channels without a gateway.
    outbox: Path | None = None
    #: Demo mode: generated keys, demo users, the outbox page; never in production.
    demo: bool = False
    #: The CAP card keys (``SoftwareIssuerKeys``); ``None``: no CAP login.
    cap_issuer_file: Path | None = None
    #: The passphrase of ``cap_issuer_file`` (required with it outside demo mode).
    cap_issuer_passphrase: str | None = field(default=None, repr=False)
    #: Demo mode only: the software CAP cards the virtual reader page drives.
    demo_cards_dir: Path | None = None
    #: The local signing agent the certificate page calls (CSP ``connect-src``).
    agent_url: str = DEFAULT_AGENT_URL
    #: PEM bundle of the anchors client certificates chain to; ``None``: no certificates.
    certificate_anchors: Path | None = None
    #: CRL files (PEM or DER) of the anchors bundle's CAs, read at start-up.
    certificate_crls: tuple[Path, ...] = ()
    #: What an unknown revocation status means: ``fail_closed`` (refused) or ``fail_open``.
    certificate_revocation: str = "fail_closed"
    #: The header a trusted proxy forwards the mutual-TLS client certificate in.
    certificate_header: str = DEFAULT_CERTIFICATE_HEADER
    #: The database rate limits (ADR 0026); off only for tests, in demo mode.
    rate_limits_enabled: bool = True
    #: Named limits overriding ``DEFAULT_LIMITS``: ``(("login.source", "30/5 minutes"),)``.
    rate_limits: tuple[tuple[str, str], ...] = ()
    #: Seconds between two rounds of audit anchoring (ADR 0021); 0: off (60 in demo mode).
    audit_anchor_seconds: int = 0
    #: The file signed checkpoints of the global audit chain are appended to.
    audit_checkpoint_file: Path | None = None
    #: The Ed25519 private key (PEM) that signs them.
    audit_checkpoint_key_file: Path | None = None
    #: Attempts at sending a notification before it is dead (the jobs worker, ADR 0033).
    notification_attempts: int = 8
    #: Where the digital box keeps bodies: ``database`` or ``file:/absolute/folder``.
    blob_store: str = "database"
    #: Lifetime of the API clients' access tokens (securebox_server.clients), 60-3600 s.
    api_token_seconds: int = 600
    #: Where letters carrying a user's new confidential code are written for printing and
    #: posting (securebox_server.admin.codes); ``None``: no letters.
    code_letters_dir: Path | None = None
    #: How often at most (milliseconds) a process shares its high-water mark of time with
    #: the others through the database (ADR 0042), 0 to 60000: 0 is at every reading.
    clock_mark_ms: int = 1000

    def __post_init__(self) -> None:
        parts = urlsplit(self.public_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError("public_url: an http(s) URL such as https://portal.example")
        agent = urlsplit(self.agent_url)
        if (
            agent.scheme not in ("http", "https")
            or not agent.netloc
            or agent.path not in ("", "/")
            or agent.query
            or agent.fragment
            or any(c in self.agent_url for c in " ;,'\"")
        ):
            raise ConfigurationError("agent_url: an origin such as http://127.0.0.1:8731")
        if self.certificate_revocation not in ("fail_closed", "fail_open"):
            raise ConfigurationError("certificate_revocation: fail_closed or fail_open")
        if not self.certificate_header.replace("-", "").isalnum():
            raise ConfigurationError("certificate_header: a plain header name")
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
        if not self.rate_limits_enabled and not self.demo:
            raise ConfigurationError("rate_limits_enabled = false is for tests: demo mode only")
        if not 0 <= self.clock_mark_ms <= 60_000:
            raise ConfigurationError("clock_mark_ms: 0 to 60000 milliseconds")
        if self.audit_anchor_seconds < 0:
            raise ConfigurationError("audit_anchor_seconds: 0 (off) or more")
        if (self.audit_checkpoint_file is None) != (self.audit_checkpoint_key_file is None):
            raise ConfigurationError(
                "audit_checkpoint_file and audit_checkpoint_key_file: both or neither"
            )
        if self.audit_checkpoint_file is not None and not self.audit_anchor_seconds:
            raise ConfigurationError("audit_checkpoint_file: needs audit_anchor_seconds")
        if not 60 <= self.api_token_seconds <= 3600:
            raise ConfigurationError("api_token_seconds: between 60 and 3600")
        TrustedProxies.parse(self.trusted_proxies)
        self.metrics_networks  # noqa: B018 - validates metrics_from
        self.limits()
        if not 1 <= self.notification_attempts <= 100:
            raise ConfigurationError("notification_attempts: 1 to 100")
        self.blob_folder  # noqa: B018 - validates blob_store

    @property
    def metrics_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        """:attr:`metrics_from`, parsed."""
        try:
            return tuple(ip_network(text.strip(), strict=True) for text in self.metrics_from)
        except ValueError:
            raise ConfigurationError("metrics_from: a list of addresses or networks") from None

    @property
    def blob_folder(self) -> Path | None:
        """The folder of ``blob_store = "file:/folder"``; ``None``: bodies in the database."""
        if self.blob_store == "database":
            return None
        kind, _, folder = self.blob_store.partition(":")
        if kind != "file" or not folder.startswith("/") or "\x00" in folder:
            raise ConfigurationError('blob_store: "database" or "file:/absolute/folder"')
        return Path(folder)

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

    @property
    def agent_origin(self) -> str:
        """The signing agent's origin (``scheme://host:port``), for the CSP."""
        parts = urlsplit(self.agent_url)
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


def _seconds(value: object, key: str = "audit_anchor_seconds") -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise ConfigurationError(f"{key}: a whole number of seconds")


def _count(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise ConfigurationError("notification_attempts: a whole number")


def _list(raw: Mapping[str, object], key: str, what: str) -> tuple[str, ...]:
    """A TOML list, or a comma-separated environment value."""
    value = raw.get(key, ())
    if isinstance(value, str):
        value = tuple(p.strip() for p in value.split(",") if p.strip())
    if not isinstance(value, list | tuple) or not all(isinstance(p, str) for p in value):
        raise ConfigurationError(f"{key}: {what}")
    return tuple(value)


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
    proxies = _list(raw, "trusted_proxies", "a list of addresses")
    metrics_from = (
        _list(raw, "metrics_from", "a list of addresses")
        if "metrics_from" in raw
        else DEFAULT_METRICS_FROM
    )
    crls = _list(raw, "certificate_crls", "a list of CRL files")

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
    issuer_file, cards_dir = text("cap_issuer_file", None), text("demo_cards_dir", None)
    outbox = text("outbox", None)
    anchors = text("certificate_anchors", None)
    demo = _bool(raw.get("demo", False), "demo")
    checkpoints = text("audit_checkpoint_file", None)
    signer = text("audit_checkpoint_key_file", None)
    return Settings(
        database_url=text("database_url", DEFAULT_DATABASE) or DEFAULT_DATABASE,
        policy=Path(text("policy", str(DEFAULT_POLICY)) or DEFAULT_POLICY),
        master_key_file=Path(key_file) if key_file else None,
        public_url=text("public_url", DEFAULT_PUBLIC_URL) or DEFAULT_PUBLIC_URL,
        trusted_proxies=tuple(proxies),
        metrics_from=metrics_from,
        smtp_url=text("smtp_url", None),
        sms_url=text("sms_url", None),
        outbox=Path(outbox) if outbox else None,
        demo=demo,
        cap_issuer_file=Path(issuer_file) if issuer_file else None,
        cap_issuer_passphrase=text("cap_issuer_passphrase", None),
        demo_cards_dir=Path(cards_dir) if cards_dir else None,
        agent_url=text("agent_url", DEFAULT_AGENT_URL) or DEFAULT_AGENT_URL,
        certificate_anchors=Path(anchors) if anchors else None,
        certificate_crls=tuple(Path(c) for c in crls),
        certificate_revocation=text("certificate_revocation", "fail_closed") or "fail_closed",
        certificate_header=text("certificate_header", DEFAULT_CERTIFICATE_HEADER)
        or DEFAULT_CERTIFICATE_HEADER,
        rate_limits_enabled=_bool(raw.get("rate_limits_enabled", True), "rate_limits_enabled"),
        rate_limits=tuple(sorted(table.items())),
        audit_anchor_seconds=_seconds(raw.get("audit_anchor_seconds", 60 if demo else 0)),
        audit_checkpoint_file=Path(checkpoints) if checkpoints else None,
        audit_checkpoint_key_file=Path(signer) if signer else None,
        notification_attempts=_count(raw.get("notification_attempts", 8)),
        blob_store=text("blob_store", "database") or "database",
        api_token_seconds=_seconds(raw.get("api_token_seconds", 600), "api_token_seconds"),
        code_letters_dir=Path(letters) if (letters := text("code_letters_dir", None)) else None,
        clock_mark_ms=_seconds(raw.get("clock_mark_ms", 1000), "clock_mark_ms"),
    )
