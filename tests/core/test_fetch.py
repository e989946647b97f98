"""Safe fetching: SSRF refusals happen before any connection; hostile answers are capped."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from laurels.core.fetch import FetchRefused, fetch


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


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/",
        "http://[::1]:{port}/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://0.0.0.0:{port}/",
        "http://localhost:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
    ],
)
def test_private_targets_are_refused_without_connecting(serve, url):
    listener = serve()
    port = listener.server_address[1]
    with pytest.raises(FetchRefused, match="does not fetch from"):
        fetch(url.format(port=port))
    assert listener.connections == 0


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/x",
        "file:///etc/passwd",
        "gopher://x/",
        "http://user:pw@example.org/",
        "http:///nohost",
    ],
)
def test_other_schemes_and_credentials_are_refused(url):
    with pytest.raises(FetchRefused):
        fetch(url)


def test_a_redirect_to_loopback_is_refused_before_connecting(serve, settings):
    target = serve()
    redirector = serve("127.0.0.2", {"/": (302, {"Location": f"{target.url}/secret"}, b"", 0)})
    settings.LAURELS_ALLOW_PRIVATE_FETCH = "127.0.0.2/32"  # the "public-looking" host only
    with pytest.raises(FetchRefused, match="does not fetch from"):
        fetch(redirector.url + "/")
    assert redirector.connections == 1
    assert target.connections == 0


def test_the_allow_setting_opens_private_addresses(serve, settings):
    target = serve(routes={"/ok": (200, {"Content-Type": "application/json"}, b'{"a": 1}', 0)})
    settings.LAURELS_ALLOW_PRIVATE_FETCH = "true"
    fetched = fetch(target.url + "/ok")
    assert (fetched.status, fetched.content) == (200, b'{"a": 1}')
    assert target.connections == 1


def test_too_many_redirects(serve, settings):
    settings.LAURELS_ALLOW_PRIVATE_FETCH = "true"
    loop = serve()
    loop.routes["/"] = (302, {"Location": "/"}, b"", 0)
    with pytest.raises(FetchRefused, match="redirects more than 3 times"):
        fetch(loop.url + "/")
    assert loop.connections == 4


def test_huge_answers_are_cut_off(serve, settings):
    settings.LAURELS_ALLOW_PRIVATE_FETCH = "true"
    big = b"x" * (3 * 1024 * 1024)
    server = serve(
        routes={
            "/declared": (
                200,
                {"Content-Type": "application/json", "Content-Length": str(len(big))},
                big,
                0,
            ),
            "/undeclared": (200, {"Content-Type": "application/json"}, big, 0),
        }
    )
    for path in ("/declared", "/undeclared"):
        with pytest.raises(FetchRefused, match="larger than"):
            fetch(server.url + path, max_bytes=1024 * 1024)


def test_slow_answers_time_out(serve, settings):
    settings.LAURELS_ALLOW_PRIVATE_FETCH = "true"
    server = serve(routes={"/slow": (200, {"Content-Type": "application/json"}, b"{}", 3)})
    with pytest.raises(FetchRefused, match="did not answer in time"):
        fetch(server.url + "/slow", timeout=1)


def test_wrong_content_type(serve, settings):
    settings.LAURELS_ALLOW_PRIVATE_FETCH = "true"
    server = serve(routes={"/html": (200, {"Content-Type": "text/html"}, b"<html>", 0)})
    with pytest.raises(FetchRefused, match="text/html"):
        fetch(server.url + "/html", content_types=("application/json", "application/ld+json"))
