"""Safe fetching: the one way Laurels makes an outbound HTTP request.

Every URL is checked before a connection is made: http or https only; the host is
resolved here and every address it resolves to must be public (not loopback, private,
link-local, multicast, reserved or unspecified). The connection then goes to the address
that was checked, never to a second lookup (no DNS rebinding), with the original host
name in `Host` and in TLS SNI. Redirects are followed by hand, at most three, each hop
checked the same way. Connect and read time are limited, and the body is read up to a
byte cap.

`LAURELS_ALLOW_PRIVATE_FETCH` relaxes the address rule: `true` allows any address (tests,
intranets), or a comma-separated list of networks allows just those
(e.g. `127.0.0.2/32,10.1.0.0/16`).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
from django.conf import settings

from laurels.core.errors import DomainError

MAX_REDIRECTS = 3
USER_AGENT = "Laurels (Open Badges server)"


class FetchRefused(DomainError):
    """The URL, an address it resolves to, or the answer was refused."""

    status = 400


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    status: int
    content_type: str
    content: bytes

    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


def _allowed_networks() -> tuple[bool, list]:
    setting = str(getattr(settings, "LAURELS_ALLOW_PRIVATE_FETCH", "") or "").strip()
    if setting.lower() in {"1", "true", "yes", "on"}:
        return True, []
    networks = []
    for item in setting.split(","):
        if item.strip():
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
    return False, networks


def address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    allow_all, networks = _allowed_networks()
    if allow_all or any(ip in network for network in networks):
        return True
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def _checked_address(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, address to connect to), or FetchRefused."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise FetchRefused(f"Only http and https URLs can be fetched, not {url!r}.")
    host = parts.hostname
    if not host:
        raise FetchRefused(f"{url!r} has no host.")
    if parts.username or parts.password:
        raise FetchRefused("URLs with credentials in them are not fetched.")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise FetchRefused(f"The host {host} cannot be resolved.") from None
    addresses = [info[4][0] for info in infos]
    refused = [a for a in addresses if not address_allowed(a)]
    if refused or not addresses:
        raise FetchRefused(
            f"{host} resolves to {refused[0] if refused else 'nothing'}, an address this "
            "server does not fetch from (loopback, private or reserved)."
        )
    return parts.scheme, host, port, addresses[0]


def _pinned_request(url: str, address: str, host: str, scheme: str, port: int, accept: str):
    parts = urlsplit(url)
    literal = f"[{address}]" if ":" in address else address
    default = (scheme == "https" and port == 443) or (scheme == "http" and port == 80)
    netloc = literal if default else f"{literal}:{port}"
    pinned = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    host_header = host if default else f"{host}:{port}"
    headers = {"Host": host_header, "Accept": accept, "User-Agent": USER_AGENT}
    extensions = {"sni_hostname": host} if scheme == "https" else {}
    return pinned, headers, extensions


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
    limits = httpx.Timeout(seconds, connect=min(seconds, 5.0))
    current = url
    with httpx.Client(timeout=limits, follow_redirects=False, verify=True) as client:
        for _ in range(MAX_REDIRECTS + 1):
            scheme, host, port, address = _checked_address(current)
            pinned, headers, extensions = _pinned_request(
                current, address, host, scheme, port, accept
            )
            try:
                with client.stream("GET", pinned, headers=headers, extensions=extensions) as answer:
                    if answer.is_redirect and "location" in answer.headers:
                        current = urljoin(current, answer.headers["location"])
                        continue
                    content_type = answer.headers.get("content-type", "").split(";")[0].strip()
                    if (
                        content_types
                        and answer.status_code < 400
                        and (content_type not in content_types)
                    ):
                        raise FetchRefused(
                            f"{current} answered {content_type or 'no content type'}, not "
                            f"{' or '.join(content_types)}."
                        )
                    declared = answer.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > cap:
                        raise FetchRefused(f"{current} is larger than {cap} bytes.")
                    body = bytearray()
                    for chunk in answer.iter_bytes():
                        body.extend(chunk)
                        if len(body) > cap:
                            raise FetchRefused(f"{current} is larger than {cap} bytes.")
                    return Fetched(current, answer.status_code, content_type, bytes(body))
            except httpx.TimeoutException:
                raise FetchRefused(f"{current} did not answer in time.") from None
            except httpx.HTTPError as error:
                raise FetchRefused(f"{current} could not be fetched: {error}.") from None
    raise FetchRefused(f"{url} redirects more than {MAX_REDIRECTS} times.")
