"""The digital box's values: document types, documents, drafts, publications, reads, feed
events, and the box's errors (all :class:`~securebox_auth.errors.SecureboxError`)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Final

from securebox_auth.entitlements.model import Theme
from securebox_auth.errors import MalformedInput, SecureboxError
from securebox_auth.identity import ClientId, Principal, Siren
from securebox_server.box.upload import CheckedUpload

__all__ = [
    "BodyCorrupted",
    "BoxDocument",
    "CheckedUpload",
    "DeletionRefused",
    "DocumentNotFound",
    "DocumentType",
    "Draft",
    "FeedEvent",
    "FeedKind",
    "IdempotencyConflict",
    "Outcome",
    "Publication",
    "Read",
    "ReadKind",
    "Status",
    "UnknownDocumentType",
]

_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_KEY: Final = re.compile(r"[\x21-\x7e]{1,100}")
_DIGEST: Final = re.compile(r"[0-9a-f]{64}")
#: Retention classes are short names a sender's archivist chooses (``accounting``, ``tax``).
_CLASS: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


def sender_name(value: object) -> str:
    """A sender or document type name: 1-64 of ``A-Z a-z 0-9 _ . : -``."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise MalformedInput("a sender or type name is 1-64 of A-Z a-z 0-9 _ . : -")
    return value


def idempotency_key(value: object) -> str:
    """An idempotency key: 1-100 visible ASCII characters."""
    if not isinstance(value, str) or not _KEY.fullmatch(value):
        raise MalformedInput("an idempotency key is 1-100 visible ASCII characters")
    return value


class Status(enum.StrEnum):
    LIVE = "live"
    #: validity over: no longer listed to readers, the body kept while retention runs
    EXPIRED = "expired"
    #: a tombstone: the body removed, the row and its audit events kept
    DELETED = "deleted"


class ReadKind(enum.StrEnum):
    VIEW = "view"
    DOWNLOAD = "download"


class FeedKind(enum.StrEnum):
    NEW = "document.new"
    READ = "document.read"
    EXPIRY_WARNING = "document.expiry_warning"
    DELETED = "document.deleted"


@dataclass(frozen=True, slots=True)
class DocumentType:
    """What a sender publishes under one type: its theme, validity (days; ``None``: no
    end), the warning before expiry (days), and its legal retention (class, years counted
    from the document's date)."""

    sender: str
    type: str
    title: str
    theme: Theme
    validity_days: int | None
    warning_days: int
    retention_class: str
    retention_years: int

    def __post_init__(self) -> None:
        sender_name(self.sender)
        sender_name(self.type)
        if not isinstance(self.title, str) or not 1 <= len(self.title.strip()) <= 200:
            raise MalformedInput("a document type's title is 1-200 characters")
        if not isinstance(self.theme, Theme):
            raise MalformedInput("a document type is filed under a theme")
        if self.validity_days is not None and not 1 <= self.validity_days <= 36_600:
            raise MalformedInput("validity_days is 1-36600 days, or none")
        if not 0 <= self.warning_days <= 3_660:
            raise MalformedInput("warning_days is 0-3660 days")
        if not isinstance(self.retention_class, str) or not _CLASS.fullmatch(self.retention_class):
            raise MalformedInput("a retention class is 1-40 of a-z 0-9 _ -")
        if not 0 <= self.retention_years <= 100:
            raise MalformedInput("retention_years is 0-100")


@dataclass(frozen=True, slots=True)
class Draft:
    """What a sender submits: a document of one of its types, its body checked
    (:func:`~securebox_server.box.upload.check_upload`)."""

    type: str
    label: str
    issued_at: datetime
    upload: CheckedUpload

    def __post_init__(self) -> None:
        sender_name(self.type)
        if not isinstance(self.label, str) or not 1 <= len(self.label.strip()) <= 200:
            raise MalformedInput("a document's label is 1-200 characters")
        if any(ord(c) < 0x20 for c in self.label):
            raise MalformedInput("a document's label has no control characters")
        if self.issued_at.tzinfo is None:
            raise MalformedInput("issued_at carries its time zone")
        if not _DIGEST.fullmatch(self.upload.digest) or self.upload.size != len(self.upload.body):
            raise MalformedInput("the upload's digest and size do not describe its body")


@dataclass(frozen=True, slots=True)
class BoxDocument:
    """A ``box_documents`` row."""

    id: str
    client_id: ClientId
    company: Siren
    sender: str
    type: str
    theme: Theme
    label: str
    issued_at: datetime
    published_at: datetime
    valid_until: datetime | None
    warn_at: datetime | None
    warned_at: datetime | None
    retention_class: str
    retain_until: datetime
    legal_hold: bool
    digest: str
    size: int
    media_type: str
    filename: str
    status: Status
    expired_at: datetime | None = None
    deleted_at: datetime | None = None
    deletion_reason: str | None = None


class Outcome(enum.StrEnum):
    PUBLISHED = "published"
    #: the company is in no subscription
    UNKNOWN_COMPANY = "unknown_company"
    #: the company's subscription receives its documents on paper
    PAPER = "paper"


@dataclass(frozen=True, slots=True)
class Publication:
    """What one publication made, per company (in the order given): a document id, or why
    not. ``replayed``: the answer of an earlier request with the same idempotency key."""

    results: tuple[tuple[Siren, Outcome, str | None], ...]
    replayed: bool = False

    @property
    def document_ids(self) -> tuple[str, ...]:
        return tuple(doc for _, outcome, doc in self.results if doc is not None)


@dataclass(frozen=True, slots=True)
class Read:
    """The first read of a document: who, when and how."""

    reader: Principal
    at: datetime
    how: ReadKind


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One event of a subscription's feed, numbered from 1 without gaps once committed."""

    client_id: ClientId
    seq: int
    kind: FeedKind
    document_id: str
    company: Siren
    at: datetime
    details: tuple[tuple[str, str], ...] = ()


# -- errors ---------------------------------------------------------------------------------


class DocumentNotFound(SecureboxError, LookupError):
    """No such document, or not one the caller may see (the same answer either way)."""

    code: ClassVar[str] = "document_not_found"
    status_hint: ClassVar[int] = 404


class BodyCorrupted(SecureboxError):
    """A stored body does not match its digest: it is never served (an alert is raised)."""

    code: ClassVar[str] = "body_corrupted"
    status_hint: ClassVar[int] = 503


class DeletionRefused(SecureboxError):
    """A legal retention period or a legal hold forbids deleting the document now."""

    code: ClassVar[str] = "deletion_refused"
    status_hint: ClassVar[int] = 409


class UnknownDocumentType(SecureboxError, LookupError):
    code: ClassVar[str] = "unknown_document_type"
    status_hint: ClassVar[int] = 422


class IdempotencyConflict(SecureboxError):
    """An idempotency key already used for another request."""

    code: ClassVar[str] = "idempotency_conflict"
    status_hint: ClassVar[int] = 409
