"""What the public HTML pages show: built from the same objects as the JSON-LD."""

from __future__ import annotations

import functools
import threading

import markdown
import nh3
from django.utils import timezone

from laurels.core.public import url_of
from laurels.issuing.models import Assertion, BadgeClass, Issuer

_converters = threading.local()


@functools.lru_cache(maxsize=256)
def markdown_html(text: str) -> str:
    """Markdown written by issuers, rendered and then sanitized (no scripts, no styles).

    Remembered per text: every award of a badge class shows the same description and
    criteria, and making a converter cost more than converting. One converter per
    thread, reset between texts (a `Markdown` keeps state while it converts)."""
    if not text:
        return ""
    converter = getattr(_converters, "markdown", None)
    if converter is None:
        converter = _converters.markdown = markdown.Markdown()
    return nh3.clean(converter.reset().convert(text))


def masked_identity(kind: str, identity: str) -> str:
    """Enough of a recipient for them to recognise themselves, not enough to harvest."""
    if kind == "email" and "@" in identity:
        local, domain = identity.split("@", 1)
        return f"{local[:1]}{'•' * 4}@{domain}"
    if kind == "telephone":
        return f"{'•' * 6}{identity[-3:]}"
    if kind == "url":
        return identity.split("://", 1)[-1].split("/", 1)[0]
    return identity[:10] + "…"


def award_state(assertion: Assertion) -> tuple[str, str]:
    if assertion.revoked:
        return "revoked", "Revoked"
    if assertion.expires and assertion.expires <= timezone.now():
        return "expired", "Expired"
    return "valid", "Valid"


def _open_graph(title: str, description: str, image: str, url: str) -> dict:
    return {"title": title, "description": description[:300], "image": image, "url": url}


def issuer_page(issuer: Issuer) -> dict:
    url = url_of("issuers", issuer)
    badge_classes = list(issuer.badge_classes.order_by("name")[:100])
    return {
        "issuer": issuer,
        "issuer_url": url,
        "description_html": markdown_html(issuer.description),
        "image_url": url + "/image" if issuer.image else None,
        "badge_classes": [(b, url_of("badges", b)) for b in badge_classes],
        "json_url": url + "?format=json",
        "og": _open_graph(issuer.name, issuer.description, url + "/image", url),
    }


def badge_class_page(badge_class: BadgeClass) -> dict:
    url = url_of("badges", badge_class)
    return {
        "badge_class": badge_class,
        "issuer": badge_class.issuer,
        "issuer_url": url_of("issuers", badge_class.issuer),
        "image_url": url + "/image",
        "description_html": markdown_html(badge_class.description),
        "criteria_html": markdown_html(badge_class.criteria_narrative),
        "json_url": url + "?format=json",
        "og": _open_graph(
            f"{badge_class.name} · {badge_class.issuer.name}",
            badge_class.description,
            url + "/image",
            url,
        ),
    }


def assertion_page(assertion: Assertion) -> dict:
    url = url_of("assertions", assertion)
    badge_class = assertion.badge_class
    state, state_label = award_state(assertion)
    return {
        **badge_class_page(badge_class),
        "assertion": assertion,
        "state": state,
        "state_label": state_label,
        "recipient": masked_identity(assertion.recipient_type, assertion.recipient_plaintext),
        "recipient_name": assertion.recipient_name,
        "narrative_html": markdown_html(assertion.narrative),
        "evidence": assertion.evidence,
        "badge_url": url_of("badges", badge_class),
        "image_url": url + "/image",
        "download_url": url + "/image?download=1",
        "json_url": url + "?format=json",
        "og": _open_graph(
            f"{badge_class.name}: awarded by {assertion.issuer.name}",
            badge_class.description,
            url + "/image",
            url,
        ),
    }
