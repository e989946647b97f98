"""Badge class pages of the issuer workspace (issue 18): an issuer's badge classes, a
badge class's page for its staff, defining and changing one, deleting one, and the
Markdown preview of the criteria.

The rules are the /v2 API's: the issuer or badge class is read through
`connect.issuing_selectors` with the action the API asks for (`IssuingAction`: viewing
takes staff, defining, changing and deleting an editor), so a non-member gets a 404 and a
member whose role is too low a 403; writes go through `issuing.services`; images are
checked by `core.images` (see `badge_class_forms.ImageUploadField`); Markdown is rendered
and sanitized by `openbadges.pages.markdown_html`, as on the public badge class page.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from laurels.connect import issuing_selectors
from laurels.connect.permissions import Caller
from laurels.connect.permissions import IssuingAction as Action
from laurels.core.csp import policy_allows
from laurels.core.public import url_of
from laurels.core.untrusted import shown_url, whole_number
from laurels.issuing import services
from laurels.issuing.models import Acceptance, Assertion, BadgeClass, Issuer
from laurels.openbadges.pages import badge_class_page, markdown_html
from laurels.web.account_views import _add_errors
from laurels.web.badge_class_forms import (
    ALIGNMENT_FIELDS,
    ALIGNMENTS_MAX,
    AlignmentForm,
    BadgeClassForm,
    MarkdownPreviewForm,
    alignment_formset,
)
from laurels.web.workspace import (
    IMAGE_PREVIEW_SOURCES,
    may,
    workspace_badge_class,
    workspace_issuer,
)

PAGE_SIZE = 50  # badge classes per page of the list
MAX_PAGE = 1_000
# What the services name that the form calls otherwise.
SERVICE_FIELDS = {"expires": "expires_amount", "alignments": None}


# Reads, with the API's permission


def _live(prefix: str = "") -> Q:
    """Awards neither revoked nor expired (what `issuing.services` calls live), reached
    through `prefix` (`assertions__` from a badge class)."""
    now = timezone.now()
    return Q(**{f"{prefix}revoked": False}) & (
        Q(**{f"{prefix}expires__isnull": True}) | Q(**{f"{prefix}expires__gt": now})
    )


# The list


@never_cache
@login_required
@require_GET
def badge_classes(request: HttpRequest, issuer_id: str) -> HttpResponse:
    """The issuer's badge classes by name, each with its image and live awards (one
    query for the page, however many there are); `?page=` pages by PAGE_SIZE."""
    caller = Caller(user=request.user)
    issuer = workspace_issuer(caller, issuer_id, Action.BADGECLASS_VIEW)
    number = whole_number(request.GET.get("page", "1"), max_digits=9)
    if number is None or not 1 <= number <= MAX_PAGE:
        return HttpResponseBadRequest(f"page is a number from 1 to {MAX_PAGE}.")
    live_awards = Count("assertions", filter=_live("assertions__"))
    rows = list(
        issuing_selectors.badge_classes_visible(caller=caller, issuer=issuer)
        .annotate(live_awards=live_awards)
        .order_by("name", "id")[(number - 1) * PAGE_SIZE : number * PAGE_SIZE + 1]
    )
    shown = [(b, url_of("badges", b) + "/image") for b in rows[:PAGE_SIZE]]
    return render(
        request,
        "web/badge_classes.html",
        {
            "issuer": issuer,
            "rows": shown,
            "may_define": may(caller, Action.BADGECLASS_DEFINE, issuer),
            "page_number": number,
            "previous_page": number - 1 if number > 1 else None,
            "next_page": number + 1 if len(rows) > PAGE_SIZE else None,
        },
    )


# One badge class


def award_counts(badge_class: BadgeClass) -> dict:
    """Its awards: all, live, revoked, expired, and live ones accepted; one query."""
    now = timezone.now()
    counts = Assertion.objects.filter(badge_class=badge_class).aggregate(
        all_awards=Count("id"),
        revoked_awards=Count("id", filter=Q(revoked=True)),
        expired_awards=Count("id", filter=Q(revoked=False, expires__lte=now)),
        accepted_awards=Count("id", filter=_live() & Q(acceptance=Acceptance.ACCEPTED)),
    )
    counts = {key.split("_")[0]: value for key, value in counts.items()}
    counts["live"] = counts["all"] - counts["revoked"] - counts["expired"]
    return counts


@never_cache
@login_required
@require_GET
def badge_class_detail(request: HttpRequest, issuer_id: str, badge_id: str) -> HttpResponse:
    caller = Caller(user=request.user)
    found = workspace_badge_class(caller, issuer_id, badge_id, Action.BADGECLASS_VIEW)
    here = reverse("web:badge_class_detail", args=[issuer_id, badge_id])
    alignments = [
        {**item, "url": shown_url(item.get("targetUrl"))}
        for item in found.alignments or []
        if isinstance(item, dict)
    ]
    context = {
        **badge_class_page(found),
        "public_url": url_of("badges", found),
        "alignments": alignments,
        "counts": award_counts(found),
        "criteria_link": shown_url(found.criteria_url),
        "may_edit": may(caller, Action.BADGECLASS_EDIT, found.issuer, found),
        "may_award": may(caller, Action.AWARD, found.issuer, found),
        "may_see_awards": may(caller, Action.AWARD_HISTORY, found.issuer, found),
        "award_url": here + "award/",
        "award_csv_url": here + "award/csv/",
        "awards_url": here + "awards/",
    }
    return render(request, "web/badge_class.html", context)


# Defining and changing


def _service_errors(form: BadgeClassForm, formset, error: ValidationError) -> None:
    """A service's refusal on the field it is about (alignments: above their rows)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    renamed: dict[str | None, list[str]] = {}
    for field, problems in error.message_dict.items():
        renamed.setdefault(SERVICE_FIELDS.get(field, field), []).extend(problems)
    for problem in renamed.pop(None, []):
        formset._non_form_errors.append(problem)
    _add_errors(form, ValidationError({k: v for k, v in renamed.items() if k is not None}))


