"""Delivery of out-of-band codes: a :class:`Gateway` Protocol and three implementations.

This is shell code (it does I/O); the core only builds :class:`~securebox_auth.factors.oob.
OobMessage` values. Implementations:

* :class:`SmtpGateway`: e-mail through an SMTP relay with the standard library's
  :mod:`smtplib` (STARTTLS by default; plain SMTP only when asked for, for a relay on the
  same host);
* :class:`HttpSmsGateway`: SMS through an HTTP webhook (a JSON ``POST`` with a bearer
  token) with :mod:`urllib`; ``https`` only, except to a loopback address;
* :class:`FileOutbox`: appends messages to a JSON-lines file, **for demos only** (codes are
  written in clear).

Every failure to hand a message over raises :class:`DeliveryFailed`; its message never
contains the code or the destination.
"""

from __future__ import annotations

import ipaddress
import json
import smtplib
import ssl
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from securebox_auth.errors import ConfigurationError, SecureboxError
from securebox_auth.factors.oob import Channel, OobMessage

__all__ = ["DeliveryFailed", "FileOutbox", "Gateway", "HttpSmsGateway", "SmtpGateway"]


class DeliveryFailed(SecureboxError):
    """The gateway could not hand the message over. Nothing was delivered (as far as we
    know): the shell may offer to send again, within the throttle."""

    code = "delivery_failed"
    status_hint = 502


class Gateway(Protocol):
    def send(self, message: OobMessage) -> None:
        """Hand ``message`` over for delivery, or raise :class:`DeliveryFailed`."""
        ...


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True, kw_only=True)
class SmtpGateway:
    """E-mail through an SMTP relay."""

    host: str
    port: int = 587
    sender: str
    #: STARTTLS with certificate verification. ``False`` only for a relay on loopback.
    starttls: bool = True
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 10.0
    tls_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.starttls and not _loopback(self.host):
            raise ConfigurationError("plain SMTP is only allowed to a relay on loopback")
        if not 0 < self.port < 65536 or "@" not in self.sender:
            raise ConfigurationError("an SMTP gateway needs a port and a sender address")
        if (self.username is None) != (self.password is None):
            raise ConfigurationError("give both an SMTP user name and a password, or neither")

    def send(self, message: OobMessage) -> None:
        if message.channel is not Channel.EMAIL:
            raise ConfigurationError("the SMTP gateway sends e-mail codes only")
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.destination
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2])
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(message.body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=self.tls_context or ssl.create_default_context())
                if self.username is not None and self.password is not None:
                    smtp.login(self.username, self.password)
                refused = smtp.send_message(mail)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(
                f"the SMTP relay did not accept the message ({type(exc).__name__})"
            ) from None
        if refused:
            raise DeliveryFailed("the SMTP relay refused the recipient")


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpSmsGateway:
    """SMS through a provider's HTTP webhook: ``POST url`` with the JSON body
    ``{"to": ..., "text": ..., "reference": ...}`` and ``Authorization: Bearer <token>``;
    any 2xx answer means accepted."""

    url: str
    token: str = field(repr=False)
    timeout: float = 10.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        if parts.scheme != "https" and not (parts.scheme == "http" and _loopback(host)):
            raise ConfigurationError("the SMS webhook must use https (http only on loopback)")
        if not self.token:
            raise ConfigurationError("the SMS webhook needs a token")

    def send(self, message: OobMessage) -> None:
        if message.channel is not Channel.SMS:
            raise ConfigurationError("the SMS gateway sends SMS codes only")
        body = json.dumps(
            {"to": message.destination, "text": message.body, "reference": message.reference}
        ).encode()
        request = urllib.request.Request(  # noqa: S310 (scheme checked in __post_init__)
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.token}",
                "User-Agent": "securebox",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                status = answer.status
        except urllib.error.HTTPError as exc:
            raise DeliveryFailed(f"the SMS webhook answered {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise DeliveryFailed(f"the SMS webhook is unreachable ({type(exc).__name__})") from None
        if not 200 <= status < 300:
            raise DeliveryFailed(f"the SMS webhook answered {status}")


@dataclass(frozen=True, slots=True)
class FileOutbox:
    """Appends each message as one JSON line to ``path``. **Demos only**: the codes are in
    the file in clear."""

    path: Path
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def send(self, message: OobMessage) -> None:
        line = json.dumps(
            {
                "channel": message.channel.value,
                "to": message.destination,
                "subject": message.subject,
                "body": message.body,
                "reference": message.reference,
            }
        )
        try:
            with self._lock, Path(self.path).open("a", encoding="utf-8") as out:
                out.write(line + "\n")
        except OSError as exc:
            raise DeliveryFailed(
                f"the outbox file cannot be written ({type(exc).__name__})"
            ) from None

    def messages(self) -> list[dict[str, str]]:
        """Everything sent so far (for demos and tests)."""
        path = Path(self.path)
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
