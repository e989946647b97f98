"""Backpack badges as Badgr's v2 JSON: one shape for an award made here and for an
imported one, shown by `/v2/backpack` and by published collections (`backpack.views`).
It lives in `backpack` so that its public pages need nothing from the API above it."""

from __future__ import annotations

from django.conf import settings

from laurels.backpack.models import ImportedBadge
from laurels.core.public import iso, public_url
from laurels.core.untrusted import shown_url
from laurels.issuing.models import Assertion


def imported_image_url(badge: ImportedBadge) -> str:
    return f"{settings.LAURELS_BASE_URL}/share/badges/{badge.entity_id}/image"


def badge_json(entry) -> dict:
    if isinstance(entry, Assertion):
        badge_class, issuer = entry.badge_class, entry.issuer
        return {
            "entityType": "Assertion",
            "entityId": entry.entity_id,
            "source": "local",
            "openBadgeId": public_url("assertions", entry.entity_id),
            "badgeclass": {
                "openBadgeId": public_url("badges", badge_class.entity_id),
                "name": badge_class.name,
                "description": badge_class.description,
                "image": public_url("badges", badge_class.entity_id) + "/image",
                "criteriaUrl": badge_class.criteria_url or None,
                "criteriaNarrative": badge_class.criteria_narrative or None,
            },
            "issuer": {
                "openBadgeId": public_url("issuers", issuer.entity_id),
                "name": issuer.name,
                "url": issuer.url,
            },
            "image": public_url("assertions", entry.entity_id) + "/image",
            "issuedOn": iso(entry.issued_on),
            "expires": iso(entry.expires),
            "revoked": entry.revoked,
            "revocationReason": entry.revocation_reason or None,
            "acceptance": entry.acceptance,
            "narrative": entry.narrative or None,
            "evidence": entry.evidence,
        }
    badge_class, issuer, assertion = entry.badge_class, entry.issuer, entry.assertion
    criteria = badge_class.get("criteria") if isinstance(badge_class.get("criteria"), dict) else {}
    return {
        "entityType": "Assertion",
        "entityId": entry.entity_id,
        "source": "imported",
        "openBadgeId": shown_url(entry.source_id) or "",
        "badgeclass": {
            "openBadgeId": shown_url(badge_class.get("id")),
            "name": badge_class.get("name", ""),
            "description": badge_class.get("description", ""),
            "image": imported_image_url(entry),
            "criteriaUrl": shown_url(criteria.get("id")),
            "criteriaNarrative": criteria.get("narrative"),
        },
        "issuer": {
            "openBadgeId": shown_url(issuer.get("id")),
            "name": issuer.get("name", ""),
            "url": shown_url(issuer.get("url")),
        },
        "image": imported_image_url(entry),
        "issuedOn": iso(entry.issued_on),
        "expires": iso(entry.expires),
        "revoked": entry.status != ImportedBadge.Status.VERIFIED,
        "revocationReason": None
        if entry.status == ImportedBadge.Status.VERIFIED
        else entry.get_status_display(),
        "acceptance": entry.acceptance,
        "narrative": assertion.get("narrative"),
        "evidence": [
            e
            for e in assertion.get("evidence", [])
            if isinstance(e, dict) and (e.get("id") is None or shown_url(e["id"]))
        ]
        if isinstance(assertion.get("evidence"), list)
        else [],
    }
