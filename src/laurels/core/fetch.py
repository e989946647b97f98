"""Safe fetching: the one way Laurels makes an outbound HTTP request.

Every URL is checked before a connection is made: http or https only, no credentials, a
valid port. The host is resolved here and every address it resolves to must be globally
routable: loopback, private, link-local, site-local, multicast, reserved, documentation
and unspecified addresses are refused, and so is every IPv6 address outside the global
unicast space (2000::/3) or embedding an IPv4 address (IPv4-mapped and -compatible,
6to4, Teredo, NAT64), since the IPv4 address inside may be anything. A refusal never
says what a host resolved to. The connection then goes to the address that was checked,
never to a second lookup (no DNS rebinding), with the original host name in `Host` and
in TLS SNI. Redirects are followed by hand, at most three, each hop checked the same way
and on a connection of its own.

Time is bounded twice: each connect, read or write waits at most
`LAURELS_FETCH_TIMEOUT` seconds, and the whole fetch (name lookups, redirects, body)
ends by `LAURELS_FETCH_DEADLINE` seconds, so a host dripping one byte at a time cannot
hold a worker. Inside `one_deadline()`, several fetches share a single deadline.

The body is read up to a byte cap. Only identity encoding is asked for; a gzip or
deflate answer is inflated within the same cap, any other encoding refused.

`LAURELS_ALLOW_PRIVATE_FETCH` relaxes the address rule: `true` allows any address (tests,
intranets), or a comma-separated list of networks allows just those
(e.g. `127.0.0.2/32,10.1.0.0/16`).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as LookupTimedOut
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from urllib.parse import quote, urljoin, urlunsplit

import httpcore
import httpx
from django.conf import settings

from laurels.core.errors import DomainError
from laurels.core.untrusted import (
    ZLIB_OR_GZIP,
    InflateRefused,
    ascii_host,
    clipped,
    inflate,
    split_http_url,
    whole_number,
)

MAX_REDIRECTS = 3
USER_AGENT = "Laurels (Open Badges server)"
CONNECT_SECONDS = 5.0
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
# Characters left as they are when a URL's path and query are sent (the rest is quoted).
URL_SAFE = "/%:@!$&'()*+,;=-._~?"

# Ranges that ipaddress counts as global (or that hide an IPv4 address) but no public
# host should answer from.
REFUSED_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",  # "this network"
        "100.64.0.0/10",  # carrier-grade NAT
        "192.0.0.0/24",  # IETF protocol assignments
        "192.88.99.0/24",  # 6to4 relay anycast
        "198.18.0.0/15",  # benchmarking
        "240.0.0.0/4",  # reserved, and the broadcast address
        "::/96",  # IPv4-compatible (and :: and ::1)
        "::ffff:0:0/96",  # IPv4-mapped
        "::ffff:0:0:0/96",  # IPv4-translated
        "64:ff9b::/96",  # NAT64
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "2001::/32",  # Teredo
        "2001:db8::/32",  # documentation
        "2002::/16",  # 6to4
        "3fff::/20",  # documentation
        "5f00::/16",  # segment routing
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local
        "ff00::/8",  # multicast
    )
)
GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")

# The deadline shared by every fetch of one task (see `one_deadline`), if any.
_shared_deadline: ContextVar[float | None] = ContextVar("laurels_fetch_deadline", default=None)
# Name lookups run here so that one that hangs can be abandoned at the deadline.
# A lookup abandoned at the deadline keeps its thread until the resolver gives up, so
# there are enough threads that a few slow names cannot starve every other import.
_resolver = ThreadPoolExecutor(max_workers=32, thread_name_prefix="laurels-resolve")

_TIMEOUTS = (httpcore.TimeoutException, LookupTimedOut)
_FAILURES = {
    httpcore.ConnectError: "the connection failed",
    httpcore.ReadError: "the connection broke",
    httpcore.WriteError: "the connection broke",
    httpcore.RemoteProtocolError: "its answer is not valid HTTP",
    httpcore.LocalProtocolError: "the request could not be made",
    httpcore.UnsupportedProtocol: "the request could not be made",
}


class FetchRefused(DomainError):
    """The URL, an address it resolves to, or the answer was refused."""

    status = 400


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    status: int
    content_type: str
    content: bytes


# --- which addresses ---------------------------------------------------------------------------


def _allowed_networks() -> tuple[bool, list]:
    setting = str(getattr(settings, "LAURELS_ALLOW_PRIVATE_FETCH", "") or "").strip()
    if setting.lower() in {"1", "true", "yes", "on"}:
        return True, []
    networks = []
    for item in setting.split(","):
        if item.strip():
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
    return False, networks


def _within(ip, networks) -> bool:
    return any(ip.version == network.version and ip in network for network in networks)


def _globally_routable(ip) -> bool:
    if ip.version == 6 and ip not in GLOBAL_UNICAST_V6:
        return False
    if _within(ip, REFUSED_NETWORKS):
        return False
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def address_allowed(address: str) -> bool:
    """Whether a connection to `address` may be made: a globally routable address, or
    one that `LAURELS_ALLOW_PRIVATE_FETCH` opens."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    allow_all, networks = _allowed_networks()
    return allow_all or _within(ip, networks) or _globally_routable(ip)


