"""The portal's own tables: its users, its documents, its payees.

securebox keeps its own tables (flows, sessions, factors, entitlements, audit) in its own
store; the portal links a customer to securebox by the principal (``CLIENT:USER``), which is
the customer's ``username``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.deconstruct import deconstructible
from securebox_auth import ClientId, DocumentRef, Principal, SecureboxError, Siren, Theme


@deconstructible
class SecureboxValue:
    """A model field validator that asks securebox's own type (``Siren``, ``ClientId``,
    ``Theme``) whether a value is valid: the admin refuses what securebox could not read."""

    kinds: ClassVar[dict[str, Callable[[str], object]]] = {
        "siren": Siren,
        "client_id": ClientId,
        "theme": Theme,
    }

    def __init__(self, kind: str) -> None:
        if kind not in self.kinds:
            raise ValueError(f"no securebox type {kind!r}")
        self.kind = kind

    def __call__(self, value: str) -> None:
        try:
            self.kinds[self.kind](value)
        except SecureboxError as exc:
            raise ValidationError(str(exc)) from exc

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecureboxValue) and other.kind == self.kind

    def __hash__(self) -> int:
        return hash(self.kind)


_SIREN = SecureboxValue("siren")
_CLIENT = SecureboxValue("client_id")
_THEME = SecureboxValue("theme")


class UserManager(BaseUserManager["User"]):
    def create_customer(self, principal: Principal, *, name: str = "", mobile: str = "") -> User:
        """A customer of the portal: signed in by securebox only (no Django password)."""
        user = self.model(username=principal.key, name=name, mobile=mobile)
        user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_user(self, username: str, password: str | None = None, **extra: object) -> User:
        user = self.model(username=username, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, username: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(username, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """The portal's user table. A customer's ``username`` is their securebox principal
    (``123456789:01``); a member of staff has a plain name and a password, for the admin."""

    username = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=120, blank=True)
    mobile = models.CharField(max_length=20, blank=True, help_text="where step-up SMS go")
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    joined = models.DateTimeField(auto_now_add=True)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    def __str__(self) -> str:
        return self.name or self.username

    @property
    def principal(self) -> Principal | None:
        """The securebox principal of a customer (``None`` for staff)."""
        client, sep, number = self.username.partition(":")
        return Principal.parse(client, number) if sep else None


class Document(models.Model):
    """A document of a subscription's box: the catalogue facts securebox decides on, and
    the body, which only the portal has."""

    client_id = models.CharField(max_length=9, validators=[_CLIENT])
    company = models.CharField(max_length=9, validators=[_SIREN], help_text="SIREN")
    theme = models.CharField(max_length=40, validators=[_THEME])
    document_id = models.CharField(max_length=64)
    label = models.CharField(max_length=200)
    issued_at = models.DateTimeField()
    body = models.TextField(blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-issued_at", "-document_id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["client_id", "document_id"], name="one_id_per_box")
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["client_id", "company", "theme"], name="document_scope")
        ]

    def __str__(self) -> str:
        return self.label

    def ref(self) -> DocumentRef:
        """The document as securebox sees it, for an entitlement check."""
        return DocumentRef(
            ClientId(self.client_id),
            Siren(self.company),
            Theme(self.theme),
            self.document_id,
            self.label,
            self.issued_at,
        )


class Payee(models.Model):
    """A trusted beneficiary of a company, added only after a step-up linked to it."""

    client_id = models.CharField(max_length=9, validators=[_CLIENT])
    company = models.CharField(max_length=9, validators=[_SIREN])
    iban = models.CharField(max_length=34)
    label = models.CharField(max_length=70)
    added_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="payees_added")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["client_id", "company", "iban"], name="one_payee")
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.iban})"
