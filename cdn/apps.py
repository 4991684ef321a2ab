from django.apps import AppConfig


class CdnConfig(AppConfig):
    name = "cdn"
    verbose_name = "CDN and assets"
    default_auto_field = "django.db.models.BigAutoField"
