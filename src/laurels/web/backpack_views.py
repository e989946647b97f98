"""The earner's pages: the home page's badges, the backpack grid and one badge's page.

Reads go through `backpack.selectors` (the same ones /v2/backpack uses), changes through
`backpack.services` and `backpack.importing.badge_reverify`; each action is a plain form
POST that redirects, so every page works without JavaScript.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from laurels.accounts.models import User
from laurels.backpack import importing, selectors, services
from laurels.backpack.models import ImportedBadge
from laurels.backpack.presenters import EXPAND, badge_json, imported_image_url
from laurels.connect import selectors as connect_selectors
from laurels.connect.permissions import Caller, Permission, caller_can
from laurels.core.errors import DomainError, NotFound
from laurels.core.public import url_of
from laurels.core.untrusted import shown_url
from laurels.issuing import selectors as issuing_selectors
from laurels.issuing.models import Acceptance, Assertion
from laurels.openbadges.documents import assertion_document, revoked_assertion_document
from laurels.openbadges.pages import markdown_html

PAGE_SIZE = 48
MAX_PAGE = 10_000  # past this an offset is a probe, not a person paging

STATUS_LABELS = {
    selectors.VALID: "Valid",
    selectors.PENDING: "Waiting for you",
    selectors.EXPIRED: "Expired",
    selectors.REVOKED: "Revoked",
    selectors.REJECTED: "Removed",
}


@dataclass(frozen=True)
class Card:
    """What the grid and the home page show of one badge."""

    entity_id: str
    name: str
    issuer: str
    issued_on: object
    status: str
    image: str
    # An award made here whose issuer is verified (`issuing.services.issuer_verify`);
    # an imported badge's issuer lives on another server, so never.
    issuer_verified: bool = False

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


def card(entry) -> Card:
    """A grid card for an award made here (its badge class's image: the baked one is
    made on first request, too slow for 48 at once) or an import (its stored image)."""
    if isinstance(entry, Assertion):
        name, issuer = entry.badge_class.name, entry.issuer.name
        image = url_of("badges", entry.badge_class) + "/image"
    else:
        name = str(entry.badge_class.get("name", ""))
        issuer = str(entry.issuer.get("name", ""))
        image = imported_image_url(entry)
    return Card(
        entity_id=entry.entity_id,
        name=name,
        issuer=issuer,
        issued_on=entry.issued_on,
        status=selectors.entry_status(entry),
        image=image,
        issuer_verified=isinstance(entry, Assertion) and entry.issuer.verified_at is not None,
    )


def home_context(user: User) -> dict:
    """Home for a signed-in person: awards waiting for an answer, the latest badges, and
    the issuers they are staff of."""
    waiting = selectors.backpack_grid_page(user=user, status=selectors.PENDING, limit=12)
    recent = selectors.backpack_grid_page(user=user, limit=6)
    return {
        "waiting": [card(e) for e in waiting.entries],
        "more_waiting": waiting.has_next,
        "recent": [card(e) for e in recent.entries],
        "issuers": [
            (issuer, url_of("issuers", issuer))
            for issuer in issuing_selectors.issuers_visible(user=user)
        ],
    }


class GridFilter(forms.Form):
    """The backpack page's query: search words, one status, a page number."""

    q = forms.CharField(label="Search by badge or issuer", max_length=100, required=False)
    status = forms.ChoiceField(
        label="Status",
        required=False,
        choices=[("", "Any status")] + [(s, STATUS_LABELS[s]) for s in selectors.GRID_STATUSES],
    )
    page = forms.IntegerField(min_value=1, max_value=MAX_PAGE, required=False)


