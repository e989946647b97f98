"""The issuer workspace (issue 18, part A): a person's issuers, making and editing one,
its staff and invitations, deleting it, and its dashboard.

The pages act for the signed-in person as a first-party session (`Caller(user)`), so
the /v2 API's rules apply unchanged: each page asks `connect.issuing_selectors.issuer_for`
with the action it needs (`connect.permissions.IssuingAction`): someone not on the staff
gets a 404, the same as an issuer that does not exist; a member whose role is too low, a
403. Every change goes through `issuing.services`, as the API's do; a refusal is shown on
the page (400, 409 for an issuer with live awards, 429 past the invitation limit).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as Forbidden
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from laurels.connect.models import AuditEvent
from laurels.connect.permissions import Caller, IssuingAction, issuer_role, require_issuing_scope
from laurels.core.csp import policy_allows
from laurels.core.errors import DomainError, NotFound, PermissionDenied, RateLimited
from laurels.core.ratelimit import Limit, enforce_limits
from laurels.issuing import selectors, services, verification
from laurels.issuing.models import Acceptance, Issuer, Role
from laurels.web.account_views import _add_errors
from laurels.web.issuer_forms import InvitationForm, InviteForm, IssuerForm, MemberForm
from laurels.web.workspace import IMAGE_PREVIEW_SOURCES, may, workspace_issuer

ACTIVITY_SHOWN = 20
# Proving the issuer's domain is for its owners (those who may manage it).
DOMAIN_CHECK_ACTION = IssuingAction.STAFF_MANAGE
# Each check fetches another site: a few an hour per issuer is plenty for a person.
DOMAIN_CHECKS_PER_HOUR = 10
# Audit rows that name an issuer in their detail (`issuing.signals`, `openbadges.services`).
ISSUER_ACTIVITY = (
    AuditEvent.Kind.AWARD_REVOKED,
    AuditEvent.Kind.STAFF_CHANGED,
    AuditEvent.Kind.BADGE_CLASS_DELETED,
    AuditEvent.Kind.SIGNING_KEY_CHANGED,
)


def _allowed(caller: Caller, issuer: Issuer) -> dict[str, bool]:
    """What the page may offer the person on this issuer (the links and buttons)."""
    return {
        "can_edit": may(caller, IssuingAction.ISSUER_EDIT, issuer),
        "can_manage": may(caller, IssuingAction.STAFF_MANAGE, issuer),
    }


# The list


@never_cache
@login_required
@require_GET
def issuers(request: HttpRequest) -> HttpResponse:
    """The person's issuers with their role, badge-class and award counts (one query)."""
    rows = list(selectors.issuers_of_member(user=request.user))
    return render(request, "web/issuers.html", {"issuers": rows})


# Making and editing


def _issuer_form_page(
    request: HttpRequest, form: IssuerForm, issuer: Issuer | None, status: int = 200
) -> HttpResponse:
    context = {
        "form": form,
        "issuer": issuer,
        "has_verified": bool(form.fields["email"].choices),
    }
    return render(request, "web/issuer_form.html", context, status=status)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
