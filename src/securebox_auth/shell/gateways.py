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
contains the code or the destination. A failure the relay says is final (an SMTP ``5xx``
answer, an SMS webhook's ``4xx`` other than 408 and 429) raises its subclass
:class:`DeliveryRefused`: sending it again would fail again (a bounce).

Beyond one-time codes, the SMTP gateway sends a prepared :class:`~email.message.EmailMessage`
(:meth:`SmtpGateway.send_mail`, which keeps the caller's ``Message-ID``), and the SMS webhook
a text with an ``Idempotency-Key`` header (:meth:`HttpSmsGateway.send_text`): the jobs
worker's notifications, sent at least once, carry a stable key so a duplicate can be
recognised.
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

__all__ = [
    "DeliveryFailed",
    "DeliveryRefused",
    "FileOutbox",
    "Gateway",
    "HttpSmsGateway",
    "SmtpGateway",
]


class DeliveryFailed(SecureboxError):
    """The gateway could not hand the message over. Nothing was delivered (as far as we
    know): the shell may offer to send again, within the throttle."""

    code = "delivery_failed"
    status_hint = 502


class DeliveryRefused(DeliveryFailed):
    """The relay refused the message for good (SMTP ``5xx``, SMS ``4xx``): do not retry."""

    code = "delivery_refused"


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
        mail["To"] = message.destination
        mail["Subject"] = message.subject
        mail.set_content(message.body)
        self.send_mail(mail)

    def send_mail(self, mail: EmailMessage) -> None:
        """Send ``mail`` (its ``To``, ``Subject`` and body set by the caller); ``From``,
        ``Date``, ``Auto-Submitted`` and a ``Message-ID`` are added when missing."""
        if mail["From"] is None:
            mail["From"] = self.sender
        if mail["Date"] is None:
            mail["Date"] = formatdate(localtime=False)
        if mail["Message-ID"] is None:
            mail["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2])
        if mail["Auto-Submitted"] is None:
            mail["Auto-Submitted"] = "auto-generated"
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=self.tls_context or ssl.create_default_context())
                if self.username is not None and self.password is not None:
                    smtp.login(self.username, self.password)
                refused = smtp.send_message(mail, from_addr=self.sender)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise _smtp_failure(min(codes, default=0), "refused the recipient") from None
        except smtplib.SMTPResponseException as exc:
            raise _smtp_failure(exc.smtp_code, f"answered {exc.smtp_code}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(
                f"the SMTP relay did not accept the message ({type(exc).__name__})"
            ) from None
        if refused:
            raise DeliveryFailed("the SMTP relay refused the recipient")


def _smtp_failure(code: int, what: str) -> DeliveryFailed:
    """A ``5xx`` answer is final (:class:`DeliveryRefused`), anything else may pass later."""
    if 500 <= code < 600:
        return DeliveryRefused(f"the SMTP relay {what} (permanent)")
    return DeliveryFailed(f"the SMTP relay {what}")


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
        self.send_text(message.destination, message.body, reference=message.reference)

    def send_text(
        self, to: str, text: str, *, reference: str, idempotency_key: str | None = None
    ) -> None:
        """Post one SMS; ``idempotency_key`` goes in an ``Idempotency-Key`` header (a
        provider that honours it sends a repeated request once)."""
        body = json.dumps({"to": to, "text": text, "reference": reference}).encode()
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self.token}",
            "User-Agent": "securebox",
        }
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        request = urllib.request.Request(  # noqa: S310 (scheme checked in __post_init__)
            self.url, data=body, method="POST", headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                status = answer.status
        except urllib.error.HTTPError as exc:
            if 400 <= exc.code < 500 and exc.code not in (408, 429):
                raise DeliveryRefused(f"the SMS webhook answered {exc.code}") from None
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
        self._append(
            message.channel.value,
            message.destination,
            message.subject,
            message.body,
            message.reference,
        )

    def send_mail(self, mail: EmailMessage) -> None:
        """The plain-text part of ``mail``, its ``Message-ID`` as the reference, and the
        names and sizes of its attachments (``attachments``, when it has any)."""
        part = mail.get_body(preferencelist=("plain",))
        body = part.get_content() if isinstance(part, EmailMessage) else ""
        attached = [
            f"{a.get_filename() or 'attachment'} ({len(a.get_payload(decode=True) or b'')} bytes)"
            for a in mail.iter_attachments()
        ]
        self._append(
            "email",
            str(mail["To"]),
            str(mail["Subject"]),
            body,
            str(mail["Message-ID"]),
            attachments="; ".join(attached),
        )

    def send_text(
        self, to: str, text: str, *, reference: str, idempotency_key: str | None = None
    ) -> None:
        self._append("sms", to, "", text, idempotency_key or reference)

    def _append(
        self, channel: str, to: str, subject: str, body: str, reference: str, attachments: str = ""
    ) -> None:
        fields = {
            "channel": channel,
            "to": to,
            "subject": subject,
            "body": body,
            "reference": reference,
        }
        if attachments:
            fields["attachments"] = attachments
        line = json.dumps(fields)
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
