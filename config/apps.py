from django.contrib.admin.apps import AdminConfig


class ControlPlaneAdminConfig(AdminConfig):
    """The Django admin, with the control plane's own site as the default site."""

    default_site = "perfmon.admin_site.ControlPlaneAdminSite"
