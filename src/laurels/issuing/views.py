"""The one page of `issuing`: a person's staff invitations, to accept or decline.

Joining an issuer's staff is this explicit step of a logged-in person who holds the
invited address verified, never a side effect of an owner's request or of proving an
address (`issuing.services.staff_invitation_accept`).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from laurels.core.errors import DomainError
from laurels.issuing import selectors, services


@login_required
@require_http_methods(["GET", "POST"])
def staff_invitations(request: HttpRequest) -> HttpResponse:
    """GET lists the invitations waiting for the logged-in person; POST with
    `accept=<invitation id>` joins that issuer's staff, `decline=<id>` ends it."""
    if request.method == "POST":
        try:
            if accept := request.POST.get("accept"):
                member = services.staff_invitation_accept(user=request.user, entity_id=accept)
                messages.success(request, f"You are on the staff of {member.issuer.name} now.")
            elif decline := request.POST.get("decline"):
                services.staff_invitation_decline(user=request.user, entity_id=decline)
                messages.info(request, "Invitation declined.")
        except DomainError as error:
            messages.error(request, error.message)
        return redirect("web:staff_invitations")
    invitations = selectors.staff_invitations_for(user=request.user)
    return render(request, "issuing/staff_invitations.html", {"invitations": invitations})
