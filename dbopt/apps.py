from django.apps import AppConfig


class DboptConfig(AppConfig):
    name = "dbopt"
    verbose_name = "Database optimization"
    default_auto_field = "django.db.models.BigAutoField"
