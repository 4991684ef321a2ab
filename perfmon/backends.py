"""Pluggable backends chosen by alias from a settings dict of dotted paths and options,
built once per process (the way Django picks cache and storage backends). Every app's
backend family (scaling, cdn invalidation) loads through one `BackendLoader`."""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from .errors import ActionError


class BackendLoader:
    """`label` names the setting in error messages (e.g. "SCALING_BACKENDS"); `configs`
    returns {alias: {"BACKEND": dotted path, "OPTIONS": {...}}}; backends are built as
    `base(alias, options)`, and an `options_error` raised there becomes ImproperlyConfigured."""

    def __init__(self, label: str, configs: Callable[[], dict[str, Any]], base: type,
                 options_error: type[ActionError], reset_on: set[str]):
        self.label, self.configs, self.base = label, configs, base
        self.options_error, self.reset_on = options_error, reset_on
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()
        setting_changed.connect(self._reset, weak=False)

    def aliases(self) -> list[str]:
        return sorted(self.configs())

    def get(self, alias: str = "default") -> Any:
        """The backend configured under `alias`. Raises ImproperlyConfigured naming the
        setting for a bad alias, dotted path or option."""
        with self._lock:
            if alias in self._cache:
                return self._cache[alias]
            config = self.configs().get(alias)
            where = f"{self.label}[{alias!r}]"
            if not isinstance(config, dict) or "BACKEND" not in config:
                raise ImproperlyConfigured(f"{self.label} has no backend {alias!r} (known: "
                                           f"{', '.join(self.aliases()) or 'none'})")
            try:
                cls = import_string(config["BACKEND"])
            except ImportError as exc:
                raise ImproperlyConfigured(f"{where}['BACKEND']: cannot import {config['BACKEND']!r} ({exc})") from exc
            if not (isinstance(cls, type) and issubclass(cls, self.base)):
                raise ImproperlyConfigured(f"{where}['BACKEND']: {config['BACKEND']!r} is not a {self.base.__name__}")
            try:
                backend = cls(alias, config.get("OPTIONS") or {})
            except self.options_error as exc:
                raise ImproperlyConfigured(f"{where}['OPTIONS']: {exc.message}") from exc
            self._cache[alias] = backend
            return backend

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def _reset(self, setting: str, **kwargs) -> None:
        if setting in self.reset_on:
            self.clear()
