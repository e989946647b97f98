"""Safe fetching: SSRF refusals happen before any connection; hostile answers are capped."""

import pytest

from laurels.core.fetch import FetchRefused, fetch


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
