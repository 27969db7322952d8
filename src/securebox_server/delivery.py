"""The gateways that carry one-time codes, from the settings' URLs.

* ``smtp_url``: ``smtp://[user:password@]host[:port]?from=sender@bank.example`` sends
  e-mail through a relay with STARTTLS (certificate verified; port 587 by default);
  ``smtp+plain://host[:port]?from=...`` without TLS, for a relay on loopback only (the
  library's :class:`~securebox_auth.shell.gateways.SmtpGateway` refuses any other host).
* ``sms_url``: ``https://TOKEN@sms.example/v1/send`` posts each SMS to the provider's
  webhook with ``Authorization: Bearer TOKEN`` (the token is taken out of the URL);
  ``http://`` is accepted for a loopback address only.
* In demo mode only, ``outbox`` names a JSON-lines file
  (:class:`~securebox_auth.shell.gateways.FileOutbox`) that receives the channels without a
  gateway, so a demo can log in by SMS and e-mail without a provider.

Each URL is checked when the settings are built: a bad URL stops the start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from securebox_auth.errors import ConfigurationError
from securebox_auth.shell.gateways import FileOutbox, Gateway, HttpSmsGateway, SmtpGateway

__all__ = ["build_gateways", "sms_gateway", "smtp_gateway"]

_SMTP_SCHEMES: Final = {"smtp": True, "smtp+plain": False}


def smtp_gateway(url: str) -> SmtpGateway:
    """The e-mail gateway of ``smtp_url`` (see the module documentation)."""
    try:
        parts = urlsplit(url)
        port = parts.port or 587
    except ValueError:
        raise ConfigurationError("smtp_url: smtp://host:port?from=sender@domain") from None
    starttls = _SMTP_SCHEMES.get(parts.scheme)
    sender = parse_qs(parts.query).get("from", [""])[0]
    if starttls is None or not parts.hostname or not sender:
        raise ConfigurationError("smtp_url: smtp://host:port?from=sender@domain")
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return SmtpGateway(
        host=parts.hostname,
        port=port,
        sender=sender,
        starttls=starttls,
        username=user,
        password=password,
    )


def sms_gateway(url: str) -> HttpSmsGateway:
    """The SMS gateway of ``sms_url``: the token is the URL's user (or password) part."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ConfigurationError("sms_url: https://TOKEN@sms.example/path") from None
    token = unquote(parts.password or parts.username or "")
    if not parts.hostname or not token:
        raise ConfigurationError("sms_url: https://TOKEN@sms.example/path")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = host if port is None else f"{host}:{port}"
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    return HttpSmsGateway(url=bare, token=token)


def build_gateways(
    smtp_url: str | None, sms_url: str | None, outbox: Path | None
) -> dict[str, Gateway]:
    """The ``from_policy(gateways=...)`` mapping: a channel without a gateway is not offered."""
    gateways: dict[str, Gateway] = {}
    if smtp_url:
        gateways["email"] = smtp_gateway(smtp_url)
    if sms_url:
        gateways["sms"] = sms_gateway(sms_url)
    if outbox is not None:
        box = FileOutbox(outbox)
        gateways.setdefault("email", box)
        gateways.setdefault("sms", box)
    return gateways
