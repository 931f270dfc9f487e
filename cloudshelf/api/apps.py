from django.apps import AppConfig


class PartnerApiConfig(AppConfig):
    name = "cloudshelf.api"
    # The label stays "api": its migrations created the partners' tables (now the
    # ``partners`` app's models, see partners/migrations/0001_initial.py).
    label = "api"
    verbose_name = "Partner API"

    def ready(self) -> None:
        # Registers the OpenAPI description of the key authentication with drf-spectacular.
        from cloudshelf.api import schema  # noqa: F401
