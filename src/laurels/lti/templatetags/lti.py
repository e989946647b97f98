"""`{% load lti %}{% lti_launch_buttons "badgeclass" badge_class %}`: the buttons of the
apps the viewer connected that registered this place (lti.selectors.launch_buttons)."""

from __future__ import annotations

from django import template

from laurels.core.csp import allow_request_sources, origin_source
from laurels.lti.selectors import launch_buttons

register = template.Library()


@register.inclusion_tag("lti/launch_buttons.html", takes_context=True)
def lti_launch_buttons(context, location: str, entity=None) -> dict:
    """Nothing when no connected app has a button here. Needs `request` in the context;
    a button's icon opens the page's img-src to the icon's origin only."""
    request = context["request"]
    buttons = launch_buttons(viewer=request.user, location=location, entity=entity)
    icons = [source for button in buttons if (source := origin_source(button.icon_url))]
    if icons:
        allow_request_sources(request, img_src=icons)
    return {
        "buttons": buttons,
        "csrf_token": context.get("csrf_token"),
        "return_to": request.get_full_path(),
    }