@policy_allows(**IMAGE_PREVIEW_SOURCES)
def issuer_new(request: HttpRequest) -> HttpResponse:
    """Make an issuer; the person becomes its owner (`services.issuer_create`)."""
    try:
        require_issuing_scope(Caller(user=request.user), IssuingAction.ISSUER_EDIT)
    except PermissionDenied as error:
        raise Forbidden(error.message) from error
    if request.method == "GET":
        return _issuer_form_page(request, IssuerForm(user=request.user), None)
    form = IssuerForm(request.POST, request.FILES, user=request.user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            made = services.issuer_create(
                actor=request.user,
                name=data["name"],
                url=data["url"],
                email=data["email"],
                description=data["description"],
                image=data["image"],
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, "Issuer made. Next, define a badge class.")
            return redirect("web:issuer_dashboard", entity_id=made.entity_id)
    return _issuer_form_page(request, form, None, status=400)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
@policy_allows(**IMAGE_PREVIEW_SOURCES)
def issuer_edit(request: HttpRequest, entity_id: str) -> HttpResponse:
    """Change an issuer's details (editors and owners, as `PUT /v2/issuers/{id}`)."""
    issuer = workspace_issuer(Caller(user=request.user), entity_id, IssuingAction.ISSUER_EDIT)
    if request.method == "GET":
        form = IssuerForm(
            user=request.user,
            current_email=issuer.email,
            initial={
                "name": issuer.name,
                "description": issuer.description,
                "url": issuer.url,
                "email": issuer.email,
            },
        )
        return _issuer_form_page(request, form, issuer)
    shown = Issuer.objects.get(pk=issuer.pk)  # the service changes `issuer` before it checks
    form = IssuerForm(request.POST, request.FILES, user=request.user, current_email=issuer.email)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.issuer_update(
                issuer=issuer,
                name=data["name"],
                url=data["url"],
                email=data["email"],
                description=data["description"],
                image=data["image"],
                actor=request.user,
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, "Issuer saved.")
            return redirect("web:issuer_dashboard", entity_id=issuer.entity_id)
    return _issuer_form_page(request, form, shown, status=400)


# Staff


def _staff_page(
    request: HttpRequest,
    issuer: Issuer,
    invite: InviteForm | None = None,
    problem: str = "",
    status: int = 200,
) -> HttpResponse:
    invitations = selectors.staff_invitations_pending(issuer=issuer).select_related("invited_by")
    context = {
        "issuer": issuer,
        "members": list(issuer.staff.all()),
        "owners": sum(1 for m in issuer.staff.all() if m.role == Role.OWNER),
        "invitations": list(invitations),
        "form": invite or InviteForm(),
        "roles": [(role.value, role.label) for role in (Role.STAFF, Role.EDITOR, Role.OWNER)],
        "problem": problem,
    }
    return render(request, "web/issuer_staff.html", context, status=status)


def _refusal_text(error: ValidationError | DomainError) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return error.message


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def issuer_staff(request: HttpRequest, entity_id: str) -> HttpResponse:
    """Owners only (as `/v2/issuers/{id}/staff`): the members and their roles, pending
    invitations; POST `action` = invite (`email`, `role`), role (`member`, `role`),
    remove (`member`) or cancel (`invitation`)."""
    issuer = workspace_issuer(Caller(user=request.user), entity_id, IssuingAction.STAFF_MANAGE)
    if request.method == "GET":
        return _staff_page(request, issuer)
    action = request.POST.get("action", "")
    if action == "invite":
        return _invite(request, issuer)
    if action in ("role", "remove"):
        return _member_change(request, issuer, action)
    if action == "cancel":
        form = InvitationForm(request.POST)
        if not form.is_valid():
            return _staff_page(request, issuer, problem="Choose an invitation.", status=400)
        try:
            services.staff_invitation_cancel(
                issuer=issuer, entity_id=form.cleaned_data["invitation"]
            )
        except NotFound as error:
            return _staff_page(request, issuer, problem=error.message, status=400)
        messages.success(request, "Invitation cancelled.")
        return redirect("web:issuer_staff", entity_id=issuer.entity_id)
    return _staff_page(request, issuer, problem="Unknown action.", status=400)


def _invite(request: HttpRequest, issuer: Issuer) -> HttpResponse:
    form = InviteForm(request.POST)
    if not form.is_valid():
        return _staff_page(request, issuer, form, status=400)
    email, role = form.cleaned_data["email"], form.cleaned_data["role"]
    try:
        services.issuer_staff_add(issuer=issuer, person=email, role=role, actor=request.user)
    except ValidationError as error:
        _add_errors(form, error)
        return _staff_page(request, issuer, form, status=400)
    except RateLimited as error:
        form.add_error("email", error.message)
        response = _staff_page(request, issuer, form, status=429)
        response["Retry-After"] = str(error.retry_after)
        return response
    # The same answer whether or not an account holds the address (as the API's).
    messages.success(
        request,
        f"Done. Unless {email} is on the staff already (their role is changed then), "
        f"they are invited by email as {Role(role).label.lower()}, and join when they accept.",
    )
    return redirect("web:issuer_staff", entity_id=issuer.entity_id)


def _member_change(request: HttpRequest, issuer: Issuer, action: str) -> HttpResponse:
    form = MemberForm(request.POST)
    if not form.is_valid() or (action == "role" and not form.cleaned_data["role"]):
        return _staff_page(request, issuer, problem="Choose a member and a role.", status=400)
    member, role = form.cleaned_data["member"], form.cleaned_data["role"]
    try:
        if action == "role":
            services.issuer_staff_role_set(
                issuer=issuer, person=member, role=role, actor=request.user
            )
        elif not services.issuer_staff_remove(issuer=issuer, person=member, actor=request.user):
            return _staff_page(request, issuer, problem="They are not on the staff.", status=400)
    except (ValidationError, DomainError) as error:
        return _staff_page(request, issuer, problem=_refusal_text(error), status=400)
    themselves = member == request.user.entity_id
    if action == "remove":
        messages.success(request, "You left the staff." if themselves else "Removed from staff.")
        if themselves:
            return redirect("web:issuers")
    else:
        messages.success(request, f"Role changed to {Role(role).label.lower()}.")
        if themselves and role != Role.OWNER:
            return redirect("web:issuer_dashboard", entity_id=issuer.entity_id)
    return redirect("web:issuer_staff", entity_id=issuer.entity_id)


# Deleting


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def issuer_delete(request: HttpRequest, entity_id: str) -> HttpResponse:
    """Owners only. GET asks to confirm; POST deletes (`services.issuer_delete`): refused,
    409 with the reason, while the issuer has live awards."""
    issuer = workspace_issuer(Caller(user=request.user), entity_id, IssuingAction.ISSUER_DELETE)
    problem = ""
    if request.method == "POST":
        try:
            services.issuer_delete(issuer=issuer, actor=request.user)
        except services.IssuerHasAwards as error:
            problem = error.message
        else:
            messages.success(request, f"Deleted the issuer “{issuer.name}”.")
            return redirect("web:issuers")
    return render(
        request,
        "web/issuer_delete.html",
        {"issuer": issuer, "problem": problem},
        status=409 if problem else 200,
    )


# The dashboard


def _activity(issuer: Issuer) -> list[dict]:
    """The last changes recorded about the issuer in the audit trail, newest first, each
    as when, who and what (in words; addresses invited are not repeated)."""
    rows = (
        AuditEvent.objects.filter(kind__in=ISSUER_ACTIVITY, detail__issuer=issuer.entity_id)
        .select_related("user")
        .order_by("-created_at", "-id")[:ACTIVITY_SHOWN]
    )
    return [
        {
            "at": row.created_at,
            "who": row.user.email if row.user else "A deleted account or the operator",
            "what": _activity_text(row),
        }
        for row in rows
    ]


def _activity_text(row: AuditEvent) -> str:
    detail = row.detail or {}
    if row.kind == AuditEvent.Kind.AWARD_REVOKED:
        reason = detail.get("reason") or "no reason given"
        return f"Revoked award {detail.get('assertion', '')} ({reason})"
    if row.kind == AuditEvent.Kind.BADGE_CLASS_DELETED:
        return f"Deleted the badge class “{detail.get('name', '')}”"
    if row.kind == AuditEvent.Kind.SIGNING_KEY_CHANGED:
        return f"Signing key: {detail.get('change', 'changed')}"
    if "accepted_invitation_of" in detail:
        return "Joined the staff (accepted an invitation)"
    if invited := detail.get("invited"):
        return f"Invited {len(invited)} {'person' if len(invited) == 1 else 'people'} to the staff"
    members = len(detail.get("staff") or [])
    return f"Changed the staff ({members} member{'' if members == 1 else 's'} now)"


def _verification(issuer: Issuer) -> dict:
    """For the owners of an unverified issuer: what to publish where for a domain check
    (or why their website cannot be checked)."""
    try:
        file_url, page_url = verification.issuer_domain_check_urls(issuer)
    except verification.DomainCheckFailed as error:
        return {"unusable": error.message}
    return {
        "token": verification.issuer_domain_check_token(issuer),
        "file_url": file_url,
        "page_url": page_url,
        "meta_name": verification.META_NAME,
    }


def _dashboard_page(
    request: HttpRequest, issuer: Issuer, caller: Caller, problem: str = "", status: int = 200
) -> HttpResponse:
    months = selectors.issuer_awards_by_month(issuer=issuer)
    answers = selectors.issuer_acceptance_counts(issuer=issuer)
    live = sum(answers.values())
    accepted = answers[Acceptance.ACCEPTED]
    allowed = _allowed(caller, issuer)
    show_check = allowed["can_manage"] and not issuer.verified_at
    context = {
        "issuer": issuer,
        "role": Role(issuer_role(caller, issuer)).label,
        **allowed,
        "months": months,
        "months_max": max([count for _, count in months] + [1]),
        "months_total": sum(count for _, count in months),
        "accepted": accepted,
        "pending": answers[Acceptance.UNACCEPTED],
        "rejected": answers[Acceptance.REJECTED],
        "live": live,
        "acceptance_rate": round(100 * accepted / live) if live else None,
        "activity": _activity(issuer),
        "verification": _verification(issuer) if show_check else None,
        "verify_problem": problem,
    }
    return render(request, "web/issuer_dashboard.html", context, status=status)


@never_cache
@login_required
@require_GET
def issuer_dashboard(request: HttpRequest, entity_id: str) -> HttpResponse:
    """Any member: the issuer's header, awards per month for a year, the answers of the
    earners of its live awards, its recent activity and the ways on; for owners, how the
    issuer is verified or how to prove its domain."""
    caller = Caller(user=request.user)
    issuer = workspace_issuer(caller, entity_id, IssuingAction.ISSUER_VIEW)
    return _dashboard_page(request, issuer, caller)


@never_cache
@login_required
@require_POST
def issuer_verify_domain(request: HttpRequest, entity_id: str) -> HttpResponse:
    """Owners only: look for the issuer's token on its website and, when it is there,
    mark the issuer verified by its domain. The fetch runs outside any transaction (the
    views are not atomic); a token not found is a 400 with what to do on the dashboard."""
    caller = Caller(user=request.user)
    issuer = workspace_issuer(caller, entity_id, DOMAIN_CHECK_ACTION)
    if issuer.verified_at:
        messages.info(request, "This issuer is verified already.")
        return redirect("web:issuer_dashboard", entity_id=issuer.entity_id)
    try:
        enforce_limits(
            Limit("issuer-domain-check", issuer.entity_id, DOMAIN_CHECKS_PER_HOUR, 3600),
            message="Too many checks of this website. Try again in {wait}.",
        )
        verification.issuer_domain_check(issuer, request.user)
    except verification.DomainCheckFailed as error:
        return _dashboard_page(request, issuer, caller, problem=error.message, status=400)
    except RateLimited as error:
        response = _dashboard_page(request, issuer, caller, problem=error.message, status=429)
        response["Retry-After"] = str(error.retry_after)
        return response
    messages.success(request, "Your website has the token: the issuer is now shown as verified.")
    return redirect("web:issuer_dashboard", entity_id=issuer.entity_id)
