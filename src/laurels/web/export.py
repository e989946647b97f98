"""The download of all one's data (`/account/export/`): one zip of what the account holds.

    profile.json              the account, as GET /v2/users/self shows it
    backpack.json             every badge of the backpack (revoked, expired and rejected
                              ones too), as GET /v2/backpack/assertions shows them, expanded
    images/<entityId>.<ext>   the baked image of each award made here
    imported/<entityId>.json  the documents each imported badge was imported from
    collections.json          the collections, as GET /v2/backpack/collections shows them

Only the viewer's own data: everything is read through the selectors that scope reads to
them. Built in memory, up to EXPORT_MAX_BYTES: beyond that the download is refused
(ExportTooLarge) rather than holding a worker's memory hostage.
"""

from __future__ import annotations

import io
import json
import zipfile

from django.http import HttpResponse
from django.utils import timezone

from laurels.accounts import selectors as account_selectors
from laurels.accounts.models import User
from laurels.api.backpack import collection_json
from laurels.api.presenters import user_json
from laurels.backpack import selectors as backpack_selectors
from laurels.backpack.models import ImportedBadge
from laurels.backpack.presenters import EXPAND, badge_json
from laurels.core.errors import DomainError
from laurels.core.ratelimit import Limit, enforce_limits
from laurels.openbadges.services import baked_image

EXPORT_MAX_BYTES = 100 * 1024 * 1024


class ExportTooLarge(DomainError):
    status = 413
    default_message = (
        "Your data is too large to download in one file. Please ask the server's "
        "administrators for a copy."
    )


class _CappedZip:
    """A zip in memory that refuses (ExportTooLarge) to grow past `limit` bytes."""

    def __init__(self, limit: int) -> None:
        self.buffer = io.BytesIO()
        self.limit = limit
        self.zip = zipfile.ZipFile(self.buffer, "w", compression=zipfile.ZIP_DEFLATED)

    def add(self, name: str, content: bytes, *, compress: bool = True) -> None:
        kind = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        self.zip.writestr(name, content, compress_type=kind)
        if self.buffer.tell() > self.limit:
            raise ExportTooLarge()

    def add_json(self, name: str, value: object) -> None:
        self.add(name, json.dumps(value, indent=2, ensure_ascii=False).encode())

    def close(self) -> bytes:
        self.zip.close()
        return self.buffer.getvalue()


def export_zip(user: User, *, limit: int | None = None) -> bytes:
    """The zip of `user`'s data (see the module's docstring)."""
    archive = _CappedZip(EXPORT_MAX_BYTES if limit is None else limit)
    archive.add_json("profile.json", user_json(account_selectors.user_profile(viewer=user)))
    flags = {"include_revoked": True, "include_rejected": True}
    local = list(backpack_selectors.local_awards(user=user, whole=True, **flags))
    imported = list(backpack_selectors.imported_badges(user=user, **flags))
    archive.add_json("backpack.json", [badge_json(e, EXPAND) for e in [*local, *imported]])
    for award in local:
        content, extension = baked_image(award)
        archive.add(f"images/{award.entity_id}.{extension}", content, compress=extension != "png")
    for badge in imported:
        archive.add_json(f"imported/{badge.entity_id}.json", _imported_documents(badge))
    collections = backpack_selectors.user_collections(user=user)
    archive.add_json("collections.json", [collection_json(c) for c in collections])
    return archive.close()


def _imported_documents(badge: ImportedBadge) -> dict:
    """What an imported badge was made of: its three Open Badges documents as fetched and
    checked, and the signed form when it came signed."""
    return {
        "source": badge.source_id,
        "assertion": badge.assertion,
        "badgeclass": badge.badge_class,
        "issuer": badge.issuer,
        "signed": badge.signed_jws or None,
        "status": badge.status,
    }


# Each export reads every badge and bakes what is not baked yet: a few a person per hour.
EXPORT_LIMIT, EXPORT_WINDOW = 3, 3600


def export_response(user: User) -> HttpResponse:
    """The zip as a download named after the server's day; RateLimited beyond EXPORT_LIMIT
    a person per window, so that nobody ties up the workers building zips."""
    enforce_limits(
        Limit("account:export", str(user.pk), EXPORT_LIMIT, EXPORT_WINDOW),
        message="You have downloaded your data several times in a row. Try again in {wait}.",
    )
    response = HttpResponse(export_zip(user), content_type="application/zip")
    name = f"laurels-data-{timezone.now():%Y-%m-%d}.zip"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
