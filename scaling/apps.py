from django.apps import AppConfig


class ScalingConfig(AppConfig):
    name = "scaling"
    verbose_name = "Auto-scaling"
    default_auto_field = "django.db.models.BigAutoField"
