"""Open Badges 2.0 documents (JSON-LD) for issuers, badge classes, assertions, keys and
revocation lists, each with `id` equal to its own public URL.

An object brought over from a Badgr server keeps its ids under the old server's origin
(`hosted_origin`, `laurels.core.public.url_of`): every id and link below is made from
the rows alone, never from the request, so a document is the same whichever host was
asked (and what is kept of it is keyed by those origins: `services.document_versions`).
"""

from __future__ import annotations

from laurels.core.public import iso, public_url, url_of
from laurels.issuing.models import Assertion, BadgeClass, Issuer

OB2_CONTEXT = "https://w3id.org/openbadges/v2"


def issuer_profile(issuer: Issuer, signing_key=None) -> dict:
    """The issuer Profile; `signing_key` is the one key it lists (Open Badges 2.0 allows a
    single `publicKey`, and verifiers accept a signature only by that key)."""
    document = {
        "@context": OB2_CONTEXT,
        "type": "Issuer",
        "id": url_of("issuers", issuer),
        "name": issuer.name,
        "url": issuer.url,
        "email": issuer.email,
    }
    if issuer.description:
        document["description"] = issuer.description
    if issuer.image:
        document["image"] = url_of("issuers", issuer) + "/image"
    if signing_key is not None:
        document["publicKey"] = key_url(signing_key, issuer)
        document["revocationList"] = url_of("issuers", issuer) + "/revocations"
    return document


def key_url(key, issuer: Issuer) -> str:
    """A signing key lives where its issuer does."""
    return public_url("keys", key.entity_id, issuer.hosted_origin)


def badge_class_criteria_url(badge_class: BadgeClass) -> str:
    """Badgr's criteria page of a badge class (`/public/badges/{id}/criteria`), which
    shows what it is awarded for."""
    return url_of("badges", badge_class) + "/criteria"


def badge_class_document(badge_class: BadgeClass) -> dict:
    criteria = {}
    if badge_class.criteria_url:
        criteria["id"] = badge_class.criteria_url
    if badge_class.criteria_narrative:
        criteria["narrative"] = badge_class.criteria_narrative
    if not criteria:  # criteria are optional (as in Badgr): the public page stands for them
        criteria["id"] = badge_class_criteria_url(badge_class)
    document = {
        "@context": OB2_CONTEXT,
        "type": "BadgeClass",
        "id": url_of("badges", badge_class),
        "name": badge_class.name,
        "description": badge_class.description,
        "image": url_of("badges", badge_class) + "/image",
        "criteria": criteria,
        "issuer": url_of("issuers", badge_class.issuer),
    }
    if badge_class.tags:
        document["tags"] = badge_class.tags
    if badge_class.alignments:
        document["alignment"] = [
            {k: v for k, v in alignment.items() if v not in (None, "")}
            for alignment in badge_class.alignments
        ]
    return document


def assertion_document(assertion: Assertion, signing_key=None) -> dict:
    """The assertion; `signing_key` given, its verification is SignedBadge by that key."""
    recipient = {
        "type": assertion.recipient_type,
        "hashed": assertion.recipient_hashed,
        "identity": assertion.recipient_identity,
    }
    if assertion.recipient_hashed and assertion.recipient_salt:
        # Unsalted hashes (brought over from Badgr) carry no `salt`, as Badgr published them.
        recipient["salt"] = assertion.recipient_salt
    url = url_of("assertions", assertion)
    verification = (
        {"type": "SignedBadge", "creator": key_url(signing_key, assertion.issuer)}
        if signing_key is not None
        else {"type": "HostedBadge"}
    )
    document = {
        "@context": OB2_CONTEXT,
        "type": "Assertion",
        "id": url,
        "recipient": recipient,
        "badge": url_of("badges", assertion.badge_class),
        "verification": verification,
        "issuedOn": iso(assertion.issued_on),
        "image": url + "/image",
    }
    if assertion.expires:
        document["expires"] = iso(assertion.expires)
    if assertion.narrative:
        document["narrative"] = assertion.narrative
    if assertion.evidence:
        document["evidence"] = [
            {("id" if k == "url" else k): v for k, v in item.items()} for item in assertion.evidence
        ]
    if assertion.revoked:
        document["revoked"] = True
        if assertion.revocation_reason:
            document["revocationReason"] = assertion.revocation_reason
    return document


def revoked_assertion_document(assertion: Assertion) -> dict:
    """What a revoked hosted assertion answers (with 410 Gone), as the specification asks."""
    document = {
        "@context": OB2_CONTEXT,
        "id": url_of("assertions", assertion),
        "revoked": True,
    }
    if assertion.revocation_reason:
        document["revocationReason"] = assertion.revocation_reason
    return document


def cryptographic_key_document(key) -> dict:
    return {
        "@context": OB2_CONTEXT,
        "type": "CryptographicKey",
        "id": key_url(key, key.issuer),
        "owner": url_of("issuers", key.issuer),
        "publicKeyPem": key.public_key_pem,
    }


def revocation_list_document(issuer: Issuer, revoked: list[Assertion]) -> dict:
    return {
        "@context": OB2_CONTEXT,
        "type": "RevocationList",
        "id": url_of("issuers", issuer) + "/revocations",
        "issuer": url_of("issuers", issuer),
        "revokedAssertions": [
            {
                "id": url_of("assertions", a),
                **({"revocationReason": a.revocation_reason} if a.revocation_reason else {}),
            }
            for a in revoked
        ],
    }


# --- Open Badges 1.1 (`?v=1_1`, as Badgr served) ----------------------------------------------

OB1_CONTEXT = "https://w3id.org/openbadges/v1"
V1_1 = "?v=1_1"


def ob1_document(document: dict) -> dict:
    """The Open Badges 1.1 form of a 2.0 issuer, badge class or assertion document (and of
    what it embeds): the v1 context, links to the 1.1 forms, a criteria URL, and `verify`
    in place of `verification`. Other documents come back as they are."""
    kind = document.get("type")
    if kind not in ("Issuer", "BadgeClass", "Assertion"):
        return document
    shown = {k: v for k, v in document.items() if k not in ("publicKey", "revocationList")}
    shown["@context"] = OB1_CONTEXT
    shown["id"] = document["id"] + V1_1
    if kind == "BadgeClass":
        criteria = document.get("criteria") or {}
        shown["criteria"] = criteria.get("id") or document["id"] + "/criteria"
        shown["issuer"] = _ob1_link(document["issuer"])
    if kind == "Assertion":
        verification = shown.pop("verification", {})
        shown["uid"] = document["id"].rsplit("/", 1)[-1]
        shown["badge"] = _ob1_link(document["badge"])
        shown["verify"] = (
            {"type": "signed", "url": verification["creator"]}
            if verification.get("type") == "SignedBadge"
            else {"type": "hosted", "url": shown["id"]}
        )
        if document.get("evidence"):
            shown["evidence"] = next(
                (item["id"] for item in document["evidence"] if item.get("id")), None
            )
            if shown["evidence"] is None:
                del shown["evidence"]
    return shown


def _ob1_link(value):
    """A link to another document in its 1.1 form, or the embedded document made 1.1."""
    if isinstance(value, dict):
        embedded = ob1_document(value)
        embedded.pop("@context", None)
        return embedded
    return value + V1_1
