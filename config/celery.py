"""The Celery app. Configuration comes from Django settings (CELERY_* names)."""
import os
from pathlib import Path

from celery import Celery
from celery.signals import worker_init, beat_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("controlplane")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _ensure_filesystem_folders(**_kwargs) -> None:
    """kombu's filesystem transport needs its folders to exist before it polls them."""
    from django.conf import settings

    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)
    backend = getattr(settings, "CELERY_RESULT_BACKEND", "") or ""
    if backend.startswith("file://"):
        Path(backend[len("file://"):]).mkdir(parents=True, exist_ok=True)


worker_init.connect(_ensure_filesystem_folders)
beat_init.connect(_ensure_filesystem_folders)


@app.on_after_configure.connect
def _prepare(sender, **_kwargs):
    _ensure_filesystem_folders()
