from django.apps import AppConfig


class PerfmonConfig(AppConfig):
    name = "perfmon"
    verbose_name = "Performance monitoring"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers system checks)
        from .host_metrics import register_host_metrics

        register_host_metrics()
