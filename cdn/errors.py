"""Errors raised by cdn actions, with messages a user can read."""
from __future__ import annotations

from perfmon.errors import ActionError


class CdnError(ActionError):
    code = "cdn_error"


class InvalidAsset(CdnError):
    """The uploaded content was refused (bomb, mismatch, script in SVG, too big, truncated, bad name)."""

    code = "invalid_asset"


class UnknownAsset(CdnError):
    code = "unknown_asset"
    status_code = 404


class MinifyFailed(CdnError):
    code = "minify_failed"


class InvalidationError(CdnError):
    """The CDN refused or failed an invalidation."""

    code = "invalidation_failed"
    status_code = 409


class LogError(CdnError):
    code = "bad_log"
