"""Attacks against a live server.

Each test here plays an attacker against a real `laurels serve` process. Where the attack
needs a host of the attacker's own, `hostile` is a small HTTP server on another loopback
address (127.0.0.2) whose answers the test writes, down to dripping one byte at a time.
The live server may fetch from that one address only (`LAURELS_ALLOW_PRIVATE_FETCH`), as
a server on the internet may fetch from any public host.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.servers import RunningServer, api_client_for, laurels_server

HOSTILE_HOST = "127.0.0.2"
JSON_LD = {"Content-Type": "application/ld+json"}
# Seconds one outbound fetch may take in all, on the live servers of these tests.
FETCH_DEADLINE = 3

Route = tuple[int, dict, bytes] | Callable[[BaseHTTPRequestHandler], None]


class HostileServer(ThreadingHTTPServer):
    """Answers each path from `routes`: (status, headers, body), or a callable that writes
    the whole answer itself (to drip, stall or lie)."""

    daemon_threads = True

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []
        super().__init__((HOSTILE_HOST, 0), _HostileHandler)

    @property
    def url(self) -> str:
        return f"http://{HOSTILE_HOST}:{self.server_address[1]}"

    def json(self, path: str, document: dict | list, status: int = 200) -> str:
        """Serve `document` as JSON-LD at `path`; answers its URL."""
        self.routes[path] = (status, JSON_LD, json.dumps(document).encode())
        return self.url + path

    def raw(self, path: str, body: bytes, content_type: str, status: int = 200) -> str:
        self.routes[path] = (status, {"Content-Type": content_type}, body)
        return self.url + path


class _HostileHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        route = self.server.routes.get(self.path.split("?")[0])
        if route is None:
            route = (404, {"Content-Type": "text/plain"}, b"not here")
        if callable(route):
            route(self)
            return
        status, headers, body = route
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def drip(body: bytes, every: float, content_type: str = "application/ld+json"):
    """A route that sends `body` one byte every `every` seconds (a slow-loris host)."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for byte in body:
            try:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
            except OSError:
                return
            time.sleep(every)

    return answer


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    server = HostileServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def live(tmp_path_factory, hostile) -> Iterator[RunningServer]:
    """A default server with two workers that may fetch from the hostile host only."""
    home: Path = tmp_path_factory.mktemp("security") / "var"
    with laurels_server(
        home,
        workers=2,
        LAURELS_ALLOW_PRIVATE_FETCH=f"{HOSTILE_HOST}/32",
        LAURELS_FETCH_DEADLINE=str(FETCH_DEADLINE),
        # These attacks import hundreds of hostile documents as one person: the import
        # rate limit (tests/api/test_import_rate_limit.py) is not what they test.
        LAURELS_IMPORT_RATE_PER_USER="100000",
        LAURELS_IMPORT_RATE_PER_IP="100000",
    ) as server:
        yield server


@pytest.fixture(scope="module")
def account(live) -> Callable[[str], httpx.Client]:
    """`account(email)`: a verified user on the live server, as an API client with a token
    from Badgr's password log-in (made once per address per module)."""
    made: dict[str, httpx.Client] = {}

    def get(email: str) -> httpx.Client:
        if email not in made:
            made[email] = api_client_for(live, email)
        return made[email]

    yield get
    for client in made.values():
        client.close()
