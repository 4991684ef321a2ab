"""A generic HTTP purge: Varnish, Fastly, nginx proxy_cache_purge, or any CDN with a purge URL.

Mode "PURGE" (default) sends `PURGE <purge_url><path>` per path (Varnish, Fastly);
mode "POST" sends one `POST <purge_url>` with `{"paths": [...]}` per batch. A token is
sent as `Authorization: Bearer`. Any answer other than 2xx (or 404 for PURGE: not
cached) fails the invalidation."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import quote
from typing import Any

from ..errors import InvalidationError
from .base import Batch, InvalidationBackend


class HttpPurgeBackend(InvalidationBackend):
    features = frozenset()
    max_wildcards = 0

    def __init__(self, alias: str, options: dict[str, Any]):
        super().__init__(alias, options)
        self.purge_url = (options.get("purge_url") or "").rstrip("/")
        if not self.purge_url.startswith(("http://", "https://")):
            raise InvalidationError("HttpPurgeBackend needs OPTIONS['purge_url'] (CDN_PURGE_URL), an http(s) URL.")
        self.mode = (options.get("mode") or "PURGE").upper()
        if self.mode not in {"PURGE", "POST"}:
            raise InvalidationError(f"HttpPurgeBackend OPTIONS['mode'] must be PURGE or POST, not {self.mode!r}.")
        self.timeout = float(options.get("timeout", 10.0))
        self.max_paths = int(options.get("max_paths", 3000 if self.mode == "POST" else 100_000))

    def _send(self, method: str, url: str, body: bytes | None, reference: str) -> None:
        headers = {"Content-Type": "application/json", "Idempotency-Key": reference}
        if self.options.get("token"):
            headers["Authorization"] = f"Bearer {self.options['token']}"
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            if not (method == "PURGE" and exc.code == 404):
                raise InvalidationError(f"Purge {method} {url} answered {exc.code} {exc.reason}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise InvalidationError(f"Purge {method} {url} failed: {exc}") from exc

    def submit(self, paths: list[str], reference: str) -> Batch:
        if self.mode == "POST":
            self._send("POST", self.purge_url, json.dumps({"paths": list(paths)}).encode(), reference)
        else:
            for path in paths:
                # Percent-encode what a URL would read as its own syntax (`#`, `?`, spaces),
                # so every path purges itself and nothing else; `/` and `*` stay literal.
                self._send("PURGE", self.purge_url + quote(path, safe="/*-._~!$&'()+,;=:@%"), None, reference)
        return Batch(id=reference, paths=tuple(paths), status="completed")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "purge_url": self.purge_url, "mode": self.mode}
