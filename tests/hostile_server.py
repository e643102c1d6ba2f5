"""A local HTTP server that answers /v1/embeddings however a test tells it to: the hostile server the
remote client and the index must survive."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Hostile:
    """A server whose /v1/embeddings answer is `reply(handler)`; /v1/models names the tiny checkpoint."""

    def __init__(self, root: str):
        self.root, self.reply = root, None
        hostile = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                card = {"id": "tiny", "root": hostile.root, "max_model_len": 4096}
                body = json.dumps({"data": [card]}).encode()
                self.send(200, body)

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    hostile.reply(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading: what the limits are for

            def send(self, status, body, headers=()):
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                if not any(name == "Content-Length" for name, _ in headers):
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()
