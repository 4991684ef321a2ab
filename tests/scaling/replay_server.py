"""A local HTTP server that answers with recorded API exchanges, in order, and keeps
what it was sent: the boundary for backends whose daemon or cluster this machine lacks."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

RECORDED = Path(__file__).with_name("recorded")


class ReplayServer:
    def __init__(self, exchanges: list[dict]):
        self.exchanges = list(exchanges)
        self.requests: list[dict] = []
        self.unexpected: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                server.requests.append({"method": self.command, "path": parts.path, "query": parts.query,
                                        "headers": dict(self.headers),
                                        "body": json.loads(raw) if raw.strip() else None})
                match = next((e for e in server.exchanges if e["method"] == self.command
                              and e["path"] == parts.path), None)
                if match is None:
                    server.unexpected.append(f"{self.command} {self.path}")
                    status, body = 599, {"message": f"no recorded exchange for {self.command} {parts.path}"}
                else:
                    if not match.get("repeat"):
                        server.exchanges.remove(match)
                    status, body = match["status"], match.get("body")
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ReplayServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def recorded(name: str) -> list[dict]:
    return json.loads((RECORDED / f"{name}.json").read_text())
