from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        # Connects the receivers (analytics only listens) and names the writers of its buffered streams.
        from analytics import receivers  # noqa: F401
        from analytics.events import register_writers
        from analytics.metrics import task_signals  # noqa: F401  # Celery task timing (EMF, slow tasks)
        from analytics.metrics.tracing import setup_tracing
        from analytics.rum.services import register_rum_writer

        register_writers()
        register_rum_writer()
        setup_tracing()  # OpenTelemetry, only when OTEL_TRACES_ENABLED (before the middleware chain is built)
