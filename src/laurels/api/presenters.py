"""Domain objects turned into the plain dicts the /v2 schemas describe."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

from laurels.accounts.models import User


def user_json(user: User) -> dict:
    """A user as Badgr's BadgeUser; `email_addresses` should be prefetched."""
    return {
        "entityType": "BadgeUser",
        "entityId": user.entity_id,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "emails": [
            {"email": a.email, "verified": a.verified, "primary": a.primary, "caseVariants": []}
            for a in user.email_addresses.all()
        ],
        "url": [],
        "telephone": [],
        "hasPasswordSet": user.has_usable_password(),
        "recipient": {"identity": user.email, "type": "email"},
        # Badgr's terms, marketing and front-end fields, as true for Laurels (docs/api.md).
        "agreedTermsVersion": 0,
        "hasAgreedToLatestTermsVersion": True,
        "marketingOptIn": False,
        "badgrDomain": urlsplit(settings.LAURELS_BASE_URL).netloc,
    }
