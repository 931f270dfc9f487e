from django.apps import AppConfig


class PartnerApiConfig(AppConfig):
    name = "cloudshelf.api"
    label = "api"
    verbose_name = "Partner API"

    def ready(self) -> None:
        # Registers the OpenAPI description of the key authentication with drf-spectacular,
        # and the receivers that keep cached keys true.
        from cloudshelf.api import receivers, schema  # noqa: F401
