"""The issuer workspace's award lists (issue 18): an issuer's awards and one badge
class's, searched by recipient (exact or prefix, on an index), filtered by status and
issue date, paged by keyset; revoking one award (a confirm page with the reason) or the
ticked ones; and the list as a streamed CSV file.

Permissions are `connect.permissions`' for a session (`Caller(user=...)`), as the /v2 API
decides them: the list and the CSV need AWARD_HISTORY (staff and above), revoking needs
AWARD_REVOKE (editor and above). Someone not on the issuer's staff gets a 404, as for an
issuer that does not exist. Reads through `issuing.selectors` (`awards_listed`,
`awards_page`, `awards_in_chunks`), revoking through `issuing.services.assertion_revoke`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from laurels.api.pagination import encode_cursor
from laurels.connect import issuing_selectors
from laurels.connect.permissions import Caller, IssuingAction, require_issuing
from laurels.core.errors import Conflict
from laurels.core.public import url_of
from laurels.issuing import selectors, services
from laurels.issuing.models import Assertion, BadgeClass, Issuer
from laurels.openbadges.pages import award_state
from laurels.web.account_views import _add_errors
from laurels.web.awards_list_forms import (
    MAX_REVOKE,
    AwardsFilter,
    RevokeForm,
    RevokeSelectedForm,
)
from laurels.web.workspace import (
    as_page_errors,
    csv_cell,
    may,
    workspace_badge_class,
    workspace_issuer,
)

PAGE_SIZE = 50
EXPORT_CHUNK = 1000
CSV_COLUMNS = (
    "award",
    "recipient",
    "recipient_type",
    "recipient_name",
    "badge_class",
    "badge_class_name",
    "issued_on",
    "expires",
    "status",
    "acceptance",
    "revocation_reason",
    "url",
)


def _place(
    request: HttpRequest, issuer_id: str, badge_id: str | None, action: IssuingAction
) -> tuple[Caller, Issuer, BadgeClass | None]:
    """The caller, the issuer and (for a badge class's list) the badge class, once the
    caller may take `action` there."""
    caller = Caller(user=request.user)
    if badge_id is None:
        return caller, workspace_issuer(caller, issuer_id, action, listing=True), None
    badge_class = workspace_badge_class(caller, issuer_id, badge_id, action)
    return caller, badge_class.issuer, badge_class


def _list_url(issuer: Issuer, badge_class: BadgeClass | None) -> str:
    if badge_class is None:
        return reverse("web:awards_list", args=[issuer.entity_id])
    return reverse("web:awards_badge_list", args=[issuer.entity_id, badge_class.entity_id])


def _rows(issuer: Issuer, badge_class: BadgeClass | None, query: AwardsFilter):
    return selectors.awards_listed(issuer=issuer, badge_class=badge_class, **query.criteria())


def _row(award: Assertion) -> dict:
    state, state_label = award_state(award)
    return {
        "award": award,
        "state": state,
        "state_label": state_label,
        "public_url": url_of("assertions", award),
    }


@never_cache
@login_required
@require_GET
def awards_list(request: HttpRequest, issuer: str, badge: str | None = None) -> HttpResponse:
    """The awards of an issuer (or of one of its badge classes), newest first, a page at a
    time; a query that does not parse is a 400 that shows what was wrong."""
    caller, found, badge_class = _place(request, issuer, badge, IssuingAction.AWARD_HISTORY)
    list_url = _list_url(found, badge_class)
    query = AwardsFilter(request.GET or None)
    context = {
        "issuer": found,
        "badge_class": badge_class,
        "query": query,
        "list_url": list_url,
        "can_revoke": may(caller, IssuingAction.AWARD_REVOKE, found),
        "revoke_selected_url": reverse("web:awards_revoke_selected", args=[found.entity_id]),
    }
    if request.GET and not query.is_valid():
        return render(request, "web/awards_list.html", {**context, "rows": []}, status=400)
    wanted = query.cleaned_data if query.is_bound else {}
    page = selectors.awards_page(
        _rows(found, badge_class, query),
        size=PAGE_SIZE,
        after=wanted.get("after"),
        before=wanted.get("before"),
    )
    kept = query.kept()
    export = reverse(
        "web:awards_export" if badge_class is None else "web:awards_badge_export",
        args=[found.entity_id] + ([badge_class.entity_id] if badge_class else []),
    )
    return render(
        request,
        "web/awards_list.html",
        {
            **context,
            "rows": [_row(award) for award in page.awards],
            "filtered": query.filtered,
            "paged": bool(wanted.get("after") or wanted.get("before")),
            "newer": _page_link(kept, "before", page.newer),
            "older": _page_link(kept, "after", page.older),
            "export_url": export + (f"?{urlencode(kept)}" if kept else ""),
            "here": request.get_full_path(),
        },
    )


def _page_link(kept: dict[str, str], direction: str, row_id: int | None) -> str | None:
    if row_id is None:
        return None
    return urlencode({**kept, direction: encode_cursor(str(row_id))})


# --- export ------------------------------------------------------------------------------


class _Line:
    """What csv.writer writes to: hands each line back instead of keeping it."""

    def write(self, line: str) -> str:
        return line


def _csv_lines(rows) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(CSV_COLUMNS)
    for award in selectors.awards_in_chunks(rows, chunk=EXPORT_CHUNK):
        state, _ = award_state(award)
        values = (
            award.entity_id,
            award.recipient_plaintext,
            award.recipient_type,
            award.recipient_name,
            award.badge_class.entity_id,
            award.badge_class.name,
            award.issued_on.isoformat(),
            award.expires.isoformat() if award.expires else "",
            state,
            award.acceptance,
            award.revocation_reason,
            url_of("assertions", award),
        )
        yield writer.writerow([csv_cell(v) for v in values])


@never_cache
@login_required
@require_GET
def awards_export(request: HttpRequest, issuer: str, badge: str | None = None):
    """The list under the same query (without paging) as CSV, streamed: the awards are
    read a chunk at a time by keyset, whatever their number."""
    _, found, badge_class = _place(request, issuer, badge, IssuingAction.AWARD_HISTORY)
    query = AwardsFilter(request.GET or None)
    if request.GET and not query.is_valid():
        problems = " ".join(e for errors in query.errors.values() for e in errors)
        return HttpResponseBadRequest(problems, content_type="text/plain; charset=utf-8")
    name = found.entity_id + (f"-{badge_class.entity_id}" if badge_class else "")
    response = StreamingHttpResponse(
        _csv_lines(_rows(found, badge_class, query)), content_type="text/csv; charset=utf-8"
    )
    day = timezone.now().date().isoformat()
    response["Content-Disposition"] = f'attachment; filename="awards-{name}-{day}.csv"'
    return response


# --- revoking ----------------------------------------------------------------------------


def _back(request: HttpRequest, issuer: Issuer) -> str:
    """Where to go after revoking: the list the person came from (`next`, one of this
    issuer's pages on this site), else the issuer's award list."""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    prefix = f"/issuers/{issuer.entity_id}/"
    if wanted.startswith(prefix) and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}
    ):
        return wanted
    return _list_url(issuer, None)


def issuer_award(caller: Caller, issuer: str, award: str, action: IssuingAction) -> Assertion:
    """The award `award` of the issuer `issuer` if `caller` may take `action` on it; a
    404 page otherwise, and for an award asked for under another issuer's address."""
    found = as_page_errors(
        issuing_selectors.assertion_for, caller=caller, entity_id=award, action=action
    )
    if found.issuer.entity_id != issuer:
        raise Http404()
    return found


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def award_revoke(request: HttpRequest, issuer: str, award: str) -> HttpResponse:
    """GET asks for the reason; POST revokes the award with it. An award already revoked
    is left as it is, with a message saying so."""
    found = issuer_award(Caller(user=request.user), issuer, award, IssuingAction.AWARD_REVOKE)
    back = _back(request, found.issuer)
    if found.revoked:
        messages.info(request, f"The award to {found.recipient_plaintext} was already revoked.")
        return redirect(back)
    form = RevokeForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            services.assertion_revoke(
                assertion=found,
                reason=form.cleaned_data["revocation_reason"],
                actor=request.user,
            )
        except Conflict:
            messages.info(request, f"The award to {found.recipient_plaintext} was already revoked.")
            return redirect(back)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(
                request,
                f"Revoked the award to {found.recipient_plaintext}. "
                "Its public page now says so, with your reason.",
            )
            return redirect(back)
    return render(
        request,
        "web/award_revoke.html",
        {"award": found, "form": form, "back": back, "public_url": url_of("assertions", found)},
        status=400 if form.errors else 200,
    )


@never_cache
@login_required
@require_POST
def awards_revoke_selected(request: HttpRequest, issuer: str) -> HttpResponse:
    """Revoke the ticked awards (`award`, repeated, at most MAX_REVOKE) with one reason.
    Each is revoked on its own: those already revoked are skipped, and the message says
    how many of each. A form with a problem comes back with the awards still ticked."""
    caller, found, _ = _place(request, issuer, None, IssuingAction.AWARD_REVOKE)
    back = _back(request, found)
    form = RevokeSelectedForm(request.POST)
    if not form.is_valid():
        chosen = form.fields["award"].to_python(request.POST.getlist("award"))
        named = selectors.issuer_awards_named(issuer=found, entity_ids=chosen[:MAX_REVOKE])
        return render(
            request,
            "web/award_revoke_bulk.html",
            {"issuer": found, "form": form, "back": back, "awards": list(named.values())},
            status=400,
        )
    chosen = form.cleaned_data["award"]
    named = selectors.issuer_awards_named(issuer=found, entity_ids=chosen)
    revoked, skipped, missing = 0, [], 0
    for entity_id in chosen:
        award = named.get(entity_id)
        if award is None:
            missing += 1
            continue
        require_issuing(caller, IssuingAction.AWARD_REVOKE, found, award.badge_class)
        try:
            services.assertion_revoke(
                assertion=award, reason=form.cleaned_data["revocation_reason"], actor=request.user
            )
        except Conflict:
            skipped.append(award.recipient_plaintext)
        else:
            revoked += 1
    if revoked:
        messages.success(request, f"Revoked {revoked} award{'s' if revoked != 1 else ''}.")
    if skipped:
        messages.info(
            request,
            f"Skipped {len(skipped)} already revoked: {', '.join(skipped[:10])}"
            + ("…" if len(skipped) > 10 else "."),
        )
    if missing:
        messages.error(request, f"{missing} of the ticked awards are not this issuer's awards.")
    return redirect(back)
