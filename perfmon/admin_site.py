from django.conf import settings
from django.contrib import admin


class ControlPlaneAdminSite(admin.AdminSite):
    """The admin as the operator's console; only staff get in (Django's default)."""

    site_header = getattr(settings, "ADMIN_SITE_TITLE", "Control plane")
    site_title = "Control plane"
    index_title = "Performance console"
