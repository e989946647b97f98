"""Safe fetching: SSRF refusals happen before any connection; hostile answers are capped."""

import gzip
import socket
import threading
import time
import zlib

import pytest

from laurels.core.fetch import FetchRefused, address_allowed, fetch


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
        "http://[::127.0.0.1]:{port}/",
        "http://[2002:7f00:1::1]:{port}/",
        "http://[64:ff9b::127.0.0.1]:{port}/",
        "http://[fec0::1]:{port}/",
        "http://100.64.0.1:{port}/",
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


@pytest.mark.parametrize(
    "address",
    [
        "2002:c000:204::1",  # 6to4 around a public IPv4 address: refused all the same
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "64:ff9b::808:808",  # NAT64 around 8.8.8.8
        "64:ff9b:1::1",
        "fec0::1",  # site-local
        "::808:808",  # IPv4-compatible
        "::ffff:8.8.8.8",  # IPv4-mapped
        "2001:db8::1",
        "3fff::1",
        "100::1",
        "fc00::1",
        "ff0e::1",
        "4000::1",  # outside the global unicast space
        "100.64.0.1",
        "192.88.99.1",
        "198.18.0.1",
        "240.0.0.1",
        "0.1.2.3",
    ],
)
def test_addresses_that_are_not_globally_routable(address):
    assert not address_allowed(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111", "2a00:1450:4001::1"])
def test_public_addresses_are_allowed(address):
    assert address_allowed(address)


def test_a_refusal_does_not_say_what_a_name_resolves_to(serve):
    listener = serve()
    with pytest.raises(FetchRefused) as refused:
        fetch(f"http://localhost:{listener.server_address[1]}/")
    assert "does not fetch from localhost" in refused.value.message
    assert "127.0.0.1" not in refused.value.message and "::1" not in refused.value.message
    with pytest.raises(FetchRefused) as unknown:
        fetch("http://no-such-host.invalid/")
    assert "does not fetch from no-such-host.invalid" in unknown.value.message


@pytest.mark.parametrize(
    "url", ["http://[::1", "http://example.org:99999/", "http://example.org:-1/", "http://a b/"]
)
def test_malformed_urls_are_refused(url):
    with pytest.raises(FetchRefused, match="cannot be fetched"):
        fetch(url)


def test_remote_values_in_messages_are_clipped():
    with pytest.raises(FetchRefused) as refused:
        fetch("ftp://" + "a" * 100_000)
    assert len(refused.value.message) < 400


def _dripping_server(every: float):
    """A listener that sends headers at once, then one body byte every `every` seconds."""
    listener = socket.create_server(("127.0.0.1", 0))

    def answer():
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
            connection.sendall(b"Content-Length: 1000\r\n\r\n")
            for _ in range(1000):
                try:
                    connection.sendall(b" ")
                except OSError:
                    return
                time.sleep(every)

    threading.Thread(target=answer, daemon=True).start()
    return listener


def test_a_dripping_answer_ends_at_the_deadline(settings):
    settings.LAURELS_ALLOW_PRIVATE_FETCH = "true"
    settings.LAURELS_FETCH_DEADLINE = 1
    listener = _dripping_server(every=0.05)
    started = time.monotonic()
    with listener, pytest.raises(FetchRefused, match="did not answer in time"):
        fetch(f"http://127.0.0.1:{listener.getsockname()[1]}/", timeout=5)
    assert time.monotonic() - started < 1.5


def test_encoded_answers_are_inflated_within_the_cap(serve, settings):
    settings.LAURELS_ALLOW_PRIVATE_FETCH = "true"
    small = gzip.compress(b'{"a": 1}')
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
    deflated = zlib.compress(b'{"b": 2}')
    server = serve(
        routes={
            "/gzip": (
                200,
                {"Content-Type": "application/json", "Content-Encoding": "gzip"},
                small,
                0,
            ),
            "/deflate": (
                200,
                {"Content-Type": "application/json", "Content-Encoding": "deflate"},
                deflated,
                0,
            ),
            "/bomb": (
                200,
                {"Content-Type": "application/json", "Content-Encoding": "gzip"},
                bomb,
                0,
            ),
            "/br": (200, {"Content-Type": "application/json", "Content-Encoding": "br"}, b"x", 0),
            "/twice": (
                200,
                {"Content-Type": "application/json", "Content-Encoding": "gzip, gzip"},
                gzip.compress(small),
                0,
            ),
        }
    )
    assert fetch(server.url + "/gzip").content == b'{"a": 1}'
    assert fetch(server.url + "/deflate").content == b'{"b": 2}'
    with pytest.raises(FetchRefused, match="inflates to more than 1048576 bytes"):
        fetch(server.url + "/bomb", max_bytes=1024 * 1024)
    for path in ("/br", "/twice"):
        with pytest.raises(FetchRefused, match="encoding this server does not read"):
            fetch(server.url + path)
