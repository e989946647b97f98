"""Backpack badges as Badgr's v2 JSON: one shape for an award made here and for an
imported one, shown by `/v2/backpack` and by published collections (`backpack.views`).
It lives in `backpack` so that its public pages need nothing from the API above it.

As in Badgr, `badgeclass` and `issuer` are entity ids; asked to expand them (`EXPAND`),
`badgeclass` becomes the Open Badges BadgeClass (with `id` and `type`) and, with
`issuer` too, its `issuer` the nested Issuer Profile: what Moodle's 2.0 backpack reads.
An imported badge has no entity here, so its ids are null and its expanded objects are
made from the (checked) URLs and texts of the documents it was imported from.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlencode

from django.conf import settings

from laurels.backpack.models import ImportedBadge
from laurels.core.public import iso, url_of
from laurels.core.untrusted import shown_url
from laurels.issuing.models import Assertion
from laurels.openbadges.documents import badge_class_document, issuer_profile

EXPAND = frozenset({"badgeclass", "issuer"})


def imported_image_url(badge: ImportedBadge) -> str:
    return f"{settings.LAURELS_BASE_URL}/share/badges/{badge.entity_id}/image"


def badge_json(entry, expand: Collection[str] = ()) -> dict:
    """The badge in Badgr's shape; `expand` may name `badgeclass` and `issuer`."""
    if isinstance(entry, Assertion):
        shown = _local_json(entry)
        if "badgeclass" in expand:
            shown["badgeclass"] = badge_class_document(entry.badge_class)
            if "issuer" in expand:
                shown["badgeclass"]["issuer"] = issuer_profile(entry.issuer)
        return shown
    shown = _imported_json(entry)
    if "badgeclass" in expand:
        shown["badgeclass"] = _imported_badge_class(entry, with_issuer="issuer" in expand)
    return shown


def _local_json(entry: Assertion) -> dict:
    badge_class, issuer = entry.badge_class, entry.issuer
    return {
        "entityType": "Assertion",
        "entityId": entry.entity_id,
        "source": "local",
        "openBadgeId": url_of("assertions", entry),
        "badgeclass": badge_class.entity_id,
        "badgeclassOpenBadgeId": url_of("badges", badge_class),
        "issuer": issuer.entity_id,
        "issuerOpenBadgeId": url_of("issuers", issuer),
        "recipient": {
            "identity": entry.recipient_plaintext,
            "type": entry.recipient_type,
            "hashed": entry.recipient_hashed,
            "plaintextIdentity": entry.recipient_plaintext,
        },
        "image": url_of("assertions", entry) + "/image",
        "issuedOn": iso(entry.issued_on),
        "expires": iso(entry.expires),
        "revoked": entry.revoked,
        "revocationReason": entry.revocation_reason or None,
        "acceptance": entry.acceptance,
        "pending": False,
        "narrative": entry.narrative or None,
        "evidence": entry.evidence,
    }


def _imported_json(entry: ImportedBadge) -> dict:
    badge_class, issuer, assertion = entry.badge_class, entry.issuer, entry.assertion
    recipient = assertion.get("recipient") if isinstance(assertion.get("recipient"), dict) else {}
    return {
        "entityType": "Assertion",
        "entityId": entry.entity_id,
        "source": "imported",
        "openBadgeId": shown_url(entry.source_id) or "",
        "badgeclass": None,
        "badgeclassOpenBadgeId": shown_url(badge_class.get("id")),
        "issuer": None,
        "issuerOpenBadgeId": shown_url(issuer.get("id")),
        "recipient": {
            "identity": str(recipient.get("identity", "")),
            "type": str(recipient.get("type", "email")),
            "hashed": bool(recipient.get("hashed", False)),
            "plaintextIdentity": None,
        },
        "image": imported_image_url(entry),
        "issuedOn": iso(entry.issued_on),
        "expires": iso(entry.expires),
        "revoked": entry.status != ImportedBadge.Status.VERIFIED,
        "revocationReason": None
        if entry.status == ImportedBadge.Status.VERIFIED
        else entry.get_status_display(),
        "acceptance": entry.acceptance,
        "pending": False,
        "narrative": assertion.get("narrative"),
        "evidence": [
            e
            for e in assertion.get("evidence", [])
            if isinstance(e, dict) and (e.get("id") is None or shown_url(e["id"]))
        ]
        if isinstance(assertion.get("evidence"), list)
        else [],
    }


def _imported_badge_class(entry: ImportedBadge, *, with_issuer: bool) -> dict:
    """The imported BadgeClass, only its checked URLs and texts (never the remote JSON
    as it came: it may carry anything)."""
    badge_class, issuer = entry.badge_class, entry.issuer
    criteria = badge_class.get("criteria") if isinstance(badge_class.get("criteria"), dict) else {}
    issuer_id = shown_url(issuer.get("id"))
    return {
        "type": "BadgeClass",
        "id": shown_url(badge_class.get("id")),
        "name": str(badge_class.get("name", "")),
        "description": str(badge_class.get("description", "")),
        "image": imported_image_url(entry),
        "criteria": {
            k: v
            for k, v in {
                "id": shown_url(criteria.get("id")),
                "narrative": criteria.get("narrative")
                if isinstance(criteria.get("narrative"), str)
                else None,
            }.items()
            if v
        },
        "issuer": {
            "type": "Issuer",
            "id": issuer_id,
            "name": str(issuer.get("name", "")),
            "url": shown_url(issuer.get("url")),
        }
        if with_issuer
        else issuer_id,
    }


# Where Badgr's share endpoints send a badge or collection, by `provider`.
SHARE_PROVIDERS = {
    "facebook": ("https://www.facebook.com/sharer/sharer.php", lambda url, title: {"u": url}),
    "linkedin": (
        "https://www.linkedin.com/shareArticle",
        lambda url, title: {"mini": "true", "url": url, "title": title},
    ),
    "twitter": (
        "https://twitter.com/intent/tweet",
        lambda url, title: {"text": f"{title} {url}"},
    ),
    "pinterest": (
        "https://www.pinterest.com/pin/create/bookmarklet/",
        lambda url, title: {"url": url, "description": title},
    ),
}


def share_link(provider: str, url: str, title: str) -> str | None:
    """The link that shares `url` on `provider` (one of SHARE_PROVIDERS, any case), or
    None for a provider Badgr did not know."""
    found = SHARE_PROVIDERS.get(provider.lower())
    if found is None:
        return None
    base, query = found
    return f"{base}?{urlencode(query(url, title))}"
