from django.apps import AppConfig


class PartnerApiConfig(AppConfig):
    name = "cloudshelf.api"
    label = "api"
    verbose_name = "Partner API"

    def ready(self) -> None:
        # Registers the OpenAPI description of the key authentication with drf-spectacular.
        from cloudshelf.api import schema  # noqa: F401
