"""Settings, read from the environment in one place.

Nothing set: the embedded default (SQLite, a file-based cache shared by the
local processes, Celery over kombu's filesystem transport), runnable with no
server. `DATABASE_URL` and `REDIS_URL` set: PostgreSQL, Redis cache, Redis
broker. Production is those variables being set, not another settings file.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url

from config.env import Env

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# Only used with DEBUG on, where the development server says so loudly.
_DEV_SECRET_KEY = "dev-only-insecure-key-never-use-in-production-0123456789abcdefghij"


def _database(env: Env, var_dir: Path) -> dict[str, Any]:
    url = env.url("DATABASE_URL", ("postgres", "postgresql", "sqlite"))
    if url.startswith(("postgres://", "postgresql://")):
        db = dj_database_url.parse(url)
        db["ENGINE"] = "django.db.backends.postgresql"
        options = db.setdefault("OPTIONS", {})
        options.setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", 5, min_value=1))
        options.setdefault("application_name", env.str("DATABASE_APPLICATION_NAME", "controlplane"))
        pool_max = env.int("DATABASE_POOL_MAX_SIZE", 0, min_value=0)
        if pool_max:
            # Django's native psycopg pool; it requires persistent connections off.
            pool_min = env.int("DATABASE_POOL_MIN_SIZE", 1, min_value=0)
            if pool_min > pool_max:
                env.error("DATABASE_POOL_MIN_SIZE", f"({pool_min}) is above DATABASE_POOL_MAX_SIZE ({pool_max})")
            options["pool"] = {"min_size": pool_min, "max_size": pool_max,
                               "timeout": env.float("DATABASE_POOL_TIMEOUT", 10.0, min_value=0.1)}
            db["CONN_MAX_AGE"] = 0
        else:
            db["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", 60, min_value=0)
            db["CONN_HEALTH_CHECKS"] = True
        return db
    if url.startswith("sqlite://"):
        db = dj_database_url.parse(url)
    else:
        db = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(var_dir / "controlplane.sqlite3")}
    # Several local processes (web, worker, beat) share the file: WAL and
    # immediate transactions avoid "database is locked" under concurrent writes.
    db["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    return db


def _redis_url(env: Env) -> str:
    """REDIS_URL, or the original design's REDIS_HOST/PORT/PASSWORD; '' when Redis is off."""
    url = env.url("REDIS_URL", ("redis", "rediss", "unix"))
    enabled = env.bool("REDIS_ENABLED", bool(url) or env.is_set("REDIS_HOST"))
    if not enabled:
        return ""
    if url:
        return url
    host = env.str("REDIS_HOST", "127.0.0.1")
    port = env.int("REDIS_PORT", 6379, min_value=1, max_value=65535)
    password = env.str("REDIS_PASSWORD", "")
    auth = f":{password}@" if password else ""
    return f"redis://{auth}{host}:{port}/{env.int('REDIS_DB', 0, min_value=0)}"


def _caches(redis_url: str, var_dir: Path) -> dict[str, Any]:
    if redis_url:
        return {"default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "cp",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # Fail fast: a dead Redis must not hang requests or readiness.
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
                # A dead Redis is a cache miss, not a 500: API throttles (counted in the
                # cache) fail open and pages are computed until Redis is back; /readyz
                # still reports it (its write-then-read probe fails). Logged, see below.
                "IGNORE_EXCEPTIONS": True,
            },
        }}
    # File based, so web, worker and beat processes on this machine share it.
    return {"default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(var_dir / "cache"),
        "KEY_PREFIX": "cp",
        "OPTIONS": {"MAX_ENTRIES": 5000},
    }}


