from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "search"
    verbose_name = "Search"

    def ready(self) -> None:
        # Connects the receivers: search listens to the catalog, never the other way round.
        from search import receivers  # noqa: F401
