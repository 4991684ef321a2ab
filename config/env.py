"""Typed reading of environment variables, with errors that name the variable.

Every setting the project takes from the environment goes through `Env`, so a
bad value is reported the same way everywhere: the variable, what was found and
what was expected. Errors are collected and raised together, so an operator sees
every mistake in one start-up instead of one per restart.
"""
from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class Env:
    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ
        self.errors: list[str] = []

    def raw(self, name: str) -> str | None:
        value = self.environ.get(name)
        return None if value is None else value.strip()

    def is_set(self, name: str) -> bool:
        return bool(self.raw(name))

    def error(self, name: str, message: str) -> None:
        self.errors.append(f"{name}: {message}")

    def str(self, name: str, default: str = "") -> str:
        value = self.raw(name)
        return default if value is None or value == "" else value

    def choice(self, name: str, default: str, choices: tuple[str, ...], *, upper: bool = False) -> str:
        value = self.str(name, default)
        value = value.upper() if upper else value.lower()
        if value not in choices:
            self.error(name, f"expected one of {', '.join(choices)}, got {value!r}")
            return default
        return value

    def bool(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        self.error(name, f"expected true or false, got {value!r}")
        return default

    def int(self, name: str, default: int, *, min_value: int | None = None,
            max_value: int | None = None) -> int:
        value = self.raw(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            self.error(name, f"expected a whole number, got {value!r}")
            return default
        return self._in_range(name, number, default, min_value, max_value)

    def float(self, name: str, default: float, *, min_value: float | None = None,
              max_value: float | None = None) -> float:
        value = self.raw(name)
        if value is None or value == "":
            return default
        try:
            number = float(value)
        except ValueError:
            self.error(name, f"expected a number, got {value!r}")
            return default
        if number != number or number in (float("inf"), float("-inf")):
            self.error(name, f"expected a finite number, got {value!r}")
            return default
        return self._in_range(name, number, default, min_value, max_value)

    def _in_range(self, name, number, default, min_value, max_value):
        if min_value is not None and number < min_value:
            self.error(name, f"must be at least {min_value}, got {number}")
            return default
        if max_value is not None and number > max_value:
            self.error(name, f"must be at most {max_value}, got {number}")
            return default
        return number

    def list(self, name: str, default: list[str] | None = None) -> list[str]:
        value = self.raw(name)
        if value is None:
            return list(default or [])
        return [item.strip() for item in value.split(",") if item.strip()]

    def url(self, name: str, schemes: tuple[str, ...], default: str = "") -> str:
        value = self.str(name, default)
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in schemes:
            self.error(name, f"expected a URL starting with {' or '.join(s + '://' for s in schemes)}, "
                             f"got scheme {parts.scheme or '(none)'!r}")
            return default
        try:
            parts.port  # noqa: B018 - raises on a non-numeric port
        except ValueError:
            self.error(name, "has a port that is not a number")
            return default
        return value

    def check(self) -> None:
        if self.errors:
            raise ImproperlyConfigured(
                "Invalid configuration in the environment:\n  " + "\n  ".join(self.errors))
