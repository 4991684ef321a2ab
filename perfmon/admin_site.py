"""The admin as the operator's console: the index is the live dashboard, and its
one-click actions go through a confirmation page that calls the same services as
the API. Only staff get in (Django's AdminSite rule)."""
from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse


class ControlPlaneAdminSite(admin.AdminSite):
    site_header = getattr(settings, "ADMIN_SITE_TITLE", "Control plane")
    site_title = "Control plane"
    index_title = "Performance console"
    index_template = "admin/controlplane/index.html"

    def get_urls(self):
        return [path("console/<str:action>/", self.admin_view(self.console_action), name="console-action"),
                *super().get_urls()]

    def console_action(self, request, action: str):
        from perfmon.console import ACTIONS, ConsoleInputError

        spec = ACTIONS.get(action)
        if spec is None:
            raise Http404(f"no console action {action!r}")
        source = request.POST if request.method == "POST" else request.GET
        try:
            params = spec.parse(source)
        except ConsoleInputError as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(reverse("admin:index"))
        if request.method == "POST" and source.get("confirm") == "yes":
            from perfmon.errors import ActionError

            try:
                done = spec.run(params, actor=request.user, reason=source.get("reason", "") or "admin console")
                messages.success(request, done)
            except ActionError as exc:
                messages.error(request, exc.message)
            return HttpResponseRedirect(reverse("admin:index"))
        context = {**self.each_context(request), "title": spec.title, "action": action,
                   "description": spec.describe(params), "params": params}
        return TemplateResponse(request, "admin/controlplane/confirm.html", context)