def _problems(form: BadgeClassForm, formset) -> list[tuple[str, str]]:
    """The error summary: (the id to jump to, what is wrong) for every error."""
    found = []
    for name, errors in form.errors.items():
        anchor, label = (form[name].auto_id, form[name].label) if name in form.fields else ("", "")
        found += [(anchor or "form-heading", f"{label}: {e}" if label else e) for e in errors]
    if formset.is_bound:
        found += [("alignments-errors", e) for e in formset.non_form_errors()]
        for number, row in enumerate(formset.forms, 1):
            for name, errors in row.errors.items():
                anchor = row[name].auto_id if name in row.fields else "alignments-errors"
                label = row.fields[name].label if name in row.fields else ""
                found += [(anchor, f"Alignment {number}, {label}: {e}") for e in errors]
    return found


def _rows_of(data) -> list[dict]:
    """The alignment rows as sent (for "Add another row", which saves nothing)."""
    try:
        count = min(int(data.get("alignments-TOTAL_FORMS", "0")), ALIGNMENTS_MAX)
    except ValueError:
        count = 0
    return [
        {name: data.get(f"alignments-{i}-{name}", "")[:1000] for name in ALIGNMENT_FIELDS}
        for i in range(count)
    ]


def _form_page(
    request: HttpRequest, issuer: Issuer, badge_class: BadgeClass | None
) -> HttpResponse:
    new = badge_class is None
    status = 200
    if request.method == "GET":
        initial = {} if new else BadgeClassForm.initial_of(badge_class)
        form = BadgeClassForm(initial=initial, image_required=new)
        kept = [] if new else badge_class.alignments or []
        formset = alignment_formset(
            rows=[AlignmentForm.initial_of(i) for i in kept if isinstance(i, dict)]
        )
    elif request.POST.get("action") == "add_alignment":
        # Saves nothing: the page again with what was typed and one more empty row.
        form = BadgeClassForm(initial=request.POST.dict(), image_required=new)
        formset = alignment_formset(rows=_rows_of(request.POST))
        if request.FILES:
            messages.info(request, "Row added. Choose the image again before saving.")
    else:
        form = BadgeClassForm(request.POST, request.FILES, image_required=new)
        formset = alignment_formset(request.POST)
        if form.is_valid() and formset.is_valid():
            try:
                saved = _save(request, issuer, badge_class, form, formset)
            except ValidationError as error:
                _service_errors(form, formset, error)
            else:
                messages.success(request, "Badge class saved." if not new else "Badge class made.")
                return redirect("web:badge_class_detail", issuer.entity_id, saved.entity_id)
        status = 400
    criteria = (form.data or form.initial).get("criteria_narrative") or ""
    context = {
        "issuer": issuer,
        "badge_class": badge_class,
        "form": form,
        "formset": formset,
        "can_add_row": len(formset.forms) < ALIGNMENTS_MAX,
        "problems": _problems(form, formset),
        "criteria_html": markdown_html(criteria[: form.fields["criteria_narrative"].max_length]),
        "image_url": None if new else url_of("badges", badge_class) + "/image",
    }
    return render(request, "web/badge_class_form.html", context, status=status)


