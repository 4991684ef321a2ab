from django.apps import AppConfig


class DboptConfig(AppConfig):
    name = "dbopt"
    verbose_name = "Database optimization"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the system checks
        from . import integration

        integration.register()