@never_cache
@login_required
@require_GET
def backpack(request: HttpRequest) -> HttpResponse:
    """The grid of the person's badges; a query that does not parse is a 400 that shows
    what was wrong, never a guess."""
    query = GridFilter(request.GET or None)
    if request.GET and not query.is_valid():
        return render(request, "web/backpack_grid.html", {"query": query, "cards": []}, status=400)
    page = grid_page(request, query, PAGE_SIZE)
    return render(
        request,
        "web/backpack_grid.html",
        {
            "query": query,
            "filtered": page.filtered,
            "cards": [card(e) for e in page.entries],
            "previous": page.previous,
            "next": page.next,
            "page_number": page.number,
        },
    )


@dataclass(frozen=True)
class GridPage:
    """One page of the person's badges as a grid shows it, with its paging links."""

    entries: list
    filtered: bool
    number: int
    previous: str | None
    next: str | None


def grid_page(request: HttpRequest, query: GridFilter, page_size: int) -> GridPage:
    """The page `query` (valid, or unbound when nothing was asked) picks: the backpack's
    grid and a collection's "Add badges" list share the search, filters and paging."""
    wanted = query.cleaned_data if query.is_bound else {}
    number = wanted.get("page") or 1
    found = selectors.backpack_grid_page(
        user=request.user,
        search=wanted.get("q", "").strip(),
        status=wanted.get("status", ""),
        offset=(number - 1) * page_size,
        limit=page_size,
    )
    keep = {k: v for k, v in (("q", wanted.get("q")), ("status", wanted.get("status"))) if v}
    return GridPage(
        entries=list(found.entries),
        filtered=bool(keep),
        number=number,
        previous=urlencode({**keep, "page": number - 1}) if number > 1 else None,
        next=urlencode({**keep, "page": number + 1}) if found.has_next else None,
    )


def _entry(user: User, entity_id: str):
    """One of the person's badges; anyone else's (or none) is a 404."""
    try:
        return selectors.backpack_entry(user=user, entity_id=entity_id, whole=True)
    except NotFound as error:
        raise Http404 from error


def linkedin_url(shown: dict, issuer_name: str, entry) -> str:
    """LinkedIn's add-to-profile link (a certification with name, organization, issue
    date and the badge's address), as Badgr's app offered it."""
    fields = {
        "startTask": "CERTIFICATION_NAME",
        "name": shown["badgeclass"]["name"],
        "organizationName": issuer_name,
        "issueYear": entry.issued_on.year,
        "issueMonth": entry.issued_on.month,
        "certUrl": shown["openBadgeId"],
        "certId": entry.entity_id,
    }
    if entry.expires:
        fields |= {"expirationYear": entry.expires.year, "expirationMonth": entry.expires.month}
    return "https://www.linkedin.com/profile/add?" + urlencode(fields)


def evidence_links(items: list) -> list[dict]:
    """Evidence to show: a link only where it is an http(s) URL, and its words."""
    shown = []
    for item in items:
        if isinstance(item, dict):
            url = shown_url(item.get("id") or item.get("url"))
            narrative = item.get("narrative")
            words = narrative if isinstance(narrative, str) else ""
            if url or words:
                shown.append({"url": url, "narrative_html": markdown_html(words)})
    return shown


def apps_that_see(user: User) -> list:
    """The person's connected apps whose access includes reading the backpack (through
    /v2/backpack or Badge Connect), decided by the permissions module."""
    return [
        app
        for app in connect_selectors.user_connected_apps(viewer=user)
        if caller_can(
            Caller(user=user, scopes=frozenset(app.scopes)),
            Permission.BADGE_CONNECT_ASSERTIONS_READ,
        )
    ]


