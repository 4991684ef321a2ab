from django.apps import AppConfig


class CdnConfig(AppConfig):
    name = "cdn"
    verbose_name = "CDN and assets"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from . import integration
        from .registry import register_cdn_metrics

        register_cdn_metrics()
        integration.register()