def _celery(env: Env, redis_url: str, var_dir: Path) -> dict[str, Any]:
    broker = env.url("CELERY_BROKER_URL", ("redis", "rediss", "amqp", "amqps", "filesystem"), redis_url)
    conf: dict[str, Any] = {
        "CELERY_TASK_ACKS_LATE": True,
        "CELERY_TASK_REJECT_ON_WORKER_LOST": True,
        "CELERY_WORKER_PREFETCH_MULTIPLIER": 1,
        "CELERY_TASK_TIME_LIMIT": env.int("CELERY_TASK_TIME_LIMIT", 600, min_value=1),
        "CELERY_TASK_SOFT_TIME_LIMIT": env.int("CELERY_TASK_SOFT_TIME_LIMIT", 540, min_value=1),
        "CELERY_TASK_SERIALIZER": "json",
        "CELERY_RESULT_SERIALIZER": "json",
        "CELERY_ACCEPT_CONTENT": ["json"],
        "CELERY_TASK_DEFAULT_QUEUE": env.str("CELERY_DEFAULT_QUEUE", "controlplane"),
        "CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP": True,
        "CELERY_WORKER_SEND_TASK_EVENTS": True,
        "CELERY_TASK_SEND_SENT_EVENT": True,
        "CELERY_RESULT_EXPIRES": 24 * 3600,
        "CELERY_BEAT_SCHEDULER": "config.beat.SingletonDatabaseScheduler",
        "CELERY_TIMEZONE": "UTC",
        # Write last_run_at after every send, so a standby beat that takes over
        # knows what already ran.
        "CELERY_BEAT_SYNC_EVERY": 1,
    }
    if conf["CELERY_TASK_SOFT_TIME_LIMIT"] >= conf["CELERY_TASK_TIME_LIMIT"]:
        env.error("CELERY_TASK_SOFT_TIME_LIMIT", "must be below CELERY_TASK_TIME_LIMIT")
    if broker:
        conf["CELERY_BROKER_URL"] = broker
        visibility = env.int("CELERY_VISIBILITY_TIMEOUT", 3600, min_value=1)
        # A task whose worker died (kill -9) is redelivered once it has been unacked for
        # `visibility` seconds, but kombu only looks every 10th sweep of 10 s (~100 s):
        # look on every sweep, and sweep more often when the timeout is short.
        conf["CELERY_BROKER_TRANSPORT_OPTIONS"] = {"visibility_timeout": visibility, "unacked_restore_throttle": 1,
                                                   "unacked_restore_interval": max(1, min(10, visibility // 4))}
        conf["CELERY_RESULT_BACKEND"] = env.str("CELERY_RESULT_BACKEND", redis_url or "")
        conf["CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS"] = {"visibility_timeout": visibility}
    else:
        queue_dir = var_dir / "celery" / "queue"
        control_dir = var_dir / "celery" / "control"
        results_dir = var_dir / "celery" / "results"
        conf["CELERY_BROKER_URL"] = "filesystem://"
        conf["CELERY_BROKER_TRANSPORT_OPTIONS"] = {
            "data_folder_in": str(queue_dir), "data_folder_out": str(queue_dir),
            "control_folder": str(control_dir),
        }
        conf["CELERY_RESULT_BACKEND"] = f"file://{results_dir}"
    return conf


def _product(env: Env, var_dir: Path) -> dict[str, Any]:
    """The original design's variables, names and units kept."""
    min_instances = env.int("MIN_INSTANCES", 1, min_value=0)
    max_instances = env.int("MAX_INSTANCES", 10, min_value=1)
    if min_instances > max_instances:
        env.error("MIN_INSTANCES", f"({min_instances}) is above MAX_INSTANCES ({max_instances})")
    cdn_enabled = env.bool("CDN_ENABLED", False)
    cdn_base_url = env.url("CDN_BASE_URL", ("http", "https"))
    if cdn_enabled and not cdn_base_url:
        env.error("CDN_BASE_URL", "is required when CDN_ENABLED is true")
    return {
        "PERFMON": {
            "SLOW_QUERY_THRESHOLD_MS": env.float("SLOW_QUERY_THRESHOLD", 1000.0, min_value=0.0),
            "HIGH_CPU_THRESHOLD": env.float("HIGH_CPU_THRESHOLD", 70.0, min_value=0.0, max_value=100.0),
            "HIGH_MEMORY_THRESHOLD": env.float("HIGH_MEMORY_THRESHOLD", 80.0, min_value=0.0, max_value=100.0),
            "REDIS_ENABLED": env.bool("REDIS_ENABLED", env.is_set("REDIS_URL") or env.is_set("REDIS_HOST")),
            "HOST_SAMPLE_INTERVAL": env.float("HOST_SAMPLE_INTERVAL", 15.0, min_value=1.0),
            # The request metrics pipeline (perfmon/conf.py documents each key).
            "METRICS_ENABLED": env.bool("METRICS_ENABLED", True),
            "METRICS_BUFFER": env.str("METRICS_BUFFER", ""),
            "METRICS_KEY_PREFIX": env.str("METRICS_KEY_PREFIX", "pm"),
            "FLUSH_INTERVAL_SECONDS": env.float("METRICS_FLUSH_INTERVAL", 1.0, min_value=0.1, max_value=60.0),
            "MINUTE_RETENTION_DAYS": env.int("METRICS_MINUTE_RETENTION_DAYS", 7, min_value=1),
            "HOUR_RETENTION_DAYS": env.int("METRICS_HOUR_RETENTION_DAYS", 90, min_value=1),
            "N_PLUS_ONE_THRESHOLD": env.int("METRICS_N_PLUS_ONE_THRESHOLD", 10, min_value=2, max_value=10_000),
        },
        "SCALING": {
            "AUTO_SCALING_ENABLED": env.bool("AUTO_SCALING_ENABLED", True),
            "MIN_INSTANCES": min_instances,
            "MAX_INSTANCES": max_instances,
            "COOLDOWN_MS": env.int("SCALING_COOLDOWN", 300_000, min_value=0),
            # The autoscaler tick (Celery beat) and the per-group lease that makes it a singleton.
            "TICK_SECONDS": env.int("SCALING_TICK_SECONDS", 15, min_value=1, max_value=3600),
            "LEASE_TTL_SECONDS": env.float("SCALING_LEASE_TTL", 120.0, min_value=5.0),
            "HEALTH_TIMEOUT_SECONDS": env.float("SCALING_HEALTH_TIMEOUT", 2.0, min_value=0.1),
            "WARMUP_SECONDS": env.int("SCALING_WARMUP_SECONDS", 30, min_value=0),
        },
        # Database optimization (dbopt/conf.py documents every key and its default).
        "DBOPT": {
            "DATABASES": env.list("DBOPT_DATABASES") or ["default"],
            "AUTO_MAINTENANCE": env.bool("DBOPT_AUTO_MAINTENANCE", True),
            "SLOW_QUERY_MIN_CALLS": env.int("DBOPT_SLOW_QUERY_MIN_CALLS", 100, min_value=1),
            "MIN_COST_REDUCTION": env.float("DBOPT_MIN_COST_REDUCTION", 0.5, min_value=0.01, max_value=0.99),
            "UNUSED_INDEX_MIN_BYTES": env.int("DBOPT_UNUSED_INDEX_MIN_BYTES", 10 * 1024 * 1024, min_value=0),
            "LOCK_TIMEOUT_MS": env.int("DBOPT_LOCK_TIMEOUT_MS", 5000, min_value=1),
            "CREATE_EXTENSIONS": env.bool("DBOPT_CREATE_EXTENSIONS", True),
        },
        "CDN": _cdn(env, cdn_enabled, cdn_base_url),
        # Where scaling groups start instances: alias -> dotted path and options.
        # The default runs this project's web server as local processes.
        "SCALING_BACKENDS": {"default": {
            "BACKEND": env.str("SCALING_BACKEND", "scaling.backends.process.ProcessBackend"),
            "OPTIONS": {
                "base_port": env.int("SCALING_BASE_PORT", 8100, min_value=1024, max_value=65000),
                "upstream_file": env.str("SCALING_UPSTREAM_FILE", str(var_dir / "scaling" / "upstream-{group}.conf")),
                "reload_command": env.str("SCALING_RELOAD_COMMAND", ""),
            },
        }},
    }


def _cdn(env: Env, enabled: bool, base_url: str) -> dict[str, Any]:
    """cdn's tunables (cdn/conf.py documents each key)."""
    regional: dict[str, str] = {}
    for item in env.list("CDN_REGIONAL_BASE_URLS"):  # "DE=https://eu.cdn.example,US=https://us.cdn.example"
        region, _, url = item.partition("=")
        if not region.strip() or not url.startswith(("http://", "https://")):
            env.error("CDN_REGIONAL_BASE_URLS", f"{item!r} is not REGION=https://host")
        regional[region.strip().upper()] = url.strip().rstrip("/")
    raw_widths = env.list("CDN_IMAGE_WIDTHS", ["320", "640", "1024", "1920"])
    if not all(w.isdigit() and 16 <= int(w) <= 8192 for w in raw_widths):
        env.error("CDN_IMAGE_WIDTHS", f"expected widths in pixels (16-8192) like 320,640, got {raw_widths!r}")
    widths = [int(w) for w in raw_widths if w.isdigit()]
    backend = env.str("CDN_INVALIDATION_BACKEND", "cdn.backends.local.LocalBackend")
    options: dict[str, Any] = {}
    if backend.endswith("CloudFrontBackend"):
        options = {"distribution_id": env.str("CDN_CLOUDFRONT_DISTRIBUTION_ID", ""),
                   "region_name": env.str("AWS_REGION", "us-east-1")}
    elif backend.endswith("HttpPurgeBackend"):
        options = {"purge_url": env.str("CDN_PURGE_URL", ""), "token": env.str("CDN_PURGE_TOKEN", "")}
    return {
        "ENABLED": enabled,
        "BASE_URL": base_url,
        "REGIONAL_BASE_URLS": regional,
        "REGION_HEADER": env.str("CDN_REGION_HEADER", "CloudFront-Viewer-Country"),
        "IMAGE_WIDTHS": sorted(set(widths)),
        "MAX_UPLOAD_BYTES": env.int("CDN_MAX_UPLOAD_BYTES", 50 * 1024 * 1024, min_value=1024),
        "MAX_IMAGE_PIXELS": env.int("CDN_MAX_IMAGE_PIXELS", 50_000_000, min_value=10_000),
        "AVIF_SPEED": env.int("CDN_AVIF_SPEED", 8, min_value=0, max_value=10),
        "AVIF_TUNE": env.choice("CDN_AVIF_TUNE", "ssim", ("ssim", "iq", "psnr")),
        "BROTLI_LEVEL": env.int("CDN_BROTLI_LEVEL", 5, min_value=0, max_value=11),
        "S3_BUCKET": env.str("CDN_S3_BUCKET", ""),
        "S3_CUSTOM_DOMAIN": env.str("CDN_S3_CUSTOM_DOMAIN", ""),
        "LOG_FOLDER": env.str("CDN_LOG_FOLDER", ""),
        "FFMPEG_BINARY": env.str("CDN_FFMPEG_BINARY", "auto"),
        "BACKENDS": {"default": {"BACKEND": backend, "OPTIONS": options}},
    }


def _security(env: Env, debug: bool) -> dict[str, Any]:
    secret = env.str("SECRET_KEY", "")
    hosts = env.list("ALLOWED_HOSTS")
    if not debug:
        if not secret:
            env.error("SECRET_KEY", "is required when DEBUG is off")
        elif len(secret) < 50 or len(set(secret)) < 5:
            env.error("SECRET_KEY", "is too short or too simple: use at least 50 random characters")
        if not hosts:
            env.error("ALLOWED_HOSTS", "is required when DEBUG is off (comma-separated host names)")
    https = env.bool("SECURE_HTTPS", not debug)
    hsts = env.int("SECURE_HSTS_SECONDS", 31_536_000 if https else 0, min_value=0)
    return {
        "SECRET_KEY": secret or _DEV_SECRET_KEY,
        "ALLOWED_HOSTS": hosts or ["localhost", "127.0.0.1", "[::1]"],
        "CSRF_TRUSTED_ORIGINS": env.list("CSRF_TRUSTED_ORIGINS"),
        "SESSION_COOKIE_SECURE": https,
        "CSRF_COOKIE_SECURE": https,
        "SECURE_SSL_REDIRECT": env.bool("SECURE_SSL_REDIRECT", https),
        "SECURE_HSTS_SECONDS": hsts,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": hsts > 0,
        "SECURE_HSTS_PRELOAD": env.bool("SECURE_HSTS_PRELOAD", False),
        "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https") if https else None,
        # Health probes come over plain HTTP from the orchestrator.
        "SECURE_REDIRECT_EXEMPT": [r"^healthz$", r"^livez$", r"^readyz$"],
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "X_FRAME_OPTIONS": "DENY",
    }


def from_environ(environ: dict[str, str] | os._Environ, base_dir: Path = BASE_DIR) -> dict[str, Any]:
    """Every setting the project reads from the environment; raises ImproperlyConfigured
    naming each bad variable."""
    env = Env(environ)
    debug = env.bool("DEBUG", False)
    var_dir = Path(env.str("VAR_DIR", str(base_dir / "var")))
    redis_url = _redis_url(env)
    settings: dict[str, Any] = {
        "DEBUG": debug,
        "VAR_DIR": var_dir,
        "REDIS_URL": redis_url,
        "DATABASES": {"default": _database(env, var_dir)},
        "CACHES": _caches(redis_url, var_dir),
        "STATIC_ROOT": Path(env.str("STATIC_ROOT", str(base_dir / "staticfiles"))),
        "MEDIA_ROOT": Path(env.str("MEDIA_ROOT", str(var_dir / "media"))),
        "API_THROTTLE_ANON": env.str("API_THROTTLE_ANON", "60/min"),
        "API_THROTTLE_USER": env.str("API_THROTTLE_USER", "1200/min"),
        "METRICS_BEARER_TOKEN": env.str("METRICS_BEARER_TOKEN", ""),
        "LOG_LEVEL": env.choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), upper=True),
        # Alert webhooks may not call internal addresses unless these networks allow it.
        "WEBHOOK_ALLOWED_NETWORKS": _networks(env, "WEBHOOK_ALLOWED_NETWORKS"),
        "EVENT_CHANNEL": env.str("EVENT_CHANNEL", "controlplane.events"),
        # How long a dead beat's lease outlives it before a standby beat takes over.
        "BEAT_LEASE_TTL": env.float("BEAT_LEASE_TTL", 30.0, min_value=2.0, max_value=3600.0),
    }
    for name in ("API_THROTTLE_ANON", "API_THROTTLE_USER"):
        _check_rate(env, name, settings[name])
    settings.update(_security(env, debug))
    settings.update(_email(env))
    settings.update(_celery(env, redis_url, var_dir))
    settings.update(_product(env, var_dir))
    env.check()
    return settings


