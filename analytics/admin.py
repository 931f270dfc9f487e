"""Search logs and real-user timings are read-only in the admin: records of what happened."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from analytics.models import RumBeacon, SearchLog


@admin.register(SearchLog)
class SearchLogAdmin(admin.ModelAdmin):
    list_display = ["query", "result_count", "is_zero_result", "latency_ms", "backend", "searched_at"]
    list_filter = ["is_zero_result", "backend", "searched_at"]
    search_fields = ["query"]
    date_hierarchy = "searched_at"
    show_full_result_count = False

    # A log is a record of what happened: nobody adds, edits or deletes entries here (no
    # "Delete selected" action either); old entries are pruned by the retention job, not by hand.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: SearchLog | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: SearchLog | None = None) -> bool:
        return False


@admin.register(RumBeacon)
class RumBeaconAdmin(admin.ModelAdmin):
    list_display = ["route_name", "route_class", "ttfb_ms", "lcp_ms", "inp_ms", "cls", "navigation_type", "received_at"]
    list_filter = ["route_class", "navigation_type", "effective_connection_type", "received_at"]
    date_hierarchy = "received_at"
    show_full_result_count = False

    # Measurements as the browsers sent them: nobody adds, edits or deletes them by hand (retention prunes).
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: RumBeacon | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: RumBeacon | None = None) -> bool:
        return False
