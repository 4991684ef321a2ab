"""The invalidation backend contract: a few methods, results as dataclasses."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Batch:
    """One request to the CDN: its id there, the paths sent, and its status
    ("in_progress" or "completed")."""

    id: str
    paths: tuple[str, ...]
    status: str


class InvalidationBackend:
    """Remove paths from a CDN's caches.

    Limits the service plans batches by: `max_paths` per batch (a wildcard counts as
    one), `max_wildcards` per batch. `features`: "wildcards" if `/dir/*` is understood,
    "status" if a submitted batch can be followed until complete."""

    features: ClassVar[frozenset[str]] = frozenset()
    max_paths: int = 3000
    max_wildcards: int = 15

    def __init__(self, alias: str, options: dict[str, Any]):
        self.alias = alias
        self.options = options

    def submit(self, paths: list[str], reference: str) -> Batch:
        """Ask the CDN to invalidate `paths` (within the limits above). `reference` is
        stable for this batch of this action: submitting the same reference and paths
        twice must not create two invalidations where the CDN supports that. Raises
        InvalidationError."""
        raise NotImplementedError

    def status(self, batch_id: str) -> str:
        """"in_progress" or "completed" for a batch returned by submit(). Raises InvalidationError."""
        return "completed"

    def check(self) -> list[str]:
        """Configuration problems, as messages (for manage.py check)."""
        return []

    def describe(self) -> dict[str, Any]:
        """What the status endpoint shows: never a secret."""
        return {"alias": self.alias, "backend": f"{type(self).__module__}.{type(self).__name__}"}
