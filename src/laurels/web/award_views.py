"""Awarding from the issuer workspace (issue 18): one award by a form, and many from a
CSV file as a batch that a queued job awards while the page shows its progress.

The rules are the /v2 API's award action (`IssuingAction.AWARD`: staff and above; a
non-member gets a 404, as for a badge class that does not exist). One award goes through
`issuing.services.assertion_award`, as `POST /v2/badgeclasses/{id}/assertions` does. A
CSV is read and checked row by row by `issuing.award_files` (the reader `laurels award`
uses) with the award service's own checks; a file with any problem starts nothing. A
clean file becomes an `AwardBatch` (`services.award_batch_create`) shown for a last look;
"Award N people" queues it (`services.award_batch_start`) and the jobs runner awards it
in chunks (`services.award_batch_run`). The batch's page polls its progress with htmx
every second until it is done (the answer 286 stops htmx polling), then shows each row's
result, also as results.csv.
"""

from __future__ import annotations

import csv
import io

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from laurels.connect.permissions import Caller, require_issuing
from laurels.connect.permissions import IssuingAction as Action
from laurels.core.errors import Conflict
from laurels.core.public import public_url, url_of
from laurels.core.untrusted import whole_number
from laurels.issuing import services
from laurels.issuing.award_files import UnreadableCsv, csv_checked
from laurels.issuing.models import AwardBatch, AwardBatchStatus, BadgeClass
from laurels.web.account_views import _add_errors
from laurels.web.award_forms import AwardForm, BatchStartForm, CsvUploadForm
from laurels.web.workspace import as_page_errors, csv_cell, workspace_badge_class

PREVIEW_ROWS = 10  # rows of a file shown before it is awarded
PROBLEMS_SHOWN = 200  # problems listed on the page (the count says how many in all)
RESULTS_PAGE = 100  # rows of a finished batch per page
HTMX_STOP_POLLING = 286  # htmx stops polling an element answered with this status


def _award_target(request: HttpRequest, issuer_id: str, badge_id: str) -> BadgeClass:
    return workspace_badge_class(Caller(user=request.user), issuer_id, badge_id, Action.AWARD)


# One award


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def award_single(request: HttpRequest, issuer_id: str, badge_id: str) -> HttpResponse:
    """The award form; a valid POST awards through the award service and goes to the
    award's public page. A refusal shows the form again (400) with the service's reason
    on the field it names."""
    badge_class = _award_target(request, issuer_id, badge_id)
    form = AwardForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        award = services.AwardInput(
            recipient=services.Recipient(
                identity=data["identity"], type=data["recipient_type"], name=data["name"]
            ),
            narrative=data["narrative"],
            evidence=form.evidence(),
            issued_on=form.issued_at(),
        )
        try:
            made = services.assertion_award(
                badge_class=badge_class,
                award=award,
                actor=request.user,
                notify=data["notify"],
                allow_duplicate_awards=not data["refuse_duplicates"],
            )
        except ValidationError as error:
            _add_errors(form, _on_form_fields(error))
        except Conflict as error:
            form.add_error("identity", error.message)
        else:
            messages.success(request, f"Awarded {badge_class.name} to {data['identity']}.")
            return redirect(url_of("assertions", made))
    context = {"badge_class": badge_class, "issuer": badge_class.issuer, "form": form}
    return render(request, "web/award.html", context, status=400 if form.errors else 200)


def _on_form_fields(error: ValidationError) -> ValidationError:
    """The service's field names as the form's: `recipient` is the identity field and
    `expires` follows from the issue date; any other (`evidence`) is the form's own."""
    names = {"recipient": "identity", "expires": "issued_on"}
    return ValidationError(
        {names.get(name, name): problems for name, problems in error.message_dict.items()}
    )


# A CSV file: check, then keep as a batch ready to start


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def award_csv(request: HttpRequest, issuer_id: str, badge_id: str) -> HttpResponse:
    """Step 1: upload a CSV. Every row is checked; with any problem the page lists them
    by line (400) and nothing is kept; a clean file is kept as a batch and its page
    shows it for step 2."""
    badge_class = _award_target(request, issuer_id, badge_id)
    form = CsvUploadForm(request.POST or None, request.FILES or None)
    checked = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        upload = data["file"]
        try:
            checked = csv_checked(
                upload.read(),
                badge_class=badge_class,
                recipient_type=data["recipient_type"],
                allow_duplicate_awards=not data["refuse_duplicates"],
                max_rows=services.MAX_BATCH,
            )
        except UnreadableCsv as error:
            form.add_error("file", str(error))
        else:
            if not checked.problems:
                batch = services.award_batch_create(
                    badge_class=badge_class,
                    rows=checked.rows,
                    actor=request.user,
                    allow_duplicate_awards=not data["refuse_duplicates"],
                    file_name=upload.name or "",
                )
                return redirect("web:batch_detail", badge_class.issuer.entity_id, batch.entity_id)
    context = {
        "badge_class": badge_class,
        "issuer": badge_class.issuer,
        "form": form,
        "checked": checked,
        "preview": checked.rows[:PREVIEW_ROWS] if checked else [],
        "problems": checked.problems[:PROBLEMS_SHOWN] if checked else [],
        "problems_hidden": max(len(checked.problems) - PROBLEMS_SHOWN, 0) if checked else 0,
    }
    refused = form.errors or (checked and checked.problems)
    return render(request, "web/award_csv.html", context, status=400 if refused else 200)


