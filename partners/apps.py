from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "partners"
    verbose_name = "Partners"

    def ready(self) -> None:
        # The receivers that keep cached keys true.
        from partners import receivers  # noqa: F401