def _networks(env: Env, name: str) -> list[str]:
    import ipaddress

    networks = []
    for item in env.list(name):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            env.error(name, f"{item!r} is not a network like 10.0.0.0/8 or 127.0.0.1/32")
    return networks


def _email(env: Env) -> dict[str, Any]:
    host = env.str("EMAIL_HOST", "")
    return {
        # No SMTP server configured: mail is written to the log (console backend).
        "EMAIL_BACKEND": env.str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend" if host
                                 else "django.core.mail.backends.console.EmailBackend"),
        "EMAIL_HOST": host or "localhost",
        "EMAIL_PORT": env.int("EMAIL_PORT", 587, min_value=1, max_value=65535),
        "EMAIL_HOST_USER": env.str("EMAIL_HOST_USER", ""),
        "EMAIL_HOST_PASSWORD": env.str("EMAIL_HOST_PASSWORD", ""),
        "EMAIL_USE_TLS": env.bool("EMAIL_USE_TLS", True),
        "EMAIL_TIMEOUT": 10,
        "DEFAULT_FROM_EMAIL": env.str("DEFAULT_FROM_EMAIL", "controlplane@localhost"),
    }


def _check_rate(env: Env, name: str, rate: str) -> None:
    count, _, period = rate.partition("/")
    if not count.isdigit() or period[:1] not in {"s", "m", "h", "d"}:
        env.error(name, f"expected a rate like 100/min, got {rate!r}")


globals().update(from_environ(os.environ))

INSTALLED_APPS = [
    "config.apps.ControlPlaneAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "perfmon",
    "perfmon.ops",
    "scaling",
    "cdn",
    "dbopt",
]

MIDDLEWARE = [
    # First, so its timing covers everything after it; counts in memory, flushes off the request path.
    "perfmon.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise (which serves static files precompressed): gzip/brotli for the rest.
    "perfmon.compression.CompressionMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [BASE_DIR / "templates"],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["perfmon.api.permissions.ReadAuthenticatedWriteStaff"],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {"anon": API_THROTTLE_ANON, "user": API_THROTTLE_USER},  # noqa: F821
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "perfmon.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Control plane API",
    "DESCRIPTION": "Performance monitoring, optimization and auto-scaling for Django platforms.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},  # noqa: F821
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# The cache errors IGNORE_EXCEPTIONS turns into misses are logged (django_redis.cache).
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

LOGIN_URL = "admin:login"
ADMIN_SITE_TITLE = "Control plane"

# HSTS preload is a hard-to-undo opt-in for the whole domain: the operator chooses
# it with SECURE_HSTS_PRELOAD=true, so its absence is not a deploy warning here.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
