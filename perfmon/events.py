"""The event bus: actions and alerts announce themselves on a Redis pub/sub channel.

Other systems subscribe to `EVENT_CHANNEL` (default "controlplane.events") and get
one JSON message per event: {"type", "at", "data"}. Events are sent after the
surrounding transaction commits, so a rolled-back action announces nothing. Without
Redis (the embedded default) there is no one to publish to: the event is logged at
DEBUG and the audit table remains the record.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

log = logging.getLogger(__name__)
_client = None


def channel() -> str:
    return getattr(settings, "EVENT_CHANNEL", "controlplane.events")


def _redis():
    global _client
    if _client is None:
        import redis

        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    return _client


def encode(event_type: str, data: dict[str, Any]) -> str:
    return json.dumps({"type": event_type, "at": datetime.now(timezone.utc).isoformat(), "data": data},
                      cls=DjangoJSONEncoder)


def publish(event_type: str, data: dict[str, Any]) -> None:
    """Announce an event once the current transaction commits (at once outside one).
    Never raises: a bus that is down must not undo or fail the action itself."""
    message = encode(event_type, data)
    transaction.on_commit(lambda: _send(event_type, message))


def _send(event_type: str, message: str) -> None:
    if not getattr(settings, "REDIS_URL", ""):
        log.debug("event %s (no Redis, not published): %s", event_type, message)
        return
    try:
        _redis().publish(channel(), message)
    except Exception as exc:
        log.warning("event %s not published: %s", event_type, exc)
