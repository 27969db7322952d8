"""The JSON shapes of the box's APIs under ``/api/v1`` (pydantic models, published in the
OpenAPI 3.1 document): a sender's publication and what it published, a receiver's event
feed, and the documents a user or a receiver reads. Times are RFC 3339 in UTC; digests
are the SHA-256 of the body in lowercase hex; cursors are opaque strings."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from securebox_server.box.model import FeedKind, Status

__all__ = [
    "MAX_BATCH_ITEMS",
    "MAX_COMPANIES",
    "BatchIn",
    "BatchItemIn",
    "BatchItemOut",
    "BatchOut",
    "CompanyResult",
    "DocumentOut",
    "DocumentPage",
    "DocumentTypeOut",
    "FeedEventOut",
    "FeedPage",
    "PublicationOut",
    "PublishMetadata",
    "ReadOut",
    "SentDocumentOut",
    "SentPage",
    "TypesOut",
]

#: The companies one publication may name (a broadcast to more is several requests).
MAX_COMPANIES = 1000
#: The publications one batch may carry (``box.batches.MAX_BATCH``).
MAX_BATCH_ITEMS = 100
SIREN_PATTERN = r"^[0-9]{9}$"
#: A sender's document type: what ``box_document_types.type`` holds.
TYPE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"


class PublishMetadata(BaseModel):
    """The ``metadata`` part of a publication (JSON): which of the sender's document types,
    its label and date, and the companies (SIREN) it goes to: one, or many (a broadcast of
    the same body, one document per company)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str = Field(pattern=TYPE_PATTERN, description="One of the sender's document types")
    label: str = Field(min_length=1, max_length=200, description="What the user sees")
    issued_at: AwareDatetime = Field(description="The document's own date (RFC 3339)")
    companies: list[str] = Field(
        min_length=1,
        max_length=MAX_COMPANIES,
        description="SIREN numbers (9 digits, Luhn checked); duplicates count once",
    )


class CompanyResult(BaseModel):
    """The outcome for one company: a document, or why none was made (``paper``: the
    company receives its documents on paper; ``unknown_company``: no subscription holds
    it)."""

    company: str
    status: Literal["published", "refused"]
    document_id: str | None = None
    reason: Literal["paper", "unknown_company"] | None = None


class PublicationOut(BaseModel):
    """A publication's answer (the same, byte for byte, when replayed with its
    ``Idempotency-Key``: the ``Idempotent-Replayed: true`` header tells a replay)."""

    digest: str = Field(description="SHA-256 of the PDF, lowercase hex")
    size: int
    results: list[CompanyResult]


class BatchItemIn(PublishMetadata):
    """One publication of a batch: a publication's metadata, its own idempotency key (as
    the ``Idempotency-Key`` header of one publication: one per document) and the name of
    the multipart part carrying its PDF."""

    idempotency_key: str = Field(
        min_length=1, max_length=100, description="One per document, as Idempotency-Key"
    )
    file: str = Field(
        pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="The name of the part holding the PDF"
    )


class BatchIn(BaseModel):
    """The ``metadata`` part of a batch (JSON): its publications, in order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    items: list[BatchItemIn] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)


class BatchItemOut(PublicationOut):
    """One item's answer, in the order given: ``replayed`` when its key was committed
    before with the same request (its earlier answer, nothing published again)."""

    idempotency_key: str
    replayed: bool


class BatchOut(BaseModel):
    """A batch's answer: every item published (or replayed) in one durable commit."""

    items: list[BatchItemOut]


class DocumentTypeOut(BaseModel):
    type: str
    title: str
    theme: str
    validity_days: int | None = Field(description="None: valid without end")
    warning_days: int
    retention_class: str
    retention_years: int


class TypesOut(BaseModel):
    types: list[DocumentTypeOut]


class SentDocumentOut(BaseModel):
    """A document as its sender sees it: where it went, its clocks, and whether it was read
    (when first; never by whom)."""

    id: str
    company: str
    type: str
    label: str
    issued_at: datetime
    published_at: datetime
    valid_until: datetime | None
    status: Status
    digest: str
    size: int
    read: bool
    first_read_at: datetime | None = None


class SentPage(BaseModel):
    documents: list[SentDocumentOut]
    #: The cursor of the next page (``?cursor=``); absent on the last page.
    next: str | None = None


class FeedEventOut(BaseModel):
    seq: int = Field(description="Increasing, per subscription; resume with ?after=seq")
    kind: FeedKind
    document_id: str
    company: str
    at: datetime


class FeedPage(BaseModel):
    events: list[FeedEventOut]
    #: Pass it as ``?after=`` next time (the last sequence number this page covered: events
    #: of other companies are skipped, never re-sent).
    next: int
    #: More events are already there: ask again at once.
    more: bool


class DocumentOut(BaseModel):
    """A document's metadata (never its body: ``GET .../content``)."""

    id: str
    company: str
    sender: str
    type: str
    theme: str
    label: str
    issued_at: datetime
    published_at: datetime
    valid_until: datetime | None
    digest: str = Field(description="SHA-256 of the body, lowercase hex")
    sender_name: str | None = Field(
        default=None, description="The sender's display name (its registered API client's)"
    )
    theme_label: str | None = Field(
        default=None, description="The theme's label in the request's language, else its id"
    )
    size: int
    media_type: str
    filename: str
    #: Read by the caller (user or service account).
    read: bool
    first_read_at: datetime | None = None


class DocumentPage(BaseModel):
    documents: list[DocumentOut]
    next: str | None = None


class ReadOut(BaseModel):
    id: str
    read: Literal[True]
