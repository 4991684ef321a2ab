"""invalidate_cdn: plan batches within the CDN's limits and submit them, once."""
from __future__ import annotations

import hashlib
import posixpath
import re
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from perfmon.audit import actor_label, audited

from .backends import InvalidationBackend, get_backend
from .errors import CdnError, InvalidationError
from .models import Invalidation

MAX_PATH_LENGTH = 4000
_BAD_PATH = re.compile(r"[\s\x00-\x1f\x7f]")


@dataclass(frozen=True)
class InvalidationResult:
    invalidation_id: int
    status: str
    batches: int
    submitted_paths: list[str]
    external_ids: list[str]
    created: bool


def clean_paths(paths: list[str]) -> list[str]:
    """Validated, de-duplicated paths, each starting with '/'; a path covered by a
    wildcard in the same request is dropped. Raises CdnError naming the bad path."""
    if not paths:
        raise CdnError("Give at least one path to invalidate.")
    out: list[str] = []
    for raw in paths:
        path = raw if raw.startswith("/") else "/" + raw
        if _BAD_PATH.search(path) or len(path) > MAX_PATH_LENGTH:
            raise CdnError(f"{raw[:100]!r} is not a valid path (no spaces or control characters, at most "
                           f"{MAX_PATH_LENGTH} characters).")
        if ".." in path.split("/"):
            raise CdnError(f"{raw[:100]!r} contains '..': give the path as the CDN sees it.")
        if "*" in path[:-1]:
            raise CdnError(f"{raw[:100]!r}: a wildcard is only allowed at the end of a path.")
        out.append(path)
    wildcards = [p[:-1] for p in out if p.endswith("*")]
    kept = [p for p in dict.fromkeys(out) if p.endswith("*") or not any(p.startswith(w) for w in wildcards)]
    return kept


def plan_batches(paths: list[str], backend: InvalidationBackend, collapse_at: int = 10) -> list[list[str]]:
    """Collapse a directory into `dir/*` when it has `collapse_at` or more paths (one
    wildcard counts as one path, so it is cheaper), then split into batches of at most
    `max_paths` entries and `max_wildcards` wildcards each."""
    if "wildcards" in backend.features and backend.max_wildcards > 0:
        by_dir: dict[str, list[str]] = defaultdict(list)
        for path in paths:
            if not path.endswith("*"):
                by_dir[posixpath.dirname(path)].append(path)
        collapsed = {d for d, members in by_dir.items() if len(members) >= collapse_at and d != "/"}
        paths = [p for p in paths if p.endswith("*") or posixpath.dirname(p) not in collapsed] + \
                [f"{d}/*" for d in sorted(collapsed)]
    batches: list[list[str]] = []
    current: list[str] = []
    wild = 0
    for path in sorted(paths, key=lambda p: (not p.endswith("*"), p)):
        is_wild = path.endswith("*")
        if current and (len(current) >= backend.max_paths or (is_wild and wild >= backend.max_wildcards)):
            batches.append(current)
            current, wild = [], 0
        current.append(path)
        wild += is_wild
    if current:
        batches.append(current)
    return batches


def default_key(paths: list[str], backend: str) -> str:
    """Same paths on the same backend within the same minute: one invalidation (a
    double click or a retried request), later ones are new invalidations."""
    minute = timezone.now().strftime("%Y%m%d%H%M")
    digest = hashlib.sha256("\n".join([backend, minute, *sorted(paths)]).encode()).hexdigest()[:32]
    return f"inv-{digest}"


