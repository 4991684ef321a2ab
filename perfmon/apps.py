from django.apps import AppConfig


class PerfmonConfig(AppConfig):
    name = "perfmon"
    verbose_name = "Performance monitoring"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers system checks)
        from . import signals  # noqa: F401  (Celery task run time and failures)
        from .host_metrics import register_host_metrics
        from .traffic_metrics import register_traffic_metrics

        register_host_metrics()
        register_traffic_metrics()
