"""The admin's record of each feature flag: on or off, why, who and when."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from cloudshelf.features.registry import FEATURES


class FeatureFlag(models.Model):
    """One registered feature switched on or off by staff (a missing row means on).

    Only names in ``registry.FEATURES`` may exist (the check constraint refuses others
    even from a raw write), so a typo can never create a flag nothing reads.
    """

    name = models.CharField(max_length=40, unique=True, choices=[(f.name, f.label) for f in FEATURES.values()])
    is_enabled = models.BooleanField(default=True, verbose_name="enabled")
    note = models.CharField(max_length=200, blank=True, help_text="Why it was switched (shown to other staff).")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)
        constraints = [
            models.CheckConstraint(condition=models.Q(name__in=list(FEATURES)), name="feature_flag_known_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name}: {'on' if self.is_enabled else 'off'}"
