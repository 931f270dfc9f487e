"""The flags in the admin: each feature's effective state and why; only "enabled" and the note are editable."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.models import User
from django.http import HttpRequest

from cloudshelf.features.models import FeatureFlag
from cloudshelf.features.selectors import feature_state
from cloudshelf.features.services import feature_flag_set, feature_flags_ensure


@admin.register(FeatureFlag)
class FeatureFlagAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """One row per registered feature (made by the migration): no adding, no deleting.

    Saving goes through ``feature_flag_set`` (publish and page retirement on commit);
    Django's admin log records each change with its author. A feature forced by
    ``FEATURE_<NAME>`` in the environment is shown locked: the flag would have no effect.
    """

    list_display = ("name", "effective_state", "decided_by", "is_enabled", "note", "changed_by", "changed_at")
    fields = ("name", "effective_state", "decided_by", "is_enabled", "note", "changed_by", "changed_at")
    readonly_fields = ("name", "effective_state", "decided_by", "changed_by", "changed_at")

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        if self.has_view_or_change_permission(request):  # staff without the permission write nothing
            feature_flags_ensure()
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: FeatureFlag | None = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: FeatureFlag | None = None) -> tuple[str, ...]:
        if obj is not None and feature_state(obj.name).is_locked:
            return (*self.readonly_fields, "is_enabled", "note")
        return self.readonly_fields

    @admin.display(description="shown now")
    def effective_state(self, flag: FeatureFlag) -> str:
        return "on" if feature_state(flag.name).is_enabled else "off"

    @admin.display(description="decided by")
    def decided_by(self, flag: FeatureFlag) -> str:
        state = feature_state(flag.name)
        if state.is_locked:
            return "environment (locked)"
        return state.source

    def save_model(self, request: HttpRequest, obj: FeatureFlag, form: Any, change: bool) -> None:
        user = request.user if isinstance(request.user, User) else None
        saved = feature_flag_set(name=obj.name, is_enabled=obj.is_enabled, note=obj.note, user=user)
        obj.pk, obj.changed_by, obj.changed_at = saved.pk, saved.changed_by, saved.changed_at