def _detail_context(request: HttpRequest, entry) -> dict:
    shown = badge_json(entry, EXPAND)
    badge_class = shown["badgeclass"]
    issuer = badge_class["issuer"]
    local = isinstance(entry, Assertion)
    criteria = badge_class.get("criteria") or {}
    return {
        "entry": entry,
        "local": local,
        "shown": shown,
        "card": card(entry),
        "description_html": markdown_html(badge_class.get("description") or ""),
        "criteria_url": shown_url(criteria.get("id")),
        "criteria_html": markdown_html(criteria.get("narrative") or ""),
        # An import kept before text properties were checked may hold a number or a list.
        "narrative_html": markdown_html(
            shown["narrative"] if isinstance(shown["narrative"], str) else ""
        ),
        "evidence": evidence_links(shown["evidence"]),
        "issuer": issuer,
        "issuer_url": shown_url(issuer.get("url")),
        "issuer_page": shown_url(issuer.get("id")),
        "share_url": shown["openBadgeId"],
        "linkedin_url": linkedin_url(shown, issuer.get("name", ""), entry),
        "download_image": shown["image"] + ("?download=1" if local else ""),
        "apps": apps_that_see(request.user),
    }


ACTIONS = {
    "accept": "Accepted. The badge is in your backpack.",
    "reject": "Rejected. The badge is no longer in your backpack.",
    "remove": "Removed from your backpack.",
}


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def badge_detail(request: HttpRequest, entity_id: str) -> HttpResponse:
    """One badge: what it is, who issued it, its state, and what can be done with it;
    POST `action` = accept, reject or remove (`back=home` returns to the home page)."""
    entry = _entry(request.user, entity_id)
    if request.method == "GET":
        return render(request, "web/backpack_badge.html", _detail_context(request, entry))
    action = request.POST.get("action", "")
    if action not in ACTIONS:
        return HttpResponseBadRequest("Unknown action: use accept, reject or remove.")
    if action == "remove":
        services.entry_remove(entry=entry)
    else:
        acceptance = Acceptance.ACCEPTED if action == "accept" else Acceptance.REJECTED
        services.entry_acceptance_set(entry=entry, acceptance=acceptance)
    messages.success(request, ACTIONS[action])
    if request.POST.get("back") == "home":
        return redirect("web:home")
    if action == "accept":
        return redirect("web:backpack_badge", entity_id=entry.entity_id)
    return redirect("web:backpack")


RECHECK_MESSAGES = {
    importing.Recheck.VERIFIED: (messages.SUCCESS, "Checked: the badge still verifies."),
    importing.Recheck.REVOKED: (messages.ERROR, "Checked: its issuer has revoked it."),
    importing.Recheck.GONE: (messages.ERROR, "Checked: its issuer no longer has it."),
    importing.Recheck.SIGNATURE_INVALID: (
        messages.ERROR,
        "Checked: its signature no longer verifies.",
    ),
    importing.Recheck.UNCHECKED: (
        messages.WARNING,
        "Its issuer could not be reached just now; the badge keeps its last known state.",
    ),
}


@login_required
@require_POST
def badge_check(request: HttpRequest, entity_id: str) -> HttpResponse:
    """Check an imported badge with its issuer now (`services.badge_check_now`: no
    transaction is open while it is fetched; limited per person). An award made here is
    always live, so there is nothing to fetch."""
    entry = _entry(request.user, entity_id)
    if isinstance(entry, ImportedBadge):
        try:
            level, text = RECHECK_MESSAGES[services.badge_check_now(badge=entry)]
        except DomainError as error:
            level, text = messages.ERROR, error.message
        messages.add_message(request, level, text)
    else:
        messages.success(request, "This badge was awarded here: its state is always current.")
    return redirect("web:backpack_badge", entity_id=entry.entity_id)


@never_cache
@login_required
@require_GET
def badge_json_download(request: HttpRequest, entity_id: str) -> HttpResponse:
    """The badge's Open Badges assertion as a file: an award made here as it is hosted,
    an import as it was verified."""
    entry = _entry(request.user, entity_id)
    if isinstance(entry, Assertion):
        document = revoked_assertion_document(entry) if entry.revoked else assertion_document(entry)
    else:
        document = entry.assertion
    response = HttpResponse(
        json.dumps(document, indent=2), content_type="application/ld+json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="badge-{entry.entity_id}.json"'
    return response
