"""One award's page on the issuer's side (issue 20): what the issuer's staff need about
one award in one place (the badge, the recipient, its dates and status, narrative and
evidence, who awarded it), the links to its public page and to revoke it, and the
buttons of the LTI tools registered at the `assertion` location.

The rules are the awards list's: the award is read through
`connect.issuing_selectors.assertion_for` with `IssuingAction.AWARD_HISTORY` (staff and
above, as the list and the revoke view decide), so someone not on the issuer's staff gets
a 404, as for an award that does not exist; an award is shown only under its own issuer's
address. Revoking is the revoke view's (`awards_list_views.award_revoke`), which comes
back here afterwards.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from laurels.connect.permissions import Caller, IssuingAction
from laurels.core.public import url_of
from laurels.openbadges.pages import award_state, markdown_html
from laurels.web.award_forms import RECIPIENT_TYPES
from laurels.web.awards_list_views import issuer_award
from laurels.web.backpack_views import evidence_links
from laurels.web.workspace import may

RECIPIENT_TYPE_LABELS = dict(RECIPIENT_TYPES)


@never_cache
@login_required
@require_GET
def award_detail(request: HttpRequest, issuer: str, award: str) -> HttpResponse:
    """The award's page; its LTI buttons carry the award and the viewer's role on its
    issuer. One query reads the award with its badge class, issuer, creator and the
    viewer's role, which then decides the revoke link without another."""
    caller = Caller(user=request.user)
    found = issuer_award(caller, issuer, award, IssuingAction.AWARD_HISTORY)
    state, state_label = award_state(found)
    can_revoke = state != "revoked" and may(
        caller, IssuingAction.AWARD_REVOKE, found.issuer, found.badge_class
    )
    revoke_url = ""
    if can_revoke:
        revoke_url = reverse("web:awards_revoke", args=[issuer, found.entity_id])
        revoke_url += "?" + urlencode({"next": request.path})
    context = {
        "award": found,
        "issuer": found.issuer,
        "badge_class": found.badge_class,
        "state": state,
        "state_label": state_label,
        "recipient_type": RECIPIENT_TYPE_LABELS.get(
            found.recipient_type, found.get_recipient_type_display()
        ),
        "public_url": url_of("assertions", found),
        "narrative_html": markdown_html(found.narrative),
        "evidence": evidence_links(found.evidence or []),
        "awarded_by": found.created_by,
        "revoke_url": revoke_url,
    }
    return render(request, "web/award_detail.html", context)
