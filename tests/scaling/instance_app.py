"""A small real HTTP server for scaled instances in tests: GET /healthz answers 200,
or 503 while a file named `<port>.sick` exists in the directory given as argv[2];
while `<port>.burn` exists a thread keeps one CPU busy (real load for psutil to see)."""
import http.server
import sys
import threading
import time
from pathlib import Path

PORT = int(sys.argv[1])
FLAGS = Path(sys.argv[2])


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the stdlib's name
        sick = (FLAGS / f"{PORT}.sick").exists()
        status = 503 if sick and self.path == "/healthz" else 200
        body = b"sick" if status == 503 else b"ok"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def burn():
    while True:
        if (FLAGS / f"{PORT}.burn").exists():
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline:
                pass
        else:
            time.sleep(0.05)


threading.Thread(target=burn, daemon=True).start()
http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
