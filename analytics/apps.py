from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        # Connects the receivers: analytics only listens.
        from analytics import receivers  # noqa: F401
