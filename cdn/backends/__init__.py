"""Invalidation backends, chosen by alias from CDN["BACKENDS"] (dotted path + OPTIONS)."""
from __future__ import annotations

from perfmon.backends import BackendLoader

from ..conf import cdn_settings
from ..errors import InvalidationError
from .base import Batch, InvalidationBackend

__all__ = ["Batch", "InvalidationBackend", "backend_aliases", "get_backend"]

_loader = BackendLoader("CDN['BACKENDS']", lambda: cdn_settings.BACKENDS, InvalidationBackend, InvalidationError,
                        reset_on={"CDN"})
backend_aliases = _loader.aliases
get_backend = _loader.get
