"""Build the library's entry point from :class:`~securebox_server.settings.Settings`: the
master key, the SQL store (the library's and the server's tables migrated), the gateways,
and ``Securebox.from_policy``; and the rate limits (:func:`build_limits`)."""

from __future__ import annotations

import ipaddress
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from securebox_auth.clock import Clock, SystemClock
from securebox_auth.crypto.hashing import PROFILE_2026, Argon2Parameters
from securebox_auth.emv.issuer import IssuerKeyProvider, SoftwareIssuerKeys
from securebox_auth.errors import ConfigurationError
from securebox_auth.factors.cert_enrol import Revocation
from securebox_auth.factors.passkey_model import RelyingParty
from securebox_auth.factors.x509_chain import TrustSettings
from securebox_auth.factors.x509_revocation import CrlCache, RevocationPolicy, add_crl
from securebox_auth.factors.x509_trust import CertificateRejected
from securebox_auth.shell.answers import CertificateSettings
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.shell.monotonic import MonotonicClock
from securebox_auth.shell.securebox import Securebox
from securebox_auth.shell.sql import open_sql_store
from securebox_auth.stores.sql.catalogue import SqlCatalogue
from securebox_auth.stores.sql.clock_mark import SqlClockMarks
from securebox_auth.stores.sql.store import SqlStore
from securebox_server.api.keys import token_keys
from securebox_server.box.blobs import BlobStore, DatabaseBlobs, FileBlobs
from securebox_server.box.documents import DocumentStore
from securebox_server.db import migrate as server_migrate
from securebox_server.delivery import build_gateways
from securebox_server.rate_limits import Limiter, LoginLimits, SqlRateLimitStorage
from securebox_server.rate_limits.storage import open_rate_limit_engine
from securebox_server.settings import Settings
from securebox_server.throttle import NoLimits, RateLimits
from securebox_server.web import metrics

__all__ = [
    "DEMO_ISSUER_PASSPHRASE",
    "build_documents",
    "build_limits",
    "build_securebox",
    "certificate_settings",
    "load_cap_issuer",
    "load_master_key",
    "migrate_database",
    "monotonic_clock",
    "relying_party",
    "write_master_key",
]

#: The demo issuer's passphrase when none is set (its keys are fake and local).
DEMO_ISSUER_PASSPHRASE = "securebox-demo"  # noqa: S105 - the demo's, as `securebox card new`


def migrate_database(url: str) -> None:
    """Both histories up to their newest revision: the library's store, then the server's
    tables (``securebox serve`` runs it once before the workers start)."""
    from securebox_auth.stores.sql import migrate as store_migrate  # noqa: PLC0415
    from securebox_auth.stores.sql.engine import create_engine  # noqa: PLC0415

    engine = create_engine(url)
    try:
        store_migrate.upgrade(engine)
        server_migrate.upgrade(engine)
    finally:
        engine.dispose()


def write_master_key(path: Path) -> None:
    """A fresh master key file (``m1:<64 hex>``), readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(f"m1:{secrets.token_hex(32)}\n")


def load_master_key(settings: Settings) -> DerivedKeys:
    """The deployment's keys; in demo mode a missing key file is generated."""
    path = settings.master_key_file
    if path is None:
        if not settings.demo:
            raise ConfigurationError("master_key_file: required outside demo mode")
        return DerivedKeys.generate()
    if not path.exists() and settings.demo:
        write_master_key(path)
    try:
        spec = path.read_text(encoding="ascii").strip()
    except OSError as exc:
        raise ConfigurationError(f"master_key_file: cannot read ({exc.strerror})") from None
    return DerivedKeys.from_hex(spec)


def load_cap_issuer(settings: Settings) -> IssuerKeyProvider | None:
    """The CAP card keys of ``cap_issuer_file`` (none: CAP login is not available); in
    demo mode a missing file is generated, under the demo passphrase unless one is set."""
    path = settings.cap_issuer_file
    if path is None:
        return None
    passphrase = settings.cap_issuer_passphrase or (DEMO_ISSUER_PASSPHRASE if settings.demo else "")
    if not passphrase:
        raise ConfigurationError("cap_issuer_passphrase: required with cap_issuer_file")
    if settings.demo and not path.exists():
        SoftwareIssuerKeys.generate().save(path, passphrase)
    return SoftwareIssuerKeys.load(path, passphrase)


def relying_party(settings: Settings) -> RelyingParty | None:
    """The passkeys' relying party: id the public URL's host, origin the public origin.
    ``None`` (no passkeys) when browsers would refuse it: an http URL other than
    ``localhost``, or an IP address (WebAuthn rp ids are domain names)."""
    host = urlsplit(settings.public_url).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return None
    try:
        return RelyingParty(id=host, name="securebox", origins=frozenset({settings.origin}))
    except ConfigurationError:
        return None


