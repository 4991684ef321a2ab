"""Test speed-ups only; everything else comes from base.py and the environment."""
import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x9Q2#mZ7!pL4$vB8^nC1&kD6*jF3(hG5)" * 2)
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("SECURE_HTTPS", "false")
os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="controlplane-test-"))
os.environ.setdefault("STATIC_ROOT", tempfile.mkdtemp(prefix="controlplane-test-static-"))

from .base import *  # noqa: E402,F401,F403

# Fast hashing for the many users tests create; PBKDF2 stays available for users that a
# child server process (production settings) must be able to log in.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher",
                    "django.contrib.auth.hashers.PBKDF2PasswordHasher"]
STORAGES = {  # noqa: F405
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "10000/min", "user": "100000/min"}}  # noqa: F405
