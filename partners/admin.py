"""Staff manage partners and their keys here. Keys are issued and revoked through the services.

Issuing a key shows the raw key once, in a message on the next page; after that only its
prefix is ever shown, because only its hash is stored.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from partners import services
from partners.models import ApiKey, Partner


def _announce_new_key(request: HttpRequest, issued: services.IssuedApiKey) -> None:
    messages.warning(
        request,
        format_html(
            "New API key for {}: <code>{}</code> — copy it now and send it to the partner securely. "
            "It is shown only this once; CloudShelf keeps only a hash of it.",
            issued.api_key.partner,
            issued.raw_key,
        ),
    )


_KEY_COLUMNS = ("prefix", "name", "can_write", "created_at", "last_used_at", "revoked_at")


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    can_delete = False
    show_change_link = True
    fields = _KEY_COLUMNS
    readonly_fields = _KEY_COLUMNS

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # keys are issued with the "Issue a new API key" action, which shows the key once


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "plan", "is_active", "contact_email", "created_at"]
    list_filter = ["plan", "is_active"]
    search_fields = ["name", "contact_email"]
    inlines = [ApiKeyInline]
    actions = ["issue_api_key"]
    fieldsets = [
        (None, {"fields": ["name", "contact_email", "is_active", "notes"]}),
        ("Rate limit", {"fields": ["plan", "custom_rate_per_second", "custom_burst"]}),
    ]

    @admin.action(description="Issue a new API key (shown once)")
    def issue_api_key(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        for partner in queryset.order_by("pk"):
            _announce_new_key(request, services.api_key_create(partner=partner, name="issued in admin"))


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "partner", "name", "can_write", "created_at", "last_used_at", "status"]
    list_filter = ["can_write", ("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["partner"]
    search_fields = ["prefix", "name", "partner__name"]
    autocomplete_fields = ["partner"]
    actions = ["revoke"]

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:  # type: ignore[override]
        if obj is None:
            return ["partner", "name", "can_write"]
        return ["partner", "prefix", "name", "can_write", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is None:
            return []
        return ["partner", "prefix", "created_at", "last_used_at", "revoked_at"]

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        issued = services.api_key_create(partner=obj.partner, name=obj.name, can_write=obj.can_write)
        # The admin's log entry and redirect use ``obj``: make it the issued key.
        obj.pk, obj.prefix, obj.key_hash = issued.api_key.pk, issued.api_key.prefix, issued.api_key.key_hash
        _announce_new_key(request, issued)

    @admin.display(description="status")
    def status(self, api_key: ApiKey) -> SafeString | str:
        return format_html("<strong>revoked</strong> {}", api_key.revoked_at) if api_key.is_revoked else "active"

    @admin.action(description="Revoke selected keys (cannot be undone)")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        keys = list(queryset.filter(revoked_at__isnull=True).order_by("pk"))
        for api_key in keys:
            services.api_key_revoke(api_key=api_key)
        messages.success(request, f"Revoked {len(keys)} key(s); requests made with them now get 401.")
