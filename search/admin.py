"""Staff edit synonym groups here; an edit reaches every search within a minute (no reindex)."""

from __future__ import annotations

from django.contrib import admin

from search.models import Synonym


@admin.register(Synonym)
class SynonymAdmin(admin.ModelAdmin):
    list_display = ["terms", "is_active", "updated_at"]
    list_editable = ["is_active"]
    list_filter = ["is_active"]
    search_fields = ["terms"]
    fields = ["terms", "is_active"]