def invalidate_cdn(*, paths: list[str], actor: Any, reason: str = "", idempotency_key: str | None = None,
                   backend: str = "default", wait: bool = True, poll_interval: float = 5.0,
                   timeout: float = 900.0) -> InvalidationResult:
    """Invalidate `paths` on the CDN behind `backend`. The invalidation row is claimed by
    idempotency key before any call; the CDN's idempotency token (CloudFront's
    CallerReference) is `<key>-<batch>`, so a retry after a crash resubmits the same
    batches without duplicating them, and a call whose key already completed is a no-op.
    Each batch is sent only once the one before it is complete (the CDN limits what is
    in progress): with `wait` this call follows them all; without, it returns after the
    first batch still in progress and follow_invalidations sends the rest.
    Raises CdnError, InvalidationError."""
    cleaned = clean_paths(list(paths))
    try:
        cdn = get_backend(backend)
    except ImproperlyConfigured as exc:
        raise CdnError(str(exc)) from exc
    if "wildcards" not in cdn.features and any(p.endswith("*") for p in cleaned):
        raise CdnError(f"The {backend!r} backend ({type(cdn).__name__}) does not understand wildcards: list the paths.")
    key = idempotency_key or default_key(cleaned, backend)
    if len(key) > 128 or not key.strip():
        raise CdnError("The idempotency key must be 1 to 128 characters.")
    row, created = Invalidation.objects.get_or_create(
        idempotency_key=key, defaults={"backend": backend, "paths": cleaned, "requested_by": actor_label(actor)[:150],
                                       "reason": reason})
    if not created and (row.paths != cleaned or row.backend != backend):
        raise CdnError(f"Idempotency key {key!r} was already used for other paths or another backend.",
                       code="idempotency_conflict", status_code=409)
    with audited("cdn.invalidate_cdn", actor=actor, reason=reason, target=f"invalidation:{row.pk}",
                 before={"status": row.status, "paths": cleaned[:50], "backend": backend}) as audit:
        if row.status == Invalidation.Status.COMPLETED:
            audit.mark_noop(status=row.status, external_ids=row.external_ids)
            return _result(row, created)
        try:
            _run(row, cdn, wait, poll_interval, timeout)
        except InvalidationError as exc:
            row.status, row.error = Invalidation.Status.FAILED, exc.message
            row.save(update_fields=["status", "error"])
            raise
        audit.set_after(status=row.status, external_ids=row.external_ids, batches=len(row.external_ids),
                        submitted_paths=row.submitted_paths[:50])
        return _result(row, created)


def _run(row: Invalidation, cdn: InvalidationBackend, wait: bool, poll_interval: float, timeout: float) -> None:
    batches = plan_batches(row.paths, cdn)
    row.submitted_paths = [p for batch in batches for p in batch]
    row.status, row.error = Invalidation.Status.IN_PROGRESS, ""
    row.save(update_fields=["submitted_paths", "status", "error"])
    ids = list(row.external_ids)
    states: list[str] = []
    deadline = time.monotonic() + timeout
    for number, batch in enumerate(batches):
        if number < len(ids):
            batch_id, state = ids[number], cdn.status(ids[number]) if "status" in cdn.features else "completed"
        else:
            submitted = cdn.submit(batch, f"{row.idempotency_key}-{number}")
            batch_id, state = submitted.id, submitted.status
            ids.append(batch_id)
            row.external_ids = ids
            row.save(update_fields=["external_ids"])
        while wait and state != "completed":
            if time.monotonic() > deadline:
                raise InvalidationError(f"Invalidation batch {batch_id} did not complete within {timeout:.0f} s; "
                                        f"run invalidate_cdn again with the same key to keep following it.")
            time.sleep(poll_interval)
            state = cdn.status(batch_id)
        states.append(state)
        if state != "completed":
            # Not waiting: the next batch goes when this one is done (follow_invalidations
            # runs again every minute), so what is in progress stays within the CDN's limits.
            break
    if len(states) == len(batches) and all(state == "completed" for state in states):
        row.status, row.completed_at = Invalidation.Status.COMPLETED, timezone.now()
        row.save(update_fields=["status", "completed_at"])


def _result(row: Invalidation, created: bool) -> InvalidationResult:
    return InvalidationResult(row.pk, row.status, len(row.external_ids), list(row.submitted_paths),
                              list(row.external_ids), created)


def follow_invalidations(*, actor: Any, reason: str = "follow in-progress invalidations") -> dict[str, int]:
    """Check every invalidation still in progress once (no waiting), through
    invalidate_cdn with its own key: a completed one is marked so. Safe to run any time."""
    followed = completed = 0
    for row in Invalidation.objects.filter(status=Invalidation.Status.IN_PROGRESS).order_by("id")[:100]:
        followed += 1
        result = invalidate_cdn(paths=row.paths, actor=actor, reason=reason, idempotency_key=row.idempotency_key,
                                backend=row.backend, wait=False)
        completed += result.status == Invalidation.Status.COMPLETED
    return {"followed": followed, "completed": completed}
