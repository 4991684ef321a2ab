"""Settings come from the environment; bad values stop start-up naming the variable."""
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings.base import from_environ
from tests.support import ROOT

PROD = {"SECRET_KEY": "k" * 20 + "Zq8#vL2!mN5$xB7^cD1&fG4*hJ6(pR3)", "ALLOWED_HOSTS": "cp.example.com"}


def test_nothing_set_with_debug_is_the_embedded_default(tmp_path):
    s = from_environ({"DEBUG": "true", "VAR_DIR": str(tmp_path)})
    assert s["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert s["DATABASES"]["default"]["NAME"] == str(tmp_path / "controlplane.sqlite3")
    assert s["CACHES"]["default"]["BACKEND"].endswith("FileBasedCache")
    assert s["CELERY_BROKER_URL"] == "filesystem://"
    assert s["CELERY_BROKER_TRANSPORT_OPTIONS"]["data_folder_in"].startswith(str(tmp_path))
    assert s["REDIS_URL"] == ""


def test_original_design_defaults_and_units():
    s = from_environ({"DEBUG": "true"})
    assert s["PERFMON"]["SLOW_QUERY_THRESHOLD_MS"] == 1000
    assert s["PERFMON"]["HIGH_CPU_THRESHOLD"] == 70
    assert s["PERFMON"]["HIGH_MEMORY_THRESHOLD"] == 80
    assert s["SCALING"] == {"AUTO_SCALING_ENABLED": True, "MIN_INSTANCES": 1, "MAX_INSTANCES": 10,
                            "COOLDOWN_MS": 300000} | {k: v for k, v in s["SCALING"].items()
                                                      if k not in {"AUTO_SCALING_ENABLED", "MIN_INSTANCES",
                                                                   "MAX_INSTANCES", "COOLDOWN_MS"}}
    assert s["CDN"]["ENABLED"] is False


def test_database_and_redis_urls_select_postgres_and_redis():
    s = from_environ({**PROD, "DATABASE_URL": "postgresql://u:p@db.internal:6543/cp",
                      "REDIS_URL": "redis://cache.internal:6380/2"})
    db = s["DATABASES"]["default"]
    assert (db["ENGINE"], db["HOST"], db["PORT"], db["NAME"]) == (
        "django.db.backends.postgresql", "db.internal", 6543, "cp")
    assert s["CACHES"]["default"]["BACKEND"] == "django_redis.cache.RedisCache"
    assert s["CACHES"]["default"]["LOCATION"] == "redis://cache.internal:6380/2"
    assert s["CELERY_BROKER_URL"] == "redis://cache.internal:6380/2"
    assert s["CELERY_TASK_ACKS_LATE"] and s["CELERY_TASK_REJECT_ON_WORKER_LOST"]
    assert s["CELERY_WORKER_PREFETCH_MULTIPLIER"] == 1


def test_connection_pool_option():
    s = from_environ({**PROD, "DATABASE_URL": "postgres://u@h/cp", "DATABASE_POOL_MAX_SIZE": "8"})
    db = s["DATABASES"]["default"]
    assert db["OPTIONS"]["pool"]["max_size"] == 8
    assert db["CONN_MAX_AGE"] == 0


def test_original_redis_variables_build_the_url():
    s = from_environ({**PROD, "REDIS_HOST": "r.internal", "REDIS_PORT": "6390", "REDIS_PASSWORD": "s3cret"})
    assert s["REDIS_URL"] == "redis://:s3cret@r.internal:6390/0"
    assert s["PERFMON"]["REDIS_ENABLED"] is True
    off = from_environ({**PROD, "REDIS_HOST": "r.internal", "REDIS_ENABLED": "false"})
    assert off["REDIS_URL"] == "" and off["CELERY_BROKER_URL"] == "filesystem://"


@pytest.mark.parametrize("name,value", [
    ("SLOW_QUERY_THRESHOLD", "slow"),
    ("SLOW_QUERY_THRESHOLD", "-5"),
    ("HIGH_CPU_THRESHOLD", "high"),
    ("HIGH_CPU_THRESHOLD", "150"),
    ("HIGH_MEMORY_THRESHOLD", "lots"),
    ("MIN_INSTANCES", "one"),
    ("MAX_INSTANCES", "ten"),
    ("MAX_INSTANCES", "0"),
    ("SCALING_COOLDOWN", "5m"),
    ("REDIS_PORT", "sixthousand"),
    ("REDIS_ENABLED", "maybe"),
    ("CDN_ENABLED", "perhaps"),
    ("AUTO_SCALING_ENABLED", "sometimes"),
    ("CDN_BASE_URL", "ftp://cdn.example.com"),
    ("DATABASE_URL", "mysql://u@h/db"),
    ("REDIS_URL", "http://localhost:6379"),
    ("API_THROTTLE_USER", "lots"),
    ("LOG_LEVEL", "LOUD"),
    ("CDN_AVIF_TUNE", "fast"),
    ("METRICS_N_PLUS_ONE_THRESHOLD", "1"),
])
def test_bad_value_names_the_variable(name, value):
    env = {**PROD, name: value}
    if name == "REDIS_PORT":
        env["REDIS_HOST"] = "localhost"
    with pytest.raises(ImproperlyConfigured) as exc:
        from_environ(env)
    assert name in str(exc.value)
    line = next(line for line in str(exc.value).splitlines() if line.strip().startswith(name + ":"))
    assert "expected" in line or "must be" in line


def test_choices_are_case_insensitive():
    settings = from_environ({**PROD, "LOG_LEVEL": "warning", "CDN_AVIF_TUNE": "IQ"})
    assert settings["LOG_LEVEL"] == "WARNING" and settings["CDN"]["AVIF_TUNE"] == "iq"


def test_min_above_max_is_refused():
    with pytest.raises(ImproperlyConfigured, match="MIN_INSTANCES.*above MAX_INSTANCES"):
        from_environ({**PROD, "MIN_INSTANCES": "6", "MAX_INSTANCES": "4"})


def test_cdn_enabled_needs_a_base_url():
    with pytest.raises(ImproperlyConfigured, match="CDN_BASE_URL"):
        from_environ({**PROD, "CDN_ENABLED": "true"})


def test_all_errors_reported_together():
    with pytest.raises(ImproperlyConfigured) as exc:
        from_environ({**PROD, "HIGH_CPU_THRESHOLD": "x", "MAX_INSTANCES": "y"})
    assert "HIGH_CPU_THRESHOLD" in str(exc.value) and "MAX_INSTANCES" in str(exc.value)


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_debug_off_refuses_missing_secret_or_hosts(missing):
    env = {k: v for k, v in PROD.items() if k != missing}
    with pytest.raises(ImproperlyConfigured, match=missing):
        from_environ(env)


def test_debug_off_refuses_a_weak_secret_key():
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        from_environ({**PROD, "SECRET_KEY": "short"})


def _manage(args, env_overrides, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "VAR_DIR": str(tmp_path), "HOME": str(tmp_path),
           "DJANGO_SETTINGS_MODULE": "config.settings.base", **env_overrides}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_start_up_is_refused_with_a_message_naming_the_variable(tmp_path):
    result = _manage(["check"], {**PROD, "MIN_INSTANCES": "5", "MAX_INSTANCES": "2"}, tmp_path)
    assert result.returncode != 0
    assert "MIN_INSTANCES" in result.stderr and "MAX_INSTANCES" in result.stderr
    result = _manage(["check"], {**PROD, "HIGH_CPU_THRESHOLD": "very"}, tmp_path)
    assert result.returncode != 0 and "HIGH_CPU_THRESHOLD: expected a number, got 'very'" in result.stderr


def test_check_deploy_is_clean_for_a_production_environment(tmp_path):
    env = {**PROD, "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/controlplane",
           "REDIS_URL": "redis://127.0.0.1:6379/0", "SECRET_KEY": "Zq8#vL2!mN5$xB7^cD1&fG4*hJ6(pR3)" * 2}
    result = _manage(["check", "--deploy", "--fail-level", "WARNING"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
