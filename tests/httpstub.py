"""A tiny local HTTP server for tests of outbound requests: it counts every connection it
accepts and answers each path from a table of (status, headers, body, delay)."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class RecordingServer(ThreadingHTTPServer):
    """A local listener that counts every connection it accepts."""

    daemon_threads = True

    def __init__(self, host, routes):
        self.connections = 0
        self.routes = routes
        super().__init__((host, 0), Handler)

    def get_request(self):
        request = super().get_request()
        self.connections += 1
        return request

    @property
    def url(self):
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        status, headers, body, delay = self.server.routes.get(
            self.path, (200, {"Content-Type": "application/json"}, b"{}", 0)
        )
        time.sleep(delay)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        for start in range(0, len(body), 65536):
            self.wfile.write(body[start : start + 65536])

    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    """Start stub servers: `serve(host, routes={path: (status, headers, body, delay)})`."""
    servers = []

    def start(host="127.0.0.1", routes=None):
        server = RecordingServer(host, routes or {})
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
