"""perfmon's own recommendation rules and optimization passes."""
from __future__ import annotations

from .optimize import register_pass
from .recommendations import refresh_recommendations


def _refresh_pass(*, actor, reason) -> dict:
    result = refresh_recommendations()
    return {"created": result.created, "updated": result.updated, "gone": result.gone, "errors": result.errors}


register_pass("cache", "recommendations", _refresh_pass)