def _redirect_target(current: str, location: str) -> str:
    """Where a redirect points, or FetchRefused for a Location no URL can be made of."""
    try:
        return urljoin(current, location)
    except ValueError:
        message = f"{clipped(current)} redirects to an address that is not a URL."
        raise FetchRefused(message) from None


def _resolved(host: str, port: int, deadline: float) -> list[str]:
    """The addresses of `host`, or [] when it cannot be resolved. A lookup still running
    at the deadline is a timeout (LookupTimedOut), not a refusal of the host."""
    lookup = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = lookup.result(timeout=max(deadline - time.monotonic(), 0.01))
    except (OSError, UnicodeError):
        return []
    return [info[4][0] for info in infos]


def _checked_address(url: str, deadline: float) -> tuple[str, str, int, str]:
    """(scheme, host, port, address to connect to), or FetchRefused."""
    try:
        parts = split_http_url(url)
        host = ascii_host(parts.hostname)
    except (ValueError, UnicodeError) as error:
        raise FetchRefused(f"{clipped(url)} cannot be fetched: {error}.") from None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = _resolved(host, port, deadline)
    if not addresses or not all(address_allowed(address) for address in addresses):
        # Whether the name resolved, and to what, is not told: it would map a private
        # network for whoever asks.
        raise FetchRefused(
            f"This server does not fetch from {clipped(host)}: it is not a public host."
        )
    return parts.scheme, host, port, addresses[0]


# --- the deadline ------------------------------------------------------------------------------


@contextmanager
def one_deadline(seconds: float | None = None) -> Iterator[None]:
    """Every fetch inside shares one deadline, `LAURELS_FETCH_DEADLINE` seconds from now
    (or an outer one, if sooner): a task made of several fetches, such as a badge import,
    then ends by it as a whole, not by one deadline per fetch."""
    deadline = time.monotonic() + (seconds or settings.LAURELS_FETCH_DEADLINE)
    outer = _shared_deadline.get()
    token = _shared_deadline.set(deadline if outer is None else min(deadline, outer))
    try:
        yield
    finally:
        _shared_deadline.reset(token)


def _time_left(timeout: float | None, deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("The fetch deadline passed.")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and TLS handshake ends by the deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float) -> None:
        self._stream = stream
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _time_left(timeout, self._deadline))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _time_left(timeout, self._deadline))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        secured = self._stream.start_tls(
            ssl_context, server_hostname, _time_left(timeout, self._deadline)
        )
        return _DeadlineStream(secured, self._deadline)

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's own socket backend, with every wait cut short at the deadline."""

    def __init__(self, deadline: float) -> None:
        self._backend = httpcore.SyncBackend()
        self._deadline = deadline

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        stream = self._backend.connect_tcp(
            host, port, _time_left(timeout, self._deadline), local_address, socket_options
        )
        return _DeadlineStream(stream, self._deadline)

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("Unix sockets are not fetched from.")

    def sleep(self, seconds: float) -> None:
        time.sleep(min(seconds, max(self._deadline - time.monotonic(), 0)))


# --- one request -------------------------------------------------------------------------------


@cache
def _tls_context() -> ssl.SSLContext:
    """httpx's verifying context (certifi's CA bundle), made once per process."""
    return httpx.create_ssl_context()


