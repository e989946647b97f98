"""Issuing objects as Badgr's v2 JSON (camelCase), with their public Open Badges URLs."""

from __future__ import annotations

from laurels.core.public import iso, url_of
from laurels.issuing.models import Assertion, BadgeClass, Issuer, StaffInvitation


def _creator(instance) -> str | None:
    return instance.created_by.entity_id if instance.created_by_id else None


def issuer_json(issuer: Issuer) -> dict:
    """`staff` should be prefetched with its users."""
    return {
        "entityType": "Issuer",
        "entityId": issuer.entity_id,
        "openBadgeId": url_of("issuers", issuer),
        "createdAt": iso(issuer.created_at),
        "createdBy": _creator(issuer),
        "name": issuer.name,
        "image": url_of("issuers", issuer) + "/image" if issuer.image else None,
        "email": issuer.email,
        "description": issuer.description,
        "url": issuer.url,
        "staff": [
            {"user": member.user.entity_id, "email": member.user.email, "role": member.role}
            for member in issuer.staff.all()
        ],
        "extensions": issuer.extensions,
        # Laurels' addition (read-only): an administrator or a domain check verified it.
        "verified": issuer.verified_at is not None,
    }


def staff_invitation_json(invitation: StaffInvitation) -> dict:
    return {
        "entityType": "StaffInvitation",
        "entityId": invitation.entity_id,
        "email": invitation.email,
        "role": invitation.role,
        "invitedAt": iso(invitation.created_at),
        "expiresAt": iso(invitation.expires_at),
    }


def badge_class_json(badge_class: BadgeClass) -> dict:
    """`issuer` should be loaded with it (select_related)."""
    expires = None
    if badge_class.expires_amount:
        expires = {"amount": badge_class.expires_amount, "duration": badge_class.expires_duration}
    return {
        "entityType": "BadgeClass",
        "entityId": badge_class.entity_id,
        "openBadgeId": url_of("badges", badge_class),
        "createdAt": iso(badge_class.created_at),
        "createdBy": _creator(badge_class),
        "issuer": badge_class.issuer.entity_id,
        "issuerOpenBadgeId": url_of("issuers", badge_class.issuer),
        "name": badge_class.name,
        "image": url_of("badges", badge_class) + "/image",
        "description": badge_class.description,
        "criteriaUrl": badge_class.criteria_url or None,
        "criteriaNarrative": badge_class.criteria_narrative or None,
        "alignments": badge_class.alignments,
        "tags": badge_class.tags,
        "expires": expires,
        "extensions": badge_class.extensions,
    }


def assertion_json(assertion: Assertion) -> dict:
    """`badge_class` and `issuer` should be loaded with it (select_related)."""
    return {
        "entityType": "Assertion",
        "entityId": assertion.entity_id,
        "openBadgeId": url_of("assertions", assertion),
        "createdAt": iso(assertion.created_at),
        "createdBy": _creator(assertion),
        "badgeclass": assertion.badge_class.entity_id,
        "badgeclassOpenBadgeId": url_of("badges", assertion.badge_class),
        "issuer": assertion.issuer.entity_id,
        "issuerOpenBadgeId": url_of("issuers", assertion.issuer),
        "image": url_of("assertions", assertion) + "/image",
        "recipient": {
            "identity": assertion.recipient_identity,
            "hashed": assertion.recipient_hashed,
            "type": assertion.recipient_type,
            "plaintextIdentity": assertion.recipient_plaintext,
            "salt": assertion.recipient_salt or None,
        },
        "issuedOn": iso(assertion.issued_on),
        "narrative": assertion.narrative or None,
        # Both keys of each item, null where absent, as Badgr's serializer wrote them.
        "evidence": [
            {"url": item.get("url"), "narrative": item.get("narrative")}
            for item in assertion.evidence
        ],
        "revoked": assertion.revoked,
        "revocationReason": assertion.revocation_reason or None,
        "acceptance": assertion.acceptance,
        "expires": iso(assertion.expires),
        "extensions": assertion.extensions,
    }
