from django.apps import AppConfig


class OpsConfig(AppConfig):
    """perfmon's judging half: alerts, notifications, silences, recommendations,
    live settings, reports and the optimize action (kept as its own app so its
    tables and migrations stay apart from the metrics pipeline's)."""

    name = "perfmon.ops"
    label = "ops"
    verbose_name = "Alerts, recommendations and settings"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import builtin  # noqa: F401  (registers perfmon's recommendation rules and passes)