def _save(request, issuer: Issuer, badge_class, form, formset) -> BadgeClass:
    changes = {**form.changes(), "alignments": formset.alignments()}
    if badge_class is None:
        return services.badge_class_create(issuer=issuer, actor=request.user, **changes)
    return services.badge_class_update(badge_class=badge_class, **changes)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
@policy_allows(**IMAGE_PREVIEW_SOURCES)
def badge_class_new(request: HttpRequest, issuer_id: str) -> HttpResponse:
    caller = Caller(user=request.user)
    return _form_page(request, workspace_issuer(caller, issuer_id, Action.BADGECLASS_DEFINE), None)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
@policy_allows(**IMAGE_PREVIEW_SOURCES)
def badge_class_edit(request: HttpRequest, issuer_id: str, badge_id: str) -> HttpResponse:
    caller = Caller(user=request.user)
    found = workspace_badge_class(caller, issuer_id, badge_id, Action.BADGECLASS_EDIT)
    return _form_page(request, found.issuer, found)


# Deleting


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def badge_class_delete(request: HttpRequest, issuer_id: str, badge_id: str) -> HttpResponse:
    """GET asks to confirm; POST deletes (the API's DELETE: refused while it has live
    awards, a 409 that says so)."""
    caller = Caller(user=request.user)
    found = workspace_badge_class(caller, issuer_id, badge_id, Action.BADGECLASS_EDIT)
    refusal = None
    if request.method == "POST":
        try:
            services.badge_class_delete(badge_class=found, actor=request.user)
        except services.BadgeClassHasAwards as error:
            refusal = error.message
        else:
            messages.success(request, f"Deleted the badge class “{found.name}”.")
            return redirect("web:badge_class_list", issuer_id)
    context = {"badge_class": found, "issuer": found.issuer, "refusal": refusal}
    return render(request, "web/badge_class_delete.html", context, status=409 if refusal else 200)


# The criteria's preview


@login_required
@require_POST
def markdown_preview(request: HttpRequest) -> HttpResponse:
    """The criteria's Markdown as the public badge class page will show it (htmx swaps
    it in under the field as the issuer types); over the form's bound, a 400."""
    form = MarkdownPreviewForm(request.POST)
    if not form.is_valid():
        return render(request, "web/badge_class_preview.html", {"too_long": True}, status=400)
    html = markdown_html(form.cleaned_data["criteria_narrative"])
    return render(request, "web/badge_class_preview.html", {"criteria_html": html})