def _read(path: Path, key: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"{key}: cannot read {path} ({exc.strerror})") from None


def certificate_settings(settings: Settings, now: datetime) -> CertificateSettings | None:
    """The anchors, CRLs and revocation rule of certificate logins (``certificate_*``
    settings); ``None`` without anchors. Each CRL must be signed by a certificate of the
    anchors bundle and current at ``now``."""
    path = settings.certificate_anchors
    if path is None:
        return None
    trust = TrustSettings.from_pem(_read(path, "certificate_anchors"))
    crls = CrlCache()
    for crl_path in settings.certificate_crls:
        data = _read(crl_path, "certificate_crls")
        for issuer in trust.anchors:
            try:
                crls = add_crl(crls, data, issuer, now=now)
                break
            except CertificateRejected:
                continue
        else:
            raise ConfigurationError(
                f"certificate_crls: {crl_path} is unreadable, not current, or not signed by "
                "a certificate of the anchors bundle"
            )
    policy = RevocationPolicy(settings.certificate_revocation)
    return CertificateSettings(trust, Revocation(crls=crls, policy=policy))


def monotonic_clock(settings: Settings, store: SqlStore, clock: Clock | None) -> MonotonicClock:
    """The clock of security decisions (ADR 0042): ``clock`` (the system's by default) that
    never goes back, its high-water mark shared with the other processes on the store's
    database every ``clock_mark_ms`` at most, and the stored mark adopted now. A clock that
    already is one is kept."""
    if isinstance(clock, MonotonicClock):
        return clock
    interval = timedelta(milliseconds=settings.clock_mark_ms)
    marks = SqlClockMarks(store.engine)
    monotonic = MonotonicClock(clock or SystemClock(), marks, interval=interval)
    monotonic.load()
    return monotonic


def build_securebox(
    settings: Settings,
    *,
    clock: Clock | None = None,
    argon2: Argon2Parameters = PROFILE_2026,
    keys: DerivedKeys | None = None,
    cap_issuer: IssuerKeyProvider | None = None,
) -> Securebox:
    """The entry point on the settings' database (both histories migrated at start-up:
    the library's store and the server's own tables); ``cap_issuer`` replaces the settings'
    CAP issuer keys (an HSM's provider, a test's)."""
    keys = keys or load_master_key(settings)
    cap_issuer = cap_issuer or load_cap_issuer(settings)
    store = open_sql_store(settings.database_url, audit_keys=keys.audit_keyring(), migrate=True)
    server_migrate.upgrade(store.engine)
    gateways = build_gateways(settings.smtp_url, settings.sms_url, settings.outbox)
    wall = clock or SystemClock()
    # The issuer is the public origin: the signing agent checks a certificate challenge's
    # audience against the page's origin (ADR 0025).
    return Securebox.from_policy(
        Path(settings.policy),
        store=store,
        keys=keys,
        clock=monotonic_clock(settings, store, wall),
        argon2=argon2,
        cap_issuer=cap_issuer,
        gateways=gateways,
        issuer=settings.origin,
        relying_party=relying_party(settings),
        certificates=certificate_settings(settings, wall.now()),
        token_keys=token_keys(keys.master),  # the same in every worker (api/keys.py)
    )


def build_limits(settings: Settings, clock: Clock) -> tuple[RateLimits, LoginLimits | None]:
    """The named limits over the settings' database (ADR 0026) and the login's budgets on
    them, or no limit when ``rate_limits_enabled`` is false (tests, demo mode only). The
    tables must exist (:func:`build_securebox` migrates them)."""
    if not settings.rate_limits_enabled:
        return NoLimits(), None
    engine = open_rate_limit_engine(settings.database_url)
    metrics.watch_pool("rate_limits", engine)
    storage = SqlRateLimitStorage(engine, clock=clock)
    limiter = Limiter(storage, settings.limits())
    return limiter, LoginLimits(limiter)


def build_documents(settings: Settings, box: Securebox) -> DocumentStore | None:
    """The digital box's documents on the store's engine, bodies where ``blob_store``
    says (ADR 0030); ``None`` when the library's store is not a SQL store."""
    store = box.store
    if not isinstance(store, SqlStore):
        return None
    folder = settings.blob_folder
    blobs: BlobStore = (
        DatabaseBlobs(store.engine) if folder is None else FileBlobs(store.engine, folder)
    )
    return DocumentStore(store.engine, box, blobs, SqlCatalogue(store.engine))
