"""Collections pages (issue 17): a person's collections, one collection's page (name and
description, its badges in order, adding badges from the backpack, publishing, deleting)
and "Add to collection" on a badge's page.

Reads go through `backpack.selectors` (another person's collection is a 404, as one that
does not exist). Each change passes only what changes to its service
(`collection_add`, `collection_remove`, `collection_move`; name, description and
publishing through `collection_save`), which reads the current list under a lock on the
collection: two tabs adding at once both count. Each action is a plain form POST that
redirects; a POST that names something it cannot act on is a 400.
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from laurels.accounts.models import User
from laurels.backpack import selectors, services
from laurels.backpack.models import Collection
from laurels.backpack.views import share_url
from laurels.core.errors import NotFound
from laurels.web.account_forms import Described
from laurels.web.account_views import _add_errors
from laurels.web.backpack_views import GridFilter, card, grid_page

ADD_PAGE_SIZE = 24  # backpack badges offered per page under "Add badges"
MAX_ADD = 200  # badges one "Add" may name (a page offers ADD_PAGE_SIZE)
DESCRIPTION_MAX_LENGTH = 2000


class CollectionForm(Described):
    """A collection's name and description (the create form and the rename form)."""

    name = forms.CharField(
        max_length=Collection._meta.get_field("name").max_length,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    description = forms.CharField(
        required=False,
        max_length=DESCRIPTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown under the name on the public page once you publish it.",
    )


def _collection(user: User, entity_id: str, *, badges: bool = True) -> Collection:
    """One of the person's collections (`badges`: with its badges loaded); anyone
    else's (or none) is a 404."""
    try:
        return selectors.collection_for(user=user, entity_id=entity_id, badges=badges)
    except NotFound as error:
        raise Http404 from error


def badge_ids(collection: Collection) -> list[str]:
    """The entity ids of the collection's badges, in their order."""
    return [(e.assertion or e.imported).entity_id for e in collection.entries.all()]


def _refused(error: NotFound | ValidationError) -> HttpResponse:
    """A change the collection's service refused (a badge not in the backpack or not in
    the collection, a move past either end, a collection deleted meanwhile), as a 400
    saying why."""
    if isinstance(error, ValidationError):
        return HttpResponseBadRequest(" ".join(error.messages))
    return HttpResponseBadRequest(error.message)


# The list and creating one


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def collections(request: HttpRequest) -> HttpResponse:
    """The person's collections, and the form that makes a new (empty) one and opens it."""
    form = CollectionForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            made = services.collection_save(user=request.user, assertions=[], **form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, "Collection made. Add badges to it below.")
            return redirect("web:collection", entity_id=made.entity_id)
    rows = [
        (c, len(c.entries.all()), share_url(c) if c.published else None)
        for c in selectors.user_collections(user=request.user)
    ]
    status = 400 if form.errors else 200
    return render(
        request, "web/collections.html", {"form": form, "collections": rows}, status=status
    )


# One collection


def _entries(collection: Collection) -> list:
    """Cards of the collection's badges in order, their awards, imports, badge classes
    and issuers loaded in one query each however many there are (those loaded already,
    by `collection_for`, are not loaded again)."""
    prefetch_related_objects(
        [collection], "entries__assertion__badge_class", "entries__assertion__issuer"
    )
    prefetch_related_objects([collection], "entries__imported")
    return [card(e.assertion or e.imported) for e in collection.entries.all()]


def _candidates(request: HttpRequest, in_it: list[str]) -> dict:
    """The "Add badges" list: a page of the backpack grid (same search, filter and
    paging as /backpack/) without the badges already in the collection."""
    query = GridFilter(request.GET or None)
    if request.GET and not query.is_valid():
        return {"query": query, "candidates": [], "bad_query": True}
    page = grid_page(request, query, ADD_PAGE_SIZE)
    taken = set(in_it)
    return {
        "query": query,
        "filtered": page.filtered,
        "candidates": [card(e) for e in page.entries if e.entity_id not in taken],
        "page_number": page.number,
        "previous_page": page.previous,
        "next_page": page.next,
    }


def _detail(
    request: HttpRequest, collection: Collection, form: CollectionForm | None = None
) -> HttpResponse:
    cards = _entries(collection)
    form = form or CollectionForm(
        initial={"name": collection.name, "description": collection.description}
    )
    context = {
        "collection": collection,
        "form": form,
        "cards": cards,
        "share_url": share_url(collection) if collection.published else None,
        **_candidates(request, badge_ids(collection)),
    }
    status = 400 if form.errors or context.get("bad_query") else 200
    return render(request, "web/collection.html", context, status=status)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def collection(request: HttpRequest, entity_id: str) -> HttpResponse:
    """One collection; POST `action` = details, add, remove, up, down, publish or
    unpublish (see ACTIONS). What its service refuses is a 400 saying why."""
    found = _collection(request.user, entity_id, badges=request.method == "GET")
    if request.method == "GET":
        return _detail(request, found)
    act = ACTIONS.get(request.POST.get("action", ""))
    if act is None:
        return HttpResponseBadRequest("Unknown action.")
    try:
        answer = act(request, found)
    except (NotFound, ValidationError) as error:
        return _refused(error)
    return answer or redirect("web:collection", entity_id=found.entity_id)


def _details(request: HttpRequest, found: Collection) -> HttpResponse | None:
    form = CollectionForm(request.POST)
    if not form.is_valid():
        return _detail(request, found, form)
    try:
        services.collection_save(user=request.user, collection=found, **form.cleaned_data)
    except ValidationError as error:
        _add_errors(form, error)
        return _detail(request, found, form)
    messages.success(request, "Name and description saved.")
    return None


def _add(request: HttpRequest, found: Collection) -> HttpResponse | None:
    chosen = request.POST.getlist("badges")
    if len(chosen) > MAX_ADD:
        return HttpResponseBadRequest(f"Add at most {MAX_ADD} badges at a time.")
    if not chosen:
        messages.error(request, "Tick the badges to add first.")
        return None
    added = services.collection_add(user=request.user, collection=found, entity_ids=chosen)
    messages.success(request, f"Added {len(added)} badge{'s' if len(added) != 1 else ''}.")
    return None


def _remove(request: HttpRequest, found: Collection) -> HttpResponse | None:
    services.collection_remove(collection=found, entity_id=request.POST.get("badge", ""))
    messages.success(request, "Removed from the collection (it stays in your backpack).")
    return None


def _move(step: int) -> Callable[[HttpRequest, Collection], HttpResponse | None]:
    """Move up (-1) or down (+1) one place; past either end is a 400."""

    def move(request: HttpRequest, found: Collection) -> HttpResponse | None:
        badge = request.POST.get("badge", "")
        services.collection_move(collection=found, entity_id=badge, step=step)
        messages.success(request, "Moved " + ("up." if step < 0 else "down."))
        return None

    return move


def _publish(published: bool) -> Callable[[HttpRequest, Collection], HttpResponse | None]:
    def publish(request: HttpRequest, found: Collection) -> HttpResponse | None:
        services.collection_save(user=request.user, collection=found, published=published)
        messages.success(
            request,
            "Published: anyone with the link can see it."
            if published
            else "Unpublished: its old link no longer works.",
        )
        return None

    return publish


ACTIONS: dict[str, Callable[[HttpRequest, Collection], HttpResponse | None]] = {
    "details": _details,
    "add": _add,
    "remove": _remove,
    "up": _move(-1),
    "down": _move(+1),
    "publish": _publish(True),
    "unpublish": _publish(False),
}


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def collection_delete(request: HttpRequest, entity_id: str) -> HttpResponse:
    """GET asks to confirm; POST deletes the collection (its badges stay in the backpack)."""
    found = _collection(request.user, entity_id)
    if request.method == "POST":
        services.collection_delete(collection=found)
        messages.success(request, f"Deleted the collection “{found.name}”.")
        return redirect("web:collections")
    return render(request, "web/collection_delete.html", {"collection": found})


@login_required
@require_POST
def badge_to_collection(request: HttpRequest, entity_id: str) -> HttpResponse:
    """The badge page's "Add to collection": POST `collection` (one of the person's)."""
    try:
        selectors.backpack_entry(user=request.user, entity_id=entity_id)
    except NotFound as error:
        raise Http404 from error
    found = _collection(request.user, request.POST.get("collection", ""), badges=False)
    try:
        added = services.collection_add(user=request.user, collection=found, entity_ids=[entity_id])
    except (NotFound, ValidationError) as error:
        return _refused(error)
    if added:
        messages.success(request, f"Added to “{found.name}”.")
    else:
        messages.info(request, f"It is already in “{found.name}”.")
    return redirect("web:backpack_badge", entity_id=entity_id)