# A batch: last look, start, progress, results


def _batch(request: HttpRequest, issuer_id: str, batch_id: str, *, rows: bool) -> AwardBatch:
    """The batch, to a member allowed to award its badge class (others: 404 or 403).
    Its rows and results (megabytes for 10,000) are loaded only when `rows`."""
    batches = AwardBatch.objects.select_related("issuer", "badge_class", "created_by")
    if not rows:
        batches = batches.defer("rows", "results")
    batch = batches.filter(entity_id=batch_id, issuer__entity_id=issuer_id).first()
    if batch is None:
        raise Http404
    as_page_errors(require_issuing, Caller(user=request.user), Action.AWARD, batch.issuer)
    return batch


def _page_number(request: HttpRequest, pages: int) -> int | None:
    number = whole_number(request.GET.get("page", "1"), max_digits=9)
    if number is None or not 1 <= number <= max(pages, 1):
        return None
    return number


def _status_context(request: HttpRequest, batch: AwardBatch) -> dict | HttpResponse:
    """What the progress part shows; for a finished batch a page of its results."""
    context: dict = {
        "batch": batch,
        "issuer": batch.issuer,
        "badge_class": batch.badge_class,
        "percent": 100 * batch.done // max(batch.total, 1),
        "finished": batch.status in (AwardBatchStatus.DONE, AwardBatchStatus.FAILED),
    }
    if context["finished"]:
        results = batch.results
        pages = -(-len(results) // RESULTS_PAGE)
        number = _page_number(request, pages)
        if number is None:
            return HttpResponseBadRequest(f"page is a number from 1 to {max(pages, 1)}.")
        start = (number - 1) * RESULTS_PAGE
        context.update(
            results=[_result(batch, row) for row in results[start : start + RESULTS_PAGE]],
            refused=sum(1 for row in results if not row[2]),
            page_number=number,
            previous_page=number - 1 if number > 1 else None,
            next_page=number + 1 if number < pages else None,
        )
        context["awarded"] = len(results) - context["refused"]
        context["last_line"] = context["results"][-1]["line"] if context["results"] else None
    return context


def _result(batch: AwardBatch, row: list) -> dict:
    line, identity, award_id, error = row
    url = public_url("assertions", award_id, batch.issuer.hosted_origin) if award_id else ""
    return {"line": line, "identity": identity, "url": url, "error": error}


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def batch_detail(request: HttpRequest, issuer_id: str, batch_id: str) -> HttpResponse:
    """A batch's page. Ready: its first rows and "Award N people" (POST, step 2).
    Queued or running: the progress, which htmx asks for every second (`HX-Request`:
    the part alone; 286 once finished, which ends the polling). Finished: the results."""
    polling = request.method == "GET" and request.headers.get("HX-Request") == "true"
    batch = _batch(request, issuer_id, batch_id, rows=not polling)
    if request.method == "POST":
        form = BatchStartForm(request.POST)
        if not form.is_valid():
            return HttpResponseBadRequest("Bad form.")
        try:
            services.award_batch_start(batch=batch, notify=form.cleaned_data["notify"])
        except Conflict as error:
            messages.info(request, error.message)
        return redirect("web:batch_detail", issuer_id, batch_id)
    if polling and batch.status in (AwardBatchStatus.DONE, AwardBatchStatus.FAILED):
        batch = _batch(request, issuer_id, batch_id, rows=True)
    context = _status_context(request, batch)
    if isinstance(context, HttpResponse):
        return context
    if polling:
        status = HTMX_STOP_POLLING if context["finished"] else 200
        return render(request, "web/batch_status.html", context, status=status)
    context.update(
        preview=batch.rows[:PREVIEW_ROWS] if batch.status == AwardBatchStatus.READY else [],
        start_form=BatchStartForm(),
    )
    return render(request, "web/batch.html", context)


@never_cache
@login_required
@require_GET
def batch_results_csv(request: HttpRequest, issuer_id: str, batch_id: str) -> HttpResponse:
    """Each row done so far: line, identity, status (awarded or refused), the award's
    URL or the reason."""
    batch = _batch(request, issuer_id, batch_id, rows=True)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["line", "identity", "status", "award URL or error"])
    for row in batch.results:
        result = _result(batch, row)
        status = "awarded" if result["url"] else "refused"
        detail = result["url"] or result["error"]
        writer.writerow([result["line"], csv_cell(result["identity"]), status, csv_cell(detail)])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="batch-{batch.entity_id}.csv"'
    return response
