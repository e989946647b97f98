"""Who is on the other end of a request: the client address that rate limits and audit
rows key on.

Behind a reverse proxy every request comes from the proxy, so each limit would be one
limit for everybody. `LAURELS_TRUSTED_PROXIES` names the proxies whose `X-Forwarded-For`
is believed. Each proxy appends the address it saw to the header's right end, so the
header is read from the right, past the trusted proxies, to the first address that is
not one: everything to its left was written by the client and is not believed (the
left-most entry is the easiest to forge). Libraries such as django-ipware take the
left-most entry once the last hop is trusted, which is what this must not do; the walk is
a few lines of the standard `ipaddress` module.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from django.http import HttpRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    """`10.0.0.1`, `10.0.0.0/8`, `2001:db8::/32` as networks; ValueError names a bad one."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network") from None
    return tuple(networks)


@functools.lru_cache(maxsize=8)
def _trusted(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return parse_networks(entries)


def _parse_address(text: str) -> IPAddress | None:
    """One hop of X-Forwarded-For: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or
    `[2001:db8::1]:443`; None when it is none of these."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:  # IPv4 with a port; a bare IPv6 address has several colons
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped  # ::ffff:192.0.2.1 is 192.0.2.1
    return address


def client_address(request: HttpRequest) -> str | None:
    """The address of the client that made `request`, as text; None if unknown.

    The direct peer (`REMOTE_ADDR`) unless it is a trusted proxy; then the right-most
    `X-Forwarded-For` entry that is not a trusted proxy. A malformed entry stops the walk
    at the proxy that passed it on, so garbage never names a client.
    """
    peer = _parse_address(request.META.get("REMOTE_ADDR", ""))
    if peer is None:
        return None
    trusted = _trusted(tuple(settings.LAURELS_TRUSTED_PROXIES))
    if not trusted:
        return str(peer)
    client = peer
    hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    for hop in reversed(hops):
        if not any(client in network for network in trusted):
            break
        if not hop.strip():
            break
        address = _parse_address(hop)
        if address is None:
            break
        client = address
    return str(client)
