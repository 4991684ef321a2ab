"""docker-compose.yml cannot run here (no Docker engine), so check that what it runs exists."""
import importlib
import re
import shutil
from pathlib import Path

import pytest
import yaml

from config.settings.base import from_environ
from tests.support import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = ["migrate", "web", "worker", "beat"]


def test_every_service_of_the_design_is_there_with_a_health_check():
    assert {"web", "worker", "beat", "db", "redis"} <= set(SERVICES)
    for name in ("web", "worker", "db", "redis"):
        assert "healthcheck" in SERVICES[name], name
    assert SERVICES["db"]["image"] == "postgres:15"
    assert "shared_preload_libraries=pg_stat_statements" in SERVICES["db"]["command"]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_commands_refer_to_things_that_exist(name):
    command = SERVICES[name]["command"]
    if command[0] == "gunicorn":
        config = command[command.index("-c") + 1]
        assert (ROOT / config).is_file()
        module, _, attr = command[-1].partition(":")
        assert hasattr(importlib.import_module(module), attr)
        assert shutil.which("gunicorn", path=str(Path(__import__("sys").executable).parent))
    elif command[0] == "celery":
        app_module = command[command.index("-A") + 1]
        assert importlib.import_module(app_module).celery_app.main == "controlplane"
        assert command[command.index("-A") + 2] in {"worker", "beat"}
    else:
        assert command[:2] == ["python", "manage.py"]
        from django.core.management import get_commands

        assert command[2] in get_commands()


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_environment_is_accepted_by_the_settings(name):
    env = dict(SERVICES[name]["environment"])
    assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.base"
    importlib.import_module(env["DJANGO_SETTINGS_MODULE"])
    resolved = {}
    for key, value in env.items():
        # ${VAR:-default} -> default; ${VAR:?message} must be supplied by the operator.
        value = str(value)
        match = re.fullmatch(r"\$\{(\w+)(:-([^}]*)|:\?[^}]*)?\}", value)
        if match:
            value = match.group(3) if match.group(3) is not None else "operator-supplied-" + "x1!Y2@z3#" * 6
        resolved[key] = value
    settings = from_environ(resolved)
    assert settings["DATABASES"]["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert settings["DATABASES"]["default"]["HOST"] == "db"
    assert settings["CELERY_BROKER_URL"].startswith("redis://redis:6379")
    dockerfile = SERVICES[name]["build"]["dockerfile"]
    assert (ROOT / dockerfile).is_file()
