"""Feature flags and load shedding: which non-essential parts of pages are shown right now."""

from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class FeaturesConfig(AppConfig):
    name = "cloudshelf.features"
    label = "features"
    verbose_name = "Features and load shedding"

    def ready(self) -> None:
        from cloudshelf.features.services import feature_flags_publish_after_migrate

        # Every deploy migrates: the flags are published to Redis again even if Redis lost them.
        post_migrate.connect(feature_flags_publish_after_migrate, sender=self)
