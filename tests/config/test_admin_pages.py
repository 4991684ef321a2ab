"""Every model of the product has an admin page, and every page renders for staff."""
import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

APPS = ("perfmon", "ops", "scaling", "cdn", "dbopt")
INLINE_ONLY = {"cdn.Variant"}  # shown inside its asset's page


def _models():
    return [m for m in apps.get_models() if m._meta.app_label in APPS]


def test_every_model_is_in_the_admin():
    missing = [m._meta.label for m in _models() if m not in admin.site._registry and m._meta.label not in INLINE_ONLY]
    assert missing == []


@pytest.mark.django_db
def test_every_changelist_renders_for_a_superuser(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password="x-root-pass-1"))
    for model in _models():
        if model not in admin.site._registry:
            continue
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
