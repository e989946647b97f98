"""Domain checks: an issuer proves it controls its website's domain, and is then shown as
verified (`services.issuer_verify(by=DOMAIN)`).

Laurels gives the issuer's owner a token (`issuer_domain_check_token`), an HMAC of the
issuer's entityId under the server's secret key: nobody can make it without the key, and
it stays the same as long as the key does. The issuer publishes it at
`https://<host>/.well-known/laurels-issuer.txt` (the file holds the token, alone on a line)
or in a `<meta name="laurels-issuer-verification" content="TOKEN">` tag of its home page.
Only the host of the issuer's website counts, never its path, and the answer must come
from that host: a redirect to another host (or from https down to http) does not count,
or any site that redirects its home page elsewhere would lend its name to whoever
controls the target. The pages are fetched with
the safe fetcher (`core.fetch`: no private addresses, a byte cap, deadlines), outside any
transaction, before the verification is written.

The website is fetched over https; an http website over http only where
`LAURELS_ALLOW_PRIVATE_FETCH` is set (a test or intranet set-up).

Callers check that the actor may ask (the issuer's owner, `connect.permissions`).
"""

from __future__ import annotations

import re

from django.conf import settings
from django.db import transaction
from django.utils.crypto import constant_time_compare, salted_hmac

from laurels.accounts.models import User
from laurels.core.errors import DomainError
from laurels.core.fetch import FetchRefused, fetch
from laurels.core.untrusted import split_http_url
from laurels.issuing import services
from laurels.issuing.models import Issuer, IssuerVerification

WELL_KNOWN_PATH = "/.well-known/laurels-issuer.txt"
META_NAME = "laurels-issuer-verification"
FILE_MAX_BYTES = 4096
PAGE_MAX_BYTES = 256 * 1024
_SALT = "laurels.issuing.verification.domain"
_META = re.compile(
    rb"<meta\s+[^>]*name=[\"']?" + META_NAME.encode() + rb"[\"']?[^>]*>", re.IGNORECASE
)
_CONTENT = re.compile(rb"content=[\"']?([A-Za-z0-9_-]+)", re.IGNORECASE)


class DomainCheckFailed(DomainError):
    status = 400
    default_message = "The token was not found on the issuer's website."


def issuer_domain_check_token(issuer: Issuer) -> str:
    """What the issuer publishes on its website."""
    digest = salted_hmac(_SALT, issuer.entity_id, algorithm="sha256").hexdigest()
    return f"laurels-{digest[:40]}"


def issuer_domain_check_urls(issuer: Issuer) -> tuple[str, str]:
    """The well-known file and the home page of the issuer's website's host."""
    try:
        parts = split_http_url(issuer.url)
    except (ValueError, DomainError):
        raise DomainCheckFailed("The issuer's website is not a valid web address.") from None
    scheme = "https"
    if parts.scheme == "http" and str(settings.LAURELS_ALLOW_PRIVATE_FETCH or "").strip():
        scheme = "http"
    origin = f"{scheme}://{parts.netloc.rsplit('@', 1)[-1]}"
    return origin + WELL_KNOWN_PATH, origin + "/"


def issuer_domain_check(issuer: Issuer, actor: User | None) -> Issuer:
    """Fetch the token from the issuer's website and mark the issuer verified by its
    domain; DomainCheckFailed (a message for people) when it is not there."""
    if transaction.get_connection().in_atomic_block:
        raise RuntimeError("A domain check fetches the web: call it outside any transaction.")
    token = issuer_domain_check_token(issuer)
    file_url, page_url = issuer_domain_check_urls(issuer)
    if not (_token_in_file(file_url, token) or _token_in_page(page_url, token)):
        raise DomainCheckFailed(
            f"Put {token} in {file_url} (or in a meta tag named {META_NAME} on {page_url}),"
            " then check again."
        )
    return services.issuer_verify(issuer=issuer, by=IssuerVerification.DOMAIN, actor=actor)


def _fetched(url: str, cap: int) -> bytes | None:
    """The body of a 200 answer from `url`'s own host, else None."""
    try:
        answer = fetch(url, accept="text/plain, text/html", max_bytes=cap)
    except FetchRefused:
        return None
    if answer.status != 200 or not _same_host(url, answer.url):
        return None
    return answer.content


def _same_host(asked: str, answered: str) -> bool:
    """Whether the answer came from the host asked (same name and port), over https
    or over the scheme asked."""
    before, after = split_http_url(asked), split_http_url(answered)
    return (after.hostname, after.port) == (before.hostname, before.port) and after.scheme in (
        "https",
        before.scheme,
    )


def _token_in_file(url: str, token: str) -> bool:
    body = _fetched(url, FILE_MAX_BYTES)
    if body is None:
        return False
    lines = body.decode("utf-8", "replace").splitlines()
    return any(constant_time_compare(line.strip(), token) for line in lines[:50])


def _token_in_page(url: str, token: str) -> bool:
    body = _fetched(url, PAGE_MAX_BYTES)
    if body is None:
        return False
    for tag in _META.findall(body):
        found = _CONTENT.search(tag)
        if found and constant_time_compare(found.group(1).decode(), token):
            return True
    return False
