"""Every write endpoint and every admin action refuses anyone who is not staff, and
changes nothing. The list of write endpoints comes from the OpenAPI schema, so a new
endpoint is covered the day it is added."""
import json
import re

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

PROJECT_APPS = ("perfmon", "ops", "scaling", "cdn", "dbopt", "auth", "authtoken", "django_celery_beat")
# Obtaining a token is the one write that must be open: it is how a user signs in.
PUBLIC_WRITES = {("POST", "/api/auth/token/")}


def row_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()
            if model._meta.app_label in PROJECT_APPS}


def write_operations(client) -> list[tuple[str, str]]:
    schema = json.loads(client.get("/api/schema/", HTTP_ACCEPT="application/json").content)
    ops = []
    for path, item in schema["paths"].items():
        for method in item:
            if method in {"post", "put", "patch", "delete"} and (method.upper(), path) not in PUBLIC_WRITES:
                ops.append((method.upper(), re.sub(r"\{[^}]+\}", "1", path)))
    return ops


def test_every_write_endpoint_refuses_anonymous_and_non_staff_users(client, plain_user):
    ops = write_operations(client)
    assert len(ops) >= 20  # the schema really lists the API's writes
    before = row_counts()
    viewer = Client()
    viewer.force_login(plain_user)
    body = json.dumps({"reason": "hostile", "paths": ["/x"], "instances": 5, "group": "web"})
    for method, path in ops:
        anonymous = getattr(Client(), method.lower())(path, body, content_type="application/json")
        assert anonymous.status_code in (401, 403), (method, path, anonymous.status_code)
        assert anonymous.json()["error"]["status"] == anonymous.status_code
        signed_in = getattr(viewer, method.lower())(path, body, content_type="application/json")
        assert signed_in.status_code == 403, (method, path, signed_in.status_code)
        assert signed_in.json()["error"]["message"] == "This action needs a staff account."
    assert row_counts() == before


def test_non_staff_users_cannot_reach_admin_changelists_or_run_admin_actions(client, plain_user):
    registered = list(admin.site._registry.items())
    assert len(registered) >= 10
    before = row_counts()
    for signed_in in (False, True):
        browser = Client()
        if signed_in:
            browser.force_login(plain_user)
        for model, model_admin in registered:
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
            response = browser.get(url)
            assert response.status_code == 302 and "/admin/login/" in response["Location"], (url, response.status_code)
            for action in model_admin.get_actions(_StaffRequest()) or {"delete_selected": None}:
                response = browser.post(url, {"action": action, "_selected_action": ["1", "2"], "post": "yes"})
                assert response.status_code == 302 and "/admin/login/" in response["Location"], (url, action)
    assert row_counts() == before


class _StaffRequest:
    """Enough of a request for ModelAdmin.get_actions() to list every action a superuser sees."""

    GET: dict = {}

    class user:  # noqa: N801
        is_active = is_staff = is_superuser = True

        @staticmethod
        def has_perm(perm, obj=None):
            return True
