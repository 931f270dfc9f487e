from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        from catalog import page_tags  # noqa: F401  (receivers: changes retire kept pages)
        from catalog.hot import reads, receivers  # noqa: F401  (the dynamodb breaker; receivers: hot syncs)
        from catalog.personal import review_compose
        from cloudshelf.edge.slots import register_slot

        register_slot("review_compose", review_compose)