def _pinned_request(url: str, address: str, host: str, scheme: str, port: int, accept: str):
    parts = split_http_url(url)
    literal = f"[{address}]" if ":" in address else address
    default = (scheme == "https" and port == 443) or (scheme == "http" and port == 80)
    netloc = literal if default else f"{literal}:{port}"
    path, query = quote(parts.path or "/", safe=URL_SAFE), quote(parts.query, safe=URL_SAFE)
    pinned = urlunsplit((scheme, netloc, path, query, ""))
    headers = {
        "Host": (f"[{host}]" if ":" in host else host) + ("" if default else f":{port}"),
        "Accept": accept,
        "Accept-Encoding": "identity",
        "User-Agent": USER_AGENT,
    }
    extensions = {"sni_hostname": host} if scheme == "https" else {}
    return pinned, headers, extensions


def _decoded(url: str, encoding: str, body: bytes, cap: int) -> bytes:
    """The body with its Content-Encoding undone, within the same byte cap."""
    codings = [c.strip().lower() for c in encoding.split(",")]
    codings = [coding for coding in codings if coding not in {"", "identity"}]
    if not codings:
        return body
    if codings not in (["gzip"], ["x-gzip"], ["deflate"]):
        raise FetchRefused(
            f"{clipped(url)} answered in an encoding this server does not read "
            f"({clipped(encoding, 40)})."
        )
    try:
        return inflate(body, limit=cap, wbits=ZLIB_OR_GZIP)
    except InflateRefused as error:
        raise FetchRefused(f"{clipped(url)} answered compressed data refused: {error}.") from None


def _read(url: str, answer: httpcore.Response, cap: int, content_types) -> Fetched:
    headers = {
        name.decode("latin-1").lower(): value.decode("latin-1") for name, value in answer.headers
    }
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_types and answer.status < 400 and content_type not in content_types:
        raise FetchRefused(
            f"{clipped(url)} answered {clipped(content_type, 60) or 'no content type'}, "
            f"not {' or '.join(content_types)}."
        )
    declared = whole_number(headers.get("content-length", ""))
    if declared is not None and declared > cap:
        raise FetchRefused(f"{clipped(url)} is larger than {cap} bytes.")
    body = bytearray()
    for chunk in answer.iter_stream():
        body.extend(chunk)
        if len(body) > cap:
            raise FetchRefused(f"{clipped(url)} is larger than {cap} bytes.")
    content = _decoded(url, headers.get("content-encoding", ""), bytes(body), cap)
    return Fetched(url, answer.status, content_type, content)


def _location(answer: httpcore.Response) -> str | None:
    if answer.status not in REDIRECT_STATUSES:
        return None
    for name, value in answer.headers:
        if name.lower() == b"location":
            return value.decode("latin-1")
    return None


def fetch(
    url: str,
    *,
    accept: str = "*/*",
    max_bytes: int | None = None,
    content_types: tuple[str, ...] | None = None,
    timeout: float | None = None,
) -> Fetched:
    """GET `url` under the rules above. Answers of any status are returned (a 410 means
    something to Open Badges); refusals raise FetchRefused with a message for people."""
    cap = max_bytes or settings.LAURELS_FETCH_MAX_BYTES
    seconds = timeout or settings.LAURELS_FETCH_TIMEOUT
    deadline = time.monotonic() + settings.LAURELS_FETCH_DEADLINE
    if (shared := _shared_deadline.get()) is not None:
        deadline = min(deadline, shared)
    waits = {"connect": min(seconds, CONNECT_SECONDS), "read": seconds, "write": seconds}
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        try:
            scheme, host, port, address = _checked_address(current, deadline)
            pinned, headers, extensions = _pinned_request(
                current, address, host, scheme, port, accept
            )
            with (
                httpcore.ConnectionPool(
                    ssl_context=_tls_context(),
                    network_backend=_DeadlineBackend(deadline),
                    max_keepalive_connections=0,
                ) as pool,
                pool.stream(
                    "GET", pinned, headers=headers, extensions={**extensions, "timeout": waits}
                ) as answer,
            ):
                location = _location(answer)
                if location is None:
                    return _read(current, answer, cap, content_types)
            current = _redirect_target(current, location)
        except _TIMEOUTS:
            raise FetchRefused(f"{clipped(current)} did not answer in time.") from None
        except tuple(_FAILURES) as error:
            reason = next(text for kind, text in _FAILURES.items() if isinstance(error, kind))
            raise FetchRefused(f"{clipped(current)} could not be fetched: {reason}.") from None
    raise FetchRefused(f"{clipped(url)} redirects more than {MAX_REDIRECTS} times.")
