"""Monitored databases: the settings aliases watched by default, and the ones admins add."""
from __future__ import annotations

from typing import Any

from django.db import connections

from perfmon.audit import audited

from ..conf import dbopt_settings
from ..errors import DboptError, UnknownDatabase
from ..models import MonitoredDatabase


def ensure_databases() -> list[MonitoredDatabase]:
    """The settings aliases in DBOPT["DATABASES"] as monitored databases (created once)."""
    out = []
    for alias in dbopt_settings.DATABASES:
        db, _ = MonitoredDatabase.objects.get_or_create(name=_slug(alias), defaults={"alias": alias})
        out.append(db)
    return out


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)[:63]


def get_database(ref: str) -> MonitoredDatabase:
    """A monitored database by name, a settings alias, or a postgresql:// URL (an
    unsaved one for a URL nobody added). Raises UnknownDatabase."""
    ref = (ref or "").strip()
    if not ref:
        raise UnknownDatabase("name a database: a monitored database, a settings alias or a postgresql:// URL")
    found = MonitoredDatabase.objects.filter(name=ref).first()
    if found:
        return found
    if ref in connections.settings:
        return MonitoredDatabase.objects.filter(alias=ref).first() or \
            MonitoredDatabase.objects.get_or_create(name=_slug(ref), defaults={"alias": ref})[0]
    if "://" in ref:
        from ..connections import parse_url

        parse_url(ref)  # clear error for a malformed URL
        return MonitoredDatabase.objects.filter(url=ref).first() or MonitoredDatabase(name="adhoc", url=ref)
    raise UnknownDatabase(f"unknown database {ref!r}: not a monitored database, a settings alias "
                          f"({', '.join(connections.settings)}) or a postgresql:// URL")


def add_database(*, name: str, url: str = "", alias: str = "", actor: Any, reason: str) -> MonitoredDatabase:
    """Monitor another PostgreSQL database, by URL or settings alias. The URL is checked
    for shape, not reachability: a database that is down now is added and shows as down
    until it answers. Adding the same one twice is a no-op; the URL never enters the audit."""
    from ..connections import parse_url

    if bool(url) == bool(alias):
        raise DboptError("give either a URL or a settings alias")
    if alias and alias not in connections.settings:
        raise UnknownDatabase(f"settings.DATABASES has no alias {alias!r}")
    if url:
        parse_url(url)
    slug = _slug(name)
    if not slug:
        raise DboptError("give the database a name")
    candidate = MonitoredDatabase(name=slug, url=url, alias=alias)
    with audited("dbopt.add_database", actor=actor, reason=reason, target=slug,
                 before={"target": candidate.display_target}) as audit:
        existing = MonitoredDatabase.objects.filter(name=slug).first()
        if existing:
            if (existing.url, existing.alias) != (url, alias):
                raise DboptError(f"a monitored database named {slug} already exists")
            audit.mark_noop(message="already monitored")
            return existing
        candidate.save()
        audit.set_after(id=candidate.pk, target=candidate.display_target)
    return candidate
