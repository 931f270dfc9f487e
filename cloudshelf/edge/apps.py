from django.apps import AppConfig


class EdgeConfig(AppConfig):
    name = "cloudshelf.edge"
    label = "edge"
    verbose_name = "Edge: page cache, HTTP caching, CDN"

    def ready(self) -> None:
        # The personal parts of the site-wide layout (account menu, cart count, messages).
        from cloudshelf import personal  # noqa: F401
        from cloudshelf.edge import cdn  # noqa: F401  (registers the cloudfront circuit breaker)
