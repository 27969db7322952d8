"""Django's admin for the portal's own tables (its staff sign in with a Django password).

Customers' factors, sessions and entitlements are securebox's and are not edited here."""

from __future__ import annotations

from typing import ClassVar

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .models import Document, Payee, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ("username",)
    list_display = ("username", "name", "mobile", "is_staff", "is_active")
    search_fields = ("username", "name")
    list_filter = ("is_staff", "is_active")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Customer", {"fields": ("name", "mobile")}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
    )
    add_fieldsets = ((None, {"fields": ("username", "password1", "password2")}),)
    filter_horizontal = ("groups",)


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ("label", "client_id", "company", "theme", "issued_at")
    list_filter: ClassVar = ("theme",)
    search_fields = ("label", "document_id")


@admin.register(Payee)
class PayeeAdmin(admin.ModelAdmin):
    list_display = ("label", "iban", "client_id", "company", "added_by", "added_at")
    readonly_fields = ("added_by", "added_at")
