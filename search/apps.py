from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "search"
    verbose_name = "Search"

    def ready(self) -> None:
        # Connects the receivers: search listens to the catalog, never the other way round;
        # and registers the opensearch circuit breaker (cloudshelf.breaker.all_breakers).
        from search import breaker, receivers  # noqa: F401
